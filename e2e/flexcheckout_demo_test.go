package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
)

// FlexCheckout as a merchant uses it: the demo page opens FlexCheckout in an
// iframe with the demo PSPID, the buyer saves a card, the merchant checks
// SHA-OUT and charges the alias through DirectLink; the V4 API sees the
// same payment.
func TestFlexCheckoutDemoInBrowser(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := browsertest.New(t)
	must := mustDo(t)
	must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/demo/flexcheckout?lang=fr")), "opening the merchant page")
	in := frameQuery(t, ctx, "#cardno")
	must(chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#cardno"), "4970100000000055", in),
		chromedp.SendKeys(chromedp.CSS("#cn"), "Jeanne Martin", in),
		chromedp.SetValue(chromedp.CSS("#expm"), "11", in),
		chromedp.SetValue(chromedp.CSS("#expy"), "2033", in),
		chromedp.SendKeys(chromedp.CSS("#cvc"), "123", in),
		chromedp.Click(chromedp.CSS("#submit"), in),
	), "saving the card")
	res := frameQuery(t, ctx, "#charge")
	text, err := chromedp.Run(ctx, browsertest.Text("main", res))
	must(err, "reading the result")
	for _, want := range []string{"SHA-OUT verified", "0 (created)", "XXXXXXXXXXXX0055", "basket=demo-42"} {
		if !strings.Contains(text, want) {
			t.Fatalf("FlexCheckout result lacks %q:\n%s", want, text)
		}
	}
	alias, err := chromedp.Run(ctx, browsertest.Text("#alias", res))
	must(err, "reading the alias")
	must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#charge"), res), chromedp.WaitVisible(chromedp.CSS("#dl-status"))), "charging through DirectLink")
	status, err := chromedp.Run(ctx, browsertest.Text("#dl-status"))
	must(err, "reading the DirectLink status")
	if status != "9" {
		page, _ := chromedp.Run(ctx, browsertest.Text("main"))
		t.Fatalf("DirectLink STATUS %q, want 9:\n%s", status, page)
	}
	browsertest.NoConsoleErrors(t, ctx)
	// The alias is a token of the one vault, visible through the V4 API.
	tok := s.v4(t, "Token/Get", map[string]any{"paymentMethodToken": alias})
	if tok["status"] != "SUCCESS" {
		t.Fatalf("Token/Get for the alias: %v", tok)
	}
}
