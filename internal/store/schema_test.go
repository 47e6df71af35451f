package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// Schema says how a database's migrations compare with this binary's
// without changing them: an empty database, one an older release left,
// a current one and one a newer release migrated, on both engines.
func TestSchemaReadsWithoutMigrating(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			o := store.Options{DataDir: t.TempDir()}
			if engine == "postgres" {
				o = store.Options{URL: storetest.NewPostgresDatabase(t)}
			}
			db, err := store.Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			count := func() int {
				t.Helper()
				var n int
				if err := db.Reader().QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}

			st, err := db.Schema(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Database != "" || st.Binary == "" || len(st.Missing) == 0 || st.Missing[len(st.Missing)-1] != st.Binary || st.Current() {
				t.Fatalf("empty database: %+v", st)
			}
			if err := db.Reader().QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(new(int)); err == nil {
				t.Fatal("Schema created schema_migrations in an empty database")
			}
			binary := st.Binary
			all := st.Missing

			older := all[len(all)-2]
			if _, err := db.MigrateTo(ctx, older); err != nil {
				t.Fatal(err)
			}
			st, err = db.Schema(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Database != older || st.Binary != binary || !slices.Equal(st.Missing, []string{binary}) || len(st.Unknown) != 0 || st.Current() {
				t.Fatalf("database at %s: %+v", older, st)
			}
			if n := count(); n != len(all)-1 {
				t.Fatalf("Schema changed schema_migrations: %d rows, want %d", n, len(all)-1)
			}

			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if st, err = db.Schema(ctx); err != nil || !st.Current() || st.Database != binary {
				t.Fatalf("current database: %+v %v", st, err)
			}

			const newer = "9999_from_a_newer_release"
			if _, err := db.Writer().Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", newer); err != nil {
				t.Fatal(err)
			}
			st, err = db.Schema(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Database != newer || len(st.Missing) != 0 || !slices.Equal(st.Unknown, []string{newer}) || st.Current() {
				t.Fatalf("database of a newer release: %+v", st)
			}
		})
	}
}
