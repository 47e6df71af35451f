package subscription

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// An instalment whose debit waits for its authorization (captureDelay
// beyond the authorization's validity: WAITING_AUTHORISATION) is not paid
// yet: it stays CHARGING, is neither charged again nor in the way of the
// next instalments, and follows its debit to its end, in the write that
// moves the debit (not a lease later, at the stale pass). Authorized the
// day before the capture date, it is PAID; refused then, it is the
// instalment's refusal, retried by the policy, and the buyer hears of it
// as of an instalment to be retried.
func TestDeferredInstalmentFollowsItsDebit(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.Settings.OrderConfirmationEmails = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		e.svc = New(db, e.clk, e.pay, e.vault, Config{Lease: time.Minute,
			Retry: RetryPolicy{Refused: []time.Duration{24 * time.Hour, 72 * time.Hour}}})
		p, _ := card.ParsePAN(cardSubRefused)
		refusedTok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeTest, PAN: p,
			Expiry: card.Expiry{Month: 12, Year: 2035}, Customer: json.RawMessage(`{"email":"zoe@example.com"}`)})
		if err != nil {
			t.Fatal(err)
		}
		delay := Options{CaptureDelay: ptr(20)}
		refused := e.create(CreateInput{Amount: 990, PaymentMethodToken: refusedTok.Value, RRule: "FREQ=MONTHLY;COUNT=3", Options: delay})
		paid := e.create(CreateInput{Amount: 990, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=3", Options: delay})

		e.run(2)
		for _, sub := range []Subscription{refused, paid} {
			is := e.instalments(sub)
			if len(is) != 1 || is[0].Status != store.InstalmentCharging || is[0].PaymentID == "" {
				t.Fatalf("instalment waiting for its authorization %+v, want CHARGING with its payment", is)
			}
			if got := e.get(sub); got.PaidPayments != 0 {
				t.Fatalf("subscription %+v counts a payment not authorized yet", got)
			}
		}
		// The stale pass looks at the waiting debits and leaves them:
		// nothing is charged again.
		e.clk.Advance(24 * time.Hour)
		e.run(0)
		for _, sub := range []Subscription{refused, paid} {
			if is := e.instalments(sub); is[0].Status != store.InstalmentCharging || is[0].Attempts != 1 {
				t.Fatalf("instalment %+v after a day", is[0])
			}
		}

		// D-1: the authorizations are sent.
		e.clk.Set(t0.AddDate(0, 0, 19))
		if n, err := e.pay.AuthorizeDue(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("AuthorizeDue = %d, %v; want 1", n, err)
		}
		retryAt := e.clk.Now().Add(24 * time.Hour)
		// The instalments followed their debits in the same write: no run
		// of the scheduler, no lease, in between.
		if is := e.instalments(refused); is[0].Status != store.InstalmentDue || is[0].Refusals != 1 || is[0].NextAttemptAt.Before(retryAt) ||
			is[0].PaymentID != "" {
			t.Fatalf("instalment right after the D-1 refusal %+v, want DUE again from %s", is[0], retryAt)
		}
		if is := e.instalments(paid); is[0].Status != store.InstalmentPaid {
			t.Fatalf("instalment right after the D-1 authorization %+v, want PAID", is[0])
		}
		if got := e.get(paid); got.PaidPayments != 1 {
			t.Fatalf("subscription %+v", got)
		}
		// The instalment due again has no payment any more: its refused
		// debit is its first attempt.
		var payload string
		err = db.Reader().QueryRow(`SELECT payload FROM outbox WHERE ordering_key = $1 AND channel = 'email'
			ORDER BY created_at DESC, id DESC LIMIT 1`,
			"payment:"+e.attempts(refused)[0].PaymentID+"/buyer").Scan(&payload)
		if err != nil {
			t.Fatalf("buyer email: %v", err)
		}
		var c notify.Content
		if err := json.Unmarshal([]byte(payload), &c); err != nil {
			t.Fatal(err)
		}
		if c.Payment == nil || c.Payment.RetryAt == nil || !c.Payment.RetryAt.Equal(retryAt) {
			t.Errorf("buyer email after the D-1 refusal: %s, want the instalment retried on %s", payload, retryAt)
		}

		// The stale pass, a lease later, finds nothing more to do.
		e.clk.Advance(2 * time.Minute)
		e.run(0)
		if is := e.instalments(refused); is[0].Status != store.InstalmentDue || is[0].Refusals != 1 {
			t.Fatalf("instalment a lease after the D-1 refusal %+v, want DUE with one refusal", is[0])
		}

		// The retry is charged once, and the next instalment comes on its
		// date while the retry waits for its own authorization.
		e.clk.Set(e.instalments(refused)[0].NextAttemptAt)
		e.run(1)
		e.run(0)
		e.clk.Set(t0.AddDate(0, 1, 0))
		e.run(2)
		if is := e.instalments(refused); len(is) != 2 || is[0].Attempts != 2 || is[0].Status != store.InstalmentCharging ||
			is[1].Status != store.InstalmentCharging {
			t.Fatalf("instalments %+v", is)
		}
	})
}

// An instalment whose debit waits for its authorization is not read again
// by the stale pass at every lease until its D-1: its claim runs until
// shortly after the authorization is due. One waiting for the merchant's
// validation keeps the lease (the merchant may validate it at any time).
func TestWaitingInstalmentNotClaimedBeforeItsAuthorization(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		lease := time.Minute
		waiting := e.create(CreateInput{Amount: 990, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=1",
			Options: Options{CaptureDelay: ptr(20)}})
		toValidate := e.create(CreateInput{Amount: 990, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=1",
			Options: Options{CaptureDelay: ptr(20), ManualValidation: "YES"}})
		e.run(2)
		e.clk.Advance(24 * time.Hour)
		e.run(0)

		_, debit, err := e.pay.Get(e.ctx(), e.shop.ID, e.instalments(waiting)[0].TransactionUUID)
		if err != nil {
			t.Fatal(err)
		}
		authorizeAt := debit.ExpectedCaptureAt.Add(-store.AuthorizeAhead)
		e.clk.Set(authorizeAt.Add(-time.Hour))
		claimed, err := db.ClaimStaleCharging(e.ctx(), e.clk.Now(), lease, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) != 1 || claimed[0].SubscriptionID != toValidate.ID {
			t.Fatalf("stale pass before D-1 claimed %+v, want only the instalment to validate", claimed)
		}

		e.clk.Set(authorizeAt)
		if n, err := e.pay.AuthorizeDue(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("AuthorizeDue = %d, %v; want 1", n, err)
		}
		e.clk.Advance(2 * lease)
		e.run(0)
		if is := e.instalments(waiting); is[0].Status != store.InstalmentPaid {
			t.Fatalf("instalment after its D-1 authorization %+v, want PAID", is[0])
		}
	})
}

// An instalment's deferred debit the D-1 authorization could not take by
// its capture date (ERROR) is a technical failure of the instalment,
// retried by the policy: unlike a one-off deferred payment's, it tells
// the buyer nothing (docs/subscriptions.md), only the merchant.
func TestDeferredInstalmentErrorNotToldToTheBuyer(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.Settings.OrderConfirmationEmails = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		p, _ := card.ParsePAN(cardOK)
		tok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeTest, PAN: p,
			Expiry: card.Expiry{Month: 12, Year: 2035}, Customer: json.RawMessage(`{"email":"zoe@example.com"}`)})
		if err != nil {
			t.Fatal(err)
		}
		sub := e.create(CreateInput{Amount: 990, PaymentMethodToken: tok.Value, RRule: "FREQ=MONTHLY;COUNT=3",
			Options: Options{CaptureDelay: ptr(20)}})
		e.run(1)
		paymentID := e.attempts(sub)[0].PaymentID
		var uuid string
		if err := db.Reader().QueryRow(`SELECT uuid FROM transactions WHERE payment_id = $1`, paymentID).Scan(&uuid); err != nil {
			t.Fatal(err)
		}
		e.clk.Set(t0.AddDate(0, 0, 20))
		e.sim.InjectFault(uuid+"-authorise", simulator.FaultUnavailable)
		if _, err := e.pay.AuthorizeDue(e.ctx(), 10); err != nil {
			t.Fatal(err)
		}
		var status string
		if err := db.Reader().QueryRow(`SELECT detailed_status FROM transactions WHERE uuid = $1`, uuid).Scan(&status); err != nil ||
			status != "ERROR" {
			t.Fatalf("debit %s (%v), want ERROR", status, err)
		}
		var refused int
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM outbox WHERE ordering_key = $1 AND channel = 'email' AND event = 'payment.refused'`,
			"payment:"+paymentID+"/buyer").Scan(&refused); err != nil || refused != 0 {
			t.Fatalf("buyer emails of the instalment's technical failure: %d (%v), want none", refused, err)
		}
	})
}
