// Package storetest opens real databases for tests: a SQLite file in a
// temporary folder, and a fresh PostgreSQL database per test that is dropped
// afterwards. PostgreSQL comes from OPENPSP_TEST_POSTGRES_URL, else the
// server on 127.0.0.1:5432; when none answers the PostgreSQL half is skipped
// with a visible notice, except under CI=true where that is a failure.
//
// A package whose TestMain calls Main (or Run) migrates once per engine:
// its first migrated database is a template, and each test gets a copy of
// it (CREATE DATABASE … TEMPLATE on PostgreSQL, a file copy on SQLite)
// instead of running every migration again (about 1.8 s a test on
// PostgreSQL under the race detector; each SQLite migration commits with
// an fsync, seconds in all on a busy disk).
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/store"
)

// DefaultPostgresURL is the server the tests use when
// OPENPSP_TEST_POSTGRES_URL is not set.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Engine is a database engine under test.
type Engine struct {
	Name string
	Open func(t testing.TB) *store.DB
}

// Engines returns SQLite and PostgreSQL, for store suites that must pass on both.
func Engines() []Engine {
	return []Engine{{Name: "sqlite", Open: SQLite}, {Name: "postgres", Open: Postgres}}
}

// ForEach runs fn as a subtest on each engine with a freshly migrated database.
func ForEach(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, e := range Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, e.Open(t)) })
	}
}

// SQLite opens and migrates a SQLite database in a temporary folder.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "openpsp.db")
	if err := copyMigratedSQLite(path); err != nil {
		t.Fatalf("sqlite template: %v", err)
	}
	db, err := store.Open(context.Background(), store.Options{SQLitePath: path})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	// A copy of the template applies nothing here; the call still checks
	// that the copy is at this binary's schema, as a fresh database is.
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// copyMigratedSQLite writes, under Main, a copy of the binary's migrated
// SQLite template at path (its WAL too, if the last connection left one:
// closed, the pair is consistent); without Main it writes nothing, and
// Open creates an empty database there.
func copyMigratedSQLite(path string) error {
	template.mu.Lock()
	defer template.mu.Unlock()
	if !template.enabled {
		return nil
	}
	if template.sqliteDir == "" {
		dir, err := os.MkdirTemp("", "openpsp-sqlite-template-")
		if err != nil {
			return err
		}
		ctx := context.Background()
		db, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(dir, "openpsp.db")})
		if err == nil {
			_, err = db.Migrate(ctx)
			if cerr := db.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			_ = os.RemoveAll(dir)
			return err
		}
		template.sqliteDir = dir
	}
	for _, suffix := range []string{"", "-wal"} {
		body, err := os.ReadFile(filepath.Join(template.sqliteDir, "openpsp.db") + suffix)
		if suffix == "-wal" && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(path+suffix, body, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Postgres opens and migrates a fresh PostgreSQL database, dropped at cleanup.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	u := NewMigratedPostgresDatabase(t)
	db, err := store.Open(context.Background(), store.Options{URL: u})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	// A copy of the template applies nothing here; the call still checks
	// that the copy is at this binary's schema, as a fresh database is.
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db
}

// template is the migrated database a test binary's PostgreSQL databases
// are copied from. Each binary (go test runs packages side by side) makes
// its own, under a random name: none waits for or drops another's, and a
// template can never be older than the migrations of the binary using it.
var template struct {
	mu        sync.Mutex
	enabled   bool // TestMain called Run: someone drops the template at the end
	name      string
	err       error
	sqliteDir string // the folder of the migrated SQLite template, "" none yet
}

// Main runs a package's tests (m.Run) with one migrated template per
// engine for all of them, removes them, and exits. Use it from TestMain:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m.Run)) }

// Run is Main for a TestMain that also needs another wrapper around
// m.Run: it returns run's exit code instead of exiting. The templates are
// removed when run returns.
func Run(run func() int) int {
	template.mu.Lock()
	template.enabled = true
	template.mu.Unlock()
	defer dropTemplate()
	return run()
}

// NewMigratedPostgresDatabase returns the URL of a fresh PostgreSQL
// database on which every migration has run; it is dropped when the test
// ends. Under Main it is a copy of the binary's template; without it, the
// migrations run on an empty database (nothing would drop a template).
func NewMigratedPostgresDatabase(t testing.TB) string {
	t.Helper()
	RequirePostgres(t)
	template.mu.Lock()
	enabled := template.enabled
	template.mu.Unlock()
	if !enabled {
		u := NewPostgresDatabase(t)
		if err := migrate(u); err != nil {
			t.Fatalf("migrate postgres: %v", err)
		}
		return u
	}
	name, err := migratedTemplate()
	if err != nil {
		t.Fatalf("postgres template: %v", err)
	}
	return newDatabase(t, name)
}

// migratedTemplate creates and migrates the binary's template the first
// time it is asked for. Nothing stays connected to it: PostgreSQL copies
// only a database no session uses.
func migratedTemplate() (string, error) {
	template.mu.Lock()
	defer template.mu.Unlock()
	if template.name != "" || template.err != nil {
		return template.name, template.err
	}
	name := "openpsp_tpl_" + ids.RandomHex(6)
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		template.err = err
		return "", err
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		template.err = err
		return "", err
	}
	u, err := databaseURL(name)
	if err == nil {
		err = migrate(u)
	}
	if err != nil {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		template.err = err
		return "", err
	}
	template.name = name
	return name, nil
}

func migrate(u string) error {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{URL: u})
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Migrate(ctx)
	return err
}

func dropTemplate() {
	template.mu.Lock()
	defer template.mu.Unlock()
	if template.sqliteDir != "" {
		_ = os.RemoveAll(template.sqliteDir)
		template.sqliteDir = ""
	}
	if template.name == "" {
		return
	}
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		fmt.Fprintf(os.Stderr, "storetest: template %s left behind: %v\n", template.name, err)
		return
	}
	defer admin.Close()
	if _, err := admin.Exec("DROP DATABASE IF EXISTS " + template.name + " WITH (FORCE)"); err != nil {
		fmt.Fprintf(os.Stderr, "storetest: template %s left behind: %v\n", template.name, err)
	}
	template.name = ""
}

var (
	probeOnce sync.Once
	probeErr  error
)

// AdminURL returns the PostgreSQL URL tests connect to for creating databases.
func AdminURL() string {
	if u := os.Getenv("OPENPSP_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// RequirePostgres skips t (or fails it under CI=true) when no PostgreSQL answers.
func RequirePostgres(t testing.TB) {
	t.Helper()
	probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		pool, err := pgxpool.New(ctx, AdminURL())
		if err == nil {
			err = pool.Ping(ctx)
			pool.Close()
		}
		probeErr = err
	})
	if probeErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI=true but %s does not answer: %v", redact(AdminURL()), probeErr)
		}
		fmt.Fprintf(os.Stderr, "NOTICE: skipping PostgreSQL tests: %s does not answer (%v)\n", redact(AdminURL()), probeErr)
		t.Skipf("PostgreSQL not reachable at %s: %v", redact(AdminURL()), probeErr)
	}
}

// NewPostgresDatabase creates an empty database and returns its URL; the
// database is dropped when the test ends.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	RequirePostgres(t)
	return newDatabase(t, "")
}

// newDatabase creates a database, a copy of database from unless it is "",
// and returns its URL; the database is dropped when the test ends.
func newDatabase(t testing.TB, from string) string {
	t.Helper()
	name := "openpsp_test_" + strings.ReplaceAll(ids.RandomHex(6), "-", "")
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		t.Fatalf("postgres admin: %v", err)
	}
	create := "CREATE DATABASE " + name
	if from != "" {
		create += " TEMPLATE " + from
	}
	if _, err := admin.Exec(create); err != nil {
		admin.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	u, err := databaseURL(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// databaseURL is AdminURL with the database name replaced.
func databaseURL(name string) (string, error) {
	u, err := url.Parse(AdminURL())
	if err != nil {
		return "", fmt.Errorf("postgres url: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

var _ = stdlib.GetDefaultDriver // the "pgx" database/sql driver is registered by importing stdlib
