package ogone_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/openpsp/openpsp/internal/obs"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *logBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *logBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A DirectLink call with a wrong API password or an unknown PSPID left no
// trace in the log; it is logged at WARN like a failed V4 login: the
// surface, the PSPID and user as sent, the remote address, no password.
func TestDirectLinkFailedLoginsAreLogged(t *testing.T) {
	var logs logBuffer
	e := newEnv(t, func(o *ogone.Options) { o.Log = slog.New(slog.NewTextHandler(&logs, nil)) })
	if r := e.direct("orderdirect.asp", map[string]string{"ORDERID": "L1", "AMOUNT": "100", "CURRENCY": "EUR", "PSWD": "secret-guess"}); r["NCERROR"] != "50001119" {
		t.Fatalf("bad password: %v", r)
	}
	if r := e.direct("orderdirect.asp", map[string]string{"PSPID": "nobody", "ORDERID": "L2"}); r["NCERROR"] != "50001118" {
		t.Fatalf("unknown PSPID: %v", r)
	}
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "API login failed") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d failed-login lines, want 2:\n%s", len(lines), logs.String())
	}
	for i, want := range []string{"login=" + pspid + "/" + shop.DemoAPIUser, "login=nobody"} {
		for _, part := range []string{"level=WARN", "surface=directlink", want, "remote=127.0.0.1 "} {
			if !strings.Contains(lines[i], part) {
				t.Errorf("line %d has no %s: %s", i, part, lines[i])
			}
		}
	}
	if strings.Contains(logs.String(), "secret-guess") {
		t.Fatal("a password reached the log")
	}
}

// DirectLink USERID/PSWD (and SHA-IN) could be guessed without limit. Ten
// failures for a PSPID from one address lock it from there for a minute:
// the right password and signature are refused, unchecked, NCERROR
// 50001119 saying why; the lock ends with its time.
func TestDirectLinkRepeatedFailuresLockThePSPIDFromThatAddress(t *testing.T) {
	e := newEnv(t)
	for i := range obs.LoginFailuresBeforeLock {
		params := map[string]string{"ORDERID": "B1", "PSWD": "guess"}
		if i%2 == 1 {
			params = map[string]string{"ORDERID": "B1", "SHASIGN": "00"}
		}
		if r := e.direct("querydirect_utf8.asp", params); r["NCERROR"] == "0" || strings.Contains(r["NCERRORPLUS"], "too many") {
			t.Fatalf("failure %d: %v", i+1, r)
		}
	}
	r := e.direct("querydirect_utf8.asp", map[string]string{"ORDERID": "B1"})
	if r["NCERROR"] != "50001119" || !strings.Contains(r["NCERRORPLUS"], "too many failed logins") {
		t.Fatalf("the right credentials during the lock: %v", r)
	}
	e.clock.Advance(obs.LoginLockFirst)
	if r := e.direct("querydirect_utf8.asp", map[string]string{"ORDERID": "B1"}); r["NCERROR"] == "50001119" {
		t.Fatalf("the lock did not end: %v", r)
	}
}
