package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// On SIGTERM `openpsp serve` lets the deliveries in progress finish, for up
// to OPENPSP_SHUTDOWN_TIMEOUT: an operator who cannot wait sends a second
// SIGTERM (or Ctrl-C), which ends the process at once, as a crash would.
// The IPN it cut stays PENDING for the next start to retry.
func TestSecondSIGTERMEndsTheShutdownAtOnce(t *testing.T) {
	d := newDeployment(t, "sqlite")
	d.seedTokens(t, map[string]string{"sigterm01": acceptedCard})
	inFlight, never := make(chan struct{}), make(chan struct{})
	var once sync.Once
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		once.Do(func() { close(inFlight) })
		select {
		case <-never:
		case <-r.Context().Done():
		}
	}))
	defer merchant.Close()
	defer close(never)

	// A shutdown timeout the test never reaches: only the second signal
	// can end the shutdown (the IPN's own 20 s request timeout would end
	// it cleanly, exit status 0).
	p := startBinary(t, t.TempDir(), d.env("OPENPSP_LOG_LEVEL=info", "OPENPSP_SHUTDOWN_TIMEOUT=1h")...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r := silentPay(ctx, p.URL, "SIGTERM-1", "sigterm01", merchant.URL+"/ipn"); r.outcome != acknowledged || r.detailed != "AUTHORISED" {
		t.Fatalf("payment: %+v", r)
	}
	select {
	case <-inFlight:
	case <-time.After(30 * time.Second):
		t.Fatalf("the IPN was not sent\n%s", p.output.String())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := pollUntil(30*time.Second, 10*time.Millisecond, func() error {
		if !strings.Contains(p.output.String(), "no new deliveries or job runs") {
			return errors.New("the graceful shutdown did not begin")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, p.output.String())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
			t.Fatalf("openpsp ended with %v, want ended by the second SIGTERM\n%s", err, p.output.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("openpsp did not stop on a second SIGTERM\n%s", p.output.String())
	}
	if q := d.outboxIPNs(t)["SIGTERM-1"]; len(q) != 1 || q[0].status != "PENDING" {
		t.Fatalf("the IPN cut by the second SIGTERM: %+v, want one PENDING", q)
	}
}
