package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
)

// Run in the wrong folder, the operator commands other than serve and
// migrate created an empty ./data database and a new keyring there, and
// answered about that (no shops, no keys). They refuse with the path they
// looked for and how to point them at the server's database, exit 1 and
// create nothing; `keys generate` needs no database and still answers.
func TestOperatorCommandsRefuseAMissingDatabase(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("OPENPSP_DATA_DIR", "")
	t.Setenv("OPENPSP_DATABASE_URL", "")
	t.Setenv("OPENPSP_KEYRING_FILE", "")
	t.Setenv("OPENPSP_MASTER_KEYS", "")
	want := filepath.Join(dir, "data", "openpsp.db")
	for _, args := range [][]string{
		{"shops", "list"}, {"shops", "show", shop.DemoShopID}, {"shops", "create", "-name", "X"},
		{"shops", "set", shop.DemoShopID, "name=X"}, {"keys", "status"}, {"keys", "rotate"}, {"keys", "rewrap"},
		{"purge", "-dry-run"}, {"purge"}, {"notifications", "list"}, {"ogone", "errors"}, {"ogone", "settings", "show", shop.DemoShopID},
	} {
		out, err := helpText(t, args...)
		if code := exitCode(err); code != 1 {
			t.Errorf("openpsp %s: exit %d (%v), want 1", strings.Join(args, " "), code, err)
			continue
		}
		msg := err.Error()
		for _, w := range []string{"no OpenPSP database at " + want, "OPENPSP_DATA_DIR", "-data-dir", "OPENPSP_DATABASE_URL", "nothing was created"} {
			if !strings.Contains(msg, w) {
				t.Errorf("openpsp %s: %q does not say %q", strings.Join(args, " "), msg, w)
			}
		}
		if out != "" {
			t.Errorf("openpsp %s printed %q besides its error", strings.Join(args, " "), out)
		}
	}
	out, err := helpText(t, "keys", "generate")
	if err != nil || !regexp.MustCompile(`^k[0-9]{14}:[A-Za-z0-9+/]{43}=\n$`).MatchString(out) {
		t.Errorf("keys generate: %q, %v", out, err)
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Fatalf("the commands created %v in the folder they ran in", left[0].Name())
	}

	// migrate creates the database; the same commands then find it.
	if out, err := helpText(t, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err := helpText(t, "shops", "list"); err != nil || !strings.Contains(out, "SHOP ID") {
		t.Fatalf("shops list after migrate: %v\n%s", err, out)
	}
}
