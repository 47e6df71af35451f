package notify_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// demoMailbox returns a GET of the demo mailbox of db, which must answer
// 200: the page's body.
func demoMailbox(t *testing.T, db *store.DB) func(path string) string {
	h := notify.DemoHandler(db, notify.DemoOptions{Shops: db, Logger: quiet()})
	return func(path string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
}

// The demo mailbox writes when each message was sent in its shop's time
// zone, named as the English emails name it, as the message itself does:
// the list said "Received (UTC)" and 17:30 for an email that says 18:30
// CET. A message whose shop is gone is in UTC, said so; the JSON for
// scripts keeps the UTC instant.
func TestDemoMailboxTimesInTheShopsZone(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := testShop()
		s.Settings.TimeZone = "Europe/Paris"
		if err := db.InsertShop(ctx, s, nil, nil, t0); err != nil {
			t.Fatal(err)
		}
		for _, m := range []store.DemoMessage{
			{OutboxID: "o-paris", ShopID: s.ID, Channel: "email", Event: "payment.accepted", Mode: "TEST", Recipient: "zoe@example.com",
				Subject: "[TEST] Paiement confirmé", Text: "…", CreatedAt: t0},
			{OutboxID: "o-gone", ShopID: "99999999", Channel: "sms", Event: "token.created", Mode: "TEST", Recipient: "+33600000000",
				Text: "[TEST] token created", CreatedAt: t0},
		} {
			if err := db.KeepDemoMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		get := demoMailbox(t, db)
		list := get("/demo/mail")
		for _, want := range []string{"><span>2030-11-22</span> <span>18:30:00\u00a0CET</span></time>", "<span>2030-11-22</span> <span>17:30:00\u00a0UTC</span></time>", `<th scope="col">Received</th>`} {
			if !strings.Contains(list, want) {
				t.Errorf("list lacks %q:\n%s", want, list)
			}
		}
		if strings.Contains(list, "(UTC)") {
			t.Errorf("list labels every time UTC:\n%s", list)
		}
		msgs, err := db.DemoMessages(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			want := map[string]string{"o-paris": ">2030-11-22 18:30:00\u00a0CET</time>", "o-gone": ">2030-11-22 17:30:00\u00a0UTC</time>"}[m.OutboxID]
			if view := get("/demo/mail/" + m.ID); !strings.Contains(view, want) {
				t.Errorf("%s: view lacks %q:\n%s", m.OutboxID, want, view)
			}
		}
		if js := get("/demo/mail?format=json"); strings.Count(js, `"createdAt":"2030-11-22T17:30:00.000000Z"`) != 2 {
			t.Errorf("json times are not the UTC instant: %s", js)
		}
	})
}

// A kept message's time is written in the zone the message itself wrote
// its times in: the shop's zone when the event happened, which its
// content keeps. The mailbox wrote it in the shop's zone of today: after
// the shop moved from Paris to New York, an email that tells the buyer
// "18:30 CET" was listed as sent at 12:30 EST, an hour the buyer never
// saw. Emails and SMS alike.
func TestDemoMailboxTimesInTheZoneTheMessageWasSentIn(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := testShop()
		s.Language = "en"
		s.Settings.TimeZone = "Europe/Paris"
		s.Settings.Notifications.TokenSMSMerchant = true
		if err := db.InsertShop(ctx, s, nil, nil, t0); err != nil {
			t.Fatal(err)
		}
		write(t, db, func(tx *sql.Tx) error {
			if _, err := notify.PaymentEvent(tx, t0, s, notify.PaymentFacts{PaymentID: "pay-42", OrderID: "CMD-42", Mode: "TEST",
				Accepted: true, Amount: 1250, Currency: "EUR", Brand: "VISA", PANMasked: "497010XXXXXX0055", At: t0}, "zoe@example.com", "en"); err != nil {
				return err
			}
			_, err := notify.TokenEvent(tx, t0, s, notify.TokenCreated, tokenFacts(), notify.Buyer{})
			return err
		})
		clk := clock.NewFake(t0)
		email, err := notify.NewEmailDeliverer(notify.EmailOptions{Demo: db, Clock: clk, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{outbox.ChannelEmail: email,
			outbox.ChannelSMS: notify.NewSMSDeliverer(notify.SMSOptions{Demo: db, From: "OpenPSP", Clock: clk, Logger: quiet()})},
			outbox.Options{Clock: clk, Logger: quiet()})
		if n, err := d.RunOnce(ctx); err != nil || n != 2 {
			t.Fatalf("delivered %d, %v", n, err)
		}
		kept, err := db.DemoMessages(ctx, 10)
		if err != nil || len(kept) != 2 {
			t.Fatalf("kept %d messages, %v", len(kept), err)
		}
		for _, m := range kept {
			if m.Channel == outbox.ChannelEmail && !strings.Contains(m.Text, "18:30 CET") {
				t.Fatalf("the email does not write its time in Paris:\n%s", m.Text)
			}
		}

		s.Settings.TimeZone = "America/New_York"
		if err := db.UpdateShop(ctx, s, t0); err != nil {
			t.Fatal(err)
		}
		get := demoMailbox(t, db)
		if list := get("/demo/mail"); strings.Count(list, "<span>2030-11-22</span> <span>18:30:00\u00a0CET</span>") != 2 || strings.Contains(list, "\u00a0EST") {
			t.Errorf("the list does not write both times as the messages did (18:30 CET):\n%s", list)
		}
		for _, m := range kept {
			if view := get("/demo/mail/" + m.ID); !strings.Contains(view, ">2030-11-22 18:30:00\u00a0CET</time>") {
				t.Errorf("%s: the view does not write the time as the message did (18:30 CET):\n%s", m.Channel, view)
			}
		}
	})
}
