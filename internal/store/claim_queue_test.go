package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A background job's claim of transactions (captures, deferred
// authorizations, recovery) must not share a group-commit transaction with
// requests on PostgreSQL: the requests of its batch waited for it, and a
// capture claim of 500 rows took 2 s and more under load (the silent
// bench's slowest payments were those of its batches). Here the one batch
// worker (two pool connections) would run the claim and wait with it while
// another session holds a lock the claim needs; a write that comes after
// it must commit meanwhile.
func TestClaimsDoNotHoldTheGroupCommit(t *testing.T) {
	u := storetest.NewMigratedPostgresDatabase(t)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{URL: u, PostgresConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
	captureShop(t, db, now)
	addCaptures(t, db, "due", 1, now, time.Time{})

	other, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })

	claims := []struct {
		table string
		claim func() (int, error)
	}{
		{"transactions", func() (int, error) { c, err := db.ClaimCaptures(ctx, now, 500); return len(c), err }},
	}
	for _, c := range claims {
		t.Run(c.table, func(t *testing.T) {
			lock, err := other.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Rollback()
			// SHARE conflicts with the claim's UPDATE (ROW EXCLUSIVE).
			if _, err := lock.Exec("LOCK TABLE " + c.table + " IN SHARE MODE"); err != nil {
				t.Fatal(err)
			}
			type result struct {
				n   int
				err error
			}
			claimed := make(chan result, 1)
			go func() { n, err := c.claim(); claimed <- result{n, err} }()
			// Wait until the claim waits for the lock.
			for waiting := false; !waiting; {
				select {
				case r := <-claimed:
					t.Fatalf("the claim ended (%d, %v) while %s was locked", r.n, r.err, c.table)
				case <-time.After(10 * time.Millisecond):
				}
				err := other.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
					WHERE NOT l.granted AND c.relname = $1)`, c.table).Scan(&waiting)
				if err != nil {
					t.Fatal(err)
				}
			}
			wrote := make(chan error, 1)
			go func() {
				wrote <- db.Write(ctx, func(tx *sql.Tx) error {
					_, err := tx.Exec(`UPDATE shops SET name = name WHERE id = '11111111'`)
					return err
				})
			}()
			// Not a measure of time: the write cannot end at all before the
			// lock is released when it waits behind the claim; the bound
			// only turns that wait into a failure instead of a hang.
			select {
			case err := <-wrote:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				_ = lock.Rollback()
				t.Fatalf("a write waited for a claim blocked on %s: they shared a group-commit transaction", c.table)
			}
			if err := lock.Rollback(); err != nil {
				t.Fatal(err)
			}
			if r := <-claimed; r.err != nil || r.n != 1 {
				t.Fatalf("claimed %d (%v), want 1", r.n, r.err)
			}
		})
	}
}

// A claim takes at most its limit, and reads each candidate once, whatever
// plan PostgreSQL picks. With the subquery inside the UPDATE's IN, a nested
// loop (what the planner picked under the silent bench, the table's
// statistics not yet gathered) ran the subquery again for each row the
// UPDATE read: each run skipped the rows the statement had already updated
// and picked the next ones, so a claim of 500 took every capture due (783)
// and read about 160,000 buffers in 2 s. Hash and merge joins are turned
// off here to get that plan.
func TestClaimsTakeAtMostTheirLimit(t *testing.T) {
	u := storetest.NewMigratedPostgresDatabase(t)
	ctx := context.Background()
	admin, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`DO $$ BEGIN
		EXECUTE format('ALTER DATABASE %I SET enable_hashjoin = off', current_database());
		EXECUTE format('ALTER DATABASE %I SET enable_mergejoin = off', current_database());
	END $$`); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, store.Options{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
	captureShop(t, db, now)
	addCaptures(t, db, "due", 40, now, time.Time{})
	if _, err := db.Writer().Exec(`UPDATE transactions SET status = 'RUNNING', detailed_status = 'INITIAL', updated_at = $1
		WHERE uuid LIKE 'due-002%'`, store.Micros(now.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	got, err := db.ClaimCaptures(ctx, now, 5)
	if err != nil || len(got) != 5 {
		t.Fatalf("capture claim of 5 took %d (%v)", len(got), err)
	}
	got, err = db.ClaimRunning(ctx, now, now, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("running claim of 3 took %d (%v)", len(got), err)
	}
	got, err = db.ClaimPendingOps(ctx, now.Add(time.Second), now.Add(time.Second), 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("pending claim of 2 took %d (%v)", len(got), err)
	}
}
