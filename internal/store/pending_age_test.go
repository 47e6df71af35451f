package store_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// PendingOps tells, for /metrics, when the oldest pending operation of each
// kind was claimed, however many times recovery claimed it since:
// ClaimPendingOps renews pending_since (its lease) at each round, so an
// operation stuck for an hour would otherwise look a recovery period old.
// The query reads the partial index of pending operations, not the table.
func TestPendingOpsTellTheOldestClaimThroughRecoveryRounds(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
		captureShop(t, db, now)
		addCaptures(t, db, "early", 2, now, time.Time{})
		if got, err := db.ClaimCaptures(ctx, now, 10); err != nil || len(got) != 2 {
			t.Fatalf("capture claim: %d %v", len(got), err)
		}
		later := now.Add(3 * time.Minute)
		addCaptures(t, db, "later", 1, later, time.Time{})
		if got, err := db.ClaimCaptures(ctx, later, 10); err != nil || len(got) != 1 {
			t.Fatalf("capture claim: %d %v", len(got), err)
		}
		for _, round := range []time.Duration{5 * time.Minute, 10 * time.Minute} {
			at := now.Add(round)
			if got, err := db.ClaimPendingOps(ctx, at, at, 10); err != nil || len(got) != 3 {
				t.Fatalf("recovery claim at +%v: %d %v", round, len(got), err)
			}
		}
		got, err := db.PendingOps(ctx)
		if err != nil || len(got) != 1 {
			t.Fatalf("pending operations: %v %v", got, err)
		}
		if c := got["CAPTURE"]; c.Count != 3 || !c.OldestStart.Equal(now) {
			t.Fatalf("pending captures: %+v, want 3 claimed first at %v", c, now)
		}

		plan := store.QueryPlan(t, db, store.PendingOpsQuery)
		if !strings.Contains(plan, "transactions_pending") || strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "SCAN transactions\n") ||
			strings.HasSuffix(plan, "SCAN transactions") {
			t.Errorf("pending operations: want the index transactions_pending, plan:\n%s", plan)
		}
	})
}

// A database a release before migration 0033 left upgrades with what the
// new columns mean: an operation pending then started at its lease
// (pending_started_at), and a cancellation recovery found refused (an
// AUTHORISED debit with errorCode ACQ_001) counts (cancel_refusals 1: the
// next one gets its own operation id). A pending cancellation was not
// refused yet.
func TestUpgradeCountsTheCancellationsAlreadySent(t *testing.T) {
	for _, eng := range unmigratedEngines() {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			db := eng.open(t)
			if _, err := db.MigrateTo(ctx, "0032_directlink_password_key"); err != nil {
				t.Fatal(err)
			}
			since := time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)
			exec(t, db, `INSERT INTO shops (id, name, currency, language, created_at, updated_at)
				VALUES ('11111111', 'shop', 'EUR', 'fr', 1, 1)`)
			for _, tx := range []struct{ uuid, pendingOp, errorCode string }{
				{"pending", "CANCEL", ""}, {"refused", "", "ACQ_001"}, {"capturing", "CAPTURE", ""}, {"plain", "", ""},
			} {
				var pendingSince any
				if tx.pendingOp != "" {
					pendingSince = store.Micros(since)
				}
				exec(t, db, `INSERT INTO payments (id, shop_id, mode, amount, currency, order_status, order_cycle, created_at, updated_at)
					VALUES ($1, '11111111', 'TEST', 1000, 'EUR', 'PAID', 'OPEN', 1, 1)`, "p-"+tx.uuid)
				exec(t, db, `INSERT INTO transactions (uuid, shop_id, payment_id, mode, operation_type, amount, currency,
					status, detailed_status, error_code, pending_op, pending_op_id, pending_since, created_at, updated_at)
					VALUES ($1, '11111111', 'p-' || $1, 'TEST', 'DEBIT', 1000, 'EUR', 'PAID', 'AUTHORISED', $2, $3, $4, $5, 1, 1)`,
					tx.uuid, tx.errorCode, tx.pendingOp, tx.uuid+"-op", pendingSince)
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			want := map[string]struct {
				refusals int
				started  time.Time
			}{"pending": {0, since}, "refused": {1, time.Time{}}, "capturing": {0, since}, "plain": {0, time.Time{}}}
			for uuid, w := range want {
				var got store.TransactionRecord
				err := db.Write(ctx, func(tx *sql.Tx) error {
					var err error
					got, err = store.LockTransaction(tx, db.Dialect(), "", uuid)
					return err
				})
				if err != nil || got.CancelRefusals != w.refusals || !got.PendingStartedAt.Equal(w.started) {
					t.Errorf("%s after the upgrade: cancel_refusals %d, pending_started_at %v (%v); want %d, %v",
						uuid, got.CancelRefusals, got.PendingStartedAt, err, w.refusals, w.started)
				}
			}
		})
	}
}
