package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A start that migrates (serve, an operator command on an older database)
// logged nothing until every migration had run: one that builds an index
// on a large table (0035) looked stuck. It logs each migration as it
// starts and once applied, then the summary; nothing on a current schema.
func TestStartLogsEachMigration(t *testing.T) {
	ctx := context.Background()
	cfg := demoConfig(t, t.TempDir(), "", nil)
	cfg.Jobs = false
	var logs bytes.Buffer
	a, err := New(ctx, cfg, Options{LogOutput: &logs})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	out := logs.String()
	applying := strings.Index(out, `msg="applying migration" migration=0035_token_per_mode`)
	applied := strings.Index(out, `msg="migration applied" migration=0035_token_per_mode`)
	summary := strings.Index(out, `msg="database migrated"`)
	if applying < 0 || applied < applying || summary < applied || !strings.Contains(out[applied:], " took=") {
		t.Fatalf("the first start logged\n%s\nwant 0035 applying, then applied with its duration, then the summary", out)
	}

	logs.Reset()
	b, err := New(ctx, cfg, Options{LogOutput: &logs})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if strings.Contains(logs.String(), "migrat") {
		t.Errorf("a start on a current schema logged\n%s", logs.String())
	}
}
