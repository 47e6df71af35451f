package notify

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
)

// benchMessages are the emails a payment queues under load: the buyer's
// confirmation and the merchant's notice, in each language, built by
// PaymentMessages as the payment service does (shop with a logo and a
// colour, buyer name, order and transaction ids, no shop override).
func benchMessages(b *testing.B) []outbox.Delivery {
	b.Helper()
	at := time.Date(2030, 11, 22, 17, 30, 0, 0, time.UTC)
	var out []outbox.Delivery
	for _, lang := range Languages {
		s := shop.Shop{ID: "12345678", Name: "Boulangerie Zoé", Currency: "EUR", Language: lang,
			PrimaryEmail: "contact@boulangerie.example", LogoURL: "https://boulangerie.example/logo.png"}
		s.Settings.OrderConfirmationEmails = true
		s.Settings.Notifications.MerchantPaymentNotice = true
		s.Settings.PrimaryColor = "#FFD700"
		enq, err := PaymentMessages(at, s, PaymentFacts{
			PaymentID: "0196a1b2c3d47e5f8a9b0c1d2e3f4a5b", OrderID: "CMD-2030-000042", TransactionID: "0123456789abcdef0123456789abcdef",
			Mode: shop.ModeTest, Accepted: true, Amount: 123450, Currency: "EUR", Brand: "VISA", PANMasked: "497010XXXXXX0055", At: at,
			BuyerName: "Zoë Martin",
		}, "zoe@example.com", lang)
		if err != nil || len(enq.Messages) != 2 {
			b.Fatalf("PaymentMessages: %v, %d messages", err, len(enq.Messages))
		}
		for i, m := range enq.Messages {
			m.ID = "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5" + string(rune('a'+i))
			out = append(out, outbox.Delivery{Message: m, CreatedAt: at})
		}
	}
	return out
}

// BenchmarkRenderEmail renders payment.accepted.buyer and payment.merchant
// in the five languages; one op is one email.
func BenchmarkRenderEmail(b *testing.B) {
	var contents []Content
	for _, m := range benchMessages(b) {
		var c Content
		if err := json.Unmarshal([]byte(m.Payload), &c); err != nil {
			b.Fatal(err)
		}
		contents = append(contents, c)
	}
	r := NewRenderer(nil, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := r.Email(ctx, contents[i%len(contents)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompose is BenchmarkRenderEmail from the outbox message, as the
// email deliverer sees it (JSON payload decoding included).
func BenchmarkCompose(b *testing.B) {
	ms := benchMessages(b)
	d, err := NewEmailDeliverer(EmailOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, err := d.Compose(ctx, ms[i%len(ms)]); err != nil {
			b.Fatal(err)
		}
	}
}
