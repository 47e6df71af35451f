package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openpsp/openpsp/internal/card"
)

func b64(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, KeySize)) }

func mustPAN(t testing.TB, s string) card.PAN {
	t.Helper()
	p, err := card.ParsePAN(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCreateKeyringFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "keyring.json")
	k, err := LoadKeyring(path, "", true)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o, want 600", fi.Mode().Perm())
	}
	var f keyringFile
	body, _ := os.ReadFile(path)
	if err := json.Unmarshal(body, &f); err != nil {
		t.Fatal(err)
	}
	if f.Primary != k.PrimaryID() || len(f.Keys) != 1 || f.FingerprintKey == "" {
		t.Fatalf("file %+v, primary %q", f, k.PrimaryID())
	}
	if f.FingerprintKey == f.Keys[f.Primary] {
		t.Fatal("fingerprint key is the master key")
	}
	// Loading again reads the same keys instead of generating new ones.
	k2, err := LoadKeyring(path, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if k2.PrimaryID() != k.PrimaryID() {
		t.Fatal("second load generated a new keyring")
	}
	pan := mustPAN(t, "4970100000000055")
	if !bytes.Equal(k.Fingerprint(pan), k2.Fingerprint(pan)) {
		t.Fatal("fingerprint changed across loads")
	}
}

func TestLoadKeyringRefusals(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	if _, err := LoadKeyring(missing, "", false); err == nil {
		t.Fatal("missing file without create accepted")
	}
	if _, err := LoadKeyring("", "", true); err == nil {
		t.Fatal("no source accepted")
	}
	for _, env := range []string{"k1", "k1:notbase64!", "k1:" + base64.StdEncoding.EncodeToString([]byte("short")), "k1:" + b64(1) + ",k1:" + b64(2), "bad id:" + b64(1)} {
		if _, err := LoadKeyring("", env, false); err == nil {
			t.Errorf("env %q accepted", env)
		}
	}
	open := filepath.Join(dir, "open.json")
	body := `{"primary":"k1","keys":{"k1":"` + b64(1) + `"},"fingerprint_key":"` + b64(9) + `"}`
	if err := os.WriteFile(open, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyring(open, "", false); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable keyring: %v", err)
	}
	noPrimary := filepath.Join(dir, "noprimary.json")
	body = `{"primary":"k2","keys":{"k1":"` + b64(1) + `"},"fingerprint_key":"` + b64(9) + `"}`
	if err := os.WriteFile(noPrimary, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyring(noPrimary, "", false); err == nil {
		t.Fatal("primary missing from keys accepted")
	}
}

func TestEnvKeys(t *testing.T) {
	k, err := LoadKeyring("", "old:"+b64(1)+", new:"+b64(2), false)
	if err != nil {
		t.Fatal(err)
	}
	if k.PrimaryID() != "new" {
		t.Fatalf("primary %q, want the last one", k.PrimaryID())
	}
	// The fingerprint key is derived from the first key, not equal to it,
	// and does not depend on which key is primary.
	k2, err := LoadKeyring("", "old:"+b64(1)+",newer:"+b64(3), false)
	if err != nil {
		t.Fatal(err)
	}
	pan := mustPAN(t, "5555555555554444")
	if !bytes.Equal(k.Fingerprint(pan), k2.Fingerprint(pan)) {
		t.Fatal("fingerprint depends on the primary key")
	}
	k3, err := LoadKeyring("", "old:"+b64(1)+",fingerprint:"+b64(7), false)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(k.Fingerprint(pan), k3.Fingerprint(pan)) {
		t.Fatal("explicit fingerprint key ignored")
	}
	if _, err := k.AddPrimary(); err == nil {
		t.Fatal("AddPrimary without a file succeeded")
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	k, err := LoadKeyring("", "a:"+b64(1), false)
	if err != nil {
		t.Fatal(err)
	}
	dk, key, err := k.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	if dk.MasterKeyID != "a" || len(dk.ID) != 36 || key.ID() != dk.ID {
		t.Fatalf("data key %+v", dk)
	}
	if bytes.Contains(dk.Wrapped, bytes.Repeat([]byte{1}, 8)) {
		t.Fatal("wrapped key contains master key bytes")
	}
	aad := []byte("shop\x00tok")
	sealed := key.Seal(aad, []byte("secret"))
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("plaintext visible in sealed bytes")
	}
	if again := key.Seal(aad, []byte("secret")); bytes.Equal(again, sealed) {
		t.Fatal("two seals are identical: nonce reused")
	}
	key2, err := k.Unwrap(dk)
	if err != nil {
		t.Fatal(err)
	}
	got, err := key2.Open(aad, sealed)
	if err != nil || string(got) != "secret" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := key2.Open([]byte("shop\x00other"), sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong aad: %v", err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := key2.Open(aad, tampered); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := key2.Open(aad, sealed[:5]); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("short: %v", err)
	}
	// A wrapped key moved to another data key id does not unwrap.
	other, _, _ := k.NewDataKey()
	moved := DataKey{ID: other.ID, MasterKeyID: dk.MasterKeyID, Wrapped: dk.Wrapped}
	if _, err := k.Unwrap(moved); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("moved wrapped key: %v", err)
	}
	if _, err := k.Unwrap(DataKey{ID: dk.ID, MasterKeyID: "zz", Wrapped: dk.Wrapped}); !errors.Is(err, ErrUnknownMasterKey) {
		t.Fatalf("unknown master: %v", err)
	}
}

func TestAddPrimaryRewrapAndReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	server, err := LoadKeyring(path, "", true)
	if err != nil {
		t.Fatal(err)
	}
	old := server.PrimaryID()
	dk, key, err := server.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	sealed := key.Seal(nil, []byte("card"))
	pan := mustPAN(t, "4970100000000055")
	fp := server.Fingerprint(pan)

	// `openpsp keys rotate` in another process: its own Keyring on the file.
	cli, err := LoadKeyring(path, "", false)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := cli.AddPrimary()
	if err != nil {
		t.Fatal(err)
	}
	if kid == old || cli.PrimaryID() != kid {
		t.Fatalf("new primary %q (old %q, now %q)", kid, old, cli.PrimaryID())
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("rewritten file: %v %v", fi, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".keyring-*")); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
	re, err := cli.Rewrap(dk)
	if err != nil {
		t.Fatal(err)
	}
	if re.ID != dk.ID || re.MasterKeyID != kid || bytes.Equal(re.Wrapped, dk.Wrapped) {
		t.Fatalf("rewrapped %+v", re)
	}
	if same, err := cli.Rewrap(re); err != nil || !bytes.Equal(same.Wrapped, re.Wrapped) {
		t.Fatal("rewrap under the primary changed the key")
	}

	// The server has not reloaded yet: its primary is the old one, but
	// meeting a key wrapped by the new master makes it reload once.
	if server.PrimaryID() != old {
		t.Fatal("server changed primary without reloading")
	}
	k2, err := server.Unwrap(re)
	if err != nil {
		t.Fatalf("unwrap after rotation elsewhere: %v", err)
	}
	if got, err := k2.Open(nil, sealed); err != nil || string(got) != "card" {
		t.Fatalf("open with rewrapped key: %q %v", got, err)
	}
	if server.PrimaryID() != kid {
		t.Fatal("server did not pick up the new primary on reload")
	}
	if !bytes.Equal(server.Fingerprint(pan), fp) || !bytes.Equal(cli.Fingerprint(pan), fp) {
		t.Fatal("rotation changed fingerprints")
	}
	if ids := server.KeyIDs(); len(ids) != 2 {
		t.Fatalf("keys %v", ids)
	}

	// ReloadIfChanged sees a third rotation.
	kid3, err := cli.AddPrimary()
	if err != nil {
		t.Fatal(err)
	}
	// The file may be rewritten within the same mtime tick; the size
	// changes anyway because a key was added.
	changed, err := server.ReloadIfChanged()
	if err != nil || !changed || server.PrimaryID() != kid3 {
		t.Fatalf("ReloadIfChanged: %v %v primary %q", changed, err, server.PrimaryID())
	}
	if changed, _ := server.ReloadIfChanged(); changed {
		t.Fatal("ReloadIfChanged reloaded an unchanged file")
	}
}

func TestReloadKeepsKeysOnBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	k, err := LoadKeyring(path, "", true)
	if err != nil {
		t.Fatal(err)
	}
	p := k.PrimaryID()
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := k.Reload(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	if k.PrimaryID() != p {
		t.Fatal("a failed reload changed the keys")
	}
	if _, _, err := k.NewDataKey(); err != nil {
		t.Fatal(err)
	}
}

// An operator who sets master keys in the environment decides the primary:
// an old keyring file without the development_only mark (a development run
// of an earlier version, or the keyring the operator moved away from) used
// to be merged with its primary winning, so new data keys were wrapped by a
// key the operator had not chosen. The file's keys still unwrap the data
// keys they wrapped, until a rewrap moves those under the primary.
func TestEnvKeysDecideThePrimaryOverAKeyringFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	old, err := json.Marshal(map[string]any{"primary": "kfile", "keys": map[string]string{"kfile": b64(1)}, "fingerprint_key": b64(2)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	fileOnly, err := LoadKeyring(path, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if fileOnly.DevelopmentOnly() {
		t.Fatal("test setup: the old file carries the development_only mark")
	}
	oldDK, _, err := fileOnly.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}

	env := "kenv:" + b64(3)
	k, err := LoadKeyring(path, env, false)
	if err != nil {
		t.Fatal(err)
	}
	dk, _, err := k.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	if k.PrimaryID() != "kenv" || dk.MasterKeyID != "kenv" {
		t.Fatalf("primary %q, new data key wrapped by %q: want the environment's kenv", k.PrimaryID(), dk.MasterKeyID)
	}
	if _, err := k.Unwrap(oldDK); err != nil {
		t.Fatalf("a data key of the file's key no longer unwraps: %v", err)
	}
	moved, err := k.Rewrap(oldDK)
	if err != nil || moved.MasterKeyID != "kenv" {
		t.Fatalf("rewrap moved the data key to %q: %v", moved.MasterKeyID, err)
	}
	// Fingerprints: the file's key goes on matching the stored ones unless
	// the environment names a fingerprint key of its own.
	pan := mustPAN(t, "4970100000000055")
	if !bytes.Equal(k.Fingerprint(pan), fileOnly.Fingerprint(pan)) {
		t.Fatal("the file's fingerprint key was dropped although the environment gives none")
	}
	withFP, err := LoadKeyring(path, env+",fingerprint:"+b64(4), false)
	if err != nil {
		t.Fatal(err)
	}
	envOnly, err := LoadKeyring("", env+",fingerprint:"+b64(4), false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(withFP.Fingerprint(pan), envOnly.Fingerprint(pan)) {
		t.Fatal("the environment's fingerprint key lost to the file's")
	}
	// A reload (the server's ticker) keeps the same precedence.
	if err := k.Reload(); err != nil || k.PrimaryID() != "kenv" {
		t.Fatalf("after a reload: primary %q, %v", k.PrimaryID(), err)
	}
	// A rotation that writes the file could not make its key the primary:
	// it is refused with the way to rotate environment keys.
	if _, err := k.AddPrimary(); err == nil || !strings.Contains(err.Error(), "environment") {
		t.Fatalf("AddPrimary with keys from the environment: %v", err)
	}
	// The same id with different bytes in both places is refused.
	if _, err := LoadKeyring(path, "kfile:"+b64(5), false); err == nil {
		t.Fatal("conflicting key accepted")
	}
}

func TestConcurrentKeyringUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	k, err := LoadKeyring(path, "", true)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				dk, key, err := k.NewDataKey()
				if err != nil {
					errs <- err
					return
				}
				sealed := key.Seal(nil, []byte("x"))
				k2, err := k.Unwrap(dk)
				if err != nil {
					errs <- err
					return
				}
				if _, err := k2.Open(nil, sealed); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < 3; i++ {
		if _, err := k.AddPrimary(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(k.KeyIDs()) != 4 {
		t.Fatalf("keys %v", k.KeyIDs())
	}
}

// A running process changed its fingerprint key when the keyring file
// changed under it: environment keys naming no fingerprint key derive one,
// and a keyring file appearing later (OPENPSP_KEYRING_FILE) brought its own
// fingerprint_key at the next reload, so the same card got another
// fingerprint from then on. A reload that would change it is refused and
// the keys in use are kept.
func TestReloadNeverChangesTheFingerprintKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	k, err := LoadKeyring(path, "kenv:"+b64(3), false)
	if err != nil {
		t.Fatal(err)
	}
	pan := mustPAN(t, "4970100000000055")
	before := k.Fingerprint(pan)
	check, source := k.FingerprintKeyCheck()
	if !strings.Contains(source, `"kenv"`) {
		t.Fatalf("source %q does not name the master key it is derived from", source)
	}
	f, err := json.Marshal(map[string]any{"primary": "kfile", "keys": map[string]string{"kfile": b64(1)}, "fingerprint_key": b64(2)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := k.Reload(); err == nil || !strings.Contains(err.Error(), "fingerprint key") {
		t.Fatalf("reload with a file bringing another fingerprint key: %v", err)
	}
	if !bytes.Equal(k.Fingerprint(pan), before) {
		t.Fatal("the fingerprint key changed in a running process")
	}
	if c, _ := k.FingerprintKeyCheck(); c != check {
		t.Fatal("the check value changed with the fingerprint key kept")
	}
	// The same key from the file is no change.
	if err := k.Reload(); err == nil {
		t.Fatal("second reload accepted")
	}
	other, err := LoadKeyring(path, "kenv:"+b64(3), false)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := other.FingerprintKeyCheck(); c == check {
		t.Fatal("two fingerprint keys give the same check value")
	}
}

// One key must not serve two purposes: a fingerprint key that is also a
// master key (written twice by mistake, or copied from one place to the
// other) is refused at load, wherever each comes from, with a message
// that names the master key's id and where the fingerprint key came from
// but carries no key material.
func TestFingerprintKeyThatIsAMasterKeyIsRefused(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name, path, env, id string
	}{
		{"environment", "", "k1:" + b64(1) + ",k2:" + b64(2) + ",fingerprint:" + b64(1), "k1"},
		{"environment, primary", "", "fingerprint:" + b64(2) + ",k1:" + b64(1) + ",k2:" + b64(2), "k2"},
		{"file", file("file.json", `{"primary":"f1","keys":{"f1":"`+b64(3)+`"},"fingerprint_key":"`+b64(3)+`"}`), "", "f1"},
		{"file fingerprint, environment master", file("fp.json", `{"primary":"f1","keys":{"f1":"`+b64(3)+`"},"fingerprint_key":"`+b64(4)+`"}`),
			"e1:" + b64(4), "e1"},
		{"environment fingerprint, file master", file("master.json", `{"primary":"f1","keys":{"f1":"`+b64(5)+`"},"fingerprint_key":"`+b64(6)+`"}`),
			"e1:" + b64(7) + ",fingerprint:" + b64(5), "f1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadKeyring(c.path, c.env, false)
			if err == nil {
				t.Fatal("a fingerprint key equal to a master key was accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, "fingerprint key") || !strings.Contains(msg, `master key "`+c.id+`"`) {
				t.Fatalf("the message does not say which keys are the same: %s", msg)
			}
			body := ""
			if c.path != "" {
				b, _ := os.ReadFile(c.path)
				body = string(b)
			}
			for _, s := range keyLike(c.env + " " + body) {
				if strings.Contains(msg, s) {
					t.Fatalf("the message quotes key material: %s", msg)
				}
			}
			// The keys commands load it, to move the data keys off it.
			if _, err := LoadKeyringToRetire(c.path, c.env, false); err != nil {
				t.Fatalf("LoadKeyringToRetire: %v", err)
			}
		})
	}
}
