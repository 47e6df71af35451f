package store_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// statementLog keeps the text of every statement sent to PostgreSQL.
type statementLog struct {
	mu  sync.Mutex
	sql []string
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	l.sql = append(l.sql, d.SQL)
	l.mu.Unlock()
	return ctx
}

func (l *statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the statements logged since the last call.
func (l *statementLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sql
	l.sql = nil
	return out
}

// A TEST-mode email's /demo/mail copy is written with its delivery result:
// on PostgreSQL in the statement that logs the attempts (one statement for
// the copies of a group of results), not in a transaction of its own per
// email (a round trip, and its BEGIN and COMMIT, per payment). Every copy
// is kept, once, on both engines.
func TestDemoCopyWrittenWithResult(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			log := &statementLog{}
			var opts store.Options
			if engine == "postgres" {
				opts = store.WithQueryTracer(store.Options{URL: storetest.NewPostgresDatabase(t)}, log)
			} else {
				opts.SQLitePath = filepath.Join(t.TempDir(), "openpsp.db")
			}
			db, err := store.Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			c := notify.Content{Template: notify.TplInstalmentMerchant, Lang: "en", Mode: "TEST", Recipient: "merchant",
				Shop:       notify.ShopView{ID: "12345678", Name: "Boulangerie", Email: "contact@boulangerie.example"},
				Instalment: &notify.InstalmentView{SubscriptionID: "sub-1", Token: "tok-1", OrderID: "order-9", Sequence: 2, Amount: 990, Currency: "EUR", DueAt: t0, At: t0}}
			payload, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			const n = 3
			ms := make([]outbox.Message, n)
			for i := range ms {
				ms[i] = outbox.Message{Channel: outbox.ChannelEmail, Event: "subscription.instalment", Target: "contact@boulangerie.example", Payload: string(payload)}
			}
			ms = enqueue(t, db, t0, ms...)
			clk := clock.NewFake(t0)
			email, err := notify.NewEmailDeliverer(notify.EmailOptions{Demo: db, Templates: db, Clock: clk, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{outbox.ChannelEmail: email}, outbox.Options{Clock: clk, Logger: slog.New(slog.DiscardHandler), InstanceID: "a"})
			log.take()
			if got, err := d.RunOnce(ctx); err != nil || got != n {
				t.Fatalf("RunOnce delivered %d (%v), want %d", got, err, n)
			}
			if engine == "postgres" {
				var begins, demo int
				for _, q := range log.take() {
					switch {
					case strings.EqualFold(strings.TrimSpace(q), "begin"):
						begins++
					case strings.Contains(q, "INSERT INTO demo_messages"):
						demo++
						if !strings.Contains(q, "outbox_attempts") {
							t.Errorf("a copy written apart from the delivery results: %s", q)
						}
					}
				}
				// The claim's transaction and the results' (with the
				// prune of the copies, which this database's first copy
				// makes, then every DemoPruneEvery-th).
				if begins != 2 || demo != 1 {
					t.Fatalf("%d transactions, %d statements writing copies for %d emails; want 2 and 1", begins, demo, n)
				}
			}
			kept, err := db.DemoMessages(ctx, 50)
			if err != nil {
				t.Fatal(err)
			}
			if len(kept) != n {
				t.Fatalf("%d copies kept, want %d", len(kept), n)
			}
			for _, k := range kept {
				if k.Channel != outbox.ChannelEmail || k.Mode != "TEST" || k.Recipient != "contact@boulangerie.example" || k.HTML == "" || k.Headers["X-OpenPSP-Event-Id"] != k.OutboxID {
					t.Fatalf("copy %+v", k)
				}
			}
			es, err := db.ListOutbox(ctx, outbox.Filter{IDs: []string{ms[0].ID, ms[1].ID, ms[2].ID}})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				if e.Status != outbox.StatusDelivered {
					t.Fatalf("%s: %s, want DELIVERED", e.ID, e.Status)
				}
			}
		})
	}
}
