package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// BenchmarkDispatchSQLite delivers 5,000 messages on SQLite the way a
// payment's notifications look: per payment one webhook to a loopback
// merchant endpoint and one TEST-mode email kept for /demo/mail (one
// KeepDemoMessage write, as the email deliverer does without SMTP). It
// reports msgs/s from the start of Run until every message is recorded DELIVERED.
//
// "idle" has the database to itself. "loaded" keeps the group-commit queue
// busy the way about 1,000 payments/s do: a writer whose every transaction
// takes 20 ms (a sleep, so that it costs no CPU on a small machine), so that
// each dispatcher write waits for a commit cycle of 20 to 40 ms.
//
//	go test -run - -bench DispatchSQLite -benchtime 2x ./internal/outbox/
//	OUTBOX_BENCH_WORKERS=32 go test ...   # another Options.Workers
func BenchmarkDispatchSQLite(b *testing.B) {
	b.Run("idle", func(b *testing.B) { benchDispatch(b, 0) })
	b.Run("loaded", func(b *testing.B) { benchDispatch(b, 20*time.Millisecond) })
}

func benchDispatch(b *testing.B, busy time.Duration) {
	const payments = 2500 // × 2 messages
	db := storetest.SQLite(b)
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "OK")
	}))
	defer srv.Close()
	if _, err := db.Writer().Exec(`CREATE TABLE bench_load (id TEXT PRIMARY KEY, body TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	email := outbox.DelivererFunc(func(ctx context.Context, m outbox.Delivery) (outbox.Outcome, error) {
		err := db.KeepDemoMessage(ctx, store.DemoMessage{OutboxID: m.ID, ShopID: m.ShopID, Channel: outbox.ChannelEmail,
			Event: m.Event, Mode: "TEST", Recipient: m.Target, Subject: "Payment accepted", Text: m.Payload, CreatedAt: time.Now().UTC()})
		return outbox.Outcome{Response: "kept"}, err
	})
	deliverers := map[string]outbox.Deliverer{
		outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("whsec_bench"), nil, outbox.HTTPOptions{}),
		outbox.ChannelEmail:   email,
	}

	var total float64
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// Each payment at its own microsecond, as real ones are (the claim
		// walks the due index in time order).
		now := time.Now().UTC().Add(-time.Second)
		for start := 0; start < payments; start += 500 {
			err := db.Write(ctx, func(tx *sql.Tx) error {
				for p := start; p < start+500; p++ {
					id := ids.New()
					key := fmt.Sprintf("bench-%d-%d", i, p)
					at := now.Add(time.Duration(p) * time.Microsecond)
					body, err := outbox.WebhookEnvelope(id, "payment.accepted", "12345678", "TEST", at, event{key, 0})
					if err != nil {
						return err
					}
					if _, err := store.InsertOutbox(tx, outbox.Message{ID: id, ShopID: "12345678", Channel: outbox.ChannelWebhook,
						Event: "payment.accepted", OrderingKey: key, Target: srv.URL, Payload: body}, at); err != nil {
						return err
					}
					if _, err := store.InsertOutbox(tx, outbox.Message{ShopID: "12345678", Channel: outbox.ChannelEmail,
						Event: "payment.accepted", OrderingKey: key, Target: "buyer@example.com", Payload: "Thank you"}, at); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}

		lctx, stopLoad := context.WithCancel(ctx)
		var load sync.WaitGroup
		if busy > 0 {
			load.Add(1)
			go func() {
				defer load.Done()
				for lctx.Err() == nil {
					_ = db.Write(lctx, func(tx *sql.Tx) error {
						// Stands for the payments sharing this commit.
						time.Sleep(busy)
						_, err := tx.Exec(`INSERT INTO bench_load (id, body) VALUES ($1, $2)`, ids.New(), "payments")
						return err
					})
				}
			}()
		}

		d := outbox.NewDispatcher(db, deliverers, outbox.Options{Workers: benchWorkers(), PollInterval: 5 * time.Millisecond, Logger: quiet(), InstanceID: "bench"})
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		t := time.Now()
		go func() { done <- d.Run(rctx) }()
		want := (i + 1) * payments * 2
		for {
			var n int
			if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM outbox WHERE status = 'DELIVERED'`).Scan(&n); err != nil {
				b.Fatal(err)
			}
			if n >= want {
				break
			}
			if time.Since(t) > 5*time.Minute {
				b.Fatalf("only %d of %d delivered after 5 minutes", n, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
		elapsed += time.Since(t)
		total += payments * 2
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		stopLoad()
		load.Wait()
	}
	b.ReportMetric(total/elapsed.Seconds(), "msgs/s")
}

// benchWorkers is Options.Workers for the benchmark: OUTBOX_BENCH_WORKERS,
// else the default.
func benchWorkers() int {
	n, _ := strconv.Atoi(os.Getenv("OUTBOX_BENCH_WORKERS"))
	return n
}
