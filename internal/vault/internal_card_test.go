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

// A card sealed for one transaction (a deferred debit's typed card) opens
// only through InternalCard: every merchant-facing way to a token answers
// as for an unknown one. Erased, its card data is destroyed as the purge
// destroys it.
func TestInternalCard(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		pan, _ := card.ParsePAN(testPANs[0])
		exp := card.Expiry{Month: 12, Year: 2032}
		var ref string
		if err := db.Write(ctx, func(tx *sql.Tx) error {
			var err error
			ref, err = e.v.SealInternal(tx, vault.InternalCardRequest{ShopID: shopA, Mode: "TEST", PAN: pan, Expiry: exp,
				TransactionUUID: "tx-1"})
			return err
		}); err != nil {
			t.Fatalf("SealInternal: %v", err)
		}
		gotPAN, gotExp, _, err := e.v.InternalCard(ctx, shopA, "TEST", ref)
		if err != nil || gotPAN.Reveal() != pan.Reveal() || gotExp != exp {
			t.Fatalf("InternalCard: %v %v %v", gotPAN, gotExp, err)
		}
		if _, _, _, err := e.v.InternalCard(ctx, shopB, "TEST", ref); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("another shop's internal card: %v", err)
		}

		notFound := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, vault.ErrTokenNotFound) {
				t.Fatalf("%s of an internal card: %v, want not found", what, err)
			}
		}
		_, err = e.v.Get(ctx, shopA, "TEST", ref)
		notFound("Get", err)
		_, _, _, err = e.v.Card(ctx, shopA, "TEST", ref)
		notFound("Card", err)
		_, _, err = e.v.Account(ctx, shopA, "TEST", ref)
		notFound("Account", err)
		_, err = e.v.Cancel(ctx, shopA, "TEST", ref)
		notFound("Cancel", err)
		_, err = e.v.Reactivate(ctx, shopA, "TEST", ref)
		notFound("Reactivate", err)
		holder := "Mallory"
		_, err = e.v.Update(ctx, shopA, "TEST", ref, vault.TokenUpdate{HolderName: &holder})
		notFound("Update", err)
		_, err = e.v.MakePermanent(ctx, shopA, "TEST", ref)
		notFound("MakePermanent", err)
		err = db.Write(ctx, func(tx *sql.Tx) error { return e.v.MakePermanentTx(tx, shopA, "TEST", ref) })
		notFound("MakePermanentTx", err)
		if found, err := e.v.FindByFingerprint(ctx, shopA, pan); err != nil || len(found) != 0 {
			t.Fatalf("FindByFingerprint lists the internal card: %v %v", found, err)
		}

		// A merchant's token is not an internal card.
		tok, err := e.v.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: shopA, Mode: "TEST", PAN: pan, Expiry: exp})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := e.v.InternalCard(ctx, shopA, "TEST", tok.Value); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("InternalCard of a merchant's token: %v", err)
		}

		if err := db.Write(ctx, func(tx *sql.Tx) error { return e.v.EraseInternal(tx, shopA, "TEST", ref) }); err != nil {
			t.Fatalf("EraseInternal: %v", err)
		}
		if _, _, _, err := e.v.InternalCard(ctx, shopA, "TEST", ref); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("InternalCard after the erase: %v", err)
		}
		rec, err := db.Token(ctx, shopA, "TEST", ref)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != vault.StatusPurged || rec.Ciphertext != nil || rec.DataKey.ID != "" {
			t.Fatalf("erased internal card %+v", rec)
		}
		// Erasing again, or a merchant's token, changes nothing.
		if err := db.Write(ctx, func(tx *sql.Tx) error { return e.v.EraseInternal(tx, shopA, "TEST", ref) }); err != nil {
			t.Fatalf("EraseInternal twice: %v", err)
		}
		if err := db.Write(ctx, func(tx *sql.Tx) error { return e.v.EraseInternal(tx, shopA, "TEST", tok.Value) }); err != nil {
			t.Fatalf("EraseInternal of a merchant's token: %v", err)
		}
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", tok.Value); err != nil {
			t.Fatalf("the merchant's token after EraseInternal: %v", err)
		}
	})
}

// A card kept for a DirectLink order with an ALIAS carries the holder name,
// sealed (never in clear in its row), and may be for a temporary alias
// (not Permanent when opened). It has no time of its own: the expiry job,
// which erases temporary aliases, leaves it however long its payment runs
// (recovery may settle it hours later); EraseInternal, at the payment's
// end, erases it.
func TestInternalCardHolderAndTemporary(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		pan, _ := card.ParsePAN(testPANs[0])
		exp := card.Expiry{Month: 12, Year: 2032}
		var ref string
		if err := db.Write(ctx, func(tx *sql.Tx) error {
			var err error
			ref, err = e.v.SealInternal(tx, vault.InternalCardRequest{ShopID: shopA, Mode: "TEST", PAN: pan, Expiry: exp,
				TransactionUUID: "tx-2", HolderName: "Ann Lee", Temporary: true})
			return err
		}); err != nil {
			t.Fatalf("SealInternal: %v", err)
		}
		_, _, tok, err := e.v.InternalCard(ctx, shopA, "TEST", ref)
		if err != nil || tok.HolderName != "Ann Lee" || tok.Permanent {
			t.Fatalf("InternalCard: %+v, %v", tok, err)
		}
		var n int
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM tokens WHERE holder_name = 'Ann Lee'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("holder name in clear: %d rows, %v", n, err)
		}
		e.clk.Advance(3 * time.Hour)
		if _, err := e.v.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil {
			t.Fatal(err)
		}
		if got, _, tok, err := e.v.InternalCard(ctx, shopA, "TEST", ref); err != nil || got.Last4() != pan.Last4() || tok.Permanent {
			t.Fatalf("kept card for a temporary alias, 3 hours on: %+v, %v, want it still there", tok, err)
		}
		if err := db.Write(ctx, func(tx *sql.Tx) error { return e.v.EraseInternal(tx, shopA, "TEST", ref) }); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := e.v.InternalCard(ctx, shopA, "TEST", ref); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("kept card after EraseInternal: %v, want purged", err)
		}
	})
}
