package vault_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// A card saved again in the buyer's wallet where it is already ACTIVE
// (same shop, mode and customer reference) is not stored twice: the
// wallet's token is answered, renewed when the card given expires later.
// A cancelled token, another mode, another buyer, a temporary or
// wallet-less token are not reused.
func TestWalletSavesACardOnce(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		inWallet := func(ref string, exp card.Expiry) vault.TokenizeRequest {
			r := req(t, shopA, testPANs[0])
			r.CustomerReference, r.Expiry = ref, exp
			return r
		}
		active := func(ref string) []vault.Token {
			t.Helper()
			ts, err := e.v.Wallet(ctx, shopA, ref, vault.StatusActive)
			if err != nil {
				t.Fatal(err)
			}
			var test []vault.Token // CustomerWallet/Get answers the shop's mode
			for _, tok := range ts {
				if tok.Mode == "TEST" {
					test = append(test, tok)
				}
			}
			return test
		}
		jun32, dec33, jan31 := card.Expiry{Month: 6, Year: 2032}, card.Expiry{Month: 12, Year: 2033}, card.Expiry{Month: 1, Year: 2031}

		first := e.tokenize(t, inWallet("cust-1", jun32))
		again := e.tokenize(t, inWallet("cust-1", jun32))
		if again.Value != first.Value || len(active("cust-1")) != 1 {
			t.Fatalf("same card saved again: %s, then %s; wallet %d tokens", first.Value, again.Value, len(active("cust-1")))
		}
		// A renewed card (later expiry) renews the token.
		e.clk.Advance(time.Hour)
		renewed := e.tokenize(t, inWallet("cust-1", dec33))
		if renewed.Value != first.Value || renewed.Expiry != dec33 || !renewed.LastUsedAt.After(first.LastUsedAt) {
			t.Fatalf("renewed card: %+v", renewed)
		}
		if _, exp, _, err := e.v.Card(ctx, shopA, "TEST", first.Value); err != nil || exp != dec33 {
			t.Fatalf("renewed token's card: %v %v", exp, err)
		}
		// An older expiry leaves the token's.
		if older := e.tokenize(t, inWallet("cust-1", jan31)); older.Value != first.Value || older.Expiry != dec33 {
			t.Fatalf("card with an earlier expiry: %+v", older)
		}
		if n := len(active("cust-1")); n != 1 {
			t.Fatalf("wallet lists %d tokens, want 1", n)
		}

		// Not reused: another buyer, the other mode, no wallet, a
		// temporary token.
		other := e.tokenize(t, inWallet("cust-2", jun32))
		prod := inWallet("cust-1", jun32)
		prod.Mode = "PRODUCTION"
		prodTok := e.tokenize(t, prod)
		noWallet := e.tokenize(t, inWallet("", jun32))
		temp := inWallet("cust-1", jun32)
		temp.TTL = time.Hour
		tempTok := e.tokenize(t, temp)
		for _, tok := range []vault.Token{other, prodTok, noWallet, tempTok} {
			if tok.Value == first.Value {
				t.Fatalf("token %+v reused the wallet's %s", tok, first.Value)
			}
		}

		// A cancelled token is not reused: a new one is made.
		if _, err := e.v.Cancel(ctx, shopA, "TEST", first.Value); err != nil {
			t.Fatal(err)
		}
		fresh := e.tokenize(t, inWallet("cust-1", jun32))
		if fresh.Value == first.Value || fresh.Status != vault.StatusActive {
			t.Fatalf("after the cancellation: %+v", fresh)
		}
		got := active("cust-1") // the temporary token and fresh
		if len(got) != 2 || got[0].Value != fresh.Value && got[1].Value != fresh.Value {
			t.Fatalf("wallet after the cancellation: %+v", got)
		}
		if got, err := e.v.Get(ctx, shopA, "TEST", first.Value); err != nil || got.Status != vault.StatusCancelled {
			t.Fatalf("cancelled token: %+v %v", got, err)
		}
	})
}

// SaveInWallet tells the caller what it did, so that the buyer is told of
// a saved card only when one was.
func TestSaveInWalletTellsWhatItDid(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		save := func(exp card.Expiry) (vault.Token, vault.Saved) {
			t.Helper()
			r := req(t, shopA, testPANs[1])
			r.CustomerReference, r.Expiry = "cust-9", exp
			var tok vault.Token
			var saved vault.Saved
			err := db.Write(ctx, func(tx *sql.Tx) error {
				var err error
				tok, saved, err = e.v.SaveInWallet(ctx, tx, r)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return tok, saved
		}
		a, s1 := save(card.Expiry{Month: 6, Year: 2032})
		b, s2 := save(card.Expiry{Month: 6, Year: 2032})
		c, s3 := save(card.Expiry{Month: 7, Year: 2032})
		if s1 != vault.SavedNew || s2 != vault.SavedExisting || s3 != vault.SavedRenewed || b.Value != a.Value || c.Value != a.Value {
			t.Fatalf("saves: %v %v %v, tokens %s %s %s", s1, s2, s3, a.Value, b.Value, c.Value)
		}
	})
}

// Saves of one card at once in one wallet (two checkouts of one buyer, the
// group commit's workers on PostgreSQL) store it once.
func TestWalletConcurrentSavesOfOneCard(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		const n = 12
		for round := 0; round < 3; round++ {
			ref := "buyer-" + string(rune('a'+round))
			var wg sync.WaitGroup
			values := make([]string, n)
			errs := make([]error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					r := req(t, shopA, testPANs[3])
					r.CustomerReference = ref
					tok, err := e.v.TokenizeNow(context.Background(), r)
					values[i], errs[i] = tok.Value, err
				}(i)
			}
			wg.Wait()
			for i := range values {
				if errs[i] != nil || values[i] != values[0] {
					t.Fatalf("save %d: %s %v, save 0: %s", i, values[i], errs[i], values[0])
				}
			}
			if got := e.count(t, `SELECT COUNT(*) FROM tokens WHERE shop_id = $1 AND customer_reference = $2`, shopA, ref); got != 1 {
				t.Fatalf("%s: %d tokens stored, want 1", ref, got)
			}
		}
	})
}
