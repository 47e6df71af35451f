package outbox_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A copy that must stop working (a newer release migrated its database)
// stopped its dispatcher as at shutdown: the delivery in progress was cut
// and handed back, though the merchant may already have received it, and
// another copy sent it again. RunUntil stops claiming when stop closes,
// lets the delivery in progress finish and records it, and claims nothing
// more.
func TestRunUntilStopsClaimingAndFinishesDeliveriesInProgress(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := func(target string) {
			t.Helper()
			err := db.Write(ctx, func(tx *sql.Tx) error {
				_, err := store.InsertOutbox(tx, outbox.Message{ShopID: "1", Channel: "sms", Event: "e", Target: target, Payload: "{}"}, time.Now().UTC())
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		insert("+33612345678")
		started, release := make(chan struct{}), make(chan struct{})
		blocking := outbox.DelivererFunc(func(ctx context.Context, _ outbox.Delivery) (outbox.Outcome, error) {
			close(started)
			select {
			case <-release:
				return outbox.Outcome{}, nil
			case <-ctx.Done():
				return outbox.Outcome{}, ctx.Err()
			}
		})
		// A long poll: after its first claim the loop waits, so that no
		// claim of its own is under way when stop closes.
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{"sms": blocking}, outbox.Options{PollInterval: time.Hour, Logger: quiet()})
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := make(chan struct{})
		done := make(chan error, 1)
		go func() { done <- d.RunUntil(rctx, stop) }()
		<-started
		close(stop)
		insert("+33612345679")
		d.Kick()
		close(release)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("RunUntil did not return after stop")
		}
		es, err := db.ListOutbox(ctx, outbox.Filter{})
		if err != nil || len(es) != 2 {
			t.Fatalf("outbox: %d entries, %v", len(es), err)
		}
		for _, e := range es {
			switch e.Target {
			case "+33612345678":
				if e.Status != "DELIVERED" || e.Attempts != 1 {
					t.Errorf("the delivery in progress at stop: %s, %d attempts, want DELIVERED after 1", e.Status, e.Attempts)
				}
			default:
				if e.Status != "PENDING" || e.Attempts != 0 || e.LockedBy != "" {
					t.Errorf("a message queued after stop was claimed: %+v", e)
				}
			}
		}
	})
}
