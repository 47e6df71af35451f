package notify_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

func targets(e notify.Enqueued) map[string]string {
	m := map[string]string{}
	for _, msg := range e.Messages {
		role := "url"
		if i := strings.LastIndex(msg.OrderingKey, "/"); i >= 0 {
			role = msg.OrderingKey[i+1:]
		}
		m[msg.Channel+"/"+role] = msg.Target
	}
	return m
}

func tokenFacts() notify.TokenFacts {
	return notify.TokenFacts{Token: "b6e7d9a1c3f54e2a8d0c6b4a2e8f1d3c", Mode: "TEST", Brand: "MASTERCARD", PANMasked: "545454XXXXXX5454",
		ExpiryMonth: 6, ExpiryYear: 2032, CustomerReference: "cust-001", OrderID: "o-7", At: t0}
}

// Each of the wallet document's five channels follows its own switch;
// merchant recipients default to the shop's primary email and phone and
// can be overridden; bad recipients are skipped, not fatal.
func TestEventSwitches(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		buyer := notify.Buyer{Email: "zoe@example.com", Phone: "+4915112345678", Language: "it", Name: "Zoë"}
		run := func(s shop.Shop, kind notify.TokenKind, f notify.TokenFacts, b notify.Buyer) notify.Enqueued {
			var e notify.Enqueued
			write(t, db, func(tx *sql.Tx) error {
				var err error
				e, err = notify.TokenEvent(tx, t0, s, kind, f, b)
				return err
			})
			return e
		}
		s := testShop()
		if e := run(s, notify.TokenCreated, tokenFacts(), buyer); len(e.Messages) != 0 {
			t.Fatalf("all switches off, got %v", targets(e))
		}
		n := &s.Settings.Notifications
		n.TokenURL, n.TokenEmailBuyer, n.TokenEmailMerchant, n.TokenSMSMerchant, n.TokenSMSBuyer = true, true, true, true, true
		e := run(s, notify.TokenCancelled, tokenFacts(), buyer)
		want := map[string]string{
			"webhook/url": "https://merchant.invalid/ipn", "email/buyer": "zoe@example.com", "email/merchant": "contact@boulangerie.example",
			"sms/merchant": "+33612345678", "sms/buyer": "+4915112345678",
		}
		got := targets(e)
		if len(got) != 5 || len(e.Skipped) != 0 {
			t.Fatalf("got %v skipped %v", got, e.Skipped)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s → %q, want %q", k, got[k], v)
			}
		}
		for _, m := range e.Messages {
			if m.Event != "token.cancelled" || m.ShopID != s.ID || !strings.HasPrefix(m.OrderingKey, "token:b6e7") {
				t.Errorf("message %+v", m)
			}
		}
		// Each switch alone.
		for _, one := range []struct {
			name string
			set  func(*shop.NotificationSettings)
			key  string
		}{
			{"url", func(n *shop.NotificationSettings) { n.TokenURL = true }, "webhook/url"},
			{"email buyer", func(n *shop.NotificationSettings) { n.TokenEmailBuyer = true }, "email/buyer"},
			{"email merchant", func(n *shop.NotificationSettings) { n.TokenEmailMerchant = true }, "email/merchant"},
			{"sms merchant", func(n *shop.NotificationSettings) { n.TokenSMSMerchant = true }, "sms/merchant"},
			{"sms buyer", func(n *shop.NotificationSettings) { n.TokenSMSBuyer = true }, "sms/buyer"},
		} {
			s := testShop()
			one.set(&s.Settings.Notifications)
			got := targets(run(s, notify.TokenUpdated, tokenFacts(), buyer))
			if len(got) != 1 || got[one.key] == "" {
				t.Errorf("%s alone: %v", one.name, got)
			}
		}
		// Overridden merchant recipients; a kr-answer turns the URL channel into an IPN.
		n.MerchantEmail, n.MerchantPhone = "ops@boulangerie.example", "+33700000000"
		f := tokenFacts()
		f.KRAnswer = `{"orderDetails":{"mode":"TEST"},"_type":"V4/Payment"}`
		got = targets(run(s, notify.TokenCreated, f, buyer))
		if got["email/merchant"] != "ops@boulangerie.example" || got["sms/merchant"] != "+33700000000" || got["ipn/url"] != "https://merchant.invalid/ipn" {
			t.Fatalf("overrides: %v", got)
		}
		// Bad recipients are skipped with a reason.
		s.PrimaryPhone, n.MerchantPhone, n.MerchantEmail, s.PrimaryEmail, s.NotificationURL = "0612345678", "", "", "", ""
		e = run(s, notify.TokenCreated, tokenFacts(), notify.Buyer{Email: "not an email", Phone: "+0123"})
		if len(e.Messages) != 0 || len(e.Skipped) != 5 {
			t.Fatalf("messages %v skipped %v", targets(e), e.Skipped)
		}
		write(t, db, func(tx *sql.Tx) error {
			_, err := notify.TokenEvent(tx, t0, s, "renamed", tokenFacts(), buyer)
			if err == nil {
				t.Error("unknown token event accepted")
			}
			return nil
		})

		// Payments: confirmation only when the shop enabled it, notice only when asked.
		pay := func(s shop.Shop, email string, accepted bool) notify.Enqueued {
			var e notify.Enqueued
			write(t, db, func(tx *sql.Tx) error {
				var err error
				e, err = notify.PaymentEvent(tx, t0, s, notify.PaymentFacts{PaymentID: "p1", Mode: "TEST", Accepted: accepted, Amount: 100, Currency: "EUR"}, email, "")
				return err
			})
			return e
		}
		s = testShop()
		s.Settings.OrderConfirmationEmails = false
		if e := pay(s, "zoe@example.com", true); len(e.Messages) != 0 {
			t.Fatalf("confirmations off: %v", targets(e))
		}
		s.Settings.OrderConfirmationEmails = true
		e = pay(s, "zoe@example.com", false)
		if len(e.Messages) != 1 || e.Messages[0].Event != "payment.refused" || !strings.Contains(e.Messages[0].Payload, `"template":"payment.refused.buyer"`) ||
			!strings.Contains(e.Messages[0].Payload, `"lang":"de"`) {
			t.Fatalf("refusal: %+v", e.Messages)
		}
		if e := pay(s, "", true); len(e.Messages) != 0 || len(e.Skipped) != 1 {
			t.Fatalf("no buyer email: %+v", e)
		}
		s.Settings.Notifications.MerchantPaymentNotice = true
		if got := targets(pay(s, "", true)); len(got) != 1 || got["email/merchant"] != "contact@boulangerie.example" {
			t.Fatalf("merchant notice: %v", got)
		}
	})
}

// With no SMTP server and no SMS gateway (a fresh machine), TEST-mode
// token notifications all arrive: the webhook at the merchant, emails and
// SMS on the demo page. A PRODUCTION email is never shown there.
func TestTokenEventsOnAFreshMachine(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(t0)
		hook := &sink{}
		srv := httptest.NewServer(hook)
		defer srv.Close()
		s := testShop()
		s.NotificationURL = srv.URL + "/hook"
		n := &s.Settings.Notifications
		n.TokenURL, n.TokenEmailBuyer, n.TokenEmailMerchant, n.TokenSMSMerchant, n.TokenSMSBuyer = true, true, true, true, true
		buyer := notify.Buyer{Email: "zoe@example.com", Phone: "+4915112345678", Language: "es"}
		write(t, db, func(tx *sql.Tx) error {
			_, err := notify.TokenEvent(tx, t0, s, notify.TokenCreated, tokenFacts(), buyer)
			return err
		})
		clk.Advance(time.Minute)
		write(t, db, func(tx *sql.Tx) error {
			_, err := notify.TokenEvent(tx, clk.Now(), s, notify.TokenCancelled, tokenFacts(), buyer)
			return err
		})

		email, err := notify.NewEmailDeliverer(notify.EmailOptions{Demo: db, Templates: db, Clock: clk, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{
			outbox.ChannelWebhook: outbox.NewWebhookDeliverer(outbox.WebhookSecretsFunc(func(context.Context, string) ([]string, error) {
				return []string{"whsec_1"}, nil
			}), clk, outbox.HTTPOptions{}),
			outbox.ChannelEmail: email,
			outbox.ChannelSMS:   notify.NewSMSDeliverer(notify.SMSOptions{Demo: db, Templates: db, From: "OpenPSP", Clock: clk, Logger: quiet()}),
		}, outbox.Options{Clock: clk, Logger: quiet()})
		total := 0
		for i := 0; i < 10 && total < 10; i++ {
			n, err := d.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			total += n
		}
		if total != 10 {
			t.Fatalf("delivered %d of 10", total)
		}
		// The webhook: created, then cancelled, signed.
		if len(hook.body) != 2 || !strings.Contains(hook.body[0], `"type":"token.created"`) || !strings.Contains(hook.body[1], `"type":"token.cancelled"`) {
			t.Fatalf("webhooks: %v", hook.body)
		}
		if err := outbox.VerifySignature(hook.reqs[0].Header.Get("OpenPSP-Signature"), []byte(hook.body[0]), []string{"whsec_1"}, time.Minute, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if d := jsonOf(t, hook.body[0])["data"].(map[string]any); d["paymentMethodToken"] != tokenFacts().Token || d["pan"] != "545454XXXXXX5454" {
			t.Fatalf("webhook data %v", d)
		}

		kept, err := db.DemoMessages(ctx, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(kept) != 8 {
			t.Fatalf("kept %d messages, want 4 emails and 4 SMS", len(kept))
		}
		if kept[0].CreatedAt.Before(kept[len(kept)-1].CreatedAt) {
			t.Fatal("not newest first")
		}
		var smsBuyer, mailBuyer store.DemoMessage
		for _, m := range kept {
			if m.Event == "token.cancelled" && m.Recipient == "+4915112345678" {
				smsBuyer = m
			}
			if m.Event == "token.created" && m.Recipient == "zoe@example.com" {
				mailBuyer = m
			}
		}
		if smsBuyer.Text != "[TEST] Boulangerie Zoé: su tarjeta Mastercard ****5454 ha sido eliminada de sus tarjetas guardadas." {
			t.Errorf("buyer SMS = %q", smsBuyer.Text)
		}
		if mailBuyer.Subject != "[TEST] Su tarjeta ha sido guardada en Boulangerie Zoé" || !strings.Contains(mailBuyer.HTML, `lang="es"`) ||
			mailBuyer.Headers["Reply-To"] != "contact@boulangerie.example" || !strings.Contains(mailBuyer.Sender, "Boulangerie") {
			t.Errorf("buyer email = %+v", mailBuyer)
		}

		// Redelivery keeps one copy.
		if err := db.KeepDemoMessage(ctx, store.DemoMessage{OutboxID: mailBuyer.OutboxID, Channel: "email", Text: "again", CreatedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		if again, _ := db.DemoMessages(ctx, 50); len(again) != 8 {
			t.Fatalf("redelivery duplicated the kept copy: %d", len(again))
		}

		// The page.
		h := notify.DemoHandler(db, notify.DemoOptions{Logger: quiet()})
		get := func(path string) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			return rec
		}
		list := get("/demo/mail")
		body := list.Body.String()
		if list.Code != 200 || !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "8 messages, newest first") ||
			!strings.Contains(body, `href="/demo/mail/`+mailBuyer.ID+`"`) || !strings.Contains(body, "No SMTP server or SMS gateway is configured") {
			t.Fatalf("list page %d:\n%s", list.Code, body)
		}
		if csp := list.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("CSP %q", csp)
		}
		if strings.Index(body, "token.cancelled") > strings.Index(body, "token.created") {
			t.Error("list not newest first")
		}
		view := get("/demo/mail/" + mailBuyer.ID)
		vb := view.Body.String()
		if view.Code != 200 || !strings.Contains(vb, `<iframe sandbox=""`) || !strings.Contains(vb, `srcdoc="&lt;!DOCTYPE html&gt;`) ||
			!strings.Contains(vb, "Su tarjeta ha sido guardada") || !strings.Contains(vb, "<pre>") {
			t.Fatalf("view page %d:\n%s", view.Code, vb)
		}
		if strings.Contains(vb, "<script") {
			t.Fatal("script on the page")
		}
		if get("/demo/mail/nope").Code != 404 || get("/demo/mail/a/b").Code != 404 {
			t.Fatal("unknown ids must be 404")
		}
		js := get("/demo/mail?format=json")
		if js.Code != 200 || !strings.Contains(js.Header().Get("Content-Type"), "json") || !strings.Contains(js.Body.String(), `"channel":"sms"`) {
			t.Fatalf("json: %d %s", js.Code, js.Body.String())
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/demo/mail", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("POST: %d", rec.Code)
		}

		// PRODUCTION without SMTP: not kept, retried.
		f := tokenFacts()
		f.Mode = "PRODUCTION"
		write(t, db, func(tx *sql.Tx) error {
			s := testShop()
			s.Settings.Notifications.TokenEmailBuyer = true
			_, err := notify.TokenEvent(tx, clk.Now(), s, notify.TokenUpdated, f, buyer)
			return err
		})
		if n, _ := d.RunOnce(ctx); n != 0 {
			t.Fatal("a PRODUCTION email was delivered without SMTP")
		}
		if again, _ := db.DemoMessages(ctx, 50); len(again) != 8 {
			t.Fatal("a PRODUCTION email reached the demo page")
		}
		es, _ := db.ListOutbox(ctx, outbox.Filter{Statuses: []string{"FAILED"}})
		if len(es) != 1 || !strings.Contains(es[0].LastError, "OPENPSP_SMTP_URL") {
			t.Fatalf("failing: %+v", es)
		}
	})
}

// The generic SMS gateway adapter: JSON or form, configurable field names,
// bearer or basic auth; 400 is permanent, 503 is retried.
func TestHTTPSMSGateway(t *testing.T) {
	gw := &sink{}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	fields, err := notify.ParseSMSFields("to=msisdn, text=message, from=sender, id=-")
	if err != nil {
		t.Fatal(err)
	}
	js, err := notify.NewHTTPSMS(notify.HTTPSMSConfig{URL: srv.URL + "/send", Token: "tok", From: "OpenPSP", Fields: fields,
		Extra: map[string]string{"route": "premium"}, Headers: map[string]string{"X-Account": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := js.SendSMS(context.Background(), notify.SMS{ID: "m1", To: "+33612345678", Text: "Zoë: carte ****0055"})
	if err != nil || out.StatusCode != 200 || out.Response != `{"status":"queued"}` {
		t.Fatalf("%+v %v", out, err)
	}
	r := gw.reqs[0]
	body := jsonOf(t, gw.body[0])
	if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("X-Account") != "42" || r.Header.Get("Content-Type") != "application/json" ||
		body["msisdn"] != "+33612345678" || body["message"] != "Zoë: carte ****0055" || body["sender"] != "OpenPSP" || body["route"] != "premium" ||
		len(body) != 4 || r.URL.Path != "/send" {
		t.Fatalf("JSON request: %v %v", r.Header, body)
	}

	form, err := notify.NewHTTPSMS(notify.HTTPSMSConfig{URL: strings.Replace(srv.URL, "http://", "http://acct:pw@", 1), Format: "form"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := form.SendSMS(context.Background(), notify.SMS{ID: "m2", To: "+33612345678", From: "Shop", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	r = gw.reqs[1]
	v, _ := url.ParseQuery(gw.body[1])
	user, pass, ok := r.BasicAuth()
	if !ok || user != "acct" || pass != "pw" || v.Get("to") != "+33612345678" || v.Get("text") != "hi" || v.Get("from") != "Shop" || v.Get("reference") != "m2" {
		t.Fatalf("form request: %v %v", r.Header, v)
	}

	gw.mu.Lock()
	gw.code = 400
	gw.mu.Unlock()
	if _, err := form.SendSMS(context.Background(), notify.SMS{To: "+33612345678", Text: "x"}); !isPermanent(err) {
		t.Fatalf("400: %v", err)
	}
	gw.mu.Lock()
	gw.code = 503
	gw.mu.Unlock()
	if out, err := form.SendSMS(context.Background(), notify.SMS{To: "+33612345678", Text: "x"}); err == nil || isPermanent(err) || out.StatusCode != 503 {
		t.Fatalf("503: %v", err)
	}

	// The deliverer refuses a non-E.164 number for good.
	d := notify.NewSMSDeliverer(notify.SMSOptions{Provider: js})
	c, _ := jsonMarshal(notify.SampleContent(notify.TplTokenSMSBuyer))
	_, err = d.Deliver(context.Background(), outbox.Delivery{Message: outbox.Message{ID: "x", Target: "0612345678", Payload: c}})
	if !isPermanent(err) {
		t.Fatalf("bad number: %v", err)
	}
	for _, bad := range []string{"ftp://x", "", "http://"} {
		if _, err := notify.NewHTTPSMS(notify.HTTPSMSConfig{URL: bad}); err == nil {
			t.Errorf("URL %q accepted", bad)
		}
	}
	if _, err := notify.ParseSMSFields("phone=x"); err == nil {
		t.Error("unknown field name accepted")
	}
}

func TestWiring(t *testing.T) {
	db := storetest.SQLite(t)
	ds, err := notify.Wiring{Demo: true}.Deliverers(db, clock.NewFake(t0), quiet())
	if err != nil || ds[outbox.ChannelEmail] == nil || ds[outbox.ChannelSMS] == nil {
		t.Fatalf("%v %v", ds, err)
	}
	if _, err := (notify.Wiring{SMTPURL: "smtps://u:p@mail.example.com", SMSURL: "https://sms.example.com/send", SMSFields: "to=msisdn"}).Deliverers(db, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []notify.Wiring{{SMTPURL: "http://x"}, {SMSURL: "ftp://x"}, {SMSURL: "https://x", SMSFields: "nope"}, {MailFrom: "not an address"}} {
		if _, err := bad.Deliverers(db, nil, nil); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// An instalment failed before any payment goes to the merchant whatever
// the switches: a webhook to the subscription's URL (else the shop's) and
// an email in the shop's language; missing recipients are skipped.
func TestInstalmentFailedTargets(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		run := func(s shop.Shop, f notify.InstalmentFacts) notify.Enqueued {
			var e notify.Enqueued
			write(t, db, func(tx *sql.Tx) error {
				var err error
				e, err = notify.InstalmentFailed(tx, t0, s, f)
				return err
			})
			return e
		}
		f := notify.InstalmentFacts{SubscriptionID: "sub-1", Token: "tok-1", Mode: "TEST", Sequence: 2, Amount: 990,
			Currency: "EUR", DueAt: t0, ErrorCode: "PSP_031", ErrorDetail: "the token is cancelled"}
		s := testShop()
		want := map[string]string{"webhook/url": s.NotificationURL, "email/merchant": s.PrimaryEmail}
		if got := targets(run(s, f)); !equalMaps(got, want) {
			t.Fatalf("targets %v, want %v", got, want)
		}
		f.NotificationURL = "https://merchant.invalid/subscriptions"
		want["webhook/url"] = f.NotificationURL
		if got := targets(run(s, f)); !equalMaps(got, want) {
			t.Fatalf("with ipnTargetUrl: targets %v, want %v", got, want)
		}
		f.NotificationURL, s.NotificationURL, s.PrimaryEmail = "", "", ""
		e := run(s, f)
		if len(e.Messages) != 0 || len(e.Skipped) != 2 {
			t.Fatalf("no URL nor email: %v, skipped %v", targets(e), e.Skipped)
		}
		f.Mode = ""
		write(t, db, func(tx *sql.Tx) error {
			if _, err := notify.InstalmentFailed(tx, t0, s, f); err == nil {
				t.Error("no mode: no error")
			}
			return nil
		})
	})
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Every event's email carries the shop's time zone as it was when the
// event happened (Content.TimeZone), so that its times are written there;
// a shop with none queues what it always did (no timeZone, UTC). The
// machine outputs keep UTC: the token webhook's and the instalment
// webhook's times and due date are the same whatever the zone.
func TestEventsCarryTheShopsTimeZone(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		for i, zone := range []string{"", "Europe/Paris"} {
			id := strconv.Itoa(i)
			s := testShop()
			s.Settings.TimeZone = zone
			s.Settings.Notifications.MerchantPaymentNotice = true
			n := &s.Settings.Notifications
			n.TokenURL, n.TokenEmailBuyer, n.TokenEmailMerchant = true, true, true
			var all notify.Enqueued
			write(t, db, func(tx *sql.Tx) error {
				p, err := notify.PaymentEvent(tx, t0, s, notify.PaymentFacts{PaymentID: "pay-" + id, Mode: "TEST", Accepted: true,
					Amount: 100, Currency: "EUR", At: t0}, "zoe@example.com", "fr")
				if err != nil {
					return err
				}
				tk, err := notify.TokenEvent(tx, t0, s, notify.TokenCreated, tokenFacts(), notify.Buyer{Email: "zoe@example.com"})
				if err != nil {
					return err
				}
				in, err := notify.InstalmentFailed(tx, t0, s, notify.InstalmentFacts{SubscriptionID: "sub-" + id, Token: "tok-1", Mode: "TEST",
					Sequence: 2, Amount: 990, Currency: "EUR", DueAt: time.Date(2030, 11, 22, 0, 0, 0, 0, time.UTC), Attempts: 1, ErrorDetail: "EXPIRED"})
				all.Messages = append(append(append(all.Messages, p.Messages...), tk.Messages...), in.Messages...)
				return err
			})
			emails := 0
			for _, m := range all.Messages {
				if m.Channel != outbox.ChannelEmail {
					// Wire formats: UTC, whatever the shop's zone.
					if !strings.Contains(m.Payload, `"2030-11-22T17:30:00`) || strings.Contains(m.Payload, "+01:00") || strings.Contains(m.Payload, "Europe/Paris") {
						t.Errorf("zone %q: %s payload: %s", zone, m.Channel, m.Payload)
					}
					continue
				}
				emails++
				var c notify.Content
				if err := json.Unmarshal([]byte(m.Payload), &c); err != nil {
					t.Fatal(err)
				}
				if c.TimeZone != zone || (zone == "" && strings.Contains(m.Payload, "timeZone")) {
					t.Errorf("%s email: time zone %q, want %q: %s", m.Event, c.TimeZone, zone, m.Payload)
				}
			}
			if emails != 5 {
				t.Errorf("zone %q: %d emails, want 5 (payment buyer and merchant, token buyer and merchant, instalment): %v", zone, emails, targets(all))
			}
		}
	})
}
