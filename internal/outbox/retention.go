package outbox

import (
	"context"
	"errors"
	"time"
)

// DefaultPurgeBatch is how many messages one deletion transaction removes,
// with their delivery logs: a backlog of years goes in short writes, so
// payments waiting behind SQLite's single writer wait milliseconds.
const DefaultPurgeBatch = 2000

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

// PurgeOptions tunes PurgeEnded.
type PurgeOptions struct {
	// DryRun counts the messages that would be deleted and changes nothing.
	DryRun bool
	// BatchSize is how many messages one transaction deletes (DefaultPurgeBatch).
	BatchSize int
	// Progress, if set, is called after every batch.
	Progress func(done, total int)
}

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
	total, err := st.CountEndedOutbox(ctx, cutoff)
	if err != nil {
		return 0, err
	}
	if opts.DryRun {
		if opts.Progress != nil {
			opts.Progress(0, total)
		}
		return total, nil
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultPurgeBatch
	}
	done := 0
	for {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		n, err := st.DeleteEndedOutbox(ctx, cutoff, batch)
		if err != nil {
			return done, err
		}
		done += n
		if done > total {
			total = done
		}
		if opts.Progress != nil && n > 0 {
			opts.Progress(done, total)
		}
		// Stop on an empty batch rather than a short one: on PostgreSQL a
		// batch skips rows another copy's batch holds.
		if n == 0 {
			return done, nil
		}
	}
}
