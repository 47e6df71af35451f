package store_test

import (
	"context"
	"database/sql"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// The /metrics queries of operations (PendingOps, RetryingOps, DueOps)
// on both engines: what each counts, and that each reads its
// index, not the table.

// forEachCaptureDB runs test on each engine, its database holding the
// shop of addCaptures, at now.
func forEachCaptureDB(t *testing.T, test func(t *testing.T, ctx context.Context, db *store.DB, now time.Time)) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
		captureShop(t, db, now)
		test(t, context.Background(), db, now)
	})
}

// wantOps checks what a /metrics query of operations read: got (err)
// holds the operations of want, with their counts and oldest times.
func wantOps(t *testing.T, what string, got map[string]store.PendingOp, err error, want map[string]store.PendingOp) {
	t.Helper()
	if err != nil || len(got) != len(want) {
		t.Fatalf("%s: %+v %v, want %+v", what, got, err, want)
	}
	for op, w := range want {
		if g := got[op]; g.Count != w.Count || !g.OldestStart.Equal(w.OldestStart) {
			t.Errorf("%s %s: %+v, want %+v", what, op, g, w)
		}
	}
}

// wantIndexPlan checks that query q (args) reads index and never scans
// the table whole (PostgreSQL's Seq Scan, SQLite's bare SCAN), and
// returns the plan.
func wantIndexPlan(t *testing.T, db *store.DB, what, index, q string, args ...any) string {
	t.Helper()
	plan := store.QueryPlan(t, db, q, args...)
	if !strings.Contains(plan, index) || strings.Contains(plan, "Seq Scan") || slices.Contains(strings.Split(plan, "\n"), "SCAN transactions") {
		t.Errorf("%s: want the index %s, plan:\n%s", what, index, plan)
	}
	return plan
}

// wantKeyRange checks that plan reads a range of index's key (SQLite's
// SEARCH on <expr>, PostgreSQL's Index Cond), not the whole index: a
// partial index holding every operation still to come.
func wantKeyRange(t *testing.T, what, index, plan string) {
	t.Helper()
	pg := regexp.MustCompile(`Index Scan using ` + index + ` on .*\n\s+Index Cond: `)
	if !strings.Contains(plan, "SEARCH transactions USING INDEX "+index+" (<expr><?)") && !pg.MatchString(plan) {
		t.Errorf("%s: want a range of the key of %s, plan:\n%s", what, index, plan)
	}
}

// PendingOps tells, for /metrics, when the oldest pending operation of each
// kind was claimed, however many times recovery claimed it since:
// ClaimPendingOps renews pending_since (its lease) at each round, so an
// operation stuck for an hour would otherwise look a recovery period old.
// The query reads the partial index of pending operations, not the table.
func TestPendingOpsTellTheOldestClaimThroughRecoveryRounds(t *testing.T) {
	forEachCaptureDB(t, func(t *testing.T, ctx context.Context, db *store.DB, now time.Time) {
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
		wantOps(t, "pending operations", got, err, map[string]store.PendingOp{"CAPTURE": {Count: 3, OldestStart: now}})
		wantIndexPlan(t, db, "pending operations", "transactions_pending", store.PendingOpsQuery)
	})
}

// RetryingOps tells, for /metrics, the captures and deferred
// authorizations the acquirer could not take that wait for their retry:
// released, they are not pending, so an acquirer down for hours showed in
// no metric. It counts the due ones only, with the date the oldest was
// due, through a partial index that holds only retries: not the captures
// still to come, nor those claimed or made.
func TestRetryingOpsCountDueRetriesThroughTheirIndex(t *testing.T) {
	forEachCaptureDB(t, func(t *testing.T, ctx context.Context, db *store.DB, now time.Time) {
		// addCaptures dates each capture an hour before its now.
		addCaptures(t, db, "old", 2, now.Add(-2*time.Hour), now.Add(time.Hour))
		addCaptures(t, db, "recent", 1, now, now.Add(time.Minute))
		addCaptures(t, db, "ready", 3, now, time.Time{})
		addCaptures(t, db, "moved", 1, now.Add(5*time.Hour), now.Add(time.Minute))
		addCaptures(t, db, "made", 1, now.Add(-5*time.Hour), now.Add(time.Minute))
		exec(t, db, `UPDATE transactions SET detailed_status = 'CAPTURED' WHERE uuid LIKE 'made-%'`)
		// A deferred authorization is due a day before its capture date.
		addCaptures(t, db, "deferred", 2, now.Add(25*time.Hour), now.Add(30*time.Second))
		addCaptures(t, db, "later", 1, now.Add(49*time.Hour), now.Add(30*time.Second))
		exec(t, db, `UPDATE transactions SET detailed_status = 'WAITING_AUTHORISATION' WHERE uuid LIKE 'deferred-%' OR uuid LIKE 'later-%'`)
		addCaptures(t, db, "claimed", 1, now.Add(-6*time.Hour), now.Add(-time.Minute))
		if got, err := db.ClaimCaptures(ctx, now, 10); err != nil || len(got) != 4 {
			t.Fatalf("capture claim: %d %v", len(got), err)
		}

		got, err := db.RetryingOps(ctx, now)
		wantOps(t, "retrying operations", got, err, map[string]store.PendingOp{
			"CAPTURE":   {Count: 3, OldestStart: now.Add(-3 * time.Hour)},
			"AUTHORISE": {Count: 2, OldestStart: now},
		})
		wantIndexPlan(t, db, "retrying operations", "transactions_retrying", store.RetryingOpsQuery, store.Micros(now))
	})
}

// DueOps tells, for /metrics, the captures and deferred authorizations
// due that no run of their job tried yet (the job stuck or slow), with the
// date the oldest of each was due (a deferred authorization's, the day
// before its capture date): they are neither pending nor retrying, and
// showed in no metric. It counts neither those to come, claimed, made or
// retrying (RetryingOps counts those), nor other statuses, and reads each
// job's claim index.
func TestDueOpsCountTheNeverTriedThroughTheClaimIndexes(t *testing.T) {
	forEachCaptureDB(t, func(t *testing.T, ctx context.Context, db *store.DB, now time.Time) {
		// addCaptures dates each capture an hour before its now; deferred
		// sets their status for an authorization due a day before that.
		deferred := func(prefix string, at, retryAt time.Time, status string) {
			addCaptures(t, db, prefix, 1, at, retryAt)
			exec(t, db, `UPDATE transactions SET detailed_status = $1 WHERE uuid LIKE $2`, status, prefix+"-%")
		}
		addCaptures(t, db, "claimed", 1, now.Add(-5*time.Hour), time.Time{})
		if got, err := db.ClaimCaptures(ctx, now, 1); err != nil || len(got) != 1 || got[0].UUID != "claimed-0000" {
			t.Fatalf("capture claim: %+v %v", got, err)
		}
		deferred("authclaimed", now.Add(-5*time.Hour), time.Time{}, "WAITING_AUTHORISATION")
		if got, err := db.ClaimAuthorizations(ctx, now, 1); err != nil || len(got) != 1 || got[0].UUID != "authclaimed-0000" {
			t.Fatalf("authorization claim: %+v %v", got, err)
		}
		addCaptures(t, db, "early", 2, now.Add(-time.Hour), time.Time{})
		addCaptures(t, db, "ready", 1, now, time.Time{})
		addCaptures(t, db, "future", 1, now.Add(2*time.Hour), time.Time{})
		addCaptures(t, db, "waiting", 1, now.Add(-3*time.Hour), now.Add(time.Minute))
		addCaptures(t, db, "retried", 1, now.Add(-3*time.Hour), now.Add(-time.Minute))
		addCaptures(t, db, "made", 1, now.Add(-4*time.Hour), time.Time{})
		exec(t, db, `UPDATE transactions SET detailed_status = 'CAPTURED' WHERE uuid LIKE 'made-%'`)
		deferred("deferred", now.Add(-4*time.Hour), time.Time{}, "WAITING_AUTHORISATION") // due 29 hours ago
		deferred("tomorrow", now.Add(20*time.Hour), time.Time{}, "WAITING_AUTHORISATION") // due 5 hours ago
		deferred("later", now.Add(30*time.Hour), time.Time{}, "WAITING_AUTHORISATION")    // due in 5 hours
		deferred("authwaiting", now, now.Add(time.Minute), "WAITING_AUTHORISATION")
		deferred("authretried", now, now.Add(-time.Minute), "WAITING_AUTHORISATION")
		deferred("tovalidate", now.Add(-4*time.Hour), time.Time{}, "WAITING_AUTHORISATION_TO_VALIDATE")

		got, err := db.DueOps(ctx, now)
		wantOps(t, "due operations", got, err, map[string]store.PendingOp{
			"CAPTURE":   {Count: 3, OldestStart: now.Add(-2 * time.Hour)},
			"AUTHORISE": {Count: 2, OldestStart: now.Add(-29 * time.Hour)},
		})
		got, err = db.DueOps(ctx, now.Add(-30*time.Hour))
		wantOps(t, "due operations before any", got, err, map[string]store.PendingOp{"CAPTURE": {}, "AUTHORISE": {}})
		for _, index := range []string{"transactions_capture_ready", "transactions_authorization_ready"} {
			wantKeyRange(t, "due operations", index, wantIndexPlan(t, db, "due operations", index, store.DueOpsQuery, store.Micros(now)))
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
