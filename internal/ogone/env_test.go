package ogone_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/ogone/ogonepay"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

const (
	pspid      = shop.DemoPSPID
	passphrase = shop.DemoSHAPassphrase
	visa       = "4111111111111111"
	mastercard = "5100010000002045"
)

// env is the real thing on a SQLite file: shop service with the demo shop,
// vault, payment service on the simulator acquirer, the Ogone handlers on a
// loopback server, and a merchant site that records what comes back.
type env struct {
	t        testing.TB
	db       *store.DB
	clock    *clock.Fake
	shops    *shop.Service
	vault    *vault.Vault
	payments *payment.Service
	h        *ogone.Handler
	admin    *ogone.Admin
	srv      *httptest.Server
	merchant *merchant
	client   *http.Client
	acq      *recordingAcquirer
}

// recordingAcquirer is the simulator, remembering the initiator of every
// authorization it was sent.
type recordingAcquirer struct {
	acquirer.Connector
	mu         sync.Mutex
	initiators []string
	// during, if set, runs while the acquirer holds an authorization (a
	// slow acquirer: the clock moves, background jobs run).
	during func()
	// captureErr, if set, is what every capture gets: an acquirer that
	// cannot be reached for captures.
	captureErr error
	// refundRefusal, if set, is the response code with which the acquirer
	// refuses every refund.
	refundRefusal string
	// loseNext, if set, makes the next authorization a lost answer: the
	// simulator's FaultTimeout performs it (an approval or a refusal, as
	// its card gives) and the caller gets acquirer.ErrTimeout, as when
	// openpsp dies while the acquirer answers. The wait is the simulator's
	// short TimeoutHold (newEnv), not the payment's 30 seconds.
	loseNext bool
	// captureFault, if set, is injected into every capture the simulator
	// is sent: FaultTimeout performs it and loses its answer (after the
	// simulator's short TimeoutHold), FaultUnavailable performs nothing.
	captureFault simulator.Fault
	// captures counts the captures sent to the simulator.
	captures int
	// cancelFault, if set, is injected into every cancellation the
	// simulator is sent, as captureFault into captures.
	cancelFault simulator.Fault
	// cancels and refunds count the cancellations and refunds sent to
	// the simulator.
	cancels, refunds int
}

func (a *recordingAcquirer) Cancel(ctx context.Context, opID, authRef string) (acquirer.Result, error) {
	a.mu.Lock()
	fault := a.cancelFault
	a.cancels++
	a.mu.Unlock()
	if fault != 0 {
		a.Connector.(*simulator.Simulator).InjectFault(opID, fault)
		return a.Connector.Cancel(ctx, opID, authRef)
	}
	return a.Connector.Cancel(ctx, opID, authRef)
}

func (a *recordingAcquirer) Refund(ctx context.Context, opID, captureRef string, amount int64, currency string) (acquirer.Result, error) {
	a.mu.Lock()
	code := a.refundRefusal
	a.refunds++
	a.mu.Unlock()
	if code != "" {
		return acquirer.Result{ResponseCode: code, Message: acquirer.CodeMessage(code)}, nil
	}
	return a.Connector.Refund(ctx, opID, captureRef, amount, currency)
}

func (a *recordingAcquirer) Capture(ctx context.Context, opID, authRef string, amount int64, currency string) (acquirer.Result, error) {
	a.mu.Lock()
	err, fault := a.captureErr, a.captureFault
	if err == nil {
		a.captures++
	}
	a.mu.Unlock()
	if err != nil {
		return acquirer.Result{}, err
	}
	if fault != 0 {
		a.Connector.(*simulator.Simulator).InjectFault(opID, fault)
		return a.Connector.Capture(ctx, opID, authRef, amount, currency)
	}
	return a.Connector.Capture(ctx, opID, authRef, amount, currency)
}

func (a *recordingAcquirer) Authorize(ctx context.Context, r acquirer.AuthorizeRequest) (acquirer.Result, error) {
	a.mu.Lock()
	a.initiators = append(a.initiators, r.Initiator)
	during, lose := a.during, a.loseNext
	a.loseNext = false
	a.mu.Unlock()
	if during != nil {
		during()
	}
	if lose {
		a.Connector.(*simulator.Simulator).InjectFault(r.OperationID, simulator.FaultTimeout)
		return a.Connector.Authorize(ctx, r)
	}
	return a.Connector.Authorize(ctx, r)
}

// setDuring sets (nil: clears) what runs while the acquirer holds an
// authorization.
func (a *recordingAcquirer) setDuring(fn func()) {
	a.mu.Lock()
	a.during = fn
	a.mu.Unlock()
}

// loseNextAnswer makes the next authorization a lost answer (loseNext).
func (a *recordingAcquirer) loseNextAnswer() {
	a.mu.Lock()
	a.loseNext = true
	a.mu.Unlock()
}

// authorizations is how many authorizations the acquirer was sent.
func (a *recordingAcquirer) authorizations() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.initiators)
}

// lastInitiator is the initiator of the latest authorization.
func (a *recordingAcquirer) lastInitiator() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.initiators) == 0 {
		return ""
	}
	return a.initiators[len(a.initiators)-1]
}

type envOption func(*ogone.Options)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	return newEnvOn(t, storetest.SQLite, opts...)
}

// newEnvOn is newEnv on the database open gives (storetest.Engines).
func newEnvOn(t testing.TB, open func(testing.TB) *store.DB, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	db := open(t)
	clk := clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
	keys, err := vault.LoadKeyring("", "k1:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)), false)
	if err != nil {
		t.Fatal(err)
	}
	shops := shop.NewService(db, keys, clk)
	if _, err := shops.SeedDemo(ctx, ""); err != nil {
		t.Fatal(err)
	}
	v := vault.New(db, keys, clk)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// A lost answer (FaultTimeout) is held for TimeoutHold, not until the
	// payment's 30 s deadline. The hold starts once the simulator has the
	// operation: a deadline of the test's own, set before the call, could
	// pass before the call got there on a loaded machine, and the
	// operation was then never sent (ErrUnavailable, NCERROR 40001012)
	// instead of lost (seen once in CI at a load of 8).
	acq := &recordingAcquirer{Connector: simulator.New(simulator.Config{Clock: clk, TimeoutHold: 50 * time.Millisecond})}
	pay := payment.New(db, clk, acq, payment.CardVault(v), payment.Config{Logger: log})
	adapter := ogonepay.New(pay, shops)
	adapter.SendPostSales(db)
	o := ogone.Options{Accounts: shops, Vault: v, Store: db, Payments: adapter, Clock: clk, Log: log}
	for _, f := range opts {
		f(&o)
	}
	h := ogone.New(o)
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	m := newMerchant(t)
	return &env{t: t, db: db, clock: clk, shops: shops, vault: v, payments: pay, h: h,
		admin: ogone.NewAdmin(shops, db, clk), srv: srv, merchant: m, acq: acq,
		client: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// merchant is the merchant's site: return URLs that record their queries,
// and any page a test puts there.
type merchant struct {
	srv   *httptest.Server
	mu    sync.Mutex
	got   []url.Values
	paths []string
	pages map[string]string
}

func newMerchant(t testing.TB) *merchant {
	m := &merchant{pages: map[string]string{}}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		page, ok := m.pages[r.URL.Path]
		if r.URL.Path == "/favicon.ico" {
			m.mu.Unlock()
			http.NotFound(w, r)
			return
		}
		if !ok {
			m.got = append(m.got, r.URL.Query())
			m.paths = append(m.paths, r.URL.Path)
		}
		m.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if ok {
			io.WriteString(w, page)
			return
		}
		fmt.Fprintf(w, "<!DOCTYPE html><title>back</title><p id=result>%s %s</p>", r.URL.Path, r.URL.Query().Get("Alias.Status"))
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *merchant) url(p string) string { return m.srv.URL + p }

// waitReturn waits (bounded) for the n-th return to reach the merchant.
func (m *merchant) waitReturn(t *testing.T, n int) (string, url.Values) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		if len(m.got) >= n {
			p, q := m.paths[n-1], m.got[n-1]
			m.mu.Unlock()
			return p, q
		}
		m.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no return number %d reached the merchant", n)
	return "", nil
}

// sign is the merchant's own SHA code, written from the rules of
// compat.md §2.4 without this package.
func sign(algo string, values url.Values, pass string, allow map[string]bool) string {
	var keys []string
	up := map[string]string{}
	for k, vs := range values {
		K := strings.ToUpper(k)
		if vs[0] == "" || K == "SHASIGN" || K == "SHASIGNATURE.SHASIGN" || (allow != nil && !allow[K]) {
			continue
		}
		up[K] = vs[0]
		keys = append(keys, K)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + up[k] + pass)
	}
	switch algo {
	case "SHA-1":
		return fmt.Sprintf("%X", sha1.Sum([]byte(b.String())))
	case "SHA-256":
		return fmt.Sprintf("%X", sha256.Sum256([]byte(b.String())))
	}
	return fmt.Sprintf("%X", sha512.Sum512([]byte(b.String())))
}

var flexOut = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`ALIAS.ALIASID ALIAS.NCERROR ALIAS.NCERRORCARDNO ALIAS.NCERRORCN ALIAS.NCERRORCVC
		ALIAS.NCERRORED ALIAS.ORDERID ALIAS.STATUS ALIAS.STOREPERMANENTLY CARD.BIC CARD.BIN CARD.BRAND
		CARD.CARDHOLDERNAME CARD.CARDNUMBER CARD.CVC CARD.EXPIRYDATE`) {
		flexOut[n] = true
	}
}

// checkSHAOut verifies a return's SHASign as a merchant would.
func checkSHAOut(t *testing.T, q url.Values) {
	t.Helper()
	if got, want := q.Get("SHASign"), sign("SHA-512", q, passphrase, flexOut); got == "" || got != want {
		t.Fatalf("SHA-OUT %q, merchant computes %q (%v)", got, want, q)
	}
}

// flexParams are the mandatory fields of a FlexCheckout request.
// sealedCards counts the tokens holding card data at rest, besides the
// tokens named in except.
func (e *env) sealedCards(t testing.TB, except ...string) int {
	t.Helper()
	q, args := `SELECT COUNT(*) FROM tokens WHERE ciphertext IS NOT NULL`, []any{}
	for _, tok := range except {
		args = append(args, tok)
		q += fmt.Sprintf(" AND token <> $%d", len(args))
	}
	var n int
	if err := e.db.Reader().QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) flexParams(extra map[string]string) url.Values {
	v := url.Values{
		"ACCOUNT.PSPID":           {pspid},
		"CARD.PAYMENTMETHOD":      {"CreditCard"},
		"PARAMETERS.ACCEPTURL":    {e.merchant.url("/accept")},
		"PARAMETERS.EXCEPTIONURL": {e.merchant.url("/exception")},
		"PARAMETERS.DECLINEURL":   {e.merchant.url("/decline")},
	}
	for k, val := range extra {
		if val == "" {
			v.Del(k)
		} else {
			v.Set(k, val)
		}
	}
	return v
}

// flexURL signs params into a FlexCheckout URL.
func (e *env) flexURL(params url.Values) string {
	params.Set("SHASIGNATURE.SHASIGN", sign("SHA-512", params, passphrase, nil))
	return e.srv.URL + ogone.FlexCheckoutPath + "?" + params.Encode()
}

var actionRE = regexp.MustCompile(`action="(/Tokenization/HostedPage/[0-9a-f]+)"`)

// open loads a FlexCheckout page and returns the form's action.
func (e *env) open(params url.Values) (string, string) {
	e.t.Helper()
	resp, body := e.get(e.flexURL(params))
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("page: %d %s", resp.StatusCode, body)
	}
	m := actionRE.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no form in %s", body)
	}
	return m[1], body
}

func (e *env) get(u string) (*http.Response, string) {
	e.t.Helper()
	resp, err := e.client.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (e *env) post(path string, form url.Values) (*http.Response, string) {
	e.t.Helper()
	resp, err := e.client.PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// cardForm is a valid card entry.
func cardForm(pan string) url.Values {
	return url.Values{"CARDNO": {pan}, "CN": {"Jean Dupont"}, "EXPM": {"12"}, "EXPY": {"2032"}, "CVC": {"123"}}
}

// returned follows a 303 to the merchant and returns the return's path and
// query.
func (e *env) returned(resp *http.Response, body string) (string, url.Values) {
	t := e.t
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("expected a redirect, got %d %s", resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Path, u.Query()
}

func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.db.Reader().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}
