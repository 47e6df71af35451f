package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// `openpsp migrate` said nothing until every migration had run: on a large
// database one that builds an index (0035 rebuilds a unique index on
// tokens) looked stuck for minutes. It prints one line per migration on
// stderr as it runs, then a summary; nothing more when there is nothing to
// apply.
func TestMigrateShowsEachMigration(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("OPENPSP_DATA_DIR", "")
	t.Setenv("OPENPSP_DATABASE_URL", "")
	t.Setenv("OPENPSP_KEYRING_FILE", "")
	t.Setenv("OPENPSP_MASTER_KEYS", "")
	out, err := helpText(t, "migrate")
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	lines := regexp.MustCompile(`(?m)^applying (\d{4}_\w+) \((\d+)/(\d+)\)… done in \S+$`).FindAllStringSubmatch(out, -1)
	summary := regexp.MustCompile(`\napplied (\d+) migrations in \S+; database schema is up to date \(sqlite\)\n$`).FindStringSubmatch(out)
	if summary == nil || len(lines) == 0 || strconv.Itoa(len(lines)) != summary[1] {
		t.Fatalf("migrate on a new database printed\n%s\nwant a line per migration, then how many were applied", out)
	}
	for i, l := range lines {
		if l[2] != strconv.Itoa(i+1) || l[3] != summary[1] {
			t.Errorf("line %d: %q, want (%d/%s)", i+1, l[0], i+1, summary[1])
		}
	}
	if !strings.Contains(out, "applying 0035_token_per_mode (") || strings.Contains(out, "database migrated") {
		t.Errorf("migrate printed\n%s\nwant 0035 named, and no log line repeating the summary", out)
	}
	if out, err := helpText(t, "migrate"); err != nil || out != "database schema is up to date (sqlite)\n" {
		t.Errorf("migrate with nothing to apply: %v\n%q", err, out)
	}
}
