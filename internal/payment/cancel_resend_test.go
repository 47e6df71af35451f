package payment

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A debit's cancellation that never reached the acquirer (FaultLost) is
// sent again by recovery under the same operation id: unreachable again,
// it stays pending for the next round (no IPN); refused, the debit is
// given back AUTHORISED without payment.cancelled (the refusal's IPN is
// TestRecoveryTellsARefusedCancellation's); accepted (another debit),
// CANCELLED with its IPN.
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
		// What /metrics shows (openpsp_pending_operations).
		if n, err := db.PendingOps(e.ctx()); err != nil || n[opCancel].Count != 1 || len(n) != 1 {
			t.Fatalf("pending operations: %v %v", n, err)
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

// A cancellation the merchant asked (V4 answered INT_999, "being checked")
// that recovery finds refused by the acquirer, or sends again and sees
// refused, leaves the debit AUTHORISED (captured at its date) or the
// refund AUTHORISED (remitted): the merchant is told, in the write that
// releases the claim, by an IPN whose kr-answer shows the transaction as
// it is with the acquirer's refusal where V4 puts a refused capture's
// (errorCode ACQ_001, detailedErrorCode the acquirer's response code,
// detailedErrorMessage), and Transaction/Get shows the same.
func TestRecoveryTellsARefusedCancellation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		recoverOnce := func() {
			t.Helper()
			e.clk.Advance(2 * time.Minute)
			if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); err != nil || n != 1 {
				t.Fatalf("recovery: %d %v, want 1", n, err)
			}
		}
		cancelUnknown := func(uuid string) {
			t.Helper()
			if _, got, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, uuid, CancelInput{}); !errors.Is(err, ErrCancelUnknown) || got.PendingOp != opCancel {
				t.Fatalf("cancellation without an answer: %+v %v", got, err)
			}
		}
		// A refund's cancellation lost before the acquirer, refused when
		// sent again: the refund is remitted by the capture job.
		p, debit := e.capturedDebit(1000)
		c := e.refundOf(debit.UUID, 400)
		e.sim.InjectFault(c.UUID+"-cancel", simulator.FaultLost)
		cancelUnknown(c.UUID)
		e.sim.InjectFault(c.UUID+"-cancel", simulator.FaultRefused)
		before := len(e.ipns(p.ID))
		recoverOnce()
		e.wantCancelRefusalTold(p, before, c.UUID, eventRefundCancelRefused, Authorised, "05")
		if d := e.get(debit.UUID); d.RefundedAmount != 400 {
			t.Fatalf("debit after the refused cancellation of its refund: %+v", d)
		}

		// A debit's cancellation lost before the acquirer, refused when
		// sent again.
		p, tx := e.pay(CreateInput{Amount: 1000}, cardOK)
		e.sim.InjectFault(tx.UUID+"-cancel", simulator.FaultLost)
		cancelUnknown(tx.UUID)
		e.sim.InjectFault(tx.UUID+"-cancel", simulator.FaultRefused)
		before = len(e.ipns(p.ID))
		recoverOnce()
		e.wantCancelRefusalTold(p, before, tx.UUID, eventCancelRefused, Authorised, "05")

		// A debit's cancellation the acquirer received and refused, its
		// answer lost (the authorization was cancelled at the acquirer
		// under another operation).
		p, tx = e.pay(CreateInput{Amount: 1000}, cardOK)
		if res, err := e.sim.Cancel(e.ctx(), "elsewhere-"+tx.UUID, tx.AcquirerRef); err != nil || !res.Approved {
			t.Fatalf("cancellation at the acquirer: %+v %v", res, err)
		}
		e.sim.InjectFault(tx.UUID+"-cancel", simulator.FaultTimeout)
		cancelUnknown(tx.UUID)
		before = len(e.ipns(p.ID))
		recoverOnce()
		e.wantCancelRefusalTold(p, before, tx.UUID, eventCancelRefused, Authorised, "12")
	})
}

// wantCancelRefusalTold checks that the IPNs of payment p since before
// were one, event, telling transaction uuid detailed with the acquirer's
// refusal code, and that the transaction reads the same.
func (e *env) wantCancelRefusalTold(p Payment, before int, uuid, event, detailed, code string) {
	e.t.Helper()
	ipns := e.ipns(p.ID)
	if len(ipns) != before+1 || ipns[before].Event != event {
		e.t.Fatalf("IPN events %v, want %d then %s", e.events(p.ID), before, event)
	}
	e.wantCancelRefusalShown(ipns[before].Payload, uuid, detailed, code)
}

// wantCancelRefusalShown checks that an IPN's kr-answer, payload, shows
// transaction uuid detailed with the acquirer's refusal code of its
// cancellation, and that the transaction reads the same.
func (e *env) wantCancelRefusalShown(payload, uuid, detailed, code string) {
	t := e.t
	t.Helper()
	var answer struct {
		Transactions []struct {
			UUID, DetailedStatus, ErrorCode, DetailedErrorCode, DetailedErrorMessage string
		}
	}
	if err := json.Unmarshal([]byte(payload), &answer); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range answer.Transactions {
		if x.UUID != uuid {
			continue
		}
		found = true
		if x.DetailedStatus != detailed || x.ErrorCode != CodeRefused || x.DetailedErrorCode != code ||
			!strings.Contains(x.DetailedErrorMessage, "refused the cancellation") || len([]rune(x.DetailedErrorMessage)) > 127 {
			t.Fatalf("IPN kr-answer of the refused cancellation: %+v", x)
		}
	}
	if !found {
		t.Fatalf("IPN kr-answer without %s: %s", uuid, payload)
	}
	got := e.get(uuid)
	wantStatus(t, got, detailed)
	if got.PendingOp != "" || got.ErrorCode != CodeRefused || got.DetailedErrorCode != code || !strings.Contains(got.DetailedErrorMessage, "refused the cancellation") {
		t.Fatalf("transaction after the refused cancellation: %+v", got)
	}
}
