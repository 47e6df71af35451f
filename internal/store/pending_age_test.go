package store_test

import (
	"context"
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
