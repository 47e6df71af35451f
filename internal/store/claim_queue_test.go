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
	u := storetest.NewPostgresDatabase(t)
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
