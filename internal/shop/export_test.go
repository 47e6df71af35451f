package shop

// SetConstantTimeCompare replaces the comparison of secrets for a test and
// returns a function that restores it.
func SetConstantTimeCompare(f func(x, y []byte) int) (restore func()) {
	old := constantTimeCompare
	constantTimeCompare = f
	return func() { constantTimeCompare = old }
}
