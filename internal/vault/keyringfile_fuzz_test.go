package vault

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzKeyringFile writes any content where a running server's keyring file
// is, as an operator's editor (or a bad copy) may leave it. The reload the
// server runs every ten seconds either takes it, keeping the fingerprint
// key, or refuses it with a "vault:" error that quotes no key and keeps
// the keys in use. A file that loads is one JSON keyring (nothing after
// it that the loader would silently ignore), and it round-trips through
// `openpsp keys rotate`: the file rewritten with a new primary loads again
// with every key it had (the same key bytes), the same fingerprint key and
// the same development mark. FuzzMasterKeys fuzzes the environment's keys
// beside a file; this one the file alone, over time.
func FuzzKeyringFile(f *testing.F) {
	k1, k2, k3 := b64(1), b64(2), b64(3)
	running := `{"primary":"a","keys":{"a":"` + k1 + `"},"fingerprint_key":"` + k2 + `"}`
	for _, s := range []string{
		running,
		`{"primary":"b","keys":{"a":"` + k1 + `","b":"` + k3 + `"},"fingerprint_key":"` + k2 + `"}`,
		`{"primary":"b","keys":{"b":"` + k3 + `"},"fingerprint_key":"` + k2 + `","development_only":true}`,
		`{"primary":"a","keys":{"a":"` + k1 + `"},"fingerprint_key":"` + k3 + `"}`,
		`{"primary":"a","keys":{"a":"` + k1 + `"},"fingerprint_key":"` + k1 + `"}`,
		`{"primary":"a","keys":{"a":"` + k1 + `"},"fingerprint_key":"` + k2 + `"}` + "\n",
		`{"primary":"a","keys":{"a":"` + k1 + `"},"keys":{"b":"` + k3 + `"},"fingerprint_key":"` + k2 + `"}`,
		`{"primary":"a","keys":{"a":"` + k1 + `","a":"` + k3 + `"},"fingerprint_key":"` + k2 + `"}`,
		`{"primary":"a","Primary":"a","keys":{"a":"` + k1 + `","A":"` + k3 + `"},"fingerprint_key":"` + k2 + `"}`,
		`{"PRIMARY":"a","Keys":{"a":"` + k1 + `"},"fingerprint_key":"` + k2 + `"}`,
		`{"primary":"a","keys":{"a":"` + strings.TrimRight(k1, "=") + `"},"fingerprint_key":"` + k2 + `"}`,
		`{"primary":"` + k1 + `","keys":{"` + k1 + `":"` + k1 + `"},"fingerprint_key":"` + k2 + `"}`,
		`{"primary":"a","keys":{"a":"` + k1[:20] + `"},"fingerprint_key":"` + k2 + `"}`,
		`{"primary":"a","keys":null,"fingerprint_key":"` + k2 + `"}`, `{"primary":"a"}`, `{}`, `[]`, `null`, ``, `{`, "\xff",
		`{"primary":"a","keys":{"a":"` + k1 + `"},"fingerprint_key":"` + k2 + `","extra":1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		if len(content) > 4096 {
			return
		}
		path := filepath.Join(t.TempDir(), "keyring.json")
		k, inUse := editedUnderARunningServer(t, path, running, content)
		if err := k.Reload(); err != nil {
			checkVaultError(t, err, content)
			if k.state != inUse {
				t.Fatalf("reload refused (%v), yet the keys in use changed", err)
			}
		} else if string(k.state.fpKey) != string(inUse.fpKey) {
			t.Fatal("a reload changed the fingerprint key")
		}

		k, err := LoadKeyring(path, "", false)
		if err != nil {
			checkVaultError(t, err, content)
			return
		}
		if !json.Valid([]byte(content)) {
			t.Fatalf("%q loaded, yet it is not one JSON document", content)
		}
		before, _, err := readKeyringFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fp, ids := k.state.fpKey, k.KeyIDs()
		kid, err := k.AddPrimary()
		if err != nil {
			t.Fatalf("rotate: %v", err)
		}
		k2, err := LoadKeyring(path, "", false)
		if err != nil {
			t.Fatalf("the rotated keyring does not load: %v", err)
		}
		after, _, err := readKeyringFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if k2.PrimaryID() != kid || string(k2.state.fpKey) != string(fp) || after.DevelopmentOnly != before.DevelopmentOnly {
			t.Fatalf("rotated keyring: primary %q (want %q), same fingerprint key %v, development %v (was %v)",
				k2.PrimaryID(), kid, string(k2.state.fpKey) == string(fp), after.DevelopmentOnly, before.DevelopmentOnly)
		}
		if got := k2.KeyIDs(); len(got) != len(ids)+1 || !slices.Contains(got, kid) {
			t.Fatalf("rotated keyring holds %v, had %v", got, ids)
		}
		for _, id := range ids {
			was, _ := decodeKey(before.Keys[id])
			now, err := decodeKey(after.Keys[id])
			if err != nil || string(was) != string(now) {
				t.Fatalf("key %q after the rotation: %v", id, err)
			}
		}
	})
}

// editedUnderARunningServer loads the keyring running from path, as a
// server does at start, then writes content over the file, as an editor
// does while it runs; it returns the keyring and the keys it holds.
func editedUnderARunningServer(t *testing.T, path, running, content string) (*Keyring, *keyState) {
	t.Helper()
	if err := os.WriteFile(path, []byte(running), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeyring(path, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return k, k.state
}

// checkVaultError: a refused keyring is said to be the vault's, and never
// quotes key material found in content.
func checkVaultError(t *testing.T, err error, content string) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, "vault:") {
		t.Fatalf("error %q does not say it is the vault's", msg)
	}
	for _, s := range keyLike(content) {
		if strings.Contains(msg, s) {
			t.Fatalf("error %q quotes key material %q", msg, s)
		}
	}
}
