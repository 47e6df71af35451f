package vault

import "database/sql"

// SetRewrapBatch lets tests rotate in small pages.
func SetRewrapBatch(v *Vault, n int) { v.rewrapBatch = n }

// ReplaceCardAfterRead is ReplaceCard with the token as it was read before
// (old), for the interleaving where the token changes between ReplaceCard's
// read and its write.
func ReplaceCardAfterRead(v *Vault, tx *sql.Tx, old Record, req TokenizeRequest) (Token, error) {
	rec, err := v.prepare(req)
	if err != nil {
		return Token{}, err
	}
	return v.replaceActive(tx, old, req, rec)
}
