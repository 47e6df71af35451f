package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
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
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		want := `openpsp_pending_operations{op="` + op + `"} `
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), want); ok {
				return v
			}
		}
		return "absent"
	}

	ctx := context.Background()
	pan, _ := card.ParsePAN("4970100000000055")
	tok, err := a.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: shop.DemoShopID, Mode: shop.ModeTest,
		PAN: pan, Expiry: card.Expiry{Month: 12, Year: time.Now().Year() + 3}, HolderName: "Pending Buyer", Origin: "V4"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"amount": 1000, "currency": "EUR", "orderId": "pending-metric",
		"formAction": "SILENT", "paymentMethodToken": tok.Value,
		"transactionOptions": map[string]any{"cardOptions": map[string]any{"captureDelay": 3}}})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api-payment/V4/Charge/CreatePayment", strings.NewReader(string(body)))
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
	if err != nil || env.Status != "SUCCESS" || len(env.Answer.Transactions) != 1 || env.Answer.Transactions[0].DetailedStatus != "AUTHORISED" {
		t.Fatalf("payment: %+v %v", env, err)
	}
	uuid := env.Answer.Transactions[0].UUID

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
