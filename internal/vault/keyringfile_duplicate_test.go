package vault

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A keyring file with a member written twice (a key id pasted twice with
// two different keys, two "primary" lines after a hand edit) loaded: the
// JSON decoder silently took the last, and the next `openpsp keys rotate`
// rewrote the file without the other one, losing a master key and every
// data key it wraps. The loader refuses such a file, naming the member and
// quoting no key, and a running server keeps the keys in use.
func TestKeyringFileRefusesDuplicateMembers(t *testing.T) {
	k1, k2, k3 := b64(1), b64(2), b64(3)
	for _, c := range []struct{ name, content, want string }{
		{"key id twice", `{"primary":"a","keys":{"a":"` + k1 + `","a":"` + k3 + `"},"fingerprint_key":"` + k2 + `"}`,
			`master key id "a" appears twice in "keys"`},
		{"key id twice, once escaped", `{"primary":"a","keys":{"a":"` + k1 + `","\u0061":"` + k3 + `"},"fingerprint_key":"` + k2 + `"}`,
			`master key id "a" appears twice in "keys"`},
		{"primary twice", `{"primary":"a","primary":"b","keys":{"a":"` + k1 + `","b":"` + k3 + `"},"fingerprint_key":"` + k2 + `"}`,
			`"primary" appears twice`},
		{"primary in another case", `{"primary":"a","Primary":"b","keys":{"a":"` + k1 + `","b":"` + k3 + `"},"fingerprint_key":"` + k2 + `"}`,
			`"Primary" appears twice`},
		{"keys twice", `{"primary":"a","keys":{"a":"` + k1 + `"},"keys":{"b":"` + k3 + `"},"fingerprint_key":"` + k2 + `"}`,
			`"keys" appears twice`},
		{"fingerprint key twice", `{"primary":"a","keys":{"a":"` + k1 + `"},"fingerprint_key":"` + k2 + `","fingerprint_key":"` + k3 + `"}`,
			`"fingerprint_key" appears twice`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keyring.json")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadKeyring(path, "", false)
			if err == nil || !strings.HasPrefix(err.Error(), "vault: keyring file "+path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadKeyring: %v, want a refusal saying %s", err, c.want)
			}
			checkVaultError(t, err, c.content)

			// A running server's reload refuses it too and keeps its keys.
			running := `{"primary":"a","keys":{"a":"` + k1 + `"},"fingerprint_key":"` + k2 + `"}`
			k, inUse := editedUnderARunningServer(t, path, running, c.content)
			if err := k.Reload(); err == nil || !strings.Contains(err.Error(), c.want) || k.state != inUse {
				t.Fatalf("Reload: %v (keys in use kept: %v), want a refusal saying %s", err, k.state == inUse, c.want)
			}
			// And a rotation does not rewrite it without the first copy.
			if _, err := k.AddPrimary(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("AddPrimary: %v, want a refusal saying %s", err, c.want)
			}
			if got, _ := os.ReadFile(path); string(got) != c.content {
				t.Fatalf("the refused file was rewritten:\n%s", got)
			}
		})
	}

	// Ids that differ only in case are two keys, as in the environment.
	path := filepath.Join(t.TempDir(), "keyring.json")
	content := `{"primary":"a","keys":{"a":"` + k1 + `","A":"` + k3 + `"},"fingerprint_key":"` + k2 + `"}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeyring(path, "", false)
	if err != nil || len(k.KeyIDs()) != 2 {
		t.Fatalf("ids a and A: %v, %v", k, err)
	}
}
