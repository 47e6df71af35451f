package payment

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/vault"
)

const time1min = time.Minute

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Test cards of the simulator (docs/test-cards.md).
const (
	cardOK           = "4970100000000055"
	cardRefused      = "4970109900000008"
	cardInsufficient = "4970109900000016"
	cardUnavailable  = "4970109900000065"
	cardTimeout      = "4970109900000073"
)

// env is a payment service on a real database with the simulator acquirer
// and the real card vault.
type env struct {
	t     *testing.T
	db    *store.DB
	clk   *clock.Fake
	sim   *simulator.Simulator
	vault *vault.Vault
	svc   *Service
	shop  shop.Shop
	creds shop.Credentials
	// orders numbers the orders of payDeferred.
	orders int
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	clk := clock.NewFake(mustTime("2030-03-10T09:00:00Z"))
	sh := shop.Shop{ID: "69876357", Name: "Demo", Currency: "EUR", Language: "en",
		NotificationURL: "https://merchant.example/ipn", Settings: shop.Settings{PaymentByToken: true}}
	if err := db.InsertShop(context.Background(), sh, nil, nil, clk.Now()); err != nil {
		t.Fatalf("insert shop: %v", err)
	}
	keys, err := vault.LoadKeyring(filepath.Join(t.TempDir(), "keyring.json"), "", true)
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	v := vault.New(db, keys, clk)
	sim := simulator.New(simulator.Config{Clock: clk, TimeoutHold: 50 * time.Millisecond})
	svc := New(db, clk, sim, CardVault(v), Config{AcquirerTimeout: 200 * time.Millisecond})
	return &env{t: t, db: db, clk: clk, sim: sim, vault: v, svc: svc, shop: sh,
		creds: shop.Credentials{ShopID: sh.ID, Mode: shop.ModeTest}}
}

func (e *env) ctx() context.Context { return context.Background() }

// ipnOnBatchChange switches the shop's IPN on captures made by the job.
func (e *env) ipnOnBatchChange(on bool) {
	e.t.Helper()
	e.shop.Settings.IPNOnBatchChange = on
	if err := e.db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
		e.t.Fatalf("update shop: %v", err)
	}
}

// create makes a payment of amount EUR cents and returns its formToken.
func (e *env) create(in CreateInput) (Payment, string) {
	e.t.Helper()
	if in.Currency == "" {
		in.Currency = "EUR"
	}
	p, ft, err := e.svc.CreatePayment(e.ctx(), e.shop, e.creds, in)
	if err != nil {
		e.t.Fatalf("CreatePayment: %v", err)
	}
	return p, ft
}

func cardIn(pan string) CardInput {
	p, err := card.ParsePAN(pan)
	if err != nil {
		panic(err)
	}
	cvv, _ := card.NewSecurityCode("123")
	return CardInput{PAN: p, Expiry: card.Expiry{Month: 12, Year: 2032}, CVV: cvv, Holder: "Jane Doe"}
}

// pay creates a payment and pays it with pan.
func (e *env) pay(in CreateInput, pan string) (Payment, Transaction) {
	e.t.Helper()
	_, ft := e.create(in)
	p, tx, err := e.svc.PayCard(e.ctx(), ft, cardIn(pan))
	if err != nil {
		e.t.Fatalf("PayCard: %v", err)
	}
	return p, tx
}

// token stores a card in the vault and returns its token.
func (e *env) token(pan string) string {
	e.t.Helper()
	c := cardIn(pan)
	tok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeTest, PAN: c.PAN, Expiry: c.Expiry})
	if err != nil {
		e.t.Fatalf("tokenize: %v", err)
	}
	return tok.Value
}

func (e *env) get(uuid string) Transaction {
	e.t.Helper()
	_, tx, err := e.svc.Get(e.ctx(), e.shop.ID, uuid)
	if err != nil {
		e.t.Fatalf("Get %s: %v", uuid, err)
	}
	return tx
}

// ipns returns the IPN messages of a payment, oldest first.
func (e *env) ipns(paymentID string) []outbox.Message {
	e.t.Helper()
	rows, err := e.db.Reader().Query(`SELECT id, shop_id, channel, event, ordering_key, target, payload FROM outbox
		WHERE ordering_key = $1 ORDER BY created_at, id`, paymentID)
	if err != nil {
		e.t.Fatalf("outbox: %v", err)
	}
	defer rows.Close()
	var out []outbox.Message
	for rows.Next() {
		var m outbox.Message
		if err := rows.Scan(&m.ID, &m.ShopID, &m.Channel, &m.Event, &m.OrderingKey, &m.Target, &m.Payload); err != nil {
			e.t.Fatalf("outbox: %v", err)
		}
		out = append(out, m)
	}
	return out
}

// events lists the IPN events of a payment.
func (e *env) events(paymentID string) []string {
	var ev []string
	for _, m := range e.ipns(paymentID) {
		ev = append(ev, m.Event)
	}
	return ev
}

func wantCode(t *testing.T, err error, code string) *errs.Error {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	return e
}

func wantStatus(t *testing.T, tx Transaction, detailed string) {
	t.Helper()
	if tx.DetailedStatus != detailed || tx.Status != StatusOf(detailed) {
		t.Fatalf("transaction %s is %s/%s, want %s/%s", tx.UUID, tx.Status, tx.DetailedStatus, StatusOf(detailed), detailed)
	}
}

// decode parses a kr-answer into a generic map.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}
