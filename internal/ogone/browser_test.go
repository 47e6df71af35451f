package ogone_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

// fillCard types a card into the form under root (nil: the page).
func fillCard(root *chromedp.Node, pan string) chromedp.Action[chromedp.Void] {
	var opts []chromedp.QueryOption
	if root != nil {
		opts = append(opts, chromedp.FromNode(root))
	}
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS("#cardno"), opts...),
		chromedp.SendKeys(chromedp.CSS("#cardno"), pan, opts...),
		chromedp.SendKeys(chromedp.CSS("#cn"), "Jeanne Martin", opts...),
		chromedp.SetValue(chromedp.CSS("#expm"), "11", opts...),
		chromedp.SetValue(chromedp.CSS("#expy"), "2033", opts...),
		chromedp.SendKeys(chromedp.CSS("#cvc"), "123", opts...),
	)
}

// text reads the text of a selector (waiting for it) into dst, as
// browsertest.Text reads it.
func text(sel string, dst *string, opts ...chromedp.QueryOption) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
		*dst, err = browsertest.Text(sel, opts...)(ctx, t)
		return err
	})
}

func click(sel string, opts ...chromedp.QueryOption) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel), opts...)
}

func visible(sel string, opts ...chromedp.QueryOption) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel), opts...)
}

// TestBrowserFlows runs the FlexCheckout pages in headless Chromium: as a
// full-page redirect (create, excluded brand, language, cancel, refused
// card) and inside the merchant's iframe with a merchant template. One
// browser serves both, since starting it is most of the cost.
func TestBrowserFlows(t *testing.T) {
	e := newEnv(t, func(o *ogone.Options) { o.MaxAttempts = 2 })
	ctx := browsertest.New(t)
	redirectFlow(ctx, t, e)
	iframeFlow(ctx, t, e)
	browsertest.NoConsoleErrors(t, ctx)
}

func redirectFlow(ctx context.Context, t *testing.T, e *env) {
	expiryLayout(ctx, t, e)

	// French page, VISA excluded: VISA is not offered and is refused inline.
	var brands, errText string
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "fr_FR",
			"PARAMETERS.EXCLUDEDPAYMENTMETHODS": "VISA", "ALIAS.STOREPERMANENTLY": "N"}))),
		text("#brands", &brands),
		fillCard(nil, visa),
		click("#submit"),
		text("#err-cardno", &errText),
	)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(brands, "VISA") || !strings.Contains(brands, "MasterCard") || !strings.Contains(brands, "Cartes acceptées") {
		t.Fatalf("brands %q", brands)
	}
	if errText != "Ce type de carte n’est pas accepté." {
		t.Fatalf("inline error %q", errText)
	}
	// A card of an accepted brand creates the alias.
	if err := chromedp.Do(ctx, fillCard(nil, mastercard), click("#submit"), visible("#result")); err != nil {
		t.Fatal(err)
	}
	path, q := e.merchant.waitReturn(t, 1)
	if path != "/accept" || q.Get("Alias.Status") != "0" || q.Get("Card.Brand") != "MasterCard" || q.Get("Alias.StorePermanently") != "N" {
		t.Fatalf("accept: %s %v", path, q)
	}
	checkSHAOut(t, q)

	// Cancel.
	if err := chromedp.Do(ctx, chromedp.Navigate(e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "it_IT"}))),
		visible("#cancel"), click("#cancel"), visible("#result")); err != nil {
		t.Fatal(err)
	}
	if path, q := e.merchant.waitReturn(t, 2); path != "/exception" || q.Get("Alias.Status") != "3" {
		t.Fatalf("cancel: %s %v", path, q)
	}

	// A refused card: an inline error, then ALIAS.STATUS 1 to the DECLINEURL.
	if err := chromedp.Do(ctx, chromedp.Navigate(e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "de_DE"}))),
		fillCard(nil, "5100010000002046"), click("#submit"), text("#err-cardno", &errText),
		fillCard(nil, "5100010000002046"), click("#submit"), visible("#result")); err != nil {
		t.Fatal(err)
	}
	if errText != "Die Kartennummer ist ungültig." {
		t.Fatalf("German inline error %q", errText)
	}
	path, q = e.merchant.waitReturn(t, 3)
	if path != "/decline" || q.Get("Alias.Status") != "1" || q.Get("Alias.NCErrorCardNo") != "30141001" {
		t.Fatalf("decline: %s %v", path, q)
	}
	checkSHAOut(t, q)
}

func iframeFlow(ctx context.Context, t *testing.T, e *env) {
	bg := context.Background()
	ancestors := []string{e.merchant.srv.URL}
	if _, err := e.admin.UpdateSettings(bg, shop.DemoShopID, ogone.SettingsChange{FrameAncestors: &ancestors}); err != nil {
		t.Fatal(err)
	}
	tpl := `<!DOCTYPE html><html><head><title>Pay</title><style>h2{font-size:14px}</style></head>
<body><h2 id="shopname">Boutique Exemple</h2>$$$PAYMENT ZONE$$$<script>alert(1)</script></body></html>`
	if _, err := e.admin.UploadTemplate(bg, shop.DemoShopID, "checkout.html", []byte(tpl)); err != nil {
		t.Fatal(err)
	}
	src := e.flexURL(e.flexParams(map[string]string{"LAYOUT.TEMPLATENAME": "checkout.html", "LAYOUT.LANGUAGE": "es_ES",
		"ALIAS.ALIASID": "iframe-alias", "ALIAS.ORDERID": "CART-9"}))
	e.merchant.mu.Lock()
	e.merchant.pages["/checkout"] = `<!DOCTYPE html><title>Checkout</title><h1>One page checkout</h1>` +
		`<iframe id="flex" width="600" height="700" src="` + strings.ReplaceAll(src, "&", "&amp;") + `"></iframe>`
	e.merchant.mu.Unlock()

	var shopName, label string
	if err := chromedp.Do(ctx, chromedp.Navigate(e.merchant.url("/checkout"))); err != nil {
		t.Fatal(err)
	}
	frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#flex")))
	if err != nil {
		t.Fatal(err)
	}
	in := chromedp.FromNode(frames[0])
	err = chromedp.Do(ctx,
		visible("#cardno", in),
		text("#shopname", &shopName, in),
		text(`label[for="cardno"]`, &label, in),
		fillCard(frames[0], visa),
		click("#submit", in),
	)
	if err != nil {
		t.Fatal(err)
	}
	if shopName != "Boutique Exemple" || label != "Número de tarjeta" {
		t.Fatalf("template %q, label %q", shopName, label)
	}
	path, q := e.merchant.waitReturn(t, 4)
	if path != "/accept" || q.Get("Alias.Status") != "0" || q.Get("Alias.AliasId") != "iframe-alias" || q.Get("Alias.OrderId") != "CART-9" {
		t.Fatalf("accept in the iframe: %s %v", path, q)
	}
	checkSHAOut(t, q)
}

// expiryLayout checks the expiry selects and the security code on a phone in
// French, whose security code label wraps: month and year stay on one line,
// and the security code's input, when beside them, lines up with them.
func expiryLayout(ctx context.Context, t *testing.T, e *env) {
	type rect struct{ Top, Bottom float64 }
	var rects []rect
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(360, 800),
		chromedp.Navigate(e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "fr_FR"}))),
		visible("#cvc"),
	)
	if err == nil {
		rects, err = chromedp.Run(ctx, chromedp.Evaluate[[]rect](`['expm', 'expy', 'cvc'].map(function (id) {
			var r = document.getElementById(id).getBoundingClientRect();
			return {Top: r.top, Bottom: r.bottom};
		})`))
	}
	if err == nil {
		err = chromedp.Do(ctx, chromedp.EmulateViewport(800, 600))
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rects) != 3 {
		t.Fatalf("rects %v", rects)
	}
	month, year, cvc := rects[0], rects[1], rects[2]
	if month.Top != year.Top {
		t.Errorf("at 360px the year select is not beside the month's: %v %v", month, year)
	}
	if cvc.Top < year.Bottom && cvc.Bottom != year.Bottom {
		t.Errorf("at 360px the security code beside the expiry does not line up with it: expiry %v, code %v", year, cvc)
	}
}

// TestBrowserFlexShopColour shows FlexCheckout for a shop with a light
// (yellow) and a dark (navy) colour, on a phone and a desktop, on OpenPSP's
// own layout and in a merchant template: the submit button is drawn in the
// shop's colour with shop.PaletteFor's text and edge (it was a fixed blue),
// the cancel button's edge is the colour darkened to 3:1 on white with
// text that reads on white, the keyboard focus shows a ring, and no CSP
// violation is logged (the colours come in a style element the page's
// policy must allow). Screenshots go to OPENPSP_SCREENSHOT_DIR when set.
func TestBrowserFlexShopColour(t *testing.T) {
	dir := os.Getenv("OPENPSP_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	e := newEnv(t)
	bg := context.Background()
	tpl := `<!DOCTYPE html><html><head><title>Pay</title><style>h2{font-size:14px}</style></head>
<body><h2>Boutique Exemple</h2>$$$PAYMENT ZONE$$$</body></html>`
	if _, err := e.admin.UploadTemplate(bg, shop.DemoShopID, "colour.html", []byte(tpl)); err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t)
	for _, color := range []string{"#ffff00", "#0b1f3a"} {
		sh, err := e.shops.Get(bg, shop.DemoShopID)
		if err != nil {
			t.Fatal(err)
		}
		sh.Settings.PrimaryColor = color
		if err := e.shops.Update(bg, sh); err != nil {
			t.Fatal(err)
		}
		pal := shop.PaletteFor(color, "#000")
		for _, layout := range []string{"", "colour.html"} {
			for _, width := range []int64{375, 1280} {
				name := fmt.Sprintf("flex-%s-%s-%d", strings.TrimPrefix(color, "#"), map[string]string{"": "own", "colour.html": "template"}[layout], width)
				type look struct{ Color, Background, Border, CancelColor, CancelBorder, Outline string }
				var shot []byte
				must := func(err error, what string) {
					t.Helper()
					if err != nil {
						t.Fatalf("%s: %s: %v", name, what, err)
					}
				}
				must(chromedp.Do(ctx,
					chromedp.EmulateViewport(width, 900),
					chromedp.Navigate(e.flexURL(e.flexParams(map[string]string{"LAYOUT.TEMPLATENAME": layout}))),
					visible("#submit"),
				), "opening the page")
				got, err := chromedp.Run(ctx, chromedp.Evaluate[look](`(function () {
  var s = getComputedStyle(document.getElementById('submit')), c = getComputedStyle(document.getElementById('cancel'));
  return {Color: s.color, Background: s.backgroundColor, Border: s.borderTopColor + ' ' + s.borderTopStyle,
    CancelColor: c.color, CancelBorder: c.borderTopColor + ' ' + c.borderTopStyle, Outline: ''};
})()`))
				must(err, "reading the buttons")
				want := look{Color: browsertest.CSSRGB(pal.On), Background: browsertest.CSSRGB(pal.Color), Border: browsertest.CSSRGB(pal.UI) + " solid",
					CancelColor: got.CancelColor, CancelBorder: browsertest.CSSRGB(pal.UI) + " solid"}
				if got != want {
					t.Errorf("%s: buttons %+v, want %+v", name, got, want)
				}
				if r := shop.ContrastRatio(hexOf(t, got.CancelColor), "#ffffff"); r < 4.5 {
					t.Errorf("%s: cancel text %s on white: %.2f:1", name, got.CancelColor, r)
				}
				// Keyboard focus on the submit button (Tab from the
				// security code or the opt-in box) draws a ring.
				must(chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#cvc")), chromedp.KeyEvent(kb.Tab)), "tabbing")
				ring, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
  var a = document.activeElement, s = getComputedStyle(a);
  return a.id + ' ' + s.outlineStyle + ' ' + s.outlineWidth;
})()`))
				must(err, "reading the focus ring")
				if ring != "submit solid 3px" {
					t.Errorf("%s: focus after Tab: %q, want the submit button with a 3px ring", name, ring)
				}
				shot, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
				must(err, "screenshot")
				must(os.WriteFile(filepath.Join(dir, name+".png"), shot, 0o644), "writing the screenshot")
			}
		}
	}
	browsertest.NoConsoleErrors(t, ctx)
}

// hexOf is a computed "rgb(r, g, b)" as #rrggbb.
func hexOf(t *testing.T, css string) string {
	t.Helper()
	var r, g, b uint8
	if _, err := fmt.Sscanf(css, "rgb(%d, %d, %d)", &r, &g, &b); err != nil {
		t.Fatalf("colour %q: %v", css, err)
	}
	return fmt.Sprintf("#%02x%02x%02x", r, g, b)
}
