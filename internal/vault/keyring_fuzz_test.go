package vault

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzMasterKeys loads a keyring from any OPENPSP_MASTER_KEYS and any
// keyring file content, as an operator may write them. A refusal is an
// error that starts with "vault:" and never quotes key material (a string
// that decodes to a 32-byte key): it goes to the logs and the terminal. An
// accepted keyring has its primary among its keys (the environment's last
// key when it gives any) and a fingerprint key that is none of its master
// keys; the environment's keys, spelled again canonically, read back the
// same.
func FuzzMasterKeys(f *testing.F) {
	k1, k2 := b64(1), b64(2)
	for _, s := range [][2]string{
		{"mk1:" + k1, ""}, {"mk1:" + k1 + ", mk2:" + k2, ""}, {"mk1:" + k1 + ",fingerprint:" + k2, ""},
		{"", `{"primary":"a","keys":{"a":"` + k1 + `"},"fingerprint_key":"` + k2 + `"}`},
		{"b:" + k2, `{"primary":"a","keys":{"a":"` + k1 + `"},"fingerprint_key":"` + k2 + `"}`},
		{k1, ""}, {k1 + ":mk1", ""}, {"mk1:" + k1 + ",mk1:" + k2, ""}, {"fingerprint:" + k1, ""}, {"m k:" + k1, ""},
		{"mk1:" + strings.TrimRight(k1, "="), ""}, {"mk1:" + k1[:20], ""},
		{"", `{"primary":"a","keys":{"` + k1 + `":"x"}}`}, {"", `{"primary":"` + k1 + `","keys":{"a":"` + k1 + `"},"fingerprint_key":"` + k2 + `"}`},
		{"", `{"keys":{"a":"` + k1 + `"}}`}, {"", `{"primary":"a","keys":{"a":"` + k1 + `"},"extra":1}`}, {"", "{"}, {"", "null"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, env, file string) {
		if len(env)+len(file) > 4096 {
			return
		}
		path := ""
		if file != "" {
			path = filepath.Join(t.TempDir(), "keyring.json")
			if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		k, err := LoadKeyring(path, env, false)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "vault:") {
				t.Fatalf("error %q does not say it is the vault's", msg)
			}
			for _, s := range keyLike(env + " " + file) {
				if strings.Contains(msg, s) {
					t.Fatalf("error %q quotes key material %q", msg, s)
				}
			}
			return
		}
		ids := k.KeyIDs()
		if !slices.Contains(ids, k.PrimaryID()) {
			t.Fatalf("primary %q not among %v", k.PrimaryID(), ids)
		}
		st := k.state
		keys, order, fp, err := parseEnvKeys(env)
		if err != nil {
			t.Fatalf("keyring loaded, yet its environment does not parse: %v", err)
		}
		if len(order) > 0 && k.PrimaryID() != order[len(order)-1] {
			t.Fatalf("primary %q, not the environment's last key %q", k.PrimaryID(), order[len(order)-1])
		}
		for _, key := range keys {
			if string(key) == string(st.fpKey) {
				t.Fatalf("the fingerprint key (%s) is a master key", st.fpFrom)
			}
		}
		var canon []string
		for _, id := range order {
			canon = append(canon, id+":"+base64.StdEncoding.EncodeToString(keys[id]))
		}
		if fp != nil {
			canon = append([]string{FingerprintEnvID + ":" + base64.StdEncoding.EncodeToString(fp)}, canon...)
		}
		keys2, order2, fp2, err := parseEnvKeys(strings.Join(canon, ","))
		if err != nil || !slices.Equal(order, order2) || string(fp) != string(fp2) || len(keys2) != len(keys) {
			t.Fatalf("environment %q spelled %q reads back as %v, %v", env, canon, order2, err)
		}
		for id, key := range keys {
			if string(keys2[id]) != string(key) {
				t.Fatalf("key %q reads back differently", id)
			}
		}
	})
}

// keyLike returns the runs of base64 characters in s that decode, in any
// spelling decodeKey takes, to a key.
func keyLike(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+/=-_", r))
	}) {
		if _, err := decodeKey(w); err == nil {
			out = append(out, w)
		}
	}
	return out
}
