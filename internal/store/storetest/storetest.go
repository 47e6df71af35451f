// Package storetest opens real databases for tests: a SQLite file in a
// temporary folder, and a fresh PostgreSQL database per test that is dropped
// afterwards. PostgreSQL comes from OPENPSP_TEST_POSTGRES_URL, else the
// server on 127.0.0.1:5432; when none answers the PostgreSQL half is skipped
// with a visible notice, except under CI=true where that is a failure.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
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
	dir := t.TempDir()
	db, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(dir, "openpsp.db")})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// Postgres opens and migrates a fresh PostgreSQL database, dropped at cleanup.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	u := NewPostgresDatabase(t)
	db, err := store.Open(context.Background(), store.Options{URL: u})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db
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
	name := "openpsp_test_" + strings.ReplaceAll(ids.RandomHex(6), "-", "")
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		t.Fatalf("postgres admin: %v", err)
	}
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("postgres url: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

var _ = stdlib.GetDefaultDriver // the "pgx" database/sql driver is registered by importing stdlib
