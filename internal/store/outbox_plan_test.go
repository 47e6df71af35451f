package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The claim queries must use the partial indexes they are written for: with
// any other plan a claim reads every PENDING message once per PENDING
// message, and a backlog of a few thousand messages stalls the single
// writer (measured: minutes per claim with 14,000 messages waiting).
func TestOutboxClaimPlanOnSQLite(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{SQLitePath: filepath.Join(t.TempDir(), "plan.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		q    string
		args []any
	}{"claim": {db.claimQuery(), []any{"i", 1, 2, 16}}, "due": {db.dueQuery(), []any{2}}} {
		joined := queryPlan(t, db, c.q, c.args...)
		if !strings.Contains(joined, "outbox_due") || !strings.Contains(joined, "outbox_head (channel=? AND ordering_key=?)") ||
			strings.Contains(joined, "outbox_listing") {
			t.Fatalf("%s query plan:\n%s", name, joined)
		}
	}
}
