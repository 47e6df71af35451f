package wallet_test

import (
	"slices"
	"testing"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// Lyra's V4 reference lists Token/Update as "Update the payment method data
// associated with an existing alias" and Token/UpdateCustomerDetails as
// "Update buyer data associated with an existing alias"
// (docs.lyra.com/en/rest/V4.0/api/reference.html); a public PayZen
// WordPress plugin calls V4/Token/Update with paymentMethodToken, currency,
// orderId and customer.email, as it calls Charge/CreateToken for its form.
// OpenPSP answered Token/Update with V4/Token and changed only the buyer's
// details. Token/Update now answers a formToken (V4/Charge/PaymentForm);
// the card the buyer enters on that form is verified (amount 0) and, once
// accepted, replaces the token's card under the same token value. A
// refused card leaves the token as it was.
func TestTokenUpdateReplacesCard(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		a := e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-1",
			"customer": map[string]any{"email": "buyer@example.com"}})
		ans := e.post(a["formToken"].(string), "", newCard(cardOK, false)).answer(t)
		tok, _ := get(ans, "transactions.paymentMethodToken").(string)
		if tok == "" {
			t.Fatalf("CreateToken: %v", ans)
		}

		a = e.ok("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR", "orderId": "upd-1",
			"customer": map[string]any{"email": "buyer@example.com"}})
		ft, _ := a["formToken"].(string)
		if ft == "" || a["_type"] != "V4/Charge/PaymentForm" {
			t.Fatalf("Token/Update answer %v, want a V4/Charge/PaymentForm with a formToken", a)
		}

		// A refused card: the token keeps its card.
		if r := e.post(ft, "", newCard(cardRefuse, false)); r.Accepted {
			t.Fatalf("refused card accepted: %+v", r)
		}
		got := e.ok("Token/Get", map[string]any{"paymentMethodToken": tok})
		if get(got, "tokenDetails.pan") != "497010XXXXXX0055" || get(got, "tokenDetails.expiryMonth") != float64(12) ||
			get(got, "tokenDetails.expiryYear") != float64(2032) || got["status"] != "ACTIVE" {
			t.Fatalf("token after a refused update %v", got)
		}

		// An accepted card replaces it, same token value.
		c := newCard(cardMC, false)
		c.Set("expiry", "11/31")
		ans = e.post(ft, "", c).answer(t)
		txs, _ := ans["transactions"].([]any)
		if len(txs) != 2 {
			t.Fatalf("kr-answer of the update: %d transactions, want the refused one and the accepted one: %v", len(txs), ans)
		}
		last := txs[1].(map[string]any)
		if get(last, "operationType") != "VERIFICATION" || get(last, "detailedStatus") != "ACCEPTED" ||
			get(last, "paymentMethodToken") != tok || get(last, "amount") != float64(0) ||
			get(last, "transactionDetails.cardDetails.pan") != "510001XXXXXX2045" ||
			get(last, "transactionDetails.cardDetails.expiryMonth") != float64(11) {
			t.Fatalf("kr-answer of the update (token %s) %v", tok, last)
		}
		got = e.ok("Token/Get", map[string]any{"paymentMethodToken": tok})
		if get(got, "tokenDetails.pan") != "510001XXXXXX2045" || get(got, "tokenDetails.expiryMonth") != float64(11) ||
			get(got, "tokenDetails.expiryYear") != float64(2031) || get(got, "tokenDetails.effectiveBrand") != "MASTERCARD" ||
			got["status"] != "ACTIVE" {
			t.Fatalf("token after the update %v", got)
		}
		if got := e.outbox(tok); !slices.Contains(got, "ipn token.updated https://merchant.example/ipn") {
			t.Fatalf("notifications of the update %v", got)
		}
		// The token pays with its new card.
		pay := e.ok("Charge/CreatePayment", map[string]any{"amount": 500, "currency": "EUR", "orderId": "after-upd",
			"formAction": "SILENT", "paymentMethodToken": tok})
		if pay["orderStatus"] != "PAID" || get(pay, "transactions.transactionDetails.cardDetails.pan") != "510001XXXXXX2045" {
			t.Fatalf("payment with the updated token %v", pay)
		}

		// Token/Update is the card's update: without currency it is refused
		// as Charge/CreateToken is; the buyer's details alone go to
		// Token/UpdateCustomerDetails.
		e.fails("Token/Update", map[string]any{"paymentMethodToken": tok, "customer": map[string]any{"email": "new@example.com"}}, "INT_902")
		e.fails("Token/Update", map[string]any{"paymentMethodToken": "0123456789abcdef0123456789abcdef", "currency": "EUR"}, "PSP_030")
		got = e.ok("Token/UpdateCustomerDetails", map[string]any{"paymentMethodToken": tok, "customer": map[string]any{"email": "new@example.com"}})
		if got["_type"] != "V4/Token" || get(got, "customer.email") != "new@example.com" || get(got, "tokenDetails.pan") != "510001XXXXXX2045" {
			t.Fatalf("Token/UpdateCustomerDetails %v", got)
		}

		// A token cancelled while its update form is open keeps its card and
		// stays cancelled (the update does not reactivate it); a cancelled
		// token gets no new form.
		ft = e.ok("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR"})["formToken"].(string)
		e.ok("Token/Cancel", map[string]any{"paymentMethodToken": tok})
		ans = e.post(ft, "", newCard(cardOK, false)).answer(t)
		if get(ans, "transactions.paymentMethodToken") != nil {
			t.Fatalf("update of a cancelled token gave a token: %v", get(ans, "transactions"))
		}
		got = e.ok("Token/Get", map[string]any{"paymentMethodToken": tok})
		if got["status"] != "CANCELLED" || get(got, "tokenDetails.pan") != "510001XXXXXX2045" {
			t.Fatalf("cancelled token after an update %v", got)
		}
		e.fails("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR"}, "PSP_031")
	})
}
