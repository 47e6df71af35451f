package subscription

import (
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A paid instalment whose authorized debit is lowered before its capture
// (Transaction/Update with a lower amount, or a partial
// Transaction/CancelOrRefund) collects only what is left: the instalment
// and the subscription report that amount as paid, not the instalment's
// full amount. The instalment stays PAID (the merchant chose to collect
// less; no new debit asks for the rest), and the capture collects the
// lowered amount.
func TestPartlyCancelledInstalmentReportsWhatWasCollected(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		later := Options{CaptureDelay: ptr(2)}
		updated := e.create(CreateInput{Amount: 990, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=3", Options: later})
		cancelled := e.create(CreateInput{Amount: 990, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=3", Options: later})
		e.run(2)
		for _, sub := range []Subscription{updated, cancelled} {
			is := e.instalments(sub)
			if len(is) != 1 || is[0].Status != store.InstalmentPaid || is[0].PaidAmount != 990 {
				t.Fatalf("instalments %+v, want one PAID with 990 paid", is)
			}
			if got := e.get(sub); got.PaidPayments != 1 || got.PaidAmount != 990 {
				t.Fatalf("subscription %+v, want 990 paid", got)
			}
		}

		if _, tr, err := e.pay.Update(e.ctx(), e.shop.ID, e.instalments(updated)[0].TransactionUUID,
			payment.UpdateInput{Amount: ptr(int64(600))}); err != nil || tr.Amount != 600 {
			t.Fatalf("Update = %d, %v", tr.Amount, err)
		}
		if _, tr, err := e.pay.CancelOrRefund(e.ctx(), e.shop.ID, e.instalments(cancelled)[0].TransactionUUID,
			payment.CancelInput{Amount: ptr(int64(240))}); err != nil || tr.Amount != 750 {
			t.Fatalf("partial CancelOrRefund = %d, %v", tr.Amount, err)
		}
		check := func(sub Subscription, want int64) {
			t.Helper()
			inst := e.instalments(sub)[0]
			if inst.Status != store.InstalmentPaid || inst.Amount != 990 || inst.PaidAmount != want {
				t.Errorf("instalment %+v, want PAID, 990 due, %d paid", inst, want)
			}
			if got := e.get(sub); got.PaidPayments != 1 || got.PaidAmount != want {
				t.Errorf("subscription %+v, want %d paid", got, want)
			}
		}
		check(updated, 600)
		check(cancelled, 750)

		// The capture collects the lowered amounts.
		e.clk.Advance(3 * 24 * time.Hour)
		if n, err := e.pay.CaptureDue(e.ctx(), 10); err != nil || n != 2 {
			t.Fatalf("CaptureDue = %d, %v", n, err)
		}
		for _, c := range []struct {
			sub  Subscription
			want int64
		}{{updated, 600}, {cancelled, 750}} {
			_, debit, err := e.pay.Get(e.ctx(), e.shop.ID, e.instalments(c.sub)[0].TransactionUUID)
			if err != nil || debit.DetailedStatus != payment.Captured || debit.CapturedAmount != c.want {
				t.Fatalf("debit %s %d, %v", debit.DetailedStatus, debit.CapturedAmount, err)
			}
			check(c.sub, c.want)
		}
	})
}
