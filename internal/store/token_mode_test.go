package store_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// A token value is unique per shop and mode (migration 0035): the TEST and
// PRODUCTION aliases "CUST42" are two tokens, each read, used, changed and
// purged on its own, and a second "CUST42" in one mode is still refused.
// The look-ups by value keep an index on both engines: the payment path's
// read of the token and the settlement's record of its use, as well as
// the other statements that name a token by shop, mode and value.
func TestTokenValuePerMode(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)
		const shopID = "11111111"
		v := shopVault(t, db, shopID, now)
		cards := map[string]string{"TEST": "4970100000000055", "PRODUCTION": "5100010000002045"}
		for _, mode := range []string{"TEST", "PRODUCTION"} {
			pan, _ := card.ParsePAN(cards[mode])
			if _, err := v.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: shopID, Mode: mode, Token: "CUST42", PAN: pan,
				Expiry: card.Expiry{Month: 12, Year: 2032}, Origin: "DIRECTLINK"}); err != nil {
				t.Fatalf("%s CUST42: %v", mode, err)
			}
		}
		pan, _ := card.ParsePAN("4970110000000013")
		if _, err := v.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: shopID, Mode: "TEST", Token: "CUST42", PAN: pan,
			Expiry: card.Expiry{Month: 12, Year: 2032}}); !errors.Is(err, vault.ErrTokenExists) {
			t.Fatalf("a second TEST CUST42: %v, want ErrTokenExists", err)
		}
		for mode, want := range cards {
			got, _, tok, err := v.Card(ctx, shopID, mode, "CUST42")
			if err != nil || got.Reveal() != want || tok.Mode != mode {
				t.Fatalf("%s CUST42: %s, %+v, %v", mode, got.Last4(), tok, err)
			}
		}
		// A change of one mode's token leaves the other's alone.
		if _, err := v.Cancel(ctx, shopID, "TEST", "CUST42"); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := v.Card(ctx, shopID, "PRODUCTION", "CUST42"); err != nil {
			t.Fatalf("PRODUCTION CUST42 after the TEST one's cancellation: %v", err)
		}
		if err := db.Write(ctx, func(tx *sql.Tx) error {
			_, err := db.PurgeTokenTx(tx, shopID, "PRODUCTION", "CUST42", now)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if rec, err := db.Token(ctx, shopID, "TEST", "CUST42"); err != nil || rec.Status != vault.StatusCancelled || len(rec.Ciphertext) == 0 {
			t.Fatalf("TEST CUST42 after the PRODUCTION one's purge: %+v, %v", rec.Token, err)
		}

		touch, touchArgs := store.TouchTokenStmt(store.TokenUse{ShopID: shopID, Mode: "TEST", Token: "CUST42", At: now})
		for _, c := range []struct {
			name, q string
			args    []any
		}{
			{"the read of a token (payment by token)", store.TokenRecordQuery, []any{shopID, "TEST", "CUST42"}},
			{"the record of a token's use (settlement)", touch, touchArgs},
		} {
			plan := store.QueryPlan(t, db, c.q, c.args...)
			if !strings.Contains(plan, "tokens_shop_mode_token") || strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "SCAN t") {
				t.Errorf("%s: want tokens_shop_mode_token, plan:\n%s", c.name, plan)
			}
		}
	})
}

// A database that a release before migration 0035 left, with a TEST alias
// CUST42, upgrades: the alias is still there and still unique in its mode,
// and the PRODUCTION alias of that name can now be stored beside it.
func TestUpgradeTokenValuePerMode(t *testing.T) {
	for _, eng := range unmigratedEngines() {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			db := eng.open(t)
			if _, err := db.MigrateTo(ctx, "0034_retrying_operations"); err != nil {
				t.Fatal(err)
			}
			const shopID = "11111111"
			exec(t, db, `INSERT INTO shops (id, name, currency, language, created_at, updated_at)
				VALUES ($1, 'shop', 'EUR', 'fr', 1, 1)`, shopID)
			exec(t, db, `INSERT INTO tokens (id, shop_id, token, mode, status, created_at, updated_at, last_used_at)
				VALUES ('t1', $1, 'CUST42', 'TEST', 'ACTIVE', 1, 1, 1)`, shopID)
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			v := testVault(t, db, time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC))
			pan, _ := card.ParsePAN("4970100000000055")
			req := vault.TokenizeRequest{ShopID: shopID, Mode: "TEST", Token: "CUST42", PAN: pan, Expiry: card.Expiry{Month: 12, Year: 2032}}
			if _, err := v.TokenizeNow(ctx, req); !errors.Is(err, vault.ErrTokenExists) {
				t.Fatalf("a second TEST CUST42 after the upgrade: %v, want ErrTokenExists", err)
			}
			req.Mode = "PRODUCTION"
			if _, err := v.TokenizeNow(ctx, req); err != nil {
				t.Fatalf("PRODUCTION CUST42 after the upgrade: %v", err)
			}
			if tok, err := v.Get(ctx, shopID, "TEST", "CUST42"); err != nil || tok.ID != "t1" {
				t.Fatalf("the TEST CUST42 after the upgrade: %+v %v", tok, err)
			}
		})
	}
}
