package jsonstr

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

type masked string

func (m masked) MarshalJSON() ([]byte, error) {
	return []byte(` { "masked" : "` + string(m) + `" } `), nil
}

type failing struct{}

func (failing) MarshalJSON() ([]byte, error) { return nil, errors.New("no") }

type record struct {
	Name    *string           `json:"name"`
	Skipped string            `json:"skipped,omitempty"`
	Tags    map[string]string `json:"tags"`
	List    []int             `json:"list"`
	At      time.Time         `json:"at"`
	Raw     json.RawMessage   `json:"raw"`
	Card    masked            `json:"card"`
	Any     any               `json:"any"`
}

// Marshal writes what json.Marshal writes, byte for byte: stored records
// and signed payloads (an IPN's kr-answer is signed as is) are made with it.
func TestMarshalIsJSONMarshal(t *testing.T) {
	hostile := "<b>&amp;</b> \u2028\u2029 \"quoted\" \\ \x00\x1f caf\u00e9 \xff\xfe"
	full := record{Name: &hostile, Tags: map[string]string{"b": hostile, "a": "1", "<k>": "&"}, List: []int{1, 2},
		At: time.Date(2026, 11, 24, 3, 4, 5, 6, time.FixedZone("x", 3600)), Raw: json.RawMessage(` {"a" : [1, 2]} `),
		Card: "4970 10XX XXXX 0000", Any: map[string]any{"n": 1.5, "s": []string{hostile}}}
	values := []any{full, &full, record{}, map[string]string(nil), map[string]string{}, []string(nil), "", hostile, 0,
		int64(-1) << 62, 1e21, true, nil, json.RawMessage(`{"a":"<x>"}`)}
	for i, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(v)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if got != string(want) {
			t.Errorf("%d: Marshal\n%s\nwant\n%s", i, got, want)
		}
	}
	for _, v := range []any{make(chan int), failing{}, json.RawMessage(`{`)} {
		if s, err := Marshal(v); err == nil {
			t.Errorf("Marshal(%T) = %q, no error", v, s)
		}
	}
}

var sink string

// BenchmarkMarshal compares Marshal with string(json.Marshal(v)) on a
// record the size of a stored customer.
func BenchmarkMarshal(b *testing.B) {
	name := "Jane"
	v := record{Name: &name, Tags: map[string]string{"orderRef": "A-1234", "channel": "web"}, List: []int{1, 2, 3}}
	b.Run("jsonstr", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := Marshal(v)
			if err != nil {
				b.Fatal(err)
			}
			sink = s
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			x, err := json.Marshal(v)
			if err != nil {
				b.Fatal(err)
			}
			sink = string(x)
		}
	})
}
