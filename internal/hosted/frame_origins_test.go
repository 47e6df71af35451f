package hosted

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
)

// frameAncestorsOf returns the frame-ancestors directive of a CSP.
func frameAncestorsOf(csp string) string {
	for _, d := range strings.Split(csp, ";") {
		if d = strings.TrimSpace(d); strings.HasPrefix(d, "frame-ancestors ") {
			return d
		}
	}
	return ""
}

// Any site could frame a shop's embedded form (it only had to give its own
// origin, or the shop's, in the frame's address), take a card there and
// read the signed answer by postMessage. A shop that lists its return
// origins now has its embedded form framed by those only: another parent
// origin gets the invalid-origin message and no postMessage target, the
// form's posts are refused before any payment, and every embedded page of
// the shop names only its origins in frame-ancestors. A shop that lists
// none keeps frame-ancestors * and any parent.
func TestEmbeddedFormFramedOnlyByReturnOrigins(t *testing.T) {
	e := newEnv(t)
	locked := demoForm("locked")
	locked.ReturnOrigins = []string{"https://shop.example", "http://127.0.0.1:8081"}
	e.pay.add(locked)
	e.pay.add(demoForm("open"))
	const want = "frame-ancestors https://shop.example http://127.0.0.1:8081"

	for _, origin := range []string{"https://shop.example", "https://SHOP.example:443", "http://127.0.0.1:8081"} {
		w := e.do(t, "GET", embeddedURL("locked", origin, demoPublicKey), nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `id="kr-pay"`) {
			t.Errorf("allowed parent %s: %d\n%s", origin, w.Code, w.Body)
		}
		if got := frameAncestorsOf(w.Header().Get("Content-Security-Policy")); got != want {
			t.Errorf("allowed parent %s: %q, want %q", origin, got, want)
		}
	}
	for _, origin := range []string{"https://evil.example", "https://shop.example.evil.example", "http://shop.example", "http://127.0.0.1:8082"} {
		w := e.do(t, "GET", embeddedURL("locked", origin, demoPublicKey)+"&kr-language=fr", nil)
		body := w.Body.String()
		if w.Code != http.StatusBadRequest || !strings.Contains(body, `data-error-code="CLIENT_997"`) ||
			!strings.Contains(body, messages["fr"]["invalid_origin"]) || strings.Contains(body, `id="kr-pay"`) {
			t.Errorf("foreign parent %s: %d\n%s", origin, w.Code, body)
		}
		if strings.Contains(body, "data-parent-origin") {
			t.Errorf("foreign parent %s became a postMessage target", origin)
		}
		if got := frameAncestorsOf(w.Header().Get("Content-Security-Policy")); got != want {
			t.Errorf("foreign parent %s: %q, want %q", origin, got, want)
		}
		res, w := e.postJSON(t, embeddedURL("locked", origin, demoPublicKey), cardValues("4970 1000 0000 0055", "12/30", "123"))
		if w.Code != http.StatusBadRequest || res.Step != "error" || res.Error == nil || res.Error.ErrorCode != "CLIENT_997" || res.Accepted || res.Result != nil {
			t.Errorf("card posted from foreign parent %s: %d %+v", origin, w.Code, res)
		}
	}
	if n := len(e.pay.calls); n != 0 {
		t.Fatalf("PayCard called %d times from foreign parents", n)
	}

	// A shop that lists none: any parent, frame-ancestors *.
	w := e.do(t, "GET", embeddedURL("open", "https://evil.example", demoPublicKey), nil)
	if w.Code != 200 || frameAncestorsOf(w.Header().Get("Content-Security-Policy")) != "frame-ancestors *" {
		t.Errorf("open shop: %d %q", w.Code, w.Header().Get("Content-Security-Policy"))
	}
	// The hosted (top-level) page is still framed by no one.
	w = e.do(t, "GET", "/pay/locked", nil)
	if got := frameAncestorsOf(w.Header().Get("Content-Security-Policy")); got != "frame-ancestors 'none'" {
		t.Errorf("hosted page: %q", got)
	}
}

// In a real browser: a merchant page on an allowed origin shows the shop's
// embedded form; a page on another origin does not, whether it gives its
// own origin (the form refuses it) or claims the shop's (Chromium refuses
// the frame: frame-ancestors names the shop's origins only). Before, both
// foreign pages showed the card form.
func TestBrowserEmbeddedFormOnlyInTheShopsPages(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	locked := demoForm("locked")
	locked.ReturnOrigins = []string{b.merchant.URL}
	b.pay.add(locked)
	foreign := demoForm("foreign")
	foreign.ReturnOrigins = []string{"https://shop.example"}
	b.pay.add(foreign)

	// frame loads the merchant page with one iframe on the embedded form
	// and waits for the frame's load event (it fires for a refused frame
	// too), then returns the URL of the document the frame holds.
	frame := func(token, claimed string) string {
		t.Helper()
		src := b.psp.URL + embeddedURL(token, claimed, demoPublicKey)
		b.page = fmt.Sprintf(`<!doctype html><html><head><meta charset="utf-8"><title>Merchant</title></head>
<body><iframe id="f" src="%s" onload="document.body.setAttribute('data-loaded', '1')"></iframe></body></html>`,
			strings.ReplaceAll(src, "&", "&amp;"))
		must(t, chromedp.Do(ctx,
			chromedp.Navigate(b.merchant.URL),
			chromedp.WaitReady(chromedp.CSS("body[data-loaded]")),
		), "loading the merchant page")
		ft, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (*cdppage.FrameTree, error) {
			tree, err := cdp.Call(ctx, t, cdppage.GetFrameTree, cdp.Empty{})
			if err != nil {
				return nil, err
			}
			return tree.FrameTree, nil
		})
		must(t, err, "frame tree")
		if len(ft.ChildFrames) != 1 {
			t.Fatalf("%d frames in the merchant page", len(ft.ChildFrames))
		}
		return ft.ChildFrames[0].Frame.URL
	}

	// The shop's own page: the form.
	if got := frame("locked", b.merchant.URL); !strings.HasPrefix(got, b.psp.URL+"/embedded/locked?") {
		t.Fatalf("the shop's page framed %q", got)
	}
	in := waitInFrame(t, ctx, "#kr-pay")
	if label, err := chromedp.Run(ctx, browsertest.Text("#kr-pay", in)); err != nil || label == "" {
		t.Fatalf("the shop's page: pay button %q, %v", label, err)
	}
	browsertest.NoConsoleErrors(t, ctx)

	// Another site, honest about its origin, or claiming the shop's.
	for _, claimed := range []string{b.merchant.URL, "https://shop.example"} {
		if got := frame("foreign", claimed); strings.HasPrefix(got, b.psp.URL) {
			t.Errorf("a foreign page claiming %s framed the shop's form (%s)", claimed, got)
		}
	}
	refused := false
	for _, p := range browsertest.Problems(ctx) {
		if strings.Contains(p, "frame-ancestors") {
			refused = true
		}
	}
	if !refused {
		t.Errorf("Chromium reported no frame-ancestors refusal: %v", browsertest.Problems(ctx))
	}
}
