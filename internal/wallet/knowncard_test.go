package wallet_test

import (
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A buyer who ticks "Save my card" on a card already in their wallet (the
// screenshots' "CB 497010XXXXXX0055" listed twice) keeps one token of it:
// the form's answer names it, CustomerWallet/Get and the next form list
// the card once.
func TestWalletFormSavesAKnownCardOnce(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)))
		first := e.post(e.formToken(walletPayment(1500, "k-1", "cust-k")), "", newCard(cardOK, true)).answer(t)
		again := e.post(e.formToken(walletPayment(1500, "k-2", "cust-k")), "", newCard(cardOK, true)).answer(t)
		tok := get(first, "transactions.paymentMethodToken")
		if tok == nil || get(again, "transactions.paymentMethodToken") != tok {
			t.Fatalf("saved twice: tokens %v then %v", tok, get(again, "transactions.paymentMethodToken"))
		}
		if w := e.tokens("cust-k", "ALL"); len(w) != 1 {
			t.Fatalf("CustomerWallet/Get lists %v", tokenValues(w))
		}
		if ids := e.savedCards(e.formToken(walletPayment(1500, "k-3", "cust-k"))); len(ids) != 1 {
			t.Fatalf("the form lists %d saved cards", len(ids))
		}
	})
}
