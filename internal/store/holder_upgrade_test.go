package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// recorder is a vault.Store that keeps the record the vault would insert.
type recorder struct {
	*store.DB
	rec vault.Record
}

func (r *recorder) InsertToken(_ *sql.Tx, rec vault.Record) error { r.rec = rec; return nil }

// A database that a release before migration 0029 left, with card holder
// names in clear beside the sealed cards, upgrades: the migration and the
// server's start (SealClearHolderNames) seal every name under its token's
// data key and empty the clear column; readers show the same names, the
// cards still open, a second start seals nothing, and a purged token's
// name (no data key left to seal it with) is gone with its card.
func TestUpgradeSealsClearHolderNames(t *testing.T) {
	for _, eng := range unmigratedEngines() {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			db := eng.open(t)
			if _, err := db.MigrateTo(ctx, "0028_card_holder_name"); err != nil {
				t.Fatal(err)
			}
			keys, err := vault.LoadKeyring(filepath.Join(t.TempDir(), "keyring.json"), "", true)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)
			clk := clock.NewFake(now)
			const shopID = "11111111"
			exec(t, db, `INSERT INTO shops (id, name, currency, language, created_at, updated_at)
				VALUES ($1, 'shop', 'EUR', 'fr', 1, 1)`, shopID)

			// Rows as the old InsertToken wrote them: holder_name in clear.
			rec := &recorder{DB: db}
			old := vault.New(rec, keys, clk)
			names := map[string]string{"old-1": "Ana García", "old-2": "Jean Dupont", "old-3": "", "old-purged": "Max Muster"}
			for tok, name := range names {
				p, _ := card.ParsePAN("4970100000000055")
				if _, err := old.Tokenize(ctx, nil, vault.TokenizeRequest{ShopID: shopID, Mode: "TEST", Token: tok, PAN: p,
					Expiry: card.Expiry{Month: 6, Year: 2032}, HolderName: name, CustomerReference: "cust", Origin: "V4"}); err != nil {
					t.Fatal(err)
				}
				r := rec.rec
				dk, ct, fp, status := any(r.DataKey.ID), any(r.Ciphertext), any(r.Fingerprint), "ACTIVE"
				if tok == "old-purged" {
					dk, ct, fp, status = nil, nil, nil, "PURGED"
				} else if err := db.Write(ctx, func(tx *sql.Tx) error { return store.InsertDataKey(tx, r.DataKey, now) }); err != nil {
					t.Fatal(err)
				}
				exec(t, db, `INSERT INTO tokens (id, shop_id, token, mode, method, status, brand, brands, pan_masked,
					bin, last4, expiry_month, expiry_year, holder_name, fingerprint, data_key_id, ciphertext,
					customer_reference, customer, origin, origin_order_id, initial_transaction_uuid, store_permanently,
					created_at, updated_at, last_used_at, retention_day)
					VALUES ($1, $2, $3, 'TEST', 'CARD', $4, 'CB', 'CB,VISA', $5, $6, $7, 6, 2032, $8, $9, $10, $11,
					'cust', '{}', 'V4', '', '', 1, $12, $12, $12, $13)`,
					r.ID, shopID, tok, status, r.PANMasked, r.BIN, r.Last4, name, fp, dk, ct,
					store.Micros(now), store.Micros(now)/86_400_000_000)
			}

			applied, err := db.Migrate(ctx)
			if err != nil || len(applied) == 0 || applied[0] != "0029_sealed_holder_name" {
				t.Fatalf("upgrade applied %v, %v", applied, err)
			}
			v := vault.New(db, keys, clk)
			if n, err := v.SealClearHolderNames(ctx); err != nil || n != 2 {
				t.Fatalf("sealed %d names, %v; want 2", n, err)
			}
			var clear int
			if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM tokens WHERE holder_name <> ''`).Scan(&clear); err != nil || clear != 0 {
				t.Fatalf("%d names still in clear, %v", clear, err)
			}
			for tok, want := range names {
				if tok == "old-purged" {
					want = ""
				}
				got, err := v.Get(ctx, shopID, "TEST", tok)
				if err != nil || got.HolderName != want {
					t.Fatalf("%s: holder %q, %v; want %q", tok, got.HolderName, err, want)
				}
				if _, _, _, err := v.Card(ctx, shopID, "TEST", tok); tok != "old-purged" && err != nil {
					t.Fatalf("%s: card after the upgrade: %v", tok, err)
				} else if tok == "old-purged" && !errors.Is(err, vault.ErrTokenPurged) {
					t.Fatalf("%s: %v", tok, err)
				}
			}
			w, err := v.Wallet(ctx, shopID, "cust", vault.StatusActive)
			if err != nil || len(w) != 3 {
				t.Fatalf("wallet %d tokens, %v", len(w), err)
			}
			for _, tok := range w {
				if tok.HolderName != names[tok.Value] {
					t.Fatalf("wallet %s: holder %q", tok.Value, tok.HolderName)
				}
			}
			if n, err := v.SealClearHolderNames(ctx); err != nil || n != 0 {
				t.Fatalf("second start sealed %d, %v", n, err)
			}
		})
	}
}

// unmigratedEngines opens a database not migrated yet, on each engine, for
// the upgrade tests.
func unmigratedEngines() []struct {
	name string
	open func(t *testing.T) *store.DB
} {
	return []struct {
		name string
		open func(t *testing.T) *store.DB
	}{
		{"sqlite", func(t *testing.T) *store.DB {
			return openUnmigrated(t, store.Options{SQLitePath: filepath.Join(t.TempDir(), "openpsp.db")})
		}},
		{"postgres", func(t *testing.T) *store.DB {
			return openUnmigrated(t, store.Options{URL: storetest.NewPostgresDatabase(t)})
		}},
	}
}

func openUnmigrated(t *testing.T, o store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if err := db.Write(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(q, args...)
		return err
	}); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
