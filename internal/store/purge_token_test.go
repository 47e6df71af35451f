package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// PurgeTokenTx destroys one token's card data as the retention purge does
// (ciphertext, fingerprint and data key deleted, status PURGED), inside
// the caller's transaction, and leaves every other token alone.
func TestPurgeTokenTx(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)
		v := shopVault(t, db, "11111111", now)
		pan, _ := card.ParsePAN("4970100000000055")
		tokenize := func() vault.Token {
			tok, err := v.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: "11111111", Mode: "TEST", PAN: pan, Expiry: card.Expiry{Month: 12, Year: 2032}})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		gone, kept := tokenize(), tokenize()
		dataKeyOf := func(token string) string {
			rec, err := db.Token(ctx, "11111111", "TEST", token)
			if err != nil {
				t.Fatal(err)
			}
			return rec.DataKey.ID
		}
		goneKey, keptKey := dataKeyOf(gone.Value), dataKeyOf(kept.Value)
		purge := func(shopID, token string) bool {
			var ok bool
			if err := db.Write(ctx, func(tx *sql.Tx) error {
				var err error
				ok, err = db.PurgeTokenTx(tx, shopID, "TEST", token, now.Add(time.Hour))
				return err
			}); err != nil {
				t.Fatalf("PurgeTokenTx: %v", err)
			}
			return ok
		}
		if purge("other-shop", gone.Value) {
			t.Fatal("purged another shop's token")
		}
		if !purge("11111111", gone.Value) {
			t.Fatal("the token was not purged")
		}
		rec, err := db.Token(ctx, "11111111", "TEST", gone.Value)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != vault.StatusPurged || rec.Ciphertext != nil || rec.Fingerprint != nil || rec.DataKey.ID != "" ||
			!rec.PurgedAt.Equal(now.Add(time.Hour)) {
			t.Fatalf("purged token %+v", rec)
		}
		if _, err := db.DataKey(ctx, goneKey); err == nil {
			t.Fatal("the purged token's data key is still there")
		}
		if purge("11111111", gone.Value) || purge("11111111", "unknown") {
			t.Fatal("purged a purged or unknown token again")
		}
		other, err := db.Token(ctx, "11111111", "TEST", kept.Value)
		if err != nil {
			t.Fatal(err)
		}
		if other.Status != vault.StatusActive || other.Ciphertext == nil || other.DataKey.ID != keptKey {
			t.Fatalf("the other token was touched: %+v", other)
		}
		if _, err := db.DataKey(ctx, keptKey); err != nil {
			t.Fatalf("the other token's data key: %v", err)
		}
	})
}

// shopVault inserts the shop shopID and returns a vault on db with a
// keyring of its own and a clock stopped at now.
func shopVault(t *testing.T, db *store.DB, shopID string, now time.Time) *vault.Vault {
	t.Helper()
	if err := db.InsertShop(context.Background(), shop.Shop{ID: shopID, Name: "s", Currency: "EUR", Language: "en"}, nil, nil, now); err != nil {
		t.Fatal(err)
	}
	return testVault(t, db, now)
}

// testVault is a vault on db with a keyring of its own and a clock stopped
// at now.
func testVault(t *testing.T, db *store.DB, now time.Time) *vault.Vault {
	t.Helper()
	keys, err := vault.LoadKeyring(filepath.Join(t.TempDir(), "keyring.json"), "", true)
	if err != nil {
		t.Fatal(err)
	}
	return vault.New(db, keys, clock.NewFake(now))
}
