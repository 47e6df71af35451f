package app

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The request id a client sends in X-Request-Id is the one its answer
// echoes and every log line of the request carries, so that one finds the
// other. An id the log cannot carry as sent (invalid UTF-8, which the JSON
// log writes as U+FFFD; a tab or a space, which split it in a text log) is
// replaced by one of ours, as an empty or overlong id is. Sent over a real
// connection: net/http lets such values through (FuzzRequestHeaders found
// the tab).
func TestRequestIDsTheLogCanCarry(t *testing.T) {
	srv, logs := loggedApp(t, nil)
	for _, c := range []struct {
		sent string
		kept bool
	}{
		{"req-42_A.b:c/d", true}, {"a\tb", false}, {"a b", false}, {"\xff\xfe", false}, {"é", false},
		{strings.Repeat("r", 64), true}, {strings.Repeat("r", 65), false},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/pay/unknown", nil)
		req.Header.Set("X-Request-Id", c.sent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		echoed := resp.Header.Get("X-Request-Id")
		if (echoed == c.sent) != c.kept || echoed == "" {
			t.Errorf("X-Request-Id %q: echoed %q, kept %v", c.sent, echoed, c.kept)
		}
		var logged string
		for _, l := range accessLines(t, logs.String()) {
			if l["request_id"] == echoed {
				logged = echoed
			}
		}
		if logged == "" {
			t.Errorf("X-Request-Id %q: echoed %q, which no access line carries:\n%s", c.sent, echoed, logs.String())
		}
	}
}
