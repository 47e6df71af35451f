package payment

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A cancellation the acquirer refused, answered at once (PSP_003) or
// settled refused by recovery (IPN payment.cancel_refused), can be asked
// again: the new request is a new cancellation at the acquirer, under an
// operation id of its own, not the first one's refusal answered again by
// the acquirer (which keeps an operation id's outcome). Each asks the
// acquirer once.
func TestCancellationRefusedCanBeAskedAgain(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cancelled := func(uuid string) {
			t.Helper()
			_, got, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, uuid, CancelInput{})
			if err != nil {
				t.Fatalf("cancellation asked again: %v", err)
			}
			wantStatus(t, got, Cancelled)
			if got.PendingOp != "" || got.ErrorCode != "" || got.DetailedErrorCode != "" {
				t.Fatalf("cancelled after a refusal: %+v", got)
			}
		}

		// Refused at once.
		_, tx := e.pay(CreateInput{Amount: 1000}, cardOK)
		e.sim.InjectFault(tx.UUID+"-cancel", simulator.FaultRefused)
		if _, _, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{}); !errors.Is(err, ErrCancelRefused) {
			t.Fatalf("refused cancellation: %v", err)
		}
		cancelled(tx.UUID)

		// Refused twice, then accepted: every retry has its own id.
		_, tx = e.pay(CreateInput{Amount: 1000}, cardOK)
		e.sim.InjectFault(tx.UUID+"-cancel", simulator.FaultRefused)
		if _, _, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{}); !errors.Is(err, ErrCancelRefused) {
			t.Fatalf("refused cancellation: %v", err)
		}
		e.sim.InjectFault(cancelOpID(tx.UUID, 2), simulator.FaultRefused)
		if _, _, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{}); !errors.Is(err, ErrCancelRefused) {
			t.Fatalf("second refused cancellation: %v", err)
		}
		cancelled(tx.UUID)

		// Settled refused by recovery, the merchant told by IPN.
		_, tx = e.pay(CreateInput{Amount: 1000}, cardOK)
		e.cancelRefusedByRecovery(tx.UUID)
		cancelled(tx.UUID)

		// A refund's cancellation refused at once.
		_, debit := e.capturedDebit(1000)
		c := e.refundOf(debit.UUID, 400)
		e.sim.InjectFault(c.UUID+"-cancel", simulator.FaultRefused)
		if _, _, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, c.UUID, CancelInput{}); !errors.Is(err, ErrCancelRefused) {
			t.Fatalf("refused cancellation of a refund: %v", err)
		}
		cancelled(c.UUID)
		if d := e.get(debit.UUID); d.RefundedAmount != 0 {
			t.Fatalf("debit after its refund's cancellation: %+v", d)
		}
	})
}

// A debit whose cancellation recovery saw refused (errorCode ACQ_001 and
// the acquirer's code on it, told by payment.cancel_refused) and that is
// then captured shows its latest state, CAPTURED without those errors, in
// Transaction/Get and in the capture's IPN: a merchant reading errorCode
// ACQ_001 there would take the capture for refused. The refusal's own IPN
// keeps them.
func TestCaptureAfterARefusedCancellationForgetsTheRefusal(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		p, tx := e.pay(CreateInput{Amount: 1000}, cardOK)
		e.cancelRefusedByRecovery(tx.UUID)
		if _, _, err := e.svc.Capture(e.ctx(), e.shop.ID, tx.UUID); err != nil {
			t.Fatalf("capture: %v", err)
		}
		got := e.get(tx.UUID)
		wantStatus(t, got, Captured)
		if got.ErrorCode != "" || got.ErrorMessage != "" || got.DetailedErrorCode != "" || got.DetailedErrorMessage != "" {
			t.Fatalf("captured, still with the refused cancellation's errors: %+v", got)
		}
		ipns := e.ipns(p.ID)
		last := ipns[len(ipns)-1]
		if last.Event != "payment.captured" {
			t.Fatalf("IPN events %v", e.events(p.ID))
		}
		answer := decode(t, []byte(last.Payload))
		found := false
		for _, x := range answer["transactions"].([]any) {
			x := x.(map[string]any)
			if x["uuid"] != tx.UUID {
				continue
			}
			found = true
			if x["detailedStatus"] != Captured || x["errorCode"] != nil || x["detailedErrorCode"] != nil {
				t.Fatalf("capture IPN with the refused cancellation's errors: %v", x)
			}
		}
		if !found {
			t.Fatalf("capture IPN without %s: %s", tx.UUID, last.Payload)
		}
	})
}

// cancelRefusedByRecovery asks the cancellation of uuid, lost before the
// acquirer (INT_999 "being checked"), which recovery sends again and the
// acquirer refuses: the transaction is AUTHORISED with errorCode ACQ_001
// and the acquirer's code (05), the merchant told by IPN.
func (e *env) cancelRefusedByRecovery(uuid string) {
	e.t.Helper()
	e.sim.InjectFault(uuid+"-cancel", simulator.FaultLost)
	if _, _, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, uuid, CancelInput{}); !errors.Is(err, ErrCancelUnknown) {
		e.t.Fatalf("lost cancellation: %v", err)
	}
	e.sim.InjectFault(uuid+"-cancel", simulator.FaultRefused)
	e.clk.Advance(2 * time.Minute)
	if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); err != nil || n != 1 {
		e.t.Fatalf("recovery: %d %v", n, err)
	}
	if got := e.get(uuid); got.ErrorCode != CodeRefused || got.DetailedErrorCode != "05" || got.PendingOp != "" {
		e.t.Fatalf("after recovery saw the cancellation refused: %+v", got)
	}
}

// A cancellation the acquirer refuses at once (Transaction/CancelOrRefund
// answered PSP_003) leaves on the transaction what one recovery settles
// refused leaves (errorCode ACQ_001, the acquirer's code and message in
// detailedErrorCode and detailedErrorMessage): Transaction/Get, and the
// payment's next IPN, show the refusal until a capture or cancellation
// succeeds. Before, only recovery's did: one refused at once read as a
// plain AUTHORISED transaction. It sends no IPN of its own: the merchant
// has the answer (recovery's IPN tells one answered INT_999).
func TestCancellationRefusedAtOnceShowsAsRecoveryShowsIt(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		refusedAtOnce := func(p Payment, uuid string) Transaction {
			t.Helper()
			before := len(e.ipns(p.ID))
			e.sim.InjectFault(uuid+"-cancel", simulator.FaultRefused)
			if _, _, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, uuid, CancelInput{}); !errors.Is(err, ErrCancelRefused) {
				t.Fatalf("refused cancellation: %v", err)
			}
			if n := len(e.ipns(p.ID)); n != before {
				t.Fatalf("IPN events after a cancellation refused at once: %v", e.events(p.ID))
			}
			got := e.get(uuid)
			if got.ErrorCode != CodeRefused || got.DetailedErrorCode != "05" || !strings.Contains(got.DetailedErrorMessage, "refused the cancellation") {
				t.Fatalf("transaction after a cancellation refused at once: %+v", got)
			}
			return got
		}

		// First, while no other debit waits for its capture (capturedDebit
		// runs the capture job). Another refund's IPN shows the payment's
		// transactions: the refund refused at once with its refusal.
		p, debit := e.capturedDebit(1000)
		refund := refusedAtOnce(p, e.refundOf(debit.UUID, 400).UUID)
		e.refundOf(debit.UUID, 100)
		ipns := e.ipns(p.ID)
		e.wantCancelRefusalShown(ipns[len(ipns)-1].Payload, refund.UUID, Authorised, "05")

		p, tx := e.pay(CreateInput{Amount: 1000}, cardOK)
		atOnce := refusedAtOnce(p, tx.UUID)
		_, other := e.pay(CreateInput{Amount: 1000}, cardOK)
		e.cancelRefusedByRecovery(other.UUID)
		byRecovery := e.get(other.UUID)
		if atOnce.ErrorCode != byRecovery.ErrorCode || atOnce.ErrorMessage != byRecovery.ErrorMessage ||
			atOnce.DetailedErrorCode != byRecovery.DetailedErrorCode || atOnce.DetailedErrorMessage != byRecovery.DetailedErrorMessage {
			t.Fatalf("refused at once: %+v\nrefused by recovery: %+v", atOnce, byRecovery)
		}
		if _, _, err := e.svc.Capture(e.ctx(), e.shop.ID, tx.UUID); err != nil {
			t.Fatalf("capture: %v", err)
		}
		if got := e.get(tx.UUID); got.DetailedStatus != Captured || got.ErrorCode != "" || got.DetailedErrorCode != "" || got.DetailedErrorMessage != "" {
			t.Fatalf("captured after a cancellation refused at once: %+v", got)
		}
	})
}
