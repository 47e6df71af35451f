package v4

import (
	"encoding/json"
	"testing"
)

// A malformed body's error names the offset of the fault in decimal.
func TestJSONErrorDetailOffset(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"a":x}`, "syntax error at offset 6"},
		{`{"amount": 1234, "currency": "EUR", "orderId": }`, "syntax error at offset 48"},
	} {
		var v map[string]any
		err := json.Unmarshal([]byte(c.body), &v)
		if got := jsonErrorDetail(err); got != c.want {
			t.Errorf("%s: %q, want %q", c.body, got, c.want)
		}
	}
}
