package payment

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// capturedDebit pays amount and has the capture job capture it.
func (e *env) capturedDebit(amount int64) (Payment, Transaction) {
	e.t.Helper()
	p, tx := e.pay(CreateInput{Amount: amount}, cardOK)
	if n, err := e.svc.CaptureDue(e.ctx(), 10); err != nil || n != 1 {
		e.t.Fatalf("debit capture: %d %v", n, err)
	}
	return p, tx
}

// refundOf refunds amount of debit uuid; the refund must be accepted.
func (e *env) refundOf(uuid string, amount int64) Transaction {
	e.t.Helper()
	_, c, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, uuid, CancelInput{Amount: &amount})
	if err != nil || c.OperationType != Credit || c.DetailedStatus != Authorised {
		e.t.Fatalf("refund of %d: %+v %v", amount, c, err)
	}
	return c
}

// A refund accepted but not captured yet can be cancelled, whole: it is
// CANCELLED at once, its amount is refundable again, the IPN of the
// cancellation is written with it, and the capture job never remits it. A
// captured refund cannot be cancelled.
func TestCancelRefundBeforeItsCapture(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		// Over the journal, so that the acquirer's own view of the
		// refunds (the capture's amount left) is checked on both engines.
		e.sim = simulator.New(simulator.Config{Clock: e.clk, Journal: db})
		e.svc = New(db, e.clk, e.sim, CardVault(e.vault), Config{AcquirerTimeout: 200 * time.Millisecond})
		p, debit := e.capturedDebit(1000)
		c1 := e.refundOf(debit.UUID, 700)
		cancel := func(uuid string, in CancelInput) (Transaction, error) {
			_, c, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, uuid, in)
			return c, err
		}
		amount := func(a int64) *int64 { return &a }

		_, err := cancel(c1.UUID, CancelInput{ResolutionMode: ResolutionRefund})
		wantCode(t, err, errs.RefundToCancel)
		_, err = cancel(c1.UUID, CancelInput{Amount: amount(100)})
		if e := wantCode(t, err, errs.BadAmount); e.Field != "amount" {
			t.Fatalf("partial cancellation of a refund: %+v", e)
		}
		_, err = cancel(c1.UUID, CancelInput{Amount: amount(700), Currency: "USD"})
		wantCode(t, err, errs.InputInvalid)
		if c := e.get(c1.UUID); c.DetailedStatus != Authorised || c.PendingOp != "" {
			t.Fatalf("refund after refused cancellations %+v", c)
		}

		got, err := cancel(c1.UUID, CancelInput{Amount: amount(700), Currency: "EUR", ResolutionMode: ResolutionCancellation})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, got, Cancelled)
		if got.UUID != c1.UUID || got.PendingOp != "" || !got.CapturedAt.IsZero() {
			t.Fatalf("cancelled refund %+v", got)
		}
		if d := e.get(debit.UUID); d.RefundedAmount != 0 || d.DetailedStatus != Captured {
			t.Fatalf("debit after the refund's cancellation %+v", d)
		}
		_, err = cancel(c1.UUID, CancelInput{})
		wantCode(t, err, errs.TxBadStatus)

		// The IPN, written with the cancellation, tells the refund
		// CANCELLED and the debit with nothing refunded.
		ipns := e.ipns(p.ID)
		last := ipns[len(ipns)-1]
		if last.Event != eventRefundCancelled {
			t.Fatalf("IPN events %v", e.events(p.ID))
		}
		var answer struct {
			OrderStatus  string `json:"orderStatus"`
			Transactions []struct {
				UUID           string `json:"uuid"`
				DetailedStatus string `json:"detailedStatus"`
				Details        struct {
					Card struct {
						Capture struct {
							RefundAmount *int64 `json:"refundAmount"`
						} `json:"captureResponse"`
					} `json:"cardDetails"`
				} `json:"transactionDetails"`
			} `json:"transactions"`
		}
		if err := json.Unmarshal([]byte(last.Payload), &answer); err != nil {
			t.Fatal(err)
		}
		states := map[string]string{}
		for _, tx := range answer.Transactions {
			states[tx.UUID] = tx.DetailedStatus
			if tx.UUID == debit.UUID && tx.Details.Card.Capture.RefundAmount != nil && *tx.Details.Card.Capture.RefundAmount != 0 {
				t.Fatalf("IPN: debit refundAmount %d", *tx.Details.Card.Capture.RefundAmount)
			}
		}
		if states[c1.UUID] != Cancelled || states[debit.UUID] != Captured || answer.OrderStatus != StatusPaid {
			t.Fatalf("IPN payload %s", last.Payload)
		}

		// The 700 are refundable again, at the acquirer too; the capture
		// job remits the new refund only.
		c2 := e.refundOf(debit.UUID, 1000)
		if n, err := e.svc.CaptureDue(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("refund captures: %d %v", n, err)
		}
		wantStatus(t, e.get(c1.UUID), Cancelled)
		wantStatus(t, e.get(c2.UUID), Captured)
		_, err = cancel(c2.UUID, CancelInput{})
		wantCode(t, err, errs.TxBadStatus)
		if d := e.get(debit.UUID); d.RefundedAmount != 1000 {
			t.Fatalf("debit after the second refund %+v", d)
		}
	})
}

// A cancellation whose answer never came leaves the refund with its
// pending cancellation: the capture job does not take it, and recovery
// asks the acquirer and records the cancellation (its amount back on the
// debit, its IPN). One the acquirer could not take leaves the refund as it
// was, to be captured.
func TestCancelRefundRecovery(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		p, debit := e.capturedDebit(1000)
		c := e.refundOf(debit.UUID, 400)

		e.sim.InjectFault(c.UUID+"-cancel", simulator.FaultTimeout)
		// Neither "cancelled" nor "not cancelled": INT_999, being checked.
		_, got, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, c.UUID, CancelInput{})
		if !errors.Is(err, ErrCancelUnknown) || got.DetailedStatus != Authorised || got.PendingOp != opCancel {
			t.Fatalf("cancellation without an answer: %+v %v", got, err)
		}
		wantCode(t, err, errs.Internal)
		if n, err := e.svc.CaptureDue(e.ctx(), 10); err != nil || n != 0 {
			t.Fatalf("the capture job took a refund being cancelled: %d %v", n, err)
		}
		// A retry meanwhile answers the same "retry later".
		_, _, err = e.svc.CancelOrRefund(e.ctx(), e.shop.ID, c.UUID, CancelInput{})
		wantCode(t, err, errs.Internal)
		if !errors.Is(err, errs.ErrRetryLater) {
			t.Fatalf("cancellation retried while pending: %v", err)
		}
		if d := e.get(debit.UUID); d.RefundedAmount != 400 {
			t.Fatalf("debit while the cancellation is pending %+v", d)
		}

		e.clk.Advance(2 * time.Minute)
		if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 100); err != nil || n != 1 {
			t.Fatalf("recovery: %d %v", n, err)
		}
		got = e.get(c.UUID)
		wantStatus(t, got, Cancelled)
		if got.PendingOp != "" {
			t.Fatalf("recovered refund %+v", got)
		}
		if d := e.get(debit.UUID); d.RefundedAmount != 0 {
			t.Fatalf("debit after the recovered cancellation %+v", d)
		}
		if ev := e.events(p.ID); ev[len(ev)-1] != eventRefundCancelled {
			t.Fatalf("IPN events %v", ev)
		}

		// Not taken by the acquirer: an error, the refund as it was, and
		// the capture job remits it.
		c2 := e.refundOf(debit.UUID, 300)
		e.sim.InjectFault(c2.UUID+"-cancel", simulator.FaultUnavailable)
		_, _, err = e.svc.CancelOrRefund(e.ctx(), e.shop.ID, c2.UUID, CancelInput{})
		wantCode(t, err, errs.Internal)
		if got := e.get(c2.UUID); got.DetailedStatus != Authorised || got.PendingOp != "" {
			t.Fatalf("refund after a failed cancellation %+v", got)
		}
		if n, err := e.svc.CaptureDue(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("refund capture: %d %v", n, err)
		}
		wantStatus(t, e.get(c2.UUID), Captured)
	})
}

// The capture job and a merchant's cancellation race for the same
// refunds: each refund ends either captured or cancelled, never both, and
// the debit's refunded amount is what the captured refunds add up to. A
// write lost meanwhile (on PostgreSQL a deadlock between the capture's
// settlement, which writes the transaction then the payment, and a
// cancellation, which locks the payment then the transaction, aborts one
// of them) leaves its claim to recovery, as after a crash: the
// cancellation then answers INT_999 and its outcome is whatever recovery
// finds.
func TestCancelRefundRacesTheCaptureJob(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, debit := e.capturedDebit(1000)
		// The claim of the capture job first: the cancellation answers
		// that an operation is in progress, and the refund is captured.
		c0 := e.refundOf(debit.UUID, 100)
		claimed, err := db.ClaimCaptures(e.ctx(), e.clk.Now(), 10)
		if err != nil || len(claimed) != 1 || claimed[0].UUID != c0.UUID {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		_, _, err = e.svc.CancelOrRefund(e.ctx(), e.shop.ID, c0.UUID, CancelInput{})
		wantCode(t, err, errs.TxBadStatus)
		if _, nt, err := e.svc.runCapture(e.ctx(), nil, transactionFromRecord(claimed[0]), true); err != nil || nt.DetailedStatus != Captured {
			t.Fatalf("capture of the claimed refund: %+v %v", nt, err)
		}

		// Then both at once, on eight refunds.
		var refunds []Transaction
		for range 8 {
			refunds = append(refunds, e.refundOf(debit.UUID, 100))
		}
		var wg sync.WaitGroup
		// What each cancellation answered: cancelled, refused (PSP_011:
		// being captured, or captured), or unknown (INT_999, a lost write).
		const (
			answerCancelled = iota + 1
			answerRefused
			answerUnknown
		)
		answers := make([]int, len(refunds))
		for i, c := range refunds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, got, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, c.UUID, CancelInput{})
				ae, _ := errs.As(err)
				switch {
				case err == nil && got.DetailedStatus == Cancelled:
					answers[i] = answerCancelled
				case err == nil:
					t.Errorf("cancellation of %s answered %+v", c.UUID, got)
				case ae != nil && ae.Code == errs.TxBadStatus:
					answers[i] = answerRefused
				case ae != nil && ae.Code == errs.Internal:
					answers[i] = answerUnknown
				default:
					t.Errorf("cancellation of %s: %v", c.UUID, err)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.svc.CaptureDue(e.ctx(), 100); err != nil {
				t.Errorf("capture job: %v", err)
			}
		}()
		wg.Wait()
		// What the job did not reach is captured now, what a lost write
		// left pending is settled by recovery.
		if _, err := e.svc.CaptureDue(e.ctx(), 100); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(2 * time.Minute)
		if _, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 100); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CaptureDue(e.ctx(), 100); err != nil {
			t.Fatal(err)
		}
		captured := int64(100) // c0
		for i, c := range refunds {
			got := e.get(c.UUID)
			switch {
			case got.PendingOp != "":
				t.Fatalf("refund %s still pending %s", c.UUID, got.PendingOp)
			case got.DetailedStatus != Cancelled && got.DetailedStatus != Captured,
				answers[i] == answerCancelled && got.DetailedStatus != Cancelled,
				answers[i] == answerRefused && got.DetailedStatus != Captured:
				t.Fatalf("refund %s is %s, its cancellation answered %d", c.UUID, got.DetailedStatus, answers[i])
			case got.DetailedStatus == Captured:
				captured += got.Amount
				if !got.CapturedAt.After(time.Time{}) {
					t.Fatalf("captured refund %+v", got)
				}
			}
		}
		if d := e.get(debit.UUID); d.RefundedAmount != captured {
			t.Fatalf("debit refunded %d, captured refunds %d", d.RefundedAmount, captured)
		}
		// The acquirer agrees: what is left of the capture can be refunded,
		// and no more.
		left := 1000 - captured
		if left > 0 {
			e.refundOf(debit.UUID, left)
		}
		one := int64(1)
		_, _, err = e.svc.CancelOrRefund(e.ctx(), e.shop.ID, debit.UUID, CancelInput{Amount: &one})
		wantCode(t, err, errs.BadAmount)
	})
}
