package subscription

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// A refused instalment that is retried tells the buyer once, at its first
// refusal, that it will be tried again (and when), and once more when it
// has finally failed: not a "try again with another card" email at every
// attempt. The merchant's IPN still goes out at every attempt.
func TestRefusedInstalmentTellsTheBuyerTwice(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.Settings.OrderConfirmationEmails = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		p, _ := card.ParsePAN(cardSubRefused)
		tok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeTest, PAN: p,
			Expiry: card.Expiry{Month: 12, Year: 2035}, Customer: json.RawMessage(`{"email":"zoe@example.com"}`)})
		if err != nil {
			t.Fatal(err)
		}
		sub := e.create(CreateInput{Amount: 990, PaymentMethodToken: tok.Value, RRule: "FREQ=MONTHLY;COUNT=2"})
		for _, at := range []time.Duration{0, 24 * time.Hour, 72 * time.Hour, 168 * time.Hour} {
			e.clk.Set(t0.Add(at))
			e.run(1)
		}
		var emails []notify.Content
		for _, a := range e.attempts(sub) {
			if n := len(e.ipns(a.PaymentID)); n != 1 {
				t.Errorf("attempt %d: %d IPNs", a.Attempt, n)
			}
			rows, err := db.Reader().Query(`SELECT payload FROM outbox WHERE ordering_key = $1 AND channel = 'email'`,
				"payment:"+a.PaymentID+"/buyer")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var payload string
				var c notify.Content
				if err := rows.Scan(&payload); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal([]byte(payload), &c); err != nil {
					t.Fatal(err)
				}
				emails = append(emails, c)
			}
			rows.Close()
		}
		if len(emails) != 2 {
			t.Fatalf("%d buyer emails for one instalment refused 4 times, want 2", len(emails))
		}
		first, last := emails[0].Payment, emails[1].Payment
		if first.RetryAt == nil || !first.RetryAt.Equal(t0.Add(24*time.Hour)) || first.InstalmentFailed {
			t.Errorf("first refusal: %+v, want a retry on %s", first, t0.Add(24*time.Hour))
		}
		if last.RetryAt != nil || !last.InstalmentFailed {
			t.Errorf("last refusal: %+v, want the instalment failed", last)
		}
	})
}
