package outbox_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
)

// outboxRows is every row of the outbox and its delivery log, as text, by
// row.
func outboxRows(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	rows := map[string]string{}
	for _, table := range []string{"outbox", "outbox_attempts"} {
		q := "SELECT id, * FROM " + table
		r, err := db.Reader().Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, err := r.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			rows[table+" "+fmt.Sprint(vals[0])] = fmt.Sprintf("%v", vals[1:])
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	return rows
}

// FuzzNotificationsCLI runs `openpsp notifications ARGS…` (the words after
// "notifications", one a line) on a copy of a SQLite database that holds a
// dead webhook (two attempts), a delivered one and one waiting for its
// first attempt. Whatever an operator types, the command ends with its
// output or an error written for them (not empty, not the store's), never
// a panic; list and show, and every refused command, change nothing; a
// retry changes exactly the messages it says it re-drove.
func FuzzNotificationsCLI(f *testing.F) {
	ctx := context.Background()
	template := filepath.Join(f.TempDir(), "openpsp.db")
	db, err := store.Open(ctx, store.Options{SQLitePath: template})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	clk := clock.NewFake(t0)
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusGone) }))
	defer gone.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("s"), clk, outbox.HTTPOptions{})},
		outbox.Options{Clock: clk, Logger: quiet(), Schedules: map[string]outbox.Schedule{"webhook": {time.Minute}}, NoJitter: true})
	deliver := func() {
		if _, err := d.RunOnce(ctx); err != nil {
			f.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	enqueueWebhooks(f, db, clk.Now(), gone.URL, 1, 1)
	deliver()
	deliver()
	enqueueWebhooks(f, db, clk.Now(), ok.URL, 1, 1)
	deliver()
	enqueueWebhooks(f, db, clk.Now().Add(time.Hour), ok.URL, 1, 1)
	es, err := db.ListOutbox(ctx, outbox.Filter{})
	if err != nil || len(es) != 3 {
		f.Fatalf("setup: %d messages, %v", len(es), err)
	}
	var byStatus = map[string]string{}
	for _, e := range es {
		byStatus[e.Status] = e.ID
	}
	if len(byStatus) != 3 {
		f.Fatalf("setup: want one DEAD, DELIVERED and PENDING message, got %v", byStatus)
	}
	db.Close()
	dead, delivered, pending := byStatus[outbox.StatusDead], byStatus[outbox.StatusDelivered], byStatus[outbox.StatusPending]
	for _, s := range []string{
		"", "list", "list\n--status\ndead", "list\n--status\ndead,BOGUS", "list\nDEAD", "list\n--since\n2x", "list\n--since\n-1h",
		"list\n--since\n2562047h", "list\n--limit\n-1", "list\n--limit\n99999999999999999999", "list\n--shop\n12345678\n--channel\nwebhook\n--event\npayment.updated",
		"list\n-h", "show", "show\n" + dead, "show\n" + delivered + "\n" + pending, "show\nnope", "show\n--limit\n1\n" + pending,
		"retry", "retry\n" + dead, "retry\n" + delivered, "retry\n--status\nDELIVERED\n" + delivered, "retry\n--status\ndelivered",
		"retry\n--all", "retry\n--status\nDELIVERED\n--all", "retry\n--status\npending\n--all", "retry\n" + dead + "\nnope",
		"retry\n--shop\n12345678", "retry\n--since\n1h", "retry\n--status\nLOST", "retry\n--all=maybe", "frobnicate", "--all",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	now := clk.Now()
	f.Fuzz(func(t *testing.T, rawArgs string) {
		// An argument list a shell can pass: no NUL.
		if len(rawArgs) > 2048 || strings.ContainsRune(rawArgs, 0) {
			return
		}
		var args []string
		if rawArgs != "" {
			args = strings.Split(rawArgs, "\n")
		}
		path := filepath.Join(dir, "openpsp.db")
		body, err := os.ReadFile(template)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(ctx, store.Options{SQLitePath: path})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		before := outboxRows(t, db)
		var out strings.Builder
		err = outbox.CLI(ctx, args, db, now, &out)
		after := outboxRows(t, db)
		// PostgreSQL refuses text that is not UTF-8 with its driver's
		// error: the command must refuse it first, saying so.
		if !utf8.ValidString(rawArgs) && (err == nil || !strings.Contains(err.Error(), "UTF-8")) && !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%q: a word that is not UTF-8 reached the database: %v", args, err)
		}
		if err != nil {
			msg := err.Error()
			if strings.TrimSpace(msg) == "" {
				t.Fatalf("%q: an empty error", args)
			}
			for _, leak := range []string{"store:", "sqlite", "SQL", "%!"} {
				if strings.Contains(msg, leak) {
					t.Fatalf("%q: the error %q is not written for an operator", args, msg)
				}
			}
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("%q refused (%v), yet the outbox changed", args, err)
			}
			return
		}
		if args[0] != "retry" {
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("%q only reads, yet the outbox changed", args)
			}
			return
		}
		var n int
		if _, err := fmt.Sscanf(out.String(), "re-driven: %d message(s)\n", &n); err != nil {
			t.Fatalf("%q answered %q", args, out.String())
		}
		var changed []string
		for k, v := range after {
			if before[k] != v {
				changed = append(changed, k)
			}
		}
		slices.Sort(changed)
		if len(changed) != n {
			t.Logf("before %v\nafter %v", before, after)
			t.Fatalf("%q says %d re-driven, yet these rows changed: %v", args, n, changed)
		}
	})
}
