package e2e

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

// axe-core, vendored from the npm registry (testdata/axe/README.md says
// which version and where from; its licence header is kept).
//
//go:embed testdata/axe/axe.min.js
var axeSource string

const axeVersion = "4.14.1"

// axeTags are the rules the audit runs: WCAG 2.0 and 2.1, levels A and AA
// (colour contrast included).
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// auditWidths are the viewport widths every page is audited at: a phone
// and a desktop.
var auditWidths = []int64{375, 1280}

type axeNode struct {
	Target  string `json:"target"`
	HTML    string `json:"html"`
	Summary string `json:"summary"`
}

type axeViolation struct {
	ID     string    `json:"id"`
	Impact string    `json:"impact"`
	Help   string    `json:"help"`
	Nodes  []axeNode `json:"nodes"`
}

type axeFrameResult struct {
	Version    string         `json:"version"`
	URL        string         `json:"url"`
	Violations []axeViolation `json:"violations"`
}

// axeWorld is the isolated world axe runs in, in every frame: the pages'
// Content-Security-Policy and Trusted Types do not apply there, and
// nothing of the pages' own scripts is touched.
const axeWorld = "openpsp-axe"

// axeOnNewDocuments has the tab load axe in axeWorld of every document it
// opens from now on, every frame's: axe's 650 kB cross the DevTools
// protocol once per tab instead of once per page.
func axeOnNewDocuments(ctx context.Context) error {
	return chromedp.Do(ctx, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: axeSource, WorldName: axeWorld})
		return chromedp.Void{}, err
	})
}

// axeContexts returns, for every frame of the tab (the page and its
// iframes, such as the embedded form's or FlexCheckout's), the execution
// context of axeWorld with axe loaded. Chromium keeps one world of a name
// per document, the one axeOnNewDocuments loaded axe in; a document opened
// before gets axe now.
func axeContexts(ctx context.Context) ([]runtime.ExecutionContextID, error) {
	return chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]runtime.ExecutionContextID, error) {
		tree, err := cdp.Call(ctx, t, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		var frames []*cdp.Frame
		var walk func(ft *page.FrameTree)
		walk = func(ft *page.FrameTree) {
			frames = append(frames, ft.Frame)
			for _, c := range ft.ChildFrames {
				walk(c)
			}
		}
		walk(tree.FrameTree)
		var out []runtime.ExecutionContextID
		for _, f := range frames {
			world, err := cdp.Call(ctx, t, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{FrameID: f.ID, WorldName: axeWorld})
			if err != nil {
				return nil, fmt.Errorf("isolated world in %s: %w", f.URL, err)
			}
			in := func(p *runtime.EvaluateParams) { p.ContextID = world.ExecutionContextID }
			loaded, err := chromedp.Evaluate[bool](`typeof axe === "object"`, in)(ctx, t)
			if err != nil {
				return nil, fmt.Errorf("axe in %s: %w", f.URL, err)
			}
			if !loaded {
				if _, err := chromedp.Evaluate[chromedp.Void](axeSource, in)(ctx, t); err != nil {
					return nil, fmt.Errorf("loading axe in %s: %w", f.URL, err)
				}
			}
			out = append(out, world.ExecutionContextID)
		}
		return out, nil
	})
}

// axeRun runs axe in the execution context id, on its frame's document
// alone (iframes:false: each frame is audited by a run of its own).
func axeRun(ctx context.Context, id runtime.ExecutionContextID) (axeFrameResult, error) {
	tags := `["` + strings.Join(axeTags, `","`) + `"]`
	run := `document.fonts.ready.then(() => axe.run(document, {runOnly: {type: "tag", values: ` + tags + `}, resultTypes: ["violations"], iframes: false}))
.then(r => ({version: axe.version, url: location.href, violations: r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help,
  nodes: v.nodes.map(n => ({target: JSON.stringify(n.target), html: n.html.slice(0, 200), summary: n.failureSummary || ""}))}))}))`
	return chromedp.Run(ctx, chromedp.Evaluate[axeFrameResult](run, chromedp.EvalAwaitPromise,
		func(p *runtime.EvaluateParams) { p.ContextID = id }))
}

// auditor collects the violations of the pages it is shown.
type auditor struct {
	t     *testing.T
	ctx   context.Context
	found map[string][]string // violation → the pages and widths it was seen on
	pages []string
	urls  []string // every frame audited
}

// check audits the tab's current state, named what, at every width of
// auditWidths, then leaves the viewport at the desktop width.
func (a *auditor) check(what string) {
	a.t.Helper()
	a.pages = append(a.pages, what)
	ids, err := axeContexts(a.ctx)
	if err != nil {
		a.t.Fatalf("%s: %v", what, err)
	}
	for _, w := range auditWidths {
		if err := chromedp.Do(a.ctx, chromedp.EmulateViewport(w, 800)); err != nil {
			a.t.Fatalf("%s: viewport %d: %v", what, w, err)
		}
		for _, id := range ids {
			r, err := axeRun(a.ctx, id)
			if err != nil {
				a.t.Fatalf("%s at %dpx: %v", what, w, err)
			}
			if r.Version != axeVersion {
				a.t.Fatalf("axe %q ran, want %s", r.Version, axeVersion)
			}
			a.urls = append(a.urls, r.URL)
			for _, v := range r.Violations {
				for _, n := range v.Nodes {
					key := fmt.Sprintf("%s (%s): %s\n    target %s in %s\n    %s\n    %s", v.ID, v.Impact, v.Help, n.Target, pathOf(r.URL), n.HTML,
						strings.ReplaceAll(n.Summary, "\n", "\n    "))
					a.found[key] = append(a.found[key], fmt.Sprintf("%s @%dpx", what, w))
				}
			}
		}
	}
	if err := chromedp.Do(a.ctx, chromedp.EmulateViewport(auditWidths[len(auditWidths)-1], 800)); err != nil {
		a.t.Fatal(err)
	}
}

func pathOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Path
	}
	return u
}

// audited fails unless a frame at a path matching re was audited.
func (a *auditor) audited(re string) {
	a.t.Helper()
	r := regexp.MustCompile(re)
	for _, u := range a.urls {
		if r.MatchString(pathOf(u)) {
			return
		}
	}
	a.t.Errorf("no frame at %s was audited; audited: %v", re, a.urls)
}

func (a *auditor) report() {
	a.t.Helper()
	keys := make([]string, 0, len(a.found))
	for k := range a.found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a.t.Errorf("accessibility violation %s\n    on: %s", k, strings.Join(a.found[k], ", "))
	}
	a.t.Logf("audited %d page states at %v px with axe-core %s (%v)", len(a.pages), auditWidths, axeVersion, axeTags)
}

// TestAccessibilityAudit audits the pages a buyer meets, with axe-core in
// the headless Chromium of the browser tests, against WCAG 2.1 AA (rules
// tagged wcag2a, wcag2aa, wcag21a, wcag21aa, colour contrast included), at
// a phone's width (375px) and a desktop's (1280px), in English, French and
// German: the demo shop and its checkout with the embedded form's iframe
// (empty, with field errors), the pop-in on a merchant page, the hosted
// page (form, refusal, accepted, finally refused), the 3-D Secure
// challenge, the result pages (paid, refused), the saved-card choice, its
// deletion dialog and one-click, FlexCheckout (card and bank account,
// field errors, its error page), the demo's return, IPN, mailbox, wallet
// and DirectLink pages, the pages of a shop with a light colour and of one
// with a dark colour (hosted form, refusal, accepted; the pop-in's button
// and the open pop-in; FlexCheckout), and the message
// pages (404, unknown form, refused return address, expired form). Every violation fails the test, listed
// with its rule, impact, target, frame and the page states it was seen on.
// No rule is disabled.
func TestAccessibilityAudit(t *testing.T) {
	if !strings.Contains(axeSource[:200], "axe v"+axeVersion) {
		t.Fatalf("testdata/axe/axe.min.js is not axe %s: %q", axeVersion, axeSource[:40])
	}
	clk := clock.NewFake(time.Now())
	s := startServer(t, serverOpts{clock: clk})
	create := func(t *testing.T, body map[string]any) string {
		t.Helper()
		body["amount"], body["currency"] = 1990, "EUR"
		ft, _ := answer(s.v4(t, "Charge/CreatePayment", body))["formToken"].(string)
		if ft == "" {
			t.Fatalf("no formToken for %v", body)
		}
		return ft
	}
	// Each part has a tab of its own (a browser session is bounded by
	// browsertest.Timeout); the browser is the package's one. The parts
	// are declared first and run at the end (see there).
	type auditPart struct {
		name string
		fn   func(t *testing.T, a *auditor, must func(error, string))
	}
	var parts []auditPart
	part := func(name string, fn func(t *testing.T, a *auditor, must func(error, string))) {
		parts = append(parts, auditPart{name, fn})
	}
	run := func(t *testing.T, p auditPart) {
		a := &auditor{t: t, ctx: browsertest.New(t), found: map[string][]string{}}
		if err := axeOnNewDocuments(a.ctx); err != nil {
			t.Fatalf("loading axe in the tab: %v", err)
		}
		p.fn(t, a, func(err error, what string) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		})
		a.report()
	}
	payIn := func(pan string, in ...chromedp.QueryOption) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
			return chromedp.Void{}, chromedp.Do(ctx,
				chromedp.SetValue(chromedp.CSS("#kr-pan"), "", in...),
				chromedp.SetValue(chromedp.CSS("#kr-expiry"), "", in...),
				chromedp.SetValue(chromedp.CSS("#kr-csc"), "", in...),
				chromedp.SendKeys(chromedp.CSS("#kr-pan"), pan, in...),
				chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry(), in...),
				chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123", in...),
				chromedp.Click(chromedp.CSS("#kr-pay"), in...))
		}
	}

	part("demo and embedded form", func(t *testing.T, a *auditor, must func(error, string)) {
		ctx := a.ctx
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/demo?lang=fr"), chromedp.WaitVisible(chromedp.CSS("ul.products"))), "the demo shop")
		a.check("demo shop")
		must(chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#lang-mug"), "de"),
			chromedp.Click(chromedp.CSS("ul.products li:first-child button")),
			chromedp.WaitVisible(chromedp.CSS(".kr-embedded iframe")),
		), "the demo checkout")
		in := frameQuery(t, ctx, "#kr-pan")
		a.check("demo checkout, embedded form (de)")
		a.audited(`^/embedded/`)
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-pay"), in), chromedp.WaitVisible(chromedp.CSS(`#kr-pan[aria-invalid="true"]`), in)), "the empty embedded form")
		a.check("embedded form with field errors (de)")
		// Bounded, so that a payment that never ends says where the form
		// stood (this step once ran into the part's 90 s under load, with
		// nothing else to go on) rather than only "deadline exceeded".
		paid, cancelPaid := context.WithTimeout(ctx, 45*time.Second)
		err := chromedp.Do(paid, payIn("4970100000000055", in), chromedp.WaitVisible(chromedp.CSS("dl.facts")))
		cancelPaid()
		if err != nil {
			must(err, "paying in the embedded form ("+embeddedFormState(ctx)+")")
		}
		a.check("demo return page")
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/demo/ipn"), chromedp.WaitVisible(chromedp.CSS("main"))), "the demo IPNs")
		a.check("demo IPNs received")
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/demo/mail"), chromedp.WaitVisible(chromedp.CSS("body"))), "the demo mailbox")
		a.check("demo mailbox")
	})

	part("pop-in", func(t *testing.T, a *auditor, must func(error, string)) {
		ctx := a.ctx
		// A merchant page (of another origin) with the embedded form in a
		// pop-in: the button and the dialog the client script adds to the
		// merchant's page, and the form's iframe in it.
		ft := create(t, map[string]any{"orderId": "a11y-popin", "customer": map[string]any{"billingDetails": map[string]any{"language": "fr"}}})
		merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Boutique</title>
<script src="%s/static/js/krypton-client/V4.0/stable/kr-payment-form.min.js" kr-public-key="%s" kr-language="fr-FR"></script>
<script>KR.onFormReady(function () { document.body.setAttribute('data-ready', '1'); });</script>
</head><body><main><h1>Boutique</h1><div class="kr-embedded" kr-popin kr-form-token="%s"></div></main></body></html>`,
				s.URL, shop.DemoTestPublicKey, ft)
		}))
		defer merchant.Close()
		// The button is hidden (visibility) until the frame is ready: audited
		// and clicked once it can be seen.
		must(chromedp.Do(ctx, chromedp.Navigate(merchant.URL), chromedp.WaitReady(chromedp.CSS("body[data-ready]"))), "the merchant page")
		a.check("pop-in button on a merchant page (fr)")
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".kr-popin-button")), chromedp.WaitVisible(chromedp.CSS(".kr-popin-overlay iframe"))), "opening the pop-in")
		frameQuery(t, ctx, "#kr-pan")
		a.check("pop-in open (fr)")
		a.audited(`^/embedded/`)
	})

	part("hosted page", func(t *testing.T, a *auditor, must func(error, string)) {
		ctx := a.ctx
		// English: the form, a refusal, then a payment accepted (the
		// form's field errors are audited in the embedded form).
		ft := create(t, map[string]any{"orderId": "a11y-en", "customer": map[string]any{"billingDetails": map[string]any{"language": "en"}}})
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft), chromedp.WaitVisible(chromedp.CSS("#kr-pan"))), "the hosted page")
		a.check("hosted form (en)")
		must(chromedp.Do(ctx, payIn("4970109900000008"), chromedp.WaitVisible(chromedp.CSS("#kr-form-error"))), "a refused card")
		a.check("hosted form after a refusal (en)")
		must(chromedp.Do(ctx, payIn("4970100000000055"), chromedp.WaitVisible(chromedp.CSS("#kr-final.ok"))), "an accepted card")
		a.check("hosted page, payment accepted (en)")
	})

	// A part of its own, to keep each tab's session well within its
	// bound with the parts side by side.
	part("hosted page, challenge and refusals", func(t *testing.T, a *auditor, must func(error, string)) {
		ctx := a.ctx
		// French: the 3-D Secure challenge, then the result page of the
		// payment accepted.
		ft := create(t, map[string]any{"orderId": "a11y-fr", "customer": map[string]any{"billingDetails": map[string]any{"language": "fr"}}})
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft), chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
			payIn("4970110000000021"), chromedp.WaitVisible(chromedp.CSS("#kr-acs-approve"))), "the challenge")
		a.check("3-D Secure challenge (fr)")
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-acs-approve")), chromedp.WaitVisible(chromedp.CSS("#kr-final.ok"))), "approving the challenge")
		a.check("result page, paid (fr)")

		// German: two attempts refused, then the last one: the final
		// refusal on the form, then the result page of a refusal after a
		// challenge.
		refusedTwice := func(orderID string) string {
			ft := create(t, map[string]any{"orderId": orderID, "customer": map[string]any{"billingDetails": map[string]any{"language": "de"}}})
			for range 2 {
				if out := postCard(t, s, ft, "4970109900000008"); out["step"] != "form" {
					t.Fatalf("a refusal with attempts left answered %v", out)
				}
			}
			return ft
		}
		ft = refusedTwice("a11y-de-1")
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft), chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
			payIn("4970109900000008"), chromedp.WaitVisible(chromedp.CSS("#kr-final.ko"))), "the last refusal")
		a.check("hosted page, payment finally refused (de)")
		ft = refusedTwice("a11y-de-2")
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft), chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
			payIn("4970110000000021"), chromedp.WaitVisible(chromedp.CSS("#kr-acs-fail"))), "the last challenge")
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-acs-fail")), chromedp.WaitVisible(chromedp.CSS("#kr-final.ko"))), "failing the challenge")
		a.check("result page, refused (de)")
	})

	part("saved cards", func(t *testing.T, a *auditor, must func(error, string)) {
		ctx := a.ctx
		// A card saved in the buyer's wallet, then a second checkout offers
		// it, with the deletion's confirmation.
		ft := create(t, map[string]any{"orderId": "a11y-wallet-1", "formAction": "CUSTOMER_WALLET", "customer": map[string]any{"reference": "a11y-buyer"}})
		if out := postForm(t, s, "/pay/"+ft+"?kr-language=en", url.Values{"pan": {"4970100000000055"}, "expiry": {"12/" + futureExpiry()[2:]}, "csc": {"123"}, "save": {"1"}}); out["accepted"] != true {
			t.Fatalf("saving a card: %v", out)
		}
		ft = create(t, map[string]any{"orderId": "a11y-wallet-2", "formAction": "CUSTOMER_WALLET", "customer": map[string]any{"reference": "a11y-buyer"}})
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft+"?kr-language=en"), chromedp.WaitVisible(chromedp.CSS("#kr-saved-csc"))), "the saved cards")
		a.check("saved-card choice (en)")
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-tab-new")), chromedp.WaitVisible(chromedp.CSS("#kr-pan"))), "the new-card tab")
		a.check("saved-card choice, new card tab (en)")
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-tab-saved")), chromedp.Click(chromedp.CSS(".trash")), chromedp.WaitVisible(chromedp.CSS("#kr-confirm"))), "the deletion")
		a.check("saved-card deletion confirmation (en)")
		// Without the script the bin icon posts its own form: a page asks to
		// confirm (submitted here as the browser would, past form.js).
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft+"?kr-language=en"), chromedp.WaitVisible(chromedp.CSS(".trash"))), "the saved cards again")
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('kr-wallet-delete').requestSubmit(document.querySelector('.trash')), true`))
		must(err, "the bin icon's own form")
		must(chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#kr-delete-yes"))), "the confirmation page")
		a.check("saved-card deletion confirmation page, no script (en)")
		// Confirmed, the form comes back (Post/Redirect/Get) with the
		// outcome as a status: above the card form, the buyer's only card
		// gone.
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-delete-yes")), chromedp.WaitVisible(chromedp.CSS("#kr-wallet-msg"))), "the deletion, no script")
		a.check("saved card deleted, no script: the card form with the status (en)")
		// One-click: a payment of a saved card's token.
		ft = create(t, map[string]any{"orderId": "a11y-oc-save", "formAction": "REGISTER_PAY"})
		if out := postCard(t, s, ft, "4970100000000055"); out["accepted"] != true {
			t.Fatalf("saving a card: %v", out)
		}
		txs, _ := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "a11y-oc-save"}))["transactions"].([]any)
		if len(txs) != 1 {
			t.Fatalf("Order/Get a11y-oc-save: %v", txs)
		}
		tok, _ := txs[0].(map[string]any)["paymentMethodToken"].(string)
		ft = create(t, map[string]any{"orderId": "a11y-oc-pay", "paymentMethodToken": tok, "customer": map[string]any{"billingDetails": map[string]any{"language": "de"}}})
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft), chromedp.WaitVisible(chromedp.CSS("#kr-saved-csc"))), "the one-click page")
		a.check("one-click saved card (de)")
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/demo/wallet?account=a11y-buyer"), chromedp.WaitVisible(chromedp.CSS("main"))), "the demo wallet")
		a.check("demo customer wallet")
	})

	part("FlexCheckout", func(t *testing.T, a *auditor, must func(error, string)) {
		ctx := a.ctx
		// In the demo (French): the tokenization page in its iframe, its
		// field errors, the result and the DirectLink charge.
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/demo/flexcheckout?lang=fr")), "the FlexCheckout demo")
		fin := frameQuery(t, ctx, "#cardno")
		a.check("FlexCheckout tokenization page (fr)")
		a.audited(`^/Tokenization/HostedPage`)
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#submit"), fin)), "the empty FlexCheckout form")
		fin = frameQuery(t, ctx, ".flex-error")
		a.check("FlexCheckout with field errors (fr)")
		must(chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#cardno"), "4970100000000055", fin),
			chromedp.SetValue(chromedp.CSS("#cn"), "Jeanne Martin", fin),
			chromedp.SetValue(chromedp.CSS("#expm"), "11", fin),
			chromedp.SetValue(chromedp.CSS("#expy"), fmt.Sprint(time.Now().Year()+3), fin),
			chromedp.SendKeys(chromedp.CSS("#cvc"), "123", fin),
			chromedp.Click(chromedp.CSS("#submit"), fin),
		), "saving a card with FlexCheckout")
		res := frameQuery(t, ctx, "#charge")
		a.check("demo FlexCheckout result")
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#charge"), res), chromedp.WaitVisible(chromedp.CSS("#dl-status"))), "charging the alias")
		a.check("demo DirectLink charge")

		// Redirect mode, SEPA direct debit (German): FlexCheckout's own
		// page around its form.
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/demo/flexcheckout?lang=de")), "the FlexCheckout demo in German")
		src, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("iframe.flex"), "src"))
		must(err, "reading FlexCheckout's address")
		flex, err := url.Parse(src.Value)
		must(err, "FlexCheckout's address")
		var params ogone.Params
		for k, v := range flex.Query() {
			switch strings.ToUpper(k) {
			case "SHASIGNATURE.SHASIGN", "SHASIGN":
			case "CARD.PAYMENTMETHOD":
				params = append(params, ogone.Param{Name: k, Value: "DirectDebits"})
			default:
				params = append(params, ogone.Param{Name: k, Value: v[0]})
			}
		}
		sig, err := ogone.Sign(ogone.SHA512, params, shop.DemoSHAPassphrase, nil)
		must(err, "signing")
		q := url.Values{"SHASIGNATURE.SHASIGN": {sig}}
		for _, p := range params {
			q.Set(p.Name, p.Value)
		}
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+flex.Path+"?"+q.Encode()), chromedp.WaitVisible(chromedp.CSS("#iban"))), "FlexCheckout for a bank account")
		a.check("FlexCheckout direct debit page (de)")

		// The error page (German): the demo's request with its signature
		// broken.
		bad, err := url.Parse(src.Value)
		must(err, "FlexCheckout's address")
		q = bad.Query()
		signed := false
		for k := range q {
			if strings.HasSuffix(strings.ToUpper(k), "SHASIGN") {
				q.Set(k, strings.Repeat("0", len(q.Get(k))))
				signed = true
			}
		}
		if !signed {
			t.Fatalf("no signature in FlexCheckout's address %s", src.Value)
		}
		bad.RawQuery = q.Encode()
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+bad.RequestURI()), chromedp.WaitVisible(chromedp.CSS("#generic-error"))), "FlexCheckout's error page")
		a.check("FlexCheckout error page (de)")
	})

	// A shop's colour paints the pay button: a light one (yellow, its
	// text near-black) and a dark one (navy, its text white), each with
	// axe's color-contrast rule on the button, the refusal and the payment
	// accepted. A part each: together they ran into the tab's 90 s beside
	// another part on a loaded machine.
	for _, c := range []struct{ name, color, lang string }{
		{"light", "#ffff00", "en"},
		{"dark", "#0b1f3a", "fr"},
	} {
		part("shop colour "+c.name, func(t *testing.T, a *auditor, must func(error, string)) {
			ctx := a.ctx
			sh, err := s.Shops.Create(context.Background(), shop.CreateInput{Name: "Colour " + c.name, Settings: shop.Settings{PrimaryColor: c.color}})
			must(err, "creating the "+c.name+" shop")
			out, _ := v4Raw(t, s, sh.Shop.ID, sh.Test.Password, "Charge/CreatePayment", map[string]any{"amount": 1990, "currency": "EUR",
				"orderId": "a11y-colour-" + c.name, "customer": map[string]any{"billingDetails": map[string]any{"language": c.lang}}})
			ft, _ := answer(out)["formToken"].(string)
			if ft == "" {
				t.Fatalf("no formToken for the %s shop: %v", c.name, out)
			}
			what := fmt.Sprintf("%s shop colour %s", c.name, c.color)
			must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft), chromedp.WaitVisible(chromedp.CSS("#kr-pan"))), what)
			on, err := chromedp.Run(ctx, chromedp.Evaluate[[2]string](`[getComputedStyle(document.getElementById('kr-pay')).backgroundColor, getComputedStyle(document.getElementById('kr-pay')).color]`))
			must(err, "reading the pay button's colours")
			if p := shop.PaletteFor(c.color, ""); on != [2]string{browsertest.CSSRGB(p.Color), browsertest.CSSRGB(p.On)} {
				t.Errorf("%s: the pay button is %v, want the shop's palette %+v", what, on, p)
			}
			a.check(what + ", hosted form (" + c.lang + ")")
			must(chromedp.Do(ctx, payIn("4970109900000008"), chromedp.WaitVisible(chromedp.CSS("#kr-form-error"))), "a refused card")
			a.check(what + ", after a refusal (" + c.lang + ")")
			must(chromedp.Do(ctx, payIn("4970100000000055"), chromedp.WaitVisible(chromedp.CSS("#kr-final.ok"))), "an accepted card")
			a.check(what + ", payment accepted (" + c.lang + ")")

			// The pop-in's button on a merchant page, painted once the
			// frame is ready, and the dialog open.
			out, _ = v4Raw(t, s, sh.Shop.ID, sh.Test.Password, "Charge/CreatePayment", map[string]any{"amount": 1990, "currency": "EUR",
				"orderId": "a11y-colour-popin-" + c.name, "customer": map[string]any{"billingDetails": map[string]any{"language": c.lang}}})
			ft, _ = answer(out)["formToken"].(string)
			merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprintf(w, `<!doctype html>
<html lang="%[4]s"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Boutique</title>
<script src="%[1]s/static/js/krypton-client/V4.0/stable/kr-payment-form.min.js" kr-public-key="%[2]s" kr-language="%[4]s"></script>
<script>KR.onFormReady(function () { document.body.setAttribute('data-ready', '1'); });</script>
</head><body><main><h1>Boutique</h1><div class="kr-embedded" kr-popin kr-form-token="%[3]s"></div></main></body></html>`,
					s.URL, sh.Test.PublicKey, ft, c.lang)
			}))
			must(chromedp.Do(ctx, chromedp.Navigate(merchant.URL), chromedp.WaitReady(chromedp.CSS("body[data-ready]"))), what+", the merchant page")
			on, err = chromedp.Run(ctx, chromedp.Evaluate[[2]string](`[getComputedStyle(document.querySelector('.kr-popin-button')).backgroundColor, getComputedStyle(document.querySelector('.kr-popin-button')).color]`))
			must(err, "reading the pop-in button's colours")
			if p := shop.PaletteFor(c.color, ""); on != [2]string{browsertest.CSSRGB(p.Color), browsertest.CSSRGB(p.On)} {
				t.Errorf("%s: the pop-in button is %v, want the shop's palette %+v", what, on, p)
			}
			a.check(what + ", pop-in button (" + c.lang + ")")
			must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".kr-popin-button")), chromedp.WaitVisible(chromedp.CSS(".kr-popin-overlay iframe"))), "opening the pop-in")
			frameQuery(t, ctx, "#kr-pan")
			a.check(what + ", pop-in open (" + c.lang + ")")
			merchant.Close()

			// FlexCheckout of the shop's PSPID, on its own page.
			params := ogone.Params{
				{Name: "ACCOUNT.PSPID", Value: sh.PSPID}, {Name: "CARD.PAYMENTMETHOD", Value: "CreditCard"},
				{Name: "LAYOUT.LANGUAGE", Value: map[string]string{"en": "en_US", "fr": "fr_FR"}[c.lang]},
				{Name: "PARAMETERS.ACCEPTURL", Value: s.URL + "/demo/flexcheckout/accept"},
				{Name: "PARAMETERS.EXCEPTIONURL", Value: s.URL + "/demo/flexcheckout/exception"},
			}
			sig, err := ogone.Sign(sh.SHAAlgo, params, sh.SHAIn, nil)
			must(err, "signing")
			q := url.Values{"SHASIGNATURE.SHASIGN": {sig}}
			for _, p := range params {
				q.Set(p.Name, p.Value)
			}
			must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/Tokenization/HostedPage?"+q.Encode()), chromedp.WaitVisible(chromedp.CSS("#submit"))), what+", FlexCheckout")
			on, err = chromedp.Run(ctx, chromedp.Evaluate[[2]string](`[getComputedStyle(document.getElementById('submit')).backgroundColor, getComputedStyle(document.getElementById('submit')).color]`))
			must(err, "reading FlexCheckout's button colours")
			if p := shop.PaletteFor(c.color, ""); on != [2]string{browsertest.CSSRGB(p.Color), browsertest.CSSRGB(p.On)} {
				t.Errorf("%s: FlexCheckout's button is %v, want the shop's palette %+v", what, on, p)
			}
			a.check(what + ", FlexCheckout (" + c.lang + ")")
		})
	}

	// Last: the expired form moves the server's clock past every form's
	// lifetime.
	part("message pages", func(t *testing.T, a *auditor, must func(error, string)) {
		ctx := a.ctx
		ft := create(t, map[string]any{"orderId": "a11y-messages"})
		// An address nothing serves, an invalid link (an unknown form, a
		// return address refused), an expired form.
		for _, m := range []struct{ what, path string }{
			{"message page, 404 (en)", "/no/such/page"},
			{"message page, unknown form (de)", "/pay/unknownFormToken?kr-language=de"},
			{"message page, invalid return link (fr)", "/pay/" + ft + "?kr-language=fr&kr-post-url-success=" + url.QueryEscape("ftp://example.com/")},
		} {
			must(chromedp.Do(ctx, chromedp.Navigate(s.URL+m.path), chromedp.WaitVisible(chromedp.CSS("#kr-final-message"))), m.what)
			a.check(m.what)
		}
		clk.Advance(16 * time.Minute)
		resp, err := http.Get(s.URL + "/pay/" + ft)
		must(err, "the expired form")
		resp.Body.Close()
		if resp.StatusCode != http.StatusGone {
			t.Fatalf("the expired form answered %d, want 410", resp.StatusCode)
		}
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft+"?kr-language=en"), chromedp.WaitVisible(chromedp.CSS("#kr-final-message"))), "the expired form")
		a.check("message page, expired form (en)")
	})

	// The parts side by side, each in its tab (two at a time: -parallel
	// is the machine's cores; one after the other they took 4 minutes of
	// the e2e package on a busy machine, most of it axe's runs in
	// Chromium), then the message pages alone: they move the clock.
	last := parts[len(parts)-1]
	if last.name != "message pages" {
		t.Fatalf("the last part is %q: the message pages, which move the clock, must run last", last.name)
	}
	t.Run("pages", func(t *testing.T) {
		for _, p := range parts[:len(parts)-1] {
			t.Run(p.name, func(t *testing.T) {
				t.Parallel()
				run(t, p)
			})
		}
	})
	t.Run(last.name, func(t *testing.T) { run(t, last) })
}

// embeddedFormState describes the demo page and the state of the embedded
// form in its (same-origin) frame, for a failure message.
func embeddedFormState(ctx context.Context) string {
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
  var f = document.querySelector('.kr-embedded iframe');
  if (!f) return 'page ' + location.href + ', no payment frame';
  var d = f.contentDocument;
  if (!d) return 'page ' + location.href + ', frame not readable';
  var p = d.getElementById('kr-pay'), a = d.getElementById('kr-form-error'), m = d.getElementById('kr-final-message');
  var bad = Array.prototype.map.call(d.querySelectorAll('[aria-invalid="true"]'), function (e) { return e.id; });
  return 'page ' + location.href + ', frame ' + d.location.href +
    ', pay aria-busy=' + (p && p.getAttribute('aria-busy')) + ' aria-disabled=' + (p && p.getAttribute('aria-disabled')) +
    ' disabled=' + (p && p.disabled) + ', alert "' + (a ? a.textContent : '') + '", final "' + (m ? m.textContent : '') +
    '", invalid [' + bad.join(' ') + ']';
})()`))
	if err != nil {
		return "state unreadable: " + err.Error()
	}
	return out
}
