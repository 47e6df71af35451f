package outbox_test

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
	"github.com/openpsp/openpsp/internal/outbox"
)

// downStore is a database that fails every call while down.
type downStore struct {
	down  atomic.Bool
	polls atomic.Int64
}

var errDown = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (s *downStore) OutboxDue(context.Context, time.Time) (bool, error) {
	s.polls.Add(1)
	if s.down.Load() {
		return false, errDown
	}
	return false, nil
}

func (s *downStore) ClaimOutbox(context.Context, string, time.Time, time.Duration, int) ([]outbox.Delivery, error) {
	s.polls.Add(1)
	if s.down.Load() {
		return nil, errDown
	}
	return nil, nil
}

func (s *downStore) FinishOutboxBatch(context.Context, []outbox.Result) error { return nil }

func (s *downStore) RetryOutbox(context.Context, outbox.Filter, time.Time) (int, error) {
	return 0, nil
}

// syncBuffer is a log output the dispatcher's goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) lines(substr string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, l := range strings.Split(w.b.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// During a database outage the dispatcher polls every PollInterval and
// logged an error each time (twice a second per copy, for as long as the
// outage lasted). It logs the first failure, then at most one line a
// minute with how many failures it held back, and the recovery.
func TestDatabaseOutageIsLoggedOnceAMinute(t *testing.T) {
	st := &downStore{}
	st.down.Store(true)
	clk := clock.NewFake(t0)
	var logs syncBuffer
	d := outbox.NewDispatcher(st, nil, outbox.Options{PollInterval: time.Millisecond, Clock: clk,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), InstanceID: "copy-1"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	waitPolls := func(n int64) {
		t.Helper()
		target := st.polls.Load() + n
		deadline := time.Now().Add(10 * time.Second)
		for st.polls.Load() < target {
			if time.Now().After(deadline) {
				t.Fatalf("the dispatcher stopped polling (%d polls)", st.polls.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}

	waitPolls(50)
	if got := logs.lines("level=ERROR"); len(got) != 1 || !strings.Contains(got[0], "connection refused") {
		t.Fatalf("%d error lines for 50 failed polls within a second, want 1:\n%s", len(got), strings.Join(got, "\n"))
	}
	clk.Advance(61 * time.Second)
	waitPolls(50)
	got := logs.lines("level=ERROR")
	if len(got) != 2 || !strings.Contains(got[1], "held_back=") || strings.Contains(got[1], "held_back=0 ") {
		t.Fatalf("a minute later: %d error lines, want 2, the second counting the failures held back:\n%s", len(got), strings.Join(got, "\n"))
	}

	st.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for len(logs.lines("recovered")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery logged:\n%s", strings.Join(logs.lines(""), "\n"))
		}
		time.Sleep(time.Millisecond)
	}
	waitPolls(50)
	if r := logs.lines("recovered"); len(r) != 1 || !strings.Contains(r[0], "failures=") {
		t.Fatalf("recovery lines:\n%s", strings.Join(r, "\n"))
	}
	st.down.Store(true)
	waitPolls(20)
	if got := logs.lines("level=ERROR"); len(got) != 3 {
		t.Fatalf("the next outage's first failure: %d error lines in all, want 3", len(got))
	}
}
