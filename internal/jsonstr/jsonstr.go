// Package jsonstr writes JSON straight into a string, for the JSON that is
// stored or sent as text (an outbox payload, a stored customer, a page's
// messages): json.Marshal followed by string(b) copies the JSON twice.
package jsonstr

import (
	"encoding/json"
	"strings"
)

// Marshal is string(json.Marshal(v)), byte for byte, made with one copy of
// the JSON instead of two: Marshal copies its encoder's buffer into a new
// slice, and the conversion to a string copies that slice again. An Encoder
// writes the same bytes (HTML characters escaped too) and a newline, which
// is cut off.
func Marshal(v any) (string, error) {
	var b strings.Builder
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return "", err
	}
	s := b.String()
	return s[:len(s)-1], nil
}
