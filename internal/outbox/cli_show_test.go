package outbox_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// After a re-drive, `notifications show` numbered the attempts from 1
// again (#1, #2, #1, with "attempts: 1"): the log read as if the first
// attempts had been lost. Attempts are numbered in order over the whole
// log, the re-drive is shown where it happened, and the header counts
// both. An unknown id given to retry is an error, not "re-driven: 0".
// A message the retention deleted is no longer shown nor re-driven.
func TestCLIShowAfterRetry(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(t0)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "nope", http.StatusServiceUnavailable)
		}))
		defer srv.Close()
		enqueueWebhooks(t, db, t0, srv.URL, 1, 1)
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("s"), clk, outbox.HTTPOptions{})},
			outbox.Options{Clock: clk, Logger: quiet(), Schedules: map[string]outbox.Schedule{"webhook": {time.Minute}}, NoJitter: true})
		deliver := func() {
			t.Helper()
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
		deliver()
		deliver() // DEAD after two attempts
		es, err := db.ListOutbox(ctx, outbox.Filter{})
		if err != nil || len(es) != 1 {
			t.Fatalf("messages: %v %v", es, err)
		}
		id := es[0].ID
		if out, err := run("retry", id); err != nil {
			t.Fatalf("retry: %v %s", err, out)
		}
		deliver() // the first attempt of the new schedule

		out, err := run("show", id)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "delivery log (3 attempts)") || !regexp.MustCompile(`attempts:\s+3 in all, 1 since the last re-drive`).MatchString(out) {
			t.Fatalf("show after a retry:\n%s", out)
		}
		var numbers []string
		redrive := -1
		for _, l := range strings.Split(out[strings.Index(out, "delivery log"):], "\n")[2:] {
			f := strings.Fields(l)
			if len(f) == 0 {
				continue
			}
			if strings.Contains(l, "re-driven") {
				redrive = len(numbers)
				continue
			}
			numbers = append(numbers, f[0])
		}
		if strings.Join(numbers, " ") != "1 2 3" || redrive != 2 {
			t.Fatalf("attempt numbers %v, re-drive shown before attempt %d (want 1 2 3, before the third):\n%s", numbers, redrive+1, out)
		}

		for _, unknown := range []string{"0190aaaa-0000-7000-8000-000000000000", "bogus"} {
			if out, err := run("retry", id, unknown); err == nil || !strings.Contains(err.Error(), "no message "+unknown) {
				t.Fatalf("retry of an unknown id %s: %v %q", unknown, err, out)
			}
		}

		// Once the retention has deleted it (dead again, 13 months on),
		// show and retry of its id say it may be no longer kept, rather
		// than a bare "no message", which reads like a mistyped id.
		deliver()
		clk.Set(clk.Now().AddDate(0, 14, 0))
		if n, err := outbox.PurgeEnded(ctx, db, clk.Now().AddDate(0, -13, 0), outbox.PurgeOptions{}); err != nil || n != 1 {
			t.Fatalf("purge = %d, %v", n, err)
		}
		for _, cmd := range []string{"show", "retry"} {
			if out, err := run(cmd, id); err == nil || !strings.Contains(err.Error(), "no message "+id) ||
				!strings.Contains(err.Error(), "OPENPSP_NOTIFICATION_RETENTION_MONTHS") {
				t.Errorf("%s of a deleted message: %v %q", cmd, err, out)
			}
		}
	})
}
