package store_test

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

var t0 = time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)

func enqueue(t *testing.T, db *store.DB, now time.Time, ms ...outbox.Message) []outbox.Message {
	t.Helper()
	out := make([]outbox.Message, len(ms))
	err := db.Write(context.Background(), func(tx *sql.Tx) error {
		for i, m := range ms {
			if m.ID == "" {
				m.ID = ids.New()
			}
			if m.ShopID == "" {
				m.ShopID = "12345678"
			}
			if m.Payload == "" {
				m.Payload = "{}"
			}
			var err error
			if out[i], err = store.InsertOutbox(tx, m, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func claimIDs(t *testing.T, db *store.DB, instance string, now time.Time, limit int) []outbox.Delivery {
	t.Helper()
	ds, err := db.ClaimOutbox(context.Background(), instance, now, time.Minute, limit)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func finish(t *testing.T, db *store.DB, d outbox.Delivery, status string, now, next time.Time) {
	t.Helper()
	err := finishOutbox(context.Background(), db, outbox.Result{
		ID: d.ID, LockedBy: d.LockedBy, LockedUntil: d.LockedUntil, Status: status, Now: now, NextAttemptAt: next,
		Attempt: outbox.Attempt{Number: d.Attempts + 1, At: now, StatusCode: 200, Latency: 1500 * time.Microsecond, Response: "ok"},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func ids0(ds []outbox.Delivery) []string {
	var s []string
	for _, d := range ds {
		s = append(s, d.ID)
	}
	return s
}

func sameIDs(t *testing.T, got []outbox.Delivery, want ...outbox.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("claimed %v, want %d messages", ids0(got), len(want))
	}
	seen := map[string]bool{}
	for _, d := range got {
		seen[d.ID] = true
	}
	for _, w := range want {
		if !seen[w.ID] {
			t.Fatalf("claimed %v, missing %s (%s)", ids0(got), w.ID, w.OrderingKey)
		}
	}
}

// Only the oldest pending message of a (channel, key) is claimable; keys are
// independent, channels too, and messages without a key are never held back.
func TestOutboxClaimHeadOfLine(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ms := enqueue(t, db, t0,
			outbox.Message{Channel: "webhook", OrderingKey: "pay-A", Event: "e1"},
			outbox.Message{Channel: "webhook", OrderingKey: "pay-A", Event: "e2"},
			outbox.Message{Channel: "webhook", OrderingKey: "pay-B", Event: "e3"},
			outbox.Message{Channel: "email", OrderingKey: "pay-A", Event: "e4"},
			outbox.Message{Channel: "webhook", Event: "e5"},
			outbox.Message{Channel: "webhook", Event: "e6"},
		)
		due, err := db.OutboxDue(context.Background(), t0)
		if err != nil || !due {
			t.Fatalf("due = %v, %v", due, err)
		}
		got := claimIDs(t, db, "a", t0, 10)
		sameIDs(t, got, ms[0], ms[2], ms[3], ms[4], ms[5])
		if got[0].ID != ms[0].ID || got[0].CreatedAt != t0 || got[0].LockedBy != "a" || got[0].Attempts != 0 {
			t.Fatalf("first claimed = %+v", got[0])
		}
		// Everything claimable is held: a second copy gets nothing.
		if again := claimIDs(t, db, "b", t0, 10); len(again) != 0 {
			t.Fatalf("second claim got %v", ids0(again))
		}
		due, _ = db.OutboxDue(context.Background(), t0)
		if due {
			t.Fatal("due while everything is claimed")
		}
		// The head fails and waits 10 minutes: its successor stays behind it.
		finish(t, db, got[0], outbox.StatusPending, t0, t0.Add(10*time.Minute))
		for _, d := range got[1:] {
			finish(t, db, d, outbox.StatusDelivered, t0, time.Time{})
		}
		if c := claimIDs(t, db, "b", t0.Add(time.Second), 10); len(c) != 0 {
			t.Fatalf("claimed %v while the head of pay-A waits", ids0(c))
		}
		c := claimIDs(t, db, "b", t0.Add(11*time.Minute), 10)
		sameIDs(t, c, ms[0])
		if c[0].Attempts != 1 {
			t.Fatalf("attempts = %d", c[0].Attempts)
		}
		finish(t, db, c[0], outbox.StatusDelivered, t0.Add(11*time.Minute), time.Time{})
		c = claimIDs(t, db, "b", t0.Add(11*time.Minute), 10)
		sameIDs(t, c, ms[1])

		// A DEAD head does not block its key forever.
		finish(t, db, c[0], outbox.StatusDead, t0.Add(11*time.Minute), time.Time{})
		n := enqueue(t, db, t0.Add(12*time.Minute), outbox.Message{Channel: "webhook", OrderingKey: "pay-A", Event: "e7"})
		sameIDs(t, claimIDs(t, db, "b", t0.Add(12*time.Minute), 10), n[0])
	})
}

// Messages of one key and one creation time still go out in id order.
func TestOutboxClaimSameTimestampOrder(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		var in []outbox.Message
		for i := 0; i < 5; i++ {
			in = append(in, outbox.Message{Channel: "ipn", OrderingKey: "k", Event: "e"})
		}
		ms := enqueue(t, db, t0, in...)
		for i := range ms {
			c := claimIDs(t, db, "a", t0, 10)
			sameIDs(t, c, ms[i])
			finish(t, db, c[0], outbox.StatusDelivered, t0, time.Time{})
		}
	})
}

// A claim lasts its lease; a copy that lost its claim cannot overwrite the
// new holder's state, but its attempt is still logged.
func TestOutboxLease(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ms := enqueue(t, db, t0, outbox.Message{Channel: "sms", Event: "e"})
		a := claimIDs(t, db, "a", t0, 1)
		sameIDs(t, a, ms[0])
		if b := claimIDs(t, db, "b", t0.Add(59*time.Second), 1); len(b) != 0 {
			t.Fatal("reclaimed before the lease ended")
		}
		b := claimIDs(t, db, "b", t0.Add(61*time.Second), 1)
		sameIDs(t, b, ms[0])
		// a comes back late with a failure: not applied, b still holds it.
		finish(t, db, a[0], outbox.StatusPending, t0.Add(62*time.Second), t0.Add(time.Hour))
		es, err := db.ListOutbox(context.Background(), outbox.Filter{IDs: []string{ms[0].ID}})
		if err != nil {
			t.Fatal(err)
		}
		if es[0].LockedBy != "b" || es[0].Attempts != 0 || es[0].Status != outbox.StatusPending {
			t.Fatalf("after stale finish: %+v", es[0])
		}
		finish(t, db, b[0], outbox.StatusDelivered, t0.Add(63*time.Second), time.Time{})
		es, _ = db.ListOutbox(context.Background(), outbox.Filter{IDs: []string{ms[0].ID}})
		if es[0].Status != outbox.StatusDelivered || es[0].Attempts != 1 || !es[0].DeliveredAt.Equal(t0.Add(63*time.Second)) || es[0].LockedBy != "" {
			t.Fatalf("after finish: %+v", es[0])
		}
		log, err := db.OutboxAttempts(context.Background(), ms[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 2 || log[0].Instance != "a" || log[1].Instance != "b" || log[1].StatusCode != 200 ||
			log[1].Latency != 1500*time.Microsecond || log[1].Response != "ok" {
			t.Fatalf("attempt log = %+v", log)
		}
		// Releasing (shutdown) hands the message back without an attempt.
		n := enqueue(t, db, t0, outbox.Message{Channel: "sms", Event: "e"})
		c := claimIDs(t, db, "a", t0.Add(2*time.Minute), 1)
		sameIDs(t, c, n[0])
		if err := finishOutbox(context.Background(), db, outbox.Result{ID: c[0].ID, LockedBy: "a", LockedUntil: c[0].LockedUntil}); err != nil {
			t.Fatal(err)
		}
		c = claimIDs(t, db, "b", t0.Add(2*time.Minute), 1)
		sameIDs(t, c, n[0])
		if c[0].Attempts != 0 {
			t.Fatalf("release counted an attempt: %d", c[0].Attempts)
		}
	})
}

func TestOutboxRetryAndList(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ms := enqueue(t, db, t0,
			outbox.Message{Channel: "webhook", Event: "dead", ShopID: "11111111"},
			outbox.Message{Channel: "webhook", Event: "failing", ShopID: "11111111"},
			outbox.Message{Channel: "webhook", Event: "delivered", ShopID: "11111111"},
			outbox.Message{Channel: "email", Event: "dead", ShopID: "22222222"},
			outbox.Message{Channel: "webhook", Event: "fresh", ShopID: "11111111", NotBefore: t0.Add(time.Hour)},
		)
		c := claimIDs(t, db, "a", t0, 10)
		byID := map[string]outbox.Delivery{}
		for _, d := range c {
			byID[d.ID] = d
		}
		finish(t, db, byID[ms[0].ID], outbox.StatusDead, t0, time.Time{})
		finish(t, db, byID[ms[1].ID], outbox.StatusPending, t0, t0.Add(time.Hour))
		finish(t, db, byID[ms[2].ID], outbox.StatusDelivered, t0, time.Time{})
		finish(t, db, byID[ms[3].ID], outbox.StatusDead, t0, time.Time{})

		list := func(f outbox.Filter) []string {
			es, err := db.ListOutbox(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, e := range es {
				s = append(s, e.Event)
			}
			return s
		}
		if got := list(outbox.Filter{Statuses: []string{"FAILED"}}); len(got) != 1 || got[0] != "failing" {
			t.Fatalf("FAILED = %v", got)
		}
		if got := list(outbox.Filter{Statuses: []string{"DEAD"}, ShopID: "11111111"}); len(got) != 1 || got[0] != "dead" {
			t.Fatalf("DEAD of shop 1 = %v", got)
		}
		if got := list(outbox.Filter{Channel: "email"}); len(got) != 1 {
			t.Fatalf("email = %v", got)
		}
		if _, err := db.ListOutbox(ctx, outbox.Filter{Statuses: []string{"LOST"}}); err == nil {
			t.Fatal("unknown status accepted")
		}

		now := t0.Add(time.Minute)
		n, err := outbox.Retry(ctx, db, now, outbox.Filter{ShopID: "11111111"})
		if err != nil || n != 2 {
			t.Fatalf("retry shop 1 = %d, %v (want the dead and the failing one)", n, err)
		}
		es, _ := db.ListOutbox(ctx, outbox.Filter{IDs: []string{ms[0].ID, ms[1].ID}})
		for _, e := range es {
			if e.Status != outbox.StatusPending || e.Attempts != 0 || !e.NextAttemptAt.Equal(now) {
				t.Fatalf("after retry: %+v", e)
			}
		}
		// A resend of a delivered message must be asked for.
		n, err = outbox.Retry(ctx, db, now, outbox.Filter{IDs: []string{ms[2].ID}})
		if err != nil || n != 0 {
			t.Fatalf("retry delivered by default = %d, %v", n, err)
		}
		n, err = outbox.Retry(ctx, db, now, outbox.Filter{IDs: []string{ms[2].ID}, Statuses: []string{"DELIVERED"}})
		if err != nil || n != 1 {
			t.Fatalf("resend delivered = %d, %v", n, err)
		}
		// The attempt log survives a re-drive.
		if log, _ := db.OutboxAttempts(ctx, ms[0].ID); len(log) != 1 {
			t.Fatalf("log after retry = %+v", log)
		}
		got := claimIDs(t, db, "a", now, 10)
		sameIDs(t, got, ms[0], ms[1], ms[2])
	})
}

// One write records many results; a result that cannot be recorded (its
// message does not exist, its attempt id is taken) is reported alone and the
// others are recorded, on both engines (on PostgreSQL a failed statement
// aborts the transaction: each result has its own savepoint). The claim
// check still applies per result.
func TestOutboxFinishBatch(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ms := enqueue(t, db, t0,
			outbox.Message{Channel: "webhook", Event: "ok"},
			outbox.Message{Channel: "webhook", Event: "retry"},
			outbox.Message{Channel: "webhook", Event: "stale"},
			outbox.Message{Channel: "webhook", Event: "dup"},
			outbox.Message{Channel: "webhook", Event: "release"},
		)
		c := claimIDs(t, db, "a", t0, 10)
		by := map[string]outbox.Delivery{}
		for _, d := range c {
			by[d.ID] = d
		}
		now := t0.Add(time.Second)
		res := func(m outbox.Message, status string) outbox.Result {
			d := by[m.ID]
			return outbox.Result{ID: d.ID, LockedBy: d.LockedBy, LockedUntil: d.LockedUntil, Status: status, Now: now,
				Attempt: outbox.Attempt{Number: 1, At: now, StatusCode: 200, Response: "ok"}}
		}
		taken := ids.New()
		rs := []outbox.Result{
			res(ms[0], outbox.StatusDelivered),
			{ID: ids.New(), LockedBy: "a", LockedUntil: c[0].LockedUntil, Status: outbox.StatusDelivered, Now: now}, // no such message
			res(ms[1], outbox.StatusPending),
			res(ms[2], outbox.StatusDelivered),
			res(ms[3], outbox.StatusDelivered),
			res(ms[3], outbox.StatusDelivered), // the same attempt id again
			res(ms[4], ""),
		}
		rs[2].NextAttemptAt = now.Add(time.Hour)
		rs[2].Attempt.Error = "HTTP 503"
		rs[3].LockedUntil = rs[3].LockedUntil.Add(time.Second) // not the claim that holds it
		rs[4].Attempt.ID, rs[5].Attempt.ID = taken, taken

		err := db.FinishOutboxBatch(ctx, rs)
		var be *outbox.BatchError
		if !errors.As(err, &be) || len(be.Errs) != len(rs) {
			t.Fatalf("err = %v, want a BatchError for %d results", err, len(rs))
		}
		for i, e := range be.Errs {
			if (e != nil) != (i == 1 || i == 5) {
				t.Fatalf("result %d: err = %v", i, e)
			}
		}
		es, err := db.ListOutbox(ctx, outbox.Filter{IDs: []string{ms[0].ID, ms[1].ID, ms[2].ID, ms[3].ID, ms[4].ID}})
		if err != nil {
			t.Fatal(err)
		}
		state := map[string]outbox.Entry{}
		for _, e := range es {
			state[e.Event] = e
		}
		if e := state["ok"]; e.Status != outbox.StatusDelivered || e.Attempts != 1 || !e.DeliveredAt.Equal(now) || e.LockedBy != "" {
			t.Fatalf("ok: %+v", e)
		}
		if e := state["retry"]; e.Status != outbox.StatusPending || e.Attempts != 1 || !e.NextAttemptAt.Equal(now.Add(time.Hour)) || e.LastError != "HTTP 503" {
			t.Fatalf("retry: %+v", e)
		}
		if e := state["stale"]; e.Status != outbox.StatusPending || e.Attempts != 0 || e.LockedBy != "a" {
			t.Fatalf("stale claim applied: %+v", e)
		}
		if e := state["dup"]; e.Status != outbox.StatusDelivered || e.Attempts != 1 {
			t.Fatalf("dup: %+v", e)
		}
		if e := state["release"]; e.Status != outbox.StatusPending || e.Attempts != 0 || e.LockedBy != "" {
			t.Fatalf("release: %+v", e)
		}
		for _, m := range ms {
			log, err := db.OutboxAttempts(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := 1 // the stale result's attempt happened: logged
			if m.Event == "release" {
				want = 0
			}
			if len(log) != want {
				t.Fatalf("%s: %d attempts logged, want %d", m.Event, len(log), want)
			}
		}
		// The single-result form reports the result's own error.
		if err := finishOutbox(ctx, db, rs[1]); err == nil || errors.As(err, &be) {
			t.Fatalf("FinishOutbox of a missing message: %v", err)
		}
		if err := db.FinishOutboxBatch(ctx, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// finishOutbox records one result, as the dispatcher's batch of one would
// (the dispatcher itself only calls FinishOutboxBatch).
func finishOutbox(ctx context.Context, db *store.DB, r outbox.Result) error {
	err := db.FinishOutboxBatch(ctx, []outbox.Result{r})
	var be *outbox.BatchError
	if errors.As(err, &be) {
		return be.Errs[0]
	}
	return err
}

// countingTracer counts the statements sent to PostgreSQL whose text
// contains what, and keeps their distinct texts.
type countingTracer struct {
	what  string
	n     atomic.Int64
	mu    sync.Mutex
	texts map[string]bool
}

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, c.what) {
		c.n.Add(1)
		c.mu.Lock()
		if c.texts == nil {
			c.texts = map[string]bool{}
		}
		c.texts[d.SQL] = true
		c.mu.Unlock()
	}
	return ctx
}

func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// On PostgreSQL a dispatcher's batch of results is written in few round
// trips: the results of distinct messages, up to 16, are one statement
// (each result's attempt log and message update were a statement of their
// own: 40 results, 40 round trips). A message whose result comes twice in
// one batch starts a new statement (clauses of one statement must touch
// different rows); every result is recorded as before.
func TestOutboxFinishBatchRoundTrips(t *testing.T) {
	ctx := context.Background()
	tr := &countingTracer{what: "INSERT INTO outbox_attempts"}
	db, err := store.Open(ctx, store.WithQueryTracer(store.Options{URL: storetest.NewMigratedPostgresDatabase(t)}, tr))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ms := make([]outbox.Message, 40)
	for i := range ms {
		ms[i] = outbox.Message{Channel: "webhook", Event: "e" + strconv.Itoa(i)}
	}
	enqueue(t, db, t0, ms...)
	c := claimIDs(t, db, "a", t0, len(ms))
	if len(c) != len(ms) {
		t.Fatalf("claimed %d, want %d", len(c), len(ms))
	}
	now := t0.Add(time.Second)
	var rs []outbox.Result
	for i, d := range c {
		r := outbox.Result{ID: d.ID, LockedBy: d.LockedBy, LockedUntil: d.LockedUntil, Status: outbox.StatusDelivered, Now: now,
			Attempt: outbox.Attempt{Number: 1, At: now, StatusCode: 200, Response: "ok"}}
		if i == 5 {
			r.Status, r.NextAttemptAt, r.Attempt.Error = outbox.StatusPending, now.Add(time.Hour), "HTTP 503"
		}
		rs = append(rs, r)
	}
	// The first message again, as a later attempt, fourth: a group starts
	// there (3 + 16 + 16 + 6 results: 4 groups, where 41 results would
	// otherwise be 3).
	again := rs[0]
	again.Attempt.Number = 2
	rs = append(rs[:3], append([]outbox.Result{again}, rs[3:]...)...)
	if err := db.FinishOutboxBatch(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if n := tr.n.Load(); n != 4 {
		t.Fatalf("%d statements for %d results, want 4", n, len(rs))
	}
	// Groups of 3, 16, 16 and 6 results are one statement text: prepared
	// and planned once per connection, where a text per group size was
	// planned anew for each of its first executions on each connection
	// (PostgreSQL's custom plans), the delivery results' planning then
	// costing about as much CPU as their execution in the silent bench.
	if n := len(tr.texts); n != 1 {
		t.Fatalf("%d statement texts for groups of 3, 16, 16 and 6 results, want 1", n)
	}
	es, err := db.ListOutbox(ctx, outbox.Filter{IDs: ids0(c)})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(ms) {
		t.Fatalf("%d messages listed, want %d", len(es), len(ms))
	}
	for _, e := range es {
		want := outbox.StatusDelivered
		if e.ID == c[5].ID {
			want = outbox.StatusPending
		}
		if e.Status != want || e.Attempts != 1 || e.LockedBy != "" {
			t.Fatalf("%s: %+v, want %s after 1 attempt", e.Event, e, want)
		}
		log, err := db.OutboxAttempts(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantLogged := 1
		if e.ID == c[0].ID {
			wantLogged = 2 // the repeat's attempt happened: logged, its state change not applied (no claim left)
		}
		if len(log) != wantLogged {
			t.Fatalf("%s: %d attempts logged, want %d", e.Event, len(log), wantLogged)
		}
	}
}
