package payment

import (
	"context"
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
