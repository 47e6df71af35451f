// Package ids makes the identifiers OpenPSP stores: UUIDv7 everywhere,
// because time-ordered keys insert at the end of every B-tree (measured about
// three times faster than random keys on both engines).
package ids

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/google/uuid"
)

// New returns a UUIDv7 in its canonical 36-character form.
func New() string { return uuid.Must(uuid.NewV7()).String() }

// NewHex returns a UUIDv7 as 32 lowercase hex characters, the form PayZen
// uses for transaction uuids.
func NewHex() string {
	u := uuid.Must(uuid.NewV7())
	return hex.EncodeToString(u[:])
}

// RandomHex returns n random bytes as lowercase hex; for secrets and tokens
// that must not be guessable (UUIDv7 leaks time and is partly predictable).
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("ids: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}
