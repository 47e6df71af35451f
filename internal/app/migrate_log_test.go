package app

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"testing"
)

// A start that migrates an existing database (serve, an operator command
// after an upgrade) logged nothing until every migration had run: one that
// builds an index on a large table (0035) looked stuck. It logs each
// migration as it starts and once applied, then the summary; nothing on a
// current schema. A fresh database's migrations (the first start: empty
// tables) are logged at debug level, only the summary at info: a
// newcomer's first screen is the banner, not a line per migration.
func TestStartLogsEachMigration(t *testing.T) {
	ctx := context.Background()
	cfg := demoConfig(t, t.TempDir(), "", nil)
	cfg.Jobs = false
	var logs bytes.Buffer
	a, err := New(ctx, cfg, Options{LogOutput: &logs})
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if strings.Contains(out, "applying migration") || !strings.Contains(out, `msg="database migrated"`) {
		t.Errorf("the first start (a fresh database) logged\n%s\nwant the summary only", out)
	}
	// As a database an earlier release left: 0036 not applied yet (it
	// drops and creates one index, so it can run again).
	if err := a.DB.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM schema_migrations WHERE version = '0036_debit_parts'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	a.Close()

	logs.Reset()
	b, err := New(ctx, cfg, Options{LogOutput: &logs})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	out = logs.String()
	applying := strings.Index(out, `msg="applying migration" migration=0036_debit_parts`)
	applied := strings.Index(out, `msg="migration applied" migration=0036_debit_parts`)
	summary := strings.Index(out, `msg="database migrated"`)
	if applying < 0 || applied < applying || summary < applied || !strings.Contains(out[applied:], " took=") {
		t.Fatalf("the start after an upgrade logged\n%s\nwant 0036 applying, then applied with its duration, then the summary", out)
	}

	logs.Reset()
	c, err := New(ctx, cfg, Options{LogOutput: &logs})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if strings.Contains(logs.String(), "migrat") {
		t.Errorf("a start on a current schema logged\n%s", logs.String())
	}
}
