package app

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/obs"
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
