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

// Nothing stopped a guessing run on a shop's password: every attempt was
// checked. Ten wrong passwords for one shop from one address lock that shop
// from that address (the right password is refused too, unchecked, with
// Retry-After) for a minute; another address still logs in, so nobody can
// lock a merchant out from elsewhere; the lock ends with its time, and a
// right password starts the count again.
func TestRepeatedFailedLoginsLockTheShopFromThatAddress(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	clk := clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
	s := v4.New(v4.Options{Auth: testAuth{sh: shop.Shop{ID: shopID, Name: "Demo"}}, Clock: clk, Logger: log,
		FailedLogins: obs.NewFailedLogins(log, clk)})
	s.RegisterBase()
	mux := http.NewServeMux()
	mux.Handle("/api-payment/V4/{name...}", s)
	call := func(from, pw string) (string, string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/api-payment/V4/Charge/SDKTest", strings.NewReader(`{"value":"hi"}`))
		r.RemoteAddr = from + ":40000"
		r.SetBasicAuth(shopID, pw)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Body.String(), w.Header().Get("Retry-After")
	}
	const attacker, merchant = "198.51.100.7", "203.0.113.9"
	// A merchant who mistyped a few times, then got it right, starts again.
	for range obs.LoginFailuresBeforeLock - 1 {
		call(attacker, "typo")
	}
	if body, _ := call(attacker, password); !strings.Contains(body, `"SUCCESS"`) {
		t.Fatalf("right password after %d failures: %s", obs.LoginFailuresBeforeLock-1, body)
	}
	for i := range obs.LoginFailuresBeforeLock {
		if body, _ := call(attacker, "guess"); !strings.Contains(body, "INT_905") || strings.Contains(body, "too many") {
			t.Fatalf("failure %d: %s", i+1, body)
		}
	}
	body, retry := call(attacker, password)
	if !strings.Contains(body, "INT_905") || !strings.Contains(body, "too many failed logins") || retry != "60" {
		t.Fatalf("the right password during the lock: Retry-After %q, %s", retry, body)
	}
	if body, _ := call(merchant, password); !strings.Contains(body, `"SUCCESS"`) {
		t.Fatalf("the merchant's own address is locked out by another's failures: %s", body)
	}
	clk.Advance(obs.LoginLockFirst)
	if body, _ := call(attacker, password); !strings.Contains(body, `"SUCCESS"`) {
		t.Fatalf("the lock did not end: %s", body)
	}
	if !strings.Contains(logs.String(), "locked after repeated failures") {
		t.Errorf("a refused locked login is not logged:\n%s", logs.String())
	}
}
