package store

import (
	"context"
	"fmt"
	"time"
)

// Backlog is the work the background loops still owe at a moment: outbox
// messages due or in flight (held by a claim, which a message handed to the
// dispatcher at its commit is from the start) and not delivered, not those
// waiting for a retry; AUTHORISED debits whose capture is due (capture
// date come, and retry time after a failed capture) or in flight. Under a
// load the server sustains, both stay near what is in flight; growing,
// they say the load outran the background work (the bench prints them
// after its window).
type Backlog struct {
	OutboxDue   int `json:"outbox_due"`
	CapturesDue int `json:"captures_due"`
}

// Backlog counts the work due at now. It scans indexes: for operators and
// the bench, not for request paths.
func (db *DB) Backlog(ctx context.Context, now time.Time) (Backlog, error) {
	var b Backlog
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE status = 'PENDING' AND (next_attempt_at <= $1 OR locked_until > $1)`,
		Micros(now)).Scan(&b.OutboxDue); err != nil {
		return b, fmt.Errorf("store: outbox backlog: %w", err)
	}
	// Captures ready to be sent (the capture claim's condition, on its
	// index) and those in flight; not those waiting for their retry time.
	if err := db.read.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM transactions WHERE detailed_status = 'AUTHORISED' AND pending_op = ''
			AND `+captureDueAt+` <= $1)
		+ (SELECT COUNT(*) FROM transactions WHERE pending_op <> '' AND pending_op = 'CAPTURE')`,
		Micros(now)).Scan(&b.CapturesDue); err != nil {
		return b, fmt.Errorf("store: capture backlog: %w", err)
	}
	return b, nil
}
