package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// RetryingOps tells, for /metrics, the captures and deferred
// authorizations the acquirer could not take that wait for their retry:
// released, they are not pending, so an acquirer down for hours showed in
// no metric. It counts the due ones only, with the date the oldest was
// due, through a partial index that holds only retries: not the captures
// still to come, nor those claimed or made.
func TestRetryingOpsCountDueRetriesThroughTheirIndex(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
		captureShop(t, db, now)
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
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]store.PendingOp{
			"CAPTURE":   {Count: 3, OldestStart: now.Add(-3 * time.Hour)},
			"AUTHORISE": {Count: 2, OldestStart: now},
		}
		if len(got) != len(want) {
			t.Fatalf("retrying operations: %+v, want %+v", got, want)
		}
		for op, w := range want {
			if g := got[op]; g.Count != w.Count || !g.OldestStart.Equal(w.OldestStart) {
				t.Errorf("retrying %s: %+v, want %+v", op, g, w)
			}
		}

		plan := store.QueryPlan(t, db, store.RetryingOpsQuery, store.Micros(now))
		if !strings.Contains(plan, "transactions_retrying") || strings.Contains(plan, "Seq Scan") {
			t.Errorf("retrying operations: want the index transactions_retrying, plan:\n%s", plan)
		}
	})
}
