package e2e

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/payment"
)

// A buyer who pays on the hosted page in French gets the order
// confirmation in French when the merchant sent no language: the page's
// language is recorded as customer.billingDetails.language (as Lyra's
// answers carry the form's language), where the email used to fall back
// to the shop's language. A merchant's own language is kept.
func TestBuyerEmailInThePageLanguage(t *testing.T) {
	mb := startMailbox(t)
	s := startServer(t, serverOpts{env: map[string]string{"OPENPSP_SMTP_URL": "smtp://" + mb.addr + "?starttls=none"}})
	pay := func(orderID, email, pageLang string, billing map[string]any) map[string]any {
		t.Helper()
		customer := map[string]any{"email": email}
		if billing != nil {
			customer["billingDetails"] = billing
		}
		env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 2450, "currency": "EUR", "orderId": orderID, "customer": customer})
		formToken, _ := answer(env)["formToken"].(string)
		req, _ := http.NewRequest("POST", s.URL+"/pay/"+formToken+"?kr-language="+pageLang,
			strings.NewReader(url.Values{"pan": {"4970100000000055"}, "expiry": {"12/" + futureExpiry()[2:]}, "csc": {"123"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Origin", s.URL)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		stored, err := s.Payments.PaymentForToken(context.Background(), formToken)
		if err != nil {
			t.Fatal(err)
		}
		b, err := payment.Answer(stored, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if p["orderStatus"] != "PAID" {
			t.Fatalf("%s: orderStatus %v", orderID, p["orderStatus"])
		}
		c, _ := p["customer"].(map[string]any)
		bd, _ := c["billingDetails"].(map[string]any)
		return bd
	}
	subjectTo := func(email string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			mb.mu.Lock()
			for _, m := range mb.msgs {
				if strings.Contains(m.Header.Get("To"), email) {
					mb.mu.Unlock()
					subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
					return subject
				}
			}
			mb.mu.Unlock()
			if time.Now().After(deadline) {
				t.Fatalf("no email to %s", email)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	if bd := pay("lang-1", "amelie@example.com", "fr", nil); bd["language"] != "FR" {
		t.Errorf("paid on a French page, billingDetails.language %v", bd["language"])
	}
	if s := subjectTo("amelie@example.com"); !strings.Contains(s, "Paiement confirmé") {
		t.Errorf("the confirmation of a payment made on a French page is not in French: %q", s)
	}
	// The merchant said Italian: the page may be German, Italian stays.
	if bd := pay("lang-2", "giulia@example.com", "de", map[string]any{"language": "it"}); bd["language"] != "IT" {
		t.Errorf("the merchant's billingDetails.language became %v", bd["language"])
	}
	if s := subjectTo("giulia@example.com"); !strings.Contains(s, "confermato") {
		t.Errorf("the merchant asked for Italian: %q", s)
	}
}
