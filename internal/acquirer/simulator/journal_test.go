package simulator_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/store"
)

// The store implements the journal; this external test package may import
// it (the simulator itself must not), so it hands the internal tests a way
// to open one: a copy of a SQLite file migrated once, since migrating a
// fresh database for each of the many small tests would cost more than the
// tests themselves.
func init() {
	simulator.OpenTestJournal = openJournal
}

var (
	templateDir  string
	templateOnce sync.Once
	templateErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if templateDir != "" {
		os.RemoveAll(templateDir)
	}
	os.Exit(code)
}

func openJournal(t testing.TB) simulator.Journal {
	t.Helper()
	templateOnce.Do(func() {
		templateDir, templateErr = os.MkdirTemp("", "simulator-journal-")
		if templateErr != nil {
			return
		}
		var db *store.DB
		db, templateErr = store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(templateDir, "template.db")})
		if templateErr != nil {
			return
		}
		_, templateErr = db.Migrate(context.Background())
		if err := db.Close(); templateErr == nil {
			templateErr = err
		}
	})
	if templateErr != nil {
		t.Fatalf("journal template: %v", templateErr)
	}
	path := filepath.Join(t.TempDir(), "openpsp.db")
	if err := copyFile(filepath.Join(templateDir, "template.db"), path); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), store.Options{SQLitePath: path})
	if err != nil {
		t.Fatalf("open journal: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func copyFile(from, to string) error {
	if _, err := os.Stat(from + "-wal"); err == nil {
		return fmt.Errorf("template %s was not checkpointed", from)
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
