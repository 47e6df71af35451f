package outbox_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// claimCounter counts the dispatcher's claim queries (and signals its
// OutboxDue answers, as dueSpy).
type claimCounter struct {
	*dueSpy
	claims atomic.Int32
}

func (c *claimCounter) ClaimOutbox(ctx context.Context, instance string, now time.Time, lease time.Duration, limit int) ([]outbox.Delivery, error) {
	c.claims.Add(1)
	return c.DB.ClaimOutbox(ctx, instance, now, lease, limit)
}

// claimState is what the outbox row of id says about its claim.
func claimState(t *testing.T, db *store.DB, id string) (status, lockedBy string, lockedUntil int64) {
	t.Helper()
	err := db.Reader().QueryRow(`SELECT status, locked_by, locked_until FROM outbox WHERE id = $1`, id).Scan(&status, &lockedBy, &lockedUntil)
	if err != nil {
		t.Fatalf("outbox message %s: %v", id, err)
	}
	return status, lockedBy, lockedUntil
}

func webhook(key string, notBefore time.Time) outbox.Message {
	id := ids.New()
	body, _ := outbox.WebhookEnvelope(id, "x", "12345678", "TEST", time.Now(), event{key, 0})
	return outbox.Message{ID: id, ShopID: "12345678", Channel: outbox.ChannelWebhook, Event: "x", OrderingKey: key,
		Payload: body, NotBefore: notBefore}
}

// insertHanded commits msgs claimed under r and hands what the store
// claimed to r's dispatcher, as a payment's settlement does.
func insertHanded(t *testing.T, db *store.DB, r *outbox.Reservation, msgs ...outbox.Message) []outbox.Delivery {
	t.Helper()
	var claimed []outbox.Delivery
	now := time.Now().UTC()
	err := db.Write(context.Background(), func(tx *sql.Tx) error {
		var err error
		claimed, err = db.InsertOutboxClaimed(tx, msgs, r, now)
		return err
	})
	if err != nil {
		r.Drop()
		t.Fatal(err)
	}
	r.Hand(claimed)
	return claimed
}

// Messages handed over at their commit are delivered without a claim query
// (the dispatcher sleeps: an hour's poll, no Kick), but only when nothing
// of their key waits before them: a message behind a PENDING one of its key,
// or not due yet, is left unclaimed for the claim query, so order holds.
func TestHandedMessagesSkipTheClaim(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		var mu sync.Mutex
		got := map[string]int{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got[r.Header.Get("OpenPSP-Event-Id")]++
			mu.Unlock()
		}))
		defer srv.Close()
		spy := &claimCounter{dueSpy: &dueSpy{DB: db, answers: make(chan bool, 1)}}
		d := outbox.NewDispatcher(spy, map[string]outbox.Deliverer{
			outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("s"), nil, outbox.HTTPOptions{}),
		}, outbox.Options{PollInterval: time.Hour, Workers: 2, Logger: quiet()})
		if d.Reserve(1) != nil {
			t.Fatal("a dispatcher that is not running reserved room")
		}
		startRun(t, d)
		if within(t, spy.answers, 30*time.Second) {
			t.Fatal("due on an empty outbox")
		}
		claimsBefore := spy.claims.Load()

		// A message of key k1 waits for a retry in an hour.
		first := webhook("k1", time.Now().Add(time.Hour))
		first.Target = srv.URL
		if err := db.Write(context.Background(), func(tx *sql.Tx) error {
			_, err := store.InsertOutbox(tx, first, time.Now().UTC())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		r := d.Reserve(3)
		if r == nil || r.By != d.InstanceID() {
			t.Fatalf("reservation %+v, want one by %s", r, d.InstanceID())
		}
		behind, free, later := webhook("k1", time.Time{}), webhook("k2", time.Time{}), webhook("k3", time.Now().Add(time.Hour))
		behind.Target, free.Target, later.Target = srv.URL, srv.URL, srv.URL
		claimed := insertHanded(t, db, r, behind, free, later)
		if len(claimed) != 1 || claimed[0].ID != free.ID {
			t.Fatalf("claimed at insert: %+v, want only %s", claimed, free.ID)
		}
		waitFor(t, 30*time.Second, "the handed message delivered", func() bool {
			status, _, _ := claimState(t, db, free.ID)
			return status == outbox.StatusDelivered
		})
		mu.Lock()
		if got[free.ID] != 1 || len(got) != 1 {
			t.Errorf("deliveries %v, want one of %s", got, free.ID)
		}
		mu.Unlock()
		if n := spy.claims.Load() - claimsBefore; n != 0 {
			t.Errorf("%d claim queries ran for a handed message", n)
		}
		if st := d.Stats(); st.Handed != 1 || st.Claimed != 0 {
			t.Errorf("stats %+v, want 1 handed, 0 claimed", st)
		}
		for _, id := range []string{behind.ID, later.ID} {
			if status, by, until := claimState(t, db, id); status != outbox.StatusPending || by != "" || until != 0 {
				t.Errorf("message %s: %s claimed by %q until %d, want PENDING and unclaimed", id, status, by, until)
			}
		}
		var instance string
		if err := db.Reader().QueryRow(`SELECT instance FROM outbox_attempts WHERE outbox_id = $1`, free.ID).Scan(&instance); err != nil || instance != d.InstanceID() {
			t.Errorf("attempt logged by %q (%v), want %s", instance, err, d.InstanceID())
		}
	})
}

// A dispatcher holds at most 2×Workers handed messages; room comes back
// when a write fails (Drop) or a delivery ends.
func TestReserveIsBounded(t *testing.T) {
	db := storetest.SQLite(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{
		outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("s"), nil, outbox.HTTPOptions{}),
	}, outbox.Options{PollInterval: time.Hour, Workers: 2, Logger: quiet()})
	startRun(t, d)
	waitFor(t, 30*time.Second, "Run started", func() bool {
		r := d.Reserve(1)
		r.Drop()
		return r != nil
	})
	if d.Reserve(5) != nil {
		t.Fatal("reserved 5 with room for 4")
	}
	r := d.Reserve(4)
	if r == nil || d.Reserve(1) != nil {
		t.Fatal("the room of 4 is not exactly 4")
	}
	r.Drop()
	r = d.Reserve(4)
	if r == nil {
		t.Fatal("Drop did not give the room back")
	}
	m := webhook("k", time.Time{})
	m.Target = srv.URL
	insertHanded(t, db, r, m) // one delivered, three given back at once
	waitFor(t, 30*time.Second, "room back after the delivery", func() bool {
		r := d.Reserve(4)
		r.Drop()
		return r != nil
	})
}

// A message claimed at its insert is due only when its claim lapses (so
// the claim query does not step over it); handed to a dispatcher that has
// stopped meanwhile, it is released and due at once, not held until the
// lease ends.
func TestHandAfterStopReleases(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{}, outbox.Options{PollInterval: time.Hour, Logger: quiet()})
		stop := startRun(t, d)
		var r *outbox.Reservation
		waitFor(t, 30*time.Second, "Run started", func() bool { r = d.Reserve(1); return r != nil })
		stop()
		m := webhook("k", time.Time{})
		m.Target = "http://127.0.0.1:9/"
		var claimed []outbox.Delivery
		if err := db.Write(ctx, func(tx *sql.Tx) error {
			var err error
			claimed, err = db.InsertOutboxClaimed(tx, []outbox.Message{m}, r, time.Now().UTC())
			return err
		}); err != nil || len(claimed) != 1 {
			t.Fatalf("claimed %d (%v), want 1", len(claimed), err)
		}
		var next int64
		if err := db.Reader().QueryRow(`SELECT next_attempt_at FROM outbox WHERE id = $1`, m.ID).Scan(&next); err != nil || next != store.Micros(r.Until) {
			t.Fatalf("a claimed message is next due at %d (%v), want its lease's end %d", next, err, store.Micros(r.Until))
		}
		if due, err := db.OutboxDue(ctx, time.Now()); err != nil || due {
			t.Fatalf("a message in flight is due for the claim query: %v %v", due, err)
		}
		if b, err := db.Backlog(ctx, time.Now()); err != nil || b.OutboxDue != 1 {
			t.Fatalf("backlog %+v (%v): the message in flight is not counted", b, err)
		}
		r.Hand(claimed)
		if status, by, until := claimState(t, db, m.ID); status != outbox.StatusPending || by != "" || until != 0 {
			t.Fatalf("after the hand-over to a stopped dispatcher: %s claimed by %q until %d, want PENDING and released", status, by, until)
		}
		if due, err := db.OutboxDue(ctx, time.Now()); err != nil || !due {
			t.Fatalf("the released message is not due: %v %v", due, err)
		}
	})
}
