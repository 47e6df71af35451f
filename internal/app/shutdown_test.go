package app

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
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
	cfg, err := config.Load(nil, func(k string) string {
		switch k {
		case "OPENPSP_DATA_DIR":
			return dir
		case "OPENPSP_DATABASE_URL":
			return dbURL
		case "OPENPSP_ADDR":
			return "127.0.0.1:0"
		case "OPENPSP_DEMO":
			return "true"
		case "OPENPSP_SHUTDOWN_TIMEOUT":
			return timeout
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &jobLog{}
	a, err := New(context.Background(), cfg, Options{LogOutput: logs, JobInterval: 10 * time.Millisecond})
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
		a.addJob("test.held", 0, func(ctx context.Context) error {
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
