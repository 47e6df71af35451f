package app

import (
	"context"
	"database/sql"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
)

// The server's jobs delete the notifications that ended more than
// OPENPSP_NOTIFICATION_RETENTION_MONTHS ago (13 by default), and the demo
// merchant's copies of the IPNs it received as long ago, and keep the
// others; with the retention off they keep everything.
func TestNotificationRetentionJob(t *testing.T) {
	start := time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		setting  string
		keepsOld bool
	}{{"", false}, {"off", true}, {"24", true}} {
		t.Run("retention="+c.setting, func(t *testing.T) {
			ctx := context.Background()
			cfg, err := config.Load(nil, func(k string) string {
				return map[string]string{"OPENPSP_DATA_DIR": t.TempDir(), "OPENPSP_DEMO": "false",
					"OPENPSP_NOTIFICATION_RETENTION_MONTHS": c.setting}[k]
			})
			if err != nil {
				t.Fatal(err)
			}
			clk := clock.NewFake(start)
			a, err := New(ctx, cfg, Options{Clock: clk, LogOutput: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			send := func(event string) string {
				var m outbox.Message
				if err := a.DB.Write(ctx, func(tx *sql.Tx) error {
					m, err = store.InsertOutbox(tx, outbox.Message{ShopID: "12345678", Channel: outbox.ChannelEmail, Event: event,
						Target: "buyer@example.com", Payload: "{}"}, clk.Now())
					return err
				}); err != nil {
					t.Fatal(err)
				}
				ds, err := a.DB.ClaimOutbox(ctx, "test", clk.Now(), time.Minute, 10)
				if err != nil || len(ds) != 1 {
					t.Fatalf("claim: %v, %v", ds, err)
				}
				if err := a.DB.FinishOutboxBatch(ctx, []outbox.Result{{ID: ds[0].ID, LockedBy: ds[0].LockedBy, LockedUntil: ds[0].LockedUntil,
					Status: outbox.StatusDelivered, Now: clk.Now(), Attempt: outbox.Attempt{Number: 1, At: clk.Now(), StatusCode: 250}}}); err != nil {
					t.Fatal(err)
				}
				return m.ID
			}
			receive := func(order string) {
				if err := a.DB.InsertDemoIPN(ctx, store.DemoIPN{ReceivedAt: clk.Now(), OrderID: order, Answer: "OK"}, 0); err != nil {
					t.Fatal(err)
				}
			}
			old := send("old")
			receive("old")
			clk.Set(start.AddDate(0, 12, 0))
			recent := send("recent")
			receive("recent")
			clk.Set(start.AddDate(0, 13, 1))
			if err := a.RunJobsOnce(ctx); err != nil {
				t.Fatal(err)
			}
			es, err := a.DB.ListOutbox(ctx, outbox.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			left := map[string]bool{}
			for _, e := range es {
				left[e.ID] = true
			}
			if !left[recent] || left[old] != c.keepsOld {
				t.Fatalf("left %v: recent kept %v, old kept %v (want %v)", left, left[recent], left[old], c.keepsOld)
			}
			ipns, err := a.DB.DemoIPNs(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			var orders []string
			for _, n := range ipns {
				orders = append(orders, n.OrderID)
			}
			want := []string{"recent", "old"}
			if !c.keepsOld {
				want = want[:1]
			}
			if !slices.Equal(orders, want) {
				t.Fatalf("demo IPN copies left: %v, want %v", orders, want)
			}
		})
	}
}
