package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// The demo mailbox keeps about DemoKeep messages, the newest: it is pruned
// on a database's first KeepDemoMessage and then once every DemoPruneEvery,
// not on every insert.
func TestDemoMessagesPruneBound(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const old = store.DemoKeep + 200
		// Left by an earlier run: more than the bound.
		err := db.Write(ctx, func(tx *sql.Tx) error {
			for i := 0; i < old; i++ {
				if _, err := tx.Exec(`INSERT INTO demo_messages (id, outbox_id, shop_id, channel, event, mode, recipient, text_body, created_at)
					VALUES ($1, $2, '1', 'email', 'e', 'TEST', 'a@example.com', 'old', $3)`,
					ids.New(), ids.New(), store.Micros(t0.Add(time.Duration(i)*time.Second))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		count := func() (n int, oldest time.Time) {
			t.Helper()
			var o int64
			if err := db.Reader().QueryRow(`SELECT COUNT(*), MIN(created_at) FROM demo_messages`).Scan(&n, &o); err != nil {
				t.Fatal(err)
			}
			return n, store.FromMicros(o)
		}
		next := t0.Add(old * time.Second)
		keep := func(i int) {
			t.Helper()
			err := db.KeepDemoMessage(ctx, store.DemoMessage{OutboxID: ids.New(), ShopID: "1", Channel: "email", Event: "e", Mode: "TEST",
				Recipient: "b@example.com", Text: fmt.Sprint(i), CreatedAt: next})
			if err != nil {
				t.Fatal(err)
			}
			next = next.Add(time.Second)
		}

		keep(0) // the first call prunes
		n, oldest := count()
		if n != store.DemoKeep {
			t.Fatalf("after the first keep: %d kept, want %d", n, store.DemoKeep)
		}
		// The newest DemoKeep remain: the 999 newest old ones and the new one.
		if want := t0.Add((old - store.DemoKeep + 1) * time.Second); !oldest.Equal(want) {
			t.Fatalf("oldest kept %v, want %v", oldest, want)
		}
		for i := 1; i < store.DemoPruneEvery; i++ {
			keep(i)
		}
		if n, _ := count(); n != store.DemoKeep+store.DemoPruneEvery-1 {
			t.Fatalf("between prunes: %d kept, want %d (no prune on every insert)", n, store.DemoKeep+store.DemoPruneEvery-1)
		}
		keep(store.DemoPruneEvery)
		if n, _ := count(); n != store.DemoKeep {
			t.Fatalf("after the next prune: %d kept, want %d", n, store.DemoKeep)
		}
		// A redelivery is still a no-op.
		ms, err := db.DemoMessages(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.KeepDemoMessage(ctx, store.DemoMessage{OutboxID: ms[0].OutboxID, Channel: "email", Text: "again", CreatedAt: next}); err != nil {
			t.Fatal(err)
		}
		if again, _ := db.DemoMessage(ctx, ms[0].ID); again.Text != ms[0].Text {
			t.Fatalf("redelivery replaced the kept copy: %q", again.Text)
		}
	})
}
