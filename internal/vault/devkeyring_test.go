package vault

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A keyring OpenPSP generates says so, and keeps saying so after a
// rotation; one written by an operator does not.
func TestGeneratedKeyringIsMarkedDevelopmentOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	k, err := LoadKeyring(path, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if !k.DevelopmentOnly() {
		t.Fatal("a generated keyring is not marked development-only")
	}
	if _, err := k.AddPrimary(); err != nil {
		t.Fatal(err)
	}
	if again, err := LoadKeyring(path, "", false); err != nil || !again.DevelopmentOnly() {
		t.Fatalf("after a rotation: development-only %v, %v", again != nil && again.DevelopmentOnly(), err)
	}
	own := filepath.Join(t.TempDir(), "keyring.json")
	key := strings.Repeat("A", 43) + "="
	if err := os.WriteFile(own, []byte(`{"primary":"k1","keys":{"k1":"`+key+`"},"fingerprint_key":"`+strings.Repeat("B", 43)+`="}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := LoadKeyring(own, "", false); err != nil || k.DevelopmentOnly() {
		t.Fatalf("an operator's keyring: development-only %v, %v", k != nil && k.DevelopmentOnly(), err)
	}
}
