package ogone_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

// inFrame evaluates expr in the first frame whose URL path starts with
// path, in an isolated world (the page's CSP forbids scripts; its DOM is
// the page's).
func inFrame[T any](path, expr string) chromedp.Action[T] {
	return func(ctx context.Context, t *chromedp.Target) (T, error) {
		var zero T
		tree, err := cdp.Call(ctx, t, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			return zero, err
		}
		var found *cdp.Frame
		var walk func(ft *page.FrameTree)
		walk = func(ft *page.FrameTree) {
			if u, err := url.Parse(ft.Frame.URL); err == nil && found == nil && ft.Frame.ParentID != "" && strings.HasPrefix(u.Path, path) {
				found = ft.Frame
			}
			for _, c := range ft.ChildFrames {
				walk(c)
			}
		}
		walk(tree.FrameTree)
		if found == nil {
			return zero, fmt.Errorf("no frame at %s", path)
		}
		world, err := cdp.Call(ctx, t, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{FrameID: found.ID, WorldName: "openpsp-focus"})
		if err != nil {
			return zero, err
		}
		return chromedp.Evaluate[T](expr, func(p *runtime.EvaluateParams) { p.ContextID = world.ExecutionContextID })(ctx, t)
	}
}

// TestBrowserFlexFocusInCrossOriginFrame: after a submit with mistakes
// the first invalid field has the focus and the title starts with the
// error prefix, on the page itself and inside a merchant's iframe of
// another origin, where Chromium blocks autofocus ("Blocked autofocusing
// on a <input> element in a cross-origin subframe."). There the page,
// which has no script, moves the focus by a refresh to the field's
// fragment (pageData.FocusRefresh). Two frames: one of the same site
// (http://127.0.0.1:PORT framing http://127.0.0.1:PORT2, other origins),
// one of another site (http://localhost:PORT), which Chromium runs in a
// renderer of its own, reached as a target of its own.
func TestBrowserFlexFocusInCrossOriginFrame(t *testing.T) {
	e := newEnv(t)
	ctx := browsertest.New(t)
	port := e.merchant.srv.URL[strings.LastIndex(e.merchant.srv.URL, ":")+1:]
	crossSite := "http://localhost:" + port
	ancestors := []string{e.merchant.srv.URL, crossSite}
	if _, err := e.admin.UpdateSettings(context.Background(), shop.DemoShopID, ogone.SettingsChange{FrameAncestors: &ancestors}); err != nil {
		t.Fatal(err)
	}
	type facts struct {
		Active string
		Title  string
	}
	const q = `({Active: document.activeElement ? document.activeElement.id : '', Title: document.title})`
	cases := []struct {
		name string
		fill func(root *chromedp.Node) chromedp.Action[chromedp.Void]
		want string
	}{
		{"empty form", func(*chromedp.Node) chromedp.Action[chromedp.Void] { return chromedp.Steps() }, "cardno"},
		{"bad security code", func(root *chromedp.Node) chromedp.Action[chromedp.Void] {
			return chromedp.Steps(fillCard(root, visa), chromedp.SetValue(chromedp.CSS("#cvc"), "1", chromedp.FromNode(root)))
		}, "cvc"},
	}
	for _, c := range cases {
		// On the page itself.
		err := chromedp.Do(ctx, chromedp.Navigate(e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "fr_FR"}))), visible("#submit"))
		if err != nil {
			t.Fatal(err)
		}
		root, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, c.fill(root[0]), click("#submit"), visible("#err-"+c.want)); err != nil {
			t.Fatal(err)
		}
		f, err := chromedp.Run(ctx, chromedp.Evaluate[facts](q))
		if err != nil {
			t.Fatal(err)
		}
		if f.Active != c.want || !strings.HasPrefix(f.Title, "Erreur\u00a0: ") {
			t.Errorf("%s, full page: focus on %q, title %q; want %s and the error prefix", c.name, f.Active, f.Title, c.want)
		}

		// In the merchant's frame.
		src := e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "fr_FR"}))
		e.merchant.mu.Lock()
		e.merchant.pages["/frame"] = `<!DOCTYPE html><title>Checkout</title><h1>Checkout</h1><iframe id="flex" width="600" height="700" src="` +
			strings.ReplaceAll(src, "&", "&amp;") + `"></iframe>`
		e.merchant.mu.Unlock()
		if err := chromedp.Do(ctx, chromedp.Navigate(e.merchant.url("/frame"))); err != nil {
			t.Fatal(err)
		}
		frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#flex")))
		if err != nil {
			t.Fatal(err)
		}
		in := chromedp.FromNode(frames[0])
		if err := chromedp.Do(ctx, visible("#submit", in), c.fill(frames[0]), click("#submit", in)); err != nil {
			t.Fatal(err)
		}
		// Wait for the answer's document, then for the focus to land
		// (Chromium moves it after the load); a field never focused ends
		// the test by browsertest.Timeout.
		var got facts
		for {
			got, err = chromedp.Run(ctx, inFrame[facts](ogone.FlexCheckoutPath, `document.querySelector('[aria-invalid]') ? `+q+` : {Active: '', Title: ''}`))
			if err == nil && got.Active == c.want {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s, in a cross-origin frame: focus on %q (%v), want %s", c.name, got.Active, err, c.want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.HasPrefix(got.Title, "Erreur\u00a0: ") {
			t.Errorf("%s, in a cross-origin frame: title %q", c.name, got.Title)
		}
	}

	// A frame of another site (localhost framing 127.0.0.1) runs in its
	// own renderer: the test attaches to it as a target of its own.
	src := e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "de_DE"}))
	e.merchant.mu.Lock()
	e.merchant.pages["/frame"] = `<!DOCTYPE html><title>Checkout</title><h1>Checkout</h1><iframe id="flex" width="600" height="700" src="` +
		strings.ReplaceAll(src, "&", "&amp;") + `"></iframe>`
	e.merchant.mu.Unlock()
	if err := chromedp.Do(ctx, chromedp.Navigate(crossSite+"/frame")); err != nil {
		t.Fatal(err)
	}
	var frameCtx context.Context
	for frameCtx == nil {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, e.srv.URL+ogone.FlexCheckoutPath) {
				fc, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID))
				t.Cleanup(cancel)
				frameCtx = fc
			}
		}
		if frameCtx == nil {
			if ctx.Err() != nil {
				t.Fatal("no cross-site frame target")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := chromedp.Do(frameCtx, visible("#submit"), click("#submit")); err != nil {
		t.Fatal(err)
	}
	var got facts
	for {
		var err error
		got, err = chromedp.Run(frameCtx, chromedp.Evaluate[facts](`document.querySelector('[aria-invalid]') ? `+q+` : {Active: '', Title: ''}`))
		if err == nil && got.Active == "cardno" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("in a cross-site frame: focus on %q (%v), want cardno", got.Active, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.HasPrefix(got.Title, "Fehler: ") {
		t.Errorf("in a cross-site frame: title %q", got.Title)
	}
}
