package payment

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// downCaptures is the simulator, except that while down every capture
// fails with ErrUnavailable (nothing performed). It counts the captures
// sent, and those that reached the simulator.
type downCaptures struct {
	*simulator.Simulator
	down           atomic.Bool
	sent, captured atomic.Int64
}

func (d *downCaptures) Capture(ctx context.Context, opID, ref string, amount int64, currency string) (acquirer.Result, error) {
	d.sent.Add(1)
	if d.down.Load() {
		return acquirer.Result{}, acquirer.ErrUnavailable
	}
	res, err := d.Simulator.Capture(ctx, opID, ref, amount, currency)
	if err == nil && res.Approved {
		d.captured.Add(1)
	}
	return res, err
}

// A capture the acquirer cannot take is tried again after a growing
// delay, not on every run of the job (once a second), and is made exactly
// once when the acquirer answers again.
func TestFailedCaptureBacksOff(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		acq := &downCaptures{Simulator: e.sim}
		acq.down.Store(true)
		svc := New(db, e.clk, acq, CardVault(e.vault), Config{AcquirerTimeout: 200 * time.Millisecond})
		_, tx := e.pay(CreateInput{Amount: 800}, cardOK)

		// Ten minutes of the job running every second.
		for range 600 {
			if _, err := svc.CaptureAllDue(e.ctx(), 10); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(time.Second)
		}
		if n := acq.sent.Load(); n < 2 || n > 10 {
			t.Fatalf("%d captures sent to a down acquirer in 10 minutes, want a few", n)
		}
		if got := e.get(tx.UUID); got.DetailedStatus != Authorised || got.PendingOp != "" {
			t.Fatalf("after a down acquirer: %s, pending %q", got.DetailedStatus, got.PendingOp)
		}

		// The acquirer is back: the capture is made by a later run, once.
		acq.down.Store(false)
		for range 2 * 3600 {
			if _, err := svc.CaptureAllDue(e.ctx(), 10); err != nil {
				t.Fatal(err)
			}
			if acq.captured.Load() > 0 {
				break
			}
			e.clk.Advance(10 * time.Second)
		}
		for range 10 {
			if _, err := svc.CaptureAllDue(e.ctx(), 10); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(time.Hour)
		}
		if n := acq.captured.Load(); n != 1 {
			t.Fatalf("captured %d times", n)
		}
		got := e.get(tx.UUID)
		wantStatus(t, got, Captured)
		if got.CapturedAmount != 800 || got.PendingOp != "" {
			t.Fatalf("captured transaction %+v", got)
		}
	})
}

// noInquiry is the simulator, except that Inquire fails (the acquirer is
// down for recovery too).
type noInquiry struct{ *simulator.Simulator }

func (noInquiry) Inquire(context.Context, string) (acquirer.Result, bool, error) {
	return acquirer.Result{}, false, acquirer.ErrUnavailable
}

// Recovery against an acquirer that cannot be asked logs a line a minute,
// not one per transaction per run.
func TestRecoveryInquiryFailuresAreRateLimited(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		var buf bytes.Buffer
		var mu sync.Mutex
		log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
		for range 10 {
			_, tx := e.pay(CreateInput{Amount: 800}, cardOK)
			e.sim.InjectFault(tx.UUID+"-capture", simulator.FaultTimeout)
		}
		if _, err := e.svc.CaptureDue(e.ctx(), 100); err != nil {
			t.Fatal(err)
		}
		svc := New(db, e.clk, noInquiry{e.sim}, CardVault(e.vault), Config{AcquirerTimeout: 200 * time.Millisecond, Logger: log})
		for range 3 {
			e.clk.Advance(2 * time.Minute)
			if n, err := svc.RecoverRunning(e.ctx(), time.Minute, 100); err != nil || n != 0 {
				t.Fatalf("recovery %d %v", n, err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if n := strings.Count(buf.String(), "recovery inquiry failed"); n < 1 || n > 3 {
			t.Fatalf("%d log lines for 30 failed inquiries in 6 minutes:\n%s", n, buf.String())
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A recovery run at shutdown (stop closed while it settles the RUNNING
// transactions it claimed) settles them all, then claims no pending
// operation: the next run recovers it. Stop is closed before the run: the
// run cannot tell that from a stop closed after its first claim.
func TestRecoverRunningUntilStopClaimsNoPendingOperation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, pending := e.pay(CreateInput{Amount: 800}, cardOK)
		e.sim.InjectFault(pending.UUID+"-capture", simulator.FaultTimeout)
		if _, err := e.svc.CaptureDue(e.ctx(), 10); err != nil {
			t.Fatal(err)
		}
		if got := e.get(pending.UUID); got.PendingOp != opCapture {
			t.Fatalf("pending %q after a lost capture answer, want %s", got.PendingOp, opCapture)
		}
		_, running := e.pay(CreateInput{Amount: 900}, cardTimeout)
		wantStatus(t, running, Initial)
		e.clk.Advance(2 * time.Minute)

		stop := make(chan struct{})
		close(stop)
		if n, err := e.svc.RecoverRunningUntil(e.ctx(), stop, time.Minute, 10); err != nil || n != 1 {
			t.Fatalf("stopped recovery = %d, %v; want the RUNNING transaction settled", n, err)
		}
		if got := e.get(running.UUID); got.DetailedStatus == Initial {
			t.Fatal("the RUNNING transaction claimed was not settled")
		}
		if got := e.get(pending.UUID); got.PendingOp != opCapture || got.DetailedStatus != Authorised {
			t.Fatalf("after the stopped run the pending capture is %s, pending %q: claimed after stop, want left for the next run",
				got.DetailedStatus, got.PendingOp)
		}
		if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); err != nil || n != 1 {
			t.Fatalf("next recovery = %d, %v; want the pending capture settled", n, err)
		}
		wantStatus(t, e.get(pending.UUID), Captured)
	})
}
