package notify_test

import (
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

var t0 = time.Date(2030, 11, 22, 17, 30, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testShop() shop.Shop {
	s := shop.Shop{
		ID: "12345678", Name: "Boulangerie Zoé", Currency: "EUR", Language: "de",
		PrimaryEmail: "contact@boulangerie.example", PrimaryPhone: "+33612345678",
		NotificationURL: "https://merchant.invalid/ipn", LogoURL: "https://boulangerie.example/logo.png",
	}
	s.Settings.OrderConfirmationEmails = true
	s.Settings.PrimaryColor = "#FFD700"
	return s
}

func write(t *testing.T, db *store.DB, fn func(tx *sql.Tx) error) {
	t.Helper()
	if err := db.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func smtpSender(t *testing.T, srv *smtpServer, security string) *notify.SMTPSender {
	t.Helper()
	s, err := notify.NewSMTPSender(notify.SMTPConfig{Host: "127.0.0.1", Port: srv.Port, Username: "mailer", Password: "s3cret pass",
		Security: security, TLS: &tls.Config{RootCAs: srv.RootCA, ServerName: "localhost"}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A payment accepted in TEST mode reaches a real SMTP server (STARTTLS,
// AUTH) as an order confirmation in the buyer's language and a notice to
// the merchant in the shop's language, both multipart/alternative.
func TestConfirmationEmailOverSMTP(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		srv := startSMTP(t, false)
		s := testShop()
		s.Settings.Notifications.MerchantPaymentNotice = true
		// A shop in Paris: the emails write 17:30 UTC as 18:30 UTC+1 in
		// French and 18:30 MEZ in German (zoneLabel), while
		// the Date header stays the UTC instant (checked below).
		s.Settings.TimeZone = "Europe/Paris"

		var enq notify.Enqueued
		write(t, db, func(tx *sql.Tx) error {
			var err error
			enq, err = notify.PaymentEvent(tx, t0, s, notify.PaymentFacts{
				PaymentID: "pay-42", OrderID: "CMD-42", TransactionID: "0123456789abcdef0123456789abcdef", Mode: "TEST",
				Accepted: true, Amount: 123450, Currency: "EUR", Brand: "VISA", PANMasked: "497010XXXXXX0055", At: t0,
				BuyerName: "Zoë Martin", ShopURL: "https://boulangerie.example/", DetailsURL: "https://psp.example/backoffice/payments/pay-42",
			}, "zoe@example.com", "fr-FR")
			return err
		})
		if len(enq.Messages) != 2 || len(enq.Skipped) != 0 {
			t.Fatalf("enqueued %+v", enq)
		}
		email, err := notify.NewEmailDeliverer(notify.EmailOptions{From: "OpenPSP <no-reply@psp.example>", Sender: smtpSender(t, srv, notify.SMTPStartTLS),
			Clock: clock.NewFake(t0), Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{outbox.ChannelEmail: email}, outbox.Options{Clock: clock.NewFake(t0), Logger: quiet()})
		if n, err := d.RunOnce(ctx); err != nil || n != 2 {
			t.Fatalf("delivered %d, %v", n, err)
		}
		msgs := srv.messages()
		if len(msgs) != 2 {
			t.Fatalf("server received %d messages", len(msgs))
		}
		var buyer, merchant received
		for _, m := range msgs {
			if !m.TLS || m.AuthAs != "mailer" {
				t.Fatalf("message sent without TLS or AUTH: tls=%v auth=%q", m.TLS, m.AuthAs)
			}
			if m.From != "no-reply@psp.example" {
				t.Fatalf("envelope sender %q", m.From)
			}
			switch m.To[0] {
			case "zoe@example.com":
				buyer = m
			case "contact@boulangerie.example":
				merchant = m
			default:
				t.Fatalf("unexpected recipient %v", m.To)
			}
		}

		// The buyer's confirmation, in French.
		h := buyer.Message.Header
		if got := decodeHeader(t, h.Get("Subject")); got != "[TEST] Paiement confirmé\u00a0: commande CMD-42 chez Boulangerie Zoé" {
			t.Errorf("Subject = %q", got)
		}
		from, err := mail.ParseAddress(decodeHeader(t, h.Get("From")))
		if err != nil || from.Name != "Boulangerie Zoé" || from.Address != "no-reply@psp.example" {
			t.Errorf("From = %q (%v)", h.Get("From"), err)
		}
		if h.Get("To") != "<zoe@example.com>" && h.Get("To") != "zoe@example.com" {
			t.Errorf("To = %q", h.Get("To"))
		}
		if h.Get("Reply-To") != "<contact@boulangerie.example>" && h.Get("Reply-To") != "contact@boulangerie.example" {
			t.Errorf("Reply-To = %q", h.Get("Reply-To"))
		}
		buyerID := enq.Messages[0].ID
		if h.Get("Message-Id") != "<"+buyerID+"@psp.example>" || h.Get("X-Openpsp-Event-Id") != buyerID || h.Get("X-Openpsp-Event") != "payment.accepted" {
			t.Errorf("Message-ID %q, event id %q, event %q", h.Get("Message-Id"), h.Get("X-Openpsp-Event-Id"), h.Get("X-Openpsp-Event"))
		}
		if h.Get("Content-Language") != "fr" || h.Get("Auto-Submitted") != "auto-generated" || h.Get("Mime-Version") != "1.0" {
			t.Errorf("Content-Language %q, Auto-Submitted %q, MIME-Version %q", h.Get("Content-Language"), h.Get("Auto-Submitted"), h.Get("Mime-Version"))
		}
		if date, err := h.Date(); err != nil || !date.Equal(t0) || !strings.HasSuffix(h.Get("Date"), " +0000") {
			t.Errorf("Date = %q (%v, %v), want the UTC instant", h.Get("Date"), date, err)
		}
		mt, ps := parts(t, buyer)
		if mt != "multipart/alternative" || ps["text/plain"] == "" || ps["text/html"] == "" || len(ps) != 2 {
			t.Fatalf("MIME structure %s with %d parts", mt, len(ps))
		}
		text, html := ps["text/plain"], ps["text/html"]
		for _, want := range []string{"Merci pour votre paiement", "Bonjour Zoë Martin,", "1\u202f234,50\u00a0€", "Boulangerie Zoé",
			"CMD-42", "Visa •••• 0055", "22 novembre 2030 à 18:30 UTC+1", "https://boulangerie.example/", "contact@boulangerie.example", "Mode TEST"} {
			if !strings.Contains(text, want) {
				t.Errorf("text part lacks %q:\n%s", want, text)
			}
		}
		for _, want := range []string{`<html lang="fr">`, `href="https://boulangerie.example/"`, `href="mailto:contact@boulangerie.example"`,
			`src="https://boulangerie.example/logo.png"`, `alt="Boulangerie Zoé"`, "background-color:#ffd700", "color:#111827",
			"1\u202f234,50\u00a0€", "Aller sur Boulangerie Zoé", "Merci pour votre paiement"} {
			if !strings.Contains(html, want) {
				t.Errorf("HTML part lacks %q", want)
			}
		}
		if strings.Contains(text+html, "4970100000000055") || strings.Contains(text+html, "497010XXXXXX0055") {
			t.Error("the email shows more than the last four digits")
		}

		// The merchant's notice, in the shop's language (German).
		mh := merchant.Message.Header
		if got := decodeHeader(t, mh.Get("Subject")); got != "[TEST] Zahlung angenommen: 1.234,50\u00a0€, Bestellung CMD-42" {
			t.Errorf("merchant Subject = %q", got)
		}
		if mf, _ := mail.ParseAddress(decodeHeader(t, mh.Get("From"))); mf == nil || mf.Name != "OpenPSP" || mh.Get("Reply-To") != "" {
			t.Errorf("merchant From %q Reply-To %q", mh.Get("From"), mh.Get("Reply-To"))
		}
		_, mps := parts(t, merchant)
		for _, want := range []string{"Zahlung angenommen", "zoe@example.com", "https://psp.example/backoffice/payments/pay-42", "22. November 2030 um 18:30 MEZ"} {
			if !strings.Contains(mps["text/plain"], want) {
				t.Errorf("merchant text lacks %q:\n%s", want, mps["text/plain"])
			}
		}
		if !strings.Contains(mps["text/html"], `href="https://psp.example/backoffice/payments/pay-42"`) {
			t.Error("merchant HTML lacks the details link")
		}
		// Delivery log: one SMTP 250 per message.
		log, _ := db.OutboxAttempts(ctx, buyerID)
		if len(log) != 1 || log[0].StatusCode != 250 || log[0].Error != "" {
			t.Errorf("attempt log = %+v", log)
		}
	})
}

// smtps:// (implicit TLS) works too, and a recipient the server refuses
// for good is not retried.
func TestSMTPImplicitTLSAndPermanentRefusal(t *testing.T) {
	srv := startSMTP(t, true)
	s := smtpSender(t, srv, notify.SMTPImplicitTLS)
	e := notify.Email{ID: "id-1", From: mail.Address{Name: "Shop", Address: "no-reply@psp.example"}, To: "buyer@example.com",
		Subject: "Grüße", Text: "hello", HTML: "<p>hello</p>", Lang: "de", Date: t0}
	out, err := s.Send(context.Background(), e)
	if err != nil || out.StatusCode != 250 {
		t.Fatalf("send: %+v %v", out, err)
	}
	if m := srv.messages(); len(m) != 1 || !m[0].TLS || decodeHeader(t, m[0].Message.Header.Get("Subject")) != "Grüße" {
		t.Fatalf("received %+v", m)
	}
	e.To = "nobody@example.com"
	out, err = s.Send(context.Background(), e)
	if err == nil || !isPermanent(err) || out.StatusCode != 550 {
		t.Fatalf("refused recipient: %+v, %v (permanent=%v)", out, err, isPermanent(err))
	}
	// Wrong password: retried (the operator fixes the configuration).
	bad, _ := notify.NewSMTPSender(notify.SMTPConfig{Host: "127.0.0.1", Port: srv.Port, Username: "mailer", Password: "wrong",
		Security: notify.SMTPImplicitTLS, TLS: &tls.Config{RootCAs: srv.RootCA, ServerName: "localhost"}})
	if _, err := bad.Send(context.Background(), e); err == nil || isPermanent(err) {
		t.Fatalf("bad credentials: %v", err)
	}
}

func isPermanent(err error) bool { return errors.Is(err, outbox.ErrPermanent) }

func TestParseSMTPURL(t *testing.T) {
	c, err := notify.ParseSMTPURL("smtp://user%40example.com:p%40ss@mail.example.com")
	if err != nil || c.Host != "mail.example.com" || c.Port != 587 || c.Username != "user@example.com" || c.Password != "p@ss" || c.Security != notify.SMTPStartTLS {
		t.Fatalf("%+v %v", c, err)
	}
	c, err = notify.ParseSMTPURL("smtps://mail.example.com")
	if err != nil || c.Port != 465 || c.Security != notify.SMTPImplicitTLS {
		t.Fatalf("%+v %v", c, err)
	}
	c, err = notify.ParseSMTPURL("smtp://127.0.0.1:1025?starttls=none&timeout=5s&helo=psp.example")
	if err != nil || c.Port != 1025 || c.Security != notify.SMTPPlain || c.Timeout != 5*time.Second || c.HELO != "psp.example" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{"http://x", "smtp://", "smtps://x?starttls=none", "smtp://x?starttls=maybe", "smtp://x:0", "smtp://x?timeout=soon"} {
		if _, err := notify.ParseSMTPURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// sink records what the SMS gateway and webhook endpoint receive.
type sink struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
	code int
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	s.body = append(s.body, string(b))
	if s.code != 0 {
		w.WriteHeader(s.code)
	}
	io.WriteString(w, `{"status":"queued"}`)
}

func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return m
}

func jsonMarshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
