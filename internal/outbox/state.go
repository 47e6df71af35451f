package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Message states. A message is PENDING until delivered or until its channel's
// schedule is exhausted (DEAD). "FAILED" is not stored: it names a PENDING
// message that has failed at least once and waits for its next attempt.
const (
	StatusPending   = "PENDING"
	StatusDelivered = "DELIVERED"
	StatusDead      = "DEAD"
	StatusFailed    = "FAILED" // filter only: PENDING with attempts > 0
)

// Delivery is a claimed message: the dispatcher holds it until LockedUntil,
// and only the holder's result is applied while the claim lasts.
type Delivery struct {
	Message
	Attempts    int       // attempts made before this one
	CreatedAt   time.Time // when the message was written
	LockedBy    string    // instance id of the dispatcher that claimed it
	LockedUntil time.Time // end of the claim; also identifies this claim
}

// Attempt is one entry of the delivery log.
type Attempt struct {
	ID         string
	OutboxID   string
	Number     int           // 1 for the first attempt (counted since the last re-drive)
	At         time.Time     // when the attempt started
	StatusCode int           // HTTP status or SMTP reply code; 0 when none
	Latency    time.Duration //
	Response   string        // first bytes of the answer
	Error      string        // empty on success
	Instance   string        // dispatcher instance id
}

// Result is what a dispatcher writes back after an attempt.
type Result struct {
	ID          string
	LockedBy    string
	LockedUntil time.Time
	// Status is the new state: DELIVERED, PENDING (retry at NextAttemptAt) or
	// DEAD. Empty releases the claim without counting an attempt (shutdown);
	// the message is then due at Now at the latest.
	Status        string
	NextAttemptAt time.Time
	Now           time.Time
	Attempt       Attempt
}

// Filter selects messages for listing and re-drive. Empty fields match all.
type Filter struct {
	IDs      []string
	ShopID   string
	Channel  string
	Event    string
	Statuses []string // PENDING, DELIVERED, DEAD, FAILED
	Since    time.Time
	Until    time.Time
	Limit    int // listing only; 0: 100
}

// Entry is a message with its delivery state, for listings.
type Entry struct {
	Message
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LockedBy      string
	LockedUntil   time.Time
	LastError     string
	CreatedAt     time.Time
	DeliveredAt   time.Time
}

// Store is the persistence the dispatcher needs; *store.DB implements it.
type Store interface {
	// OutboxDue reports whether some message could be claimed at now. It is a
	// read: idle copies poll without writing (on SQLite every write is an fsync).
	OutboxDue(ctx context.Context, now time.Time) (bool, error)
	// ClaimOutbox locks up to limit due messages for instance until
	// now+lease, at most one per (channel, ordering key): the oldest PENDING
	// one, and only when it is due.
	ClaimOutbox(ctx context.Context, instance string, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// FinishOutboxBatch records each result's attempt and its message's new
	// state in one write. When some results could not be recorded it
	// returns a *BatchError and the others are recorded; any other error
	// means none was.
	FinishOutboxBatch(ctx context.Context, rs []Result) error
	// RetryOutbox makes matching DEAD or failing messages due again at now,
	// with a fresh schedule, and returns how many it changed.
	RetryOutbox(ctx context.Context, f Filter, now time.Time) (int, error)
}

// Lister reads messages and their delivery log (CLI, back office).
type Lister interface {
	ListOutbox(ctx context.Context, f Filter) ([]Entry, error)
	OutboxAttempts(ctx context.Context, id string) ([]Attempt, error)
}

// BatchError reports the results of a FinishOutboxBatch that were not
// recorded; the others were. Errs[i] is result i's error, nil when recorded.
type BatchError struct {
	Errs []error
}

// Error counts the results not recorded and gives the first reason.
func (e *BatchError) Error() string {
	n, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	return fmt.Sprintf("%d of %d results not recorded, first: %v", n, len(e.Errs), first)
}

// Unwrap returns the individual errors.
func (e *BatchError) Unwrap() []error {
	var out []error
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// resultErrors spreads FinishOutboxBatch's error over its n results.
func resultErrors(err error, n int) []error {
	errs := make([]error, n)
	if err == nil {
		return errs
	}
	var be *BatchError
	if errors.As(err, &be) && len(be.Errs) == n {
		copy(errs, be.Errs)
		return errs
	}
	for i := range errs {
		errs[i] = err
	}
	return errs
}
