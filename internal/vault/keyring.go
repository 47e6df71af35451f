// Package vault keeps card data: envelope encryption under a keyring of
// master keys, tokens scoped to a shop, wallets, fingerprints, master-key
// rotation and retention (the 15-month purge). It is deliberately small and
// talks to the database only through the Store interface, so that it can
// later move to a process of its own with its own keys.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openpsp/openpsp/internal/card"
)

// KeySize is the size of every master, data and fingerprint key (AES-256).
const KeySize = 32

// FingerprintEnvID is the reserved key id that carries the fingerprint key in
// the environment string ("fingerprint:base64"); it is never a master key.
const FingerprintEnvID = "fingerprint"

// ErrUnknownMasterKey is returned when a data key is wrapped by a master key
// that the keyring (even after a reload) does not hold.
var ErrUnknownMasterKey = errors.New("vault: unknown master key")

// keyringFile is the JSON layout of the keyring file.
type keyringFile struct {
	Primary        string            `json:"primary"`
	Keys           map[string]string `json:"keys"`
	FingerprintKey string            `json:"fingerprint_key,omitempty"`
}

// keyState is one immutable view of the keys; Reload swaps it whole so that
// readers never see a half-loaded keyring.
type keyState struct {
	masters map[string]cipher.AEAD
	primary string
	fpKey   []byte
	modTime time.Time
	size    int64
}

// Keyring holds the master keys by id, the id of the primary (the one that
// wraps new data keys) and the fingerprint key. Safe for concurrent use.
type Keyring struct {
	path string
	env  string

	mu    sync.RWMutex
	state *keyState

	// fileMu serialises writers of the file inside this process; a lock file
	// serialises them across processes (openpsp keys rotate vs the server).
	fileMu sync.Mutex
}

// LoadKeyring reads master keys from env and/or the JSON keyring file at path.
//
// env is "kid1:base64key,kid2:base64key": the last one is the primary; an
// entry with the id "fingerprint" gives the fingerprint key, otherwise it is
// derived (HKDF) from the first key listed, which must then stay in the list.
// The file (mode 0600) is {"primary":"kid","keys":{"kid":"base64"},
// "fingerprint_key":"base64"}. When both are given their keys are merged and
// the file's primary and fingerprint key win: `openpsp keys rotate` writes
// the file, and a running server must follow it.
//
// If the file does not exist and create is true, a new file is generated with
// one AES-256 master key and a fingerprint key from crypto/rand (when env
// already supplies keys, the file is only created by the first AddPrimary).
func LoadKeyring(path, env string, create bool) (*Keyring, error) {
	if path == "" && strings.TrimSpace(env) == "" {
		return nil, errors.New("vault: no keyring: give a keyring file or master keys in the environment")
	}
	k := &Keyring{path: path, env: env}
	if path != "" && create && strings.TrimSpace(env) == "" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if err := k.createFile(); err != nil {
				return nil, err
			}
		}
	}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// createFile writes a fresh keyring file unless another process won the race.
func (k *Keyring) createFile() error {
	k.fileMu.Lock()
	defer k.fileMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return fmt.Errorf("vault: keyring folder: %w", err)
	}
	unlock, err := lockFile(k.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(k.path); err == nil {
		return nil
	}
	kid, err := newKeyID(nil)
	if err != nil {
		return err
	}
	f := keyringFile{
		Primary:        kid,
		Keys:           map[string]string{kid: base64.StdEncoding.EncodeToString(randomKey())},
		FingerprintKey: base64.StdEncoding.EncodeToString(randomKey()),
	}
	return writeFileAtomic(k.path, f)
}

// PrimaryID returns the id of the master key that wraps new data keys.
func (k *Keyring) PrimaryID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.state.primary
}

// KeyIDs returns the ids of every master key held, sorted.
func (k *Keyring) KeyIDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]string, 0, len(k.state.masters))
	for id := range k.state.masters {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Path returns the keyring file path ("" when keys come only from the environment).
func (k *Keyring) Path() string { return k.path }

// Reload re-reads the file and the environment string and swaps the keys in
// one step. On error the keys in use are kept. A running server calls it to
// pick up a key added by `openpsp keys rotate`; Unwrap calls it once when it
// meets an unknown master key id.
func (k *Keyring) Reload() error {
	st, err := k.load()
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.state = st
	k.mu.Unlock()
	return nil
}

// ReloadIfChanged reloads when the file's size or modification time changed
// since the last load. Cheap enough (one stat) for a periodic ticker.
func (k *Keyring) ReloadIfChanged() (bool, error) {
	if k.path == "" {
		return false, nil
	}
	fi, err := os.Stat(k.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("vault: keyring: %w", err)
	}
	k.mu.RLock()
	same := fi.ModTime().Equal(k.state.modTime) && fi.Size() == k.state.size
	k.mu.RUnlock()
	if same {
		return false, nil
	}
	return true, k.Reload()
}

func (k *Keyring) load() (*keyState, error) {
	envKeys, envOrder, envFP, err := parseEnvKeys(k.env)
	if err != nil {
		return nil, err
	}
	st := &keyState{masters: map[string]cipher.AEAD{}}
	raw := map[string][]byte{}
	for id, key := range envKeys {
		raw[id] = key
	}
	if len(envOrder) > 0 {
		st.primary = envOrder[len(envOrder)-1]
		if envFP != nil {
			st.fpKey = envFP
		} else {
			st.fpKey = deriveFingerprintKey(envKeys[envOrder[0]])
		}
	}
	if k.path != "" {
		f, fi, err := readKeyringFile(k.path)
		switch {
		case errors.Is(err, fs.ErrNotExist) && len(envOrder) > 0:
			// Keys come from the environment; the file appears with the
			// first rotation.
		case err != nil:
			return nil, err
		default:
			st.modTime, st.size = fi.ModTime(), fi.Size()
			for id, b64 := range f.Keys {
				key, err := decodeKey(b64)
				if err != nil {
					return nil, fmt.Errorf("vault: keyring file %s: key %q: %w", k.path, id, err)
				}
				if err := validKeyID(id); err != nil {
					return nil, fmt.Errorf("vault: keyring file %s: %w", k.path, err)
				}
				if prev, ok := raw[id]; ok && !hmac.Equal(prev, key) {
					return nil, fmt.Errorf("vault: master key %q differs between the environment and %s", id, k.path)
				}
				raw[id] = key
			}
			if f.Primary != "" {
				st.primary = f.Primary
			}
			if f.FingerprintKey != "" {
				fp, err := decodeKey(f.FingerprintKey)
				if err != nil {
					return nil, fmt.Errorf("vault: keyring file %s: fingerprint_key: %w", k.path, err)
				}
				st.fpKey = fp
			}
		}
	}
	if len(raw) == 0 {
		return nil, errors.New("vault: keyring holds no master key")
	}
	if st.primary == "" {
		return nil, errors.New("vault: keyring names no primary key")
	}
	if _, ok := raw[st.primary]; !ok {
		return nil, fmt.Errorf("vault: primary key %q is not in the keyring", st.primary)
	}
	if st.fpKey == nil {
		return nil, errors.New("vault: keyring has no fingerprint_key")
	}
	for id, key := range raw {
		a, err := newAEAD(key)
		if err != nil {
			return nil, err
		}
		st.masters[id] = a
	}
	return st, nil
}

// AddPrimary generates a new master key, makes it the primary and persists
// the keyring file atomically (temporary file, fsync, rename). Existing keys
// stay: data keys wrapped by them still unwrap until rotation rewraps them.
func (k *Keyring) AddPrimary() (string, error) {
	if k.path == "" {
		return "", errors.New("vault: keys come only from the environment: give a keyring file to rotate, or add a key to the environment")
	}
	k.fileMu.Lock()
	defer k.fileMu.Unlock()
	unlock, err := lockFile(k.path + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()

	// Start from what is on disk now (another process may have rotated).
	f, _, err := readKeyringFile(k.path)
	if errors.Is(err, fs.ErrNotExist) {
		f = keyringFile{Keys: map[string]string{}}
	} else if err != nil {
		return "", err
	}
	if f.Keys == nil {
		f.Keys = map[string]string{}
	}
	if f.FingerprintKey == "" {
		// Keep fingerprints stable: persist the key in use (from the
		// environment) rather than inventing a new one.
		k.mu.RLock()
		f.FingerprintKey = base64.StdEncoding.EncodeToString(k.state.fpKey)
		k.mu.RUnlock()
	}
	taken := map[string]bool{}
	for id := range f.Keys {
		taken[id] = true
	}
	for _, id := range k.KeyIDs() {
		taken[id] = true
	}
	kid, err := newKeyID(taken)
	if err != nil {
		return "", err
	}
	f.Keys[kid] = base64.StdEncoding.EncodeToString(randomKey())
	f.Primary = kid
	if err := writeFileAtomic(k.path, f); err != nil {
		return "", err
	}
	if err := k.Reload(); err != nil {
		return "", err
	}
	return kid, nil
}

// Fingerprint returns HMAC-SHA256 of the card number under the fingerprint
// key (a key of its own, never a master key, so rotation does not change
// fingerprints). It finds the tokens of one card without decrypting any.
func (k *Keyring) Fingerprint(pan card.PAN) []byte {
	k.mu.RLock()
	key := k.state.fpKey
	k.mu.RUnlock()
	m := hmac.New(sha256.New, key)
	m.Write([]byte("openpsp/pan/v1\x00"))
	m.Write([]byte(pan.Reveal()))
	return m.Sum(nil)
}

func (k *Keyring) master(id string) (cipher.AEAD, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	a, ok := k.state.masters[id]
	return a, ok
}

func (k *Keyring) primary() (string, cipher.AEAD) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.state.primary, k.state.masters[k.state.primary]
}

// parseEnvKeys parses "kid:base64,kid:base64". It returns the master keys,
// their ids in order and the fingerprint key if one was given.
func parseEnvKeys(env string) (map[string][]byte, []string, []byte, error) {
	keys := map[string][]byte{}
	var order []string
	var fp []byte
	for _, part := range strings.Split(env, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok {
			return nil, nil, nil, errors.New(`vault: master keys in the environment must read "kid:base64key,kid:base64key"`)
		}
		id = strings.TrimSpace(id)
		key, err := decodeKey(strings.TrimSpace(b64))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("vault: environment key %q: %w", id, err)
		}
		if id == FingerprintEnvID {
			fp = key
			continue
		}
		if err := validKeyID(id); err != nil {
			return nil, nil, nil, err
		}
		if _, dup := keys[id]; dup {
			return nil, nil, nil, fmt.Errorf("vault: environment key %q is listed twice", id)
		}
		keys[id] = key
		order = append(order, id)
	}
	if fp != nil && len(order) == 0 {
		return nil, nil, nil, errors.New("vault: the environment gives a fingerprint key but no master key")
	}
	return keys, order, fp, nil
}

func decodeKey(s string) ([]byte, error) {
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("must be %d bytes (AES-256), got %d", KeySize, len(key))
	}
	return key, nil
}

// validKeyID keeps key ids short and printable: they are stored in every
// data_keys row and shown by `openpsp keys`.
func validKeyID(id string) error {
	if id == "" || len(id) > 64 || id == FingerprintEnvID {
		return fmt.Errorf("vault: invalid master key id %q", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("vault: invalid master key id %q: letters, digits, '-', '_' and '.' only", id)
		}
	}
	return nil
}

// newKeyID makes a random id: two copies rotating at once must not both
// pick "the next number".
func newKeyID(taken map[string]bool) (string, error) {
	for i := 0; i < 8; i++ {
		b := make([]byte, 5)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("vault: random: %w", err)
		}
		id := fmt.Sprintf("mk-%x", b)
		if !taken[id] {
			return id, nil
		}
	}
	return "", errors.New("vault: could not pick a free master key id")
}

func randomKey() []byte {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic("vault: crypto/rand failed: " + err.Error())
	}
	return b
}

// deriveFingerprintKey derives the fingerprint key from a master key when the
// environment gives none, so that it is never the master key itself.
func deriveFingerprintKey(master []byte) []byte {
	key, err := hkdf.Key(sha256.New, master, nil, "openpsp/fingerprint-key/v1", KeySize)
	if err != nil {
		panic("vault: hkdf: " + err.Error())
	}
	return key
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: aes: %w", err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("vault: gcm: %w", err)
	}
	return a, nil
}

func readKeyringFile(path string) (keyringFile, fs.FileInfo, error) {
	var f keyringFile
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return f, nil, fmt.Errorf("vault: keyring file %s: %w", path, err)
		}
		return f, nil, fmt.Errorf("vault: keyring file: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return f, nil, fmt.Errorf("vault: keyring file: %w", err)
	}
	// Like ssh with private keys: a keyring others can read is refused
	// rather than used, so a mistake is noticed instead of silently kept.
	if fi.Mode().Perm()&0o077 != 0 {
		return f, nil, fmt.Errorf("vault: keyring file %s is accessible by others (mode %o): chmod 600 it", path, fi.Mode().Perm())
	}
	dec := json.NewDecoder(fh)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, nil, fmt.Errorf("vault: keyring file %s: %w", path, err)
	}
	return f, fi, nil
}

// writeFileAtomic writes f to path through a temporary file in the same
// folder, fsyncs it, renames it over path and fsyncs the folder: a crash
// leaves either the old or the new keyring, never a torn one.
func writeFileAtomic(path string, f keyringFile) error {
	body, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("vault: keyring: %w", err)
	}
	body = append(body, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("vault: keyring folder: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".keyring-*.tmp")
	if err != nil {
		return fmt.Errorf("vault: keyring: %w", err)
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("vault: keyring: %w", err)
	}
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return fmt.Errorf("vault: keyring: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("vault: keyring: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("vault: keyring: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("vault: keyring: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
