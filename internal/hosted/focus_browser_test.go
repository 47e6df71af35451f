package hosted

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

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

// noScriptFocusCase is a card form posted without its script with
// mistakes (fill types them), and the element that must have the focus on
// the page sent back.
type noScriptFocusCase struct {
	name string
	form func(token string) Form
	fill func(in ...chromedp.QueryOption) chromedp.Action[chromedp.Void]
	want string
	// pageOnly: not tried inside a frame.
	pageOnly bool
}

// TestBrowserNoScriptFormFocusesFirstMistake: the card form sent back
// by the server with mistakes (its script did not run: the browser
// blocked form.js) puts the focus on the first invalid field, as
// FlexCheckout does: by autofocus on the page itself, and inside a
// merchant's frame of another origin, where Chromium blocks autofocus,
// by a refresh to the field's fragment (formfocus.Refresh, when the
// submission says Sec-Fetch-Dest: iframe).
func TestBrowserNoScriptFormFocusesFirstMistake(t *testing.T) {
	runNoScriptFocus(t, newBrowserEnv(t), []noScriptFocusCase{
		{name: "empty form", fill: func(...chromedp.QueryOption) chromedp.Action[chromedp.Void] { return chromedp.Steps() }, want: "kr-pan"},
		{name: "bad security code", fill: func(in ...chromedp.QueryOption) chromedp.Action[chromedp.Void] {
			return chromedp.Steps(
				chromedp.SendKeys(chromedp.CSS("#kr-pan"), "5100010000002045", in...),
				chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry(), in...),
				chromedp.SendKeys(chromedp.CSS("#kr-csc"), "1", in...))
		}, want: "kr-csc"},
	})
}

// TestBrowserNoScriptWalletOpensTheNewCardPanel: on a buyer's wallet
// (saved cards, and a new card in a panel the script opens), a form sent
// back with its first mistake in the new card's fields comes with that
// panel open, so that the field takes the focus; it was hidden, and the
// focus stayed on the page. A mistake in the saved card's code keeps the
// saved cards shown.
func TestBrowserNoScriptWalletOpensTheNewCardPanel(t *testing.T) {
	walletForm := func(token string) Form {
		f := demoForm(token)
		f.FormAction = "CUSTOMER_WALLET"
		return f
	}
	none := func(...chromedp.QueryOption) chromedp.Action[chromedp.Void] { return chromedp.Steps() }
	runNoScriptFocus(t, newBrowserEnvWith(t, newFakeWallets()), []noScriptFocusCase{
		// Two saved cards, none chosen: the form asks for a new card.
		{name: "wallet, no card chosen", form: walletForm, fill: none, want: "kr-pan"},
		{name: "wallet, saved card without its code", form: walletForm, fill: func(in ...chromedp.QueryOption) chromedp.Action[chromedp.Void] {
			return chromedp.Click(chromedp.CSS("#kr-saved-c1"), in...)
		}, want: "kr-saved-csc"},
		// Sent back with the panel open, the new card typed with a
		// mistake further down comes back open again.
		{name: "wallet, new card with a bad security code", form: walletForm, pageOnly: true,
			fill: func(in ...chromedp.QueryOption) chromedp.Action[chromedp.Void] {
				return chromedp.Steps(
					chromedp.Click(chromedp.CSS("#kr-pay"), in...),
					chromedp.WaitVisible(chromedp.CSS("#kr-pan"), in...),
					chromedp.SendKeys(chromedp.CSS("#kr-pan"), "5100010000002045", in...),
					chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry(), in...),
					chromedp.SendKeys(chromedp.CSS("#kr-csc"), "1", in...))
			}, want: "kr-csc"},
	})
}

func runNoScriptFocus(t *testing.T, b *browserEnv, cases []noScriptFocusCase) {
	ctx := browsertest.New(t)
	browsertest.BlockFormScript(t, ctx)
	// Visible: the focused element is shown (not in a hidden panel).
	const q = `({Active: document.activeElement ? document.activeElement.id : '', Sent: !!document.querySelector('[aria-invalid="true"]'),
		Visible: !!(document.activeElement && document.activeElement.getClientRects().length)})`
	type facts = noScriptFocus
	for i, c := range cases {
		form := c.form
		if form == nil {
			form = demoForm
		}
		// On the page itself.
		tok := fmt.Sprintf("w-nojs-%d", i)
		b.pay.add(form(tok))
		must(t, chromedp.Do(ctx,
			chromedp.Navigate(b.psp.URL+"/pay/"+tok),
			chromedp.WaitVisible(chromedp.CSS("#kr-pay")),
		), "loading the form")
		must(t, chromedp.Do(ctx, c.fill()), c.name+": filling the form")
		// The page sent back is told from the one posted (which may
		// be one sent back already) by a mark the latter has.
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.setAttribute('data-posted', ''), true`))
		must(t, err, "marking the posted page")
		must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-pay")),
			chromedp.WaitReady(chromedp.CSS(`html:not([data-posted]) [aria-invalid="true"]`))), c.name+": sending the form")
		// Chromium moves the focus at its next rendering after the
		// load, which may come after the field is shown: wait for it.
		waitFocus(t, ctx, c.name+", full page", c.want, func() (facts, error) { return chromedp.Run(ctx, chromedp.Evaluate[facts](q)) })
		if c.pageOnly {
			continue
		}

		// In a merchant's frame (another port: another origin).
		tok = fmt.Sprintf("w-nojs-frame-%d", i)
		b.pay.add(form(tok))
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
		waitFocus(t, ctx, c.name+", in a cross-origin frame", c.want, func() (facts, error) { return chromedp.Run(ctx, inChildFrame[facts](q)) })
	}
}

// noScriptFocus is where a form sent back without its script has the focus.
type noScriptFocus struct {
	Active  string // the focused element's id
	Sent    bool   // the page is the one sent back (a field marked invalid)
	Visible bool   // the focused element is shown (not in a hidden panel)
}

// waitFocus reads the focus (read) until it is on the field want, shown,
// in the page sent back; a field never focused ends the test at
// browsertest.Timeout, with what was last read.
func waitFocus(t *testing.T, ctx context.Context, what, want string, read func() (noScriptFocus, error)) {
	t.Helper()
	for {
		got, err := read()
		if err == nil && got.Sent && got.Active == want && got.Visible {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: focus on %q (shown %v, sent back %v, %v), want %s", what, got.Active, got.Visible, got.Sent, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserNoScriptWalletNewCardOnFirstVisit: a buyer whose browser
// blocked the form's script chooses the New card tab of a wallet's page on
// the first visit (the tab is a real control: reached with the Tab key,
// activated with Enter), the page comes back with that panel open and the
// focus on the selected tab, and the card typed there pays: the success
// page. On a one-click form the saved card is chosen already; the new
// card typed beside it is still the one paid with. On a phone.
func TestBrowserNoScriptWalletNewCardOnFirstVisit(t *testing.T) {
	b := newBrowserEnvWith(t, newFakeWallets())
	ctx := browsertest.New(t)
	browsertest.BlockFormScript(t, ctx)
	wallet := demoForm("w-first-visit")
	wallet.FormAction = "CUSTOMER_WALLET"
	for _, f := range []Form{wallet, oneClickForm("oc")} {
		b.pay.add(f)
		must(t, chromedp.Do(ctx,
			chromedp.EmulateViewport(320, 640),
			chromedp.Navigate(b.psp.URL+"/pay/"+f.FormToken+"?kr-language=en"),
			chromedp.WaitVisible(chromedp.CSS("#kr-tab-new")),
			chromedp.Focus(chromedp.CSS("#kr-tab-saved")),
			chromedp.KeyEvent(kb.Tab),
		), f.FormToken+": loading the form")
		active, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
		must(t, err, "focus")
		if active != "kr-tab-new" {
			t.Fatalf("%s: Tab from the Saved cards tab goes to %q, not the New card tab", f.FormToken, active)
		}
		_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.setAttribute('data-first', ''), true`))
		must(t, err, "marking the first page")
		must(t, chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter),
			chromedp.WaitVisible(chromedp.CSS(`html:not([data-first]) #kr-pan`))), f.FormToken+": opening the New card tab")
		type facts struct {
			Active, Selected, SavedSelected string
			SavedHidden, Fits               bool
			URL                             string
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[facts](`({Active: document.activeElement.id,
			Selected: document.getElementById('kr-tab-new').getAttribute('aria-selected'),
			SavedSelected: document.getElementById('kr-tab-saved').getAttribute('aria-selected'),
			SavedHidden: !document.getElementById('kr-panel-saved').getClientRects().length,
			Fits: document.documentElement.scrollWidth <= window.innerWidth, URL: location.href})`))
		must(t, err, "the New card tab")
		if got.Active != "kr-tab-new" || got.Selected != "true" || got.SavedSelected != "false" || !got.SavedHidden || !got.Fits {
			t.Errorf("%s: after choosing New card: %+v", f.FormToken, got)
		}
		if !strings.Contains(got.URL, "kr-language=en") {
			t.Errorf("%s: the New card page lost the page's parameters: %s", f.FormToken, got.URL)
		}
		calls := b.pay.callCount()
		must(t, chromedp.Do(ctx, typeCard("5100010000002045"), chromedp.Click(chromedp.CSS("#kr-pay")),
			chromedp.WaitVisible(chromedp.CSS("#kr-final.ok"))), f.FormToken+": paying with the new card")
		if b.pay.callCount() != calls+1 || b.pay.lastCall(t).Last4 != "2045" || b.pay.lastCall(t).Token != f.FormToken {
			t.Errorf("%s: the new card was not the one paid with: %+v", f.FormToken, b.pay.lastCall(t))
		}
	}
}

// TestBrowserWalletTabsWithTheScript: with its script the wallet's tabs
// are still one stop of the Tab key, the arrows move between them, and a
// tab opens its panel in place: the tabs' form, for buyers without the
// script, is not sent (the page is not loaded again, what was typed
// stays).
func TestBrowserWalletTabsWithTheScript(t *testing.T) {
	b := newBrowserEnvWith(t, newFakeWallets())
	ctx := browsertest.New(t)
	f := demoForm("w-scripted-tabs")
	f.FormAction = "CUSTOMER_WALLET"
	b.pay.add(f)
	type facts struct {
		Active, Mode  string
		NewTabIndex   int
		SavedTabIndex int
		NewHidden     bool
		Same          bool // the same document (not loaded again)
		URL           string
	}
	const q = `({Active: document.activeElement.id, Mode: document.getElementById('kr-wallet').getAttribute('data-mode') || '',
		NewTabIndex: document.getElementById('kr-tab-new').tabIndex, SavedTabIndex: document.getElementById('kr-tab-saved').tabIndex,
		NewHidden: document.getElementById('kr-panel-new').hidden, Same: document.documentElement.hasAttribute('data-first'), URL: location.href})`
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.psp.URL+"/pay/"+f.FormToken),
		chromedp.WaitVisible(chromedp.CSS(`#kr-pay`)),
	), "loading the form")
	// Wait for form.js to start: the roving tabindex it sets.
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('kr-tab-new').tabIndex === -1`))
	must(t, err, "the script's start")
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.setAttribute('data-first', ''), true`))
	must(t, err, "marking the page")
	got, err := chromedp.Run(ctx, chromedp.Evaluate[facts](q))
	must(t, err, "facts")
	if got.NewTabIndex != -1 || got.SavedTabIndex != 0 || !got.NewHidden {
		t.Errorf("at the start: %+v", got)
	}
	must(t, chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#kr-tab-saved")), chromedp.KeyEvent(kb.ArrowRight)), "arrow to New card")
	got, err = chromedp.Run(ctx, chromedp.Evaluate[facts](q))
	must(t, err, "facts")
	if got.Active != "kr-tab-new" || got.Mode != "new" || got.NewHidden || got.NewTabIndex != 0 || got.SavedTabIndex != -1 || !got.Same {
		t.Errorf("after ArrowRight: %+v", got)
	}
	must(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#kr-holder"), "Ada Lovelace"),
		chromedp.Click(chromedp.CSS("#kr-tab-saved")), chromedp.Click(chromedp.CSS("#kr-tab-new"))), "clicking the tabs")
	time.Sleep(300 * time.Millisecond) // a navigation, if the click sent the tabs' form, has begun
	got, err = chromedp.Run(ctx, chromedp.Evaluate[facts](q))
	must(t, err, "facts")
	holder, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('kr-holder').value`))
	must(t, err, "holder")
	if !got.Same || got.Mode != "new" || got.NewHidden || holder != "Ada Lovelace" || strings.Contains(got.URL, "tab=") {
		t.Errorf("after clicking Saved cards then New card: %+v, holder %q", got, holder)
	}
	browsertest.NoConsoleErrors(t, ctx)
}

// TestBrowserNoScriptWalletNewCardAfterChallenge: a buyer without the
// script who chose the New card tab and failed the 3-D Secure challenge
// (4970110000000021, docs/test-cards.md) gets the form back with the New
// card panel still open: the choice travels with the sealed payment
// attempt, not in the challenge page's address.
func TestBrowserNoScriptWalletNewCardAfterChallenge(t *testing.T) {
	b := newBrowserEnvWith(t, newFakeWallets())
	ctx := browsertest.New(t)
	browsertest.BlockFormScript(t, ctx)
	f := demoForm("w-after-challenge")
	f.FormAction = "CUSTOMER_WALLET"
	b.pay.add(f)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.psp.URL+"/pay/"+f.FormToken+"?kr-language=en&tab=new"),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
		typeCard("4970110000000021"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-acs-fail")),
		chromedp.Click(chromedp.CSS("#kr-acs-fail")),
		chromedp.WaitVisible(chromedp.CSS("#kr-form-error")),
	), "failing the challenge of a new card")
	type facts struct {
		Selected  string
		NewShown  bool
		Alert     string
		URLHasPAN bool
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[facts](`({Selected: document.getElementById('kr-tab-new').getAttribute('aria-selected'),
		NewShown: !!document.getElementById('kr-pan').getClientRects().length,
		Alert: document.getElementById('kr-form-error').textContent,
		URLHasPAN: location.href.indexOf('0021') >= 0})`))
	must(t, err, "the form after the challenge")
	if got.Selected != "true" || !got.NewShown || got.Alert == "" || got.URLHasPAN {
		t.Errorf("after a failed challenge of a new card: %+v, want the New card tab open with the refusal", got)
	}
}
