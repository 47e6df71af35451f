package vault_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// SaveCard keeps a card under a caller's token inside the caller's write
// (DirectLink: the write that records the accepted order): a new token, or
// the card of the shop's card token of that value replaced; nothing of it
// stays when that write rolls back.
func TestSaveCard(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		save := func(r vault.TokenizeRequest, rollback bool) (vault.Token, bool, error) {
			var tok vault.Token
			var updated bool
			errRollback := errors.New("rollback")
			err := db.Write(ctx, func(tx *sql.Tx) error {
				var err error
				tok, updated, err = e.v.SaveCard(ctx, tx, r)
				if err == nil && rollback {
					return errRollback
				}
				return err
			})
			if errors.Is(err, errRollback) {
				err = nil
			}
			return tok, updated, err
		}
		r := req(t, shopA, testPANs[0])
		r.Token, r.TTL = "dl-1", 2*time.Hour

		// Rolled back with its write: no token.
		if _, _, err := save(r, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.v.Get(ctx, shopA, "TEST", "dl-1"); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("token of a rolled back write: %v", err)
		}
		// Created, temporary.
		tok, updated, err := save(r, false)
		if err != nil || updated || tok.Value != "dl-1" || tok.Permanent || tok.Last4 != "0055" {
			t.Fatalf("created %+v %v %v", tok, updated, err)
		}
		dataKeys := e.count(t, `SELECT COUNT(*) FROM data_keys`)

		// A rolled back replacement leaves the card.
		r2 := req(t, shopA, testPANs[1])
		r2.Token, r2.HolderName, r2.Expiry = "dl-1", "", card.Expiry{Month: 9, Year: 2033}
		if _, _, err := save(r2, true); err != nil {
			t.Fatal(err)
		}
		if p, _, _, err := e.v.Card(ctx, shopA, "TEST", "dl-1"); err != nil || p.Reveal() != testPANs[0] {
			t.Fatalf("card after a rolled back replacement: %v", err)
		}
		// Replaced: new card and expiry, holder kept (none sent), made
		// permanent (TTL 0), under the same data key; the fingerprint
		// follows the card.
		tok, updated, err = save(r2, false)
		if err != nil || !updated || !tok.Permanent || tok.Last4 != "4444" || tok.HolderName != "Ana García" || tok.Expiry.Year != 2033 {
			t.Fatalf("replaced %+v %v %v", tok, updated, err)
		}
		if p, exp, _, err := e.v.Card(ctx, shopA, "TEST", "dl-1"); err != nil || p.Reveal() != testPANs[1] || exp.Month != 9 {
			t.Fatalf("replaced card: %v", err)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM data_keys`); n != dataKeys {
			t.Fatalf("replacement added data keys: %d -> %d", dataKeys, n)
		}
		if old, _ := e.v.FindByFingerprint(ctx, shopA, pan(t, testPANs[0])); len(old) != 0 {
			t.Fatalf("the old card's fingerprint still finds %d tokens", len(old))
		}
		if got, _ := e.v.FindByFingerprint(ctx, shopA, pan(t, testPANs[1])); len(got) != 1 {
			t.Fatalf("the new card's fingerprint finds %d tokens", len(got))
		}

		// The other mode's token of that value is another token: a new
		// one there, the TEST one's card left alone.
		r4 := r2
		r4.Mode, r4.PAN = "PRODUCTION", pan(t, testPANs[2])
		if tok, updated, err := save(r4, false); err != nil || updated || tok.Mode != "PRODUCTION" || tok.Value != "dl-1" {
			t.Fatalf("card of the other mode: %+v %v %v, want a new PRODUCTION token", tok, updated, err)
		}
		if p, _, _, err := e.v.Card(ctx, shopA, "TEST", "dl-1"); err != nil || p.Reveal() != testPANs[1] {
			t.Fatalf("TEST card after the PRODUCTION save: %v", err)
		}
		if p, _, _, err := e.v.Card(ctx, shopA, "PRODUCTION", "dl-1"); err != nil || p.Reveal() != testPANs[2] {
			t.Fatalf("PRODUCTION card: %v", err)
		}

		// What cannot take the card: a bank account, a purged token.
		e.saveAccount(t, vault.AccountRequest{ShopID: shopA, Mode: "TEST", Token: "sepa-dl", IBAN: iban(t, testIBAN), HolderName: "A"})
		r3 := r2
		r3.Token = "sepa-dl"
		if _, _, err := save(r3, false); !errors.Is(err, vault.ErrNotCard) {
			t.Fatalf("card over a bank account: %v", err)
		}
		e.clk.Set(e.clk.Now().AddDate(2, 0, 0))
		if _, err := e.v.PurgeRetention(ctx, vault.PurgeOptions{}); err != nil {
			t.Fatal(err)
		}
		r5 := r2
		r5.Expiry = card.Expiry{Month: 9, Year: 2039}
		if _, _, err := save(r5, false); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("card over a purged token: %v", err)
		}
		if _, _, err := save(vault.TokenizeRequest{ShopID: shopA, Mode: "TEST", PAN: pan(t, testPANs[2]), Expiry: r5.Expiry}, false); !errors.Is(err, vault.ErrInvalidRequest) {
			t.Fatalf("no token value: %v", err)
		}
	})
}

// ReplaceCard (V4 Token/Update) reads the token, then writes the new card.
// A Token/Cancel committed between the two (on PostgreSQL the read takes no
// lock) must win: the card is not written, the token stays cancelled with
// its card, and the caller gets ErrTokenCancelled, so that the buyer is not
// told the card was registered.
func TestReplaceCardCancelledAfterRead(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		tok := e.tokenize(t, req(t, shopA, testPANs[0]))
		var old vault.Record
		if err := db.Write(ctx, func(tx *sql.Tx) (err error) {
			old, err = db.TokenTx(tx, shopA, "TEST", tok.Value)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.v.Cancel(ctx, shopA, "TEST", tok.Value); err != nil {
			t.Fatal(err)
		}
		r := req(t, shopA, "5100010000002045")
		r.Token = tok.Value
		err := db.Write(ctx, func(tx *sql.Tx) error {
			_, err := vault.ReplaceCardAfterRead(e.v, tx, old, r)
			return err
		})
		if !errors.Is(err, vault.ErrTokenCancelled) {
			t.Fatalf("ReplaceCard after a cancellation: %v, want ErrTokenCancelled", err)
		}
		got, err := e.v.Get(ctx, shopA, "TEST", tok.Value)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != vault.StatusCancelled || got.PANMasked != tok.PANMasked {
			t.Fatalf("token after the refused replacement: %s %s, want CANCELLED %s", got.Status, got.PANMasked, tok.PANMasked)
		}
	})
}
