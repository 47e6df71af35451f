package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// On SQLite a write is answered only after the WAL syncer's fsync that
// follows its commit; a failed fsync fails the writes it covered, marks the
// storage broken, and the next fsync that works answers writes again.
func TestWALSyncerAnswersAfterTheSync(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{SQLitePath: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wal := db.batch.wal
	if wal == nil {
		t.Fatal("SQLite with synchronous=FULL has no WAL syncer")
	}
	var mode int
	if err := db.Writer().QueryRowContext(ctx, "PRAGMA synchronous").Scan(&mode); err != nil || mode != 1 {
		t.Fatalf("writer connection synchronous=%d (%v), want 1 (NORMAL: the syncer fsyncs)", mode, err)
	}
	if _, err := db.Writer().ExecContext(ctx, `CREATE TABLE w (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	insert := func(id int) error {
		return db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO w (id) VALUES ($1)`, id)
			return err
		})
	}
	// Concurrent writes: each answer comes after a sync that followed it.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			before := wal.synced.Load()
			if err := insert(i + 1); err != nil {
				errs <- err
				return
			}
			if wal.synced.Load() <= before {
				errs <- errNotSynced
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// A sync that fails (here: the WAL cannot be opened) fails the write
	// it covered and marks the storage broken.
	path := wal.path
	wal.path = path + ".missing"
	if err := insert(1000); err == nil || !strings.Contains(err.Error(), "the WAL") {
		t.Fatalf("write under a failing sync: %v", err)
	}
	if err := db.WriteHealth(ctx); err == nil {
		t.Fatal("write health after a failed sync: ok")
	}
	// Once the sync works again, writes are answered again.
	wal.path = path
	if err := insert(1001); err != nil {
		t.Fatalf("write after the sync works again: %v", err)
	}
	// A WAL that is another file than the one open (SQLite deleted and
	// made it again) is opened again before the sync.
	stale, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	wal.f = stale
	if err := insert(1002); err != nil {
		t.Fatalf("write after the WAL changed files: %v", err)
	}
	if wal.f == stale {
		t.Fatal("the syncer kept syncing a file that is not the WAL")
	}
}

var errNotSynced = errorString("a write was answered before the WAL was synced")

type errorString string

func (e errorString) Error() string { return string(e) }
