package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
)

// The hosted page against the real payment service: a refused card (the
// reason shown, an attempt used), then a 3-D Secure challenge approved by
// the buyer; the kr-answer records the challenge and the liability shift.
func TestHostedPageRefusalThenChallenge(t *testing.T) {
	s := startServer(t, serverOpts{})
	answers := make(chan url.Values, 2)
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		answers <- r.PostForm
		io.WriteString(w, "<!doctype html><title>ok</title><h1 id=back>back</h1>")
	}))
	defer merchant.Close()
	env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 2000, "currency": "EUR", "orderId": "hosted-flow-1",
		"customer": map[string]any{"email": "a@example.com", "billingDetails": map[string]any{"language": "es"}}})
	formToken, _ := answer(env)["formToken"].(string)
	ctx := browsertest.New(t)
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must(chromedp.Do(ctx,
		chromedp.Navigate(s.URL+"/pay/"+formToken+"?kr-post-url-success="+url.QueryEscape(merchant.URL+"/ok")+"&kr-post-url-refused="+url.QueryEscape(merchant.URL+"/ko")),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970109900000008"),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-form-error")),
	), "paying with a refused card")
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#kr-form-error")))
	must(err, "reading the refusal")
	attempts, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#kr-attempts")))
	must(err, "reading the attempts")
	if msg == "" || !strings.Contains(attempts, "2") {
		t.Fatalf("refusal %q, attempts %q", msg, attempts)
	}
	must(chromedp.Do(ctx,
		// The page keeps no card data after a refusal; empty what may remain.
		chromedp.SetValue(chromedp.CSS("#kr-pan"), ""),
		chromedp.SetValue(chromedp.CSS("#kr-expiry"), ""),
		chromedp.SetValue(chromedp.CSS("#kr-csc"), ""),
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970110000000021"),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-acs-approve")),
		chromedp.Click(chromedp.CSS("#kr-acs-approve")),
		chromedp.WaitVisible(chromedp.CSS("#back")),
	), "paying with a challenge card")
	browsertest.NoConsoleErrors(t, ctx)
	var got url.Values
	select {
	case got = <-answers:
	case <-time.After(10 * time.Second):
		t.Fatal("no browser return")
	}
	var p struct {
		OrderStatus  string `json:"orderStatus"`
		Transactions []struct {
			DetailedStatus                string `json:"detailedStatus"`
			EffectiveStrongAuthentication string `json:"effectiveStrongAuthentication"`
			TransactionDetails            struct {
				LiabilityShift string `json:"liabilityShift"`
				CardDetails    struct {
					ThreeDSResponse map[string]any `json:"threeDSResponse"`
				} `json:"cardDetails"`
			} `json:"transactionDetails"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal([]byte(got.Get("kr-answer")), &p); err != nil || p.OrderStatus != "PAID" {
		t.Fatalf("kr-answer: %v %s", err, got.Get("kr-answer"))
	}
	last := p.Transactions[len(p.Transactions)-1]
	if last.EffectiveStrongAuthentication != "ENABLED" || last.TransactionDetails.LiabilityShift != "YES" {
		t.Fatalf("3-D Secure outcome not recorded: %+v", last)
	}
	order := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "hosted-flow-1"}))
	txs, _ := order["transactions"].([]any)
	if len(txs) != 2 {
		t.Fatalf("Order/Get: want the refused attempt and the paid one, got %d: %v", len(txs), order)
	}
}
