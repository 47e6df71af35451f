package wallet_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	v4 "github.com/openpsp/openpsp/internal/api/v4"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/hosted"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/vault"
	"github.com/openpsp/openpsp/internal/wallet"
)

// Demo shop keys (compat.md §1.2).
const (
	shopID     = "69876357"
	password   = "testpassword_DEMOPRIVATEKEY23G4475zXZQ2UA5x7M"
	publicKey  = "69876357:testpublickey_DEMOPUBLICKEY95me92597fd28tGD4r5"
	hmacKey    = "38453613e7f44dc58732bad3dca2bca3"
	prodPass   = "prodpassword_OTHERKEY"
	otherShop  = "11112222"
	otherPass  = "testpassword_OTHERSHOP"
	cardOK     = "4970100000000055" // CB/VISA, frictionless
	cardMC     = "5100010000002045" // MASTERCARD, frictionless
	cardAmex   = "375900000000008"
	cardJCB    = "3530111333300000" // not a wallet brand
	cardRefuse = "4970109900000008"
)

// subs is a subscription service at the wallet's boundary: tokens with an
// active subscription, and the tokens whose subscriptions were stopped.
type subs struct {
	mu      sync.Mutex
	active  map[string]bool
	stopped []string
	// checked, if set, runs when ActiveOnToken is asked about a token
	// (what happens elsewhere while the buyer's deletion is checked).
	checked func(token string)
}

func newSubs() *subs { return &subs{active: map[string]bool{}} }

func (s *subs) ActiveOnToken(_ context.Context, _, _ string, token string) (bool, error) {
	s.mu.Lock()
	checked := s.checked
	s.mu.Unlock()
	if checked != nil {
		checked(token)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active[token], nil
}

func (s *subs) ActiveOnTokenTx(_ context.Context, tx *sql.Tx, _, _ string, token string) (bool, error) {
	if tx == nil {
		return false, errors.New("ActiveOnTokenTx outside the cancel's transaction")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active[token], nil
}

func (s *subs) CancelForToken(_ context.Context, tx *sql.Tx, _, _ string, token string) error {
	if tx == nil {
		return errors.New("CancelForToken outside the cancel's transaction")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active[token] = false
	s.stopped = append(s.stopped, token)
	return nil
}

func (s *subs) set(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active[token] = true
}

func (s *subs) onCheck(fn func(token string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checked = fn
}

func (s *subs) unset(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active[token] = false
}

// env is the wallet on a real database: the payment service on the
// simulator acquirer, the vault, the V4 API (payments and wallet services)
// and the buyer pages, on one loopback server.
type env struct {
	t      *testing.T
	db     *store.DB
	clk    clock.Clock
	vault  *vault.Vault
	pay    *payment.Service
	wallet *wallet.Service
	subs   *subs
	sh     shop.Shop
	srv    *httptest.Server
	acq    *watchedAcquirer
}

// watchedAcquirer is the simulator as the payment service calls it,
// counting the card checks and authorizations it is sent (calls);
// beforeCall, if set, runs when one reaches the acquirer, before the
// simulator answers (what the merchant does while the buyer's card is
// being checked).
type watchedAcquirer struct {
	acquirer.Connector
	calls      atomic.Int64
	beforeCall func()
	// beforeVerify, if set, runs with each card check before the
	// simulator gets it (to inject a fault on its operation id).
	beforeVerify func(r acquirer.AuthorizeRequest)
}

func (w *watchedAcquirer) called() {
	w.calls.Add(1)
	if w.beforeCall != nil {
		w.beforeCall()
	}
}

func (w *watchedAcquirer) Authorize(ctx context.Context, r acquirer.AuthorizeRequest) (acquirer.Result, error) {
	w.called()
	return w.Connector.Authorize(ctx, r)
}

func (w *watchedAcquirer) Verify(ctx context.Context, r acquirer.AuthorizeRequest) (acquirer.Result, error) {
	w.called()
	if w.beforeVerify != nil {
		w.beforeVerify(r)
	}
	return w.Connector.Verify(ctx, r)
}

type auth struct{ db *store.DB }

func (a auth) Authenticate(ctx context.Context, id, pw string) (shop.Shop, shop.Credentials, error) {
	mode := ""
	switch {
	case id == shopID && pw == password, id == otherShop && pw == otherPass:
		mode = shop.ModeTest
	case id == shopID && pw == prodPass:
		mode = shop.ModeProduction
	default:
		return shop.Shop{}, shop.Credentials{}, shop.ErrNotFound
	}
	sh, err := a.db.Shop(ctx, id) // read each call: tests change settings
	if err != nil {
		return shop.Shop{}, shop.Credentials{}, err
	}
	return sh, shop.Credentials{ShopID: id, Mode: mode, Password: pw}, nil
}

// newEnv starts the stack with clk (nil: a fake clock at 2030-03-10).
func newEnv(t *testing.T, db *store.DB, clk clock.Clock) *env {
	t.Helper()
	if clk == nil {
		clk = clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
	}
	ctx := context.Background()
	sh := shop.Shop{ID: shopID, Name: "Demo", Currency: "EUR", Language: "en", PrimaryEmail: "merchant@example.com",
		NotificationURL: "https://merchant.example/ipn", Settings: shop.Settings{PaymentByToken: true}}
	sh.Settings.Notifications.TokenURL, sh.Settings.Notifications.TokenEmailBuyer = true, true
	sh.Settings.Notifications.TokenEmailMerchant = true
	if err := db.InsertShop(ctx, sh, nil, nil, clk.Now()); err != nil {
		t.Fatal(err)
	}
	other := shop.Shop{ID: otherShop, Name: "Other", Currency: "EUR", Language: "en", Settings: shop.Settings{PaymentByToken: true}}
	if err := db.InsertShop(ctx, other, nil, nil, clk.Now()); err != nil {
		t.Fatal(err)
	}
	keys, err := vault.LoadKeyring(filepath.Join(t.TempDir(), "keyring.json"), "", true)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, clk: clk, vault: vault.New(db, keys, clk), subs: newSubs(), sh: sh}
	sim := simulator.New(simulator.Config{Clock: clk})
	e.acq = &watchedAcquirer{Connector: sim}
	e.pay = payment.New(db, clk, e.acq, payment.CardVault(e.vault), payment.Config{AcquirerTimeout: 5 * time.Second})
	e.wallet = wallet.New(wallet.Options{DB: db, Vault: e.vault, Payments: e.pay, Subscriptions: e.subs, Clock: clk})

	api := v4.New(v4.Options{Auth: auth{db}, Clock: clk})
	api.RegisterBase()
	api.RegisterPayments(e.pay)
	api.RegisterWallet(e.wallet)
	pages := hosted.New(hosted.Options{Payments: hostedPayments{pay: e.pay, db: db, wallet: e.wallet}, Keys: keys4{},
		Authenticator: sim, SealKey: []byte("0123456789abcdef0123456789abcdef"), Clock: clk, Wallet: e.wallet.Hosted()})
	mux := http.NewServeMux()
	mux.Handle("/api-payment/V4/{name...}", api)
	pages.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) ctx() context.Context { return context.Background() }

// setShop changes the demo shop's settings.
func (e *env) setShop(fn func(*shop.Settings)) {
	e.t.Helper()
	sh, err := e.db.Shop(e.ctx(), shopID)
	if err != nil {
		e.t.Fatal(err)
	}
	fn(&sh.Settings)
	if err := e.db.UpdateShop(e.ctx(), sh, e.clk.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// call posts a V4 web service with the demo shop's TEST key and returns
// the envelope's status and answer.
func (e *env) call(name string, body any) (string, map[string]any) {
	e.t.Helper()
	return e.callAs(shopID, password, name, body)
}

func (e *env) callAs(id, pw, name string, body any) (string, map[string]any) {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api-payment/V4/"+name, bytes.NewReader(b))
	req.SetBasicAuth(id, pw)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var env struct {
		Status string         `json:"status"`
		Answer map[string]any `json:"answer"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		e.t.Fatalf("%s: %v: %s", name, err, raw)
	}
	return env.Status, env.Answer
}

// ok calls a web service that must succeed.
func (e *env) ok(name string, body any) map[string]any {
	e.t.Helper()
	status, a := e.call(name, body)
	if status != "SUCCESS" {
		e.t.Fatalf("%s: %s %v", name, status, a)
	}
	return a
}

// fails calls a web service that must answer errorCode code.
func (e *env) fails(name string, body any, code string) map[string]any {
	e.t.Helper()
	status, a := e.call(name, body)
	if status != "ERROR" || a["errorCode"] != code {
		e.t.Fatalf("%s: %s %v, want error %s", name, status, a, code)
	}
	return a
}

// formToken creates a payment and returns its formToken.
func (e *env) formToken(body map[string]any) string {
	e.t.Helper()
	a := e.ok("Charge/CreatePayment", body)
	ft, _ := a["formToken"].(string)
	if ft == "" {
		e.t.Fatalf("no formToken in %v", a)
	}
	return ft
}

func walletPayment(amount int, order, ref string) map[string]any {
	return map[string]any{"amount": amount, "currency": "EUR", "orderId": order, "formAction": "CUSTOMER_WALLET",
		"customer": map[string]any{"email": "buyer@example.com", "reference": ref}}
}

// tokens lists a wallet by CustomerWallet/Get.
func (e *env) tokens(ref, status string) []map[string]any {
	e.t.Helper()
	body := map[string]any{"customerReference": ref}
	if status != "" {
		body["tokenStatus"] = status
	}
	a := e.ok("CustomerWallet/Get", body)
	var out []map[string]any
	list, _ := a["tokens"].([]any)
	for _, x := range list {
		out = append(out, x.(map[string]any))
	}
	return out
}

// tokenize saves a card straight into the vault (a wallet token when ref
// is set) with customer details.
func (e *env) tokenize(pan, ref, mode string, exp card.Expiry, customer string) vault.Token {
	e.t.Helper()
	p, err := card.ParsePAN(pan)
	if err != nil {
		e.t.Fatal(err)
	}
	if customer == "" {
		customer = "{}"
	}
	t, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: shopID, Mode: mode, PAN: p, Expiry: exp,
		CustomerReference: ref, Customer: json.RawMessage(customer), Origin: "V4"})
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

// outbox lists the (channel, event, target) of the messages about a token.
func (e *env) outbox(token string) []string {
	e.t.Helper()
	rows, err := e.db.Reader().Query(`SELECT channel, event, target FROM outbox WHERE ordering_key LIKE $1 ORDER BY created_at, id`,
		"token:"+token+"%")
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c, ev, target string
		if err := rows.Scan(&c, &ev, &target); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, c+" "+ev+" "+target)
	}
	return out
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if e, ok := errs.As(err); !ok || e.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}

// hostedPayments is the app's adapter of the payment service to the pages
// (internal/app/hostedpayments.go), rebuilt here for the stack under test.
type hostedPayments struct {
	pay    *payment.Service
	db     *store.DB
	wallet *wallet.Service
}

func (h hostedPayments) Form(ctx context.Context, formToken string) (hosted.Form, error) {
	p, err := h.pay.PaymentForToken(ctx, formToken)
	if err != nil {
		if e, ok := errs.As(err); ok && e.Code == payment.CodeFormToken {
			return hosted.Form{}, hosted.ErrFormNotFound
		}
		return hosted.Form{}, err
	}
	sh, err := h.db.Shop(ctx, p.ShopID)
	if err != nil {
		return hosted.Form{}, err
	}
	lang := ""
	if l := p.Customer.BillingDetails.Language; l != nil {
		lang = strings.ToLower(*l)
	}
	return hosted.Form{FormToken: formToken, ShopID: p.ShopID, ShopName: sh.Name, Mode: p.Mode, Language: lang,
		Amount: p.Amount, Currency: p.Currency, OrderID: p.OrderID, AttemptsLeft: p.AttemptsLeft(),
		Expired: p.FormExpired(h.pay.Now()), Completed: p.Completed(), FormAction: p.FormAction, OneClick: p.OneClick(),
		StrongAuthentication: p.Options.StrongAuthentication}, nil
}

func (h hostedPayments) Outcome(ctx context.Context, formToken string) (hosted.Outcome, error) {
	p, err := h.pay.PaymentForToken(ctx, formToken)
	if err != nil {
		return hosted.Outcome{}, err
	}
	return h.wallet.HostedFinalOutcome(ctx, p)
}

func (h hostedPayments) PayCard(ctx context.Context, formToken string, in hosted.CardInput) (hosted.Outcome, error) {
	p, t, err := h.pay.PayCard(ctx, formToken, payment.CardInput{PAN: in.PAN, Expiry: in.Expiry, CVV: in.CVV,
		Holder: in.Holder, SaveCard: in.Save, ThreeDS: in.ThreeDS})
	if err != nil {
		return hosted.Outcome{}, wallet.HostedError(err)
	}
	// The app's adapter answers with wallet.HostedOutcome (the buyer's
	// message of each outcome): so does this one.
	return wallet.HostedOutcome(p, t, h.pay.Now())
}

type keys4 struct{}

func (keys4) HMACKey(_ context.Context, id, _ string) (string, error) {
	if id == shopID {
		return hmacKey, nil
	}
	return "", errors.New("unknown shop")
}

func (keys4) PublicKeyShop(_ context.Context, pk string) (string, string, error) {
	if pk == publicKey {
		return shopID, shop.ModeTest, nil
	}
	return "", "", errors.New("unknown public key")
}

// count runs a SELECT COUNT(*).
func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Reader().QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}
