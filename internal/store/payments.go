package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
)

// Querier is what read helpers need: a *sql.DB (the read pool) or a *sql.Tx
// (inside a write, to see the transaction's own changes).
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// PaymentRecord is a row of payments (the PayZen "order" of one formToken or
// one server-to-server payment). Customer and Options are JSON documents the
// payment package owns.
type PaymentRecord struct {
	ID            string
	ShopID        string
	Mode          string
	OrderID       string
	Amount        int64
	Currency      string
	FormAction    string
	OrderStatus   string
	OrderCycle    string
	Customer      string
	Options       string
	FormToken     string // "" stores NULL
	FormExpiresAt time.Time
	Attempts      int
	Version       int // optimistic lock: see UpdatePaymentState
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TransactionRecord is a row of transactions.
type TransactionRecord struct {
	UUID                string
	ShopID              string
	PaymentID           string
	ParentUUID          string // "" stores NULL
	Mode                string
	OrderID             string
	OperationType       string
	Amount              int64
	Currency            string
	Status              string
	DetailedStatus      string
	Token               string
	PaymentMethodSource string
	Brand               string
	PANMasked           string
	ExpiryMonth         int
	ExpiryYear          int
	ManualValidation    bool
	ExpectedCaptureAt   time.Time
	AuthExpiresAt       time.Time
	AuthNumber          string
	AuthResult          string
	AuthAt              time.Time
	AuthAmount          int64
	// MarkAuth* record the card check of a deferred debit (Lyra's
	// markAuthorizationResponse), kept once it is authorized; MarkAuthResult
	// is "" when there was none.
	MarkAuthNumber       string
	MarkAuthResult       string
	MarkAuthAt           time.Time
	MarkAuthAmount       int64
	AcquirerRef          string
	CaptureRef           string
	CapturedAmount       int64
	CapturedAt           time.Time
	RefundedAmount       int64
	ThreeDS              string
	ErrorCode            string
	ErrorMessage         string
	DetailedErrorCode    string
	DetailedErrorMessage string
	Metadata             string
	SequenceNumber       int
	OrderGuard           string // "" stores NULL
	PendingOp            string
	PendingOpID          string
	PendingSince         time.Time
	// PendingStartedAt is when the pending operation was claimed:
	// PendingSince is also recovery's lease, renewed at each of its
	// claims.
	PendingStartedAt time.Time
	// CancelRefusals counts the cancellations the acquirer refused: the
	// next one is sent under an operation id of its own.
	CancelRefusals int
	// DeferredCardToken is the vault's internal token holding the typed
	// card of a deferred debit until its authorization ("" for none).
	DeferredCardToken string
	// CardHolderName is the name the buyer typed with the card, or the
	// one the paying token holds ("" for none).
	CardHolderName string
	Version        int
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

const paymentColumns = `id, shop_id, mode, order_id, amount, currency, form_action, order_status, order_cycle,
	customer, options, form_token, form_expires_at, attempts, created_at, updated_at, version`

const transactionColumns = `uuid, shop_id, payment_id, parent_uuid, mode, order_id, operation_type, amount, currency,
	status, detailed_status, token, payment_method_source, brand, pan_masked, expiry_month, expiry_year,
	manual_validation, expected_capture_at, auth_expires_at, auth_number, auth_result, auth_at, auth_amount,
	acquirer_ref, capture_ref, captured_amount, captured_at, refunded_amount, three_ds, error_code, error_message,
	detailed_error_code, detailed_error_message, metadata, sequence_number, order_guard, pending_op, pending_op_id,
	pending_since, deferred_card_token, mark_auth_number, mark_auth_result, mark_auth_at, mark_auth_amount, version,
	created_at, updated_at, card_holder_name, pending_started_at, cancel_refusals`

func optText(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type scanner interface{ Scan(dest ...any) error }

func scanPayment(s scanner) (PaymentRecord, error) {
	var p PaymentRecord
	var token sql.NullString
	var formExp sql.NullInt64
	var created, updated int64
	err := s.Scan(&p.ID, &p.ShopID, &p.Mode, &p.OrderID, &p.Amount, &p.Currency, &p.FormAction, &p.OrderStatus,
		&p.OrderCycle, &p.Customer, &p.Options, &token, &formExp, &p.Attempts, &created, &updated, &p.Version)
	if err != nil {
		return p, err
	}
	p.FormToken = token.String
	p.FormExpiresAt = NullMicros(formExp)
	p.CreatedAt, p.UpdatedAt = FromMicros(created), FromMicros(updated)
	return p, nil
}

func scanTransaction(s scanner) (TransactionRecord, error) {
	var t TransactionRecord
	var parent, guard sql.NullString
	var manual int
	var expCapture, authExp, authAt, markAt, capturedAt, pendingSince, pendingStarted sql.NullInt64
	var created, updated int64
	err := s.Scan(&t.UUID, &t.ShopID, &t.PaymentID, &parent, &t.Mode, &t.OrderID, &t.OperationType, &t.Amount,
		&t.Currency, &t.Status, &t.DetailedStatus, &t.Token, &t.PaymentMethodSource, &t.Brand, &t.PANMasked,
		&t.ExpiryMonth, &t.ExpiryYear, &manual, &expCapture, &authExp, &t.AuthNumber, &t.AuthResult, &authAt,
		&t.AuthAmount, &t.AcquirerRef, &t.CaptureRef, &t.CapturedAmount, &capturedAt, &t.RefundedAmount, &t.ThreeDS,
		&t.ErrorCode, &t.ErrorMessage, &t.DetailedErrorCode, &t.DetailedErrorMessage, &t.Metadata, &t.SequenceNumber,
		&guard, &t.PendingOp, &t.PendingOpID, &pendingSince, &t.DeferredCardToken, &t.MarkAuthNumber, &t.MarkAuthResult, &markAt,
		&t.MarkAuthAmount, &t.Version, &created, &updated, &t.CardHolderName, &pendingStarted, &t.CancelRefusals)
	if err != nil {
		return t, err
	}
	t.ParentUUID, t.OrderGuard = parent.String, guard.String
	t.ManualValidation = manual != 0
	t.ExpectedCaptureAt, t.AuthExpiresAt = NullMicros(expCapture), NullMicros(authExp)
	t.AuthAt, t.CapturedAt, t.PendingSince = NullMicros(authAt), NullMicros(capturedAt), NullMicros(pendingSince)
	t.MarkAuthAt, t.PendingStartedAt = NullMicros(markAt), NullMicros(pendingStarted)
	t.CreatedAt, t.UpdatedAt = FromMicros(created), FromMicros(updated)
	return t, nil
}

// InsertPayment writes a new payment in the caller's transaction.
func InsertPayment(tx *sql.Tx, p PaymentRecord) error {
	return execGroupStmt(tx, insertPaymentStmt(p))
}

func insertPaymentStmt(p PaymentRecord) groupStmt {
	return groupStmt{what: "insert payment", uniqueConflict: true,
		query: `INSERT INTO payments (` + paymentColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		args: []any{p.ID, p.ShopID, p.Mode, p.OrderID, p.Amount, p.Currency, p.FormAction, p.OrderStatus, p.OrderCycle,
			p.Customer, p.Options, optText(p.FormToken), OptMicros(p.FormExpiresAt), p.Attempts,
			Micros(p.CreatedAt), Micros(p.UpdatedAt), max(p.Version, 1)}}
}

// InsertPaymentWithTransaction writes a new payment and its first
// transaction (one statement on PostgreSQL, see execGroup). A uniqueness
// failure is ErrConflict.
func (db *DB) InsertPaymentWithTransaction(tx *sql.Tx, p PaymentRecord, t TransactionRecord) error {
	return db.execGroup(tx, []groupStmt{insertPaymentStmt(p), insertTransactionStmt(t)})
}

// UpdatePaymentState stores the derived order status and cycle, the amount
// (lowered by a transaction update) and the attempts count, if the stored
// version is still p.Version, and increments it (p.Version is updated).
// Every write transaction that changes a payment ends with it, so a
// concurrent change in between is ErrConflict.
func UpdatePaymentState(tx *sql.Tx, p *PaymentRecord) error {
	if err := execGroupStmt(tx, updatePaymentStateStmt(p)); err != nil {
		return err
	}
	p.Version++
	return nil
}

func updatePaymentStateStmt(p *PaymentRecord) groupStmt {
	return groupStmt{what: "update payment " + p.ID, one: true,
		query: `UPDATE payments SET order_status = $2, order_cycle = $3, amount = $4, attempts = $5,
		updated_at = $6, version = version + 1
		WHERE id = $1 AND version = $7`,
		args: []any{p.ID, p.OrderStatus, p.OrderCycle, p.Amount, p.Attempts, Micros(p.UpdatedAt), p.Version}}
}

// WriteSettlement stores a transaction's new state and its payment's (both
// version-checked and incremented, as UpdateTransaction and
// UpdatePaymentState) with the outbox messages announcing them and, if
// use is set, the use of the token that paid (a token gone meanwhile is
// left alone): one statement on PostgreSQL (see execGroup). A concurrent
// change is ErrConflict. With a reservation (nil: none) the messages are
// inserted claimed by the local dispatcher where they can be (see
// insertClaimedOutboxStmt); it returns those, to hand over after the commit.
func (db *DB) WriteSettlement(tx *sql.Tx, t *TransactionRecord, p *PaymentRecord, msgs []outbox.Message, use *TokenUse, r *outbox.Reservation, now time.Time) ([]outbox.Delivery, error) {
	// The payment first, the rest after its lock (see the package doc):
	// a merchant operation on the same payment locks it, then the
	// transaction; updating the transaction first deadlocked with it.
	ut := updateTransactionStmt(t)
	ut.afterFirst = true
	stmts := []groupStmt{updatePaymentStateStmt(p), ut}
	if use != nil {
		tu := touchTokenStmt(*use)
		tu.afterFirst = true
		stmts = append(stmts, tu)
	}
	inserts, claimed := db.outboxStmts(msgs, r, now)
	stmts = append(stmts, inserts...)
	if err := db.execGroup(tx, stmts); err != nil {
		return nil, err
	}
	t.Version++
	p.Version++
	return claimedDeliveries(claimed), nil
}

// TakeAttempt counts one card attempt on a payment, unless max attempts were
// already made; it reports whether an attempt was left. The condition is in
// the UPDATE so that concurrent submissions cannot exceed max.
func TakeAttempt(tx *sql.Tx, paymentID string, max int, now time.Time) (bool, error) {
	res, err := tx.Exec(`UPDATE payments SET attempts = attempts + 1, updated_at = $3 WHERE id = $1 AND attempts < $2`,
		paymentID, max, Micros(now))
	if err != nil {
		return false, fmt.Errorf("store: take attempt: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: take attempt: %w", err)
	}
	return n == 1, nil
}

// GetPayment returns a payment of a shop by id.
func GetPayment(ctx context.Context, q Querier, shopID, id string) (PaymentRecord, error) {
	p, err := scanPayment(q.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 AND shop_id = $2`, id, shopID))
	return p, notFound("payment", err)
}

// PaymentByFormToken returns the payment a formToken was issued for.
func PaymentByFormToken(ctx context.Context, q Querier, token string) (PaymentRecord, error) {
	if token == "" {
		return PaymentRecord{}, ErrNotFound
	}
	p, err := scanPayment(q.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE form_token = $1`, token))
	return p, notFound("payment", err)
}

// PaymentsByOrder returns a shop's payments for an orderId in one mode, oldest first.
func PaymentsByOrder(ctx context.Context, q Querier, shopID, mode, orderID string) ([]PaymentRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE shop_id = $1 AND order_id = $2 AND mode = $3 ORDER BY created_at, id`, shopID, orderID, mode)
	if err != nil {
		return nil, fmt.Errorf("store: payments by order: %w", err)
	}
	defer rows.Close()
	var out []PaymentRecord
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, fmt.Errorf("store: payments by order: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// InsertTransaction writes a new transaction. A uniqueness failure (the
// order or payment already has a live debit) is ErrConflict.
func InsertTransaction(tx *sql.Tx, t TransactionRecord) error {
	return execGroupStmt(tx, insertTransactionStmt(t))
}

func insertTransactionStmt(t TransactionRecord) groupStmt {
	return groupStmt{what: "insert transaction", uniqueConflict: true,
		query: `INSERT INTO transactions (` + transactionColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
		$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31,
		$32, $33, $34, $35, $36, $37, $38, $39, $40, $41, $42, $43, $44, $45, $46, $47, $48, $49, $50, $51)`,
		args: transactionArgs(t)}
}

func transactionArgs(t TransactionRecord) []any {
	return []any{t.UUID, t.ShopID, t.PaymentID, optText(t.ParentUUID), t.Mode, t.OrderID, t.OperationType, t.Amount,
		t.Currency, t.Status, t.DetailedStatus, t.Token, t.PaymentMethodSource, t.Brand, t.PANMasked, t.ExpiryMonth,
		t.ExpiryYear, boolInt(t.ManualValidation), OptMicros(t.ExpectedCaptureAt), OptMicros(t.AuthExpiresAt),
		t.AuthNumber, t.AuthResult, OptMicros(t.AuthAt), t.AuthAmount, t.AcquirerRef, t.CaptureRef, t.CapturedAmount,
		OptMicros(t.CapturedAt), t.RefundedAmount, t.ThreeDS, t.ErrorCode, t.ErrorMessage, t.DetailedErrorCode,
		t.DetailedErrorMessage, t.Metadata, t.SequenceNumber, optText(t.OrderGuard), t.PendingOp, t.PendingOpID,
		OptMicros(t.PendingSince), t.DeferredCardToken, t.MarkAuthNumber, t.MarkAuthResult, OptMicros(t.MarkAuthAt),
		t.MarkAuthAmount, t.Version, Micros(t.CreatedAt), Micros(t.UpdatedAt), t.CardHolderName,
		OptMicros(t.PendingStartedAt), t.CancelRefusals}
}

// UpdateTransaction writes every mutable column of t if the stored version is
// still t.Version, and increments it (t.Version is updated). A concurrent
// change in between is ErrConflict; a uniqueness failure too.
func UpdateTransaction(tx *sql.Tx, t *TransactionRecord) error {
	if err := execGroupStmt(tx, updateTransactionStmt(t)); err != nil {
		return err
	}
	t.Version++
	return nil
}

func updateTransactionStmt(t *TransactionRecord) groupStmt {
	return groupStmt{what: "update transaction " + t.UUID, one: true, uniqueConflict: true,
		query: `UPDATE transactions SET amount = $3, status = $4, detailed_status = $5, token = $6,
		payment_method_source = $7, brand = $8, pan_masked = $9, expiry_month = $10, expiry_year = $11,
		manual_validation = $12, expected_capture_at = $13, auth_expires_at = $14, auth_number = $15,
		auth_result = $16, auth_at = $17, auth_amount = $18, acquirer_ref = $19, capture_ref = $20,
		captured_amount = $21, captured_at = $22, refunded_amount = $23, three_ds = $24, error_code = $25,
		error_message = $26, detailed_error_code = $27, detailed_error_message = $28, metadata = $29,
		order_guard = $30, pending_op = $31, pending_op_id = $32, pending_since = $33, updated_at = $34,
		deferred_card_token = $35, mark_auth_number = $36, mark_auth_result = $37, mark_auth_at = $38,
		mark_auth_amount = $39, card_holder_name = $40, pending_started_at = $41, cancel_refusals = $42,
		version = version + 1
		WHERE uuid = $1 AND version = $2`,
		args: []any{t.UUID, t.Version, t.Amount, t.Status, t.DetailedStatus, t.Token, t.PaymentMethodSource, t.Brand, t.PANMasked,
			t.ExpiryMonth, t.ExpiryYear, boolInt(t.ManualValidation), OptMicros(t.ExpectedCaptureAt),
			OptMicros(t.AuthExpiresAt), t.AuthNumber, t.AuthResult, OptMicros(t.AuthAt), t.AuthAmount, t.AcquirerRef,
			t.CaptureRef, t.CapturedAmount, OptMicros(t.CapturedAt), t.RefundedAmount, t.ThreeDS, t.ErrorCode,
			t.ErrorMessage, t.DetailedErrorCode, t.DetailedErrorMessage, t.Metadata, optText(t.OrderGuard), t.PendingOp,
			t.PendingOpID, OptMicros(t.PendingSince), Micros(t.UpdatedAt), t.DeferredCardToken, t.MarkAuthNumber,
			t.MarkAuthResult, OptMicros(t.MarkAuthAt), t.MarkAuthAmount, t.CardHolderName,
			OptMicros(t.PendingStartedAt), t.CancelRefusals}}
}

// LockTransaction reads a shop's transaction inside a write transaction and,
// on PostgreSQL, locks its row until the commit, so that two copies changing
// the same transaction take turns. shopID "" skips the shop check (jobs).
// Its payment must be locked first (LockPayment, see the package doc).
func LockTransaction(tx *sql.Tx, d Dialect, shopID, uuid string) (TransactionRecord, error) {
	q := `SELECT ` + transactionColumns + ` FROM transactions WHERE uuid = $1 AND ($2 = '' OR shop_id = $2)`
	if d == Postgres {
		q += " FOR UPDATE"
	}
	t, err := scanTransaction(tx.QueryRow(q, uuid, shopID))
	return t, notFound("transaction", err)
}

// LockPayment reads a payment inside a write transaction and locks its row on
// PostgreSQL. Lock the payment before any of its transactions (the lock
// order of the package doc): the other way round deadlocks with the
// writers that follow it.
func LockPayment(tx *sql.Tx, d Dialect, id string) (PaymentRecord, error) {
	q := `SELECT ` + paymentColumns + ` FROM payments WHERE id = $1`
	if d == Postgres {
		q += " FOR UPDATE"
	}
	p, err := scanPayment(tx.QueryRow(q, id))
	return p, notFound("payment", err)
}

// TryLockPayment is LockPayment that skips a row another copy holds (on
// PostgreSQL): ok is false then, and background jobs move on.
func TryLockPayment(tx *sql.Tx, d Dialect, id string) (p PaymentRecord, ok bool, err error) {
	q := `SELECT ` + paymentColumns + ` FROM payments WHERE id = $1`
	if d == Postgres {
		q += " FOR UPDATE SKIP LOCKED"
	}
	p, err = scanPayment(tx.QueryRow(q, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("store: lock payment: %w", err)
	}
	return p, true, nil
}

// PaymentIDOf returns the payment a transaction belongs to, inside a write
// transaction, without locking: callers lock the payment, then the
// transaction, always in that order, so that concurrent changes of one
// payment never deadlock.
func PaymentIDOf(tx *sql.Tx, shopID, uuid string) (string, error) {
	var id string
	err := tx.QueryRow(`SELECT payment_id FROM transactions WHERE uuid = $1 AND ($2 = '' OR shop_id = $2)`, uuid, shopID).Scan(&id)
	return id, notFound("transaction", err)
}

// GetTransaction returns a shop's transaction by uuid.
func GetTransaction(ctx context.Context, q Querier, shopID, uuid string) (TransactionRecord, error) {
	t, err := scanTransaction(q.QueryRowContext(ctx, `SELECT `+transactionColumns+` FROM transactions
		WHERE uuid = $1 AND shop_id = $2`, uuid, shopID))
	return t, notFound("transaction", err)
}

// TransactionsOfPayment returns a payment's transactions in creation order.
func TransactionsOfPayment(ctx context.Context, q Querier, paymentID string) ([]TransactionRecord, error) {
	return queryTransactions(ctx, q, `SELECT `+transactionColumns+` FROM transactions WHERE payment_id = $1
		ORDER BY sequence_number, created_at, uuid`, paymentID)
}

// PaymentsWithTransactions reads the payments ids, whatever their shops
// (for jobs), and their transactions in creation order: two queries for a
// whole batch, where one pair per payment made the capture job read about
// as much as it wrote. Ids that do not exist are left out.
func (db *DB) PaymentsWithTransactions(ctx context.Context, ids []string) (map[string]PaymentRecord, map[string][]TransactionRecord, error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, nil, fmt.Errorf("store: payment ids: %w", err)
	}
	// One statement text for any number of ids (an IN list of
	// placeholders would prepare one statement per length).
	in := `(SELECT value FROM json_each($1))`
	if db.dialect == Postgres {
		in = `(SELECT jsonb_array_elements_text(CAST($1 AS jsonb)))`
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id IN `+in, string(list))
	if err != nil {
		return nil, nil, fmt.Errorf("store: read payments: %w", err)
	}
	defer rows.Close()
	payments := make(map[string]PaymentRecord, len(ids))
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("store: scan payment: %w", err)
		}
		payments[p.ID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: read payments: %w", err)
	}
	recs, err := queryTransactions(ctx, db.read, `SELECT `+transactionColumns+` FROM transactions WHERE payment_id IN `+in+`
		ORDER BY payment_id, sequence_number, created_at, uuid`, string(list))
	if err != nil {
		return nil, nil, err
	}
	txs := make(map[string][]TransactionRecord, len(payments))
	for _, t := range recs {
		txs[t.PaymentID] = append(txs[t.PaymentID], t)
	}
	return payments, txs, nil
}

// NextSequenceNumber returns the sequence number of a payment's next transaction.
func NextSequenceNumber(tx *sql.Tx, paymentID string) (int, error) {
	var n int
	if err := tx.QueryRow(`SELECT COALESCE(MAX(sequence_number), 0) + 1 FROM transactions WHERE payment_id = $1`, paymentID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: next sequence number: %w", err)
	}
	return n, nil
}

func queryTransactions(ctx context.Context, q Querier, query string, args ...any) ([]TransactionRecord, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: query transactions: %w", err)
	}
	defer rows.Close()
	var out []TransactionRecord
	for rows.Next() {
		t, err := scanTransaction(rows)
		if err != nil {
			return nil, fmt.Errorf("store: scan transaction: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Claim selects jobs for background work. Each claim runs in its own write
// transaction: it selects candidate rows (skipping rows another copy has
// locked, on PostgreSQL), then stamps them with an UPDATE that repeats the
// condition, so a row is claimed by one copy only even if the select raced.

// ClaimCaptures claims up to limit AUTHORISED debits whose expected capture
// date has come (and whose retry time, after a failed capture, too): each
// gets pending_op CAPTURE with operation id "<uuid>-capture" and
// pending_since now. It returns the claimed rows.
func (db *DB) ClaimCaptures(ctx context.Context, now time.Time, limit int) ([]TransactionRecord, error) {
	return db.claimOp(ctx, "CAPTURE", "capture", "AUTHORISED", captureClaimSelect, now, limit)
}

// claimOp gives pending operation op, with operation id "<uuid>-<suffix>"
// and pending_since (and pending_started_at) now, to up to limit transactions in detailed status
// status that sel picks ($1 now, $2 the limit), and returns them: the
// claim of the capture and deferred-authorization jobs.
func (db *DB) claimOp(ctx context.Context, op, suffix, status, sel string, now time.Time, limit int) ([]TransactionRecord, error) {
	return db.claim(ctx, db.claimUpdate(`pending_op = '`+op+`', pending_op_id = uuid || '-`+suffix+`',
			pending_since = $1, pending_started_at = $1, version = version + 1`, sel,
		`detailed_status = '`+status+`' AND pending_op = ''`), Micros(now), claimLimit(limit))
}

// captureClaimSelect picks the captures ClaimCaptures claims: $1 now, $2
// the limit. It ranges over the index transactions_capture_ready (migration
// 0021), whose key is captureDueAt and which holds only the captures not in
// flight: a capture waiting for its retry time sorts at that time, so the
// scan stops at the first one not due instead of reading (and filtering
// out) every retry still waiting, as a range on expected_capture_at did.
const captureClaimSelect = `SELECT uuid FROM transactions WHERE detailed_status = 'AUTHORISED' AND pending_op = ''
			AND ` + captureDueAt + ` <= $1
			ORDER BY ` + captureDueAt + ` LIMIT $2`

// captureDueAt is when an AUTHORISED debit's capture may be sent: its
// expected capture date, or its retry time after a failed capture when that
// is later (the capture date may be moved after a failure). The expression
// is the key of transactions_capture_ready: both engines use the index only
// for this very expression (a NULL retry time compares false, so it gives
// the capture date).
const captureDueAt = `CASE WHEN capture_retry_at > expected_capture_at THEN capture_retry_at ELSE expected_capture_at END`

// AuthorizeAhead is how long before its capture date a
// WAITING_AUTHORISATION debit is authorized: the day before (D-1), as Lyra
// does, so that the capture on the date finds it authorized.
// authorizationDueAt spells it out in micros (86400000000): the index of
// migration 0023 holds the same expression.
const AuthorizeAhead = 24 * time.Hour

// ClaimAuthorizations claims up to limit WAITING_AUTHORISATION debits whose
// authorization is due at now (authorizationDueAt: a day before the
// capture date, or the retry time after an authorization the acquirer
// could not take): each gets pending_op AUTHORISE with operation id
// "<uuid>-authorise", the acquirer's idempotency key, and pending_since
// now. A claim whose outcome is lost is settled by recovery
// (ClaimPendingOps) like a capture's. It returns the claimed rows.
func (db *DB) ClaimAuthorizations(ctx context.Context, now time.Time, limit int) ([]TransactionRecord, error) {
	return db.claimOp(ctx, "AUTHORISE", "authorise", "WAITING_AUTHORISATION", authorizationClaimSelect, now, limit)
}

// authorizationClaimSelect picks the authorizations ClaimAuthorizations
// claims: $1 now, $2 the limit. Like captureClaimSelect it ranges over an
// index keyed by when the operation may be sent
// (transactions_authorization_ready, migration 0023), so an authorization
// waiting for its retry is not read at each run of the job.
const authorizationClaimSelect = `SELECT uuid FROM transactions WHERE detailed_status = 'WAITING_AUTHORISATION' AND pending_op = ''
			AND ` + authorizationDueAt + ` <= $1
			ORDER BY ` + authorizationDueAt + ` LIMIT $2`

// authorizationDueAt is when a WAITING_AUTHORISATION debit's authorization
// may be sent: AuthorizeAhead before its capture date, or its retry time
// after a failure when that is later. It is the key of
// transactions_authorization_ready, written identically there.
const authorizationDueAt = `CASE WHEN capture_retry_at > expected_capture_at - 86400000000 THEN capture_retry_at ELSE expected_capture_at - 86400000000 END`

// PendingOpFailed records that pending operation opID of transaction uuid
// (a capture, or the authorization of a deferred debit) was not performed
// (the acquirer could not take it), before the claim is released: the
// columns capture_failures and capture_retry_at (migration 0019) count the
// failures of the transaction's pending operation, whichever it is, and
// ClaimCaptures or ClaimAuthorizations leaves the transaction alone until
// the time retry gives for the number of failures so far, which it returns
// (0 when the transaction no longer waits for this operation). It does not
// change the transaction's version: the settlement that releases the claim
// follows.
func (db *DB) PendingOpFailed(ctx context.Context, uuid, opID string, retry func(failures int) time.Time) (int, error) {
	var n int
	err := db.Write(ctx, func(tx *sql.Tx) error {
		n = 0
		err := tx.QueryRow(`UPDATE transactions SET capture_failures = capture_failures + 1
			WHERE uuid = $1 AND pending_op <> '' AND pending_op_id = $2 RETURNING capture_failures`, uuid, opID).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: pending operation failed: %w", err)
		}
		if _, err := tx.Exec(`UPDATE transactions SET capture_retry_at = $2 WHERE uuid = $1`, uuid, Micros(retry(n))); err != nil {
			return fmt.Errorf("store: pending operation failed: %w", err)
		}
		return nil
	})
	return n, err
}

// ForgetFailures clears, inside the caller's transaction, the failures
// PendingOpFailed counted for transaction uuid: its pending operation
// succeeded (a deferred debit authorized), and the next one (its capture)
// starts its own count.
func ForgetFailures(tx *sql.Tx, uuid string) error {
	if _, err := tx.Exec(`UPDATE transactions SET capture_failures = 0, capture_retry_at = NULL WHERE uuid = $1`, uuid); err != nil {
		return fmt.Errorf("store: forget failures: %w", err)
	}
	return nil
}

// PendingOp is what /metrics shows of one kind of pending (PendingOps),
// retrying (RetryingOps) or due (DueOps) operation.
type PendingOp struct {
	Count int64
	// OldestStart is when the longest pending of them was claimed
	// (pending_started_at: pending_since is renewed by each recovery
	// claim), or when the longest retrying or due one was due; zero for
	// none.
	OldestStart time.Time
}

// pendingOpsQuery reads the partial index transactions_pending, which
// holds only the transactions with a pending operation: a handful, not
// the table.
const pendingOpsQuery = `SELECT pending_op, COUNT(*), MIN(pending_started_at) FROM transactions
	WHERE pending_op <> '' GROUP BY pending_op`

// PendingOps counts the transactions with a pending operation now, by
// operation (CAPTURE, CANCEL, AUTHORISE), with when the oldest was
// claimed, for /metrics: one that stays pending (a cancellation recovery
// cannot send again while the acquirer stays unreachable) is pending
// without limit.
func (db *DB) PendingOps(ctx context.Context) (map[string]PendingOp, error) {
	return db.opCounts(ctx, "pending operations", pendingOpsQuery)
}

// opCounts reads rows of (operation or detailed status, count, oldest
// micros) from q: the /metrics queries. A detailed status is named by the
// operation it waits for.
func (db *DB) opCounts(ctx context.Context, what, q string, args ...any) (map[string]PendingOp, error) {
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	out := map[string]PendingOp{}
	for rows.Next() {
		var op string
		var p PendingOp
		var oldest sql.NullInt64
		if err := rows.Scan(&op, &p.Count, &oldest); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		p.OldestStart = NullMicros(oldest)
		out[cmp.Or(opWaitedIn[op], op)] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// opWaitedIn names the operation a retrying transaction's detailed status
// waits for.
var opWaitedIn = map[string]string{"AUTHORISED": "CAPTURE", "WAITING_AUTHORISATION": "AUTHORISE"}

// retryingOpsQuery counts the operations the acquirer could not take and
// that wait for their retry time (PendingOpFailed; the claim released, so
// not pending), with the date the oldest was due: a capture's capture
// date, a deferred authorization's a day before it (AuthorizeAhead). It
// reads the partial index transactions_retrying (migration 0034), which
// holds only those: its predicate is written here identically, as both
// engines need to match it. A capture date moved past now after a failure
// is not due, so not counted.
const retryingOpsQuery = `SELECT detailed_status, COUNT(*), MIN(` + retryingDueAt + `) FROM transactions
	WHERE capture_retry_at IS NOT NULL AND pending_op = '' AND detailed_status IN ('AUTHORISED', 'WAITING_AUTHORISATION')
	AND ` + retryingDueAt + ` <= $1 GROUP BY detailed_status`

// retryingDueAt is when a retrying operation was first due.
const retryingDueAt = `CASE WHEN detailed_status = 'AUTHORISED' THEN expected_capture_at ELSE expected_capture_at - 86400000000 END`

// RetryingOps counts, for /metrics, the captures (CAPTURE) and deferred
// authorizations (AUTHORISE) due at now that the acquirer could not take
// and that wait for their retry time, with OldestStart the date the
// oldest of them was due: while the acquirer stays down they are in no
// pending count, and the overdue age is what tells it.
func (db *DB) RetryingOps(ctx context.Context, now time.Time) (map[string]PendingOp, error) {
	return db.opCounts(ctx, "retrying operations", retryingOpsQuery, Micros(now))
}

// dueOpsQuery counts the captures (CAPTURE) and deferred authorizations
// (AUTHORISE) due at $1 that were never tried (no capture_retry_at: one
// the acquirer could not take is a retrying operation), with the date the
// oldest of each was due: while the capture or authorization job is stuck
// or slow they are neither pending nor retrying. Each part ranges over its
// job's claim index, transactions_capture_ready (migration 0021) or
// transactions_authorization_ready (0023), with its key expression and
// predicate: the range holds the operations due now, a handful while the
// job keeps up (it sends them within a run), and the retries whose time
// has come, the only rows the filter drops. Each part gives its row, a
// count of 0 for none.
const dueOpsQuery = `SELECT 'CAPTURE', COUNT(*), MIN(` + captureDueAt + `) FROM transactions
	WHERE detailed_status = 'AUTHORISED' AND pending_op = '' AND ` + captureDueAt + ` <= $1
	AND capture_retry_at IS NULL
	UNION ALL
	SELECT 'AUTHORISE', COUNT(*), MIN(` + authorizationDueAt + `) FROM transactions
	WHERE detailed_status = 'WAITING_AUTHORISATION' AND pending_op = '' AND ` + authorizationDueAt + ` <= $1
	AND capture_retry_at IS NULL`

// DueOps counts, for /metrics, the captures (CAPTURE) and deferred
// authorizations (AUTHORISE) due at now that no run of their job has
// tried yet, with OldestStart the date the oldest of each was due (a
// deferred authorization's, the day before its capture date; zero for
// none): how far the capture and authorization jobs are behind.
func (db *DB) DueOps(ctx context.Context, now time.Time) (map[string]PendingOp, error) {
	return db.opCounts(ctx, "due operations", dueOpsQuery, Micros(now))
}

// ClaimPendingOps claims up to limit transactions whose pending operation
// (CAPTURE, CANCEL) started before cutoff and was never settled: the copy
// that sent it died or lost the answer. pending_since is renewed to now so
// that other copies leave them alone for another period.
func (db *DB) ClaimPendingOps(ctx context.Context, cutoff, now time.Time, limit int) ([]TransactionRecord, error) {
	return db.claim(ctx, db.claimUpdate(`pending_since = $2, version = version + 1`,
		`SELECT uuid FROM transactions WHERE pending_op <> '' AND pending_since < $1
			ORDER BY pending_since LIMIT $3`,
		`pending_op <> '' AND pending_since < $1`), Micros(cutoff), Micros(now), claimLimit(limit))
}

// ClaimRunning claims up to limit transactions still RUNNING (waiting for the
// acquirer's answer) since before cutoff; updated_at is renewed to now as the
// claim's lease.
func (db *DB) ClaimRunning(ctx context.Context, cutoff, now time.Time, limit int) ([]TransactionRecord, error) {
	return db.claim(ctx, db.claimUpdate(`updated_at = $2, version = version + 1`,
		`SELECT uuid FROM transactions WHERE status = 'RUNNING' AND detailed_status = 'INITIAL'
			AND updated_at < $1 ORDER BY updated_at LIMIT $3`,
		`status = 'RUNNING' AND detailed_status = 'INITIAL' AND updated_at < $1`),
		Micros(cutoff), Micros(now), claimLimit(limit))
}

func claimLimit(limit int) int {
	if limit <= 0 {
		return 100
	}
	return limit
}

// ExpiringToValidate returns, inside a write transaction, up to limit
// transactions the merchant did not validate in time: AUTHORISED_TO_VALIDATE
// ones whose authorization validity has passed, and
// WAITING_AUTHORISATION_TO_VALIDATE ones whose capture date has come (their
// authorization, sent only once validated, can no longer be made before
// it). Each part ranges over its own partial index (transactions_to_validate,
// transactions_waiting_to_validate). It does not lock them: the caller
// locks each payment with TryLockPayment (skipping those another copy
// holds), then re-checks.
func ExpiringToValidate(tx *sql.Tx, now time.Time, limit int) ([]string, error) {
	return selectUUIDs(tx, `SELECT uuid FROM (
			SELECT uuid, auth_expires_at AS expires_at FROM transactions WHERE detailed_status = 'AUTHORISED_TO_VALIDATE'
				AND auth_expires_at <= $1 AND pending_op = ''
			UNION ALL
			SELECT uuid, expected_capture_at FROM transactions WHERE detailed_status = 'WAITING_AUTHORISATION_TO_VALIDATE'
				AND expected_capture_at <= $1 AND pending_op = ''
		) AS expiring ORDER BY expires_at LIMIT $2`, Micros(now), limit)
}

func selectUUIDs(tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("store: claim: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// claimUpdate is the UPDATE of a claim: set on the transactions sel picks
// (their uuids, with SKIP LOCKED on PostgreSQL, so copies never claim the
// same row), cond (sel's condition) checked again. On PostgreSQL sel is a
// materialized WITH query, run once: as a subquery in the UPDATE's IN, the
// planner may put it on the inner side of a nested loop, which ran it again
// for each row the UPDATE read; each run skipped the rows the statement had
// updated already and picked the next ones, so a claim took every row due
// whatever its limit (783 captures for 500 under the silent bench, 2 s and
// 160,000 buffers read).
func (db *DB) claimUpdate(set, sel, cond string) string {
	if db.dialect == Postgres {
		return `WITH picked AS MATERIALIZED (` + sel + db.SkipLocked() + `)
		UPDATE transactions SET ` + set + ` WHERE uuid IN (SELECT uuid FROM picked) AND ` + cond
	}
	return `UPDATE transactions SET ` + set + ` WHERE uuid IN (` + sel + `) AND ` + cond
}

// claim runs update, an UPDATE of the transactions a subquery picks (with
// SKIP LOCKED on PostgreSQL, so copies never claim the same row) that
// repeats the subquery's condition, in one statement, and returns the rows
// it updated. On PostgreSQL it commits alone (see writeOwn).
func (db *DB) claim(ctx context.Context, update string, args ...any) ([]TransactionRecord, error) {
	var claimed []TransactionRecord
	err := db.writeOwn(ctx, func(tx *sql.Tx) error {
		claimed = claimed[:0] // the function may run twice
		rows, err := tx.Query(update+` RETURNING `+transactionColumns, args...)
		if err != nil {
			return fmt.Errorf("store: claim: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTransaction(rows)
			if err != nil {
				return fmt.Errorf("store: claim: %w", err)
			}
			claimed = append(claimed, t)
		}
		return rows.Err()
	})
	return claimed, err
}

func notFound(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: read %s: %w", what, err)
	}
	return nil
}

// ShopTx reads a shop inside a write transaction (a payment decision reads
// the shop's notification settings without taking a second connection).
func ShopTx(tx *sql.Tx, id string) (shop.Shop, error) {
	s, err := scanShop(tx.QueryRow(`SELECT `+shopColumns+` FROM shops WHERE id = $1`, id))
	return s, notFound("shop", err)
}
