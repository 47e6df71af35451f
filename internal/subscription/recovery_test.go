package subscription

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// timeoutAcquirer is the simulator with every authorization held past the
// caller's deadline (simulator.FaultTimeout): the simulator still decides
// it, as the card says, and recovery learns that decision by inquiry.
type timeoutAcquirer struct{ *simulator.Simulator }

func (a timeoutAcquirer) Authorize(ctx context.Context, r acquirer.AuthorizeRequest) (acquirer.Result, error) {
	a.InjectFault(r.OperationID, simulator.FaultTimeout)
	return a.Simulator.Authorize(ctx, r)
}

// An instalment refused late, when recovery asks the acquirer about an
// authorization that timed out, tells the buyer as an on-time refusal does
// (the instalment will be tried again, and when), not with the ordinary
// "payment refused" email; the instalment then follows the retry policy.
func TestInstalmentRefusedThroughRecovery(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.Settings.OrderConfirmationEmails = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		e.vault = vault.New(db, e.keys, e.clk)
		e.pay = payment.New(db, e.clk, timeoutAcquirer{e.sim}, payment.CardVault(e.vault),
			payment.Config{AcquirerTimeout: 300 * time.Millisecond})
		e.svc = New(db, e.clk, e.pay, e.vault, Config{Lease: time.Minute,
			Retry: RetryPolicy{Refused: []time.Duration{24 * time.Hour, 72 * time.Hour}}})
		p, _ := card.ParsePAN(cardSubRefused)
		tok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeTest, PAN: p,
			Expiry: card.Expiry{Month: 12, Year: 2035}, Customer: json.RawMessage(`{"email":"zoe@example.com"}`)})
		if err != nil {
			t.Fatal(err)
		}
		sub := e.create(CreateInput{Amount: 990, PaymentMethodToken: tok.Value, RRule: "FREQ=MONTHLY;COUNT=2"})
		e.run(1)
		is := e.instalments(sub)
		if len(is) != 1 || is[0].Status != store.InstalmentCharging || is[0].PaymentID == "" {
			t.Fatalf("after the timeout %+v, want one CHARGING with its payment", is)
		}
		e.clk.Advance(10 * time.Second) // past the acquirer timeout: recovery asks
		retryAt := e.clk.Now().Add(24 * time.Hour)
		if n, err := e.pay.RecoverRunning(e.ctx(), 0, 10); err != nil || n != 1 {
			t.Fatalf("RecoverRunning = %d, %v", n, err)
		}
		_, tx, err := e.pay.Get(e.ctx(), e.shop.ID, is[0].TransactionUUID)
		if err != nil || tx.DetailedStatus != payment.Refused {
			t.Fatalf("recovered transaction %+v, %v; want REFUSED", tx, err)
		}
		var payload string
		err = db.Reader().QueryRow(`SELECT payload FROM outbox WHERE ordering_key = $1 AND channel = 'email'`,
			"payment:"+is[0].PaymentID+"/buyer").Scan(&payload)
		if err != nil {
			t.Fatalf("buyer email: %v", err)
		}
		var c notify.Content
		if err := json.Unmarshal([]byte(payload), &c); err != nil {
			t.Fatal(err)
		}
		if c.Payment == nil || c.Payment.RetryAt == nil || !c.Payment.RetryAt.Equal(retryAt) || c.Payment.InstalmentFailed {
			t.Errorf("buyer email after a late refusal: %s, want the instalment retried on %s", payload, retryAt)
		}
		e.clk.Advance(2 * time.Minute)
		e.run(0)
		if is = e.instalments(sub); is[0].Status != store.InstalmentDue || is[0].Refusals != 1 || is[0].NextAttemptAt.Before(retryAt) {
			t.Errorf("instalment after the late refusal %+v, want DUE again from %s", is[0], retryAt)
		}
	})
}

// The instalment of an attempt refused late follows its debit in the
// write that records the refusal, as a deferred debit's does: the retry
// date the buyer's email gives is the instalment's own, not one computed
// again when the stale pass comes by a lease later (a date that could be
// the next day).
func TestInstalmentRefusedThroughRecoveryRetriesWhenItsEmailSays(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.Settings.OrderConfirmationEmails = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		e.vault = vault.New(db, e.keys, e.clk)
		e.pay = payment.New(db, e.clk, timeoutAcquirer{e.sim}, payment.CardVault(e.vault),
			payment.Config{AcquirerTimeout: 300 * time.Millisecond})
		e.svc = New(db, e.clk, e.pay, e.vault, Config{Lease: time.Minute,
			Retry: RetryPolicy{Refused: []time.Duration{24 * time.Hour}}})
		p, _ := card.ParsePAN(cardSubRefused)
		tok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeTest, PAN: p,
			Expiry: card.Expiry{Month: 12, Year: 2035}, Customer: json.RawMessage(`{"email":"zoe@example.com"}`)})
		if err != nil {
			t.Fatal(err)
		}
		sub := e.create(CreateInput{Amount: 990, PaymentMethodToken: tok.Value, RRule: "FREQ=MONTHLY;COUNT=2"})
		for round := 1; round <= 2; round++ {
			e.run(1)
			paymentID := e.instalments(sub)[0].PaymentID
			e.clk.Advance(10 * time.Second)
			if n, err := e.pay.RecoverRunning(e.ctx(), 0, 10); err != nil || n != 1 {
				t.Fatalf("RecoverRunning = %d, %v", n, err)
			}
			inst := e.instalments(sub)[0]
			emails := emailsOf(t, db, paymentID, "buyer")
			if len(emails) != 1 {
				t.Fatalf("round %d: %d buyer emails", round, len(emails))
			}
			email := emails[0].Payment
			switch round {
			case 1:
				if inst.Status != store.InstalmentDue || inst.Refusals != 1 || email.RetryAt == nil ||
					!email.RetryAt.Equal(inst.NextAttemptAt) {
					t.Fatalf("after the late refusal: instalment %+v, email retry %v; want DUE, retried when the email says", inst, email.RetryAt)
				}
				e.clk.Set(inst.NextAttemptAt)
			case 2:
				if inst.Status != store.InstalmentFailed || inst.Refusals != 2 || !email.InstalmentFailed {
					t.Fatalf("after the last late refusal: instalment %+v, email %+v; want FAILED", inst, email)
				}
			}
		}
	})
}
