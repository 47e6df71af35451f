package subscription

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/outbox"
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

// An instalment that fails before any payment (here its token was
// cancelled) has no payment and so no IPN: the merchant hears of it by a
// signed webhook to the notification URL and an email, queued in the
// transaction that marks the instalment FAILED.
func TestInstalmentFailedBeforePaymentTellsTheMerchant(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.PrimaryEmail = "merchant@example.com"
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		tok := e.token(cardOK)
		sub := e.create(CreateInput{Amount: 990, PaymentMethodToken: tok, OrderID: "sub-1001", RRule: "FREQ=MONTHLY;COUNT=2"})
		if _, err := e.vault.Cancel(e.ctx(), e.shop.ID, "TEST", tok); err != nil {
			t.Fatal(err)
		}
		e.run(0)
		is := e.instalments(sub)
		if len(is) != 1 || is[0].Status != store.InstalmentFailed {
			t.Fatalf("instalments %+v, want one FAILED", is)
		}
		wantNoticeReason(t, db, sub, "") // a charge that could not be made
		rows, err := db.Reader().Query(`SELECT channel, target, ordering_key, payload FROM outbox WHERE event = $1
			ORDER BY channel`, notify.EventInstalmentFailed)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]outbox.Message{}
		for rows.Next() {
			var m outbox.Message
			if err := rows.Scan(&m.Channel, &m.Target, &m.OrderingKey, &m.Payload); err != nil {
				t.Fatal(err)
			}
			got[m.Channel] = m
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("%d messages for the failed instalment (%v), want a webhook and an email", len(got), got)
		}
		w := got[outbox.ChannelWebhook]
		var body struct {
			Type string `json:"type"`
			Data struct {
				SubscriptionID     string `json:"subscriptionId"`
				PaymentMethodToken string `json:"paymentMethodToken"`
				OrderID            string `json:"orderId"`
				Instalment         struct {
					Sequence  int    `json:"sequence"`
					DueDate   string `json:"dueDate"`
					Amount    int64  `json:"amount"`
					ErrorCode string `json:"errorCode"`
				} `json:"instalment"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(w.Payload), &body); err != nil {
			t.Fatal(err)
		}
		d := body.Data
		if w.Target != e.shop.NotificationURL || body.Type != notify.EventInstalmentFailed || d.SubscriptionID != sub.ID ||
			d.PaymentMethodToken != tok || d.OrderID != "sub-1001" || d.Instalment.Sequence != 1 ||
			d.Instalment.DueDate != "2030-03-10" || d.Instalment.Amount != 990 || d.Instalment.ErrorCode != "PSP_031" {
			t.Errorf("webhook to %s: %s", w.Target, w.Payload)
		}
		m := got[outbox.ChannelEmail]
		var c notify.Content
		if err := json.Unmarshal([]byte(m.Payload), &c); err != nil {
			t.Fatal(err)
		}
		if m.Target != "merchant@example.com" || c.Template != notify.TplInstalmentMerchant || c.Instalment == nil ||
			c.Instalment.SubscriptionID != sub.ID || c.Instalment.ErrorCode != "PSP_031" {
			t.Errorf("email to %s: %s", m.Target, m.Payload)
		}
	})
}
