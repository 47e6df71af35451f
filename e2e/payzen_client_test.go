package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/shop"
)

// A merchant integration written only from the public PayZen documentation,
// pointed at OpenPSP by its base URL: CreatePayment → hosted form → kr-answer
// check → Transaction/Get → refund. Every check here uses only the wire
// format: no OpenPSP package is consulted for the answers.
func TestPayZenDocumentationClient(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { payzenClientFlow(t, engine) })
	}
}

func payzenClientFlow(t *testing.T, engine string) {
	s := startServer(t, serverOpts{engine: engine})

	// The merchant's own site: a return URL and an IPN URL.
	returns := make(chan url.Values, 4)
	ipns := make(chan url.Values, 16)
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		switch r.URL.Path {
		case "/ipn":
			ipns <- r.PostForm
			io.WriteString(w, "OK")
		default:
			returns <- r.PostForm
			io.WriteString(w, "<!doctype html><title>Thanks</title><h1 id=thanks>Thank you</h1>")
		}
	}))
	defer merchant.Close()
	hmacHex := func(key, msg string) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(msg))
		return hex.EncodeToString(m.Sum(nil))
	}

	env := s.v4(t, "Charge/CreatePayment", map[string]any{
		"amount": 990, "currency": "EUR", "orderId": "doc-order-1",
		"customer":     map[string]any{"email": "sample@example.com"},
		"ipnTargetUrl": merchant.URL + "/ipn",
	})
	if env["status"] != "SUCCESS" || answer(env)["_type"] != "V4/Charge/PaymentForm" {
		t.Fatalf("CreatePayment: %v", env)
	}
	formToken, _ := answer(env)["formToken"].(string)

	ctx := browsertest.New(t)
	pay := s.URL + "/pay/" + formToken + "?kr-post-url-success=" + url.QueryEscape(merchant.URL+"/paid") +
		"&kr-post-url-refused=" + url.QueryEscape(merchant.URL+"/refused")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(pay),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970100000000055"),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#thanks")),
	); err != nil {
		t.Fatalf("paying on the hosted page: %v", err)
	}
	var ret url.Values
	select {
	case ret = <-returns:
	case <-time.After(10 * time.Second):
		t.Fatal("no browser return")
	}
	krAnswer := ret.Get("kr-answer")
	if ret.Get("kr-hash-algorithm") != "sha256_hmac" || ret.Get("kr-hash-key") != "sha256_hmac" ||
		!hmac.Equal([]byte(ret.Get("kr-hash")), []byte(hmacHex(shop.DemoTestHMACKey, krAnswer))) {
		t.Fatalf("browser return signature: %v", ret)
	}
	var payment struct {
		OrderStatus  string `json:"orderStatus"`
		Transactions []struct {
			UUID           string `json:"uuid"`
			DetailedStatus string `json:"detailedStatus"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal([]byte(krAnswer), &payment); err != nil || payment.OrderStatus != "PAID" || len(payment.Transactions) != 1 {
		t.Fatalf("kr-answer: %v %s", err, krAnswer)
	}
	uuid := payment.Transactions[0].UUID

	select {
	case ipn := <-ipns:
		if ipn.Get("kr-hash-key") != "password" || !hmac.Equal([]byte(ipn.Get("kr-hash")), []byte(hmacHex(shop.DemoTestPassword, ipn.Get("kr-answer")))) {
			t.Fatalf("IPN signature: %v", ipn)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no IPN")
	}
	// The IPN and the emails of the decision went to this copy's dispatcher
	// as they were committed, without a claim query.
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^openpsp_outbox_taken_total\{how="handed"\} [1-9]`).Match(metrics) {
		t.Fatalf("no message handed to the dispatcher at its commit:\n%s", metrics)
	}

	// The capture job captures it (captureDelay 0); then a partial refund.
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))
		if got["detailedStatus"] == "CAPTURED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never captured: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	refund := s.v4(t, "Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 300, "currency": "EUR", "comment": "one item returned"})
	ra := answer(refund)
	if refund["status"] != "SUCCESS" || ra["operationType"] != "CREDIT" || ra["amount"] != float64(300) {
		t.Fatalf("refund: %v", refund)
	}
	details, _ := ra["transactionDetails"].(map[string]any)
	if details["parentTransactionUuid"] != uuid {
		t.Fatalf("refund parent: %v", ra)
	}
	tooMuch := s.v4(t, "Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 800, "currency": "EUR"})
	if tooMuch["status"] != "ERROR" {
		t.Fatalf("refunding more than what is left must fail: %v", tooMuch)
	}
	order := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "doc-order-1"}))
	txs, _ := order["transactions"].([]any)
	if len(txs) != 2 {
		t.Fatalf("Order/Get lists %d transactions, want the debit and the refund: %v", len(txs), order)
	}
	if !strings.Contains(s.Logs.String(), `"request_id"`) {
		t.Fatal("no request ids in the logs")
	}
	assertNoClearCardData(t, "logs", []byte(s.Logs.String()))
}
