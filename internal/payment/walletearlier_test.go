package payment

import (
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A buyer who types a card already in their wallet with an earlier expiry
// (an old card, a typing slip) and a security code is authorised with what
// they typed, not with the wallet's card: the token answered is the
// wallet's, unchanged (its later expiry kept, no token notification), its
// last use recorded for the 15-month purge. Charge/CreateToken of that card
// verifies the typed card the same way.
func TestWalletKnownCardEarlierExpiryPaysWithTheTypedCard(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := deferredEnv(t, db)
		e.shop.Settings.Notifications.TokenURL = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		email, ref := "buyer@example.com", "buyer-early"
		cust := Customer{Email: &email, Reference: &ref}
		dec32, jun31 := card.Expiry{Month: 12, Year: 2032}, card.Expiry{Month: 6, Year: 2031}
		pay := func(amount int64, action string, exp card.Expiry, cvv string) (Payment, Transaction) {
			t.Helper()
			_, ft := e.create(CreateInput{Amount: amount, FormAction: action, Customer: cust})
			in := cardIn(cardOK)
			in.Expiry, in.SaveCard = exp, true
			in.CVV, _ = card.NewSecurityCode(cvv)
			p, tx, err := e.svc.PayCard(e.ctx(), ft, in)
			if err != nil {
				t.Fatal(err)
			}
			return p, tx
		}
		tokenEvents := func() int {
			t.Helper()
			var n int
			if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM outbox WHERE shop_id = $1 AND event LIKE 'token.%'`,
				e.shop.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		_, first := pay(500, ActionCustomerWallet, dec32, "123")
		created := tokenEvents()
		if first.Token == "" || created == 0 {
			t.Fatalf("first save: token %q, %d token notifications", first.Token, created)
		}

		e.clk.Advance(30 * 24 * time.Hour)
		p, again := pay(700, ActionCustomerWallet, jun31, "456")
		wantStatus(t, again, Authorised)
		acq.mu.Lock()
		sent := acq.auths[len(acq.auths)-1]
		acq.mu.Unlock()
		if sent.Expiry != jun31 || sent.SecurityCode.Reveal() != "456" || sent.Amount != 700 {
			t.Fatalf("acquirer got expiry %+v, code %q, amount %d: want the typed card", sent.Expiry, sent.SecurityCode.Reveal(), sent.Amount)
		}
		if again.Token != first.Token || again.ExpiryMonth != 6 || again.ExpiryYear != 2031 {
			t.Fatalf("payment: token %s (wallet %s), card expiry %d/%d", again.Token, first.Token, again.ExpiryMonth, again.ExpiryYear)
		}
		j := decode(t, mustAnswer(t, p, e.clk.Now()))
		cd := j["transactions"].([]any)[0].(map[string]any)["transactionDetails"].(map[string]any)["cardDetails"].(map[string]any)
		if cd["expiryMonth"] != float64(6) || cd["expiryYear"] != float64(2031) {
			t.Fatalf("kr-answer card details %v/%v, want the typed 6/2031", cd["expiryMonth"], cd["expiryYear"])
		}
		tok, err := e.vault.Get(e.ctx(), e.shop.ID, "TEST", first.Token)
		if err != nil || tok.Expiry != dec32 || !tok.LastUsedAt.Equal(e.clk.Now()) {
			t.Fatalf("wallet token: expiry %+v, last used %v (now %v), %v", tok.Expiry, tok.LastUsedAt, e.clk.Now(), err)
		}
		if n := tokenEvents(); n != created {
			t.Fatalf("%d token notifications after the known card, want %d", n, created)
		}

		// Charge/CreateToken: the typed card verified, the wallet's token.
		e.clk.Advance(24 * time.Hour)
		_, vtx := pay(0, ActionRegister, jun31, "789")
		wantStatus(t, vtx, Accepted)
		acq.mu.Lock()
		ver := acq.verifys[len(acq.verifys)-1]
		acq.mu.Unlock()
		if ver.Expiry != jun31 || ver.SecurityCode.Reveal() != "789" {
			t.Fatalf("verification sent expiry %+v, code %q", ver.Expiry, ver.SecurityCode.Reveal())
		}
		tok, err = e.vault.Get(e.ctx(), e.shop.ID, "TEST", first.Token)
		if vtx.Token != first.Token || err != nil || tok.Expiry != dec32 || !tok.LastUsedAt.Equal(e.clk.Now()) {
			t.Fatalf("register: token %s (%+v, last used %v), %v", vtx.Token, tok.Expiry, tok.LastUsedAt, err)
		}
		if n := tokenEvents(); n != created {
			t.Fatalf("%d token notifications after the register, want %d", n, created)
		}
	})
}
