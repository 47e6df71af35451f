package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// A SILENT token payment whose captureDelay (20 days) is beyond the
// shop's authorization validity (7 days) is WAITING_AUTHORISATION after
// its card check; the day before its capture date the server authorizes
// it, then captures it on the date, and the merchant's IPN tells each
// step. A card accepted at verification and refused at authorization ends
// REFUSED with its IPN. The real server runs its jobs on a clock the test
// moves.
func TestDeferredAuthorizationOverHTTP(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { deferredAuthorizationFlow(t, engine) })
	}
}

func deferredAuthorizationFlow(t *testing.T, engine string) {
	start := time.Now().UTC()
	clk := clock.NewFake(start)
	s := startServer(t, serverOpts{engine: engine, clock: clk})
	ctx := context.Background()

	sh, err := s.DB.Shop(ctx, shop.DemoShopID)
	if err != nil {
		t.Fatal(err)
	}
	sh.Settings.IPNOnBatchAuthorization = true
	sh.Settings.IPNOnBatchChange = true
	if err := s.DB.UpdateShop(ctx, sh, clk.Now()); err != nil {
		t.Fatal(err)
	}

	type ipnTx struct {
		UUID           string `json:"uuid"`
		DetailedStatus string `json:"detailedStatus"`
	}
	ipns := make(chan ipnTx, 32)
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		var a struct {
			Transactions []ipnTx `json:"transactions"`
		}
		if json.Unmarshal([]byte(r.PostForm.Get("kr-answer")), &a) == nil && len(a.Transactions) == 1 {
			ipns <- a.Transactions[0]
		}
		io.WriteString(w, "OK")
	}))
	defer merchant.Close()

	pay := func(pan, orderID string) string {
		t.Helper()
		p, _ := card.ParsePAN(pan)
		tok, err := s.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: shop.DemoShopID, Mode: shop.ModeTest,
			PAN: p, Expiry: card.Expiry{Month: 12, Year: start.Year() + 3}, Origin: "V4"})
		if err != nil {
			t.Fatal(err)
		}
		env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 4200, "currency": "EUR", "orderId": orderID,
			"formAction": "SILENT", "paymentMethodToken": tok.Value, "ipnTargetUrl": merchant.URL + "/ipn",
			"transactionOptions": map[string]any{"cardOptions": map[string]any{"captureDelay": 20}}})
		a := answer(env)
		txs, _ := a["transactions"].([]any)
		if env["status"] != "SUCCESS" || a["orderStatus"] != "RUNNING" || len(txs) != 1 {
			t.Fatalf("CreatePayment: %v", env)
		}
		tx := txs[0].(map[string]any)
		if tx["detailedStatus"] != "WAITING_AUTHORISATION" || tx["status"] != "RUNNING" {
			t.Fatalf("payment transaction: %v", tx)
		}
		return tx["uuid"].(string)
	}
	get := func(uuid string) string {
		t.Helper()
		a := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))
		d, _ := a["detailedStatus"].(string)
		return d
	}
	waitStatus := func(uuid, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for get(uuid) != want {
			if time.Now().After(deadline) {
				t.Fatalf("transaction %s is %s, want %s", uuid, get(uuid), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	seen := map[string][]string{}
	waitIPN := func(uuid, want string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			for _, d := range seen[uuid] {
				if d == want {
					return
				}
			}
			select {
			case tx := <-ipns:
				seen[tx.UUID] = append(seen[tx.UUID], tx.DetailedStatus)
			case <-deadline:
				t.Fatalf("no IPN with %s for %s; seen %v", want, uuid, seen[uuid])
			}
		}
	}

	ok := pay("4970100000000055", "deferred-ok")
	refused := pay("4970109900000016", "deferred-refused") // verification passes, payment refused 51
	typed, typedCard := payTyped(t, s, merchant.URL+"/ipn", "deferred-typed")
	if got := get(ok); got != "WAITING_AUTHORISATION" {
		t.Fatalf("Transaction/Get: %s", got)
	}
	waitIPN(ok, "WAITING_AUTHORISATION")
	waitIPN(refused, "WAITING_AUTHORISATION")

	// Eighteen days on: still waiting (the jobs run meanwhile).
	clk.Set(start.AddDate(0, 0, 18))
	time.Sleep(300 * time.Millisecond)
	if got := get(ok); got != "WAITING_AUTHORISATION" {
		t.Fatalf("at D-2: %s", got)
	}

	// D-1: authorized, or refused.
	clk.Set(start.AddDate(0, 0, 19))
	waitStatus(ok, "AUTHORISED")
	waitIPN(ok, "AUTHORISED")
	waitStatus(refused, "REFUSED")
	waitIPN(refused, "REFUSED")
	waitStatus(typed, "AUTHORISED")
	waitIPN(typed, "AUTHORISED")
	// Its card is erased with the authorization's outcome.
	var status string
	if err := s.DB.Reader().QueryRow(`SELECT status FROM tokens WHERE shop_id = $1 AND token = $2`,
		shop.DemoShopID, typedCard).Scan(&status); err != nil || status != "PURGED" {
		t.Fatalf("the typed card after its authorization: %q %v", status, err)
	}

	// The capture date: captured by the capture job.
	clk.Set(start.AddDate(0, 0, 20).Add(time.Minute))
	waitStatus(ok, "CAPTURED")
	waitIPN(ok, "CAPTURED")
	waitStatus(typed, "CAPTURED")
}

// payTyped pays a 20-day deferred payment on the hosted form with a card
// the buyer types, and returns its transaction's uuid and the vault
// reference of the card kept for its D-1 authorization, after checking
// that the buyer is told it is accepted and that the merchant cannot read
// that card with Token/Get.
func payTyped(t *testing.T, s *server, ipnURL, orderID string) (uuid, cardRef string) {
	t.Helper()
	env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 4200, "currency": "EUR", "orderId": orderID,
		"ipnTargetUrl": ipnURL, "transactionOptions": map[string]any{"cardOptions": map[string]any{"captureDelay": 20}}})
	formToken, _ := answer(env)["formToken"].(string)
	if formToken == "" {
		t.Fatalf("CreatePayment: %v", env)
	}
	if got := postCard(t, s, formToken, "4970100000000055"); got["step"] != "done" || got["accepted"] != true {
		t.Fatalf("the buyer's answer: %v", got)
	}
	order := answer(s.v4(t, "Order/Get", map[string]any{"orderId": orderID}))
	txs, _ := order["transactions"].([]any)
	if len(txs) != 1 {
		t.Fatalf("Order/Get: %v", order)
	}
	tx := txs[0].(map[string]any)
	if tx["detailedStatus"] != "WAITING_AUTHORISATION" || tx["paymentMethodToken"] != nil && tx["paymentMethodToken"] != "" {
		t.Fatalf("typed-card transaction: %v", tx)
	}
	uuid = tx["uuid"].(string)
	if err := s.DB.Reader().QueryRow(`SELECT deferred_card_token FROM transactions WHERE uuid = $1`, uuid).Scan(&cardRef); err != nil || cardRef == "" {
		t.Fatalf("no card kept for the D-1 authorization: %q %v", cardRef, err)
	}
	got := s.v4(t, "Token/Get", map[string]any{"paymentMethodToken": cardRef})
	unknown := s.v4(t, "Token/Get", map[string]any{"paymentMethodToken": "00000000000000000000000000000000"})
	if got["status"] != "ERROR" || answer(got)["errorCode"] != answer(unknown)["errorCode"] {
		t.Fatalf("Token/Get of the internal card: %v; of an unknown token: %v", got, unknown)
	}
	return uuid, cardRef
}
