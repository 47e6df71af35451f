package payment

import (
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// A buyer who saves again a card already in their wallet (CUSTOMER_WALLET
// with "Save my card", Charge/CreateToken with the same customer.reference)
// keeps one token of it: the payment, its IPN and kr-answer name the
// wallet's token, the buyer is not told of a new saved card, and a renewed
// card (later expiry) updates the token with token.updated.
func TestWalletKnownCardKeepsItsToken(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.Settings.Notifications.TokenURL = true
		e.shop.Settings.Notifications.TokenEmailBuyer = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		email, ref := "buyer@example.com", "buyer-42"
		cust := Customer{Email: &email, Reference: &ref}
		saveAndPay := func(exp card.Expiry) (Payment, Transaction) {
			t.Helper()
			_, ft := e.create(CreateInput{Amount: 500, FormAction: ActionCustomerWallet, Customer: cust})
			in := cardIn(cardOK)
			in.Expiry, in.SaveCard = exp, true
			p, tx, err := e.svc.PayCard(e.ctx(), ft, in)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, tx, Authorised)
			return p, tx
		}
		outbox := func(channel, event string) int {
			t.Helper()
			var n int
			if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM outbox WHERE shop_id = $1 AND channel = $2 AND event = $3`,
				e.shop.ID, channel, event).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		dec32 := card.Expiry{Month: 12, Year: 2032}
		_, first := saveAndPay(dec32)
		if first.Token == "" || outbox("email", "token.created") != 1 || outbox("ipn", "token.created") != 1 {
			t.Fatalf("first save: token %q, token.created emails %d", first.Token, outbox("email", "token.created"))
		}

		p, again := saveAndPay(dec32)
		if again.Token != first.Token {
			t.Fatalf("the card saved again got token %s, the wallet has %s", again.Token, first.Token)
		}
		j := decode(t, mustAnswer(t, p, e.clk.Now()))
		if got := j["transactions"].([]any)[0].(map[string]any)["paymentMethodToken"]; got != first.Token {
			t.Fatalf("kr-answer names token %v, want %s", got, first.Token)
		}
		var ipn string
		if err := db.Reader().QueryRow(`SELECT payload FROM outbox WHERE shop_id = $1 AND channel = 'ipn' AND event = 'payment.accepted'
			ORDER BY created_at DESC, id DESC LIMIT 1`, e.shop.ID).Scan(&ipn); err != nil || !strings.Contains(ipn, first.Token) {
			t.Fatalf("payment IPN %v does not name %s: %.300s", err, first.Token, ipn)
		}
		if n, u := outbox("email", "token.created"), outbox("email", "token.updated"); n != 1 || u != 0 {
			t.Fatalf("the card already saved sent %d token.created (want 1 in all), %d token.updated", n, u)
		}

		// A renewed card: the token takes the later expiry, token.updated.
		dec34 := card.Expiry{Month: 12, Year: 2034}
		_, renewed := saveAndPay(dec34)
		tok, err := e.vault.Get(e.ctx(), e.shop.ID, "TEST", first.Token)
		if renewed.Token != first.Token || err != nil || tok.Expiry != dec34 {
			t.Fatalf("renewed card: token %s (%+v %v)", renewed.Token, tok.Expiry, err)
		}
		if n, u := outbox("email", "token.created"), outbox("email", "token.updated"); n != 1 || u != 1 {
			t.Fatalf("renewed card: %d token.created, %d token.updated emails", n, u)
		}

		// Charge/CreateToken with the same buyer and card.
		_, ft := e.create(CreateInput{Amount: 0, FormAction: ActionRegister, Customer: cust})
		in := cardIn(cardOK)
		in.Expiry = dec34
		_, vtx, err := e.svc.PayCard(e.ctx(), ft, in)
		if err != nil || vtx.Token != first.Token {
			t.Fatalf("Charge/CreateToken of the wallet's card: %s %v, want %s", vtx.Token, err, first.Token)
		}
		wallet, err := e.vault.Wallet(e.ctx(), e.shop.ID, ref, vault.StatusActive)
		if err != nil || len(wallet) != 1 {
			t.Fatalf("wallet lists %d tokens (%v), want 1", len(wallet), err)
		}
		if n := outbox("email", "token.created"); n != 1 {
			t.Fatalf("%d token.created emails, want 1", n)
		}
	})
}
