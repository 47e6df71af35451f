package v4

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/version"
)

// The envelope's bytes are json.Marshal's, whatever the answer holds
// (written through a json.Encoder, whose newline must not reach the
// client: seen failing with envelopeBody writing it).
func TestEnvelopeBodyIsMarshal(t *testing.T) {
	clk := clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
	s := New(Options{Clock: clk})
	hostile := "<script>&amp;</script> \u2028\u2029 \"q\" \\ \n\x00 caf\u00e9 \xff"
	answers := []any{
		nil,
		map[string]any{"_type": "V4/Payment", "orderDetails": map[string]any{"orderId": hostile, "amount": 990}},
		ErrorAnswer{ErrorCode: "PSP_010", ErrorMessage: hostile, Type: "V4/WebService/WebServiceError"},
		[]string{hostile, "", "\n"},
	}
	for i, a := range answers {
		rec := httptest.NewRecorder()
		if got := s.writeEnvelope(rec, "Charge/CreatePayment", "SUCCESS", a); got != "SUCCESS" {
			t.Errorf("%d: status %s", i, got)
		}
		want, err := json.Marshal(envelope{WebService: "Charge/CreatePayment", Version: "V4",
			ApplicationVersion: version.Version, Status: "SUCCESS", Answer: a, ServerDate: payment.Date(clk.Now()),
			ApplicationProvider: "OPENPSP", Type: "V4/WebService/Response"})
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.Body.String(); got != string(want) {
			t.Errorf("%d: body\n%q\nwant\n%q", i, got, want)
		}
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" ||
			rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%d: %d %v", i, rec.Code, rec.Header())
		}
	}
}

// failingWriter is a client gone: every write fails.
type failingWriter struct {
	httptest.ResponseRecorder
	writes int
}

func (w *failingWriter) Write([]byte) (int, error) {
	w.writes++
	return 0, errors.New("connection reset by peer")
}

// A write that fails is not an answer that did not marshal: no second
// envelope, and the status is what was sent; an answer that does not
// marshal writes the ERROR envelope once.
func TestEnvelopeBodyWriteErrors(t *testing.T) {
	s := New(Options{Clock: clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))})
	w := &failingWriter{ResponseRecorder: *httptest.NewRecorder()}
	if got := s.writeEnvelope(w, "Charge/SDKTest", "SUCCESS", map[string]string{"a": "b"}); got != "SUCCESS" || w.writes != 1 {
		t.Errorf("status %s after %d writes, want SUCCESS after 1", got, w.writes)
	}
	w = &failingWriter{ResponseRecorder: *httptest.NewRecorder()}
	if got := s.writeEnvelope(w, "Charge/SDKTest", "SUCCESS", math.Inf(1)); got != "ERROR" || w.writes != 1 {
		t.Errorf("status %s after %d writes, want ERROR after 1", got, w.writes)
	}
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w discardWriter) WriteHeader(int)             {}

// BenchmarkWriteEnvelope is a SILENT payment's answer in its envelope.
func BenchmarkWriteEnvelope(b *testing.B) {
	s := New(Options{Clock: clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))})
	email, ref := "buyer@example.com", "customer-42"
	now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
	p := payment.Payment{ID: "p1", ShopID: "33148340", Mode: "TEST", OrderID: "bench-000001", Amount: 1990, Currency: "EUR",
		FormAction: "SILENT", OrderStatus: "PAID", OrderCycle: "CLOSED",
		Customer: payment.Customer{Email: &email, Reference: &ref},
		Transactions: []payment.Transaction{{UUID: "0193a0b1c2d3e4f5a6b7c8d9e0f1a2b3", ShopID: "33148340", PaymentID: "p1",
			Mode: "TEST", OperationType: "DEBIT", Amount: 1990, Currency: "EUR", Status: "PAID", DetailedStatus: "AUTHORISED",
			PaymentMethodSource: "TOKEN", Brand: "VISA", PANMasked: "497010XXXXXX0055", ExpiryMonth: 12, ExpiryYear: 2031,
			ExpectedCaptureAt: now, AuthNumber: "3fd0e3", AuthResult: "0", AuthAt: now, AuthAmount: 1990, CreatedAt: now}}}
	answer := payment.Object(p, now)
	w := discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		s.writeEnvelope(w, "Charge/CreatePayment", "SUCCESS", answer)
	}
}
