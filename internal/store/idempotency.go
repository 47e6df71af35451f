package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Idempotency record states.
const (
	IdempotencyRunning = "RUNNING"
	IdempotencyDone    = "DONE"
)

// IdempotencyRecord is a row of idempotency_keys: the first call made with
// an Idempotency-Key, and once it is done, its answer.
type IdempotencyRecord struct {
	ShopID      string
	Key         string
	WebService  string
	RequestHash string
	State       string
	Response    string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	LockedUntil time.Time
}

const idempotencyColumns = `shop_id, idem_key, web_service, request_hash, state, response, created_at, expires_at, locked_until`

func scanIdempotency(s scanner) (IdempotencyRecord, error) {
	var r IdempotencyRecord
	var created, expires, locked int64
	err := s.Scan(&r.ShopID, &r.Key, &r.WebService, &r.RequestHash, &r.State, &r.Response, &created, &expires, &locked)
	r.CreatedAt, r.ExpiresAt, r.LockedUntil = FromMicros(created), FromMicros(expires), FromMicros(locked)
	return r, err
}

// BeginIdempotent records the start of a call made with an idempotency key.
// started is true when the caller now owns the key and must run the call:
// the key was new (or its record had expired), or the call that held it is
// RUNNING past its lease (its process died) and the request is the same.
// Otherwise the existing record is returned for the caller to compare and
// replay. rec carries the key, hash, web service, expiry and lease.
func (db *DB) BeginIdempotent(ctx context.Context, rec IdempotencyRecord, now time.Time) (cur IdempotencyRecord, started bool, err error) {
	err = db.Write(ctx, func(tx *sql.Tx) error {
		started = false
		if _, err := tx.Exec(`DELETE FROM idempotency_keys WHERE shop_id = $1 AND idem_key = $2 AND expires_at <= $3`,
			rec.ShopID, rec.Key, Micros(now)); err != nil {
			return fmt.Errorf("store: idempotency: %w", err)
		}
		res, err := tx.Exec(`INSERT INTO idempotency_keys (`+idempotencyColumns+`)
			VALUES ($1, $2, $3, $4, 'RUNNING', '', $5, $6, $7) ON CONFLICT (shop_id, idem_key) DO NOTHING`,
			rec.ShopID, rec.Key, rec.WebService, rec.RequestHash, Micros(now), Micros(rec.ExpiresAt), Micros(rec.LockedUntil))
		if err != nil {
			return fmt.Errorf("store: idempotency: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			cur, started = rec, true
			cur.State, cur.CreatedAt = IdempotencyRunning, now
			return nil
		}
		cur, err = scanIdempotency(tx.QueryRow(`SELECT `+idempotencyColumns+` FROM idempotency_keys
			WHERE shop_id = $1 AND idem_key = $2`, rec.ShopID, rec.Key))
		if err != nil {
			return fmt.Errorf("store: idempotency: %w", err)
		}
		if cur.State != IdempotencyRunning || !cur.LockedUntil.Before(now) ||
			cur.RequestHash != rec.RequestHash || cur.WebService != rec.WebService {
			return nil
		}
		// Take over an abandoned call. The lease in the condition makes one
		// copy win when several find it abandoned at once.
		res, err = tx.Exec(`UPDATE idempotency_keys SET locked_until = $3 WHERE shop_id = $1 AND idem_key = $2
			AND state = 'RUNNING' AND locked_until = $4`, rec.ShopID, rec.Key, Micros(rec.LockedUntil), Micros(cur.LockedUntil))
		if err != nil {
			return fmt.Errorf("store: idempotency takeover: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			cur.LockedUntil, started = rec.LockedUntil, true
		}
		return nil
	})
	return cur, started, err
}

// FinishIdempotent stores the answer of the call that owns a key.
func (db *DB) FinishIdempotent(ctx context.Context, shopID, key, response string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE idempotency_keys SET state = 'DONE', response = $3
			WHERE shop_id = $1 AND idem_key = $2 AND state = 'RUNNING'`, shopID, key, response)
		if err != nil {
			return fmt.Errorf("store: finish idempotency: %w", err)
		}
		return nil
	})
}

// ReleaseIdempotent forgets a key whose call failed in a way worth retrying
// (internal error): the next call with the key runs again.
func (db *DB) ReleaseIdempotent(ctx context.Context, shopID, key string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM idempotency_keys WHERE shop_id = $1 AND idem_key = $2 AND state = 'RUNNING'`, shopID, key)
		if err != nil {
			return fmt.Errorf("store: release idempotency: %w", err)
		}
		return nil
	})
}

// GetIdempotent reads the record of a key.
func (db *DB) GetIdempotent(ctx context.Context, shopID, key string) (IdempotencyRecord, error) {
	r, err := scanIdempotency(db.read.QueryRowContext(ctx, `SELECT `+idempotencyColumns+` FROM idempotency_keys
		WHERE shop_id = $1 AND idem_key = $2`, shopID, key))
	return r, notFound("idempotency key", err)
}

// PurgeIdempotency deletes up to limit expired keys and returns how many.
func (db *DB) PurgeIdempotency(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM idempotency_keys WHERE (shop_id, idem_key) IN
			(SELECT shop_id, idem_key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2)`, Micros(now), limit)
		if err != nil {
			return fmt.Errorf("store: purge idempotency: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
