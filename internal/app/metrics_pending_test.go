package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// A cancellation that stays pending (its request lost before the
// acquirer, recovery unable to send it again while the acquirer stays
// unreachable) is pending without limit: /metrics counts the pending
// operations by kind, openpsp_pending_operations{op="cancel"}, for an
// operator's alert.
func TestMetricsCountPendingCancellations(t *testing.T) {
	a := testApp(t, map[string]string{"OPENPSP_ACQUIRER_TIMEOUT": "300ms"})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	gauge := func(op string) string {
		t.Helper()
		return scrape(t, srv.URL, `openpsp_pending_operations{op="`+op+`"}`)
	}

	ctx := context.Background()
	uuid := authorizeDemo(t, a, srv.URL, "pending-metric", 3)

	if got := gauge("cancel"); got != "0" {
		t.Fatalf(`openpsp_pending_operations{op="cancel"} before the cancellation: %s, want 0`, got)
	}
	a.Sim.InjectFault(uuid+"-cancel", simulator.FaultLost)
	if _, tx, err := a.Payments.CancelOrRefund(ctx, shop.DemoShopID, uuid, payment.CancelInput{}); !errors.Is(err, payment.ErrCancelUnknown) || tx.PendingOp == "" {
		t.Fatalf("lost cancellation: %+v %v", tx, err)
	}
	if got := gauge("cancel"); got != "1" {
		t.Fatalf(`openpsp_pending_operations{op="cancel"} with a cancellation pending: %s, want 1`, got)
	}
	if got := gauge("capture"); got != "0" {
		t.Fatalf(`openpsp_pending_operations{op="capture"}: %s, want 0`, got)
	}
}

// scrape returns the value of series (name and labels) on the server's
// /metrics, "absent" when it is not there.
func scrape(t *testing.T, url, series string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return v
		}
	}
	return "absent"
}

// authorizeDemo pays orderID on the demo shop through V4 CreatePayment
// with a card authorized, its capture captureDelay days later, and
// returns the transaction's uuid.
func authorizeDemo(t *testing.T, a *App, url, orderID string, captureDelay int) string {
	t.Helper()
	return payDemo(t, a, url, orderID, captureDelay, "AUTHORISED")
}

// payDemo is authorizeDemo for a transaction answered in detailed status
// want: WAITING_AUTHORISATION for a captureDelay beyond the authorization
// validity.
func payDemo(t *testing.T, a *App, url, orderID string, captureDelay int, want string) string {
	t.Helper()
	ctx := context.Background()
	pan, _ := card.ParsePAN("4970100000000055")
	tok, err := a.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: shop.DemoShopID, Mode: shop.ModeTest,
		PAN: pan, Expiry: card.Expiry{Month: 12, Year: time.Now().Year() + 3}, HolderName: "Pending Buyer", Origin: "V4"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"amount": 1000, "currency": "EUR", "orderId": orderID,
		"formAction": "SILENT", "paymentMethodToken": tok.Value,
		"transactionOptions": map[string]any{"cardOptions": map[string]any{"captureDelay": captureDelay}}})
	req, _ := http.NewRequest(http.MethodPost, url+"/api-payment/V4/Charge/CreatePayment", strings.NewReader(string(body)))
	req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Status string
		Answer struct {
			Transactions []struct{ UUID, DetailedStatus string }
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if err != nil || env.Status != "SUCCESS" || len(env.Answer.Transactions) != 1 || env.Answer.Transactions[0].DetailedStatus != want {
		t.Fatalf("payment: %+v %v", env, err)
	}
	return env.Answer.Transactions[0].UUID
}

// A capture the acquirer could not take is released to wait for its
// retry (30 s, growing to an hour): not pending, it showed in no metric,
// so an acquirer down for hours showed only in the log. /metrics counts
// the captures due waiting for their retry and how long ago the oldest
// was due, for an operator's alert.
func TestMetricsCountCapturesWaitingForTheirRetry(t *testing.T) {
	a := testApp(t, nil)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	const retrying, overdue = `openpsp_retrying_operations{op="capture"}`, `openpsp_retrying_operation_overdue_seconds{op="capture"}`

	uuid := authorizeDemo(t, a, srv.URL, "retrying-metric", 0)
	if got := scrape(t, srv.URL, retrying); got != "0" {
		t.Fatalf("%s before any failure: %s, want 0", retrying, got)
	}
	a.Sim.InjectFault(uuid+"-capture", simulator.FaultUnavailable)
	time.Sleep(50 * time.Millisecond) // the capture was due at the authorization: now overdue
	if _, err := a.Payments.CaptureDue(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if got := scrape(t, srv.URL, retrying); got != "1" {
		t.Fatalf("%s with the capture waiting for its retry: %s, want 1", retrying, got)
	}
	if got, err := strconv.ParseFloat(scrape(t, srv.URL, overdue), 64); err != nil || got < 0.05 || got > 60 {
		t.Fatalf("%s: %v %v, want the time since the authorization", overdue, got, err)
	}
	if got := scrape(t, srv.URL, `openpsp_pending_operations{op="capture"}`); got != "0" {
		t.Fatalf("pending captures: %s, want 0 (released)", got)
	}
	if got := scrape(t, srv.URL, `openpsp_retrying_operations{op="authorise"}`); got != "0" {
		t.Fatalf("retrying authorizations: %s, want 0", got)
	}
}

// A capture due that no capture run has tried yet (the capture job stuck
// or slow) is neither pending nor retrying: it showed in no metric.
// /metrics counts the captures due not yet tried and how long ago the
// oldest was due; once the job captured it, or the acquirer could not
// take it (then it is retrying), it leaves that count.
func TestMetricsCountCapturesDueNotYetTried(t *testing.T) {
	a := testApp(t, nil)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	const due, overdue = `openpsp_due_operations{op="capture"}`, `openpsp_due_operation_overdue_seconds{op="capture"}`

	if got := scrape(t, srv.URL, due); got != "0" {
		t.Fatalf("%s with nothing due: %s, want 0", due, got)
	}
	authorizeDemo(t, a, srv.URL, "due-later", 3)
	failing := authorizeDemo(t, a, srv.URL, "due-failing", 0)
	captured := authorizeDemo(t, a, srv.URL, "due-captured", 0)
	time.Sleep(50 * time.Millisecond) // the captures were due at their authorization: now overdue
	if got := scrape(t, srv.URL, due); got != "2" {
		t.Fatalf("%s with two captures due, one in 3 days: %s, want 2", due, got)
	}
	if got, err := strconv.ParseFloat(scrape(t, srv.URL, overdue), 64); err != nil || got < 0.05 || got > 60 {
		t.Fatalf("%s: %v %v, want the time since the first authorization", overdue, got, err)
	}

	a.Sim.InjectFault(failing+"-capture", simulator.FaultUnavailable)
	if _, err := a.Payments.CaptureDue(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if _, tx, err := a.Payments.Get(context.Background(), shop.DemoShopID, captured); err != nil || tx.DetailedStatus != payment.Captured {
		t.Fatalf("capture run: %+v %v", tx, err)
	}
	wantDueTried(t, srv.URL, "capture")
}

// wantDueTried checks /metrics once a run of its job tried the operations
// op due (one made, one the acquirer could not take): none is due any
// more, and the one not taken is retrying.
func wantDueTried(t *testing.T, url, op string) {
	t.Helper()
	for _, w := range []struct{ series, want string }{
		{`openpsp_due_operations{op="` + op + `"}`, "0"},
		{`openpsp_due_operation_overdue_seconds{op="` + op + `"}`, "0"},
		{`openpsp_retrying_operations{op="` + op + `"}`, "1"},
	} {
		if got := scrape(t, url, w.series); got != w.want {
			t.Fatalf("%s once tried: %s, want %s", w.series, got, w.want)
		}
	}
}

// A deferred authorization (captureDelay beyond the authorization
// validity, sent a day before the capture date) the acquirer could not
// take waits for its retry, released: /metrics counts it with the
// captures waiting for theirs, openpsp_retrying_operations{op="authorise"},
// and how long ago it was due. Tested before at store level only.
func TestMetricsCountDeferredAuthorizationsWaitingForTheirRetry(t *testing.T) {
	clk := clock.NewFake(time.Now())
	a := testAppOptions(t, nil, Options{LogOutput: io.Discard, Clock: clk})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	const retrying, overdue = `openpsp_retrying_operations{op="authorise"}`, `openpsp_retrying_operation_overdue_seconds{op="authorise"}`

	uuid := payDemo(t, a, srv.URL, "retrying-authorization", 20, "WAITING_AUTHORISATION")
	if got := scrape(t, srv.URL, retrying); got != "0" {
		t.Fatalf("%s before any failure: %s, want 0", retrying, got)
	}
	a.Sim.InjectFault(uuid+"-authorise", simulator.FaultUnavailable)
	clk.Advance(19*24*time.Hour + 10*time.Minute) // due a day before the capture date: 10 minutes ago
	if n, err := a.Payments.AuthorizeDue(context.Background(), 10); err != nil || n != 0 {
		t.Fatalf("authorization run: %d authorized, %v", n, err)
	}
	_, tx, err := a.Payments.Get(context.Background(), shop.DemoShopID, uuid)
	if err != nil || tx.DetailedStatus != payment.WaitingAuthorisation || tx.PendingOp != "" {
		t.Fatalf("after the acquirer could not take the authorization: %+v %v", tx, err)
	}
	if got := scrape(t, srv.URL, retrying); got != "1" {
		t.Fatalf("%s with the authorization waiting for its retry: %s, want 1", retrying, got)
	}
	if got, err := strconv.ParseFloat(scrape(t, srv.URL, overdue), 64); err != nil || got < 10*60 || got > 11*60 {
		t.Fatalf("%s: %v %v, want 10 minutes", overdue, got, err)
	}
	for _, other := range []string{`openpsp_pending_operations{op="authorise"}`, `openpsp_retrying_operations{op="capture"}`} {
		if got := scrape(t, srv.URL, other); got != "0" {
			t.Fatalf("%s: %s, want 0", other, got)
		}
	}
}

// A deferred authorization due (a day before its capture date) that no run
// of the authorization job has tried yet (the job stuck or outrun) is
// neither pending nor retrying: it showed in no metric. /metrics counts
// it with the captures due not yet tried,
// openpsp_due_operations{op="authorise"}, and how long ago the oldest was
// due; once the job authorized it, or the acquirer could not take it
// (then it is retrying), it leaves that count.
func TestMetricsCountDeferredAuthorizationsDueNotYetTried(t *testing.T) {
	clk := clock.NewFake(time.Now())
	a := testAppOptions(t, nil, Options{LogOutput: io.Discard, Clock: clk})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	const due, overdue = `openpsp_due_operations{op="authorise"}`, `openpsp_due_operation_overdue_seconds{op="authorise"}`

	if got := scrape(t, srv.URL, due); got != "0" {
		t.Fatalf("%s with nothing due: %s, want 0", due, got)
	}
	payDemo(t, a, srv.URL, "due-authorization-later", 30, "WAITING_AUTHORISATION")
	failing := payDemo(t, a, srv.URL, "due-authorization-failing", 20, "WAITING_AUTHORISATION")
	authorized := payDemo(t, a, srv.URL, "due-authorization", 20, "WAITING_AUTHORISATION")
	if got := scrape(t, srv.URL, due); got != "0" {
		t.Fatalf("%s before the day before the capture dates: %s, want 0", due, got)
	}
	clk.Advance(19*24*time.Hour + 10*time.Minute) // due a day before the capture date: 10 minutes ago
	if got := scrape(t, srv.URL, due); got != "2" {
		t.Fatalf("%s with two authorizations due, one in 10 days: %s, want 2", due, got)
	}
	if got, err := strconv.ParseFloat(scrape(t, srv.URL, overdue), 64); err != nil || got < 10*60 || got > 11*60 {
		t.Fatalf("%s: %v %v, want 10 minutes", overdue, got, err)
	}
	if got := scrape(t, srv.URL, `openpsp_due_operations{op="capture"}`); got != "0" {
		t.Fatalf("due captures: %s, want 0 (not authorized yet)", got)
	}

	a.Sim.InjectFault(failing+"-authorise", simulator.FaultUnavailable)
	if n, err := a.Payments.AuthorizeDue(context.Background(), 10); err != nil || n != 1 {
		t.Fatalf("authorization run: %d authorized, %v", n, err)
	}
	if _, tx, err := a.Payments.Get(context.Background(), shop.DemoShopID, authorized); err != nil || tx.DetailedStatus != payment.Authorised {
		t.Fatalf("authorization run: %+v %v", tx, err)
	}
	wantDueTried(t, srv.URL, "authorise")
}
