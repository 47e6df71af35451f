// Package e2e tests OpenPSP as its users meet it: the real app (or the real
// binary) on 127.0.0.1, real HTTP, real databases, a real browser.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// server is a running app for one test.
type server struct {
	*app.App
	URL  string
	Logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type serverOpts struct {
	engine string // sqlite (default) or postgres
	clock  clock.Clock
	dir    string // data dir to reuse (restart tests)
	dbURL  string
	env    map[string]string // extra OPENPSP_* settings
	// jobs is the interval of the jobs without one of their own (the
	// capture job's among them); 0: 50ms.
	jobs time.Duration
}

// startServer boots the real app on 127.0.0.1:0 and stops it at cleanup.
func startServer(t testing.TB, o serverOpts) *server {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	if o.engine == "postgres" && o.dbURL == "" {
		o.dbURL = storetest.NewMigratedPostgresDatabase(t)
	}
	cfg, err := config.Load(nil, func(k string) string {
		if v, ok := o.env[k]; ok {
			return v
		}
		switch k {
		case "OPENPSP_ADDR":
			return "127.0.0.1:0"
		case "OPENPSP_DATA_DIR":
			return o.dir
		case "OPENPSP_DATABASE_URL":
			return o.dbURL
		case "OPENPSP_LOG_LEVEL":
			return "debug"
		case "OPENPSP_LOG_FORMAT":
			return "json"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	if o.jobs <= 0 {
		o.jobs = 50 * time.Millisecond
	}
	a, err := app.New(context.Background(), cfg, app.Options{Clock: o.clock, LogOutput: logs, JobInterval: o.jobs})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		a.Close()
	})
	return &server{App: a, URL: a.URL(), Logs: logs}
}

// v4 calls a REST API V4 web service with the demo shop's TEST keys.
func (s *server) v4(t testing.TB, name string, body any) map[string]any {
	t.Helper()
	return s.v4As(t, shop.DemoShopID, shop.DemoTestPassword, name, body)
}

func (s *server) v4As(t testing.TB, user, password, name string, body any) map[string]any {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		raw, err = json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest("POST", s.URL+"/api-payment/V4/"+name, bytes.NewReader(raw))
	req.SetBasicAuth(user, password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: HTTP %d: %s", name, resp.StatusCode, b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: answer is not JSON: %s", name, b)
	}
	return out
}

func answer(env map[string]any) map[string]any {
	a, _ := env["answer"].(map[string]any)
	return a
}

func dataDir(t testing.TB) string { return filepath.Join(t.TempDir(), "data") }

// mustDo returns a check for a browser step: an error ends the test,
// naming the step.
func mustDo(t *testing.T) func(err error, what string) {
	return func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// krAnswerMerchant is a merchant's IPN endpoint that hands each IPN's
// kr-answer to the test, in the order they come (up to 16 waiting).
func krAnswerMerchant(t testing.TB) (*httptest.Server, <-chan string) {
	ipns := make(chan string, 16)
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		ipns <- r.PostForm.Get("kr-answer")
		io.WriteString(w, "OK")
	}))
	t.Cleanup(merchant.Close)
	return merchant, ipns
}
