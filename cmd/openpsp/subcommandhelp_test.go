package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `openpsp shops show -h` said `shop id must be 8 digits, not "-h"` (exit 1),
// `openpsp shops list -h` and `shops set -h` printed the usage as a mistake
// (exit 2), and `openpsp keys status -h` said `unexpected arguments ["-h"]`:
// asking a subcommand for its help shows the usage and exits 0, as
// `openpsp shops -h` and `openpsp shops create -h` do, without a database.
func TestSubcommandHelpExitsZero(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	for _, args := range [][]string{
		{"shops", "list", "-h"},
		{"shops", "show", "-h"},
		{"shops", "show", "12345678", "--help"},
		{"shops", "keys", "-help"},
		{"shops", "keys", "12345678", "-h"},
		{"shops", "rotate-keys", "-h"},
		{"shops", "webhook-secret", "--help"},
		{"shops", "template", "-h"},
		{"shops", "set", "-h"},
		{"shops", "set", "12345678", "-h"},
		{"keys", "generate", "-h"},
		{"keys", "status", "-h"},
		{"keys", "rotate", "--help"},
		{"keys", "rewrap", "-help"},
	} {
		out, err := helpText(t, args...)
		if code := exitCode(err); code != 0 {
			t.Errorf("openpsp %s: exit %d (%v)\n%s", strings.Join(args, " "), code, err, out)
		}
		if !strings.Contains(out, "usage:") || !strings.Contains(out, "openpsp "+args[0]+" "+args[1]) {
			t.Errorf("openpsp %s does not show the usage:\n%s", strings.Join(args, " "), out)
		}
		for _, wrong := range []string{"must be 8 digits", "unexpected arguments", "no OpenPSP database", "k2"} {
			if strings.Contains(out, wrong) {
				t.Errorf("openpsp %s answers %q:\n%s", strings.Join(args, " "), wrong, out)
			}
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a help request opened the database (%s: %v)", dir, err)
	}
}
