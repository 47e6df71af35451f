package subscription

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// An instalment charged in manual validation follows its debit: it is not
// paid while the debit waits for the merchant's validation (nothing is
// captured, nor, for a deferred debit, even authorized), it is PAID once
// validated and authorized, and a debit the merchant never validated
// (EXPIRED: the merchant's decision, not a technical failure) ends it
// FAILED, without a new attempt, the merchant told as of any instalment
// that failed for good.
func TestInstalmentToValidateFollowsItsDebit(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.PrimaryEmail = "merchant@example.com" // for the merchant's email
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		manual := Options{ManualValidation: "YES"}
		deferred := Options{ManualValidation: "YES", CaptureDelay: ptr(20)}
		in := func(o Options) CreateInput {
			return CreateInput{Amount: 990, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=1", Options: o}
		}
		validated, unvalidated := e.create(in(manual)), e.create(in(manual))
		deferredValidated, deferredUnvalidated := e.create(in(deferred)), e.create(in(deferred))
		all := []Subscription{validated, unvalidated, deferredValidated, deferredUnvalidated}

		e.run(4)
		for _, sub := range all {
			is := e.instalments(sub)
			if len(is) != 1 || is[0].Status != store.InstalmentCharging || is[0].PaymentID == "" {
				t.Fatalf("instalment waiting for validation %+v, want CHARGING with its payment", is)
			}
			if got := e.get(sub); got.PaidPayments != 0 {
				t.Fatalf("subscription %+v counts a payment not validated yet", got)
			}
		}

		// The merchant validates two of them.
		for _, sub := range []Subscription{validated, deferredValidated} {
			if _, _, err := e.pay.Validate(e.ctx(), e.shop.ID, e.instalments(sub)[0].TransactionUUID); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		}
		e.clk.Advance(time.Hour)
		e.run(0)
		if is := e.instalments(validated); is[0].Status != store.InstalmentPaid {
			t.Fatalf("validated instalment %+v, want PAID", is[0])
		}
		for _, sub := range []Subscription{unvalidated, deferredValidated, deferredUnvalidated} {
			if is := e.instalments(sub); is[0].Status != store.InstalmentCharging || is[0].Attempts != 1 {
				t.Fatalf("instalment %+v, want still CHARGING", is[0])
			}
		}

		// D-1 of the deferred debits: the validated one is authorized. Past
		// its capture date, the unvalidated ones have expired.
		e.clk.Set(t0.AddDate(0, 0, 19))
		if n, err := e.pay.AuthorizeDue(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("AuthorizeDue = %d, %v; want 1", n, err)
		}
		e.clk.Set(t0.AddDate(0, 0, 20).Add(time.Hour))
		if n, err := e.pay.ExpireUnvalidated(e.ctx(), 10); err != nil || n != 2 {
			t.Fatalf("ExpireUnvalidated = %d, %v; want 2", n, err)
		}
		// The instalments followed their debits in the writes that moved
		// them: no run of the scheduler in between.
		if is := e.instalments(deferredValidated); is[0].Status != store.InstalmentPaid {
			t.Fatalf("validated deferred instalment %+v, want PAID", is[0])
		}
		for _, sub := range []Subscription{validated, deferredValidated} {
			if got := e.get(sub); got.PaidPayments != 1 {
				t.Fatalf("subscription %+v, want its payment counted", got)
			}
		}
		for _, sub := range []Subscription{unvalidated, deferredUnvalidated} {
			_, tx, err := e.pay.Get(e.ctx(), e.shop.ID, e.instalments(sub)[0].TransactionUUID)
			if err != nil || tx.DetailedStatus != payment.Expired {
				t.Fatalf("debit %+v, %v; want EXPIRED", tx, err)
			}
			if is := e.instalments(sub); is[0].Status != store.InstalmentFailed || is[0].Attempts != 1 || is[0].ErrorDetail == "" {
				t.Fatalf("instalment of an expired debit %+v, want FAILED with its reason, after one attempt", is[0])
			}
		}
		// No new attempt later either.
		e.run(0)
		e.clk.Advance(48 * time.Hour)
		e.run(0)

		for _, sub := range all {
			var n int
			if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM outbox WHERE ordering_key = $1 AND event = $2
				AND channel = 'webhook'`, "subscription:"+sub.ID, "subscription.instalment_failed").Scan(&n); err != nil {
				t.Fatal(err)
			}
			want := 0
			if sub.ID == unvalidated.ID || sub.ID == deferredUnvalidated.ID {
				want = 1
			}
			if n != want {
				t.Errorf("subscription %s: %d instalment_failed webhooks, want %d", sub.ID, n, want)
			}
			if want == 1 {
				wantNoticeReason(t, db, sub, notify.InstalmentNotValidated)
			}
		}
	})
}

// A debit the merchant cancels while it waits (for validation, or for its
// deferred authorization) ends its instalment FAILED without a new attempt
// and with the final notices: a cancellation is the merchant's decision,
// not a technical failure for another debit to mend.
func TestInstalmentOfACancelledDebitIsNotCharged(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.PrimaryEmail = "merchant@example.com" // for the merchant's email
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		in := func(o Options) CreateInput {
			return CreateInput{Amount: 990, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=1", Options: o}
		}
		manual, deferred := e.create(in(Options{ManualValidation: "YES"})), e.create(in(Options{CaptureDelay: ptr(20)}))
		e.run(2)
		for _, sub := range []Subscription{manual, deferred} {
			if _, _, err := e.pay.CancelOrRefund(e.ctx(), e.shop.ID, e.instalments(sub)[0].TransactionUUID, payment.CancelInput{}); err != nil {
				t.Fatalf("CancelOrRefund: %v", err)
			}
		}
		check := func(when string) {
			t.Helper()
			for _, sub := range []Subscription{manual, deferred} {
				is := e.instalments(sub)
				if len(is) != 1 || is[0].Status != store.InstalmentFailed || is[0].Attempts != 1 || is[0].ErrorDetail == "" {
					t.Fatalf("%s: instalment of a cancelled debit %+v, want FAILED with its reason after one attempt", when, is)
				}
				var n int
				if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM outbox WHERE ordering_key = $1 AND event = $2
					AND channel = 'webhook'`, "subscription:"+sub.ID, "subscription.instalment_failed").Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 1 {
					t.Errorf("%s: subscription %s: %d instalment_failed webhooks, want 1", when, sub.ID, n)
				}
				wantNoticeReason(t, db, sub, notify.InstalmentCancelled)
			}
		}
		// The instalments followed their debits in the cancellation's
		// write, the merchant told in it.
		check("right after the cancellation")
		// No new debit nor notice later.
		for range 3 {
			e.clk.Advance(2 * time.Hour)
			e.run(0)
		}
		e.clk.Set(t0.AddDate(0, 0, 19).Add(time.Hour))
		e.run(0)
		check("at D-1")
	})
}

// wantNoticeReason checks that the merchant's email of sub's failed
// instalment says why: the merchant ended its debit, not a failed charge
// (whose email would send the merchant to check the card).
func wantNoticeReason(t *testing.T, db *store.DB, sub Subscription, reason string) {
	t.Helper()
	var payload string
	if err := db.Reader().QueryRow(`SELECT payload FROM outbox WHERE ordering_key = $1 AND event = $2
		AND channel = 'email'`, "subscription:"+sub.ID+"/merchant", notify.EventInstalmentFailed).Scan(&payload); err != nil {
		t.Fatalf("subscription %s: merchant email: %v", sub.ID, err)
	}
	var c notify.Content
	if err := json.Unmarshal([]byte(payload), &c); err != nil || c.Instalment == nil {
		t.Fatalf("subscription %s: email content %s: %v", sub.ID, payload, err)
	}
	if c.Instalment.Reason != reason {
		t.Errorf("subscription %s: email reason %q, want %q", sub.ID, c.Instalment.Reason, reason)
	}
}
