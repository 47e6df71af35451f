package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
)

// The built-in test acquirer's journal: *DB implements simulator.Journal, so
// that what the simulator decided survives a restart of openpsp and every
// copy on one database sees a single acquirer.
var _ simulator.Journal = (*DB)(nil)

const simOpColumns = `operation_id, reference, kind, approved, response_code, authorization_number, message,
	amount, currency, sale, captured, refunded, cancelled, created_at, original_reference`

func scanSimOp(s scanner) (simulator.Entry, error) {
	var e simulator.Entry
	var kind int64
	var at int64
	err := s.Scan(&e.OperationID, &e.Result.AcquirerReference, &kind, &e.Result.Approved, &e.Result.ResponseCode,
		&e.Result.AuthorizationNumber, &e.Result.Message, &e.Amount, &e.Currency, &e.Sale, &e.Captured, &e.Refunded,
		&e.Cancelled, &at, &e.Original)
	e.Kind, e.At = simulator.Kind(kind), FromMicros(at)
	return e, err
}

// forUpdate locks the rows a query reads until the transaction ends, on
// PostgreSQL; SQLite's single writer already serialises write transactions.
func (db *DB) forUpdate() string {
	if db.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// RecordOperation implements simulator.Journal: one group-committed write
// that replays, or locks the original, decides and records.
func (db *DB) RecordOperation(ctx context.Context, opID, originalRef string, decide func(original *simulator.Entry) simulator.Entry) (simulator.Entry, error) {
	var out simulator.Entry
	err := db.Write(ctx, func(tx *sql.Tx) error {
		out = simulator.Entry{} // the function may run twice
		var orig *simulator.Entry
		var before, rootBefore simulator.Entry
		if originalRef != "" {
			o, err := db.lockSimOp(tx, originalRef)
			switch {
			case err == nil:
				orig, before = &o, o
			case errors.Is(err, sql.ErrNoRows):
			default:
				return fmt.Errorf("store: simulator original: %w", err)
			}
		}
		if orig != nil && orig.Original != "" {
			// A refund's capture, which cancelling the refund changes:
			// locked after the refund (a refund locks its capture alone,
			// so the order never crosses).
			r, err := db.lockSimOp(tx, orig.Original)
			switch {
			case err == nil:
				orig.OriginalOp, rootBefore = &r, r
			case errors.Is(err, sql.ErrNoRows):
			default:
				return fmt.Errorf("store: simulator original's original: %w", err)
			}
		}
		e := decide(orig)
		e.OperationID, e.OriginalOp = opID, nil
		r := e.Result
		insert := `INSERT INTO simulator_operations (` + simOpColumns + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (operation_id) DO NOTHING`
		args := []any{opID, r.AcquirerReference, int64(e.Kind), r.Approved, r.ResponseCode, r.AuthorizationNumber, r.Message,
			e.Amount, e.Currency, e.Sale, e.Captured, e.Refunded, e.Cancelled, Micros(e.At), e.Original}
		changed := func(o *simulator.Entry, was simulator.Entry) bool {
			return o != nil && (o.Captured != was.Captured || o.Refunded != was.Refunded || o.Cancelled != was.Cancelled)
		}
		origChanged := changed(orig, before)
		var root *simulator.Entry
		if orig != nil {
			root = orig.OriginalOp
		}
		rootChanged := changed(root, rootBefore)
		const updateOrig = `UPDATE simulator_operations SET captured = $2, refunded = $3, cancelled = $4 WHERE operation_id = $1`
		origArgs := func() []any { return []any{before.OperationID, orig.Captured, orig.Refunded, orig.Cancelled} }
		var inserted int64
		if origChanged && !rootChanged && db.dialect == Postgres {
			// One round trip (see execGroup): the original changes only
			// if this operation was recorded now, not replayed.
			err := tx.QueryRow(`WITH ins AS (`+insert+` RETURNING 1),
				upd AS (`+renumber(updateOrig, len(args))+` AND EXISTS (SELECT 1 FROM ins))
				SELECT count(*) FROM ins`,
				append(args, origArgs()...)...).Scan(&inserted)
			if err != nil {
				return fmt.Errorf("store: simulator record: %w", err)
			}
		} else {
			res, err := tx.Exec(insert, args...)
			if err != nil {
				return fmt.Errorf("store: simulator record: %w", err)
			}
			if inserted, err = res.RowsAffected(); err != nil {
				return fmt.Errorf("store: simulator record: %w", err)
			}
		}
		if inserted == 0 {
			// Recorded already, perhaps by another copy a moment ago (on
			// PostgreSQL the insert waited for its commit): replay it.
			var err error
			out, err = scanSimOp(tx.QueryRow(`SELECT `+simOpColumns+` FROM simulator_operations WHERE operation_id = $1`, opID))
			if err != nil {
				return fmt.Errorf("store: simulator replay: %w", err)
			}
			return nil
		}
		if origChanged && (db.dialect != Postgres || rootChanged) {
			if _, err := tx.Exec(updateOrig, origArgs()...); err != nil {
				return fmt.Errorf("store: simulator original: %w", err)
			}
		}
		if rootChanged {
			if _, err := tx.Exec(updateOrig, rootBefore.OperationID, root.Captured, root.Refunded, root.Cancelled); err != nil {
				return fmt.Errorf("store: simulator original's original: %w", err)
			}
		}
		out = e
		return nil
	})
	if err != nil {
		return simulator.Entry{}, err
	}
	return out, nil
}

// lockSimOp reads the operation whose acquirer reference is ref, locked
// until the transaction ends.
func (db *DB) lockSimOp(tx *sql.Tx, ref string) (simulator.Entry, error) {
	return scanSimOp(tx.QueryRow(`SELECT `+simOpColumns+` FROM simulator_operations WHERE reference = $1`+db.forUpdate(), ref))
}

// LookupOperation implements simulator.Journal.
func (db *DB) LookupOperation(ctx context.Context, opID string) (simulator.Entry, bool, error) {
	e, err := scanSimOp(db.read.QueryRowContext(ctx, `SELECT `+simOpColumns+` FROM simulator_operations WHERE operation_id = $1`, opID))
	switch {
	case err == nil:
		return e, true, nil
	case errors.Is(err, sql.ErrNoRows):
		return simulator.Entry{}, false, nil
	default:
		return simulator.Entry{}, false, fmt.Errorf("store: simulator lookup: %w", err)
	}
}

// CountAuthorizations implements simulator.Journal. It scans the journal:
// tests only.
func (db *DB) CountAuthorizations(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM simulator_operations WHERE kind = $1 AND approved = $2`,
		int64(simulator.KindAuthorization), true).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: simulator count: %w", err)
	}
	return n, nil
}

const sim3DSColumns = `ds_trans_id, brand, completed, status, eci, authentication_value, version, challenged, liability_shift, created_at`

func scanSim3DS(s scanner) (simulator.Session, error) {
	var ss simulator.Session
	var brand string
	var at int64
	r := &ss.Result
	err := s.Scan(&ss.DSTransID, &brand, &ss.Completed, &r.Status, &r.ECI, &r.AuthenticationValue, &r.Version,
		&r.Challenged, &r.LiabilityShift, &at)
	ss.Brand, ss.At, r.DSTransID = card.Brand(brand), FromMicros(at), ss.DSTransID
	return ss, err
}

func insertSim3DS(tx *sql.Tx, s simulator.Session) error {
	r := s.Result
	_, err := tx.Exec(`INSERT INTO simulator_3ds (`+sim3DSColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		s.DSTransID, string(s.Brand), s.Completed, r.Status, r.ECI, r.AuthenticationValue, r.Version,
		r.Challenged, r.LiabilityShift, Micros(s.At))
	return err
}

// StartSession implements simulator.Journal.
func (db *DB) StartSession(ctx context.Context, s simulator.Session) error {
	err := db.Write(ctx, func(tx *sql.Tx) error { return insertSim3DS(tx, s) })
	if err != nil {
		return fmt.Errorf("store: simulator 3ds start: %w", err)
	}
	return nil
}

// CompleteSession implements simulator.Journal.
func (db *DB) CompleteSession(ctx context.Context, dsTransID string, complete func(simulator.Session) simulator.Session) (simulator.Session, bool, error) {
	var out simulator.Session
	var found bool
	err := db.Write(ctx, func(tx *sql.Tx) error {
		out, found = simulator.Session{}, false
		s, err := scanSim3DS(tx.QueryRow(`SELECT `+sim3DSColumns+` FROM simulator_3ds WHERE ds_trans_id = $1`+db.forUpdate(), dsTransID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		}
		found = true
		if s.Completed {
			out = s
			return nil
		}
		done := complete(s)
		r := done.Result
		if _, err := tx.Exec(`UPDATE simulator_3ds SET completed = $2, status = $3, eci = $4, authentication_value = $5,
			challenged = $6, liability_shift = $7 WHERE ds_trans_id = $1`,
			dsTransID, done.Completed, r.Status, r.ECI, r.AuthenticationValue, r.Challenged, r.LiabilityShift); err != nil {
			return err
		}
		out = done
		return nil
	})
	if err != nil {
		return simulator.Session{}, false, fmt.Errorf("store: simulator 3ds complete: %w", err)
	}
	return out, found, nil
}
