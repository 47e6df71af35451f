package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/openpsp/openpsp/internal/store"
)

// A migration that rebuilds an index (0035's unique index on tokens) ran
// for minutes on a large database with nothing said until the end. Migrate
// now tells its caller of each migration it applies, before it starts and
// once it committed, in order; and nothing when there is nothing to apply.
func TestMigrateReportsEachMigration(t *testing.T) {
	for _, eng := range unmigratedEngines() {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			db := eng.open(t)
			if _, err := db.MigrateTo(ctx, "0033_pending_started_cancel_refusals"); err != nil {
				t.Fatal(err)
			}
			var steps []store.MigrationStep
			applied, err := db.MigrateReporting(ctx, func(s store.MigrationStep) { steps = append(steps, s) })
			if err != nil {
				t.Fatal(err)
			}
			if len(applied) < 2 || !slices.Contains(applied, "0035_token_per_mode") {
				t.Fatalf("applied %v, want 0034 onwards", applied)
			}
			if len(steps) != 2*len(applied) {
				t.Fatalf("%d steps for %d migrations: %+v", len(steps), len(applied), steps)
			}
			for i, v := range applied {
				start, done := steps[2*i], steps[2*i+1]
				if start.Version != v || start.Done || done.Version != v || !done.Done || done.Took <= 0 ||
					start.N != i+1 || done.N != i+1 || start.Of != len(applied) || done.Of != len(applied) {
					t.Errorf("migration %s: steps %+v then %+v, want its start then its end with its duration", v, start, done)
				}
			}
			steps = nil
			if applied, err := db.MigrateReporting(ctx, func(s store.MigrationStep) { steps = append(steps, s) }); err != nil || len(applied) != 0 || len(steps) != 0 {
				t.Errorf("nothing to apply: applied %v, steps %+v, %v", applied, steps, err)
			}
		})
	}
}
