// Package retention runs the deletions of what has outlived its retention
// (the vault's card data, ended notifications) in batches: one short write
// transaction per batch, so that a large backlog never holds SQLite's single
// writer for long, and the run can be interrupted and started again.
package retention

import "context"

// Options tunes Run.
type Options struct {
	// DryRun counts what would be deleted and changes nothing.
	DryRun bool
	// BatchSize is how many rows one transaction deletes (the caller's
	// default when 0).
	BatchSize int
	// Progress, if set, is called after every batch that deleted something.
	Progress func(done, total int)
	// Stop, when it closes, ends the run after the batch in progress,
	// without an error: the app's shutdown (nil: never).
	Stop <-chan struct{}
}

// Run counts what is to go (count), then deletes it with one call of
// batch(limit) per transaction until a batch deletes nothing, and returns
// how many rows it deleted (with DryRun: would delete). It stops on an empty
// batch rather than a short one: on PostgreSQL a batch skips the rows other
// transactions hold (SKIP LOCKED), which the next batch takes. The end of
// ctx stops it between batches with ctx's error and the count so far; the
// close of opts.Stop, with the count so far and no error (what is left
// goes at the next run).
func Run(ctx context.Context, opts Options, defaultBatch int, count func() (int, error), batch func(limit int) (int, error)) (int, error) {
	total, err := count()
	if err != nil {
		return 0, err
	}
	if opts.DryRun {
		if opts.Progress != nil {
			opts.Progress(0, total)
		}
		return total, nil
	}
	limit := opts.BatchSize
	if limit <= 0 {
		limit = defaultBatch
	}
	done := 0
	for {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		select {
		case <-opts.Stop:
			return done, nil
		default:
		}
		n, err := batch(limit)
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
		if n == 0 {
			return done, nil
		}
	}
}
