package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/outbox"
)

// claimable is the condition a message must meet to be claimed at the time
// in placeholder now: due, not held by a live claim, and the oldest PENDING
// message of its (channel, ordering key). A message whose predecessor waits
// for a retry stays behind it; a DEAD predecessor no longer blocks (it would
// block forever).
func (db *DB) claimable(now string) string {
	return `o.status = 'PENDING' AND o.next_attempt_at <= ` + now + ` AND o.locked_until <= ` + now + `
	AND (o.ordering_key = '' OR NOT EXISTS (
		SELECT 1 FROM ` + db.outboxAs("p", "outbox_head") + `
		WHERE p.status = 'PENDING' AND p.channel = o.channel AND p.ordering_key = o.ordering_key
		  AND (p.created_at < o.created_at OR (p.created_at = o.created_at AND p.id < o.id))))`
}

// outboxAs names the outbox table under alias for the claim queries; on
// SQLite it pins the partial index they are written for. Without it the
// planner scanned outbox_listing (status, created_at) and sorted every
// PENDING message on every claim, inside the single writer every payment
// waits for (about 20 ms per claim with 10,000 messages pending, growing
// with the backlog); the sqlite3 tool's planner also used it for the head
// check, reading every PENDING message once per PENDING message (9 minutes
// for one claim with 14,000 pending).
func (db *DB) outboxAs(alias, index string) string {
	if db.dialect == SQLite {
		return "outbox " + alias + " INDEXED BY " + index
	}
	return "outbox " + alias
}

// claimQuery is ClaimOutbox's statement.
func (db *DB) claimQuery() string {
	return `UPDATE outbox SET locked_by = $1, locked_until = $2
		WHERE id IN (SELECT o.id FROM ` + db.outboxAs("o", "outbox_due") + ` WHERE ` + db.claimable("$3") + `
			ORDER BY o.next_attempt_at, o.created_at, o.id LIMIT $4` + db.SkipLocked() + `)
		RETURNING id, shop_id, channel, event, ordering_key, target, payload, attempts, created_at`
}

// dueQuery is OutboxDue's statement.
func (db *DB) dueQuery() string {
	return `SELECT 1 FROM ` + db.outboxAs("o", "outbox_due") + ` WHERE ` + db.claimable("$1") + ` LIMIT 1`
}

// OutboxDue reports whether a message could be claimed at now. It only
// reads, so idle dispatchers poll without writing.
func (db *DB) OutboxDue(ctx context.Context, now time.Time) (bool, error) {
	var one int
	err := db.read.QueryRowContext(ctx, db.dueQuery(), Micros(now)).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: outbox due: %w", err)
	}
	return true, nil
}

// ClaimOutbox locks up to limit claimable messages for instance until
// now+lease and returns them oldest first. On PostgreSQL, SKIP LOCKED lets
// several openpsp copies claim at once without waiting for each other, and
// the row lock plus locked_until make each message held by one copy at a
// time; a copy that dies loses its claim when the lease ends.
func (db *DB) ClaimOutbox(ctx context.Context, instance string, now time.Time, lease time.Duration, limit int) ([]outbox.Delivery, error) {
	if limit <= 0 {
		limit = 1
	}
	until := now.Add(lease)
	q := db.claimQuery()
	var out []outbox.Delivery
	err := db.Write(ctx, func(tx *sql.Tx) error {
		out = out[:0] // the function may run twice (see TxFunc)
		rows, err := tx.Query(q, instance, Micros(until), Micros(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d outbox.Delivery
			var created int64
			if err := rows.Scan(&d.ID, &d.ShopID, &d.Channel, &d.Event, &d.OrderingKey, &d.Target, &d.Payload, &d.Attempts, &created); err != nil {
				return err
			}
			d.CreatedAt = FromMicros(created)
			d.LockedBy = instance
			d.LockedUntil = FromMicros(Micros(until))
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// FinishOutboxBatch logs each result's attempt and moves its message to its
// new state, all in one write (one commit wait for the dispatcher instead of
// one per message), on PostgreSQL in one statement per group of up to 16
// results (finishMany). A state change applies only while the result's claim
// holds (or has lapsed with nobody else holding the message); the attempt is
// logged in every case, since it happened. When one result fails (a vanished
// message, a duplicate attempt id) nothing of the shared write is kept and
// each result is recorded by a write of its own: the one that fails is
// reported in a *outbox.BatchError, the others are recorded. (Not a
// savepoint per result: on PostgreSQL more than 64 subtransactions in one
// transaction overflow each backend's cache and slow every snapshot down.)
// Any other error means that nothing was recorded.
func (db *DB) FinishOutboxBatch(ctx context.Context, rs []outbox.Result) error {
	if len(rs) == 0 {
		return nil
	}
	rs = append([]outbox.Result(nil), rs...)
	for i := range rs {
		if rs[i].Status != "" && rs[i].Attempt.ID == "" {
			// Chosen before the write, so that a second run of the
			// function (see TxFunc) logs the same attempt.
			rs[i].Attempt.ID = ids.New()
		}
	}
	var failed error
	err := db.Write(ctx, func(tx *sql.Tx) error {
		failed = nil // the function may run twice (see TxFunc)
		for _, group := range finishGroups(rs) {
			if ferr := db.finishMany(tx, group); ferr != nil {
				failed = ferr
				return ferr
			}
		}
		return nil
	})
	if err == nil {
		return nil
	}
	if failed == nil {
		return fmt.Errorf("store: finish %d outbox messages: %w", len(rs), err)
	}
	errs := make([]error, len(rs))
	bad := false
	for i, r := range rs {
		if werr := db.Write(ctx, func(tx *sql.Tx) error { return db.finishMany(tx, []outbox.Result{r}) }); werr != nil {
			errs[i] = fmt.Errorf("store: finish outbox message %s: %w", r.ID, werr)
			bad = true
		}
	}
	if bad {
		return &outbox.BatchError{Errs: errs}
	}
	return nil
}

// finishGroupMax bounds how many results finishMany writes as one
// statement on PostgreSQL: a group fails as a whole.
const finishGroupMax = 16

// finishGroups cuts rs into the groups finishMany writes: up to
// finishGroupMax results of distinct messages each (the clauses of one
// statement must touch different rows, see execGroup), in order.
func finishGroups(rs []outbox.Result) [][]outbox.Result {
	var out [][]outbox.Result
	start := 0
	seen := map[string]bool{}
	for i, r := range rs {
		if i-start == finishGroupMax || seen[r.ID] {
			out = append(out, rs[start:i])
			start = i
			clear(seen)
		}
		seen[r.ID] = true
	}
	return append(out, rs[start:])
}

// finishMany applies results of distinct messages inside
// FinishOutboxBatch's transaction: for each, the attempt's log row and the
// message's new state. On PostgreSQL the results that have a status are one
// statement of one text whatever their number (finishArrays): one round
// trip for the group instead of one per result, where a dispatcher's batch
// is often a dozen results or more.
func (db *DB) finishMany(tx *sql.Tx, rs []outbox.Result) error {
	done := make([]outbox.Result, 0, len(rs))
	for _, r := range rs {
		if r.Status == "" {
			if err := releaseOutbox(tx, r); err != nil {
				return err
			}
			continue
		}
		done = append(done, r)
	}
	if len(done) == 0 {
		return nil
	}
	if db.dialect == Postgres {
		return finishArrays(tx, done)
	}
	stmts := make([]groupStmt, 0, 2*len(done))
	for _, r := range done {
		stmts = append(stmts, finishStmts(r)...)
	}
	return db.execGroup(tx, stmts)
}

// finishArraysQuery is finishArrays' statement: the results as arrays, one
// element per result, unnested once; every attempt logged; each message's
// state changed while its claim holds (as finishStmts' UPDATE). One text
// for any number of results: a composed group (execGroup) was a text per
// group size, each prepared on each connection and planned anew for its
// first executions there (PostgreSQL's custom plans, 3-15 ms for a group of
// 16 results of 32 clauses): in an 8 s silent bench, 0.8 ms of planning
// per payment (pg_stat_statements) against 1.4 ms of execution.
// The status the UPDATE expects comes from r (pending, r materialized so
// that it stays a column), not a constant:
// with o.status = 'PENDING' written out, the planner could prove the
// predicate of the partial indexes outbox_due and outbox_head and read
// every PENDING message to hash-join them with r (seen in a generic plan on
// the bench's database, BitmapAnd with outbox_pkey included), a cost that
// grows with the backlog; as a join clause it leaves the primary key
// (EXPLAIN ANALYZE on 200,000 messages, 50,000 of them PENDING, analyzed
// before or after they were added: a nested loop on outbox_pkey, generic
// and custom plans; on 500 messages a sequential scan).
const finishArraysQuery = `WITH r AS MATERIALIZED (
	SELECT u.*, 'PENDING'::text AS pending FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::bigint[], $6::text[], $7::text[],
		$8::integer[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[])
		AS u(attempt_id, outbox_id, attempted_at, status_code, latency_us, response_excerpt, error, attempt, instance,
			status, next_attempt_at, delivered_at, locked_until, now)
), logged AS (
	INSERT INTO outbox_attempts (id, outbox_id, attempted_at, status_code, latency_us, response_excerpt, error, attempt, instance)
	SELECT attempt_id, outbox_id, attempted_at, status_code, latency_us, response_excerpt, error, attempt, instance FROM r
)
UPDATE outbox o SET status = r.status, attempts = o.attempts + 1, next_attempt_at = r.next_attempt_at,
	locked_by = '', locked_until = 0, last_error = r.error, delivered_at = r.delivered_at
FROM r
WHERE o.id = r.outbox_id AND o.status = r.pending
	AND ((o.locked_by = r.instance AND o.locked_until = r.locked_until) OR o.locked_until <= r.now)`

// finishArrays records results of distinct messages that have a status in
// one PostgreSQL statement (finishArraysQuery), with finishStmts' values.
func finishArrays(tx *sql.Tx, rs []outbox.Result) error {
	n := len(rs)
	var (
		attemptIDs, outboxIDs, responses, errs, instances, statuses = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		at, latency, next, until, now                               = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		codes, numbers                                              = make([]int32, n), make([]int32, n)
		delivered                                                   = make([]*int64, n)
	)
	for i, r := range rs {
		a := r.Attempt
		attemptIDs[i], outboxIDs[i], responses[i], errs[i], instances[i], statuses[i] = a.ID, r.ID, a.Response, a.Error, r.LockedBy, r.Status
		at[i], latency[i], until[i], now[i] = Micros(a.At), a.Latency.Microseconds(), Micros(r.LockedUntil), Micros(r.Now)
		codes[i], numbers[i] = int32(a.StatusCode), int32(a.Number)
		next[i] = Micros(finishNext(r))
		if r.Status == outbox.StatusDelivered {
			d := Micros(r.Now)
			delivered[i] = &d
		}
	}
	if _, err := tx.Exec(finishArraysQuery, attemptIDs, outboxIDs, at, codes, latency, responses, errs, numbers, instances,
		statuses, next, delivered, until, now); err != nil {
		return fmt.Errorf("store: log delivery attempt, record delivery result: %w", err)
	}
	return nil
}

// finishNext is a result's next_attempt_at: its retry time while it stays
// PENDING, else when it ended (the notification retention counts from it:
// endedOutbox).
func finishNext(r outbox.Result) time.Time {
	if r.NextAttemptAt.IsZero() || r.Status != outbox.StatusPending {
		return r.Now
	}
	return r.NextAttemptAt
}

// releaseOutbox hands a claimed message back undelivered: due again at once
// (a message claimed at its insert is due only when its lease ends, see
// insertClaimedOutboxStmt).
func releaseOutbox(tx *sql.Tx, r outbox.Result) error {
	_, err := tx.Exec(`UPDATE outbox SET locked_by = '', locked_until = 0,
		next_attempt_at = CASE WHEN next_attempt_at > $4 THEN $4 ELSE next_attempt_at END
		WHERE id = $1 AND locked_by = $2 AND locked_until = $3`, r.ID, r.LockedBy, Micros(r.LockedUntil), Micros(r.Now))
	return err
}

// finishStmts are a delivered or failed result's statements: the attempt's
// log row and the message's new state.
func finishStmts(r outbox.Result) []groupStmt {
	a := r.Attempt
	next := finishNext(r)
	var delivered sql.NullInt64
	if r.Status == outbox.StatusDelivered {
		delivered = OptMicros(r.Now)
	}
	return []groupStmt{{what: "log delivery attempt",
		query: `INSERT INTO outbox_attempts (id, outbox_id, attempted_at, status_code, latency_us, response_excerpt, error, attempt, instance)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		args: []any{a.ID, r.ID, Micros(a.At), a.StatusCode, a.Latency.Microseconds(), a.Response, a.Error, a.Number, r.LockedBy},
	}, {what: "record delivery result",
		query: `UPDATE outbox SET status = $1, attempts = attempts + 1, next_attempt_at = $2,
			locked_by = '', locked_until = 0, last_error = $3, delivered_at = $4
		WHERE id = $5 AND status = 'PENDING'
		  AND ((locked_by = $6 AND locked_until = $7) OR locked_until <= $8)`,
		args: []any{r.Status, Micros(next), a.Error, delivered, r.ID, r.LockedBy, Micros(r.LockedUntil), Micros(r.Now)},
	}}
}

// RetryOutbox re-drives matching messages: DEAD and failing ones by default
// (f.Statuses empty), DELIVERED ones only when asked (a resend). They become
// PENDING, due at now, with a fresh schedule; messages held by a live claim
// are left alone. The delivery log keeps every earlier attempt.
func (db *DB) RetryOutbox(ctx context.Context, f outbox.Filter, now time.Time) (int, error) {
	if len(f.Statuses) == 0 {
		f.Statuses = []string{outbox.StatusDead, outbox.StatusFailed}
	}
	args := []any{Micros(now)}
	where, err := outboxWhere(f, &args)
	if err != nil {
		return 0, err
	}
	q := `UPDATE outbox SET status = 'PENDING', attempts = 0, next_attempt_at = $1, locked_by = '', locked_until = 0, delivered_at = NULL
		WHERE locked_until <= $1 AND ` + where
	var n int64
	err = db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: retry outbox: %w", err)
	}
	return int(n), nil
}

// ListOutbox returns matching messages, newest first.
func (db *DB) ListOutbox(ctx context.Context, f outbox.Filter) ([]outbox.Entry, error) {
	var args []any
	where, err := outboxWhere(f, &args)
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	rows, err := db.read.QueryContext(ctx, `SELECT id, shop_id, channel, event, ordering_key, target, payload, status, attempts,
			next_attempt_at, locked_by, locked_until, last_error, created_at, delivered_at
		FROM outbox WHERE `+where+` ORDER BY created_at DESC, id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list outbox: %w", err)
	}
	defer rows.Close()
	var out []outbox.Entry
	for rows.Next() {
		var e outbox.Entry
		var next, until, created int64
		var delivered sql.NullInt64
		if err := rows.Scan(&e.ID, &e.ShopID, &e.Channel, &e.Event, &e.OrderingKey, &e.Target, &e.Payload, &e.Status, &e.Attempts,
			&next, &e.LockedBy, &until, &e.LastError, &created, &delivered); err != nil {
			return nil, fmt.Errorf("store: list outbox: %w", err)
		}
		e.NextAttemptAt, e.LockedUntil, e.CreatedAt, e.DeliveredAt = FromMicros(next), FromMicros(until), FromMicros(created), NullMicros(delivered)
		out = append(out, e)
	}
	return out, rows.Err()
}

// OutboxAttempts returns a message's delivery log, oldest first.
func (db *DB) OutboxAttempts(ctx context.Context, id string) ([]outbox.Attempt, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, outbox_id, attempt, attempted_at, status_code, latency_us, response_excerpt, error, instance
		FROM outbox_attempts WHERE outbox_id = $1 ORDER BY attempted_at, id`, id)
	if err != nil {
		return nil, fmt.Errorf("store: outbox attempts: %w", err)
	}
	defer rows.Close()
	var out []outbox.Attempt
	for rows.Next() {
		var a outbox.Attempt
		var at, lat int64
		if err := rows.Scan(&a.ID, &a.OutboxID, &a.Number, &at, &a.StatusCode, &lat, &a.Response, &a.Error, &a.Instance); err != nil {
			return nil, fmt.Errorf("store: outbox attempts: %w", err)
		}
		a.At, a.Latency = FromMicros(at), time.Duration(lat)*time.Microsecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// outboxWhere turns a filter into a condition, appending its arguments.
func outboxWhere(f outbox.Filter, args *[]any) (string, error) {
	arg := func(v any) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
	conds := []string{"1 = 1"}
	if len(f.IDs) > 0 {
		ph := make([]string, len(f.IDs))
		for i, id := range f.IDs {
			ph[i] = arg(id)
		}
		conds = append(conds, "id IN ("+strings.Join(ph, ", ")+")")
	}
	if f.ShopID != "" {
		conds = append(conds, "shop_id = "+arg(f.ShopID))
	}
	if f.Channel != "" {
		conds = append(conds, "channel = "+arg(f.Channel))
	}
	if f.Event != "" {
		conds = append(conds, "event = "+arg(f.Event))
	}
	if !f.Since.IsZero() {
		conds = append(conds, "created_at >= "+arg(Micros(f.Since)))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "created_at < "+arg(Micros(f.Until)))
	}
	if len(f.Statuses) > 0 {
		var or []string
		for _, s := range f.Statuses {
			switch strings.ToUpper(s) {
			case outbox.StatusPending:
				or = append(or, "status = 'PENDING'")
			case outbox.StatusFailed:
				or = append(or, "(status = 'PENDING' AND attempts > 0)")
			case outbox.StatusDead:
				or = append(or, "status = 'DEAD'")
			case outbox.StatusDelivered:
				or = append(or, "status = 'DELIVERED'")
			default:
				return "", fmt.Errorf("store: unknown outbox status %q (PENDING, FAILED, DEAD or DELIVERED)", s)
			}
		}
		conds = append(conds, "("+strings.Join(or, " OR ")+")")
	}
	return strings.Join(conds, " AND "), nil
}

var (
	_ outbox.Store  = (*DB)(nil)
	_ outbox.Lister = (*DB)(nil)
)
