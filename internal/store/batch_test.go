package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// openIDs opens a SQLite database in a temporary folder with one table of
// integer ids, name.
func openIDs(t *testing.T, name string) *DB {
	t.Helper()
	db, err := Open(context.Background(), Options{SQLitePath: filepath.Join(t.TempDir(), name+".db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Writer().Exec(`CREATE TABLE ` + name + ` (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// idsOf lists the ids query returns, as "[1 3 4]".
func idsOf(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.Reader().Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return fmt.Sprint(ids)
}

// A batch runs without savepoints until one of its requests fails: then it
// is rolled back, run again with a savepoint per request (the failing one
// alone undone), and the following batches take savepoints from the start.
func TestBatchWithoutSavepointsFallsBack(t *testing.T) {
	ctx := context.Background()
	db := openIDs(t, "b")
	runs := map[int]int{}
	req := func(id int, fail bool) *writeReq {
		return &writeReq{ctx: ctx, done: make(chan error, 1), fn: func(tx *sql.Tx) error {
			runs[id]++
			if _, err := tx.Exec(`INSERT INTO b (id) VALUES ($1)`, id); err != nil {
				return err
			}
			if fail {
				return errors.New("refused")
			}
			return nil
		}}
	}
	b := db.batch
	_, results, err := b.shared([]*writeReq{req(1, false), req(2, true), req(3, false)})
	if err != nil {
		t.Fatal(err)
	}
	if results[0] != nil || results[1] == nil || results[2] != nil {
		t.Fatalf("results = %v", results)
	}
	if runs[1] != 2 || runs[2] != 2 || runs[3] != 1 {
		t.Fatalf("runs = %v: the plain run stops at the failure, then all run with savepoints", runs)
	}
	if got := b.savepointBatches.Load(); got != savepointBatchesAfterFailure {
		t.Fatalf("savepoint batches = %d", got)
	}
	clear(runs)
	if _, _, err := b.shared([]*writeReq{req(4, false)}); err != nil {
		t.Fatal(err)
	}
	if got := b.savepointBatches.Load(); got != savepointBatchesAfterFailure-1 {
		t.Fatalf("savepoint batches after one more = %d", got)
	}
	if got := idsOf(t, db, `SELECT id FROM b ORDER BY id`); got != "[1 3 4]" {
		t.Fatalf("rows = %s, want [1 3 4]", got)
	}
}

// The writer connection never checkpoints (wal_autocheckpoint 0): the
// checkpointer's own connection copies the committed pages into the
// database file.
func TestCheckpointerMovesTheWALIntoTheDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(ctx, Options{SQLitePath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var auto int
	if err := db.Writer().QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("writer wal_autocheckpoint = %d (%v), want 0", auto, err)
	}
	if _, err := db.Writer().Exec(`CREATE TABLE c (id INTEGER PRIMARY KEY, pad BLOB)`); err != nil {
		t.Fatal(err)
	}
	pad := make([]byte, 4000)
	for i := 0; i < 500; i++ {
		if err := db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO c (id, pad) VALUES ($1, $2)`, i, pad)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() >= 500*4000 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file is %d bytes after 10 s: the WAL was not checkpointed", st.Size())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// While the WAL syncer works on the previous commit, the writer keeps its
// transaction open and takes in the writes that arrive: they share one
// commit. A write taken in that fails is undone alone (the whole batch runs
// again with savepoints), and the others stay committed.
func TestWritesArrivingDuringASyncShareTheCommit(t *testing.T) {
	ctx := context.Background()
	db := openIDs(t, "s")
	for _, failTaken := range []bool{false, true} {
		base := 10
		if failTaken {
			base = 20
		}
		wal := db.batch.wal
		// As if a commit were being synced: the syncer itself is idle
		// (the last write's sync is long done, its wake-up dropped), so
		// only this test ends the "sync".
		time.Sleep(20 * time.Millisecond)
		select {
		case <-wal.idle:
		default:
		}
		wal.syncing.Store(true)
		before := db.WriteStats()
		ran := make(chan int, 8)
		write := func(id int, fail bool) chan error {
			done := make(chan error, 1)
			go func() {
				done <- db.Write(ctx, func(tx *sql.Tx) error {
					ran <- id
					if _, err := tx.Exec(`INSERT INTO s (id) VALUES ($1)`, id); err != nil {
						return err
					}
					if fail {
						return errors.New("refused")
					}
					return nil
				})
			}()
			return done
		}
		first := write(base+1, false)
		if id := <-ran; id != base+1 {
			t.Fatalf("ran %d", id)
		}
		second := write(base+2, failTaken)
		if id := <-ran; id != base+2 {
			t.Fatalf("ran %d", id)
		}
		if !failTaken {
			// (A failure ends the taking in: the batch runs again with
			// savepoints and commits at once.)
			select {
			case err := <-first:
				t.Fatalf("the first write was answered (%v) before the sync it waits behind ended", err)
			case <-time.After(50 * time.Millisecond):
			}
		}
		wal.syncing.Store(false)
		select {
		case wal.idle <- struct{}{}:
		default:
		}
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		err := <-second
		if failTaken != (err != nil) {
			t.Fatalf("the write taken in: %v", err)
		}
		st := db.WriteStats()
		if c, r := st.Commits-before.Commits, st.Requests-before.Requests; c != 1 || r != 2 {
			t.Fatalf("%d commits for %d writes, want 1 for 2", c, r)
		}
		want := fmt.Sprint([]int{base + 1, base + 2})
		if failTaken {
			want = fmt.Sprint([]int{base + 1})
		}
		if got := idsOf(t, db, `SELECT id FROM s WHERE id > $1 ORDER BY id`, base); got != want {
			t.Fatalf("rows %s, want %s", got, want)
		}
	}
}
