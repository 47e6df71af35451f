package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/openpsp/openpsp/internal/obs"
)

// job is a background task run every interval by each copy that has jobs
// enabled. Jobs claim their work in the database (SKIP LOCKED on PostgreSQL),
// so any number of copies may run them at once. A run that claims in
// batches claims no more once stop closes (as a daemon's stop: at shutdown
// or on a newer schema) and returns after finishing the batch it holds:
// ctx still ends the work itself, when the shutdown's grace is over.
type job struct {
	name     string
	interval time.Duration
	run      func(ctx context.Context, stop <-chan struct{}) error
}

// daemon is a long-running background loop (the outbox dispatcher). Its
// run returns when ctx ends and, having finished what it had started, when
// stop closes: at shutdown, or on a schema newer than this binary's
// (schema.go), where it must claim no more work.
type daemon struct {
	name string
	run  func(ctx context.Context, stop <-chan struct{}) error
}

// addDaemon registers a loop that runs until the app stops.
func (a *App) addDaemon(name string, run func(ctx context.Context, stop <-chan struct{}) error) {
	a.daemons = append(a.daemons, daemon{name: name, run: run})
}

// addJob registers a background job; a run that claims in batches takes
// none after stop closes (see job).
func (a *App) addJob(name string, interval time.Duration, run func(ctx context.Context, stop <-chan struct{}) error) {
	if interval <= 0 {
		interval = a.jobInterval
	}
	a.jobs = append(a.jobs, job{name: name, interval: interval, run: run})
}

// RunJobsOnce runs every job once, in order; tests call it instead of
// waiting for the scheduler.
func (a *App) RunJobsOnce(ctx context.Context) error {
	if a.newerSchema.Load() != nil {
		return nil // paused (schema.go)
	}
	for _, j := range a.jobs {
		if err := j.run(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// startJobs starts the daemons and the jobs' loops. When shutdown closes
// they start no new work (no claim, no run) and return once the work in
// progress is done; ctx's end cuts that work (App.Run ends it when the
// shutdown's grace is over).
func (a *App) startJobs(ctx context.Context, shutdown <-chan struct{}, wg *sync.WaitGroup) {
	// One stop for both reasons the daemons and the job runs in progress
	// stop claiming.
	stop := make(chan struct{})
	go func() {
		select {
		case <-shutdown:
		case <-a.newerSchemaDone():
		case <-ctx.Done():
		}
		close(stop)
	}()
	for _, d := range a.daemons {
		wg.Add(1)
		go func(d daemon) {
			defer wg.Done()
			err := d.run(ctx, stop)
			switch {
			case ctx.Err() != nil, isClosed(shutdown):
			case a.newerSchema.Load() != nil:
				a.Log.Warn("background loop paused", "loop", d.name, "reason", "database schema newer than this binary")
			case err != nil:
				a.Log.Error("background loop stopped", "loop", d.name, "err", err)
			}
		}(d)
	}
	for _, j := range a.jobs {
		wg.Add(1)
		go func(j job) {
			defer wg.Done()
			// A job that fails on every run (the database is down) logs
			// its first failure, then once a minute, and its recovery.
			var errLog obs.LogLimiter
			t := time.NewTicker(j.interval)
			defer t.Stop()
			// The first run is at start, not one interval later: after a
			// crash, payments left RUNNING and captures that came due are
			// settled right away.
			for first := true; ; first = false {
				if !first {
					select {
					case <-ctx.Done():
						return
					case <-shutdown:
						return
					case <-t.C:
					}
				}
				// The tick and the shutdown may come together: the
				// shutdown wins, no run starts after it.
				if isClosed(shutdown) {
					return
				}
				// No new run on a schema newer than this binary's: a run
				// in progress finished, the next ones would claim work
				// this copy no longer understands. Counted, so that the
				// pause shows on /metrics.
				if a.newerSchema.Load() != nil {
					a.Metrics.JobRuns.WithLabelValues(j.name, "paused").Inc()
					continue
				}
				if err := j.run(ctx, stop); err != nil && ctx.Err() == nil {
					a.Metrics.JobRuns.WithLabelValues(j.name, "error").Inc()
					errLog.Failed(ctx, a.Log, slog.LevelError, a.Clock.Now(), "background job failed", "job", j.name, "err", err)
				} else {
					a.Metrics.JobRuns.WithLabelValues(j.name, "ok").Inc()
					errLog.Recovered(ctx, a.Log, a.Clock.Now(), "background job recovered", "job", j.name)
				}
			}
		}(j)
	}
}

// isClosed says whether c is closed, without waiting.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
