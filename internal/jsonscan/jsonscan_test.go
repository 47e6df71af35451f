package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// valid is json.Valid by this package: one value, whitespace around it.
func valid(s string) bool {
	i, ok := Value(s, Space(s, 0), 0)
	return ok && Space(s, i) == len(s)
}

var cases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `-0.5e+3`, `1.25E-2`, `true`, `false`, `null`, ` {"a" : [1, {"b":null}] } `,
	`{"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D"}`, "\"\xff\xfe\"", `{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`,
	`+1`, `tru`, `nul`, `"\x"`, `"\u12G4"`, `"\u12"`, "\"\x01\"", "\"\x7f\"", `{"a"}`, `{"a":}`, `{a:1}`, `[1 2]`,
	`{} {}`, `{`, `"`, ``, ` `, "\t\n\r{}\n", `{"a":1}x`, strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
}

// Value accepts what json.Valid accepts, nesting up to MaxDepth.
func check(t *testing.T, s string) {
	if strings.Count(s, "[")+strings.Count(s, "{") >= MaxDepth {
		if valid(s) && !json.Valid([]byte(s)) {
			t.Fatalf("%q: accepted, json.Valid refuses it", s)
		}
		return
	}
	if got, want := valid(s), json.Valid([]byte(s)); got != want {
		t.Fatalf("%q: valid %v, json.Valid %v", s, got, want)
	}
}

func TestValueIsValid(t *testing.T) {
	for _, s := range cases {
		check(t, s)
	}
	if valid(strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)) {
		t.Fatal("nesting deeper than MaxDepth accepted")
	}
}

func FuzzValue(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(check)
}
