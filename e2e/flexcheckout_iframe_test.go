package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

// flexMerchant is a merchant site on a loopback origin of its own: its
// checkout page frames a signed FlexCheckout URL, and it records what
// comes back to its return URLs.
type flexMerchant struct {
	srv    *httptest.Server
	origin string // srv's address under the host name the browser uses
	mu     sync.Mutex
	frame  string          // the FlexCheckout URL /checkout frames
	back   chan url.Values // the returns, with their path in "path"
}

func newFlexMerchant(t *testing.T, host string) *flexMerchant {
	m := &flexMerchant{back: make(chan url.Values, 4)}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/checkout" {
			m.mu.Lock()
			src := m.frame
			m.mu.Unlock()
			fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Checkout</title></head>
<body><h1>Checkout</h1><iframe id="flex" title="Card" width="600" height="700" src="%s" onload="document.body.setAttribute('data-loaded', '1')"></iframe></body></html>`,
				strings.ReplaceAll(src, "&", "&amp;"))
			return
		}
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		q.Set("path", r.URL.Path)
		select {
		case m.back <- q:
		default:
		}
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Thanks</title></head><body><p id="result">Thank you</p></body></html>`)
	}))
	t.Cleanup(m.srv.Close)
	_, port, _ := strings.Cut(strings.TrimPrefix(m.srv.URL, "http://"), ":")
	m.origin = "http://" + host + ":" + port
	return m
}

// signedFlexURL signs a FlexCheckout request of the demo PSPID whose
// return URLs are on the merchant's origin.
func signedFlexURL(t *testing.T, base, merchant string) string {
	t.Helper()
	ps := ogone.Params{
		{Name: "ACCOUNT.PSPID", Value: shop.DemoPSPID},
		{Name: "CARD.PAYMENTMETHOD", Value: "CreditCard"},
		{Name: "ALIAS.ORDERID", Value: "IFRAME-1"},
		{Name: "PARAMETERS.ACCEPTURL", Value: merchant + "/accept"},
		{Name: "PARAMETERS.EXCEPTIONURL", Value: merchant + "/exception"},
	}
	sig, err := ogone.Sign(ogone.SHA512, ps, shop.DemoSHAPassphrase, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"SHASIGNATURE.SHASIGN": {sig}}
	for _, p := range ps {
		q.Set(p.Name, p.Value)
	}
	return base + ogone.FlexCheckoutPath + "?" + q.Encode()
}

// crossSiteFrame returns a context on the out-of-process frame (a frame of
// another site than its page) whose document is at u, once it exists.
func crossSiteFrame(t *testing.T, ctx context.Context, u string) context.Context {
	t.Helper()
	for ctx.Err() == nil {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatalf("targets: %v", err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && info.URL == u {
				fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID))
				t.Cleanup(cancel)
				return fctx
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("waiting for a frame of %s: %v", u, ctx.Err())
	return nil
}

// childFrameURL loads page, waits for its iframe's load event (it fires for
// a refused frame too) and returns the URL of the document the frame holds.
func childFrameURL(t *testing.T, ctx context.Context, page string) string {
	t.Helper()
	must := mustDo(t)
	must(chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitReady(chromedp.CSS("body[data-loaded]"))), "loading "+page)
	ft, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (*cdppage.FrameTree, error) {
		tree, err := cdp.Call(ctx, t, cdppage.GetFrameTree, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		return tree.FrameTree, nil
	})
	must(err, "frame tree")
	if len(ft.ChildFrames) != 1 {
		t.Fatalf("%d frames in %s", len(ft.ChildFrames), page)
	}
	return ft.ChildFrames[0].Frame.URL
}

// A merchant that shows FlexCheckout in an iframe of its own checkout, as
// Odoo's payment_ogone and limegrow's inline mode do, with no
// frame-ancestors set for the PSPID: the merchant on another site
// (localhost, OpenPSP on 127.0.0.1) frames the signed URL whose return
// URLs are its own, the buyer types the card in the frame, and the frame
// goes to the ACCEPTURL with a valid SHA-OUT. Before, Chromium refused the
// frame (frame-ancestors 'self'). The same signed URL framed by a page of
// another origin is still refused: the frame never holds the form.
func TestFlexCheckoutInAMerchantIframe(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := browsertest.New(t)
	must := mustDo(t)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("OpenPSP listens on %s, not 127.0.0.1", s.URL)
	}
	merchant := newFlexMerchant(t, "localhost")
	src := signedFlexURL(t, s.URL, merchant.origin)
	merchant.frame = src

	must(chromedp.Do(ctx, chromedp.Navigate(merchant.origin+"/checkout"), chromedp.WaitReady(chromedp.CSS("body[data-loaded]"))), "the merchant's checkout")
	// Chromium renders a frame of another site in a process of its own:
	// the page's DOM does not reach it, its own target does.
	fctx := crossSiteFrame(t, ctx, src)
	must(chromedp.Do(fctx,
		chromedp.WaitVisible(chromedp.CSS("#cardno")),
		chromedp.SendKeys(chromedp.CSS("#cardno"), "4970100000000055"),
		chromedp.SendKeys(chromedp.CSS("#cn"), "Jeanne Martin"),
		chromedp.SetValue(chromedp.CSS("#expm"), "11"),
		chromedp.SetValue(chromedp.CSS("#expy"), strconv.Itoa(time.Now().Year()+3)),
		chromedp.SendKeys(chromedp.CSS("#cvc"), "123"),
		chromedp.Click(chromedp.CSS("#submit")),
	), "typing the card in the frame")
	var q url.Values
	select {
	case q = <-merchant.back:
	case <-ctx.Done():
		t.Fatalf("no return to the merchant: %v", ctx.Err())
	}
	if q.Get("path") != "/accept" || q.Get("Alias.Status") != "0" || q.Get("Alias.OrderId") != "IFRAME-1" || q.Get("Card.CardNumber") != "XXXXXXXXXXXX0055" {
		t.Fatalf("the return: %v", q)
	}
	var out ogone.Params
	for k, v := range q {
		if k != "path" && k != "SHASign" {
			out = append(out, ogone.Param{Name: k, Value: v[0]})
		}
	}
	if want, err := ogone.Sign(ogone.SHA512, out, shop.DemoSHAPassphrase, ogone.FlexOutKeep); err != nil || q.Get("SHASign") != want {
		t.Fatalf("SHA-OUT %q, the merchant computes %q (%v)", q.Get("SHASign"), want, err)
	}
	// The return loaded in the frame, not in the whole window.
	res := frameQuery(t, ctx, "#result")
	if txt, err := chromedp.Run(ctx, browsertest.Text("#result", res)); err != nil || txt != "Thank you" {
		t.Fatalf("the frame after the submit: %q %v", txt, err)
	}
	if _, err := s.Vault.Get(context.Background(), shop.DemoShopID, "TEST", q.Get("Alias.AliasId")); err != nil {
		t.Fatalf("the alias returned: %v", err)
	}
	browsertest.NoConsoleErrors(t, ctx)

	// Another origin (127.0.0.1, another port) frames the same signed
	// URL: Chromium refuses the frame.
	other := newFlexMerchant(t, "127.0.0.1")
	other.frame = src
	if got := childFrameURL(t, ctx, other.origin+"/checkout"); strings.HasPrefix(got, s.URL) {
		t.Fatalf("a page of %s framed FlexCheckout (%s)", other.origin, got)
	}
	refused := false
	for _, p := range browsertest.Problems(ctx) {
		refused = refused || strings.Contains(p, "frame-ancestors")
	}
	if !refused {
		t.Errorf("Chromium reported no frame-ancestors refusal: %v", browsertest.Problems(ctx))
	}
}
