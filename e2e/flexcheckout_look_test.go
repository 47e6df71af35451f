package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
)

// fieldLook is how a page draws a field's label and input, its first
// button and its errors, as the browser computes them.
type fieldLook struct {
	LabelWeight, LabelSize, InputHeight, InputRadius, InputBorder string
	ButtonHeight, ButtonWeight, ErrorColor, InvalidBorder         string
	ScrollWidth, ClientWidth                                      int
}

// lookScript reads a fieldLook: label and input are the selectors of the
// card number's, button the submit's, errorText a field error's (hidden
// ones still have a colour), invalid an input marked invalid.
func lookScript(label, input, button, errorText, invalid string) string {
	return fmt.Sprintf(`(function () {
		function cs(sel) { return getComputedStyle(document.querySelector(sel)); }
		var l = cs(%q), i = cs(%q), b = cs(%q);
		return {
			LabelWeight: l.fontWeight, LabelSize: l.fontSize,
			InputHeight: i.height, InputRadius: i.borderTopLeftRadius, InputBorder: i.borderTopColor,
			ButtonHeight: b.height, ButtonWeight: b.fontWeight,
			ErrorColor: cs(%q).color, InvalidBorder: cs(%q).borderTopColor + ' ' + cs(%q).borderTopWidth,
			ScrollWidth: document.documentElement.scrollWidth, ClientWidth: document.documentElement.clientWidth,
		};
	})()`, label, input, button, errorText, invalid, invalid)
}

// TestFlexCheckoutLooksLikeTheHostedPage: a buyer of an Ingenico merchant
// sees FlexCheckout's card page where a PayZen merchant's buyer sees the
// hosted payment page; they looked like two products (14px normal-weight
// labels, 2.4rem fields, small buttons, another blue and red). Both now
// take their tokens from one stylesheet: on a phone the labels, fields,
// buttons and error colours computed by the browser are the same, and
// neither page scrolls sideways from 320 to 414px nor on a desktop.
func TestFlexCheckoutLooksLikeTheHostedPage(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := browsertest.New(t)
	must := mustDo(t)
	ft, _ := answer(s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 1990, "currency": "EUR", "orderId": "look-1"}))["formToken"].(string)
	if ft == "" {
		t.Fatal("no formToken")
	}
	must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/demo/flexcheckout?lang=fr")), "the demo merchant page")
	_ = frameQuery(t, ctx, "#cardno")
	flexURL, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('iframe').src`))
	must(err, "the FlexCheckout address")

	for _, width := range []int64{320, 375, 414, 1280} {
		must(chromedp.Do(ctx, chromedp.EmulateViewport(width, 800)), "the viewport")
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft+"?kr-language=fr"), chromedp.WaitVisible(chromedp.CSS("#kr-pan"))), "the hosted page")
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('kr-holder').setAttribute('aria-invalid', 'true'), true`))
		must(err, "marking a field invalid")
		hosted, err := chromedp.Run(ctx, chromedp.Evaluate[fieldLook](lookScript(`label[for="kr-pan"]`, "#kr-pan", "#kr-pay", "#kr-pan-error", "#kr-holder")))
		must(err, "the hosted page's look")
		// Sent with a name only, the FlexCheckout form comes back with its
		// errors, the name's field valid.
		must(chromedp.Do(ctx, chromedp.Navigate(flexURL), chromedp.WaitVisible(chromedp.CSS("#cardno")),
			chromedp.SendKeys(chromedp.CSS("#cn"), "Jeanne Martin"), chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#err-cardno"))), "FlexCheckout's errors")
		if width == 320 {
			// One main landmark on OpenPSP's own layout (a merchant
			// template brings its own page structure).
			mains, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('main').length`))
			must(err, "FlexCheckout's landmarks")
			if mains != 1 {
				t.Errorf("FlexCheckout's page has %d main landmarks, want 1", mains)
			}
		}
		flex, err := chromedp.Run(ctx, chromedp.Evaluate[fieldLook](lookScript(`label[for="cardno"]`, "#cn", "#submit", "#err-cardno", "#cardno")))
		must(err, "FlexCheckout's look")
		for _, p := range []struct {
			name string
			l    *fieldLook
		}{{"hosted", &hosted}, {"FlexCheckout", &flex}} {
			if p.l.ScrollWidth > p.l.ClientWidth {
				t.Errorf("%dpx: the %s page is %dpx wide, it scrolls sideways", width, p.name, p.l.ScrollWidth)
			}
			p.l.ScrollWidth, p.l.ClientWidth = 0, 0
		}
		if flex != hosted {
			t.Errorf("%dpx: FlexCheckout draws\n %+v\nthe hosted page\n %+v", width, flex, hosted)
		}
	}
	browsertest.NoConsoleErrors(t, ctx)
}
