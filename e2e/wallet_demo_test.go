package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
)

// A returning buyer in /demo: saves a card, comes back, pays with it,
// deletes the card; the merchant sees the cancelled token through
// CustomerWallet/Get with tokenStatus CANCELLED.
func TestReturningBuyerWalletInDemo(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := browsertest.New(t)
	must := mustDo(t)
	checkout := func(what string) {
		must(chromedp.Do(ctx,
			chromedp.Navigate(s.URL+"/demo"),
			chromedp.WaitVisible(chromedp.CSS("#account-mug")),
			chromedp.SendKeys(chromedp.CSS("#account-mug"), "cust-e2e"),
			chromedp.Click(chromedp.CSS("ul.products li:first-child button")),
			chromedp.WaitVisible(chromedp.CSS(".kr-embedded iframe")),
		), what)
	}
	paid := func(what string) {
		must(chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("dl.facts"))), what)
		page, err := chromedp.Run(ctx, browsertest.Text("main"))
		must(err, what)
		if !strings.Contains(page, "Signature verified") || !strings.Contains(page, "PAID") {
			t.Fatalf("%s: %s", what, page)
		}
	}

	// 1. First visit: a new card, "Save my card" ticked.
	checkout("first checkout")
	in := frameQuery(t, ctx, "#kr-pan")
	must(chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970100000000055", in),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry(), in),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123", in),
		chromedp.Click(chromedp.CSS("#kr-save"), in),
		chromedp.Click(chromedp.CSS("#kr-pay"), in),
	), "paying and saving the card")
	paid("first payment")

	// 2. Back again: the saved card is chosen; its security code (never
	// stored) confirms it.
	checkout("second checkout")
	in = frameQuery(t, ctx, "#kr-panel-saved .saved-card")
	must(chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-saved-csc"), "123", in),
		chromedp.Click(chromedp.CSS("#kr-pay"), in),
	), "paying with the saved card and its security code")
	paid("saved-card payment")

	// 3. Third visit: the buyer deletes the card (automatic mode: confirm);
	// it was the only one, so the "New card" tab opens by itself.
	checkout("third checkout")
	in = frameQuery(t, ctx, "#kr-panel-saved .trash")
	must(chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#kr-panel-saved .trash"), in),
		chromedp.WaitVisible(chromedp.CSS("#kr-confirm"), in),
		chromedp.Click(chromedp.CSS("#kr-confirm-yes"), in),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan"), in),
	), "deleting the card")
	browsertest.NoConsoleErrors(t, ctx)

	// 4. The merchant's view: the token is CANCELLED, still listed.
	env := s.v4(t, "CustomerWallet/Get", map[string]any{"customerReference": "cust-e2e", "tokenStatus": "CANCELLED"})
	tokens, _ := answer(env)["tokens"].([]any)
	if env["status"] != "SUCCESS" || len(tokens) != 1 {
		t.Fatalf("CustomerWallet/Get CANCELLED: %v", env)
	}
	if st := tokens[0].(map[string]any)["status"]; st != "CANCELLED" {
		t.Fatalf("token status %v", st)
	}
	active := s.v4(t, "CustomerWallet/Get", map[string]any{"customerReference": "cust-e2e"})
	if toks, _ := answer(active)["tokens"].([]any); len(toks) != 0 {
		t.Fatalf("the deleted card is still ACTIVE: %v", active)
	}
	if page := get(t, s.URL+"/demo/wallet?account=cust-e2e"); !strings.Contains(page, "CANCELLED") {
		t.Fatalf("the demo's merchant view does not show the cancelled card:\n%s", page)
	}
}
