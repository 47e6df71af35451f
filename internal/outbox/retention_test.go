package outbox_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// Once the retention has deleted a dead message, `notifications show` and
// `notifications retry` of its id say it is no longer kept and why, rather
// than a bare "no message", which reads like a mistyped id.
func TestCLIAfterRetention(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(t0)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "nope", http.StatusGone)
		}))
		defer srv.Close()
		enqueueWebhooks(t, db, t0, srv.URL, 1, 1)
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("s"), clk, outbox.HTTPOptions{})},
			outbox.Options{Clock: clk, Logger: quiet(), Schedules: map[string]outbox.Schedule{"webhook": {time.Minute}}, NoJitter: true})
		for range 2 {
			if _, err := d.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Minute)
		}
		es, err := db.ListOutbox(ctx, outbox.Filter{Statuses: []string{outbox.StatusDead}})
		if err != nil || len(es) != 1 {
			t.Fatalf("dead messages: %v, %v", es, err)
		}
		id := es[0].ID
		clk.Set(t0.AddDate(0, 14, 0))
		if n, err := outbox.PurgeEnded(ctx, db, clk.Now().AddDate(0, -13, 0), outbox.PurgeOptions{}); err != nil || n != 1 {
			t.Fatalf("purge = %d, %v", n, err)
		}
		for _, cmd := range []string{"show", "retry"} {
			var b bytes.Buffer
			err := outbox.CLI(ctx, []string{cmd, id}, db, clk.Now(), &b)
			if err == nil || !strings.Contains(err.Error(), "no message "+id) || !strings.Contains(err.Error(), "OPENPSP_NOTIFICATION_RETENTION_MONTHS") {
				t.Errorf("%s of a deleted message: %v", cmd, err)
			}
		}
	})
}
