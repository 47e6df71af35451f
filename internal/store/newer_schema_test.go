package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// newerMigration is a migration no release of this binary has: what a
// newer release leaves in schema_migrations.
const newerMigration = "9999_from_a_newer_release"

// A binary opened on a database a newer release had migrated just ran,
// on a schema it does not know (copies sharing one PostgreSQL during an
// upgrade). Migrate, which every start and operator command goes
// through, refuses it naming both newest migrations and changes nothing;
// SchemaHealth, which /readyz asks, says the same.
func TestMigrateRefusesADatabaseANewerReleaseMigrated(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st, err := db.Schema(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SchemaHealth(ctx); err != nil {
			t.Fatalf("SchemaHealth of a current database: %v", err)
		}
		count := func() int {
			t.Helper()
			var n int
			if err := db.Reader().QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := count()
		if _, err := db.Writer().Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", newerMigration); err != nil {
			t.Fatal(err)
		}
		for name, check := range map[string]func() error{
			"Migrate":      func() error { _, err := db.Migrate(ctx); return err },
			"SchemaHealth": func() error { return db.SchemaHealth(ctx) },
		} {
			err := check()
			var newer *store.NewerSchemaError
			if !errors.As(err, &newer) || newer.Database != newerMigration || newer.Binary != st.Binary {
				t.Fatalf("%s on a database a newer release migrated: %v, want a NewerSchemaError (%s, %s)", name, err, newerMigration, st.Binary)
			}
			for _, w := range []string{newerMigration, st.Binary} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %q does not name %s", name, err, w)
				}
			}
		}
		if n := count(); n != before+1 {
			t.Fatalf("schema_migrations holds %d rows after the refusal, want %d", n, before+1)
		}
	})
}

// The check must not race a newer copy migrating at the same moment: an
// old copy that starts while the newer one holds the migration lock waits
// for it, and must then see what the newer one applied, not what the
// database held before it waited.
func TestMigrateWaitingForANewerCopyRefusesWhatItApplied(t *testing.T) {
	u := storetest.NewPostgresDatabase(t)
	ctx := context.Background()
	open := func() *store.DB {
		db, err := store.Open(ctx, store.Options{URL: u})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	old, newer := open(), open()
	if _, err := old.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := newer.Writer().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", store.MigrationLockKey); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := old.Migrate(ctx)
		done <- err
	}()
	// The old copy is waiting for the lock before the newer one commits.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Migrate returned (%v) while another copy held the migration lock", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the old copy never waited for the migration lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", newerMigration); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", store.MigrationLockKey); err != nil {
		t.Fatal(err)
	}
	var ne *store.NewerSchemaError
	if err := <-done; !errors.As(err, &ne) || ne.Database != newerMigration {
		t.Fatalf("the old copy, once the newer one migrated: %v, want a NewerSchemaError naming %s", err, newerMigration)
	}
}
