package outbox

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/jsonscan"
)

// readIPNAnswer reads the mode and type of a kr-answer exactly as
// json.Unmarshal into ipnAnswer does, error included. Unmarshal checked
// the whole 4 kB answer with encoding/json's scanner and then scanned it
// again to decode two strings (half of an IPN's delivery CPU in a profile
// of the silent bench); scanIPNAnswer checks and reads it in one pass and
// hands every case it does not settle itself (an escape in a key or in
// one of the two values, a null or a value of another type where they
// are, invalid UTF-8 in them, deep nesting, invalid JSON) to Unmarshal.
func readIPNAnswer(payload string) (ipnAnswer, error) {
	if a, ok := scanIPNAnswer(payload); ok {
		return a, nil
	}
	var a ipnAnswer
	err := json.Unmarshal([]byte(payload), &a)
	return a, err
}

// scanIPNAnswer validates s as JSON (jsonscan) and reads the top-level "_type"
// and "orderDetails"."mode". ok is false when s is not valid or when the
// answer could differ from Unmarshal's; a is then meaningless.
func scanIPNAnswer(s string) (a ipnAnswer, ok bool) {
	i := jsonscan.Space(s, 0)
	i, ok = jsonscan.Members(s, i, func(key string, escaped bool, i int) (int, bool) {
		// A key with escapes (say "_typ\u0065") is left to Unmarshal.
		if escaped {
			return i, false
		}
		// Unmarshal matches keys without regard to case (its foldName
		// equals bytes.EqualFold); a later key overwrites an earlier one.
		switch {
		case strings.EqualFold(key, "_type"):
			return plainString(s, i, &a.Type)
		case strings.EqualFold(key, "orderDetails"):
			return jsonscan.Members(s, i, func(key string, escaped bool, i int) (int, bool) {
				if escaped {
					return i, false
				}
				if strings.EqualFold(key, "mode") {
					return plainString(s, i, &a.OrderDetails.Mode)
				}
				return jsonscan.Value(s, i, 1)
			})
		}
		return jsonscan.Value(s, i, 1)
	})
	return a, ok && jsonscan.Space(s, i) == len(s)
}

// plainString reads the string at s[i] into *dst when Unmarshal would
// store exactly its bytes: no escape, valid UTF-8.
func plainString(s string, i int, dst *string) (int, bool) {
	if i >= len(s) || s[i] != '"' {
		return i, false
	}
	end, escaped, ok := jsonscan.String(s, i)
	if !ok || escaped || !utf8.ValidString(s[i+1:end-1]) {
		return i, false
	}
	*dst = s[i+1 : end-1]
	return end, true
}
