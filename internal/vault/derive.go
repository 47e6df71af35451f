package vault

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// DeriveKey returns a 32-byte key for one purpose (e.g. "hosted/3ds-seal"),
// derived with HKDF from the fingerprint key. Every openpsp copy sharing the
// keyring derives the same key, and master-key rotation does not change it,
// so short-lived sealed values (a card during a 3-D Secure challenge)
// survive a rotation and may be opened by any copy. Distinct purposes give
// independent keys.
func (k *Keyring) DeriveKey(purpose string) []byte {
	k.mu.RLock()
	ikm := k.state.fpKey
	k.mu.RUnlock()
	key, err := hkdf.Key(sha256.New, ikm, nil, "openpsp/derived/"+purpose, KeySize)
	if err != nil {
		panic("vault: hkdf: " + err.Error())
	}
	return key
}
