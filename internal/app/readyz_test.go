package app

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/obs"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A load balancer probes /readyz every few seconds: during a database
// outage it logged a WARN per probe. It logs the first failure, then at
// most once a minute, and the recovery once.
func TestReadyzLogsAnOutageOnceAMinute(t *testing.T) {
	var logs jobLog
	clk := clock.NewFake(time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC))
	healthy := storetest.SQLite(t)
	down := storetest.SQLite(t)
	down.Reader().Close()
	a := &App{Log: slog.New(slog.NewTextHandler(&logs, nil)), Clock: clk, Metrics: obs.NewMetrics(), DB: down}
	probe := func(want int) {
		t.Helper()
		w := httptest.NewRecorder()
		a.readyz(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if w.Code != want {
			t.Fatalf("/readyz answered %d, want %d: %s", w.Code, want, w.Body)
		}
	}
	for range 20 {
		probe(http.StatusServiceUnavailable)
		clk.Advance(2 * time.Second)
	}
	if n := logs.count("readiness: database unreachable"); n != 1 {
		t.Fatalf("%d log lines for 20 failed probes within a minute, want 1:\n%s", n, logs.b.String())
	}
	clk.Advance(time.Minute)
	probe(http.StatusServiceUnavailable)
	if n := logs.count("readiness: database unreachable"); n != 2 || logs.count("held_back=19") != 1 {
		t.Fatalf("a minute later: %d lines, want 2 (the second with held_back=19):\n%s", n, logs.b.String())
	}
	a.DB = healthy
	probe(http.StatusOK)
	probe(http.StatusOK)
	if n := logs.count("readiness: database reachable again"); n != 1 {
		t.Fatalf("%d recovery lines, want 1:\n%s", n, logs.b.String())
	}
}

// A running copy whose database a newer release migrates under it (copies
// sharing one PostgreSQL during an upgrade) kept answering ready, and the
// load balancer kept sending it traffic it handles on a schema it does not
// know. /readyz turns 503 once the database's newest migration is newer
// than this binary's, and the log names both.
func TestReadyzNotReadyOnceANewerReleaseMigrated(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		var logs jobLog
		a := &App{Log: slog.New(slog.NewTextHandler(&logs, nil)), Clock: clock.NewFake(time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)),
			Metrics: obs.NewMetrics(), DB: db}
		probe := func(want int) string {
			t.Helper()
			w := httptest.NewRecorder()
			a.readyz(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if w.Code != want {
				t.Fatalf("/readyz answered %d, want %d: %s", w.Code, want, w.Body)
			}
			return w.Body.String()
		}
		probe(http.StatusOK)
		const newer = "9999_from_a_newer_release"
		if _, err := db.Writer().Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", newer); err != nil {
			t.Fatal(err)
		}
		if body := probe(http.StatusServiceUnavailable); !strings.Contains(body, "newer") {
			t.Errorf("/readyz body does not say why: %s", body)
		}
		if logs.count(newer) != 1 {
			t.Errorf("the log does not name the database's migration %s once:\n%s", newer, logs.b.String())
		}
	})
}
