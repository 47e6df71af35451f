package wallet_test

import (
	"slices"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// Lyra's Sylius plugin lets a logged-in buyer add a card to the wallet from
// the account page with Charge/CreateToken and formAction CUSTOMER_WALLET,
// customer.reference the customer's id (a PHP integer) and metadata
// {"fromAccount": true} (its getAccountToken, in public code; the
// playground documents the other fields:
// docs.lyra.com/en/rest/V4.0/api/playground/Charge/CreateToken). OpenPSP
// refused the formAction (INT_902), so that page could not open. The card
// saved goes into that buyer's wallet; the wallet's two errors are those of
// Charge/CreatePayment CUSTOMER_WALLET (INT_917 without a reference,
// INT_916 without the payment by token option).
func TestCreateTokenCustomerWallet(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		a := e.ok("Charge/CreateToken", map[string]any{"formAction": "CUSTOMER_WALLET", "currency": "EUR",
			"contrib": "Sylius_1.x_2.x/PHP_8.x", "metadata": map[string]any{"fromAccount": true},
			"customer": map[string]any{"email": "buyer@example.com", "reference": 42,
				"billingDetails": map[string]any{"firstName": "Ada", "lastName": "Lovelace"}}})
		ans := e.post(a["formToken"].(string), "", newCard(cardMC, false)).answer(t)
		tok, _ := ans["transactions"].([]any)
		if len(tok) != 1 || get(ans, "transactions.operationType") != "VERIFICATION" ||
			get(ans, "transactions.detailedStatus") != "ACCEPTED" || get(ans, "customer.reference") != "42" {
			t.Fatalf("CreateToken CUSTOMER_WALLET: %v", ans)
		}
		saved, _ := get(ans, "transactions.paymentMethodToken").(string)
		if got := tokenValues(e.tokens("42", "")); !slices.Equal(got, []string{saved}) {
			t.Fatalf("wallet 42 %v, want [%s]", got, saved)
		}

		e.fails("Charge/CreateToken", map[string]any{"formAction": "CUSTOMER_WALLET", "currency": "EUR",
			"customer": map[string]any{"email": "buyer@example.com"}}, "INT_917")
		e.fails("Charge/CreateToken", map[string]any{"formAction": "PAYMENT", "currency": "EUR"}, "INT_902")
		e.setShop(func(s *shop.Settings) { s.PaymentByToken = false })
		e.fails("Charge/CreateToken", map[string]any{"formAction": "CUSTOMER_WALLET", "currency": "EUR",
			"customer": map[string]any{"email": "buyer@example.com", "reference": "42"}}, "INT_916")
	})
}
