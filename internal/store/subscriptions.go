package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
)

// SubscriptionRecord is a row of subscriptions (internal/subscription owns
// its meaning; Metadata and Options are JSON documents).
type SubscriptionRecord struct {
	ID                  string
	ShopID              string
	Mode                string
	Token               string
	OrderID             string
	Description         string
	Metadata            string
	Options             string
	Amount              int64
	Currency            string
	InitialAmount       *int64 // nil stores NULL
	InitialAmountNumber int
	EffectDate          time.Time
	RRule               string
	ScheduleStart       time.Time
	ScheduleBase        int
	ScheduleDone        int
	TotalPayments       int
	NextSequence        int
	NextDueAt           time.Time // zero stores NULL
	LastDueAt           time.Time // zero stores NULL
	Status              string
	CancelDate          time.Time // zero stores NULL
	Version             int
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// InstalmentRecord is a row of subscription_instalments.
type InstalmentRecord struct {
	ID              string
	SubscriptionID  string
	ShopID          string
	Sequence        int
	DueAt           time.Time
	Amount          int64
	Currency        string
	Status          string
	Attempts        int
	Refusals        int
	NextAttemptAt   time.Time
	LastAttemptAt   time.Time
	ClaimID         string
	ClaimedUntil    time.Time
	PaymentID       string // "" stores NULL
	TransactionUUID string
	ErrorCode       string
	ErrorDetail     string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// FailuresBeforePayment counts the claims released with no payment
	// made (ReleaseInstalment): technical failures that Attempts, which
	// counts payments, does not see.
	FailuresBeforePayment int
	// PaidAmount is what a PAID instalment collected: its debit's amount,
	// lower than Amount when the merchant lowered the debit before its
	// capture; 0 for any other status.
	PaidAmount int64
}

// AttemptRecord is a row of subscription_attempts: one payment made for an
// instalment.
type AttemptRecord struct {
	InstalmentID    string
	Attempt         int
	PaymentID       string
	TransactionUUID string
	CreatedAt       time.Time
}

// Instalment statuses.
const (
	InstalmentDue       = "DUE"
	InstalmentCharging  = "CHARGING"
	InstalmentPaid      = "PAID"
	InstalmentFailed    = "FAILED"
	InstalmentCancelled = "CANCELLED"
)

const subscriptionColumns = `id, shop_id, mode, token, order_id, description, metadata, options, amount, currency,
	initial_amount, initial_amount_number, effect_date, rrule, schedule_start, schedule_base, schedule_done,
	total_payments, next_sequence, next_due_at, last_due_at, status, cancel_date, version, created_at, updated_at`

const instalmentColumns = `id, subscription_id, shop_id, sequence, due_at, amount, currency, status, attempts, refusals,
	next_attempt_at, last_attempt_at, claim_id, claimed_until, payment_id, transaction_uuid, error_code, error_detail,
	created_at, updated_at, failures_before_payment, paid_amount`

func optInt64(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

func scanSubscription(s scanner) (SubscriptionRecord, error) {
	var r SubscriptionRecord
	var initial, next, last, cancel sql.NullInt64
	var effect, start, created, updated int64
	err := s.Scan(&r.ID, &r.ShopID, &r.Mode, &r.Token, &r.OrderID, &r.Description, &r.Metadata, &r.Options, &r.Amount,
		&r.Currency, &initial, &r.InitialAmountNumber, &effect, &r.RRule, &start, &r.ScheduleBase, &r.ScheduleDone,
		&r.TotalPayments, &r.NextSequence, &next, &last, &r.Status, &cancel, &r.Version, &created, &updated)
	if err != nil {
		return r, err
	}
	if initial.Valid {
		v := initial.Int64
		r.InitialAmount = &v
	}
	r.EffectDate, r.ScheduleStart = FromMicros(effect), FromMicros(start)
	r.NextDueAt, r.LastDueAt, r.CancelDate = NullMicros(next), NullMicros(last), NullMicros(cancel)
	r.CreatedAt, r.UpdatedAt = FromMicros(created), FromMicros(updated)
	return r, nil
}

func scanInstalment(s scanner) (InstalmentRecord, error) {
	var r InstalmentRecord
	var payment sql.NullString
	var last sql.NullInt64
	var due, next, claimed, created, updated int64
	err := s.Scan(&r.ID, &r.SubscriptionID, &r.ShopID, &r.Sequence, &due, &r.Amount, &r.Currency, &r.Status, &r.Attempts,
		&r.Refusals, &next, &last, &r.ClaimID, &claimed, &payment, &r.TransactionUUID, &r.ErrorCode, &r.ErrorDetail,
		&created, &updated, &r.FailuresBeforePayment, &r.PaidAmount)
	if err != nil {
		return r, err
	}
	r.PaymentID = payment.String
	r.DueAt, r.NextAttemptAt, r.LastAttemptAt = FromMicros(due), FromMicros(next), NullMicros(last)
	r.ClaimedUntil, r.CreatedAt, r.UpdatedAt = FromMicros(claimed), FromMicros(created), FromMicros(updated)
	return r, nil
}

// InsertSubscription writes a new subscription in the caller's transaction.
func InsertSubscription(tx *sql.Tx, r SubscriptionRecord) error {
	_, err := tx.Exec(`INSERT INTO subscriptions (`+subscriptionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
		$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)`,
		r.ID, r.ShopID, r.Mode, r.Token, r.OrderID, r.Description, r.Metadata, r.Options, r.Amount, r.Currency,
		optInt64(r.InitialAmount), r.InitialAmountNumber, Micros(r.EffectDate), r.RRule, Micros(r.ScheduleStart),
		r.ScheduleBase, r.ScheduleDone, r.TotalPayments, r.NextSequence, OptMicros(r.NextDueAt), OptMicros(r.LastDueAt),
		r.Status, OptMicros(r.CancelDate), r.Version, Micros(r.CreatedAt), Micros(r.UpdatedAt))
	if err != nil {
		if IsUniqueViolation(err) {
			return fmt.Errorf("store: insert subscription: %w", ErrConflict)
		}
		return fmt.Errorf("store: insert subscription: %w", err)
	}
	return nil
}

// UpdateSubscription writes every mutable column of r if the stored version
// is still r.Version, and increments it (r.Version is updated); a concurrent
// change in between is ErrConflict.
func UpdateSubscription(tx *sql.Tx, r *SubscriptionRecord) error {
	res, err := tx.Exec(`UPDATE subscriptions SET token = $3, description = $4, metadata = $5, options = $6, amount = $7,
		currency = $8, initial_amount = $9, initial_amount_number = $10, effect_date = $11, rrule = $12,
		schedule_start = $13, schedule_base = $14, schedule_done = $15, total_payments = $16, next_sequence = $17,
		next_due_at = $18, last_due_at = $19, status = $20, cancel_date = $21, updated_at = $22, version = version + 1
		WHERE id = $1 AND version = $2`,
		r.ID, r.Version, r.Token, r.Description, r.Metadata, r.Options, r.Amount, r.Currency, optInt64(r.InitialAmount),
		r.InitialAmountNumber, Micros(r.EffectDate), r.RRule, Micros(r.ScheduleStart), r.ScheduleBase, r.ScheduleDone,
		r.TotalPayments, r.NextSequence, OptMicros(r.NextDueAt), OptMicros(r.LastDueAt), r.Status, OptMicros(r.CancelDate),
		Micros(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store: update subscription: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: update subscription: %w", err)
	} else if n != 1 {
		return fmt.Errorf("store: update subscription %s: %w", r.ID, ErrConflict)
	}
	r.Version++
	return nil
}

// GetSubscription returns a shop's subscription.
func GetSubscription(ctx context.Context, q Querier, shopID, id string) (SubscriptionRecord, error) {
	r, err := scanSubscription(q.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE id = $1 AND shop_id = $2`, id, shopID))
	return r, notFound("subscription", err)
}

// LockSubscription reads a subscription inside a write transaction and, on
// PostgreSQL, locks its row until the commit. shopID "" skips the shop
// check (jobs).
func LockSubscription(tx *sql.Tx, d Dialect, shopID, id string) (SubscriptionRecord, error) {
	q := `SELECT ` + subscriptionColumns + ` FROM subscriptions WHERE id = $1 AND ($2 = '' OR shop_id = $2)`
	if d == Postgres {
		q += " FOR UPDATE"
	}
	r, err := scanSubscription(tx.QueryRow(q, id, shopID))
	return r, notFound("subscription", err)
}

// LockSubscriptionsOnToken reads, inside a write transaction, a shop's
// subscriptions of one mode paid with token, locking them on PostgreSQL.
func LockSubscriptionsOnToken(tx *sql.Tx, d Dialect, shopID, mode, token string) ([]SubscriptionRecord, error) {
	q := `SELECT ` + subscriptionColumns + ` FROM subscriptions WHERE shop_id = $1 AND token = $2 AND mode = $3 ORDER BY created_at, id`
	if d == Postgres {
		q += " FOR UPDATE"
	}
	return querySubscriptions(context.Background(), tx, q, shopID, token, mode)
}

// DueSubscriptions returns, inside a write transaction, up to limit ACTIVE
// subscriptions whose next instalment date has come, skipping (on
// PostgreSQL) those another copy has locked; they stay locked until the
// commit.
func DueSubscriptions(tx *sql.Tx, d Dialect, now time.Time, limit int) ([]SubscriptionRecord, error) {
	q := `SELECT ` + subscriptionColumns + ` FROM subscriptions WHERE status = 'ACTIVE' AND next_due_at IS NOT NULL
		AND next_due_at <= $1 ORDER BY next_due_at LIMIT $2`
	if d == Postgres {
		q += " FOR UPDATE SKIP LOCKED"
	}
	return querySubscriptions(context.Background(), tx, q, Micros(now), limit)
}

// ActiveSubscriptionOnToken reports whether a shop's token of one mode
// carries a subscription that is neither cancelled (at now) nor over: one
// more instalment is to come or is being charged.
func ActiveSubscriptionOnToken(ctx context.Context, q Querier, shopID, mode, token string, now time.Time) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions s WHERE s.shop_id = $1 AND s.token = $2 AND s.mode = $4
		AND s.status = 'ACTIVE' AND (s.cancel_date IS NULL OR s.cancel_date > $3)
		AND (s.next_due_at IS NOT NULL OR EXISTS (SELECT 1 FROM subscription_instalments i
			WHERE i.subscription_id = s.id AND i.status IN ('DUE', 'CHARGING')))`, shopID, token, Micros(now), mode).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: active subscription on token: %w", err)
	}
	return n > 0, nil
}

func querySubscriptions(ctx context.Context, q Querier, query string, args ...any) ([]SubscriptionRecord, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: query subscriptions: %w", err)
	}
	defer rows.Close()
	var out []SubscriptionRecord
	for rows.Next() {
		r, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("store: scan subscription: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// InsertInstalment creates an instalment. One that exists already (same
// subscription and sequence) is ErrConflict, without aborting the caller's
// transaction.
func InsertInstalment(tx *sql.Tx, r InstalmentRecord) error {
	res, err := tx.Exec(`INSERT INTO subscription_instalments (`+instalmentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7,
		$8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) ON CONFLICT (subscription_id, sequence) DO NOTHING`,
		r.ID, r.SubscriptionID, r.ShopID, r.Sequence, Micros(r.DueAt), r.Amount, r.Currency, r.Status, r.Attempts,
		r.Refusals, Micros(r.NextAttemptAt), OptMicros(r.LastAttemptAt), r.ClaimID, Micros(r.ClaimedUntil),
		optText(r.PaymentID), r.TransactionUUID, r.ErrorCode, r.ErrorDetail, Micros(r.CreatedAt), Micros(r.UpdatedAt),
		r.FailuresBeforePayment, r.PaidAmount)
	if err != nil {
		return fmt.Errorf("store: insert instalment: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: insert instalment: %w", err)
	} else if n == 0 {
		return fmt.Errorf("store: instalment %d of subscription %s: %w", r.Sequence, r.SubscriptionID, ErrConflict)
	}
	return nil
}

// Instalments returns a subscription's instalments in sequence order.
func Instalments(ctx context.Context, q Querier, subscriptionID string) ([]InstalmentRecord, error) {
	return queryInstalments(ctx, q, `SELECT `+instalmentColumns+` FROM subscription_instalments
		WHERE subscription_id = $1 ORDER BY sequence`, subscriptionID)
}

// GetInstalment returns an instalment by id.
func GetInstalment(ctx context.Context, q Querier, id string) (InstalmentRecord, error) {
	r, err := scanInstalment(q.QueryRowContext(ctx, `SELECT `+instalmentColumns+` FROM subscription_instalments
		WHERE id = $1`, id))
	return r, notFound("instalment", err)
}

// InstalmentOfPayment returns the instalment that payment paymentID was an
// attempt at, and that attempt's number; ErrNotFound for a payment that
// pays no instalment.
func InstalmentOfPayment(ctx context.Context, q Querier, paymentID string) (InstalmentRecord, int, error) {
	var id string
	var attempt int
	err := q.QueryRowContext(ctx, `SELECT instalment_id, attempt FROM subscription_attempts WHERE payment_id = $1`,
		paymentID).Scan(&id, &attempt)
	if err != nil {
		return InstalmentRecord{}, 0, notFound("instalment attempt", err)
	}
	r, err := GetInstalment(ctx, q, id)
	return r, attempt, err
}

// LockInstalmentOfPayment is InstalmentOfPayment inside a write
// transaction: on PostgreSQL the instalment's row stays locked until the
// commit, so that a concurrent settlement (the stale pass) either comes
// before the caller's read or waits for its commit.
func LockInstalmentOfPayment(tx *sql.Tx, d Dialect, paymentID string) (InstalmentRecord, int, error) {
	var attempt int
	q := `SELECT ` + prefixed("i.", instalmentColumns) + `, a.attempt FROM subscription_attempts a
		JOIN subscription_instalments i ON i.id = a.instalment_id WHERE a.payment_id = $1`
	if d == Postgres {
		q += " FOR UPDATE OF i"
	}
	r, err := scanInstalment(attemptScanner{tx.QueryRow(q, paymentID), &attempt})
	if err != nil {
		return InstalmentRecord{}, 0, notFound("instalment attempt", err)
	}
	return r, attempt, nil
}

// attemptScanner scans an instalment's columns followed by an attempt
// number.
type attemptScanner struct {
	row     *sql.Row
	attempt *int
}

func (a attemptScanner) Scan(dest ...any) error { return a.row.Scan(append(dest, a.attempt)...) }

// prefixed qualifies each column of a comma-separated list with prefix.
func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// SubscriptionAttempts returns every payment made for a subscription's
// instalments, by instalment then attempt.
func SubscriptionAttempts(ctx context.Context, q Querier, subscriptionID string) ([]AttemptRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT a.instalment_id, a.attempt, a.payment_id, a.transaction_uuid, a.created_at
		FROM subscription_attempts a JOIN subscription_instalments i ON i.id = a.instalment_id
		WHERE i.subscription_id = $1 ORDER BY i.sequence, a.attempt`, subscriptionID)
	if err != nil {
		return nil, fmt.Errorf("store: subscription attempts: %w", err)
	}
	defer rows.Close()
	var out []AttemptRecord
	for rows.Next() {
		var a AttemptRecord
		var created int64
		if err := rows.Scan(&a.InstalmentID, &a.Attempt, &a.PaymentID, &a.TransactionUUID, &created); err != nil {
			return nil, fmt.Errorf("store: subscription attempts: %w", err)
		}
		a.CreatedAt = FromMicros(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// PaidAmount returns what a subscription's PAID instalments collected.
func PaidAmount(ctx context.Context, q Querier, subscriptionID string) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(paid_amount), 0) FROM subscription_instalments
		WHERE subscription_id = $1 AND status = 'PAID'`, subscriptionID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: paid amount: %w", err)
	}
	return n, nil
}

// CountInstalments returns how many of a subscription's instalments are in
// one of the statuses.
func CountInstalments(ctx context.Context, q Querier, subscriptionID string, statuses ...string) (int, error) {
	n := 0
	for _, st := range statuses {
		var c int
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscription_instalments WHERE subscription_id = $1
			AND status = $2`, subscriptionID, st).Scan(&c); err != nil {
			return 0, fmt.Errorf("store: count instalments: %w", err)
		}
		n += c
	}
	return n, nil
}

func queryInstalments(ctx context.Context, q Querier, query string, args ...any) ([]InstalmentRecord, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: query instalments: %w", err)
	}
	defer rows.Close()
	var out []InstalmentRecord
	for rows.Next() {
		r, err := scanInstalment(rows)
		if err != nil {
			return nil, fmt.Errorf("store: scan instalment: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ClaimInstalments claims up to limit instalments to charge: DUE ones whose
// attempt time has come, and CHARGING ones whose claim expired before any
// payment was made for them (the copy that held it died). Each gets a new
// claim_id and claimed_until = now + lease, and comes back CHARGING.
func (db *DB) ClaimInstalments(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]InstalmentRecord, error) {
	return db.claimInstalments(ctx, limit, []string{
		`SELECT id FROM subscription_instalments WHERE status = 'DUE' AND next_attempt_at <= $1
			ORDER BY next_attempt_at LIMIT $2`,
		`SELECT id FROM subscription_instalments WHERE status = 'CHARGING' AND claimed_until < $1
			AND payment_id IS NULL ORDER BY claimed_until LIMIT $2`,
	}, `UPDATE subscription_instalments SET status = 'CHARGING', claim_id = $2, claimed_until = $3, updated_at = $4
		WHERE id = $1 AND ((status = 'DUE' AND next_attempt_at <= $4)
			OR (status = 'CHARGING' AND claimed_until < $4 AND payment_id IS NULL))`, now, lease)
}

// ClaimStaleCharging claims up to limit CHARGING instalments whose claim
// expired after a payment was made for them: the copy that charged died
// before recording the outcome, or the outcome was unknown then. The claim
// is renewed (claimed_until = now + lease) while the caller looks at the
// payment.
func (db *DB) ClaimStaleCharging(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]InstalmentRecord, error) {
	return db.claimInstalments(ctx, limit, []string{
		`SELECT id FROM subscription_instalments WHERE status = 'CHARGING' AND claimed_until < $1
			AND payment_id IS NOT NULL ORDER BY claimed_until LIMIT $2`,
	}, `UPDATE subscription_instalments SET claim_id = $2, claimed_until = $3, updated_at = $4
		WHERE id = $1 AND status = 'CHARGING' AND claimed_until < $4 AND payment_id IS NOT NULL`, now, lease)
}

// ExtendInstalmentClaim pushes the claim claimID of a CHARGING instalment
// whose payment was made to until, when that is later than its end: the
// stale pass need not read again, at every lease, an instalment whose
// debit cannot be decided before then (a deferred debit waiting for its
// authorization). It reports whether it did; another copy's claim, or an
// instalment settled meanwhile, is left as it is.
func (db *DB) ExtendInstalmentClaim(ctx context.Context, id, claimID string, until time.Time) (bool, error) {
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE subscription_instalments SET claimed_until = $3
			WHERE id = $1 AND claim_id = $2 AND status = 'CHARGING' AND payment_id IS NOT NULL AND claimed_until < $3`,
			id, claimID, Micros(until))
		if err != nil {
			return fmt.Errorf("store: extend instalment claim: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

func (db *DB) claimInstalments(ctx context.Context, limit int, selects []string, update string, now time.Time, lease time.Duration) ([]InstalmentRecord, error) {
	if limit <= 0 {
		limit = 100
	}
	var claimed []InstalmentRecord
	err := db.Write(ctx, func(tx *sql.Tx) error {
		claimed = claimed[:0] // the function may run twice
		for _, sel := range selects {
			if len(claimed) >= limit {
				break
			}
			idList, err := selectUUIDs(tx, sel+db.SkipLocked(), Micros(now), limit-len(claimed))
			if err != nil {
				return err
			}
			for _, id := range idList {
				claim := ids.RandomHex(8)
				res, err := tx.Exec(update, id, claim, Micros(now.Add(lease)), Micros(now))
				if err != nil {
					return fmt.Errorf("store: claim instalment %s: %w", id, err)
				}
				if n, err := res.RowsAffected(); err != nil {
					return fmt.Errorf("store: claim instalment %s: %w", id, err)
				} else if n == 0 {
					continue
				}
				r, err := scanInstalment(tx.QueryRow(`SELECT `+instalmentColumns+` FROM subscription_instalments WHERE id = $1`, id))
				if err != nil {
					return fmt.Errorf("store: claim instalment %s: %w", id, err)
				}
				claimed = append(claimed, r)
			}
		}
		return nil
	})
	return claimed, err
}

// AttachInstalmentPayment records, inside the transaction that creates the
// payment of an attempt, that the instalment is being charged by it. It
// succeeds only for the holder of the claim (claimID) of a CHARGING
// instalment without a payment in flight: anything else is ErrConflict. It
// returns the attempt number.
func AttachInstalmentPayment(tx *sql.Tx, id, claimID, paymentID, transactionUUID string, now time.Time) (int, error) {
	res, err := tx.Exec(`UPDATE subscription_instalments SET payment_id = $3, transaction_uuid = $4,
		attempts = attempts + 1, last_attempt_at = $5, updated_at = $5
		WHERE id = $1 AND claim_id = $2 AND status = 'CHARGING' AND payment_id IS NULL`,
		id, claimID, paymentID, transactionUUID, Micros(now))
	if err != nil {
		return 0, fmt.Errorf("store: attach instalment payment: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, fmt.Errorf("store: attach instalment payment: %w", err)
	} else if n != 1 {
		return 0, fmt.Errorf("store: instalment %s is not held by claim %s: %w", id, claimID, ErrConflict)
	}
	var attempt int
	if err := tx.QueryRow(`SELECT attempts FROM subscription_instalments WHERE id = $1`, id).Scan(&attempt); err != nil {
		return 0, fmt.Errorf("store: attach instalment payment: %w", err)
	}
	if _, err := tx.Exec(`INSERT INTO subscription_attempts (instalment_id, attempt, payment_id, transaction_uuid, created_at)
		VALUES ($1, $2, $3, $4, $5)`, id, attempt, paymentID, transactionUUID, Micros(now)); err != nil {
		return 0, fmt.Errorf("store: record instalment attempt: %w", err)
	}
	return attempt, nil
}

// InstalmentOutcome is what becomes of a CHARGING instalment.
type InstalmentOutcome struct {
	Status        string // DUE (to try again), PAID, FAILED or CANCELLED
	PaidAmount    int64  // PAID only: what its debit collects
	Refusals      int
	NextAttemptAt time.Time // DUE only
	ErrorCode     string
	ErrorDetail   string
	Now           time.Time
}

// SettleInstalment records the outcome of the attempt made with paymentID.
// It changes nothing (false) unless the instalment is still CHARGING with
// that payment: another copy recorded it first. Back to DUE, the payment
// is cleared so that the next attempt may attach its own.
func SettleInstalment(tx *sql.Tx, id, paymentID string, o InstalmentOutcome) (bool, error) {
	if paymentID == "" {
		return false, errors.New("store: settle instalment: no payment")
	}
	return settleInstalment(tx, `id = $1 AND status = 'CHARGING' AND payment_id = $8`, id, paymentID, o)
}

// UnpayInstalment records that the debit paymentID of a PAID instalment
// collected nothing after all (cancelled before its capture, capture
// refused): o is FAILED, or DUE for a new attempt (the payment is then
// cleared). It changes nothing (false) unless the instalment is still PAID
// by that payment.
func UnpayInstalment(tx *sql.Tx, id, paymentID string, o InstalmentOutcome) (bool, error) {
	if paymentID == "" {
		return false, errors.New("store: unpay instalment: no payment")
	}
	if o.Status != InstalmentFailed && o.Status != InstalmentDue {
		return false, fmt.Errorf("store: unpay instalment: status %s", o.Status)
	}
	return settleInstalment(tx, `id = $1 AND status = 'PAID' AND payment_id = $8`, id, paymentID, o)
}

// RepayInstalment records that the debit paymentID of a PAID instalment
// now collects amount (the merchant lowered it before its capture). It
// changes nothing (false) unless the instalment is still PAID by that
// payment.
func RepayInstalment(tx *sql.Tx, id, paymentID string, amount int64, now time.Time) (bool, error) {
	res, err := tx.Exec(`UPDATE subscription_instalments SET paid_amount = $3, updated_at = $4
		WHERE id = $1 AND status = 'PAID' AND payment_id = $2`, id, paymentID, amount, Micros(now))
	if err != nil {
		return false, fmt.Errorf("store: instalment paid amount: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: instalment paid amount: %w", err)
	}
	return n == 1, nil
}

// ReleaseInstalment records the outcome of a claim under which no payment
// was made (the token was refused, the subscription cancelled, the
// database failed). It changes nothing (false) unless the caller still
// holds the claim and no payment was attached. It counts the release in
// failures_before_payment.
func ReleaseInstalment(tx *sql.Tx, id, claimID string, o InstalmentOutcome) (bool, error) {
	ok, err := settleInstalment(tx, `id = $1 AND status = 'CHARGING' AND payment_id IS NULL AND claim_id = $8`, id, claimID, o)
	if !ok || err != nil {
		return ok, err
	}
	if _, err := tx.Exec(`UPDATE subscription_instalments SET failures_before_payment = failures_before_payment + 1
		WHERE id = $1`, id); err != nil {
		return false, fmt.Errorf("store: release instalment: %w", err)
	}
	return true, nil
}

func settleInstalment(tx *sql.Tx, where, id, arg string, o InstalmentOutcome) (bool, error) {
	res, err := tx.Exec(`UPDATE subscription_instalments SET status = $2, refusals = $3,
		next_attempt_at = CASE WHEN $2 = 'DUE' THEN $4 ELSE next_attempt_at END,
		payment_id = CASE WHEN $2 = 'DUE' THEN NULL ELSE payment_id END,
		transaction_uuid = CASE WHEN $2 = 'DUE' THEN '' ELSE transaction_uuid END,
		error_code = $5, error_detail = $6, claim_id = '', claimed_until = 0, updated_at = $7,
		paid_amount = CASE WHEN $2 = 'PAID' THEN $9 ELSE 0 END
		WHERE `+where, id, o.Status, o.Refusals, Micros(o.NextAttemptAt), o.ErrorCode, o.ErrorDetail, Micros(o.Now), arg,
		o.PaidAmount)
	if err != nil {
		return false, fmt.Errorf("store: settle instalment: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: settle instalment: %w", err)
	}
	return n == 1, nil
}

// CancelDueInstalments cancels a subscription's instalments waiting for an
// attempt (DUE); those being charged finish.
func CancelDueInstalments(tx *sql.Tx, subscriptionID string, now time.Time) (int, error) {
	res, err := tx.Exec(`UPDATE subscription_instalments SET status = 'CANCELLED', updated_at = $2
		WHERE subscription_id = $1 AND status = 'DUE'`, subscriptionID, Micros(now))
	if err != nil {
		return 0, fmt.Errorf("store: cancel instalments: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
