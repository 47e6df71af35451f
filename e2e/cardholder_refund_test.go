package e2e

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The card holder's name typed on the hosted form comes back as
// cardDetails.cardHolderName wherever Lyra returns the transaction (the
// browser return's kr-answer, the IPN, Transaction/Get, Order/Get, the
// refund), never in the logs; a refund is answered AUTHORISED (PAID), as
// Lyra answers Transaction/CancelOrRefund, and the capture job makes it
// CAPTURED; the debit then shows what was refunded. Both engines.
func TestCardHolderNameAndRefundLifecycle(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { cardHolderAndRefund(t, engine) })
	}
}

func cardHolderAndRefund(t *testing.T, engine string) {
	const holder = "Ada Lovelace-Byron"
	s := startServer(t, serverOpts{engine: engine})
	merchant, ipns := krAnswerMerchant(t)

	env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 1000, "currency": "EUR", "orderId": "holder-order-1",
		"ipnTargetUrl": merchant.URL + "/ipn"})
	formToken, _ := answer(env)["formToken"].(string)
	// The form posted as its script posts it; the name typed with extra
	// spaces, as a buyer may.
	form := url.Values{"pan": {"4970100000000055"}, "expiry": {"12/" + futureExpiry()[2:]}, "csc": {"123"},
		"holder": {"  Ada   Lovelace-Byron "}}
	var paid struct {
		Accepted bool `json:"accepted"`
		Return   *struct {
			Fields []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"fields"`
		} `json:"return"`
	}
	postCardForm(t, s, formToken+"?kr-language=en&kr-post-url-success="+url.QueryEscape(merchant.URL+"/paid"), form, &paid)
	if !paid.Accepted || paid.Return == nil {
		t.Fatalf("paying on the hosted form: %+v", paid)
	}
	krAnswer := ""
	for _, f := range paid.Return.Fields {
		if f.Name == "kr-answer" {
			krAnswer = f.Value
		}
	}
	var browser map[string]any
	if err := json.Unmarshal([]byte(krAnswer), &browser); err != nil {
		t.Fatalf("browser return kr-answer: %v %q", err, krAnswer)
	}
	debit := firstTransaction(t, browser)
	uuid, _ := debit["uuid"].(string)
	if got := cardDetail(debit, "cardHolderName"); got != holder {
		t.Fatalf("browser return cardHolderName %v, want %q", got, holder)
	}
	ipnHolder := func(what string) any {
		t.Helper()
		select {
		case a := <-ipns:
			var p map[string]any
			if err := json.Unmarshal([]byte(a), &p); err != nil {
				t.Fatalf("%s IPN: %v", what, err)
			}
			txs, _ := p["transactions"].([]any)
			last, _ := txs[len(txs)-1].(map[string]any)
			return cardDetail(last, "cardHolderName")
		case <-time.After(15 * time.Second):
			t.Fatalf("no %s IPN", what)
		}
		return nil
	}
	if got := ipnHolder("payment"); got != holder {
		t.Fatalf("IPN cardHolderName %v, want %q", got, holder)
	}
	if got := cardDetail(answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid})), "cardHolderName"); got != holder {
		t.Fatalf("Transaction/Get cardHolderName %v", got)
	}
	order := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "holder-order-1"}))
	if got := cardDetail(firstTransaction(t, order), "cardHolderName"); got != holder {
		t.Fatalf("Order/Get cardHolderName %v", got)
	}

	// The capture job captures the debit (captureDelay 0), then a refund.
	waitStatus(t, s, uuid, "CAPTURED")
	refund := s.v4(t, "Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 300, "currency": "EUR",
		"resolutionMode": "REFUND_ONLY"})
	ra := answer(refund)
	capture, _ := cardDetail(ra, "captureResponse").(map[string]any)
	if refund["status"] != "SUCCESS" || ra["operationType"] != "CREDIT" || ra["status"] != "PAID" ||
		ra["detailedStatus"] != "AUTHORISED" || ra["amount"] != 300.0 || capture == nil || capture["captureDate"] != nil ||
		cardDetail(ra, "expectedCaptureDate") != ra["creationDate"] || cardDetail(ra, "cardHolderName") != holder {
		t.Fatalf("refund answer: %v", refund)
	}
	if got := ipnHolder("refund"); got != holder {
		t.Fatalf("refund IPN cardHolderName %v", got)
	}
	refundUUID, _ := ra["uuid"].(string)
	captured := waitStatus(t, s, refundUUID, "CAPTURED")
	if capture, _ := cardDetail(captured, "captureResponse").(map[string]any); captured["status"] != "PAID" ||
		capture == nil || capture["captureDate"] == nil {
		t.Fatalf("captured refund: %v", captured)
	}
	d := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))
	if capture, _ := cardDetail(d, "captureResponse").(map[string]any); d["detailedStatus"] != "CAPTURED" ||
		capture["refundAmount"] != 300.0 || capture["refundCurrency"] != "EUR" {
		t.Fatalf("debit after its refund: %v", d)
	}
	if strings.Contains(s.Logs.String(), "Lovelace") {
		t.Fatal("the card holder's name is in the logs")
	}
}

// waitStatus polls Transaction/Get until the transaction has detailed
// status want (the capture job runs every 50 ms here) and returns it.
func waitStatus(t *testing.T, s *server, uuid, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))
		if got["detailedStatus"] == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("never %s: %v", want, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func firstTransaction(t *testing.T, p map[string]any) map[string]any {
	t.Helper()
	txs, _ := p["transactions"].([]any)
	if len(txs) == 0 {
		t.Fatalf("no transactions: %v", p)
	}
	tx, _ := txs[0].(map[string]any)
	return tx
}

// cardDetail is transactionDetails.cardDetails[name] of a transaction.
func cardDetail(tx map[string]any, name string) any {
	details, _ := tx["transactionDetails"].(map[string]any)
	cd, _ := details["cardDetails"].(map[string]any)
	return cd[name]
}
