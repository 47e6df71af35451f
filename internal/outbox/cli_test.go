package outbox_test

import (
	"bytes"
	"context"
	"database/sql"
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

func TestCLI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(t0)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "nope", http.StatusGone)
		}))
		defer srv.Close()
		enqueueWebhooks(t, db, t0, srv.URL, 2, 1)
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("s"), clk, outbox.HTTPOptions{})},
			outbox.Options{Clock: clk, Logger: quiet(), Schedules: map[string]outbox.Schedule{"webhook": {time.Minute}}, NoJitter: true})
		for i := 0; i < 2; i++ {
			if _, err := d.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Minute)
		}
		run := func(args ...string) (string, error) {
			var b bytes.Buffer
			err := outbox.CLI(ctx, args, db, clk.Now(), &b)
			return b.String(), err
		}
		out, err := run("list", "--status", "dead")
		if err != nil || strings.Count(out, "DEAD") != 2 || !strings.Contains(out, "HTTP 410") {
			t.Fatalf("list: %v\n%s", err, out)
		}
		es, _ := db.ListOutbox(ctx, outbox.Filter{})
		out, err = run("show", es[0].ID)
		if err != nil || !strings.Contains(out, "delivery log (2 attempts)") || !strings.Contains(out, "410") || !strings.Contains(out, `"nope\n"`) {
			t.Fatalf("show: %v\n%s", err, out)
		}
		if _, err := run("retry"); err == nil {
			t.Fatal("retry without ids, filter or --all must refuse")
		}
		out, err = run("retry", es[0].ID)
		if err != nil || out != "re-driven: 1 message(s)\n" {
			t.Fatalf("retry id: %v %q", err, out)
		}
		out, err = run("retry", "--all")
		if err != nil || out != "re-driven: 1 message(s)\n" {
			t.Fatalf("retry --all: %v %q", err, out)
		}
		// Sending delivered messages again goes to buyers and merchants a
		// second time: a status alone must not select every one of them.
		if out, err := run("retry", "--status", "delivered"); err == nil {
			t.Fatalf("retry --status DELIVERED without ids re-sent every delivered message: %q", out)
		}
		if _, err := run("retry", "--status", "DELIVERED", "--all"); err != nil {
			t.Fatalf("retry --status DELIVERED --all: %v", err)
		}
		if _, err := run("retry", "--status", "LOST"); err == nil {
			t.Fatal("unknown status accepted")
		}
		if _, err := run("frobnicate"); err == nil {
			t.Fatal("unknown command accepted")
		}
	})
}

// Stopping a dispatcher mid-delivery hands the message back without
// counting an attempt; the next copy delivers it.
func TestShutdownReleasesClaims(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := store.InsertOutbox(tx, outbox.Message{ShopID: "1", Channel: "sms", Event: "e", Target: "+33612345678", Payload: "{}"}, time.Now().UTC())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	blocking := outbox.DelivererFunc(func(ctx context.Context, _ outbox.Delivery) (outbox.Outcome, error) {
		close(started)
		<-ctx.Done()
		return outbox.Outcome{}, ctx.Err()
	})
	d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{"sms": blocking}, outbox.Options{PollInterval: time.Millisecond, Logger: quiet()})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- d.Run(rctx) }()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	es, _ := db.ListOutbox(ctx, outbox.Filter{})
	if es[0].Status != "PENDING" || es[0].Attempts != 0 || es[0].LockedBy != "" {
		t.Fatalf("after shutdown: %+v", es[0])
	}
	ok := outbox.DelivererFunc(func(context.Context, outbox.Delivery) (outbox.Outcome, error) { return outbox.Outcome{}, nil })
	if n, err := outbox.NewDispatcher(db, map[string]outbox.Deliverer{"sms": ok}, outbox.Options{Logger: quiet()}).RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("next copy: %d %v", n, err)
	}
}
