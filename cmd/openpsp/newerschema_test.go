package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/store"
)

// An older binary started on a database a newer release migrated served
// on a schema it does not know. `openpsp serve` now stops before serving,
// exit status 1, naming the database's newest migration and this binary's;
// `migrate` and the operator commands, which open the database the same
// way, refuse it too, and none of them changes schema_migrations.
func TestServeAndCommandsRefuseADatabaseANewerReleaseMigrated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	t.Setenv("OPENPSP_ADDR", "127.0.0.1:0")
	ctx := context.Background()
	dev, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	dev.Close()

	db, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Schema(ctx)
	if err != nil || !st.Current() {
		t.Fatalf("schema after the first start: %+v %v", st, err)
	}
	const newer = "9999_from_a_newer_release"
	if _, err := db.Writer().Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", newer); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{{"serve"}, {"migrate"}, {"shops", "list"}, {"keys", "status"}} {
		runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := helpTextCtx(t, runCtx, args...)
		cancel()
		if code := exitCode(err); code != 1 {
			t.Errorf("openpsp %s on a newer schema: exit %d (%v), want 1\n%s", strings.Join(args, " "), code, err, out)
			continue
		}
		for _, w := range []string{newer, st.Binary, "newer openpsp release"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("openpsp %s: %q does not say %q", strings.Join(args, " "), err, w)
			}
		}
		if strings.Contains(out, "is running") {
			t.Errorf("openpsp %s started serving:\n%s", strings.Join(args, " "), out)
		}
	}
	after, err := db.Schema(ctx)
	if err != nil || after.Database != newer || len(after.Missing) != 0 {
		t.Fatalf("schema after the refusals: %+v %v", after, err)
	}
}
