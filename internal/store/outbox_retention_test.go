package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// ended claims m at 'at' and records its end (DELIVERED or DEAD) then.
func ended(t *testing.T, db *store.DB, m outbox.Message, status string, at time.Time) {
	t.Helper()
	ds, err := db.ClaimOutbox(context.Background(), "retention", at, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.ID == m.ID {
			finish(t, db, d, status, at, time.Time{})
			return
		}
	}
	t.Fatalf("message %s not claimable at %s", m.ID, at)
}

func outboxIDs(t *testing.T, db *store.DB) []string {
	t.Helper()
	es, err := db.ListOutbox(context.Background(), outbox.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// Ended messages (DELIVERED, DEAD) whose last activity is older than the
// retention are deleted with their delivery log and their /demo/mail copy,
// in batches; pending ones (never tried, failing, in flight) and those that
// ended within the retention stay, whenever they were created; a second run
// deletes nothing.
func TestPurgeEndedOutbox(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := t0.AddDate(1, 2, 0)
		cutoff := now.AddDate(-1, -1, 0)

		// Gone: delivered or dead before the cutoff.
		var gone []outbox.Message
		for i := range 4 {
			m := enqueue(t, db, t0, outbox.Message{Channel: "email", Event: fmt.Sprint("old.delivered.", i), Target: "buyer@example.com"})[0]
			ended(t, db, m, outbox.StatusDelivered, t0)
			gone = append(gone, m)
		}
		dead := enqueue(t, db, t0, outbox.Message{Channel: "ipn", Event: "old.dead"})[0]
		ds := claimIDs(t, db, "a", t0, 10)
		finish(t, db, ds[0], outbox.StatusPending, t0, t0.Add(time.Hour))
		ended(t, db, dead, outbox.StatusDead, t0.Add(time.Hour))
		gone = append(gone, dead)
		justBefore := enqueue(t, db, cutoff.Add(-2*time.Second), outbox.Message{Channel: "sms", Event: "delivered.just.before"})[0]
		ended(t, db, justBefore, outbox.StatusDelivered, cutoff.Add(-time.Second))
		gone = append(gone, justBefore)

		// Kept: pending, whatever their age, and ended since the cutoff.
		var kept []outbox.Message
		never := enqueue(t, db, t0, outbox.Message{Channel: "webhook", Event: "old.pending", NotBefore: now.Add(time.Hour)})[0]
		failing := enqueue(t, db, t0, outbox.Message{Channel: "webhook", Event: "old.failing"})[0]
		ds = claimIDs(t, db, "a", t0, 10)
		sameIDs(t, ds, failing)
		finish(t, db, ds[0], outbox.StatusPending, t0, now.Add(time.Hour))
		inFlight := enqueue(t, db, t0, outbox.Message{Channel: "ipn", Event: "old.in.flight"})[0]
		sameIDs(t, claimIDs(t, db, "b", now, 10), inFlight)
		atCutoff := enqueue(t, db, cutoff.Add(-time.Second), outbox.Message{Channel: "sms", Event: "delivered.at.cutoff"})[0]
		ended(t, db, atCutoff, outbox.StatusDelivered, cutoff)
		// Created and dead long ago, re-driven and delivered yesterday.
		redriven := enqueue(t, db, t0, outbox.Message{Channel: "ipn", Event: "old.redriven"})[0]
		ended(t, db, redriven, outbox.StatusDead, t0)
		if n, err := db.RetryOutbox(ctx, outbox.Filter{IDs: []string{redriven.ID}}, now.Add(-24*time.Hour)); err != nil || n != 1 {
			t.Fatalf("retry = %d, %v", n, err)
		}
		ended(t, db, redriven, outbox.StatusDelivered, now.Add(-24*time.Hour))
		recent := enqueue(t, db, now.AddDate(0, -1, 0), outbox.Message{Channel: "email", Event: "recent.delivered"})[0]
		ended(t, db, recent, outbox.StatusDelivered, now.AddDate(0, -1, 0))
		kept = append(kept, never, failing, inFlight, atCutoff, redriven, recent)

		for _, m := range []outbox.Message{gone[0], recent} {
			if err := db.KeepDemoMessage(ctx, store.DemoMessage{OutboxID: m.ID, ShopID: m.ShopID, Channel: "email", Event: m.Event,
				Mode: "TEST", Recipient: "buyer@example.com", Text: "Thank you", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}

		if n, err := db.CountEndedOutbox(ctx, cutoff); err != nil || n != len(gone) {
			t.Fatalf("count = %d, %v, want %d", n, err, len(gone))
		}
		n, err := outbox.PurgeEnded(ctx, db, cutoff, outbox.PurgeOptions{DryRun: true})
		if err != nil || n != len(gone) || len(outboxIDs(t, db)) != len(gone)+len(kept) {
			t.Fatalf("dry run = %d, %v, %d messages left", n, err, len(outboxIDs(t, db)))
		}

		var progress [][2]int
		n, err = outbox.PurgeEnded(ctx, db, cutoff, outbox.PurgeOptions{BatchSize: 2, Progress: func(done, total int) {
			progress = append(progress, [2]int{done, total})
		}})
		if err != nil || n != len(gone) {
			t.Fatalf("purge = %d, %v, want %d", n, err, len(gone))
		}
		if want := [][2]int{{2, 6}, {4, 6}, {6, 6}}; !slices.Equal(progress, want) {
			t.Fatalf("progress %v, want %v", progress, want)
		}
		left := outboxIDs(t, db)
		for _, m := range gone {
			if slices.Contains(left, m.ID) {
				t.Errorf("%s (%s) kept", m.ID, m.Event)
			}
			if log, err := db.OutboxAttempts(ctx, m.ID); err != nil || len(log) != 0 {
				t.Errorf("%s (%s): %d attempts left, %v", m.ID, m.Event, len(log), err)
			}
		}
		for _, m := range kept {
			if !slices.Contains(left, m.ID) {
				t.Errorf("%s (%s) deleted", m.ID, m.Event)
			}
		}
		if len(left) != len(kept) {
			t.Errorf("%d messages left, want %d", len(left), len(kept))
		}
		if log, err := db.OutboxAttempts(ctx, redriven.ID); err != nil || len(log) != 2 {
			t.Errorf("re-driven message: %d attempts, %v; want 2", len(log), err)
		}
		demo, err := db.DemoMessages(ctx, 10)
		if err != nil || len(demo) != 1 || demo[0].OutboxID != recent.ID {
			t.Fatalf("demo copies left: %+v, %v; want only the recent message's", demo, err)
		}

		// A second run finds nothing; the deleted messages can no longer
		// be re-driven.
		progress = nil
		if n, err := outbox.PurgeEnded(ctx, db, cutoff, outbox.PurgeOptions{BatchSize: 2, Progress: func(done, total int) {
			progress = append(progress, [2]int{done, total})
		}}); err != nil || n != 0 || progress != nil {
			t.Fatalf("second purge = %d, %v, progress %v", n, err, progress)
		}
		if n, err := db.RetryOutbox(ctx, outbox.Filter{IDs: []string{dead.ID}}, now); err != nil || n != 0 {
			t.Fatalf("retry of a deleted message = %d, %v", n, err)
		}
		if len(outboxIDs(t, db)) != len(kept) {
			t.Fatal("second run deleted more")
		}
	})
}

// Copies running the retention at once (jobs of several copies on one
// PostgreSQL) share the work: every old message is deleted once, no run
// fails, and an exact multiple of the batch size ends on an empty batch.
func TestPurgeEndedOutboxConcurrently(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const total = 60
		ms := make([]outbox.Message, total)
		for i := range ms {
			ms[i] = outbox.Message{Channel: "ipn", Event: "old"}
		}
		enqueue(t, db, t0, ms...)
		for done := 0; done < total; {
			ds := claimIDs(t, db, "a", t0, 100)
			for _, d := range ds {
				finish(t, db, d, outbox.StatusDelivered, t0, time.Time{})
			}
			done += len(ds)
		}
		cutoff := t0.AddDate(0, 13, 0)
		if n, err := db.DeleteEndedOutbox(ctx, cutoff, 5); err != nil || n != 5 {
			t.Fatalf("one batch of 5 = %d, %v", n, err)
		}
		var wg sync.WaitGroup
		counts := make([]int, 3)
		errs := make([]error, 3)
		for i := range counts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				counts[i], errs[i] = outbox.PurgeEnded(ctx, db, cutoff, outbox.PurgeOptions{BatchSize: 5})
			}()
		}
		wg.Wait()
		sum := 0
		for i := range counts {
			if errs[i] != nil {
				t.Fatalf("copy %d: %v", i, errs[i])
			}
			sum += counts[i]
		}
		if sum != total-5 || len(outboxIDs(t, db)) != 0 {
			t.Fatalf("deleted %d in all, %d left; want %d, 0", sum, len(outboxIDs(t, db)), total-5)
		}
	})
}

// The retention's statements read indexes on both engines: the ended
// messages through outbox_listing (status, created_at), their delivery log
// and /demo/mail copy by message id. A full scan of the outbox in each
// batch would hold SQLite's single writer for as long as the table is big.
func TestPurgeEndedOutboxPlans(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := store.Micros(t0)
		type check struct {
			name, q string
			indexes []string // all of them
			args    []any
		}
		// The index range stops at the cutoff (created_at), rather than
		// reading every ended message to check next_attempt_at.
		ended := "outbox_listing (status=? AND created_at<?)"
		if db.Dialect() == store.Postgres {
			ended = "Index Cond: ((status = ANY ('{DELIVERED,DEAD}'::text[])) AND (created_at < "
		}
		checks := []check{
			{"count", `SELECT COUNT(*) FROM outbox WHERE ` + store.EndedOutbox, []string{"outbox_listing", ended}, []any{at}},
		}
		if db.Dialect() == store.Postgres {
			checks = append(checks, check{"batch", store.DeleteEndedPostgres,
				[]string{"outbox_listing", ended, "outbox_attempts_message", "demo_messages_outbox_id_key", "outbox_pkey"}, []any{at, 10}})
		} else {
			// The temporary table the statements read.
			if _, err := db.DeleteEndedOutbox(ctx, t0, 10); err != nil {
				t.Fatal(err)
			}
			checks = append(checks,
				check{"batch", `SELECT id FROM outbox WHERE ` + store.EndedOutbox + ` LIMIT $2`, []string{ended}, []any{at, 10}},
				check{"delivery log", store.DeleteEndedSQLite[0], []string{"outbox_attempts_message"}, nil},
				check{"demo copy", store.DeleteEndedSQLite[1], []string{"sqlite_autoindex_demo_messages_2"}, nil})
		}
		for _, c := range checks {
			plan := store.QueryPlan(t, db, c.q, c.args...)
			bad := strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "SCAN outbox") ||
				strings.Contains(plan, "SCAN demo_messages") || strings.Contains(plan, "SCAN outbox_attempts")
			for _, ix := range c.indexes {
				bad = bad || !strings.Contains(plan, ix)
			}
			if bad {
				t.Errorf("%s: want %v, plan:\n%s", c.name, c.indexes, plan)
			}
		}
	})
}
