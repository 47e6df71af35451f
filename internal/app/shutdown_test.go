package app

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// runningApp is a demo app with jobs on, polling fast, on dir's SQLite file
// or on dbURL, with OPENPSP_SHUTDOWN_TIMEOUT set to timeout when not empty.
// stop starts its shutdown (as SIGTERM does); done returns Run's result.
type runningApp struct {
	*App
	logs *jobLog
	stop context.CancelFunc
	done chan error
}

func startApp(t *testing.T, dir, dbURL, timeout string) *runningApp {
	t.Helper()
	return startAppWith(t, dir, dbURL, timeout, nil)
}

// startAppWith is startApp calling before (when not nil) before Run.
func startAppWith(t *testing.T, dir, dbURL, timeout string, before func(*App)) *runningApp {
	t.Helper()
	return startAppOpts(t, dir, dbURL, timeout, Options{}, before)
}

// startAppOpts is startAppWith with opts (its log output and job interval
// set here).
func startAppOpts(t *testing.T, dir, dbURL, timeout string, opts Options, before func(*App)) *runningApp {
	t.Helper()
	cfg := demoConfig(t, dir, dbURL, map[string]string{"OPENPSP_SHUTDOWN_TIMEOUT": timeout})
	logs := &jobLog{}
	opts.LogOutput, opts.JobInterval = logs, 10*time.Millisecond
	a, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		a.Close()
		t.Fatal(err)
	}
	if before != nil {
		before(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningApp{App: a, logs: logs, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cancel()
			<-r.done
			a.Close()
		})
	})
	return r
}

// stopped waits (30 s at most) for Run to return after stop, and closes the app.
func (r *runningApp) stopped(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the shutdown did not end")
	}
	r.done <- nil // for the cleanup
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// sendIPN queues an IPN of the demo shop to target and wakes the dispatcher.
func (r *runningApp) sendIPN(t *testing.T, target string) {
	t.Helper()
	err := r.DB.Write(context.Background(), func(tx *sql.Tx) error {
		_, err := store.InsertOutbox(tx, outbox.Message{ShopID: shop.DemoShopID, Channel: outbox.ChannelIPN, Event: "payment.accepted",
			Target: target, Payload: `{"_type":"V4/Payment","orderDetails":{"mode":"TEST"}}`}, r.Clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Dispatcher.Kick()
}

// entry is the outbox entry sent to target.
func (r *runningApp) entry(t *testing.T, target string) outbox.Entry {
	t.Helper()
	es, err := r.DB.ListOutbox(context.Background(), outbox.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Target == target {
			return e
		}
	}
	t.Fatalf("no outbox entry to %s", target)
	return outbox.Entry{}
}

// forEachEngine runs f on a fresh SQLite folder and on a fresh PostgreSQL
// database (which a restart reopens).
func forEachEngine(t *testing.T, f func(t *testing.T, dir, dbURL string)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir, dbURL := t.TempDir(), ""
			if engine == "postgres" {
				dbURL = storetest.NewPostgresDatabase(t)
			}
			f(t, dir, dbURL)
		})
	}
}

// SIGTERM cancelled the dispatcher's context: an IPN the merchant was
// answering was cut and handed back PENDING, and sent again after the
// restart although the merchant had taken it. The shutdown now lets it
// finish: the merchant's 200 is recorded (DELIVERED after one attempt)
// and the restarted copy does not send it again.
func TestShutdownLetsADeliveryInProgressFinish(t *testing.T) {
	forEachEngine(t, func(t *testing.T, dir, dbURL string) {
		var held atomic.Int64
		inFlight, release, cut := make(chan struct{}), make(chan struct{}), make(chan struct{})
		merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Read to the end: the server then notices a client that
			// goes away (r's context ends).
			io.Copy(io.Discard, r.Body)
			if r.URL.Path != "/held" {
				return // 200
			}
			if held.Add(1) == 1 {
				close(inFlight)
			}
			select {
			case <-release:
			case <-r.Context().Done():
				close(cut)
			}
		}))
		defer merchant.Close()
		defer func() {
			select {
			case <-release:
			default:
				close(release)
			}
		}()

		a := startApp(t, dir, dbURL, "")
		a.sendIPN(t, merchant.URL+"/held")
		select {
		case <-inFlight:
		case <-time.After(30 * time.Second):
			t.Fatal("the IPN was not sent")
		}
		a.stop()
		// The merchant answers once the shutdown has begun, unless it
		// cut the request first.
		deadline := time.After(30 * time.Second)
		for a.logs.count("no new deliveries or job runs") == 0 {
			select {
			case <-cut:
				t.Fatal("the shutdown cut the IPN the merchant was answering")
			case err := <-a.done:
				a.done <- err // for the cleanup
				t.Fatalf("the shutdown ended (%v) while the merchant was answering", err)
			case <-deadline:
				t.Fatal("the shutdown did not begin")
			case <-time.After(5 * time.Millisecond):
			}
		}
		close(release)
		a.stopped(t)

		b := startApp(t, dir, dbURL, "")
		if e := b.entry(t, merchant.URL+"/held"); e.Status != outbox.StatusDelivered || e.Attempts != 1 {
			t.Fatalf("the IPN in progress at shutdown: %s after %d attempts (%s), want DELIVERED after 1", e.Status, e.Attempts, e.LastError)
		}
		// A later IPN delivered by the restarted copy: the one in
		// progress at shutdown would have gone before or with it.
		b.sendIPN(t, merchant.URL+"/later")
		poll(t, "the later IPN delivered", func() bool { return b.entry(t, merchant.URL+"/later").Status == outbox.StatusDelivered })
		if n := held.Load(); n != 1 {
			t.Errorf("the merchant received the IPN %d times, want once", n)
		}
	})
}

// A merchant that never answers does not hold the shutdown beyond
// OPENPSP_SHUTDOWN_TIMEOUT: the delivery is cut then, and the message is
// back PENDING, without an attempt counted, for a copy to retry.
func TestShutdownCutsADeliveryAtTheShutdownTimeout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, dir, dbURL string) {
		inFlight, never := make(chan struct{}), make(chan struct{})
		var once sync.Once
		merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			once.Do(func() { close(inFlight) })
			select {
			case <-never:
			case <-r.Context().Done():
			}
		}))
		defer merchant.Close()
		defer close(never)

		a := startApp(t, dir, dbURL, "100ms")
		a.sendIPN(t, merchant.URL+"/never")
		select {
		case <-inFlight:
		case <-time.After(30 * time.Second):
			t.Fatal("the IPN was not sent")
		}
		a.stop()
		a.stopped(t)

		// Read without starting a copy, whose dispatcher would claim it.
		db, err := store.Open(context.Background(), store.Options{URL: dbURL, DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		es, err := db.ListOutbox(context.Background(), outbox.Filter{})
		if err != nil || len(es) != 1 {
			t.Fatalf("outbox: %d entries, %v", len(es), err)
		}
		if e := es[0]; e.Status != outbox.StatusPending || e.Attempts != 0 || e.LockedBy != "" {
			t.Errorf("the IPN cut at the shutdown timeout: %s after %d attempts, locked by %q, want PENDING after 0", e.Status, e.Attempts, e.LockedBy)
		}
	})
}

// SIGTERM cancelled the context of a job run in progress (a capture batch,
// the subscriptions' instalments): what it had claimed was left to the
// recovery of stale claims. The run now finishes, and no run starts after
// the shutdown began.
func TestShutdownLetsAJobRunInProgressFinish(t *testing.T) {
	var runs atomic.Int64
	started, release, cut := make(chan struct{}), make(chan struct{}), make(chan struct{})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	a := startAppWith(t, t.TempDir(), "", "", func(a *App) {
		a.addJob("test.held", 0, func(ctx context.Context, _ <-chan struct{}) error {
			if runs.Add(1) != 1 {
				return nil
			}
			close(started)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				close(cut)
				return ctx.Err()
			}
		})
	})
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not run")
	}
	a.stop()
	deadline := time.After(30 * time.Second)
	for a.logs.count("no new deliveries or job runs") == 0 {
		select {
		case <-cut:
			t.Fatal("the shutdown cut the job run in progress")
		case <-deadline:
			t.Fatal("the shutdown did not begin")
		case <-time.After(5 * time.Millisecond):
		}
	}
	close(release)
	a.stopped(t)
	select {
	case <-cut:
		t.Fatal("the job run in progress was cut")
	default:
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("%d runs of the job, want 1: runs started after the shutdown began", n)
	}
}

// holdingJournal is the test acquirer's journal, the app's database once
// New opened it, that holds each capture (an operation on an earlier one)
// until release closes, after sending its operation id to held.
type holdingJournal struct {
	simulator.Journal
	held    chan string
	release chan struct{}
}

func (j *holdingJournal) RecordOperation(ctx context.Context, opID, originalRef string, decide func(*simulator.Entry) simulator.Entry) (simulator.Entry, error) {
	if originalRef != "" { // a capture: the test makes no refund
		j.held <- opID
		select {
		case <-j.release:
		case <-ctx.Done():
			return simulator.Entry{}, ctx.Err() // nothing written (the Journal contract)
		}
	}
	return j.Journal.RecordOperation(ctx, opID, originalRef, decide)
}

// A capture run in progress at SIGTERM claimed batch after batch while a
// backlog lasted, until the shutdown's grace ended and cut it in the middle
// of one. It now finishes the batch it claimed (every capture made and
// recorded) and claims no other: the shutdown ends while the next batch is
// due, unclaimed, for the next copy.
func TestShutdownEndsACaptureRunAfterItsBatch(t *testing.T) {
	forEachEngine(t, func(t *testing.T, dir, dbURL string) {
		const batch, backlog = 3, 7
		j := &holdingJournal{held: make(chan string, 2*backlog), release: make(chan struct{})}
		defer func() {
			select {
			case <-j.release:
			default:
				close(j.release)
			}
		}()
		opts := Options{CaptureBatch: batch, Acquirer: simulator.New(simulator.Config{Journal: j})}
		// A long grace: the run must end by itself, not by being cut.
		a := startAppOpts(t, dir, dbURL, "10m", opts, func(a *App) {
			j.Journal = a.DB
			// The backlog is authorised before the jobs start: all of it
			// is due at the capture job's first run.
			ctx := context.Background()
			sh, creds, err := a.Shops.Authenticate(ctx, shop.DemoShopID, shop.DemoTestPassword)
			if err != nil {
				t.Fatal(err)
			}
			pan, _ := card.ParsePAN("4970100000000055")
			cvv, _ := card.NewSecurityCode("123")
			for i := range backlog {
				_, ft, err := a.Payments.CreatePayment(ctx, sh, creds, payment.CreateInput{Amount: 1250, Currency: "EUR", OrderID: fmt.Sprint("BACKLOG-", i)})
				if err != nil {
					t.Fatal(err)
				}
				_, tx, err := a.Payments.PayCard(ctx, ft, payment.CardInput{PAN: pan, Expiry: card.Expiry{Month: 12, Year: 2032}, CVV: cvv, Holder: "Jane Doe"})
				if err != nil || tx.DetailedStatus != "AUTHORISED" {
					t.Fatalf("pay %d: %s %v", i, tx.DetailedStatus, err)
				}
			}
		})
		// The first batch is at the acquirer, all of it held.
		for range batch {
			select {
			case <-j.held:
			case <-time.After(30 * time.Second):
				t.Fatal("the first batch of captures was not sent")
			}
		}
		a.stop()
		poll(t, "the shutdown begun", func() bool { return a.logs.count("no new deliveries or job runs") > 0 })
		close(j.release)
		a.stopped(t)

		db, err := store.Open(context.Background(), store.Options{URL: dbURL, DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Writer().Query("SELECT detailed_status, pending_op FROM transactions")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]int{}
		for rows.Next() {
			var status, pending string
			if err := rows.Scan(&status, &pending); err != nil {
				t.Fatal(err)
			}
			got[status+"/"+pending]++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		// CAPTURED/ for the first batch, AUTHORISED/ (due, no claim) for
		// the rest.
		want := map[string]int{"CAPTURED/": batch, "AUTHORISED/": backlog - batch}
		if !maps.Equal(got, want) {
			t.Errorf("after the shutdown, transactions by status/pending operation: %v, want %v", got, want)
		}
	})
}

// The shutdown closed the background work at SIGTERM, while the drain still
// served requests: a payment accepted during the drain had its IPN left
// PENDING until another copy or the restart sent it (on a single copy, the
// merchant waited for the restart). The background work now runs through
// the drain: the IPN is delivered before Run returns.
func TestShutdownDeliversAnIPNHandedDuringTheDrain(t *testing.T) {
	forEachEngine(t, func(t *testing.T, dir, dbURL string) {
		// The payment must end inside the drain, or the test proves
		// nothing: a short drain keeps the test short on a quiet
		// machine; a loaded one (CI beside other work) gets a longer one.
		for i, drain := range []time.Duration{time.Second, 5 * time.Second, 30 * time.Second} {
			target, received := countingMerchant(t)
			a := startAppWith(t, dir, dbURL, "", func(a *App) { a.Config.ShutdownDrain = drain })
			a.stop()
			poll(t, "/readyz answering 503 (draining)", func() bool {
				code, _ := get(t, a.URL()+"/readyz")
				return code == http.StatusServiceUnavailable
			})
			ctx := context.Background()
			sh, creds, err := a.Shops.Authenticate(ctx, shop.DemoShopID, shop.DemoTestPassword)
			if err != nil {
				t.Fatal(err)
			}
			pan, _ := card.ParsePAN("4970100000000055")
			cvv, _ := card.NewSecurityCode("123")
			_, ft, err := a.Payments.CreatePayment(ctx, sh, creds, payment.CreateInput{Amount: 1250, Currency: "EUR",
				OrderID: fmt.Sprintf("DRAIN-%d", i+1), IPNTargetURL: target})
			if err != nil {
				t.Fatal(err)
			}
			_, tx, err := a.Payments.PayCard(ctx, ft, payment.CardInput{PAN: pan, Expiry: card.Expiry{Month: 12, Year: 2032}, CVV: cvv, Holder: "Jane Doe"})
			if err != nil || tx.DetailedStatus != "AUTHORISED" {
				t.Fatalf("pay: %s %v", tx.DetailedStatus, err)
			}
			ended := a.logs.count("finishing in-flight requests") > 0
			a.stopped(t)
			if ended {
				t.Logf("the payment ended after a drain of %s: trying a longer one", drain)
				continue
			}
			deliveredOnceBeforeExit(t, dir, dbURL, target, received, "the IPN of the payment made during the drain")
			return
		}
		t.Fatal("the payment ended after every drain, 30 s the longest: the test proves nothing")
	})
}

// authorizationHold is the test acquirer's journal that, once armed, holds
// the next authorization until release closes, after closing held.
type authorizationHold struct {
	simulator.Journal
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (j *authorizationHold) RecordOperation(ctx context.Context, opID, originalRef string, decide func(*simulator.Entry) simulator.Entry) (simulator.Entry, error) {
	if originalRef == "" && j.armed.CompareAndSwap(true, false) {
		close(j.held)
		select {
		case <-j.release:
		case <-ctx.Done():
			return simulator.Entry{}, ctx.Err()
		}
	}
	return j.Journal.RecordOperation(ctx, opID, originalRef, decide)
}

// A request still being served when the drain ends (here: a SILENT payment
// whose authorization the acquirer answers only then) hands its IPN while
// the server finishes its last requests: the background work stops taking
// messages only after that, so this copy delivers it before exiting
// instead of leaving it PENDING for the restart.
func TestShutdownDeliversTheIPNOfARequestFinishingAfterTheDrain(t *testing.T) {
	forEachEngine(t, func(t *testing.T, dir, dbURL string) {
		target, received := countingMerchant(t)

		j := &authorizationHold{held: make(chan struct{}), release: make(chan struct{})}
		var releaseOnce sync.Once
		release := func() { releaseOnce.Do(func() { close(j.release) }) }
		defer release()
		a := startAppOpts(t, dir, dbURL, "", Options{Acquirer: simulator.New(simulator.Config{Journal: j})}, func(a *App) { j.Journal = a.DB })
		ctx := context.Background()
		pan, _ := card.ParsePAN("4970100000000055")
		tok, err := a.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: shop.DemoShopID, Mode: shop.ModeTest, PAN: pan,
			Expiry: card.Expiry{Month: 12, Year: 2032}, HolderName: "Jane Doe", Origin: "V4"})
		if err != nil {
			t.Fatal(err)
		}

		j.armed.Store(true)
		answered := make(chan string, 1)
		go func() {
			body := fmt.Sprintf(`{"amount":1250,"currency":"EUR","orderId":"LATE-1","formAction":"SILENT","paymentMethodToken":%q,"ipnTargetUrl":%q}`, tok.Value, target)
			req, _ := http.NewRequest(http.MethodPost, a.URL()+"/api-payment/V4/Charge/CreatePayment", strings.NewReader(body))
			req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answered <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answered <- string(b)
		}()
		select {
		case <-j.held:
		case <-time.After(30 * time.Second):
			t.Fatal("the payment never reached the acquirer")
		}
		a.stop()
		poll(t, "the drain over, the server finishing its requests", func() bool { return a.logs.count("finishing in-flight requests") > 0 })
		release()
		if got := <-answered; !strings.Contains(got, `"orderStatus":"PAID"`) {
			t.Fatalf("the payment finishing after the drain: %s", got)
		}
		a.stopped(t)
		deliveredOnceBeforeExit(t, dir, dbURL, target, received, "the IPN of the payment that finished after the drain")
	})
}

// countingMerchant is a merchant's IPN endpoint on loopback that answers
// 200 and counts what it received, until the test ends.
func countingMerchant(t *testing.T) (target string, received *atomic.Int64) {
	received = new(atomic.Int64)
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		received.Add(1)
	}))
	t.Cleanup(merchant.Close)
	return merchant.URL + "/ipn", received
}

// deliveredOnceBeforeExit checks, once the copy has stopped, that the one
// IPN to target (what names it) was delivered at the first attempt and
// received once: read without starting a copy, whose dispatcher would
// send it.
func deliveredOnceBeforeExit(t *testing.T, dir, dbURL, target string, received *atomic.Int64, what string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{URL: dbURL, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	es, err := db.ListOutbox(ctx, outbox.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var ipns []string
	for _, e := range es {
		if e.Target == target {
			ipns = append(ipns, fmt.Sprintf("%s after %d attempts", e.Status, e.Attempts))
		}
	}
	if len(ipns) != 1 || ipns[0] != "DELIVERED after 1 attempts" {
		t.Fatalf("%s: %q, want one DELIVERED (after 1 attempts) before Run returned", what, ipns)
	}
	if n := received.Load(); n != 1 {
		t.Errorf("the merchant received %d IPNs, want 1", n)
	}
}
