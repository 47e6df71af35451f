package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/obs"
)

type jobLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *jobLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *jobLog) count(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Count(w.b.String(), s)
}

// A job failing on every run (the database is down) logged an error each
// interval, every second for the capture job, for as long as it lasted: it
// logs the first failure, then once a minute, and the recovery.
func TestFailingJobIsLoggedOnceAMinute(t *testing.T) {
	var logs jobLog
	clk := clock.NewFake(time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC))
	a := &App{Log: slog.New(slog.NewTextHandler(&logs, nil)), Clock: clk, Metrics: obs.NewMetrics()}
	var runs atomic.Int64
	var down atomic.Bool
	down.Store(true)
	a.addJob("test.job", time.Millisecond, func(context.Context, <-chan struct{}) error {
		runs.Add(1)
		if down.Load() {
			return errors.New("database is unreachable")
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	a.startJobs(ctx, nil, &wg)
	defer func() {
		cancel()
		wg.Wait()
	}()
	waitRuns := func(n int64) {
		t.Helper()
		target := runs.Load() + n
		deadline := time.Now().Add(10 * time.Second)
		for runs.Load() < target {
			if time.Now().After(deadline) {
				t.Fatalf("the job stopped running (%d runs)", runs.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitRuns(30)
	if n := logs.count("level=ERROR"); n != 1 {
		t.Fatalf("%d error lines for 30 failed runs within a minute, want 1", n)
	}
	clk.Advance(61 * time.Second)
	waitRuns(5)
	if n := logs.count("held_back="); n != 1 {
		t.Fatalf("a minute later: %d lines counting the failures held back, want 1", n)
	}
	down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for logs.count("recovered") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no recovery logged")
		}
		time.Sleep(time.Millisecond)
	}
}
