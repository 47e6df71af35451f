package vault_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// BenchmarkPurge100k purges 100,000 tokens on SQLite (the target is
// 1,000,000 in at most 60 s, so about 6 s here). Run with
//
//	go test -run '^$' -bench Purge100k -benchtime 1x ./internal/vault/
func BenchmarkPurge100k(b *testing.B) {
	const n = 100_000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := storetest.SQLite(b)
		v, clk := fillTokens(b, db, n)
		clk.Advance(16 * 31 * 24 * time.Hour)
		b.StartTimer()
		got, err := v.PurgeRetention(context.Background(), vault.PurgeOptions{})
		if err != nil || got != n {
			b.Fatalf("purged %d of %d: %v", got, n, err)
		}
	}
	b.ReportMetric(float64(n), "tokens/op")
}

// fillTokens tokenizes n cards in large transactions (setup, not measured).
func fillTokens(b *testing.B, db *store.DB, n int) (*vault.Vault, *clock.Fake) {
	b.Helper()
	ctx := context.Background()
	keys, err := vault.LoadKeyring(filepath.Join(b.TempDir(), "keyring.json"), "", true)
	if err != nil {
		b.Fatal(err)
	}
	clk := clock.NewFake(t0)
	v := vault.New(db, keys, clk)
	if err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO shops (id, name, currency, language, created_at, updated_at) VALUES ($1, 'bench', 'EUR', 'fr', 1, 1)`, shopA)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	p, err := card.ParsePAN(testPANs[0])
	if err != nil {
		b.Fatal(err)
	}
	r := vault.TokenizeRequest{ShopID: shopA, Mode: "TEST", PAN: p, Expiry: card.Expiry{Month: 6, Year: 2032}}
	const chunk = 5000
	for done := 0; done < n; done += chunk {
		err := db.Write(ctx, func(tx *sql.Tx) error {
			for i := 0; i < chunk && done+i < n; i++ {
				if _, err := v.Tokenize(ctx, tx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return v, clk
}
