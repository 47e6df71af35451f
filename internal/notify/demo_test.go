package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

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
		h := notify.DemoHandler(db, notify.DemoOptions{Shops: db, Logger: quiet()})
		get := func(path string) string {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
			}
			return rec.Body.String()
		}
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
