package wallet_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// rawAnswer posts a V4 web service with the demo shop's TEST key and
// returns the envelope's answer exactly as written (field order kept).
func (e *env) rawAnswer(name string, body any) json.RawMessage {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api-payment/V4/"+name, bytes.NewReader(b))
	req.SetBasicAuth(shopID, password)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var env struct {
		Status string          `json:"status"`
		Answer json.RawMessage `json:"answer"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Status != "SUCCESS" {
		e.t.Fatalf("%s: %v: %s", name, err, raw)
	}
	return env.Answer
}

// TestTokenDetailsGolden pins Token/Get's tokenDetails of a card token byte
// for byte (field order of the public Token/Get example, nulls included),
// so that sharing the V4 authorization response object with the payment
// answers cannot change what merchants parse.
func TestTokenDetailsGolden(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ans := e.post(e.formToken(walletPayment(1000, "o-1", "cust-1")), "", newCard(cardOK, true)).answer(t)
		tok, _ := get(ans, "transactions.paymentMethodToken").(string)
		if tok == "" {
			t.Fatalf("no card saved: %v", ans)
		}
		var a struct {
			TokenDetails json.RawMessage `json:"tokenDetails"`
		}
		if err := json.Unmarshal(e.rawAnswer("Token/Get", map[string]any{"paymentMethodToken": tok}), &a); err != nil {
			t.Fatal(err)
		}
		num, _ := get(ans, "transactions.transactionDetails.cardDetails.authorizationResponse.authorizationNumber").(string)
		if num == "" {
			t.Fatalf("no authorization number in the payment: %v", ans)
		}
		want := strings.ReplaceAll(`{"authorizationResponse":{"amount":null,"currency":null,`+
			`"authorizationDate":"2030-03-10T09:00:00+00:00","authorizationNumber":"NUM","authorizationResult":null,`+
			`"authorizationMode":null,"_type":"V4/PaymentMethod/Details/Cards/CardAuthorizationResponse"},`+
			`"paymentSource":null,"pan":"497010XXXXXX0055","expiryMonth":12,"expiryYear":2032,"effectiveBrand":"CB",`+
			`"issuerCode":null,"issuerName":null,"effectiveProductCode":null,"country":null,"mid":null,"_type":"V4/TokenDetails"}`,
			"NUM", num)
		if string(a.TokenDetails) != want {
			t.Errorf("tokenDetails\n got %s\nwant %s", a.TokenDetails, want)
		}
	})
}
