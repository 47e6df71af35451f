package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CancelActiveTokenTx cancels an ACTIVE token inside the caller's
// transaction (so the cancellation commits with its notifications and the
// subscriptions it stops). It reports false when the token was not ACTIVE.
func CancelActiveTokenTx(tx *sql.Tx, shopID, mode, token string, now time.Time) (bool, error) {
	res, err := tx.Exec(`UPDATE tokens SET status = 'CANCELLED', cancelled_at = $3, updated_at = $3
		WHERE shop_id = $1 AND token = $2 AND mode = $4 AND status = 'ACTIVE'`, shopID, token, Micros(now), mode)
	if err != nil {
		return false, fmt.Errorf("store: cancel token: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// LockTokenStatus returns a token's stored status inside the caller's write
// transaction ("" when the shop has no such token in that mode). On PostgreSQL it locks
// the row (FOR SHARE) until the commit: a write cancelling or purging the
// token waits for it, and it waits for theirs and then reads their outcome.
// SQLite's single writer needs no lock. A subscription is stored on a
// token only once this says ACTIVE (see CancelActiveTokenTx's callers).
func LockTokenStatus(tx *sql.Tx, d Dialect, shopID, mode, token string) (string, error) {
	q := `SELECT status FROM tokens WHERE shop_id = $1 AND mode = $2 AND token = $3`
	if d == Postgres {
		q += " FOR SHARE"
	}
	var st string
	err := tx.QueryRow(q, shopID, mode, token).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: lock token: %w", err)
	}
	return st, nil
}

// SetPaymentCustomerTx replaces a payment's customer JSON.
func SetPaymentCustomerTx(tx *sql.Tx, paymentID, customerJSON string) error {
	if _, err := tx.Exec(`UPDATE payments SET customer = $2 WHERE id = $1`, paymentID, customerJSON); err != nil {
		return fmt.Errorf("store: payment customer: %w", err)
	}
	return nil
}

// InSavepoint runs fn inside a savepoint of tx: when fn fails, only its
// changes are undone and the transaction goes on. It returns fn's error.
func InSavepoint(tx *sql.Tx, name string, fn func() error) error {
	if _, err := tx.Exec("SAVEPOINT " + name); err != nil {
		return fmt.Errorf("store: savepoint: %w", err)
	}
	if err := fn(); err != nil {
		if _, rerr := tx.Exec("ROLLBACK TO SAVEPOINT " + name); rerr != nil {
			return fmt.Errorf("store: rollback to savepoint: %w (after %v)", rerr, err)
		}
		_, _ = tx.Exec("RELEASE SAVEPOINT " + name)
		return err
	}
	_, err := tx.Exec("RELEASE SAVEPOINT " + name)
	return err
}

// openNextSavepoint opens savepoint name for the next unit of a batch,
// releasing the previous unit's first (unless first).
func openNextSavepoint(tx *sql.Tx, name string, first bool) error {
	if !first {
		if _, err := tx.Exec("RELEASE SAVEPOINT " + name); err != nil {
			return fmt.Errorf("store: savepoint: %w", err)
		}
	}
	if _, err := tx.Exec("SAVEPOINT " + name); err != nil {
		return fmt.Errorf("store: savepoint: %w", err)
	}
	return nil
}
