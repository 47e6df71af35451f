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

// A refund's cancellation (CancelOrRefund on the AUTHORISED refund, not
// remitted yet) that never reached the acquirer is sent again by recovery
// under the same operation id, as a debit's: released instead, the refund
// would be remitted at its capture although the merchant asked to cancel
// it. Unreachable again, it stays pending (the capture job does not take
// it); refused, the refund is AUTHORISED again (and remitted); accepted,
// it is CANCELLED with its IPN, its amount back on the debit, and the
// capture job never remits it.
func TestRecoveryResendsALostRefundCancellation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		p, debit := e.capturedDebit(1000)
		lostCancel := func(amount int64) Transaction {
			t.Helper()
			c := e.refundOf(debit.UUID, amount)
			e.sim.InjectFault(c.UUID+"-cancel", simulator.FaultLost)
			if _, got, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, c.UUID, CancelInput{}); !errors.Is(err, ErrCancelUnknown) || got.PendingOp != opCancel {
				t.Fatalf("lost cancellation: %+v %v", got, err)
			}
			return c
		}
		recoverOnce := func(want int) {
			t.Helper()
			e.clk.Advance(2 * time.Minute)
			if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); err != nil || n != want {
				t.Fatalf("recovery: %d %v, want %d", n, err, want)
			}
		}

		c := lostCancel(400)
		e.sim.InjectFault(c.UUID+"-cancel", simulator.FaultUnavailable)
		recoverOnce(0)
		if got := e.get(c.UUID); got.DetailedStatus != Authorised || got.PendingOp != opCancel {
			t.Fatalf("after an unreachable resend: %+v", got)
		}
		if n, err := e.svc.CaptureDue(e.ctx(), 10); err != nil || n != 0 {
			t.Fatalf("the capture job remitted a refund being cancelled: %d %v", n, err)
		}
		recoverOnce(1)
		got := e.get(c.UUID)
		wantStatus(t, got, Cancelled)
		if got.PendingOp != "" {
			t.Fatalf("after the resend: %+v", got)
		}
		if ev := e.events(p.ID); len(ev) == 0 || ev[len(ev)-1] != eventRefundCancelled {
			t.Fatalf("IPN events %v", ev)
		}
		if d := e.get(debit.UUID); d.RefundedAmount != 0 {
			t.Fatalf("debit after the refund's cancellation: %+v", d)
		}
		if res, found, err := e.sim.Inquire(e.ctx(), c.UUID+"-cancel"); err != nil || !found || !res.Approved {
			t.Fatalf("the acquirer's cancellation: %+v found %v, %v", res, found, err)
		}
		if n, err := e.svc.CaptureDue(e.ctx(), 10); err != nil || n != 0 {
			t.Fatalf("the capture job remitted a cancelled refund: %d %v", n, err)
		}
		wantStatus(t, e.get(c.UUID), Cancelled)

		c = lostCancel(300)
		e.sim.InjectFault(c.UUID+"-cancel", simulator.FaultRefused)
		recoverOnce(1)
		if got := e.get(c.UUID); got.DetailedStatus != Authorised || got.PendingOp != "" {
			t.Fatalf("after a refused resend: %+v", got)
		}
		if n, err := e.svc.CaptureDue(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("capture of the refund whose cancellation was refused: %d %v", n, err)
		}
		wantStatus(t, e.get(c.UUID), Captured)
		if d := e.get(debit.UUID); d.RefundedAmount != 300 {
			t.Fatalf("debit after the refund: %+v", d)
		}
	})
}
