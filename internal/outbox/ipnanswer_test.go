package outbox

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// A kr-answer as payment.Answer writes it (cut down: every kind of value,
// nested "_type"s that are not the answer's, escapes in other strings).
const sampleAnswer = `{"shopId":"69876357","orderCycle":"CLOSED","orderStatus":"PAID","serverDate":"2030-11-22T17:30:00+00:00",` +
	`"orderDetails":{"orderTotalAmount":1250,"orderEffectiveAmount":1250,"orderCurrency":"EUR","mode":"TEST","orderId":"bench-42",` +
	`"metadata":null,"_type":"V4/OrderDetails"},"customer":{"billingDetails":{"address":null,"firstName":"Zo\u00eb","_type":"V4/Customer/BillingDetails"},` +
	`"email":"zoe@example.com","reference":"a\/b","shoppingCart":{"cartItemInfo":[],"_type":"V4/Customer/ShoppingCart"},"_type":"V4/Customer/Customer"},` +
	`"transactions":[{"amount":1250,"effectiveAmount":-0.5e+3,"ratio":1.25E-2,"zero":0,"manual":false,"ok":true,"uuid":"0123456789abcdef",` +
	`"metadata":{"orderRef":"A&B=C d \"q\" \\ \t"},"_type":"V4/PaymentTransaction"}],"_type":"V4/Payment"}`

// unmarshalIPNAnswer is what Deliver did before readIPNAnswer.
func unmarshalIPNAnswer(s string) (ipnAnswer, error) {
	var a ipnAnswer
	err := json.Unmarshal([]byte(s), &a)
	return a, err
}

// checkIPNAnswer fails when readIPNAnswer and Unmarshal disagree on s, or
// when the one-pass scan accepts what json.Valid does not.
func checkIPNAnswer(t *testing.T, s string) {
	t.Helper()
	want, wantErr := unmarshalIPNAnswer(s)
	got, err := readIPNAnswer(s)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() || got != want {
		t.Fatalf("%q:\nreadIPNAnswer %+v, %v\nUnmarshal     %+v, %v", s, got, err, want, wantErr)
	}
	if a, ok := scanIPNAnswer(s); ok && (!json.Valid([]byte(s)) || wantErr != nil || a != want) {
		t.Fatalf("%q: the scan took %+v, Unmarshal %+v, %v (valid JSON: %v)", s, a, want, wantErr, json.Valid([]byte(s)))
	}
}

var ipnAnswerCases = []string{
	sampleAnswer,
	`{"orderDetails":{"mode":"PRODUCTION"}}`,
	` {"_type" : "V4/Charge/ProcessPaymentAnswer" , "orderDetails" : { "mode" : "TEST" } } ` + "\n",
	`{"ORDERDETAILS":{"MODE":"TEST"},"_TYPE":"x"}`,
	`{"orderDetails":{"mode":"TEST"},"orderDetails":{"mode":"PRODUCTION"}}`,
	`{"orderDetails":{"mode":"TEST"},"orderDetails":null}`,
	`{"orderDetails":{"mode":"TEST"},"orderDetails":{"mode":null}}`,
	`{"orderDetails":{"mode":"TEST"},"_type":null}`,
	`{"orderDetails":{"mode":"TE\u0053T"}}`,
	`{"orderDetails":{"mod\u0065":"TEST"}}`,
	`{"orderDetails":{"mode":"TE` + "\xff" + `ST"}}`,
	`{"orderDetails":{"mode":5}}`,
	`{"orderDetails":"TEST"}`,
	`{"orderDetails":[]}`,
	`{"_type":{"a":1},"orderDetails":{"mode":"TEST"}}`,
	`{"orderDetails":{"mode":"TEST"}}x`,
	`{"orderDetails":{"mode":"TEST"}`,
	`{"orderDetails":{"mode":"TEST",}}`,
	`{"a":01,"orderDetails":{"mode":"TEST"}}`,
	`{"a":1.,"orderDetails":{"mode":"TEST"}}`,
	`{"a":-,"orderDetails":{"mode":"TEST"}}`,
	`{"a":1e,"orderDetails":{"mode":"TEST"}}`,
	`{"a":"` + "\x01" + `","orderDetails":{"mode":"TEST"}}`,
	`{"a":"\x","orderDetails":{"mode":"TEST"}}`,
	`{"a":"\u12G4","orderDetails":{"mode":"TEST"}}`,
	`{"a":tru,"orderDetails":{"mode":"TEST"}}`,
	`{"a":[1,[2,{}],],"orderDetails":{"mode":"TEST"}}`,
	`{"a":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `,"orderDetails":{"mode":"TEST"}}`,
	`[]`, `null`, `""`, ``, `{}`, `{"_type":"V4/Payment"}`,
}

func TestReadIPNAnswerIsUnmarshal(t *testing.T) {
	for _, s := range ipnAnswerCases {
		checkIPNAnswer(t, s)
	}
	// The fast path must be the one the payment service's answers take,
	// or this file is only slower.
	if a, ok := scanIPNAnswer(sampleAnswer); !ok || a.Type != "V4/Payment" || a.OrderDetails.Mode != "TEST" {
		t.Fatalf("sample answer: %+v, %v", a, ok)
	}
}

func FuzzReadIPNAnswer(f *testing.F) {
	for _, s := range ipnAnswerCases {
		f.Add(s)
	}
	f.Fuzz(checkIPNAnswer)
}

// ipnForm is url.Values.Encode of the IPN's fields, byte for byte.
func checkIPNForm(t *testing.T, hash, typ, answer string) {
	t.Helper()
	want := url.Values{"kr-hash": {hash}, "kr-hash-algorithm": {"sha256_hmac"}, "kr-hash-key": {"password"},
		"kr-answer-type": {typ}, "kr-answer": {answer}}.Encode()
	if got := ipnForm(hash, typ, answer); string(got) != want || cap(got) != len(got) {
		t.Fatalf("ipnForm:\n%q (cap %d)\nurl.Values.Encode:\n%q", got, cap(got), want)
	}
}

func TestIPNFormIsValuesEncode(t *testing.T) {
	var all []byte
	for c := range 256 {
		all = append(all, byte(c))
	}
	checkIPNForm(t, KRHash("k", sampleAnswer), "V4/Payment", sampleAnswer)
	checkIPNForm(t, "", "", "")
	checkIPNForm(t, string(all), "a b+c%d&e=f~g.h_i-j", "Zoë € "+string(all))
}

func FuzzIPNForm(f *testing.F) {
	f.Add("0f", "V4/Payment", sampleAnswer)
	f.Fuzz(checkIPNForm)
}

// The deliverer's reading of the answer and its form, against what it
// did before (Unmarshal, url.Values.Encode), on a whole kr-answer.
func BenchmarkIPNFields(b *testing.B) {
	b.Run("unmarshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = unmarshalIPNAnswer(sampleAnswer)
		}
	})
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			_, _ = readIPNAnswer(sampleAnswer)
		}
	})
	hash := KRHash("k", sampleAnswer)
	b.Run("values-encode", func(b *testing.B) {
		for b.Loop() {
			_ = []byte(url.Values{"kr-hash": {hash}, "kr-hash-algorithm": {"sha256_hmac"}, "kr-hash-key": {"password"},
				"kr-answer-type": {"V4/Payment"}, "kr-answer": {sampleAnswer}}.Encode())
		}
	})
	b.Run("form", func(b *testing.B) {
		for b.Loop() {
			_ = ipnForm(hash, "V4/Payment", sampleAnswer)
		}
	})
	if !reflect.DeepEqual(ipnForm(hash, "t", "a"), ipnForm(hash, "t", "a")) {
		b.Fatal("unstable")
	}
}
