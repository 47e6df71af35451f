package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/openpsp/openpsp/internal/retention"
)

// DefaultPurgeBatch is how many messages one deletion transaction removes,
// with their delivery logs: a backlog of years goes in short writes. A
// message costs more to delete than a token to purge (its payload, its
// attempts, more indexes): on SQLite, with the machine's two cores loaded
// 4-6 times over, a batch of 1,000 messages with an attempt each held the
// writer for 37-38 ms at the median (2,000: 70-150 ms; 500: 16-22 ms; the
// whole 100,000 took 3.7-8.1 s at each size; PostgreSQL: 41 ms a batch).
const DefaultPurgeBatch = 1000

// Pruner deletes ended messages; *store.DB implements it.
type Pruner interface {
	// CountEndedOutbox counts the messages DeleteEndedOutbox would delete.
	CountEndedOutbox(ctx context.Context, cutoff time.Time) (int, error)
	// DeleteEndedOutbox deletes up to limit DELIVERED or DEAD messages
	// whose last activity is before cutoff, with their delivery log and
	// their /demo/mail copy, in one write, and returns how many it deleted.
	// A PENDING message (due, failing, claimed or re-driven) is never
	// deleted.
	DeleteEndedOutbox(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// PurgeOptions tunes PurgeEnded: dry run, batch size (DefaultPurgeBatch
// when 0) and progress.
type PurgeOptions = retention.Options

// PurgeEnded deletes every ended message (DELIVERED or DEAD) whose last
// activity (its delivery, or its last attempt) is before cutoff, with its
// delivery log, in batches of one write each: it can be interrupted (ctx)
// and run again, and several copies may run it at once. A message re-driven
// by `openpsp notifications retry` is PENDING again, and ends anew: the
// retention counts from its new end. It returns how many messages it
// deleted (with DryRun: would delete).
func PurgeEnded(ctx context.Context, st Pruner, cutoff time.Time, opts PurgeOptions) (int, error) {
	if cutoff.IsZero() {
		return 0, errors.New("outbox: purge needs a cutoff")
	}
	return retention.Run(ctx, opts, DefaultPurgeBatch,
		func() (int, error) { return st.CountEndedOutbox(ctx, cutoff) },
		func(limit int) (int, error) { return st.DeleteEndedOutbox(ctx, cutoff, limit) })
}
