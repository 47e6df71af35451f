package notify_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

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
