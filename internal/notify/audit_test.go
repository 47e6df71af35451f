package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	stdhtml "html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/outbox"
)

// TestAuditEveryMessage renders every email and SMS of every event in every
// language through Compose and a real SMTP server on loopback, and checks
// what a recipient sees: language, placeholders, amounts by currency
// exponent, MIME structure and headers, accessible HTML, masked card, SMS
// length.
func TestAuditEveryMessage(t *testing.T) {
	srv := startSMTP(t, false)
	sender := smtpSender(t, srv, notify.SMTPStartTLS)
	email, err := notify.NewEmailDeliverer(notify.EmailOptions{From: "OpenPSP <no-reply@psp.example>", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	r := notify.NewRenderer(nil, quiet())
	// 1234.5 in the currency's major unit, written for each language.
	amounts := map[string]map[string]string{
		"EUR": {"en": "€1,234.50", "fr": "1\u202f234,50\u00a0€", "es": "1234,50\u00a0€", "it": "1234,50\u00a0€", "de": "1.234,50\u00a0€"},
	}
	// The event's time (SampleContent: 2030-03-04 10:30 UTC), in UTC, said
	// so: a shop that set no time zone.
	dates := map[string]string{"en": "March 4, 2030 at 10:30 UTC", "fr": "4 mars 2030 à 10:30 UTC",
		"es": "4 de marzo de 2030, 10:30 UTC", "it": "4 marzo 2030 alle 10:30 UTC", "de": "4. März 2030 um 10:30 UTC"}
	minor := map[string]int64{"EUR": 123450, "JPY": 1234, "KWD": 1234500}
	decimals := map[string]string{"EUR": `\d[,.]\d{2}\b`, "JPY": `\b1[.,\x{a0}\x{202f}]?234\b`, "KWD": `\d[,.]\d{3}\b`}
	english := regexp.MustCompile(`(?i)\b(the|your|order|payment|card|has been|was|hello|thank you|amount|refused|accepted)\b`)
	leftover := regexp.MustCompile(`\{\{|\}\}|%!|\{[a-z.]+\}|\b(pay|merchant|token|sms|label|status|month)\.[a-z.0-9]+\b`)
	type variant struct {
		name string
		tpl  string
		edit func(c *notify.Content)
		// dates, when set, replaces dates: the event's time as the
		// variant's shop time zone writes it; want are more texts the
		// message must show, by language.
		dates, want map[string]string
	}
	retry := time.Date(2030, 3, 9, 10, 30, 0, 0, time.UTC)
	// A shop in Paris: its times in Central European Time, in winter
	// (UTC+1) and in summer (UTC+2), named as each language names it: the
	// tz database's abbreviation in English, German's own (MEZ, MESZ), the
	// offset from UTC in French, Spanish and Italian, whose readers do not
	// write CET; a summer evening in UTC is already the next day there.
	paris := func(c *notify.Content) { c.TimeZone = "Europe/Paris" }
	parisWinter := map[string]string{"en": "March 4, 2030 at 11:30 CET", "fr": "4 mars 2030 à 11:30 UTC+1",
		"es": "4 de marzo de 2030, 11:30 UTC+1", "it": "4 marzo 2030 alle 11:30 UTC+1", "de": "4. März 2030 um 11:30 MEZ"}
	summer := time.Date(2030, 7, 4, 22, 45, 0, 0, time.UTC)
	parisSummer := map[string]string{"en": "July 5, 2030 at 00:45 CEST", "fr": "5 juillet 2030 à 00:45 UTC+2",
		"es": "5 de julio de 2030, 00:45 UTC+2", "it": "5 luglio 2030 alle 00:45 UTC+2", "de": "5. Juli 2030 um 00:45 MESZ"}
	atSummer := func(c *notify.Content) {
		paris(c)
		if c.Payment != nil {
			c.Payment.At = summer
		}
		if c.Token != nil {
			c.Token.At = summer
		}
		if c.Instalment != nil {
			c.Instalment.At = summer
		}
	}
	// A zone whose abbreviation is only its offset is written as one.
	dubai := map[string]string{"en": "March 4, 2030 at 14:30 UTC+4", "fr": "4 mars 2030 à 14:30 UTC+4",
		"es": "4 de marzo de 2030, 14:30 UTC+4", "it": "4 marzo 2030 alle 14:30 UTC+4", "de": "4. März 2030 um 14:30 UTC+4"}
	// Days: a debit made at 23:30 UTC on March 9 is made on March 10 in
	// Paris; an instalment due on March 4 (midnight UTC) is due on March 4
	// in every zone, not on the evening of March 3 in New York.
	lateDebit := time.Date(2030, 3, 9, 23, 30, 0, 0, time.UTC)
	march10 := map[string]string{"en": "March 10, 2030", "fr": "10 mars 2030", "es": "10 de marzo de 2030", "it": "10 marzo 2030", "de": "10. März 2030"}
	march4 := map[string]string{"en": "March 4, 2030", "fr": "4 mars 2030", "es": "4 de marzo de 2030", "it": "4 marzo 2030", "de": "4. März 2030"}
	// (Failed on March 6, at 10:30 UTC: before New York's summer time.)
	// EST is English: the other languages write the offset.
	newYork := map[string]string{"en": "March 6, 2030 at 05:30 EST", "fr": "6 mars 2030 à 05:30 UTC-5",
		"es": "6 de marzo de 2030, 05:30 UTC-5", "it": "6 marzo 2030 alle 05:30 UTC-5", "de": "6. März 2030 um 05:30 UTC-5"}
	failedOnMarch6InNewYork := func(c *notify.Content) {
		c.TimeZone, c.Instalment.At = "America/New_York", time.Date(2030, 3, 6, 10, 30, 0, 0, time.UTC)
	}
	var variants []variant
	for _, id := range []string{notify.TplPaymentAcceptedBuyer, notify.TplPaymentRefusedBuyer, notify.TplPaymentMerchant} {
		variants = append(variants, variant{name: id, tpl: id})
	}
	variants = append(variants,
		variant{name: "merchant refused", tpl: notify.TplPaymentMerchant, edit: func(c *notify.Content) { c.Payment.Accepted = false }},
		variant{name: "merchant error", tpl: notify.TplPaymentMerchant, edit: func(c *notify.Content) { c.Payment.Accepted, c.Payment.TechnicalError = false, true }},
		variant{name: "buyer error", tpl: notify.TplPaymentRefusedBuyer, edit: func(c *notify.Content) { c.Payment.TechnicalError, c.Payment.DebitAfterCheck = true, true }},
		variant{name: "instalment retry", tpl: notify.TplPaymentRefusedBuyer, edit: func(c *notify.Content) { c.Payment.RetryAt = &retry }},
		variant{name: "instalment failed", tpl: notify.TplPaymentRefusedBuyer, edit: func(c *notify.Content) { c.Payment.InstalmentFailed = true }},
		variant{name: "deferred", tpl: notify.TplPaymentAcceptedBuyer, edit: func(c *notify.Content) { c.Payment.DebitOn = &retry }},
		variant{name: "instalment merchant", tpl: notify.TplInstalmentMerchant},
		variant{name: "instalment cancelled", tpl: notify.TplInstalmentMerchant, edit: func(c *notify.Content) { c.Instalment.Reason = "cancelled" }},
		variant{name: "deferred paris", tpl: notify.TplPaymentAcceptedBuyer, edit: func(c *notify.Content) { paris(c); c.Payment.DebitOn = &lateDebit },
			dates: parisWinter, want: march10},
		variant{name: "instalment new york", tpl: notify.TplInstalmentMerchant, edit: failedOnMarch6InNewYork, dates: newYork, want: march4},
		variant{name: "merchant dubai", tpl: notify.TplPaymentMerchant, edit: func(c *notify.Content) { c.TimeZone = "Asia/Dubai" }, dates: dubai},
	)
	// The errors an instalment fails with before any payment, as
	// subscription records them (code and English detail, for the webhook
	// and the logs): the email says each in its own language.
	for _, e := range instalmentErrors {
		variants = append(variants, variant{name: "instalment " + e.code + " " + e.detail, tpl: notify.TplInstalmentMerchant,
			edit: func(c *notify.Content) { c.Instalment.ErrorCode, c.Instalment.ErrorDetail = e.code, e.detail }})
	}
	for _, id := range []string{notify.TplPaymentAcceptedBuyer, notify.TplPaymentRefusedBuyer, notify.TplPaymentMerchant, notify.TplInstalmentMerchant,
		notify.TplTokenBuyer, notify.TplTokenMerchant} {
		variants = append(variants,
			variant{name: id + " paris winter", tpl: id, edit: paris, dates: parisWinter},
			variant{name: id + " paris summer", tpl: id, edit: atSummer, dates: parisSummer})
	}
	for _, kind := range []string{"created", "updated", "cancelled"} {
		for _, id := range []string{notify.TplTokenBuyer, notify.TplTokenMerchant, notify.TplTokenSMSBuyer, notify.TplTokenSMSMerchant} {
			variants = append(variants, variant{name: id + " " + kind, tpl: id, edit: func(c *notify.Content) { c.Token.Kind = kind }})
		}
	}
	n := 0
	for _, v := range variants {
		for _, lang := range notify.Languages {
			for _, cur := range []string{"EUR", "JPY", "KWD"} {
				c := notify.SampleContent(v.tpl)
				c.Lang = lang
				c.Shop.Name = "Boulangerie Zoé"
				c.Shop.LogoURL = "https://shop.example.com/logo.png"
				// Values with no English word in them, so that only the wording is judged.
				if c.Token != nil {
					c.Token.CustomerReference = "C-7"
				}
				if c.Instalment != nil {
					c.Instalment.OrderID = "A-7"
				}
				if c.Payment != nil {
					c.Payment.OrderID = "CMD-42"
					c.Payment.Amount, c.Payment.Currency = minor[cur], cur
				} else if c.Instalment != nil {
					c.Instalment.Amount, c.Instalment.Currency = minor[cur], cur
				} else if cur != "EUR" {
					continue
				}
				if v.edit != nil {
					v.edit(&c)
				}
				name := fmt.Sprintf("%s/%s/%s", v.name, lang, cur)
				if strings.Contains(v.tpl, ".sms.") {
					s, err := r.SMS(context.Background(), c)
					if err != nil {
						t.Fatal(err)
					}
					septets, ok := notify.GSM7Length(s)
					if !ok || septets > 160 {
						t.Errorf("%s: SMS not one GSM 7-bit part (%d septets, gsm=%v): %q", name, septets, ok, s)
					}
					if lang != "en" && english.MatchString(s) {
						t.Errorf("%s: English in SMS %q", name, s)
					}
					if m := leftover.FindString(s); m != "" {
						t.Errorf("%s: leftover %q in SMS %q", name, m, s)
					}
					continue
				}
				payload, _ := json.Marshal(c)
				n++
				e, _, err := email.Compose(context.Background(), outbox.Delivery{Message: outbox.Message{ID: fmt.Sprintf("msg-%d", n), Target: "to@example.com",
					Payload: string(payload)}, CreatedAt: time.Date(2030, 3, 4, 10, 31, 0, 0, time.UTC)})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if _, err := sender.Send(context.Background(), e); err != nil {
					t.Fatalf("%s: send: %v", name, err)
				}
				msgs := srv.messages()
				m := msgs[len(msgs)-1]
				h := m.Message.Header
				for _, k := range []string{"Date", "Message-Id", "From", "Subject"} {
					if h.Get(k) == "" {
						t.Errorf("%s: no %s header", name, k)
					}
				}
				for _, k := range []string{"Subject", "From"} {
					for _, ch := range h.Get(k) {
						if ch > 127 {
							t.Errorf("%s: %s header not RFC 2047 encoded: %q", name, k, h.Get(k))
							break
						}
					}
				}
				subject := decodeHeader(t, h.Get("Subject"))
				mt, ps := parts(t, m)
				if mt != "multipart/alternative" || ps["text/plain"] == "" || ps["text/html"] == "" {
					t.Fatalf("%s: %s with parts %v", name, mt, len(ps))
				}
				if !strings.Contains(strings.ToLower(string(m.Body)), "charset=utf-8") {
					t.Errorf("%s: parts without charset=UTF-8", name)
				}
				text, html := ps["text/plain"], ps["text/html"]
				all := subject + "\n" + text + "\n" + html
				if !strings.Contains(html, `<html lang="`+lang+`"`) {
					t.Errorf("%s: no lang attribute", name)
				}
				for _, img := range regexp.MustCompile(`<img[^>]*>`).FindAllString(html, -1) {
					if !regexp.MustCompile(`alt="[^"]+"`).MatchString(img) {
						t.Errorf("%s: image without alt text: %s", name, img)
					}
				}
				for _, tb := range regexp.MustCompile(`<table[^>]*>`).FindAllString(html, -1) {
					if !strings.Contains(tb, `role="presentation"`) {
						t.Errorf("%s: layout table without role=presentation: %s", name, tb)
					}
				}
				if strings.Contains(all, "497010") || strings.Contains(all, "XXXXXX") || regexp.MustCompile(`(?i)cvv|cvc`).MatchString(all) {
					t.Errorf("%s: card data beyond the masked form", name)
				}
				if m := leftover.FindString(all); m != "" {
					t.Errorf("%s: leftover %q", name, m)
				}
				if regexp.MustCompile(`(?m)^[^:\n]{0,3}:\s*$`).MatchString(text) {
					t.Errorf("%s: empty label in text:\n%s", name, text)
				}
				if lang != "en" {
					// Words of the message itself, not values (names, ids).
					plain := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(subject+"\n"+text+"\n"+html, " ")
					if m := english.FindString(plain); m != "" {
						t.Errorf("%s: English %q in:\n%s\n%s", name, m, subject, text)
					}
				}
				if want := amounts[cur][lang]; want != "" && (c.Payment != nil || c.Instalment != nil) && cur == "EUR" && v.tpl != notify.TplInstalmentMerchant {
					if !strings.Contains(text, want) || !strings.Contains(html, want) {
						t.Errorf("%s: amount %q not in:\n%s", name, want, text)
					}
				}
				if c.Payment != nil || c.Instalment != nil {
					if !regexp.MustCompile(decimals[cur]).MatchString(text) {
						t.Errorf("%s: amount without %s's decimals in:\n%s", name, cur, text)
					}
				}
				if in := c.Instalment; in != nil && in.ErrorDetail != "" && strings.Contains(all, in.ErrorDetail) {
					t.Errorf("%s: the stored (English) error detail %q in:\n%s", name, in.ErrorDetail, text)
				}
				if in := c.Instalment; in != nil && in.ErrorCode != "" && in.Reason == "" && !strings.Contains(text, in.ErrorCode) {
					t.Errorf("%s: the error code %s, which support asks for, not in:\n%s", name, in.ErrorCode, text)
				}
				want := dates[lang]
				if v.dates != nil {
					want = v.dates[lang]
				}
				// As a mail client shows the HTML: html/template writes the
				// + of "UTC+4" as &#43;.
				shown := stdhtml.UnescapeString(html)
				if !strings.Contains(text, want) || !strings.Contains(shown, want) {
					t.Errorf("%s: date %q not in:\n%s", name, want, text)
				}
				if w := v.want[lang]; w != "" && (!strings.Contains(text, w) || !strings.Contains(shown, w)) {
					t.Errorf("%s: %q not in:\n%s", name, w, text)
				}
			}
		}
	}
}

// instalmentErrors are the code and detail of each way subscription fails
// an instalment before any payment (subscription.charge: the token cannot
// pay, the shop no longer allows it, or technical failures).
var instalmentErrors = []struct{ code, detail string }{
	{"PSP_031", "the token is cancelled"},
	{"PSP_031", "the card of this token has expired"},
	{"PSP_031", "the token holds a bank account (SEPA direct debit), not a card"},
	{"PSP_030", "token not found"},
	{"PSP_036", "paymentMethodToken purged"},
	{"PSP_001", "unauthorized action"},
	{"INT_999", "internal error"},
	{"ACQ_999", "acquirer unavailable, payment not performed"},
	{"PSP_999", "some error this version does not know"},
}
