package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

// This file implements ogone.Store: FlexCheckout sessions, the duplicate
// ALIAS.ORDERID record, merchant templates, the error log and DirectLink
// orders.

var _ ogone.Store = (*DB)(nil)

func ogoneNotFound(what string) error {
	return fmt.Errorf("store: %s: %w (%w)", what, ogone.ErrNotFound, ErrNotFound)
}

// InsertSession stores a new FlexCheckout session.
func (db *DB) InsertSession(ctx context.Context, s ogone.Session) error {
	req, err := json.Marshal(s.Request)
	if err != nil {
		return fmt.Errorf("store: flexcheckout session: %w", err)
	}
	return db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO ogone_flex_sessions (id, shop_id, mode, request, state, attempts, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			s.ID, s.ShopID, s.Mode, string(req), s.State, s.Attempts, Micros(s.CreatedAt), Micros(s.ExpiresAt))
		if err != nil {
			return fmt.Errorf("store: insert flexcheckout session: %w", err)
		}
		return nil
	})
}

// Session reads a FlexCheckout session.
func (db *DB) Session(ctx context.Context, id string) (ogone.Session, error) {
	var (
		s                  ogone.Session
		req                string
		created, expiresAt int64
	)
	err := db.read.QueryRowContext(ctx, `SELECT id, shop_id, mode, request, state, attempts, created_at, expires_at
		FROM ogone_flex_sessions WHERE id = $1`, id).
		Scan(&s.ID, &s.ShopID, &s.Mode, &req, &s.State, &s.Attempts, &created, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return ogone.Session{}, ogoneNotFound("flexcheckout session")
	}
	if err != nil {
		return ogone.Session{}, fmt.Errorf("store: flexcheckout session: %w", err)
	}
	if err := json.Unmarshal([]byte(req), &s.Request); err != nil {
		return ogone.Session{}, fmt.Errorf("store: flexcheckout session request: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = FromMicros(created), FromMicros(expiresAt)
	return s, nil
}

// CountAttempt adds a failed attempt to an OPEN session.
func (db *DB) CountAttempt(ctx context.Context, id string) (int, error) {
	var n int
	err := db.Write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRow(`UPDATE ogone_flex_sessions SET attempts = attempts + 1
			WHERE id = $1 AND state = 'OPEN' RETURNING attempts`, id).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return ogoneNotFound("open flexcheckout session")
		}
		return err
	})
	return n, err
}

// FinishSession moves an OPEN session to DONE in the caller's transaction.
func (db *DB) FinishSession(tx *sql.Tx, id string, now time.Time) (bool, error) {
	res, err := tx.Exec(`UPDATE ogone_flex_sessions SET state = 'DONE', finished_at = $2 WHERE id = $1 AND state = 'OPEN'`,
		id, Micros(now))
	if err != nil {
		return false, fmt.Errorf("store: finish flexcheckout session: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteSessions deletes up to limit sessions that expired before t.
func (db *DB) DeleteSessions(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM ogone_flex_sessions WHERE id IN
			(SELECT id FROM ogone_flex_sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)`, Micros(before), limit)
		if err != nil {
			return fmt.Errorf("store: delete flexcheckout sessions: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// AliasOrder reads the alias an ALIAS.ORDERID created, in the caller's
// transaction.
func (db *DB) AliasOrder(tx *sql.Tx, shopID, mode, orderID string) (ogone.AliasOrder, error) {
	o := ogone.AliasOrder{ShopID: shopID, Mode: mode, OrderID: orderID}
	var created int64
	err := tx.QueryRow(`SELECT alias, session_id, created_at FROM ogone_alias_orders
		WHERE shop_id = $1 AND mode = $2 AND order_id = $3`, shopID, mode, orderID).Scan(&o.AliasID, &o.SessionID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return ogone.AliasOrder{}, ogoneNotFound("alias order")
	}
	if err != nil {
		return ogone.AliasOrder{}, fmt.Errorf("store: alias order: %w", err)
	}
	o.CreatedAt = FromMicros(created)
	return o, nil
}

// InsertAliasOrder records an ALIAS.ORDERID unless it is recorded already.
func (db *DB) InsertAliasOrder(tx *sql.Tx, o ogone.AliasOrder) error {
	_, err := tx.Exec(`INSERT INTO ogone_alias_orders (shop_id, mode, order_id, alias, session_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (shop_id, mode, order_id) DO NOTHING`,
		o.ShopID, o.Mode, o.OrderID, o.AliasID, o.SessionID, Micros(o.CreatedAt))
	if err != nil {
		return fmt.Errorf("store: insert alias order: %w", err)
	}
	return nil
}

// PutTemplate creates or replaces a merchant template.
func (db *DB) PutTemplate(ctx context.Context, t ogone.Template) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO ogone_templates (shop_id, name, html, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (shop_id, name) DO UPDATE SET html = excluded.html, updated_at = excluded.updated_at`,
			t.ShopID, t.Name, t.HTML, Micros(t.UpdatedAt))
		if err != nil {
			return fmt.Errorf("store: put template: %w", err)
		}
		return nil
	})
}

// Template reads a merchant template.
func (db *DB) Template(ctx context.Context, shopID, name string) (ogone.Template, error) {
	t := ogone.Template{ShopID: shopID, Name: name}
	var updated int64
	err := db.read.QueryRowContext(ctx, `SELECT html, updated_at FROM ogone_templates WHERE shop_id = $1 AND name = $2`,
		shopID, name).Scan(&t.HTML, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return ogone.Template{}, fmt.Errorf("store: template %q: %w", name, ogone.ErrTemplateNotFound)
	}
	if err != nil {
		return ogone.Template{}, fmt.Errorf("store: template: %w", err)
	}
	t.UpdatedAt = FromMicros(updated)
	return t, nil
}

// Templates lists a shop's templates by name.
func (db *DB) Templates(ctx context.Context, shopID string) ([]ogone.Template, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, html, updated_at FROM ogone_templates WHERE shop_id = $1 ORDER BY name`, shopID)
	if err != nil {
		return nil, fmt.Errorf("store: templates: %w", err)
	}
	defer rows.Close()
	var out []ogone.Template
	for rows.Next() {
		t := ogone.Template{ShopID: shopID}
		var updated int64
		if err := rows.Scan(&t.Name, &t.HTML, &updated); err != nil {
			return nil, fmt.Errorf("store: templates: %w", err)
		}
		t.UpdatedAt = FromMicros(updated)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteTemplate deletes a merchant template.
func (db *DB) DeleteTemplate(ctx context.Context, shopID, name string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM ogone_templates WHERE shop_id = $1 AND name = $2`, shopID, name)
		if err != nil {
			return fmt.Errorf("store: delete template: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("store: template %q: %w", name, ogone.ErrTemplateNotFound)
		}
		return nil
	})
}

// InsertErrorLog appends to the error log.
func (db *DB) InsertErrorLog(ctx context.Context, e ogone.ErrorLogEntry) error {
	if e.ID == "" {
		e.ID = ids.New()
	}
	details, err := json.Marshal(e.Details)
	if err != nil || e.Details == nil {
		details = []byte("{}")
	}
	return db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO error_log (id, shop_id, source, code, message, details, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.ID, e.ShopID, e.Source, e.Code, e.Message, string(details), Micros(e.CreatedAt))
		if err != nil {
			return fmt.Errorf("store: insert error log: %w", err)
		}
		return nil
	})
}

// ErrorLog lists error log entries, newest first.
func (db *DB) ErrorLog(ctx context.Context, shopID string, limit int) ([]ogone.ErrorLogEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT id, shop_id, source, code, message, details, created_at FROM error_log`
	args := []any{}
	if shopID != "" {
		q += ` WHERE shop_id = $1`
		args = append(args, shopID)
	}
	q += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args)+1)
	args = append(args, limit)
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: error log: %w", err)
	}
	defer rows.Close()
	var out []ogone.ErrorLogEntry
	for rows.Next() {
		var (
			e       ogone.ErrorLogEntry
			details string
			created int64
		)
		if err := rows.Scan(&e.ID, &e.ShopID, &e.Source, &e.Code, &e.Message, &details, &created); err != nil {
			return nil, fmt.Errorf("store: error log: %w", err)
		}
		_ = json.Unmarshal([]byte(details), &e.Details)
		e.CreatedAt = FromMicros(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteErrorLog deletes up to limit entries of source older than before.
func (db *DB) DeleteErrorLog(ctx context.Context, source string, before time.Time, limit int) (int, error) {
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM error_log WHERE id IN (SELECT id FROM error_log
			WHERE source = $1 AND created_at < $2 ORDER BY created_at LIMIT $3)`, source, Micros(before), limit)
		if err != nil {
			return fmt.Errorf("store: delete error log: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

const orderColumns = `payid, shop_id, mode, order_id, payment_id, transaction_uuid, operation, status, alias, eci, pm,
	brand, created_at, updated_at`

func scanOrder(s scanner) (ogone.Order, error) {
	var (
		o                ogone.Order
		created, updated int64
	)
	err := s.Scan(&o.PAYID, &o.ShopID, &o.Mode, &o.OrderID, &o.PaymentID, &o.TransactionUUID, &o.Operation, &o.Status,
		&o.Alias, &o.ECI, &o.PM, &o.Brand, &created, &updated)
	o.CreatedAt, o.UpdatedAt = FromMicros(created), FromMicros(updated)
	return o, err
}

// InsertOrder stores a DirectLink order.
func (db *DB) InsertOrder(ctx context.Context, o ogone.Order) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`INSERT INTO ogone_orders (`+orderColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (payid) DO NOTHING`,
			o.PAYID, o.ShopID, o.Mode, o.OrderID, o.PaymentID, o.TransactionUUID, o.Operation, o.Status, o.Alias, o.ECI,
			o.PM, o.Brand, Micros(o.CreatedAt), Micros(o.UpdatedAt))
		if err != nil {
			return fmt.Errorf("store: insert order: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("store: PAYID %d: %w (%w)", o.PAYID, ogone.ErrConflict, ErrConflict)
		}
		return nil
	})
}

// UpdateOrder saves an order's payment binding and status.
func (db *DB) UpdateOrder(ctx context.Context, o ogone.Order) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE ogone_orders SET payment_id = $2, transaction_uuid = $3, status = $4, pm = $5,
			brand = $6, updated_at = $7 WHERE payid = $1`,
			o.PAYID, o.PaymentID, o.TransactionUUID, o.Status, o.PM, o.Brand, Micros(o.UpdatedAt))
		if err != nil {
			return fmt.Errorf("store: update order: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ogoneNotFound("order")
		}
		return nil
	})
}

// SetOrderTransactionTx binds, inside tx, an order to its payment and
// DEBIT transaction (DirectLink: in the write that starts the payment, so
// that an order whose process dies while the acquirer answers is found by
// its transaction once recovery settles it).
func (db *DB) SetOrderTransactionTx(tx *sql.Tx, payid int64, paymentID, transactionUUID string) error {
	res, err := tx.Exec(`UPDATE ogone_orders SET payment_id = $2, transaction_uuid = $3 WHERE payid = $1`,
		payid, paymentID, transactionUUID)
	if err != nil {
		return fmt.Errorf("store: order transaction: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ogoneNotFound("order")
	}
	return nil
}

// DeleteOrder deletes an order that never reached a transaction (an order
// the payment service refused: Ingenico keeps no PAYID for it).
func (db *DB) DeleteOrder(ctx context.Context, shopID string, payid int64) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM ogone_orders WHERE payid = $1 AND shop_id = $2 AND transaction_uuid = ''`, payid, shopID)
		if err != nil {
			return fmt.Errorf("store: delete order: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ogoneNotFound("order")
		}
		return nil
	})
}

// Order reads an order by PAYID.
func (db *DB) Order(ctx context.Context, shopID string, payid int64) (ogone.Order, error) {
	o, err := scanOrder(db.read.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM ogone_orders
		WHERE payid = $1 AND shop_id = $2`, payid, shopID))
	if errors.Is(err, sql.ErrNoRows) {
		return ogone.Order{}, ogoneNotFound("order")
	}
	if err != nil {
		return ogone.Order{}, fmt.Errorf("store: order: %w", err)
	}
	return o, nil
}

// OrdersByOrderID lists a shop's orders with one ORDERID, newest first.
func (db *DB) OrdersByOrderID(ctx context.Context, shopID, mode, orderID string) ([]ogone.Order, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+orderColumns+` FROM ogone_orders
		WHERE shop_id = $1 AND mode = $2 AND order_id = $3 ORDER BY created_at DESC, payid DESC`, shopID, mode, orderID)
	if err != nil {
		return nil, fmt.Errorf("store: orders: %w", err)
	}
	defer rows.Close()
	var out []ogone.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("store: orders: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// InsertOrderOp stores a maintenance operation under the next PAYIDSUB,
// in a write of its own (InsertOrderOpTx).
func (db *DB) InsertOrderOp(ctx context.Context, op ogone.OrderOp) (ogone.OrderOp, error) {
	out := op
	err := db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = db.InsertOrderOpTx(tx, op)
		return err
	})
	return out, err
}

// InsertOrderOpTx stores, inside tx, a maintenance operation under the
// next PAYIDSUB. The order row is locked first (PostgreSQL) so that two
// operations on one order never take the same number; SQLite has a single
// writer.
func (db *DB) InsertOrderOpTx(tx *sql.Tx, op ogone.OrderOp) (ogone.OrderOp, error) {
	lock := ""
	if db.dialect == Postgres {
		lock = " FOR UPDATE"
	}
	var payid int64
	if err := tx.QueryRow(`SELECT payid FROM ogone_orders WHERE payid = $1`+lock, op.PAYID).Scan(&payid); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return op, ogoneNotFound("order")
		}
		return op, fmt.Errorf("store: order op: %w", err)
	}
	var next int
	if err := tx.QueryRow(`SELECT COALESCE(MAX(payidsub), 0) + 1 FROM ogone_order_ops WHERE payid = $1`, op.PAYID).Scan(&next); err != nil {
		return op, fmt.Errorf("store: order op: %w", err)
	}
	out := op
	out.PAYIDSUB = next
	_, err := tx.Exec(`INSERT INTO ogone_order_ops (payid, payidsub, operation, amount, status, ncerror, transaction_uuid, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, out.PAYID, out.PAYIDSUB, out.Operation, out.Amount, out.Status,
		out.NCError, out.TransactionUUID, Micros(out.CreatedAt))
	if err != nil {
		return op, fmt.Errorf("store: insert order op: %w", err)
	}
	return out, nil
}

// UpdateOrderOp records what a maintenance operation stored before it was
// performed (InsertOrderOpTx) was answered: its amount, status, NCERROR
// and the transactions it tells of; ErrNotFound if there is no such
// operation.
func (db *DB) UpdateOrderOp(ctx context.Context, op ogone.OrderOp) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE ogone_order_ops SET amount = $3, status = $4, ncerror = $5, transaction_uuid = $6
			WHERE payid = $1 AND payidsub = $2`, op.PAYID, op.PAYIDSUB, op.Amount, op.Status, op.NCError, op.TransactionUUID)
		if err != nil {
			return fmt.Errorf("store: update order op: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ogoneNotFound("order operation")
		}
		return nil
	})
}

// OrderOps lists an order's maintenance operations by PAYIDSUB.
func (db *DB) OrderOps(ctx context.Context, payid int64) ([]ogone.OrderOp, error) {
	return orderOps(ctx, db.read, payid)
}

func orderOps(ctx context.Context, q Querier, payid int64) ([]ogone.OrderOp, error) {
	rows, err := q.QueryContext(ctx, `SELECT payid, payidsub, operation, amount, status, ncerror, transaction_uuid, created_at
		FROM ogone_order_ops WHERE payid = $1 ORDER BY payidsub`, payid)
	if err != nil {
		return nil, fmt.Errorf("store: order ops: %w", err)
	}
	defer rows.Close()
	var out []ogone.OrderOp
	for rows.Next() {
		var (
			op      ogone.OrderOp
			created int64
		)
		if err := rows.Scan(&op.PAYID, &op.PAYIDSUB, &op.Operation, &op.Amount, &op.Status, &op.NCError,
			&op.TransactionUUID, &created); err != nil {
			return nil, fmt.Errorf("store: order ops: %w", err)
		}
		op.CreatedAt = FromMicros(created)
		out = append(out, op)
	}
	return out, rows.Err()
}

// OrderOfTransactionTx reads, inside tx, the DirectLink order of a shop
// whose DEBIT transaction is transactionUUID (ErrNotFound when the
// payment is not a DirectLink order). The payment's order id narrows the
// search to the (shop_id, mode, order_id) index.
func (db *DB) OrderOfTransactionTx(tx *sql.Tx, shopID, mode, orderID, transactionUUID string) (ogone.Order, error) {
	o, err := scanOrder(tx.QueryRow(`SELECT `+orderColumns+` FROM ogone_orders
		WHERE shop_id = $1 AND mode = $2 AND order_id = $3 AND transaction_uuid = $4`, shopID, mode, orderID, transactionUUID))
	if errors.Is(err, sql.ErrNoRows) {
		return ogone.Order{}, ogoneNotFound("order")
	}
	if err != nil {
		return ogone.Order{}, fmt.Errorf("store: order of transaction: %w", err)
	}
	return o, nil
}

// OrderOpsTx is OrderOps inside tx.
func (db *DB) OrderOpsTx(tx *sql.Tx, payid int64) ([]ogone.OrderOp, error) {
	return orderOps(context.Background(), tx, payid)
}

// OgoneSettingsTx reads, inside tx, a shop's Ogone settings
// (shop.ErrNotFound without an Ogone account): the post-sale hook runs in
// the write of a change and must not wait for another connection of a
// pool its own transaction may be exhausting (PostgreSQL: one pool).
func (db *DB) OgoneSettingsTx(tx *sql.Tx, shopID string) (shop.OgoneSettings, error) {
	og, err := scanOgone(tx.QueryRow(`SELECT `+ogoneColumns+` FROM shop_ogone WHERE shop_id = $1`, shopID))
	if err != nil {
		return shop.OgoneSettings{}, err
	}
	return og.Settings, nil
}
