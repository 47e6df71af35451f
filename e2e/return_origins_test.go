package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
)

// Whoever had a buyer's formToken could send the signed kr-answer (the
// buyer's email, the masked card) to an address of their choosing by
// putting it in the hosted page's kr-post-url-success. A shop that lists
// its return origins (return-origins) now has such a page refused, as an
// invalid return address in the buyer's language, and no card is taken
// there; its own origin still works, and a shop that lists none keeps
// PayZen's rule.
func TestHostedReturnOriginsThroughTheServer(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	const merchant = "http://127.0.0.1:9" // an allowed loopback origin; never dialled
	const foreign = "https://collector.example/steal"
	sh, err := s.Shops.Get(ctx, shop.DemoShopID)
	if err != nil {
		t.Fatal(err)
	}
	sh.Settings.ReturnOrigins = []string{"https://shop.example", merchant}
	if err := s.Shops.Update(ctx, sh); err != nil {
		t.Fatal(err)
	}
	create := func(orderID string) string {
		ft, _ := answer(s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 900, "currency": "EUR", "orderId": orderID}))["formToken"].(string)
		if ft == "" {
			t.Fatal("no formToken")
		}
		return ft
	}
	get := func(ft, success string) (int, string) {
		t.Helper()
		resp, err := http.Get(s.URL + "/pay/" + ft + "?kr-language=fr&kr-post-url-success=" + url.QueryEscape(success))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	card := url.Values{"pan": {acceptedCard}, "expiry": {"12/" + futureExpiry()[2:]}, "csc": {"123"}}
	const refusal = "L’adresse de retour de la boutique n’est pas valide."

	ft := create("return-origins-1")
	if code, page := get(ft, foreign); code != http.StatusBadRequest || !strings.Contains(page, refusal) {
		t.Fatalf("foreign return address: %d\n%s", code, page)
	}
	var out map[string]any
	postCardForm(t, s, ft+"?kr-language=fr&kr-post-url-success="+url.QueryEscape(foreign), card, &out)
	if out["accepted"] == true || out["return"] != nil || out["step"] != "error" {
		t.Fatalf("a card posted with a foreign return address answered %v", out)
	}
	if p, err := s.Payments.PaymentForToken(ctx, ft); err != nil || p.OrderStatus != payment.StatusUnpaid || len(p.Transactions) != 0 {
		t.Fatalf("after the refused post: %v %d transactions (%v)", p.OrderStatus, len(p.Transactions), err)
	}
	if code, page := get(ft, "https://shop.example/ok"); code != http.StatusOK || strings.Contains(page, refusal) {
		t.Fatalf("allowed return address: %d\n%s", code, page)
	}
	var paid struct {
		Accepted bool `json:"accepted"`
		Return   *struct {
			Action string `json:"action"`
		} `json:"return"`
	}
	postCardForm(t, s, ft+"?kr-language=fr&kr-post-url-success="+url.QueryEscape(merchant+"/paid"), card, &paid)
	if !paid.Accepted || paid.Return == nil || paid.Return.Action != merchant+"/paid" {
		t.Fatalf("paying with the allowed return address: %+v", paid)
	}

	// The embedded form (the JS client's frame) of this shop: framed by
	// its origins only (frame-ancestors), and refused to a merchant page
	// of another origin, whose post takes no card.
	frame := func(ft, parent string) (int, string, string) {
		t.Helper()
		q := url.Values{"kr-public-key": {shop.DemoTestPublicKey}, "origin": {parent}, "kr-language": {"fr"}}
		resp, err := http.Get(s.URL + "/embedded/" + ft + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Security-Policy"), string(b)
	}
	const ancestors = "frame-ancestors https://shop.example " + merchant + ";"
	ft = create("return-origins-embedded")
	if code, csp, page := frame(ft, "https://evil.example"); code != http.StatusBadRequest || !strings.Contains(csp, ancestors) ||
		!strings.Contains(page, `data-error-code="CLIENT_997"`) || strings.Contains(page, "data-parent-origin") {
		t.Fatalf("embedded form under a foreign page: %d %s\n%s", code, csp, page)
	}
	if code, csp, page := frame(ft, merchant); code != http.StatusOK || !strings.Contains(csp, ancestors) || !strings.Contains(page, `id="kr-pay"`) {
		t.Fatalf("embedded form under the shop's page: %d %s\n%s", code, csp, page)
	}

	// Cleared: today's rule, any return address.
	sh, err = s.Shops.Get(ctx, shop.DemoShopID)
	if err != nil {
		t.Fatal(err)
	}
	sh.Settings.ReturnOrigins = nil
	if err := s.Shops.Update(ctx, sh); err != nil {
		t.Fatal(err)
	}
	if code, page := get(create("return-origins-2"), foreign); code != http.StatusOK || strings.Contains(page, refusal) {
		t.Fatalf("no return origins, any address: %d\n%s", code, page)
	}
	if code, csp, _ := frame(create("return-origins-3"), "https://evil.example"); code != http.StatusOK || !strings.Contains(csp, "frame-ancestors *") {
		t.Fatalf("no return origins, any framing page: %d %s", code, csp)
	}
}
