package vault

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/openpsp/openpsp/internal/ids"
)

// ErrDecrypt is returned when sealed data or a wrapped key does not open:
// wrong key, tampered bytes, or ciphertext moved to another row or shop
// (the associated data no longer matches).
var ErrDecrypt = errors.New("vault: decryption failed")

// DataKey is a data key as stored: its id, the master key that wraps it and
// the wrapped bytes (nonce || AES-256-GCM ciphertext of the 32-byte key).
type DataKey struct {
	ID          string
	MasterKeyID string
	Wrapped     []byte
}

// Key is a plaintext data key in memory (AES-256-GCM). It never leaves the
// process; only its wrapped form is stored.
type Key struct {
	id   string
	aead cipher.AEAD
}

// ID returns the id of the data key.
func (key *Key) ID() string { return key.id }

// wrapAAD binds a wrapped data key to its own id and master key id: a
// wrapped key copied onto another data_keys row does not unwrap.
func wrapAAD(dataKeyID, masterKeyID string) []byte {
	return []byte("openpsp/data-key/v1\x00" + dataKeyID + "\x00" + masterKeyID)
}

// NewDataKey generates a random data key and wraps it with the primary
// master key. Store the DataKey; use the Key to Seal.
func (k *Keyring) NewDataKey() (DataKey, *Key, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return DataKey{}, nil, fmt.Errorf("vault: random: %w", err)
	}
	id := ids.New()
	dk, err := k.wrap(id, raw)
	if err != nil {
		return DataKey{}, nil, err
	}
	a, err := newAEAD(raw)
	if err != nil {
		return DataKey{}, nil, err
	}
	return dk, &Key{id: id, aead: a}, nil
}

func (k *Keyring) wrap(id string, raw []byte) (DataKey, error) {
	mid, master := k.primary()
	if master == nil {
		return DataKey{}, errors.New("vault: keyring has no primary key")
	}
	return DataKey{ID: id, MasterKeyID: mid, Wrapped: seal(master, wrapAAD(id, mid), raw)}, nil
}

func (k *Keyring) unwrapRaw(dk DataKey) ([]byte, error) {
	master, ok := k.master(dk.MasterKeyID)
	if !ok {
		// Another process may have rotated: read the file once more.
		if err := k.Reload(); err != nil {
			return nil, fmt.Errorf("%w %q (reload: %v)", ErrUnknownMasterKey, dk.MasterKeyID, err)
		}
		if master, ok = k.master(dk.MasterKeyID); !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownMasterKey, dk.MasterKeyID)
		}
	}
	raw, err := open(master, wrapAAD(dk.ID, dk.MasterKeyID), dk.Wrapped)
	if err != nil {
		return nil, fmt.Errorf("vault: unwrap data key %s: %w", dk.ID, err)
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("vault: unwrap data key %s: %w", dk.ID, ErrDecrypt)
	}
	return raw, nil
}

// Unwrap opens a stored data key. An unknown master key id makes the
// keyring reload its file once before giving up.
func (k *Keyring) Unwrap(dk DataKey) (*Key, error) {
	raw, err := k.unwrapRaw(dk)
	if err != nil {
		return nil, err
	}
	a, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	return &Key{id: dk.ID, aead: a}, nil
}

// Rewrap returns dk with the same plaintext key wrapped by the primary
// master key (dk itself if it already is).
func (k *Keyring) Rewrap(dk DataKey) (DataKey, error) {
	if dk.MasterKeyID == k.PrimaryID() {
		return dk, nil
	}
	raw, err := k.unwrapRaw(dk)
	if err != nil {
		return DataKey{}, err
	}
	return k.wrap(dk.ID, raw)
}

// Seal encrypts plaintext bound to aad: random 96-bit nonce || ciphertext.
// Random nonces are safe here: a data key seals a handful of records, far
// from the 2^32 messages where GCM nonce collisions start to matter.
func (key *Key) Seal(aad, plaintext []byte) []byte { return seal(key.aead, aad, plaintext) }

// Open decrypts what Seal produced with the same aad.
func (key *Key) Open(aad, sealed []byte) ([]byte, error) { return open(key.aead, aad, sealed) }

func seal(a cipher.AEAD, aad, plaintext []byte) []byte {
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("vault: crypto/rand failed: " + err.Error())
	}
	return a.Seal(nonce, nonce, plaintext, aad)
}

func open(a cipher.AEAD, aad, sealed []byte) ([]byte, error) {
	n := a.NonceSize()
	if len(sealed) < n+a.Overhead() {
		return nil, ErrDecrypt
	}
	out, err := a.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}
