package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
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

func testKeyring(t *testing.T) *vault.Keyring {
	t.Helper()
	k, err := vault.LoadKeyring("", "k1:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), false)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDataKeyRoundTrip(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		k := testKeyring(t)
		dk, key, err := k.NewDataKey()
		if err != nil {
			t.Fatal(err)
		}
		sealed := key.Seal([]byte("aad"), []byte("shop secret"))
		now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := db.Write(ctx, func(tx *sql.Tx) error { return store.InsertDataKey(tx, dk, now) }); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(ctx, func(tx *sql.Tx) error { return store.InsertDataKey(tx, dk, now) }); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate data key: %v", err)
		}
		got, err := db.DataKey(ctx, dk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != dk.ID || got.MasterKeyID != dk.MasterKeyID || !bytes.Equal(got.Wrapped, dk.Wrapped) {
			t.Fatalf("read back %+v", got)
		}
		key2, err := k.Unwrap(got)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := key2.Open([]byte("aad"), sealed); err != nil || string(pt) != "shop secret" {
			t.Fatalf("open: %q %v", pt, err)
		}
		if err := db.Write(ctx, func(tx *sql.Tx) error { return store.DeleteDataKey(tx, dk.ID) }); err != nil {
			t.Fatal(err)
		}
		if _, err := db.DataKey(ctx, dk.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted data key: %v", err)
		}
	})
}

// TestPurgeSkipsTokenInUse holds a payment's transaction open on a token
// (MarkUsed after the cutoff) while the purge runs on PostgreSQL: the purge
// must neither wait for it nor destroy that token's card data, and the
// other tokens are purged with their data keys.
func TestPurgeSkipsTokenInUse(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	keys, err := vault.LoadKeyring(filepath.Join(t.TempDir(), "keyring.json"), "", true)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	v := vault.New(db, keys, clk)
	if err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO shops (id, name, currency, language, created_at, updated_at) VALUES ('11111111', 's', 'EUR', 'fr', 1, 1)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	p, err := card.ParsePAN("4970100000000055")
	if err != nil {
		t.Fatal(err)
	}
	var toks []vault.Token
	for i := 0; i < 3; i++ {
		tok, err := v.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: "11111111", Mode: "TEST", PAN: p, Expiry: card.Expiry{Month: 6, Year: 2032}})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	clk.Advance(16 * 31 * 24 * time.Hour)

	payment, err := db.Writer().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer payment.Rollback() //nolint:errcheck
	if err := v.MarkUsed(payment, "11111111", "TEST", toks[0].Value); err != nil {
		t.Fatal(err)
	}
	n, err := v.PurgeRetention(ctx, vault.PurgeOptions{BatchSize: 1})
	if err != nil || n != 2 {
		t.Fatalf("purge with a token in use: %d %v", n, err)
	}
	if err := payment.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := v.Card(ctx, "11111111", "TEST", toks[0].Value); err != nil {
		t.Fatalf("token in use: %v", err)
	}
	for _, tok := range toks[1:] {
		if _, _, _, err := v.Card(ctx, "11111111", "TEST", tok.Value); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("unused token: %v", err)
		}
	}
	// Now used after the cutoff: a second purge leaves it alone.
	if n, err := v.PurgeRetention(ctx, vault.PurgeOptions{}); err != nil || n != 0 {
		t.Fatalf("second purge: %d %v", n, err)
	}
	assertVaultInvariants(t, db)
}

// assertVaultInvariants: every unpurged token has its data key, and no data
// key of a purged token survives.
func assertVaultInvariants(t *testing.T, db *store.DB) {
	t.Helper()
	var missing, orphans int
	if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM tokens t LEFT JOIN data_keys d ON d.id = t.data_key_id
		WHERE t.status <> 'PURGED' AND d.id IS NULL`).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM data_keys d
		WHERE NOT EXISTS (SELECT 1 FROM tokens t WHERE t.data_key_id = d.id)
		AND NOT EXISTS (SELECT 1 FROM shop_api_keys k WHERE k.data_key_id = d.id)
		AND NOT EXISTS (SELECT 1 FROM shop_ogone o WHERE o.data_key_id = d.id)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if missing != 0 || orphans != 0 {
		t.Fatalf("%d live tokens without a data key, %d orphan data keys", missing, orphans)
	}
}

func TestPurgeSelectorIsChecked(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, sel := range []vault.PurgeSelector{{}, {LastUsedBefore: now, ExpiresBefore: now}} {
			if _, err := db.PurgeTokens(ctx, sel, 10, now); err == nil {
				t.Fatalf("selector %+v accepted", sel)
			}
			if _, err := db.CountPurgeable(ctx, sel); err == nil {
				t.Fatalf("selector %+v accepted by count", sel)
			}
		}
		if _, err := db.PurgeTokens(ctx, vault.PurgeSelector{LastUsedBefore: now}, 0, now); err == nil {
			t.Fatal("batch size 0 accepted")
		}
	})
}
