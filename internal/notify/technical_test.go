package notify_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/shop"
)

// A technical error (the acquirer could not be reached) is not a refusal:
// the merchant's notice says so, and that nothing was charged, in every
// language, instead of "Payment refused".
func TestMerchantNoticeOfATechnicalError(t *testing.T) {
	r := notify.NewRenderer(nil, nil)
	refused := map[string]string{"en": "refused", "fr": "refusé", "es": "rechazado", "it": "rifiutato", "de": "abgelehnt"}
	for _, lang := range notify.Languages {
		s := testShop()
		s.Language = lang
		s.Settings.Notifications.MerchantPaymentNotice = true
		f := notify.PaymentFacts{PaymentID: "pay-1", OrderID: "order-1", TransactionID: "tx-1", Mode: shop.ModeTest,
			Amount: 1250, Currency: "EUR", Brand: "VISA", PANMasked: "497010XXXXXX0065", At: t0, TechnicalError: true}
		e, err := notify.PaymentMessages(t0, s, f, "", "")
		if err != nil || len(e.Messages) != 1 {
			t.Fatalf("%s: %v %v", lang, e, err)
		}
		var c notify.Content
		if err := json.Unmarshal([]byte(e.Messages[0].Payload), &c); err != nil {
			t.Fatal(err)
		}
		out, err := r.Email(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		ref := notify.SampleContent(notify.TplPaymentMerchant)
		ref.Lang, ref.Payment.Accepted = lang, false
		ko, err := r.Email(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(out.Subject), refused[lang]) || strings.Contains(out.Text, firstLine(ko.Text)) {
			t.Errorf("%s: the notice of a technical error reads as a refusal:\n%s\n%s", lang, out.Subject, out.Text)
		}
	}
}

func firstLine(s string) string {
	s = strings.TrimPrefix(s, strings.SplitN(s, "\n", 2)[0]+"\n") // the TEST line
	return strings.TrimSpace(strings.SplitN(strings.TrimSpace(s), "\n", 2)[0])
}

// A refused subscription instalment tells the buyer when it is tried
// again, or that it has failed, in every language: never the "try again
// with another card" of a payment the buyer makes.
func TestInstalmentRefusalWording(t *testing.T) {
	r := notify.NewRenderer(nil, nil)
	retry := map[string]string{"en": "March 5, 2030", "fr": "5 mars 2030", "es": "5 de marzo de 2030", "it": "5 marzo 2030", "de": "5. März 2030"}
	for _, lang := range notify.Languages {
		ko := notify.SampleContent(notify.TplPaymentRefusedBuyer)
		ko.Lang = lang
		plain, err := r.Email(context.Background(), ko)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2030, 3, 5, 9, 0, 0, 0, time.UTC)
		for _, v := range []func(p *notify.PaymentView){
			func(p *notify.PaymentView) { p.RetryAt = &at },
			func(p *notify.PaymentView) { p.InstalmentFailed = true },
		} {
			c := notify.SampleContent(notify.TplPaymentRefusedBuyer)
			c.Lang = lang
			v(c.Payment)
			out, err := r.Email(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			// The text is heading, greeting, intro, then "try again with
			// another card".
			lines := strings.Split(plain.Text, "\n")
			var next string
			for i, l := range lines {
				if strings.Contains(l, "Zoë Martin") && i+3 < len(lines) {
					next = lines[i+3]
				}
			}
			if next == "" || out.Subject == plain.Subject || strings.Contains(out.Text, next) {
				t.Errorf("%s: an instalment's refusal reads as a buyer's own:\n%s\n%s", lang, out.Subject, out.Text)
			}
			if c.Payment.RetryAt != nil && !strings.Contains(out.Text, retry[lang]) {
				t.Errorf("%s: the retry date %q is not in:\n%s", lang, retry[lang], out.Text)
			}
		}
	}
}

// A deferred payment (its card only checked, the debit made on its capture
// date) tells the buyer the date the card will be debited, in every
// language: "Date" alone is the day the card was checked, not debited.
func TestDeferredDebitDate(t *testing.T) {
	r := notify.NewRenderer(nil, nil)
	debit := map[string]string{"en": "March 5, 2030", "fr": "5 mars 2030", "es": "5 de marzo de 2030", "it": "5 marzo 2030", "de": "5. März 2030"}
	on := time.Date(2030, 3, 5, 9, 0, 0, 0, time.UTC)
	for _, lang := range notify.Languages {
		c := notify.SampleContent(notify.TplPaymentAcceptedBuyer)
		c.Lang = lang
		plain, err := r.Email(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(plain.Text, debit[lang]) {
			t.Fatalf("%s: the sample already holds the date", lang)
		}
		c.Payment.DebitOn = &on
		out, err := r.Email(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.Text, debit[lang]) || !strings.Contains(out.HTML, debit[lang]) {
			t.Errorf("%s: the debit date %q is not in:\n%s", lang, debit[lang], out.Text)
		}
		// A day, not an instant: captures are made on a date, at no
		// time the buyer could rely on.
		if strings.Contains(out.Text, debit[lang]+" ") && strings.Contains(out.Text, "09:00") {
			t.Errorf("%s: the debit date carries a time of day:\n%s", lang, out.Text)
		}
	}
}

// A technical error at the authorization of a deferred debit whose card
// check was accepted (DebitAfterCheck) is told the buyer, who was told the
// order was accepted and cannot retry on the form: the refusal template's
// technical-error wording, in the buyer's language, never the "try again
// with another card" of a refusal. A technical error on the form still
// sends the buyer nothing, and a shop without order confirmations nothing
// either.
func TestDeferredDebitTechnicalErrorToTheBuyer(t *testing.T) {
	r := notify.NewRenderer(nil, nil)
	f := notify.PaymentFacts{PaymentID: "pay-1", OrderID: "order-1", TransactionID: "tx-1", Mode: shop.ModeTest,
		Amount: 1250, Currency: "EUR", Brand: "VISA", PANMasked: "497010XXXXXX0055", At: t0, TechnicalError: true}
	s := testShop()
	s.Settings.OrderConfirmationEmails = true
	buyerEmails := func(s shop.Shop, f notify.PaymentFacts, lang string) []notify.Content {
		t.Helper()
		e, err := notify.PaymentMessages(t0, s, f, "zoe@example.com", lang)
		if err != nil {
			t.Fatal(err)
		}
		var out []notify.Content
		for _, m := range e.Messages {
			if strings.HasSuffix(m.OrderingKey, "/buyer") {
				var c notify.Content
				if err := json.Unmarshal([]byte(m.Payload), &c); err != nil {
					t.Fatal(err)
				}
				out = append(out, c)
			}
		}
		return out
	}
	if got := buyerEmails(s, f, "fr"); len(got) != 0 {
		t.Fatalf("a technical error on the form sends the buyer %d emails", len(got))
	}
	f.DebitAfterCheck = true
	for _, lang := range notify.Languages {
		got := buyerEmails(s, f, lang)
		if len(got) != 1 || got[0].Lang != lang || got[0].Template != notify.TplPaymentRefusedBuyer {
			t.Fatalf("%s: buyer emails %+v", lang, got)
		}
		out, err := r.Email(context.Background(), got[0])
		if err != nil {
			t.Fatal(err)
		}
		ko := notify.SampleContent(notify.TplPaymentRefusedBuyer)
		ko.Lang = lang
		refused, err := r.Email(context.Background(), ko)
		if err != nil {
			t.Fatal(err)
		}
		// The refusal's text: heading, greeting, intro, "try again".
		lines := strings.Split(refused.Text, "\n")
		var next string
		for i, l := range lines {
			if strings.Contains(l, "Zoë Martin") && i+3 < len(lines) {
				next = lines[i+3]
			}
		}
		if next == "" || strings.Contains(out.Text, next) || strings.Contains(out.Text, firstLine(refused.Text)) ||
			strings.SplitN(out.Subject, ":", 2)[0] == strings.SplitN(refused.Subject, ":", 2)[0] {
			t.Errorf("%s: the debit not made reads as a refusal on the form:\n%s\n%s", lang, out.Subject, out.Text)
		}
		if !strings.Contains(out.Text, s.PrimaryEmail) || !strings.Contains(out.HTML, s.PrimaryEmail) {
			t.Errorf("%s: no shop contact in:\n%s", lang, out.Text)
		}
	}
	s.Settings.OrderConfirmationEmails = false
	if got := buyerEmails(s, f, "fr"); len(got) != 0 {
		t.Fatalf("a shop without order confirmations sends the buyer %d emails", len(got))
	}
}
