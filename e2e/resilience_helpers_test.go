package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// The resilience suite (resilience_*_test.go) breaks OpenPSP on purpose:
// kill -9 under load, identical requests in a storm, a slow or silent
// acquirer, a database that goes away, two copies on one database,
// malformed input everywhere. Each test is bounded in time and count; the
// longer forms run with OPENPSP_RESILIENCE_LONG=1 (see README, Performance).

// resilienceLong reports whether the long forms are asked for.
func resilienceLong() bool { return os.Getenv("OPENPSP_RESILIENCE_LONG") == "1" }

// acceptedCard is the test card every resilience token holds.
const acceptedCard = "4970100000000055"

// deployment is one OpenPSP installation: a data folder and, on
// PostgreSQL, a database. Any number of processes may run on it in turn
// (restarts) or together (copies on PostgreSQL).
type deployment struct {
	engine string
	dir    string // data folder (SQLite file and keyring)
	dbURL  string // PostgreSQL database, "" on SQLite
}

func newDeployment(t *testing.T, engine string) *deployment {
	t.Helper()
	d := &deployment{engine: engine, dir: filepath.Join(t.TempDir(), "data")}
	if engine == "postgres" {
		d.dbURL = storetest.NewMigratedPostgresDatabase(t)
	}
	return d
}

// env is the environment of the binary on this deployment.
func (d *deployment) env(extra ...string) []string {
	e := []string{"OPENPSP_DATA_DIR=" + d.dir, "OPENPSP_DATABASE_URL=" + d.dbURL, "OPENPSP_LOG_LEVEL=warn", "OPENPSP_JOBS=true"}
	return append(e, extra...)
}

func (d *deployment) config(t testing.TB) config.Config {
	t.Helper()
	cfg, err := config.Load(nil, func(k string) string {
		switch k {
		case "OPENPSP_ADDR":
			return "127.0.0.1:0"
		case "OPENPSP_DATA_DIR":
			return d.dir
		case "OPENPSP_DATABASE_URL":
			return d.dbURL
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// seedTokens opens the deployment directly (as an operator command would)
// and puts tokens of the demo shop in its vault: value → card number.
func (d *deployment) seedTokens(t testing.TB, tokens map[string]string) {
	t.Helper()
	cfg := d.config(t)
	cfg.Jobs = false
	a, err := app.New(context.Background(), cfg, app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for value, number := range tokens {
		pan, err := card.ParsePAN(number)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Vault.TokenizeNow(context.Background(), vault.TokenizeRequest{
			ShopID: shop.DemoShopID, Mode: "TEST", Token: value, PAN: pan,
			Expiry: card.Expiry{Month: 12, Year: time.Now().Year() + 3}, HolderName: "Resilience Buyer", Origin: "V4",
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// ipnReceiver is a merchant's IPN endpoint. It checks each kr-hash with
// the demo shop's TEST password and records, per orderId, every
// transaction uuid it was told about.
type ipnReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	byOrder  map[string][]ipnSeen
	badHash  int
	answered int
}

type ipnSeen struct {
	UUID, DetailedStatus, OrderStatus string
}

func newIPNReceiver(t testing.TB) *ipnReceiver {
	r := &ipnReceiver{byOrder: map[string][]ipnSeen{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *ipnReceiver) URL() string { return r.Server.URL + "/ipn" }

func (r *ipnReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if err := req.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	answer := req.PostForm.Get("kr-answer")
	m := hmac.New(sha256.New, []byte(shop.DemoTestPassword))
	m.Write([]byte(answer))
	ok := hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(req.PostForm.Get("kr-hash")))
	var p struct {
		OrderStatus  string `json:"orderStatus"`
		OrderDetails struct {
			OrderID string `json:"orderId"`
		} `json:"orderDetails"`
		Transactions []struct {
			UUID           string `json:"uuid"`
			DetailedStatus string `json:"detailedStatus"`
		} `json:"transactions"`
	}
	_ = json.Unmarshal([]byte(answer), &p)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answered++
	if !ok {
		r.badHash++
		w.WriteHeader(http.StatusOK)
		return
	}
	seen := ipnSeen{OrderStatus: p.OrderStatus}
	if len(p.Transactions) > 0 {
		seen.UUID, seen.DetailedStatus = p.Transactions[0].UUID, p.Transactions[0].DetailedStatus
	}
	r.byOrder[p.OrderDetails.OrderID] = append(r.byOrder[p.OrderDetails.OrderID], seen)
	w.WriteHeader(http.StatusOK)
}

func (r *ipnReceiver) seen(orderID string) []ipnSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ipnSeen(nil), r.byOrder[orderID]...)
}

// outcome is what a client learnt from one payment call.
type outcome int

const (
	acknowledged outcome = iota + 1 // HTTP 200, status SUCCESS: the server vouches for it
	declined                        // HTTP 200, status ERROR or a refused payment: a final answer
	uncertain                       // no answer (connection cut, timeout, 5xx): the client does not know
)

// payResult is one SILENT payment call as the merchant saw it.
type payResult struct {
	orderID     string
	outcome     outcome
	uuid        string
	orderStatus string
	detailed    string
	errorCode   string
	err         error
}

// resilienceClient's dial timeout is long: 1,000 clients dialling at once
// (the idempotency storm) on a loaded two-core machine can overflow the
// listen queue, and a dropped SYN is sent again only after 1 s, then 3 s, so
// a 5 s dial timeout failed a storm in CI. A killed server refuses at once.
// It has no overall timeout: each call's context bounds it (v4Call gives
// one without a deadline resilienceCallTimeout).
var resilienceClient = &http.Client{Transport: &http.Transport{
	MaxIdleConnsPerHost: 64, DialContext: (&net.Dialer{Timeout: 30 * time.Second}).DialContext}}

// resilienceCallTimeout bounds a call whose context has no deadline: a
// server that hangs fails the test instead of the package's timeout.
const resilienceCallTimeout = 60 * time.Second

// v4Call posts a V4 web service with the demo shop's TEST keys; header
// pairs are added to the request.
func v4Call(ctx context.Context, base, service string, body any, header ...string) (status int, env map[string]any, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, resilienceCallTimeout)
		defer cancel()
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	if b, ok := body.([]byte); ok {
		raw = b
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api-payment/V4/"+service, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(shop.DemoShopID+":"+shop.DemoTestPassword)))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := resilienceClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("HTTP %d, not JSON: %.300s", resp.StatusCode, b)
	}
	return resp.StatusCode, env, nil
}

// silentPay makes a SILENT payment and classifies the answer.
func silentPay(ctx context.Context, base, orderID, token, ipnURL string, header ...string) payResult {
	return silentPayWith(ctx, base, orderID, token, ipnURL, nil, header...)
}

// silentPayWith is silentPay with extra request fields.
func silentPayWith(ctx context.Context, base, orderID, token, ipnURL string, extra map[string]any, header ...string) payResult {
	r := payResult{orderID: orderID}
	body := map[string]any{"amount": 1500, "currency": "EUR", "orderId": orderID, "formAction": "SILENT",
		"paymentMethodToken": token, "ipnTargetUrl": ipnURL}
	for k, v := range extra {
		body[k] = v
	}
	status, env, err := v4Call(ctx, base, "Charge/CreatePayment", body, header...)
	switch {
	case err != nil:
		r.outcome, r.err = uncertain, err
		return r
	case status != http.StatusOK:
		r.outcome, r.err = uncertain, fmt.Errorf("HTTP %d: %v", status, env)
		return r
	}
	ans := answer(env)
	if env["status"] != "SUCCESS" {
		r.outcome = declined
		r.errorCode, _ = ans["errorCode"].(string)
		r.err = fmt.Errorf("V4 error %v: %v", ans["errorCode"], ans["errorMessage"])
		// An internal error (INT_999, INT_…) may or may not have committed:
		// the client cannot tell.
		if r.errorCode == "INT_999" {
			r.outcome = uncertain
		}
		return r
	}
	r.outcome = acknowledged
	r.orderStatus, _ = ans["orderStatus"].(string)
	if txs, _ := ans["transactions"].([]any); len(txs) > 0 {
		tx, _ := txs[0].(map[string]any)
		r.uuid, _ = tx["uuid"].(string)
		r.detailed, _ = tx["detailedStatus"].(string)
	}
	return r
}

// orderTx is one transaction of Order/Get.
type orderTx struct {
	UUID, Status, DetailedStatus string
}

// orderGet lists the transactions of an orderId.
func orderGet(ctx context.Context, base, orderID string) ([]orderTx, error) {
	status, env, err := v4Call(ctx, base, "Order/Get", map[string]string{"orderId": orderID})
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("Order/Get: HTTP %d", status)
	}
	ans := answer(env)
	if env["status"] != "SUCCESS" {
		// PSP_010-like "no transaction" answers mean none.
		if code, _ := ans["errorCode"].(string); code == "PSP_010" || code == "PSP_013" {
			return nil, nil
		}
		return nil, fmt.Errorf("Order/Get %s: %v %v", orderID, ans["errorCode"], ans["errorMessage"])
	}
	var out []orderTx
	txs, _ := ans["transactions"].([]any)
	for _, x := range txs {
		m, _ := x.(map[string]any)
		t := orderTx{}
		t.UUID, _ = m["uuid"].(string)
		t.Status, _ = m["status"].(string)
		t.DetailedStatus, _ = m["detailedStatus"].(string)
		out = append(out, t)
	}
	return out, nil
}

// pollUntil retries check until it returns nil or the deadline passes.
func pollUntil(deadline time.Duration, every time.Duration, check func() error) error {
	end := time.Now().Add(deadline)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(end) {
			return err
		}
		time.Sleep(every)
	}
}

// killProcess sends SIGKILL and waits for the process to be gone.
func killProcess(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("killed process did not exit")
	}
}

// appOpts configures an in-process copy of OpenPSP on a deployment.
type appOpts struct {
	env      map[string]string    // extra OPENPSP_* settings
	acquirer *simulator.Simulator // shared by copies: the acquirer outlives them
	jobs     time.Duration        // job interval (default 50ms)
}

// startApp boots OpenPSP in this process on the deployment's data, like
// startServer but with settings of its own and a shared test acquirer.
func (d *deployment) startApp(t testing.TB, o appOpts) *server {
	t.Helper()
	cfg, err := config.Load(nil, func(k string) string {
		if v, ok := o.env[k]; ok {
			return v
		}
		switch k {
		case "OPENPSP_ADDR":
			return "127.0.0.1:0"
		case "OPENPSP_DATA_DIR":
			return d.dir
		case "OPENPSP_DATABASE_URL":
			return d.dbURL
		case "OPENPSP_LOG_FORMAT":
			return "json"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.jobs <= 0 {
		o.jobs = 50 * time.Millisecond
	}
	logs := &syncBuffer{}
	a, err := app.New(context.Background(), cfg, app.Options{Acquirer: o.acquirer, LogOutput: logs, JobInterval: o.jobs})
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

// queuedIPN is an IPN message as the outbox holds it.
type queuedIPN struct {
	uuid, status string
	lockedUntil  time.Time
}

// outboxIPNs reads the deployment's outbox directly (beside the running
// server) and returns its IPN messages by orderId.
func (d *deployment) outboxIPNs(t testing.TB) map[string][]queuedIPN {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{URL: d.dbURL, DataDir: d.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Reader().Query(`SELECT status, locked_until, payload FROM outbox WHERE channel = 'ipn'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]queuedIPN{}
	for rows.Next() {
		var status, payload string
		var locked int64
		if err := rows.Scan(&status, &locked, &payload); err != nil {
			t.Fatal(err)
		}
		var p struct {
			OrderDetails struct {
				OrderID string `json:"orderId"`
			} `json:"orderDetails"`
			Transactions []struct {
				UUID string `json:"uuid"`
			} `json:"transactions"`
		}
		if err := json.Unmarshal([]byte(payload), &p); err != nil {
			t.Fatalf("IPN payload is not JSON: %.200s", payload)
		}
		q := queuedIPN{status: status, lockedUntil: store.FromMicros(locked)}
		if len(p.Transactions) > 0 {
			q.uuid = p.Transactions[0].UUID
		}
		out[p.OrderDetails.OrderID] = append(out[p.OrderDetails.OrderID], q)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// orderGetAll runs Order/Get for many orders, 16 at a time.
func orderGetAll(ctx context.Context, base string, orderIDs []string) (map[string][]orderTx, error) {
	out := make(map[string][]orderTx, len(orderIDs))
	var mu sync.Mutex
	var firstErr error
	next := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				txs, err := orderGet(ctx, base, id)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				out[id] = txs
				mu.Unlock()
			}
		}()
	}
	for _, id := range orderIDs {
		next <- id
	}
	close(next)
	wg.Wait()
	return out, firstErr
}
