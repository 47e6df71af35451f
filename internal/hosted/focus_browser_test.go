package hosted

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
)

// inChildFrame evaluates expr in the first child frame of the page, in an
// isolated world (the page's CSP forbids scripts of its own; its DOM is
// the page's).
func inChildFrame[T any](expr string) chromedp.Action[T] {
	return func(ctx context.Context, t *chromedp.Target) (T, error) {
		var zero T
		tree, err := cdp.Call(ctx, t, cdppage.GetFrameTree, cdp.Empty{})
		if err != nil {
			return zero, err
		}
		if len(tree.FrameTree.ChildFrames) == 0 {
			return zero, fmt.Errorf("no frame")
		}
		world, err := cdp.Call(ctx, t, cdppage.CreateIsolatedWorld, cdppage.CreateIsolatedWorldParams{
			FrameID: tree.FrameTree.ChildFrames[0].Frame.ID, WorldName: "openpsp-focus"})
		if err != nil {
			return zero, err
		}
		return chromedp.Evaluate[T](expr, func(p *runtime.EvaluateParams) { p.ContextID = world.ExecutionContextID })(ctx, t)
	}
}

// TestBrowserNoScriptFormFocusesFirstMistake: the card form sent back
// by the server with mistakes (its script did not run: the browser
// blocked form.js) puts the focus on the first invalid field, as
// FlexCheckout does: by autofocus on the page itself, and inside a
// merchant's frame of another origin, where Chromium blocks autofocus,
// by a refresh to the field's fragment (formfocus.Refresh, when the
// submission says Sec-Fetch-Dest: iframe).
func TestBrowserNoScriptFormFocusesFirstMistake(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	_, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (cdp.Empty, error) {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return cdp.Empty{}, err
		}
		return cdp.Call(ctx, t, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/static/hosted/form.js*", Block: true}}})
	})
	must(t, err, "blocking the form's script")
	const q = `({Active: document.activeElement ? document.activeElement.id : '', Sent: !!document.querySelector('[aria-invalid="true"]')})`
	type facts struct {
		Active string
		Sent   bool
	}
	cases := []struct {
		name string
		fill func(in ...chromedp.QueryOption) chromedp.Action[chromedp.Void]
		want string
	}{
		{"empty form", func(...chromedp.QueryOption) chromedp.Action[chromedp.Void] { return chromedp.Steps() }, "kr-pan"},
		{"bad security code", func(in ...chromedp.QueryOption) chromedp.Action[chromedp.Void] {
			return chromedp.Steps(
				chromedp.SendKeys(chromedp.CSS("#kr-pan"), "5100010000002045", in...),
				chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry(), in...),
				chromedp.SendKeys(chromedp.CSS("#kr-csc"), "1", in...))
		}, "kr-csc"},
	}
	for i, c := range cases {
		// On the page itself.
		tok := fmt.Sprintf("nojs-%d", i)
		b.pay.add(demoForm(tok))
		must(t, chromedp.Do(ctx,
			chromedp.Navigate(b.psp.URL+"/pay/"+tok),
			chromedp.WaitVisible(chromedp.CSS("#kr-pay")),
		), "loading the form")
		must(t, chromedp.Do(ctx, c.fill(), chromedp.Click(chromedp.CSS("#kr-pay")),
			chromedp.WaitReady(chromedp.CSS(`[aria-invalid="true"]`))), c.name+": sending the form")
		f, err := chromedp.Run(ctx, chromedp.Evaluate[facts](q))
		must(t, err, "focus")
		if f.Active != c.want {
			t.Errorf("%s, full page: focus on %q, want %s", c.name, f.Active, c.want)
		}

		// In a merchant's frame (another port: another origin).
		tok = fmt.Sprintf("nojs-frame-%d", i)
		b.pay.add(demoForm(tok))
		src := b.psp.URL + embeddedURL(tok, b.merchant.URL, demoPublicKey)
		b.page = `<!doctype html><html><head><meta charset="utf-8"><title>Merchant</title></head><body><h1>Checkout</h1>` +
			`<iframe id="f" width="600" height="800" src="` + strings.ReplaceAll(src, "&", "&amp;") + `"></iframe></body></html>`
		must(t, chromedp.Do(ctx, chromedp.Navigate(b.merchant.URL)), "loading the merchant page")
		frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#f")))
		must(t, err, "frame")
		in := chromedp.FromNode(frames[0])
		must(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#kr-pay"), in), c.fill(in), chromedp.Click(chromedp.CSS("#kr-pay"), in)),
			c.name+": sending the form in the frame")
		// Wait for the answer's document, then for the focus to land
		// (Chromium moves it after the load); a field never focused ends
		// the test by browsertest.Timeout.
		var got facts
		for {
			got, err = chromedp.Run(ctx, inChildFrame[facts](q))
			if err == nil && got.Sent && got.Active == c.want {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s, in a cross-origin frame: focus on %q (sent back %v, %v), want %s", c.name, got.Active, got.Sent, err, c.want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
