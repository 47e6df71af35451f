package v4_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	v4 "github.com/openpsp/openpsp/internal/api/v4"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/obs"
	"github.com/openpsp/openpsp/internal/shop"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A rejected login left no trace in the log: an operator could not tell a
// merchant with a stale password from someone guessing. Each is logged at
// WARN with the login as sent, the remote address and the surface, never
// the password, and a flood of them stays a few lines a minute.
func TestFailedLoginsAreLogged(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	clk := clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
	s := v4.New(v4.Options{Auth: testAuth{sh: shop.Shop{ID: shopID, Name: "Demo"}}, Clock: clk, Logger: log,
		FailedLogins: obs.NewFailedLogins(log, clk)})
	s.RegisterBase()
	mux := http.NewServeMux()
	mux.Handle("/api-payment/V4/{name...}", s)
	call := func(user, pw string, basic bool) string {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/api-payment/V4/Charge/SDKTest", strings.NewReader(`{"value":"hi"}`))
		r.RemoteAddr = "198.51.100.7:40000"
		if basic {
			r.SetBasicAuth(user, pw)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Body)
		return string(b)
	}
	if body := call(shopID, password, true); !strings.Contains(body, `"SUCCESS"`) {
		t.Fatalf("good login: %s", body)
	}
	for _, c := range []struct {
		user, pw string
		basic    bool
	}{{shopID, "wrong-secret-1", true}, {"12345678", "wrong-secret-2", true}, {"", "", false}} {
		if body := call(c.user, c.pw, c.basic); !strings.Contains(body, "INT_905") {
			t.Fatalf("bad login %q: %s", c.user, body)
		}
	}
	out := logs.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines for 3 failed logins:\n%s", len(lines), out)
	}
	for i, want := range []string{"login=" + shopID, "login=12345678", `login=""`} {
		for _, part := range []string{"level=WARN", want, "remote=198.51.100.7 ", "surface=v4"} {
			if !strings.Contains(lines[i], part) {
				t.Errorf("line %d has no %s: %s", i, part, lines[i])
			}
		}
	}
	if strings.Contains(out, "wrong-secret") {
		t.Fatalf("a password reached the log:\n%s", out)
	}

	for range 500 {
		call(shopID, "guess", true)
	}
	if n := strings.Count(logs.String(), "\n"); n > obs.LoginLogBurst+1 {
		t.Fatalf("%d log lines after 503 failed logins in a minute", n)
	}
}
