package payment

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A debit's cancellation that never reached the acquirer (FaultLost) is
// sent again by recovery under the same operation id: unreachable again,
// it stays pending for the next round (no IPN); refused, the debit is
// given back AUTHORISED without IPN; accepted (another debit), CANCELLED
// with its IPN.
func TestRecoveryResendsALostDebitCancellation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		lostCancel := func() (Payment, Transaction) {
			t.Helper()
			p, tx := e.pay(CreateInput{Amount: 1000}, cardOK)
			e.sim.InjectFault(tx.UUID+"-cancel", simulator.FaultLost)
			if _, got, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{}); !errors.Is(err, ErrCancelUnknown) || got.PendingOp != opCancel {
				t.Fatalf("lost cancellation: %+v %v", got, err)
			}
			return p, tx
		}
		recoverOnce := func(want int) {
			t.Helper()
			e.clk.Advance(2 * time.Minute)
			if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); err != nil || n != want {
				t.Fatalf("recovery: %d %v, want %d", n, err, want)
			}
		}

		p, tx := lostCancel()
		e.sim.InjectFault(tx.UUID+"-cancel", simulator.FaultUnavailable)
		recoverOnce(0)
		if got := e.get(tx.UUID); got.DetailedStatus != Authorised || got.PendingOp != opCancel {
			t.Fatalf("after an unreachable resend: %+v", got)
		}
		e.sim.InjectFault(tx.UUID+"-cancel", simulator.FaultRefused)
		recoverOnce(1)
		if got := e.get(tx.UUID); got.DetailedStatus != Authorised || got.PendingOp != "" {
			t.Fatalf("after a refused resend: %+v", got)
		}
		if ev := e.events(p.ID); slices.Contains(ev, "payment.cancelled") {
			t.Fatalf("IPN events after a refused cancellation %v", ev)
		}

		p, tx = lostCancel()
		recoverOnce(1)
		if got := e.get(tx.UUID); got.DetailedStatus != Cancelled || got.PendingOp != "" {
			t.Fatalf("after the resend: %+v", got)
		}
		if ev := e.events(p.ID); len(ev) == 0 || ev[len(ev)-1] != "payment.cancelled" {
			t.Fatalf("IPN events %v", ev)
		}
	})
}
