package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// Migration 0025 drops two indexes no query reads, which only cost writes:
// transactions_parent (no query selects transactions by parent_uuid: a
// refund reaches its debit by uuid, a payment its transactions by
// payment_id) and tokens_temporary (every query on expires_at also says
// status <> 'PURGED', which tokens_temporary_live holds). The queries on
// those columns keep an index on both engines.
func TestQueriesKeepAnIndexWithoutTheDroppedOnes(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := `SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('transactions_parent', 'tokens_temporary')`
		if db.Dialect() == store.Postgres {
			q = `SELECT indexname FROM pg_indexes WHERE indexname IN ('transactions_parent', 'tokens_temporary')`
		}
		rows, err := db.Reader().QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			left = append(left, name)
		}
		rows.Close()
		if len(left) != 0 {
			t.Fatalf("indexes still there: %v", left)
		}

		now := time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)
		expired, at, err := store.PurgeWhere(vault.PurgeSelector{ExpiresBefore: now})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, q string
			indexes []string // any of them
			args    []any
		}{
			{"purge of expired temporary tokens", `SELECT id, data_key_id FROM tokens WHERE ` + expired + ` LIMIT $2`,
				[]string{"tokens_temporary_live"}, []any{at, 10}},
			{"count of expired temporary tokens", `SELECT COUNT(*) FROM tokens WHERE ` + expired,
				[]string{"tokens_temporary_live"}, []any{at}},
			{"a temporary token made permanent", `UPDATE tokens SET expires_at = NULL, store_permanently = 1, updated_at = $3
				WHERE shop_id = $1 AND token = $2 AND mode = $4 AND expires_at IS NOT NULL AND expires_at > $3 AND status <> 'PURGED'`,
				// PostgreSQL may take tokens_fingerprint, also keyed on
				// shop_id: an empty table gives it no reason to prefer.
				[]string{"tokens_shop_mode_token", "tokens_fingerprint"}, []any{"11111111", "tok", store.Micros(now), "TEST"}},
			{"a refund's debit", `SELECT uuid FROM transactions WHERE uuid = $1 AND ($2 = '' OR shop_id = $2)`,
				[]string{"sqlite_autoindex_transactions_1", "transactions_pkey"}, []any{"t1", ""}},
			{"a payment's transactions", `SELECT uuid FROM transactions WHERE payment_id = $1 ORDER BY sequence_number, created_at, uuid`,
				[]string{"transactions_payment"}, []any{"p1"}},
		} {
			plan := store.QueryPlan(t, db, c.q, c.args...)
			if !slices.ContainsFunc(c.indexes, func(ix string) bool { return strings.Contains(plan, ix) }) ||
				strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "SCAN tokens") || strings.Contains(plan, "SCAN transactions") {
				t.Errorf("%s: want an index of %v, plan:\n%s", c.name, c.indexes, plan)
			}
		}
	})
}
