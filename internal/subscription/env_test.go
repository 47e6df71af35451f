package subscription

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/vault"
)

// Test cards of the simulator (docs/test-cards.md).
const (
	cardOK          = "4970100000000055"
	cardSubRefused  = "4970101000001002" // token fine, every payment refused (61)
	cardUnavailable = "4970109900000065" // acquirer unreachable: ERROR
	cardTimeout     = "4970109900000073" // no answer in time, approved: recovered by inquiry
)

// env is a subscription service over a real database, with the real
// payment service, card vault and the simulator acquirer.
type env struct {
	t     *testing.T
	db    *store.DB
	clk   *clock.Fake
	sim   *simulator.Simulator
	keys  *vault.Keyring
	vault *vault.Vault
	pay   *payment.Service
	svc   *Service
	shop  shop.Shop
	creds shop.Credentials
}

var t0 = time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	sh := shop.Shop{ID: "69876357", Name: "Demo", Currency: "EUR", Language: "en",
		NotificationURL: "https://merchant.example/ipn", Settings: shop.Settings{PaymentByToken: true}}
	if err := db.InsertShop(context.Background(), sh, nil, nil, clk.Now()); err != nil {
		t.Fatalf("insert shop: %v", err)
	}
	keys, err := vault.LoadKeyring(filepath.Join(t.TempDir(), "keyring.json"), "", true)
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	e := &env{t: t, db: db, clk: clk, keys: keys, shop: sh, creds: shop.Credentials{ShopID: sh.ID, Mode: shop.ModeTest},
		sim: simulator.New(simulator.Config{Clock: clk, TimeoutHold: 50 * time.Millisecond})}
	e.vault, e.pay, e.svc = e.copyOn(db, Config{})
	return e
}

// copyOn builds the services of one more openpsp copy on db (the same
// database, or another handle on it), sharing the acquirer and keyring.
func (e *env) copyOn(db *store.DB, cfg Config) (*vault.Vault, *payment.Service, *Service) {
	v := vault.New(db, e.keys, e.clk)
	pay := payment.New(db, e.clk, e.sim, payment.CardVault(v), payment.Config{AcquirerTimeout: 300 * time.Millisecond})
	if cfg.Lease == 0 {
		cfg.Lease = time.Minute
	}
	return v, pay, New(db, e.clk, pay, v, cfg)
}

func (e *env) ctx() context.Context { return context.Background() }

// token stores a card and returns its token.
func (e *env) token(pan string) string {
	e.t.Helper()
	p, err := card.ParsePAN(pan)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeTest, PAN: p,
		Expiry: card.Expiry{Month: 12, Year: 2035}})
	if err != nil {
		e.t.Fatalf("tokenize: %v", err)
	}
	return tok.Value
}

func (e *env) create(in CreateInput) Subscription {
	e.t.Helper()
	if in.Currency == "" {
		in.Currency = "EUR"
	}
	if in.EffectDate.IsZero() {
		in.EffectDate = e.clk.Now()
	}
	sub, err := e.svc.Create(e.ctx(), e.shop, e.creds, in)
	if err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	return sub
}

func (e *env) get(sub Subscription) Subscription {
	e.t.Helper()
	got, err := e.svc.Get(e.ctx(), e.shop.ID, shop.ModeTest, sub.ID, sub.Token)
	if err != nil {
		e.t.Fatalf("Get: %v", err)
	}
	return got
}

// run calls ChargeDue and checks how many payments it made.
func (e *env) run(want int) {
	e.t.Helper()
	n, err := e.svc.ChargeDue(e.ctx(), 100)
	if err != nil || n != want {
		e.t.Fatalf("ChargeDue at %s = %d, %v; want %d", e.clk.Now().Format(time.RFC3339), n, err, want)
	}
}

func (e *env) instalments(sub Subscription) []Instalment {
	e.t.Helper()
	is, err := e.svc.Instalments(e.ctx(), e.shop.ID, sub.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return is
}

func (e *env) attempts(sub Subscription) []store.AttemptRecord {
	e.t.Helper()
	as, err := store.SubscriptionAttempts(e.ctx(), e.db.Reader(), sub.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return as
}

// ipns returns the IPN messages of a payment.
func (e *env) ipns(paymentID string) []outbox.Message {
	e.t.Helper()
	rows, err := e.db.Reader().Query(`SELECT channel, event, target, payload FROM outbox WHERE ordering_key = $1
		AND channel = 'ipn' ORDER BY created_at, id`, paymentID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []outbox.Message
	for rows.Next() {
		var m outbox.Message
		if err := rows.Scan(&m.Channel, &m.Event, &m.Target, &m.Payload); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func wantCode(t *testing.T, err error, code string) *errs.Error {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	return e
}

func ptr[T any](v T) *T { return &v }
