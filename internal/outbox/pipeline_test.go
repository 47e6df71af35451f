package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// waitFor polls cond until it holds, failing the test after bound.
func waitFor(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for: %s", bound, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// enqueueTo queues n unordered webhooks to target, due at now.
func enqueueTo(t *testing.T, db *store.DB, now time.Time, target string, n int) []string {
	t.Helper()
	var out []string
	err := db.Write(context.Background(), func(tx *sql.Tx) error {
		out = out[:0]
		for i := 0; i < n; i++ {
			id := ids.New()
			body, err := outbox.WebhookEnvelope(id, "x", "12345678", "TEST", now, event{"", i})
			if err != nil {
				return err
			}
			if _, err := store.InsertOutbox(tx, outbox.Message{ID: id, ShopID: "12345678", Channel: outbox.ChannelWebhook,
				Event: "x", Target: target, Payload: body}, now); err != nil {
				return err
			}
			out = append(out, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// within receives from ch, failing the test after bound.
func within[T any](t *testing.T, ch <-chan T, bound time.Duration) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(bound):
		t.Fatalf("nothing received within %s", bound)
		panic("unreachable")
	}
}

func startRun(t *testing.T, d *outbox.Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// A message whose target hangs does not hold the others back: while it
// waits, every other message is claimed and delivered (the dispatcher used
// to wait for a whole claimed batch, slow message included, before
// claiming again).
func TestRunSlowTargetDoesNotHoldOthers(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		release := make(chan struct{})
		var mu sync.Mutex
		slowStarted := false
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if r.URL.Path == "/slow" {
				mu.Lock()
				slowStarted = true
				mu.Unlock()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			_, _ = io.WriteString(w, "ok")
		}))
		defer srv.Close()
		defer close(release) // before srv.Close: a hung handler would block it

		now := time.Now().UTC()
		slow := enqueueTo(t, db, now, srv.URL+"/slow", 1)  // the oldest: claimed first
		fast := enqueueTo(t, db, now, srv.URL+"/fast", 60) // many times Workers
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{
			outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("s"), nil, outbox.HTTPOptions{}),
		}, outbox.Options{Workers: 4, PollInterval: time.Hour, Logger: quiet(), InstanceID: "pipe"})
		stop := startRun(t, d)

		waitFor(t, 30*time.Second, "the 60 other messages delivered while the slow one hangs", func() bool {
			return countIDs(t, db, fast, outbox.StatusDelivered) == len(fast)
		})
		mu.Lock()
		started := slowStarted
		mu.Unlock()
		if !started {
			t.Fatal("the slow message was never tried: the test proves nothing")
		}
		if es, _ := db.ListOutbox(context.Background(), outbox.Filter{IDs: slow}); es[0].Status != outbox.StatusPending || es[0].LockedBy != "pipe" {
			t.Fatalf("slow message while it hangs: %+v", es[0])
		}
		release <- struct{}{}
		waitFor(t, 30*time.Second, "the slow message delivered once answered", func() bool {
			return countIDs(t, db, slow, outbox.StatusDelivered) == 1
		})
		stop()
	})
}

func countIDs(t *testing.T, db *store.DB, ids []string, status string) int {
	t.Helper()
	es, err := db.ListOutbox(context.Background(), outbox.Filter{IDs: ids, Statuses: []string{status}, Limit: len(ids) + 1})
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// Run claims only for free workers, each claim lasting the delivery
// timeout plus LeaseMargin; stopping it hands the claims back untouched.
func TestRunClaimsForFreeWorkersWithShortLease(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		for _, tc := range []struct {
			timeout time.Duration
			lease   time.Duration
		}{{0, 30*time.Second + outbox.LeaseMargin}, {10 * time.Second, 10*time.Second + outbox.LeaseMargin}} {
			clk := clock.NewFake(t0)
			ids := enqueueTo(t, db, t0, "http://unused.invalid/", 5)
			started := make(chan struct{}, 5)
			hang := outbox.DelivererFunc(func(ctx context.Context, _ outbox.Delivery) (outbox.Outcome, error) {
				started <- struct{}{}
				<-ctx.Done()
				return outbox.Outcome{}, ctx.Err()
			})
			d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{outbox.ChannelWebhook: hang},
				outbox.Options{Workers: 2, Timeout: tc.timeout, Clock: clk, PollInterval: time.Millisecond, Logger: quiet(), InstanceID: "lease"})
			stop := startRun(t, d)
			within(t, started, 30*time.Second)
			within(t, started, 30*time.Second)
			// Both workers hang: whatever was claimed is what they took.
			es, err := db.ListOutbox(context.Background(), outbox.Filter{IDs: ids})
			if err != nil {
				t.Fatal(err)
			}
			held := 0
			for _, e := range es {
				if e.LockedBy == "lease" {
					held++
					if !e.LockedUntil.Equal(t0.Add(tc.lease)) {
						t.Fatalf("timeout %v: claimed until %v, want %v", tc.timeout, e.LockedUntil, t0.Add(tc.lease))
					}
				}
			}
			if held != 2 {
				t.Fatalf("timeout %v: %d messages claimed with 2 workers busy", tc.timeout, held)
			}
			stop()
			es, _ = db.ListOutbox(context.Background(), outbox.Filter{IDs: ids})
			for _, e := range es {
				if e.Status != outbox.StatusPending || e.Attempts != 0 || e.LockedBy != "" {
					t.Fatalf("after shutdown: %+v", e)
				}
			}
			// Leave nothing due for the next case.
			if _, err := db.Writer().Exec(`UPDATE outbox SET status = 'DELIVERED'`); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// finishSpy records the size of every FinishOutboxBatch call.
type finishSpy struct {
	*store.DB
	mu    sync.Mutex
	sizes []int
}

func (s *finishSpy) FinishOutboxBatch(ctx context.Context, rs []outbox.Result) error {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(rs))
	s.mu.Unlock()
	return s.DB.FinishOutboxBatch(ctx, rs)
}

// Results are written FinishBatch at a time; those still waiting when Run
// stops are written before it returns.
func TestRunBatchesResultsAndFlushesOnStop(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		calls := make(chan struct{}, 100)
		ok := outbox.DelivererFunc(func(context.Context, outbox.Delivery) (outbox.Outcome, error) {
			calls <- struct{}{}
			return outbox.Outcome{StatusCode: 200}, nil
		})
		ids := enqueueTo(t, db, time.Now().UTC(), "http://unused.invalid/", 23)
		spy := &finishSpy{DB: db}
		// FinishDelay of an hour: only a full batch or the stop writes.
		d := outbox.NewDispatcher(spy, map[string]outbox.Deliverer{outbox.ChannelWebhook: ok},
			outbox.Options{Workers: 8, FinishBatch: 5, FinishDelay: time.Hour, PollInterval: time.Hour, Logger: quiet()})
		stop := startRun(t, d)
		for i := 0; i < 23; i++ {
			within(t, calls, 30*time.Second)
		}
		waitFor(t, 30*time.Second, "20 results written in 4 writes of 5", func() bool {
			return countIDs(t, db, ids, outbox.StatusDelivered) == 20
		})
		stop()
		if n := countIDs(t, db, ids, outbox.StatusDelivered); n != 23 {
			t.Fatalf("%d of 23 delivered after the stop", n)
		}
		spy.mu.Lock()
		defer spy.mu.Unlock()
		if fmt.Sprint(spy.sizes) != "[5 5 5 5 3]" {
			t.Fatalf("writes of %v results, want [5 5 5 5 3]", spy.sizes)
		}
	})
}

// dueSpy signals every OutboxDue answer.
type dueSpy struct {
	*store.DB
	answers chan bool
}

func (s *dueSpy) OutboxDue(ctx context.Context, now time.Time) (bool, error) {
	due, err := s.DB.OutboxDue(ctx, now)
	select {
	case s.answers <- due:
	default:
	}
	return due, err
}

// A Kick wakes an idle Run at once, without waiting for the poll.
func TestRunKick(t *testing.T) {
	db := storetest.SQLite(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	spy := &dueSpy{DB: db, answers: make(chan bool, 1)}
	d := outbox.NewDispatcher(spy, map[string]outbox.Deliverer{
		outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("s"), nil, outbox.HTTPOptions{}),
	}, outbox.Options{PollInterval: time.Hour, Logger: quiet()})
	startRun(t, d)
	// The first look finds nothing; then Run waits for an hour or a Kick.
	if within(t, spy.answers, 30*time.Second) {
		t.Fatal("due on an empty outbox")
	}
	for round := 0; round < 3; round++ {
		ids := enqueueTo(t, db, time.Now().UTC(), srv.URL, 3)
		d.Kick()
		waitFor(t, 30*time.Second, "kicked messages delivered", func() bool {
			return countIDs(t, db, ids, outbox.StatusDelivered) == 3
		})
	}
}
