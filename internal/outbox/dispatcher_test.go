package outbox_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

var t0 = time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// independentVerify checks an OpenPSP-Signature header the way a merchant
// would after reading docs/webhooks.md, without the package's own code.
func independentVerify(header string, body []byte, secret string) bool {
	m := regexp.MustCompile(`^t=([0-9]+)((?:,v1=[0-9a-f]{64})+)$`).FindStringSubmatch(header)
	if m == nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	io.WriteString(mac, m[1]+"."+string(body))
	want := hex.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Split(strings.TrimPrefix(m[2], ","), ",") {
		if hmac.Equal([]byte(strings.TrimPrefix(s, "v1=")), []byte(want)) {
			return true
		}
	}
	return false
}

func secrets(s ...string) outbox.WebhookSecrets {
	return outbox.WebhookSecretsFunc(func(context.Context, string) ([]string, error) { return s, nil })
}

type event struct {
	Payment string `json:"payment"`
	Seq     int    `json:"seq"`
}

func enqueueWebhooks(t testing.TB, db *store.DB, now time.Time, target string, payments, per int) int {
	t.Helper()
	n := 0
	// Interleave payments, one transaction per step, as producers would.
	for seq := 0; seq < per; seq++ {
		err := db.Write(context.Background(), func(tx *sql.Tx) error {
			for p := 0; p < payments; p++ {
				id := ids.New()
				pay := fmt.Sprintf("pay-%02d", p)
				body, err := outbox.WebhookEnvelope(id, "payment.updated", "12345678", "TEST", now, event{pay, seq})
				if err != nil {
					return err
				}
				if _, err := store.InsertOutbox(tx, outbox.Message{ID: id, ShopID: "12345678", Channel: outbox.ChannelWebhook,
					Event: "payment.updated", OrderingKey: pay, Target: target, Payload: body}, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		n += payments
	}
	return n
}

func count(t *testing.T, db *store.DB, status string) int {
	t.Helper()
	es, err := db.ListOutbox(context.Background(), outbox.Filter{Statuses: []string{status}, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// receiver is a merchant endpoint that checks signatures and records what it
// accepted, per payment.
type receiver struct {
	mu       sync.Mutex
	secret   string
	down     func() bool
	got      map[string][]int // payment → sequence numbers accepted, in arrival order
	ids      map[string]int   // event id → times accepted
	refused  int
	badSig   int
	failures []string
}

func newReceiver(secret string, down func() bool) *receiver {
	return &receiver{secret: secret, down: down, got: map[string][]int{}, ids: map[string]int{}}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down() {
		r.refused++
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	if !independentVerify(req.Header.Get("OpenPSP-Signature"), body, r.secret) {
		r.badSig++
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data event  `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.ID != req.Header.Get("OpenPSP-Event-Id") || ev.Type != req.Header.Get("OpenPSP-Event-Type") {
		r.failures = append(r.failures, fmt.Sprintf("bad body or headers: %s %v", body, req.Header))
	}
	if req.Header.Get("Content-Type") != "application/json" {
		r.failures = append(r.failures, "content type "+req.Header.Get("Content-Type"))
	}
	r.ids[ev.ID]++
	r.got[ev.Data.Payment] = append(r.got[ev.Data.Payment], ev.Data.Seq)
	fmt.Fprint(w, "thanks")
}

// A receiver that is down for three hours, then back, gets every message,
// in order per payment, none lost.
func TestWebhookReceiverDownThenUp(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		clk := clock.NewFake(t0)
		back := t0.Add(3 * time.Hour)
		rcv := newReceiver("whsec_current", func() bool { return clk.Now().Before(back) })
		srv := httptest.NewServer(rcv)
		defer srv.Close()

		const payments, per = 4, 6
		total := enqueueWebhooks(t, db, t0, srv.URL+"/hook", payments, per)
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{
			outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("whsec_current"), clk, outbox.HTTPOptions{}),
		}, outbox.Options{Workers: 3, Batch: 6, Clock: clk, Logger: quiet(), InstanceID: "solo"})

		ctx := context.Background()
		delivered := 0
		for step := 0; delivered < total; step++ {
			if step > 2000 {
				t.Fatalf("gave up: delivered %d of %d", delivered, total)
			}
			n, err := d.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			delivered += n
			if due, _ := db.OutboxDue(ctx, clk.Now()); !due {
				clk.Advance(7 * time.Minute)
			}
		}
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.failures) > 0 || rcv.badSig > 0 {
			t.Fatalf("receiver: %d bad signatures, %v", rcv.badSig, rcv.failures)
		}
		if rcv.refused == 0 {
			t.Fatal("the receiver was never down: the test proves nothing")
		}
		for p := 0; p < payments; p++ {
			got := rcv.got[fmt.Sprintf("pay-%02d", p)]
			if len(got) != per {
				t.Fatalf("payment %d: got %v, want %d messages", p, got, per)
			}
			for i, s := range got {
				if s != i {
					t.Fatalf("payment %d out of order: %v", p, got)
				}
			}
		}
		for id, n := range rcv.ids {
			if n != 1 {
				t.Fatalf("event %s accepted %d times", id, n)
			}
		}
		if c := count(t, db, "DELIVERED"); c != total {
			t.Fatalf("DELIVERED = %d, want %d", c, total)
		}
		// Every message has its refusals and its success in the log.
		es, _ := db.ListOutbox(ctx, outbox.Filter{Limit: 1000})
		log, err := db.OutboxAttempts(ctx, es[len(es)-1].ID) // the oldest: tried while the receiver was down
		if err != nil {
			t.Fatal(err)
		}
		if len(log) < 2 || log[0].StatusCode != 503 || log[0].Error == "" || !strings.Contains(log[0].Response, "maintenance") ||
			log[len(log)-1].StatusCode != 200 || log[len(log)-1].Response != "thanks" || log[len(log)-1].Error != "" {
			t.Fatalf("attempt log = %+v", log)
		}
		for i, a := range log {
			if a.Number != i+1 || a.Instance != "solo" {
				t.Fatalf("attempt %d = %+v", i, a)
			}
		}
	})
}

// After the channel's schedule a message is DEAD; a re-drive delivers it.
// The waits follow the schedule within the jitter.
func TestDeadLetterAndRedrive(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(t0)
		var mu sync.Mutex
		healthy := false
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if !healthy {
				http.Error(w, strings.Repeat("x", 2000), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		schedule := outbox.Schedule{time.Minute, 10 * time.Minute, time.Hour}
		rnd := []float64{0, 0.999, 0.5}
		i := 0
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{
			outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("s"), clk, outbox.HTTPOptions{}),
		}, outbox.Options{Clock: clk, Logger: quiet(), Schedules: map[string]outbox.Schedule{outbox.ChannelWebhook: schedule},
			Rand: func() float64 { r := rnd[i%len(rnd)]; i++; return r }})

		enqueueWebhooks(t, db, t0, srv.URL, 1, 1)
		for k := 0; k < len(schedule); k++ {
			if n, err := d.RunOnce(ctx); err != nil || n != 0 {
				t.Fatalf("attempt %d: delivered %d, %v", k+1, n, err)
			}
			es, _ := db.ListOutbox(ctx, outbox.Filter{})
			e := es[0]
			wait := e.NextAttemptAt.Sub(clk.Now())
			lo, hi := time.Duration(float64(schedule[k])*0.8), time.Duration(float64(schedule[k])*1.2)
			if e.Status != "PENDING" || e.Attempts != k+1 || wait < lo || wait > hi {
				t.Fatalf("after attempt %d: %s attempts=%d wait=%v (want %v..%v)", k+1, e.Status, e.Attempts, wait, lo, hi)
			}
			if k == 0 && wait != lo || k == 2 && wait != schedule[k] {
				t.Fatalf("jitter not applied as drawn: attempt %d waits %v", k+1, wait)
			}
			// Not before its time.
			clk.Set(e.NextAttemptAt.Add(-time.Second))
			if due, _ := db.OutboxDue(ctx, clk.Now()); due {
				t.Fatal("due before next_attempt_at")
			}
			clk.Set(e.NextAttemptAt)
		}
		if n, err := d.RunOnce(ctx); err != nil || n != 0 {
			t.Fatalf("last attempt: %d, %v", n, err)
		}
		es, _ := db.ListOutbox(ctx, outbox.Filter{})
		if es[0].Status != "DEAD" || es[0].Attempts != len(schedule)+1 || es[0].LastError != "HTTP 500" {
			t.Fatalf("after the schedule: %+v", es[0])
		}
		clk.Advance(48 * time.Hour)
		if due, _ := db.OutboxDue(ctx, clk.Now()); due {
			t.Fatal("a DEAD message is due")
		}
		log, _ := db.OutboxAttempts(ctx, es[0].ID)
		if len(log) != len(schedule)+1 || len(log[0].Response) != outbox.ResponseExcerptBytes {
			t.Fatalf("log has %d attempts, excerpt %d bytes", len(log), len(log[0].Response))
		}

		mu.Lock()
		healthy = true
		mu.Unlock()
		n, err := outbox.Retry(ctx, db, clk.Now(), outbox.Filter{IDs: []string{es[0].ID}})
		if err != nil || n != 1 {
			t.Fatalf("retry = %d, %v", n, err)
		}
		if n, err := d.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("after re-drive: delivered %d, %v", n, err)
		}
		es, _ = db.ListOutbox(ctx, outbox.Filter{})
		log, _ = db.OutboxAttempts(ctx, es[0].ID)
		if es[0].Status != "DELIVERED" || len(log) != len(schedule)+2 || log[len(log)-1].StatusCode != 204 || log[len(log)-1].Number != 1 {
			t.Fatalf("after re-drive: %+v, log %+v", es[0], log)
		}
	})
}

// Two dispatchers on one database deliver every message exactly once when
// nothing fails, and keep each key's order: sharing one handle on both
// engines, and on PostgreSQL also through two separate connection pools, as
// two openpsp copies would.
func TestTwoDispatchersExactlyOnce(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) { twoDispatchers(t, db, db) })
	t.Run("postgres-two-pools", func(t *testing.T) {
		u := storetest.NewPostgresDatabase(t)
		open := func() *store.DB {
			db, err := store.Open(context.Background(), store.Options{URL: u, PostgresConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			return db
		}
		twoDispatchers(t, open(), open())
	})
}

func twoDispatchers(t *testing.T, db, db2 *store.DB) {
	var mu sync.Mutex
	seen := map[string]int{}
	order := map[string][]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			ID   string `json:"id"`
			Data event  `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		seen[ev.ID]++
		order[ev.Data.Payment] = append(order[ev.Data.Payment], ev.Data.Seq)
		mu.Unlock()
	}))
	defer srv.Close()
	// 20 payments × 5 ordered messages, plus 100 unordered ones, due now
	// (these dispatchers run on the wall clock).
	now := time.Now().UTC()
	total := enqueueWebhooks(t, db, now, srv.URL, 20, 5)
	err := db.Write(context.Background(), func(tx *sql.Tx) error {
		for i := 0; i < 100; i++ {
			id := ids.New()
			body, _ := outbox.WebhookEnvelope(id, "x", "12345678", "TEST", t0, event{"", i})
			if _, err := store.InsertOutbox(tx, outbox.Message{ID: id, ShopID: "12345678", Channel: "webhook", Event: "x", Target: srv.URL, Payload: body}, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	total += 100

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, name := range []string{"copy-a", "copy-b"} {
		st := db
		if i == 1 {
			st = db2
		}
		d := outbox.NewDispatcher(st, map[string]outbox.Deliverer{
			outbox.ChannelWebhook: outbox.NewWebhookDeliverer(secrets("s"), nil, outbox.HTTPOptions{}),
		}, outbox.Options{Workers: 4, Batch: 8, PollInterval: 2 * time.Millisecond, InstanceID: name, Logger: quiet()})
		wg.Add(1)
		go func() { defer wg.Done(); _ = d.Run(ctx) }()
	}
	deadline := time.Now().Add(30 * time.Second)
	for count(t, db, "DELIVERED") < total {
		if time.Now().After(deadline) {
			cancel()
			wg.Wait()
			t.Fatalf("only %d of %d delivered", count(t, db, "DELIVERED"), total)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != total {
		t.Fatalf("receiver saw %d distinct events, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s delivered %d times", id, n)
		}
	}
	for p, seqs := range order {
		if p == "" {
			continue
		}
		for i, s := range seqs {
			if s != i {
				t.Fatalf("%s out of order: %v", p, seqs)
			}
		}
	}
	var attempts int
	var instances []string
	rows, err := db.Reader().Query("SELECT COUNT(*), instance FROM outbox_attempts GROUP BY instance ORDER BY instance")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int
		var inst string
		_ = rows.Scan(&n, &inst)
		attempts += n
		instances = append(instances, inst+"="+strconv.Itoa(n))
	}
	rows.Close()
	if attempts != total {
		t.Fatalf("%d attempts logged for %d messages", attempts, total)
	}
	t.Logf("deliveries per copy: %v", instances)
}

// A deliverer that panics or a channel without deliverer is an ordinary,
// retried failure; a permanent error is DEAD at once.
func TestFailureKinds(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		var mu sync.Mutex
		seen := map[string]int{}
		observe := func(channel, outcome string, _ time.Duration) {
			mu.Lock()
			seen[channel+" "+outcome]++
			mu.Unlock()
		}
		ctx := context.Background()
		clk := clock.NewFake(t0)
		err := db.Write(ctx, func(tx *sql.Tx) error {
			for _, ch := range []string{"email", "sms", "ipn"} {
				if _, err := store.InsertOutbox(tx, outbox.Message{ShopID: "1", Channel: ch, Event: ch, Target: "x", Payload: "{}"}, t0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{
			"email": outbox.DelivererFunc(func(context.Context, outbox.Delivery) (outbox.Outcome, error) { panic("boom") }),
			"ipn": outbox.NewIPNDeliverer(outbox.IPNSignerFunc(func(context.Context, string, string) (string, error) {
				return "pw", nil
			}), outbox.HTTPOptions{}),
		}, outbox.Options{Clock: clk, Logger: quiet(), Observe: observe})
		if _, err := d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		es, _ := db.ListOutbox(ctx, outbox.Filter{})
		for _, e := range es {
			want := "PENDING"
			if e.Channel == "ipn" {
				want = "DEAD" // kr-answer without orderDetails.mode: no key can sign it
			}
			if e.Status != want || e.Attempts != 1 || e.LastError == "" {
				t.Fatalf("%s: %+v", e.Channel, e)
			}
		}
		// What /metrics counts (openpsp_outbox_attempts_total).
		mu.Lock()
		defer mu.Unlock()
		if want := map[string]int{"email retry": 1, "sms retry": 1, "ipn dead": 1}; !maps.Equal(seen, want) {
			t.Fatalf("observed %v, want %v", seen, want)
		}
	})
}
