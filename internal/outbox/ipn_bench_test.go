package outbox_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/payment"
)

// benchAnswer is the kr-answer of a SILENT token payment as the payment
// service writes it (payment.Answer), about the size the bench's IPNs have.
func benchAnswer(b *testing.B) string {
	b.Helper()
	at := time.Date(2030, 11, 22, 17, 30, 0, 0, time.UTC)
	email, ref := "zoe@example.com", "cust-0042"
	p := payment.Payment{ID: "0196a1b2c3d47e5f8a9b0c1d2e3f4a5b", ShopID: "69876357", Mode: "TEST", OrderID: "bench-000042",
		Amount: 1250, Currency: "EUR", FormAction: "SILENT", OrderStatus: "PAID", OrderCycle: "CLOSED", CreatedAt: at, UpdatedAt: at,
		Customer: payment.Customer{Email: &email, Reference: &ref}}
	p.Transactions = []payment.Transaction{{UUID: "0123456789abcdef0123456789abcdef", ShopID: p.ShopID, PaymentID: p.ID, Mode: "TEST",
		OrderID: p.OrderID, OperationType: "DEBIT", Amount: 1250, Currency: "EUR", Status: "PAID", DetailedStatus: "AUTHORISED",
		Token: "b6e7d9a1c3f54e2a8d0c6b4a2e8f1d3c", PaymentMethodSource: "TOKEN", Brand: "VISA", PANMasked: "497010XXXXXX0055",
		ExpiryMonth: 12, ExpiryYear: 2031, CardHolderName: "Zoë Martin", AuthNumber: "123456", AuthResult: "0", AuthAt: at, AuthAmount: 1250,
		ExpectedCaptureAt: at, AuthExpiresAt: at.Add(7 * 24 * time.Hour), AcquirerRef: "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		SequenceNumber: 1, Metadata: map[string]string{"orderRef": "A&B=C d"}}}
	a, err := payment.Answer(p, at)
	if err != nil {
		b.Fatal(err)
	}
	return string(a)
}

// BenchmarkIPNDeliver is one IPN as the dispatcher hands it to the IPN
// deliverer: kr-answer read for its mode and type, signed, form-encoded and
// posted over loopback to a receiver that reads it all (the bench's
// receiver does the same); keep-alive connections, as under load.
func BenchmarkIPNDeliver(b *testing.B) {
	answer := benchAnswer(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "OK")
	}))
	defer srv.Close()
	signer := outbox.IPNSignerFunc(func(context.Context, string, string) (string, error) {
		return "testpassword_DEMOPRIVATEKEY23G4475zXZQ2UA5x7M", nil
	})
	d := outbox.NewIPNDeliverer(signer, outbox.HTTPOptions{})
	m := outbox.Delivery{Message: outbox.Message{ID: "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", ShopID: "69876357", Channel: outbox.ChannelIPN,
		Event: "payment.accepted", Target: srv.URL + "/ipn", Payload: answer}}
	ctx := context.Background()
	b.SetBytes(int64(len(answer)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Deliver(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}
