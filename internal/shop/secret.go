package shop

import (
	"crypto/sha256"
	"crypto/subtle"
)

// constantTimeCompare is subtle.ConstantTimeCompare; a variable so that a
// test can check that no comparison of a secret is made on inputs of
// different lengths.
var constantTimeCompare = subtle.ConstantTimeCompare

// EqualSecret reports whether a secret that was sent (a login, a password,
// a signature) equals the expected one, in constant time and without
// revealing whether their lengths match: subtle.ConstantTimeCompare answers
// at once when lengths differ, so it compares their SHA-256 digests.
func EqualSecret(given, expected string) bool {
	g, e := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(expected))
	return constantTimeCompare(g[:], e[:]) == 1
}
