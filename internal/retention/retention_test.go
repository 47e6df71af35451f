package retention

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// A backlog of 5 rows in batches of 2 goes in three batches and stops on
// the empty fourth, with progress after each batch that deleted something;
// a dry run only counts; an ended context stops between batches; a failed
// batch stops with the count so far; so does a closed Stop, without error.
func TestRun(t *testing.T) {
	ctx := context.Background()
	left := 5
	var limits []int
	count := func() (int, error) { return left, nil }
	batch := func(limit int) (int, error) {
		limits = append(limits, limit)
		n := min(limit, left)
		left -= n
		return n, nil
	}
	var progress [][2]int
	opts := Options{Progress: func(done, total int) { progress = append(progress, [2]int{done, total}) }}

	dry := opts
	dry.DryRun = true
	if n, err := Run(ctx, dry, 2, count, batch); n != 5 || err != nil || left != 5 || limits != nil || !slices.Equal(progress, [][2]int{{0, 5}}) {
		t.Fatalf("dry run: %d, %v, %d left, batches %v, progress %v", n, err, left, limits, progress)
	}
	progress = nil
	if n, err := Run(ctx, opts, 2, count, batch); n != 5 || err != nil || left != 0 {
		t.Fatalf("run: %d, %v, %d left", n, err, left)
	}
	if !slices.Equal(limits, []int{2, 2, 2, 2}) || !slices.Equal(progress, [][2]int{{2, 5}, {4, 5}, {5, 5}}) {
		t.Fatalf("batches %v, progress %v", limits, progress)
	}

	left, limits = 5, nil
	opts.BatchSize = 3
	cctx, cancel := context.WithCancel(ctx)
	n, err := Run(cctx, opts, 2, count, func(limit int) (int, error) {
		cancel()
		return batch(limit)
	})
	if n != 3 || !errors.Is(err, context.Canceled) || !slices.Equal(limits, []int{3}) {
		t.Fatalf("cancelled: %d, %v, batches %v", n, err, limits)
	}
	// A closed Stop ends the run after the batch in progress, without an
	// error: the rest goes at the next run.
	left, limits = 5, nil
	stop := make(chan struct{})
	stopped := opts
	stopped.Stop = stop
	n, err = Run(ctx, stopped, 2, count, func(limit int) (int, error) {
		close(stop)
		return batch(limit)
	})
	if n != 3 || err != nil || left != 2 || !slices.Equal(limits, []int{3}) {
		t.Fatalf("stopped: %d, %v, %d left, batches %v", n, err, left, limits)
	}
	boom := errors.New("disk full")
	if n, err := Run(ctx, opts, 2, count, func(int) (int, error) { return 0, boom }); n != 0 || !errors.Is(err, boom) {
		t.Fatalf("failed batch: %d, %v", n, err)
	}
}
