package v4_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	v4 "github.com/openpsp/openpsp/internal/api/v4"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A Transaction/Capture whose acquirer did not answer in time answers
// INT_999 "being checked with the acquirer", and so does each retry while
// the capture is pending: an expected state the merchant retries, logged
// as a warning, not as an error (an operator's alerts fire on errors). A
// capture the acquirer could not be reached for stays an error.
func TestCapturePendingIsLoggedAsWarning(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		var logs lockedBuffer
		s := v4.New(v4.Options{Auth: testAuth{e.sh}, Clock: e.clk, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		s.RegisterBase()
		s.RegisterPayments(e.svc)
		mux := http.NewServeMux()
		mux.Handle("/api-payment/V4/{name...}", s)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		capture := func(uuid string) errorAnswer {
			t.Helper()
			env := post(t, srv, "Transaction/Capture", map[string]any{"uuids": []string{uuid}}, "")
			var a errorAnswer
			if err := json.Unmarshal(env.Answer, &a); err != nil {
				t.Fatal(err)
			}
			if env.Status != "ERROR" || a.ErrorCode != "INT_999" || a.DetailedErrorMessage == nil {
				t.Fatalf("capture of %s: %s %+v", uuid, env.Status, a)
			}
			return a
		}

		lost := e.pay(map[string]any{"amount": 100, "currency": "EUR"})
		e.sim.InjectFault(lost+"-capture", simulator.FaultTimeout)
		for i := range 3 { // the capture, then two retries while it is pending
			if a := capture(lost); !strings.Contains(*a.DetailedErrorMessage, "being checked") {
				t.Fatalf("call %d: %s", i+1, *a.DetailedErrorMessage)
			}
		}
		down := e.pay(map[string]any{"amount": 200, "currency": "EUR"})
		e.sim.InjectFault(down+"-capture", simulator.FaultUnavailable)
		capture(down)

		// Only the API's lines are in logs (the payment service logs
		// elsewhere): three warnings, then one error.
		var levels []string
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if strings.Contains(l, "Transaction/Capture") {
				lv, _, _ := strings.Cut(strings.SplitN(l, "level=", 2)[1], " ")
				levels = append(levels, lv)
			}
		}
		if strings.Join(levels, " ") != "WARN WARN WARN ERROR" {
			t.Fatalf("log levels of the capture answers %v, want WARN WARN WARN ERROR:\n%s", levels, logs.String())
		}
	})
}
