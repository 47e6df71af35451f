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

	// The capture date: captured by the capture job.
	clk.Set(start.AddDate(0, 0, 20).Add(time.Minute))
	waitStatus(ok, "CAPTURED")
	waitIPN(ok, "CAPTURED")
}
