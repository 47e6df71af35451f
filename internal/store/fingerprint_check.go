package store

import (
	"context"
	"database/sql"
	"time"
)

// FingerprintKeyCheck returns the check value of the fingerprint key this
// database's fingerprints are made with, and where that key came from,
// recording check and source first when the database has none (the first
// key a database meets is its key; copies starting at once agree on one).
func (db *DB) FingerprintKeyCheck(ctx context.Context, check, source string, now time.Time) (storedCheck, storedSource string, err error) {
	err = db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO fingerprint_key_check (id, key_check, source, recorded_at) VALUES (1, $1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, check, source, Micros(now)); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT key_check, source FROM fingerprint_key_check WHERE id = 1`).Scan(&storedCheck, &storedSource)
	})
	return storedCheck, storedSource, err
}

// ReplaceFingerprintKeyCheck records check and source as the fingerprint
// key's, for a database whose fingerprints may change (none stored, or a
// development run).
func (db *DB) ReplaceFingerprintKeyCheck(ctx context.Context, check, source string, now time.Time) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE fingerprint_key_check SET key_check = $1, source = $2, recorded_at = $3 WHERE id = 1`, check, source, Micros(now))
		return err
	})
}

// HasFingerprints reports whether any token holds a card fingerprint.
func (db *DB) HasFingerprints(ctx context.Context) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM tokens WHERE fingerprint IS NOT NULL LIMIT 1) t`).Scan(&n)
	return n > 0, err
}
