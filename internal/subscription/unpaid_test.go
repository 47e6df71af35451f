package subscription

import (
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// countNotices counts the instalment_failed webhooks of a subscription.
func countNotices(t *testing.T, db *store.DB, sub Subscription) int {
	t.Helper()
	var n int
	if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM outbox WHERE ordering_key = $1 AND event = $2
		AND channel = 'webhook'`, "subscription:"+sub.ID, notify.EventInstalmentFailed).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An instalment is PAID when its debit is authorized; if no money is
// collected after all, it is not paid any more, in the write that records
// the debit's end. A debit the merchant cancels before its capture ends
// the instalment FAILED without a new debit, and the merchant is told as
// of a debit cancelled while it waited (reason "cancelled"). A capture the
// acquirer refuses sends the instalment back to DUE for a new debit, by
// the refusal policy. A refund after the capture leaves it PAID:
// the money was collected.
func TestInstalmentNotPaidWhenItsDebitIsNotCaptured(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.PrimaryEmail = "merchant@example.com"
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		later := Options{CaptureDelay: ptr(2)}
		cancelled := e.create(CreateInput{Amount: 990, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=3", Options: later})
		refunded := e.create(CreateInput{Amount: 990, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=3"})
		captureFailed := e.create(CreateInput{Amount: 990, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=3"})
		e.run(3)
		for _, sub := range []Subscription{cancelled, refunded, captureFailed} {
			if is := e.instalments(sub); len(is) != 1 || is[0].Status != store.InstalmentPaid {
				t.Fatalf("instalments %+v, want one PAID", is)
			}
		}

		// The merchant cancels the authorized debit before its capture.
		uuid := e.instalments(cancelled)[0].TransactionUUID
		_, tr, err := e.pay.CancelOrRefund(e.ctx(), e.shop.ID, uuid, payment.CancelInput{ResolutionMode: payment.ResolutionCancellation})
		if err != nil || tr.DetailedStatus != payment.Cancelled {
			t.Fatalf("CancelOrRefund = %s, %v", tr.DetailedStatus, err)
		}
		inst := e.instalments(cancelled)[0]
		if inst.Status != store.InstalmentFailed || inst.ErrorDetail != merchantEnded[payment.Cancelled].detail {
			t.Fatalf("instalment after its debit was cancelled: %+v, want FAILED (cancelled)", inst)
		}
		if got := e.get(cancelled); got.PaidPayments != 0 || got.PastPayments != 1 || got.NextDueAt.IsZero() {
			t.Fatalf("subscription after the cancelled debit: %+v", got)
		}
		if n := countNotices(t, db, cancelled); n != 1 {
			t.Fatalf("%d instalment_failed webhooks, want 1", n)
		}
		wantNoticeReason(t, db, cancelled, notify.InstalmentCancelled)

		// The authorization of another is released at the acquirer (as
		// after its expiry): its capture is refused.
		_, debit, err := e.pay.Get(e.ctx(), e.shop.ID, e.instalments(captureFailed)[0].TransactionUUID)
		if err != nil || debit.DetailedStatus != payment.Authorised {
			t.Fatalf("debit %s, %v", debit.DetailedStatus, err)
		}
		if res, err := e.sim.Cancel(e.ctx(), "released-"+debit.UUID, debit.AcquirerRef); err != nil || !res.Approved {
			t.Fatalf("release at the acquirer: %+v, %v", res, err)
		}
		if _, err := e.pay.CaptureDue(e.ctx(), 10); err != nil {
			t.Fatal(err)
		}
		if _, debit, _ = e.pay.Get(e.ctx(), e.shop.ID, debit.UUID); debit.DetailedStatus != payment.CaptureFailed {
			t.Fatalf("debit %s, want CAPTURE_FAILED", debit.DetailedStatus)
		}
		inst = e.instalments(captureFailed)[0]
		if inst.Status != store.InstalmentDue || inst.PaymentID != "" || !inst.NextAttemptAt.After(e.clk.Now()) {
			t.Fatalf("instalment after its refused capture %+v, want DUE for a new debit", inst)
		}
		if got := e.get(captureFailed); got.PaidPayments != 0 {
			t.Fatalf("subscription after the refused capture %+v", got)
		}

		// A capture, then a refund (AUTHORISED until the capture job remits
		// it): the instalment stays paid.
		_, debit, err = e.pay.Get(e.ctx(), e.shop.ID, e.instalments(refunded)[0].TransactionUUID)
		if err != nil || debit.DetailedStatus != payment.Captured {
			t.Fatalf("debit %s, %v; want CAPTURED", debit.DetailedStatus, err)
		}
		if _, cr, err := e.pay.CancelOrRefund(e.ctx(), e.shop.ID, debit.UUID, payment.CancelInput{}); err != nil ||
			cr.OperationType != payment.Credit || cr.DetailedStatus != payment.Authorised {
			t.Fatalf("refund = %+v, %v", cr, err)
		}
		if inst := e.instalments(refunded)[0]; inst.Status != store.InstalmentPaid {
			t.Fatalf("refunded instalment %+v, want PAID", inst)
		}
		// What the instalment collected is not net of the refund (a credit
		// of its own): V4/Subscription has no paid amount, and
		// pastPaymentsNumber counts it as finalized.
		if got := e.get(refunded); got.PaidPayments != 1 || got.PastPayments != 1 || got.PaidAmount != 990 ||
			countNotices(t, db, refunded) != 0 {
			t.Fatalf("refunded subscription %+v", got)
		}

		e.clk.Set(inst.NextAttemptAt)
		e.run(1)
		if inst := e.instalments(captureFailed)[0]; inst.Status != store.InstalmentPaid || inst.Attempts != 2 {
			t.Fatalf("instalment after its new debit %+v, want PAID", inst)
		}

		// The cancelled instalment is not charged again.
		e.clk.Advance(6 * time.Hour)
		e.run(0)
		if is := e.instalments(cancelled); len(is) != 1 || is[0].Status != store.InstalmentFailed || is[0].Attempts != 1 {
			t.Fatalf("cancelled instalment later %+v", is)
		}
	})
}
