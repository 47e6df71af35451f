package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
)

// DemoIPN is an IPN received by the demo merchant.
type DemoIPN struct {
	ID          string
	ReceivedAt  time.Time
	OrderID     string
	OrderStatus string
	HashKey     string
	SignatureOK bool
	Answer      string
}

// InsertDemoIPN records an IPN the demo merchant received and, when keep is
// positive, deletes in the same write all but the newest keep copies: the
// demo's receiver takes posts from anyone, so its list must not grow
// without bound. keep <= 0 keeps every copy.
func (db *DB) InsertDemoIPN(ctx context.Context, n DemoIPN, keep int) error {
	if n.ID == "" {
		n.ID = ids.New()
	}
	ok := 0
	if n.SignatureOK {
		ok = 1
	}
	// SQLite needs a LIMIT before an OFFSET (-1: no limit); PostgreSQL
	// takes an OFFSET alone.
	limit := ""
	if db.dialect != Postgres {
		limit = " LIMIT -1"
	}
	return db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO demo_ipn (id, received_at, order_id, order_status, hash_key, signature_ok, answer) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			n.ID, Micros(n.ReceivedAt), n.OrderID, n.OrderStatus, n.HashKey, ok, n.Answer)
		if err != nil || keep <= 0 {
			return err
		}
		_, err = tx.Exec(`DELETE FROM demo_ipn WHERE id IN (SELECT id FROM demo_ipn ORDER BY received_at DESC, id DESC`+limit+` OFFSET $1)`, keep)
		return err
	})
}

// DemoIPNs returns the latest IPNs, newest first.
func (db *DB) DemoIPNs(ctx context.Context, limit int) ([]DemoIPN, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, received_at, order_id, order_status, hash_key, signature_ok, answer FROM demo_ipn ORDER BY received_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DemoIPN
	for rows.Next() {
		var n DemoIPN
		var at int64
		var ok int
		if err := rows.Scan(&n.ID, &at, &n.OrderID, &n.OrderStatus, &n.HashKey, &ok, &n.Answer); err != nil {
			return nil, err
		}
		n.ReceivedAt, n.SignatureOK = FromMicros(at), ok == 1
		out = append(out, n)
	}
	return out, rows.Err()
}

// CountDemoIPNsBefore counts the demo IPN copies DeleteDemoIPNsBefore would
// delete.
func (db *DB) CountDemoIPNsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM demo_ipn WHERE received_at < $1`, Micros(cutoff)).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count demo IPN copies: %w", err)
	}
	return n, nil
}

// DeleteDemoIPNsBefore deletes up to limit of the demo merchant's IPN
// copies received before cutoff, in one write, and returns how many it
// deleted. On PostgreSQL rows another copy's batch holds are skipped (the
// next batch takes what is left), as DeleteEndedOutbox does.
func (db *DB) DeleteDemoIPNsBefore(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, errors.New("store: demo IPN purge batch size must be positive")
	}
	lock := ""
	if db.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM demo_ipn WHERE id IN (SELECT id FROM demo_ipn WHERE received_at < $1 LIMIT $2`+lock+`)`, Micros(cutoff), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete demo IPN copies: %w", err)
	}
	return int(n), nil
}
