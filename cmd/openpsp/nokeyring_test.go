package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// On PostgreSQL (the URL names the server's database wherever the command
// runs) an operator command run outside the server's folder generated a
// new development keyring in ./data and used it: `shops create` wrapped
// the new shop's secrets under a master key the server did not have, so
// the server took that shop's payments without being able to sign their
// kr-answer, and refused its next start. README: "Only serve and migrate
// create the database (and, in development, the keyring)". The commands
// refuse a missing keyring, naming the path they looked for, and create
// nothing; run where the server's keyring is, they work.
func TestOperatorCommandsRefuseAMissingKeyring(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	server := t.TempDir()
	t.Chdir(server)
	t.Setenv("OPENPSP_DATA_DIR", "")
	t.Setenv("OPENPSP_DATABASE_URL", url)
	t.Setenv("OPENPSP_KEYRING_FILE", "")
	t.Setenv("OPENPSP_MASTER_KEYS", "")
	if out, err := helpText(t, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(server, "data", "keyring.json")); err != nil {
		t.Fatalf("migrate made no development keyring: %v", err)
	}

	elsewhere := t.TempDir()
	t.Chdir(elsewhere)
	want := filepath.Join(elsewhere, "data", "keyring.json")
	for _, args := range [][]string{
		{"shops", "list"}, {"shops", "create", "-name", "X"}, {"shops", "keys", shop.DemoShopID},
		{"keys", "status"}, {"purge", "-dry-run"}, {"notifications", "list"}, {"ogone", "errors"},
	} {
		out, err := helpText(t, args...)
		if code := exitCode(err); code != 1 {
			t.Errorf("openpsp %s: exit %d (%v), want 1\n%s", strings.Join(args, " "), code, err, out)
			continue
		}
		for _, w := range []string{"no keyring at " + want, "OPENPSP_KEYRING_FILE", "OPENPSP_MASTER_KEYS", "nothing was created"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("openpsp %s: %q does not say %q", strings.Join(args, " "), err, w)
			}
		}
	}
	if left, _ := os.ReadDir(elsewhere); len(left) > 0 {
		t.Fatalf("the commands created %v in the folder they ran in", left[0].Name())
	}

	// Pointed at the server's keyring they work.
	t.Setenv("OPENPSP_KEYRING_FILE", filepath.Join(server, "data", "keyring.json"))
	if out, err := helpText(t, "shops", "list"); err != nil || !strings.Contains(out, "SHOP ID") {
		t.Fatalf("shops list with the server's keyring: %v\n%s", err, out)
	}
}

// A keyring that exists but is not the server's (made by `openpsp migrate`
// run in another folder, which creates one in development) let the
// commands wrap new data keys under its key, which the server lacks. The
// commands other than `keys` (which report and repair a keyring) refuse a
// keyring that lacks a master key the database's data keys need, as serve
// does, and change nothing.
func TestOperatorCommandsRefuseAKeyringLackingTheServersKeys(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	server := t.TempDir()
	t.Chdir(server)
	t.Setenv("OPENPSP_DATA_DIR", "")
	t.Setenv("OPENPSP_DATABASE_URL", url)
	t.Setenv("OPENPSP_KEYRING_FILE", "")
	t.Setenv("OPENPSP_MASTER_KEYS", "")
	if out, err := helpText(t, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err := helpText(t, "shops", "create", "-name", "Server side", "-id", "10000001"); err != nil {
		t.Fatalf("shops create: %v\n%s", err, out)
	}

	t.Chdir(t.TempDir())
	if out, err := helpText(t, "migrate"); err != nil {
		t.Fatalf("migrate elsewhere: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"shops", "create", "-name", "Elsewhere", "-id", "10000002"}, {"shops", "list"},
		{"shops", "rotate-keys", "10000001", "-mode", "TEST"}, {"notifications", "list"}, {"purge", "-dry-run"},
	} {
		out, err := helpText(t, args...)
		if code := exitCode(err); code != 1 {
			t.Errorf("openpsp %s: exit %d (%v), want 1\n%s", strings.Join(args, " "), code, err, out)
			continue
		}
		if !strings.Contains(err.Error(), "master keys missing from the keyring") {
			t.Errorf("openpsp %s: %q does not name the missing master key", strings.Join(args, " "), err)
		}
	}
	// keys status still reports the state, to repair it.
	if out, err := helpText(t, "keys", "status"); err != nil || !strings.Contains(out, "NOT IN THE KEYRING") {
		t.Errorf("keys status: %v\n%s", err, out)
	}

	t.Chdir(server)
	out, err := helpText(t, "shops", "list")
	if err != nil || !strings.Contains(out, "10000001") || strings.Contains(out, "10000002") {
		t.Fatalf("shops list in the server's folder: %v\n%s", err, out)
	}
}
