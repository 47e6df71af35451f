package payment

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/jsonstr"
)

// jsonstr.Marshal writes what json.Marshal writes, byte for byte, for the
// payment's own types: its stored customer and options and the IPN's
// kr-answer (signed as is) are made with it.
func TestJSONStringIsMarshal(t *testing.T) {
	hostile := "<b>&amp;</b> \u2028\u2029 \"quoted\" \\ \x00\x1f caf\u00e9 \xff\xfe"
	p := samplePayment()
	p.Customer.Reference = &hostile
	p.Customer.BillingDetails.FirstName = &hostile
	p.Options.IPNTarget = "https://shop.example/ipn?a=1&b=<2>"
	p.Transactions[0].Metadata = map[string]string{"b": hostile, "a": "1", "<k>": "&"}
	values := []any{p.Customer, p.Options, p.Transactions[0].Metadata, Object(p, time.Unix(1e9, 0)),
		Customer{}, Options{}, map[string]string(nil)}
	for i, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := jsonstr.Marshal(v)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if got != string(want) {
			t.Errorf("%d: jsonstr.Marshal\n%s\nwant\n%s", i, got, want)
		}
	}
	a, err := Answer(p, time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := answerString(p, time.Unix(1e9, 0)); err != nil || s != string(a) {
		t.Errorf("answerString %q, %v; want Answer's %q", s, err, a)
	}
}

// BenchmarkSettleRecords is the encoding a settlement does before its
// write: the transaction's record, the payment's state record and the
// IPN's payload.
func BenchmarkSettleRecords(b *testing.B) {
	p := samplePayment()
	hostile := "Jane"
	p.Customer.BillingDetails.FirstName = &hostile
	p.Options.IPNTarget = "https://shop.example/ipn"
	s := &Service{}
	now := time.Unix(1e9, 0)
	b.ReportAllocs()
	for b.Loop() {
		t := p.Transactions[0]
		_, _ = t.record(), p.stateRecord()
		payload, err := answerString(p, now)
		if err != nil {
			b.Fatal(err)
		}
		_ = s.ipnMessage(&p, eventAccepted, payload)
	}
}
