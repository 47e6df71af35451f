package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migrationLockKey is the PostgreSQL advisory lock that serialises
// migrations when several openpsp copies start at once.
const migrationLockKey = 7_336_110_521

// Migrate applies every migration of this dialect that has not run yet, each
// in its own transaction, in file-name order. On PostgreSQL it holds an
// advisory lock so that copies starting together migrate once.
//
// It refuses, with a *NewerSchemaError and changing nothing, a database
// that holds a migration this binary does not know: a newer release
// migrated it, and this binary would work on a schema it does not
// understand (columns it does not fill, rows it cannot read). The check
// reads schema_migrations under the lock, so an old copy that starts while
// a newer one migrates waits for it and then sees what it applied.
func (db *DB) Migrate(ctx context.Context) (applied []string, err error) {
	return db.migrate(ctx, "", nil)
}

// MigrationStep tells MigrateReporting's caller of one migration it
// applies: when it starts (Done false), then once it committed (Done true,
// Took its duration). One that builds an index on a large table runs for
// minutes: the operator sees which, and that it is not stuck.
type MigrationStep struct {
	Version string // its file name without .sql: "0035_token_per_mode"
	N, Of   int    // it is the Nth of the Of migrations this call applies
	// Fresh tells that the database had no migration applied before this
	// call: its tables are empty, each migration quick.
	Fresh bool
	Done  bool
	Took  time.Duration
}

// MigrateReporting is Migrate telling progress of each migration it
// applies (nothing when there is none to apply).
func (db *DB) MigrateReporting(ctx context.Context, progress func(MigrationStep)) (applied []string, err error) {
	return db.migrate(ctx, "", progress)
}

// migrate is Migrate stopping after version upTo ("" for all): the upgrade
// tests build a database as an older release left it. progress, when not
// nil, is told of each migration applied.
func (db *DB) migrate(ctx context.Context, upTo string, progress func(MigrationStep)) (applied []string, err error) {
	if progress == nil {
		progress = func(MigrationStep) {}
	}
	dir := "migrations/" + string(db.dialect)
	names, err := db.migrationNames()
	if err != nil {
		return nil, err
	}

	conn, err := db.write.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Close()
	if db.dialect == Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
			return nil, fmt.Errorf("store: migration lock: %w", err)
		}
		defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLockKey) //nolint:errcheck
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY,
		applied_at BIGINT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("store: create schema_migrations: %w", err)
	}
	done, err := appliedMigrations(ctx, conn)
	if err != nil {
		return nil, err
	}
	if st := compareSchema(names, done); len(st.Unknown) > 0 {
		return nil, &NewerSchemaError{Database: st.Database, Binary: st.Binary, Unknown: st.Unknown}
	}

	var todo []string
	for _, name := range names {
		version := strings.TrimSuffix(name, ".sql")
		if upTo != "" && version > upTo {
			break
		}
		if !done[version] {
			todo = append(todo, name)
		}
	}
	for i, name := range todo {
		version := strings.TrimSuffix(name, ".sql")
		body, err := migrationFiles.ReadFile(dir + "/" + name)
		if err != nil {
			return applied, err
		}
		step := MigrationStep{Version: version, N: i + 1, Of: len(todo), Fresh: len(done) == 0}
		progress(step)
		start := time.Now()
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return applied, fmt.Errorf("store: migration %s: %w", version, err)
		}
		for _, stmt := range splitStatements(string(body)) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				_ = tx.Rollback()
				return applied, fmt.Errorf("store: migration %s: %w\n%s", version, err, stmt)
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
			version, Micros(nowForMigrations())); err != nil {
			_ = tx.Rollback()
			return applied, fmt.Errorf("store: record migration %s: %w", version, err)
		}
		if err := tx.Commit(); err != nil {
			return applied, fmt.Errorf("store: migration %s: %w", version, err)
		}
		applied = append(applied, version)
		step.Done, step.Took = true, time.Since(start)
		progress(step)
	}
	if len(applied) > 0 {
		if err := db.SyncWAL(); err != nil {
			return applied, err
		}
	}
	return applied, nil
}

// migrationNames lists this dialect's migration files in the order they run.
func (db *DB) migrationNames() ([]string, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations/"+string(db.dialect))
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// appliedMigrations is the set of versions schema_migrations holds.
func appliedMigrations(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("store: list migrations: %w", err)
	}
	defer rows.Close()
	done := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: list migrations: %w", err)
		}
		done[v] = true
	}
	return done, rows.Err()
}

// SchemaState is a database's schema as this binary sees it: which of the
// migrations it knows the database has run, and which the database has run
// that it does not know (a newer release migrated it).
type SchemaState struct {
	Database string   // the database's latest migration ("" none: an empty database)
	Binary   string   // the latest migration this binary knows
	Missing  []string // this binary's migrations the database has not run
	Unknown  []string // the database's migrations this binary does not know
}

// Current reports whether the database has exactly this binary's migrations.
func (s SchemaState) Current() bool { return len(s.Missing) == 0 && len(s.Unknown) == 0 }

// Schema reads the database's migrations and compares them with this
// binary's, changing nothing (Migrate is what applies them): for a program
// that opens the database of a server running another version, which must
// not migrate it under that server.
func (db *DB) Schema(ctx context.Context) (SchemaState, error) {
	names, err := db.migrationNames()
	if err != nil {
		return SchemaState{}, err
	}
	exists := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if db.dialect == Postgres {
		exists = `SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'`
	}
	var n int
	if err := db.read.QueryRowContext(ctx, exists).Scan(&n); err != nil {
		return SchemaState{}, fmt.Errorf("store: read the schema version: %w", err)
	}
	done := map[string]bool{}
	if n > 0 {
		if done, err = appliedMigrations(ctx, db.read); err != nil {
			return SchemaState{}, err
		}
	}
	return compareSchema(names, done), nil
}

// compareSchema is the SchemaState of a database that has run the
// migrations done, for a binary whose migration files are names.
func compareSchema(names []string, done map[string]bool) SchemaState {
	var st SchemaState
	known := map[string]bool{}
	for _, name := range names {
		v := strings.TrimSuffix(name, ".sql")
		known[v] = true
		st.Binary = v
		if !done[v] {
			st.Missing = append(st.Missing, v)
		}
	}
	for v := range done {
		if !known[v] {
			st.Unknown = append(st.Unknown, v)
		}
		if v > st.Database {
			st.Database = v
		}
	}
	sort.Strings(st.Unknown)
	return st
}

// NewerSchemaError refuses a database a newer release migrated: it holds
// migrations this binary does not know.
type NewerSchemaError struct {
	Database string   // the database's newest migration
	Binary   string   // this binary's newest migration
	Unknown  []string // the database's migrations this binary does not know (nil: not listed)
}

func (e *NewerSchemaError) Error() string {
	unknown := ""
	if len(e.Unknown) > 0 {
		unknown = " (it has " + strings.Join(e.Unknown, ", ") + ")"
	}
	return fmt.Sprintf("store: the database's schema is at migration %s, newer than this binary's newest, %s%s: "+
		"a newer openpsp release migrated it, and this binary does not understand its schema. "+
		"Run that release (or a newer one) on this database: this binary does not undo migrations. "+
		"Nothing was changed", e.Database, e.Binary, unknown)
}

// SchemaHealth returns nil while the database's newest migration is one
// this binary knows, or a *NewerSchemaError once a newer release has
// migrated it under this running binary (copies sharing one PostgreSQL
// during an upgrade): readiness then fails, so that a load balancer stops
// sending this copy traffic it would handle on a schema it does not know.
// It is one MAX over schema_migrations, one short row per migration (tens
// of rows, and its primary key orders them): about the cost of the ping
// every readiness probe makes anyway.
func (db *DB) SchemaHealth(ctx context.Context) error {
	names, err := db.migrationNames() // the embedded directory: no I/O
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("store: this binary has no migrations")
	}
	binary := strings.TrimSuffix(names[len(names)-1], ".sql")
	var newest sql.NullString
	if err := db.read.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&newest); err != nil {
		return fmt.Errorf("store: read the schema version: %w", err)
	}
	// Versions start with a zero-padded number: they sort as they run.
	if newest.String > binary {
		return &NewerSchemaError{Database: newest.String, Binary: binary}
	}
	return nil
}

// splitStatements splits a migration file on lines that hold only ";" or end
// with ";". Migrations are plain DDL: no semicolons inside strings or bodies.
func splitStatements(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "--") || t == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}
