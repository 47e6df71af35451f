package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// What an operator typing `openpsp notifications …` by hand saw go wrong:
// a stray word after list was ignored (every message listed), a bad flag
// value was printed twice with Go's bare "Usage of notifications list:"
// (retry's flags among list's), and retrying a delivered message by its id
// answered "re-driven: 0 message(s)" without saying why. Show said
// "(1 attempts)", and list --status BOGUS leaked the store's "store:"
// prefix.
func TestCLIRefusesWrongInputClearly(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	clk := clock.NewFake(t0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	enqueueWebhooks(t, db, t0, srv.URL, 1, 1)
	d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("s"), clk, outbox.HTTPOptions{})},
		outbox.Options{Clock: clk, Logger: quiet(), NoJitter: true})
	if n, err := d.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("delivery: %d %v", n, err)
	}
	es, _ := db.ListOutbox(ctx, outbox.Filter{})
	if len(es) != 1 || es[0].Status != outbox.StatusDelivered {
		t.Fatalf("setup: %+v", es)
	}
	id := es[0].ID
	run := func(args ...string) (string, error) {
		var b bytes.Buffer
		err := outbox.CLI(ctx, args, db, clk.Now(), &b)
		return b.String(), err
	}

	if out, err := run("list", "DEAD"); err == nil || !strings.Contains(err.Error(), `unexpected arguments ["DEAD"]`) {
		t.Errorf("list DEAD: want the stray word refused, got %v\n%s", err, out)
	}
	out, err := run("list", "--since", "2x")
	if err == nil || !strings.Contains(err.Error(), `invalid value "2x" for flag -since`) || !strings.Contains(err.Error(), "24h") {
		t.Errorf("list --since 2x: want one error naming the flag and an example, got %v", err)
	}
	if strings.Contains(out, "Usage of") || strings.Contains(out, `invalid value`) {
		t.Errorf("list --since 2x printed the error or Go's flag usage itself (the command prints the error once):\n%s", out)
	}
	if out, err := run("list", "-h"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out, "usage: openpsp notifications") {
		t.Errorf("list -h: want the command's usage and flag.ErrHelp, got %v\n%s", err, out)
	}
	// One attempt is "1 attempt"; a status nobody has is named with the
	// valid ones, without the store's "store:" prefix.
	if out, err := run("show", id); err != nil || !strings.Contains(out, "delivery log (1 attempt):") {
		t.Errorf("show of a message delivered at the first attempt: %v\n%s", err, out)
	}
	if out, err := run("list", "--status", "dead,BOGUS"); err == nil || strings.Contains(err.Error(), "store:") ||
		!strings.Contains(err.Error(), `"BOGUS"`) || !strings.Contains(err.Error(), "PENDING, FAILED, DEAD or DELIVERED") {
		t.Errorf("list --status BOGUS: want a plain error naming it and the valid statuses, got %v\n%s", err, out)
	}
	out, err = run("retry", id)
	if err != nil || !strings.Contains(out, "re-driven: 0 message(s)") || !strings.Contains(out, id+" is DELIVERED") || !strings.Contains(out, "--status DELIVERED") {
		t.Errorf("retry of a delivered id: want why it was not re-driven, got %v\n%s", err, out)
	}
	if out, err := run("retry", "--status", "DELIVERED", id); err != nil || out != "re-driven: 1 message(s)\n" {
		t.Errorf("retry --status DELIVERED id: %v %q", err, out)
	}
}
