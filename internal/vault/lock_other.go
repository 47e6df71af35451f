//go:build !unix

package vault

// lockFile is a no-op where flock does not exist; the in-process mutex
// still serialises writers of one process.
func lockFile(string) (func(), error) { return func() {}, nil }
