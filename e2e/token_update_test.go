package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"
)

// TestTokenUpdateCard: V4 Token/Update through the real server, as Lyra's
// reference describes it ("update the payment method data associated with
// an existing alias"): it answers a formToken; the buyer's new card, posted
// to the hosted page as its script posts it, is verified (amount 0) and
// replaces the token's card under the same paymentMethodToken; the IPN
// carries the accepted VERIFICATION with the token and the new card. A
// refused card first leaves the token unchanged. Both engines.
func TestTokenUpdateCard(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { tokenUpdateCard(t, engine) })
	}
}

func tokenUpdateCard(t *testing.T, engine string) {
	s := startServer(t, serverOpts{engine: engine})
	merchant, ipns := krAnswerMerchant(t)
	yy := futureExpiry()[2:]

	env := s.v4(t, "Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "tu-create",
		"customer": map[string]any{"email": "buyer@example.com"}})
	ft, _ := answer(env)["formToken"].(string)
	if out := postCard(t, s, ft, "4970100000000055"); out["accepted"] != true {
		t.Fatalf("CreateToken form: %v", out)
	}
	created := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "tu-create"}))
	txs, _ := created["transactions"].([]any)
	if len(txs) != 1 {
		t.Fatalf("Order/Get tu-create: %v", created)
	}
	tok, _ := txs[0].(map[string]any)["paymentMethodToken"].(string)
	if tok == "" {
		t.Fatalf("no token: %v", txs[0])
	}

	env = s.v4(t, "Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR", "orderId": "tu-update",
		"customer": map[string]any{"email": "buyer@example.com"}, "ipnTargetUrl": merchant.URL + "/ipn"})
	a := answer(env)
	ft, _ = a["formToken"].(string)
	if env["status"] != "SUCCESS" || ft == "" || a["_type"] != "V4/Charge/PaymentForm" {
		t.Fatalf("Token/Update: %v", env)
	}
	details := func() map[string]any {
		got := answer(s.v4(t, "Token/Get", map[string]any{"paymentMethodToken": tok}))
		d, _ := got["tokenDetails"].(map[string]any)
		return d
	}

	var out map[string]any
	postCardForm(t, s, ft+"?kr-language=en", url.Values{"pan": {"4970109900000008"}, "expiry": {"12/" + yy}, "csc": {"123"}}, &out)
	if out["accepted"] == true {
		t.Fatalf("refused card accepted: %v", out)
	}
	if d := details(); d["pan"] != "497010XXXXXX0055" || d["expiryMonth"] != float64(12) {
		t.Fatalf("token after a refused card: %v", d)
	}

	out = nil
	postCardForm(t, s, ft+"?kr-language=en", url.Values{"pan": {"5100010000002045"}, "expiry": {"11/" + yy}, "csc": {"123"}}, &out)
	if out["accepted"] != true {
		t.Fatalf("new card: %v", out)
	}
	wantYear := float64(2000 + atoi(t, yy))
	if d := details(); d["pan"] != "510001XXXXXX2045" || d["expiryMonth"] != float64(11) || d["expiryYear"] != wantYear ||
		d["effectiveBrand"] != "MASTERCARD" {
		t.Fatalf("token after the update: %v", d)
	}

	// The IPN of the update: the accepted verification with the token and
	// the new card.
	deadline := time.After(15 * time.Second)
	for {
		select {
		case raw := <-ipns:
			var p struct {
				Transactions []struct {
					OperationType      string `json:"operationType"`
					DetailedStatus     string `json:"detailedStatus"`
					PaymentMethodToken string `json:"paymentMethodToken"`
					TransactionDetails struct {
						CardDetails struct {
							PAN string `json:"pan"`
						} `json:"cardDetails"`
					} `json:"transactionDetails"`
				} `json:"transactions"`
			}
			if err := json.Unmarshal([]byte(raw), &p); err != nil {
				t.Fatalf("IPN kr-answer: %v", err)
			}
			for _, tx := range p.Transactions {
				if tx.DetailedStatus == "ACCEPTED" && tx.OperationType == "VERIFICATION" && tx.PaymentMethodToken == tok &&
					tx.TransactionDetails.CardDetails.PAN == "510001XXXXXX2045" {
					return
				}
			}
		case <-deadline:
			t.Fatal("no IPN with the accepted verification of the update")
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTokenUpdateCancelledToken: the merchant cancels the token (Token/
// Cancel) while its Token/Update form is open; the buyer then submits a
// card. Through the real server: the buyer reads, in the form's language,
// that the link is not valid (no "card registered"); the order is UNPAID
// with its VERIFICATION REFUSED, errorCode PSP_031 (Lyra's code for a
// cancelled token), in Order/Get and in the IPN; the token stays cancelled
// with its old card. Both engines.
func TestTokenUpdateCancelledToken(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { tokenUpdateCancelled(t, engine) })
	}
}

func tokenUpdateCancelled(t *testing.T, engine string) {
	s := startServer(t, serverOpts{engine: engine})
	merchant, ipns := krAnswerMerchant(t)
	yy := futureExpiry()[2:]

	ft, _ := answer(s.v4(t, "Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "tc-create"}))["formToken"].(string)
	if out := postCard(t, s, ft, "4970100000000055"); out["accepted"] != true {
		t.Fatalf("CreateToken form: %v", out)
	}
	txs, _ := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "tc-create"}))["transactions"].([]any)
	if len(txs) != 1 {
		t.Fatalf("Order/Get tc-create: %v", txs)
	}
	tok, _ := txs[0].(map[string]any)["paymentMethodToken"].(string)

	ft, _ = answer(s.v4(t, "Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR", "orderId": "tc-update",
		"ipnTargetUrl": merchant.URL + "/ipn"}))["formToken"].(string)
	if ft == "" {
		t.Fatal("Token/Update gave no formToken")
	}
	if env := s.v4(t, "Token/Cancel", map[string]any{"paymentMethodToken": tok}); env["status"] != "SUCCESS" {
		t.Fatalf("Token/Cancel: %v", env)
	}

	var out map[string]any
	postCardForm(t, s, ft+"?kr-language=fr", url.Values{"pan": {"5100010000002045"}, "expiry": {"11/" + yy}, "csc": {"123"}}, &out)
	if out["accepted"] == true || out["step"] != "done" || out["message"] != "Ce lien de paiement n’est pas valide. Retournez sur la boutique pour recommencer." {
		t.Fatalf("buyer's answer: %v", out)
	}
	refused := func(tx map[string]any) bool {
		return tx["operationType"] == "VERIFICATION" && tx["detailedStatus"] == "REFUSED" && tx["errorCode"] == "PSP_031" &&
			tx["paymentMethodToken"] == nil
	}
	order := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "tc-update"}))
	txs, _ = order["transactions"].([]any)
	if len(txs) != 1 || !refused(txs[0].(map[string]any)) {
		t.Fatalf("Order/Get tc-update: %v", order)
	}
	got := answer(s.v4(t, "Token/Get", map[string]any{"paymentMethodToken": tok}))
	if d, _ := got["tokenDetails"].(map[string]any); got["status"] != "CANCELLED" || d["pan"] != "497010XXXXXX0055" {
		t.Fatalf("token after the update: %v", got)
	}

	deadline := time.After(15 * time.Second)
	for {
		select {
		case raw := <-ipns:
			var p map[string]any
			if err := json.Unmarshal([]byte(raw), &p); err != nil {
				t.Fatalf("IPN kr-answer: %v", err)
			}
			txs, _ := p["transactions"].([]any)
			if p["orderStatus"] == "UNPAID" && len(txs) == 1 && refused(txs[0].(map[string]any)) {
				return
			}
			t.Fatalf("IPN of the update: %s", raw)
		case <-deadline:
			t.Fatal("no IPN of the refused update")
		}
	}
}
