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
		// notifications looked for the database first: "no OpenPSP
		// database" where no server runs.
		{"notifications", "list", "-h"},
		{"notifications", "retry", "--status", "DEAD", "--help"},
	} {
		out, err := helpText(t, args...)
		if code := exitCode(err); code != 0 {
			t.Errorf("openpsp %s: exit %d (%v)\n%s", strings.Join(args, " "), code, err, out)
		}
		if !strings.Contains(out, "usage:") || !strings.Contains(out, "openpsp "+args[0]) {
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

// `openpsp serve -bogus`, `openpsp migrate extra` … exited 1, as a failure,
// where every other command's unknown flag or stray word exits 2 (a usage
// error, see exitCode); the mistake is named last, after the flags.
func TestServeAndMigrateCommandLineMistakesExitTwo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-bogus"}, "openpsp serve: flag provided but not defined: -bogus"},
		{[]string{"serve", "-addr"}, "openpsp serve: flag needs an argument: -addr"},
		{[]string{"serve", "extra"}, `openpsp serve: unexpected arguments: extra`},
		{[]string{"migrate", "-bogus"}, "openpsp migrate: flag provided but not defined: -bogus"},
		{[]string{"migrate", "extra"}, `openpsp migrate: unexpected arguments: extra`},
	} {
		out, err := helpText(t, c.args...)
		if code := exitCode(err); code != 2 {
			t.Errorf("openpsp %s: exit %d (%v), want 2", strings.Join(c.args, " "), code, err)
		}
		if lines := strings.Split(strings.TrimSpace(out), "\n"); !strings.Contains(lines[len(lines)-1], c.want) {
			t.Errorf("openpsp %s: the last line is not %q:\n%s", strings.Join(c.args, " "), c.want, out)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a wrong command line opened the database (%s: %v)", dir, err)
	}
}
