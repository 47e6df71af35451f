package e2e

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

// pageFacts is what pageFactsScript reads of a page as the browser lays it
// out.
type pageFacts struct {
	Lang, Title        string
	Texts              []string // visible text, placeholders, labels given by attribute, the title
	Unlabelled         []string // form controls with no accessible name
	CardFields         []string // card inputs without their autocomplete token or inputmode numeric
	LowContrast        []string // text below 4.5:1 (3:1 for large text) on its background
	Wide               int      // document width when it scrolls sideways, else 0
	ClientWidth        int
	PayButton          string
	ActiveID           string
	InvalidWithoutDesc []string // aria-invalid fields whose error is not announced
}

// pageFactsScript reads pageFacts. Contrast is computed from the computed
// styles (WCAG 2.1 relative luminance): the text's colour, blended by its
// opacity, over the first ancestor background that is not transparent,
// itself blended over the ones beneath; text over a background image is
// skipped.
const pageFactsScript = `(function () {
  function visible(e) {
    if (!(e instanceof Element)) return false;
    var s = getComputedStyle(e);
    if (s.visibility === 'hidden' || s.display === 'none') return false;
    var r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && !e.closest('[hidden],[aria-hidden="true"]');
  }
  function rgba(c) {
    var m = c.match(/rgba?\(([^)]+)\)/); if (!m) return [0, 0, 0, 0];
    var p = m[1].split(/[ ,\/]+/).filter(Boolean).map(parseFloat);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  function over(top, bottom) {
    var a = top[3];
    return [top[0]*a + bottom[0]*(1-a), top[1]*a + bottom[1]*(1-a), top[2]*a + bottom[2]*(1-a), 1];
  }
  function background(e) {
    var layers = [];
    for (var n = e; n; n = n.parentElement) {
      var s = getComputedStyle(n);
      if (s.backgroundImage && s.backgroundImage !== 'none') return null;
      var c = rgba(s.backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    var bg = [255, 255, 255, 1];
    for (var i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  }
  function lum(c) {
    var v = c.slice(0, 3).map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126*v[0] + 0.7152*v[1] + 0.0722*v[2];
  }
  var out = {Lang: document.documentElement.lang, Title: document.title, Texts: [document.title], Unlabelled: [], CardFields: [],
    LowContrast: [], Wide: 0, ClientWidth: document.documentElement.clientWidth, PayButton: '', ActiveID: document.activeElement ? document.activeElement.id : '',
    InvalidWithoutDesc: []};
  var w = document.documentElement.scrollWidth;
  if (w > document.documentElement.clientWidth) out.Wide = w;
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  var seen = new Set();
  for (var t = walker.nextNode(); t; t = walker.nextNode()) {
    var txt = t.nodeValue.replace(/\s+/g, ' ').trim();
    var e = t.parentElement;
    if (!txt || !visible(e) || e.closest('script,style,noscript')) continue;
    out.Texts.push(txt);
    if (seen.has(e)) continue;
    seen.add(e);
    var s = getComputedStyle(e), bg = background(e);
    if (!bg) continue;
    var fg = rgba(s.color), op = 1;
    for (var n = e; n; n = n.parentElement) op *= parseFloat(getComputedStyle(n).opacity);
    fg[3] *= op;
    var f = over(fg, bg), l1 = lum(f), l2 = lum(bg);
    var ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    var px = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    var need = (px >= 24 || (bold && px >= 18.66)) ? 3 : 4.5;
    var disabled = e.closest('button:disabled,input:disabled,[aria-disabled="true"]');
    if (ratio < need && !disabled) out.LowContrast.push(JSON.stringify(txt.slice(0, 40)) + ' ' + s.color + ' on rgb(' + bg.slice(0, 3).map(Math.round).join(', ') + ') = ' + ratio.toFixed(2));
  }
  document.querySelectorAll('input,select,textarea,button').forEach(function (e) {
    if (e.type === 'hidden' || !visible(e)) return;
    ['placeholder', 'aria-label', 'title'].forEach(function (a) { if (e.getAttribute(a)) out.Texts.push(e.getAttribute(a).trim()); });
    if (e.tagName === 'BUTTON') return;
    var named = (e.labels && Array.prototype.some.call(e.labels, function (l) { return l.textContent.trim() !== ''; })) ||
      (e.getAttribute('aria-label') || '').trim() !== '' ||
      (e.getAttribute('aria-labelledby') || '').split(/\s+/).some(function (id) { var l = id && document.getElementById(id); return l && l.textContent.trim() !== ''; });
    if (!named) out.Unlabelled.push(e.id || e.name || e.outerHTML.slice(0, 60));
    if (e.getAttribute('aria-invalid') === 'true') {
      var desc = (e.getAttribute('aria-describedby') || '').split(/\s+/).map(function (id) { var d = id && document.getElementById(id); return d ? d.textContent.trim() : ''; }).join('');
      if (!desc) out.InvalidWithoutDesc.push(e.id || e.name);
    }
  });
  var want = {'kr-pan': 'cc-number', 'kr-expiry': 'cc-exp', 'kr-csc': 'cc-csc', 'kr-saved-csc': 'cc-csc', 'kr-holder': 'cc-name',
    'cardno': 'cc-number', 'cvc': 'cc-csc', 'cn': 'cc-name', 'expm': 'cc-exp-month', 'expy': 'cc-exp-year'};
  Object.keys(want).forEach(function (id) {
    var e = document.getElementById(id); if (!e) return;
    var bad = [];
    if (e.getAttribute('autocomplete') !== want[id]) bad.push('autocomplete=' + e.getAttribute('autocomplete'));
    if (e.tagName === 'INPUT' && want[id] !== 'cc-name' && e.getAttribute('inputmode') !== 'numeric') bad.push('inputmode=' + e.getAttribute('inputmode'));
    if (bad.length) out.CardFields.push(id + ': ' + bad.join(' '));
  });
  var pay = document.getElementById('kr-pay') || document.getElementById('submit');
  if (pay) out.PayButton = pay.textContent.replace(/\s+/g, ' ').trim();
  return out;
})()`

// untranslatedAllowed are words that a page in any language shows alike:
// names of brands, products and standards, and the test badge.
var untranslatedAllowed = regexp.MustCompile(`^(TEST|IBAN|BIC|CVC|CVV|3-D Secure|American Express|VISA|Visa|MasterCard|Mastercard|Maestro|CB|Diners Club|Discover|JCB|UnionPay|OpenPSP Demo Shop|OpenPSP|MM/YY|Test|Alias|—|·)$`)

// sameWord are words a language writes as English does.
var sameWord = map[string]map[string]bool{
	"de": {"Shop": true},
	"es": {"Error": true},
}

// TestBuyerPagesSpeakTheBuyersLanguageAndFit walks the pages a buyer
// meets, in every language they speak (the hosted pages: en, fr, es, it,
// de; FlexCheckout: those and nl), at a phone's width (360px) and a
// desktop's (1280px), and checks on each: the html lang is the page's
// language; no text, placeholder, accessible name or title is left in
// English on a page in another language (each state is compared with the
// same state in English); the title is set; every form control has an
// accessible name; card fields carry their autocomplete token and
// inputmode numeric; the page does not scroll sideways; body text has a
// contrast of at least 4.5:1 (3:1 large) computed from the styles; the pay
// button shows the amount as the language writes it. On submitting an
// empty form, focus goes to the first invalid field and every invalid
// field is described by its error. The pages: the hosted form, its field
// errors, a refusal, the 3-D Secure step, the result page, the Token/Update
// form, the message pages (404, 405, an invalid link, an expired link) and
// FlexCheckout (its form, its errors, its error page).
func TestBuyerPagesSpeakTheBuyersLanguageAndFit(t *testing.T) {
	clk := clock.NewFake(time.Now())
	s := startServer(t, serverOpts{clock: clk})
	ctx := browsertest.New(t)
	must := mustDo(t)
	create := func(service, orderID, lang string, extra map[string]any) string {
		t.Helper()
		body := map[string]any{"amount": 1250, "currency": "EUR", "orderId": orderID,
			"customer": map[string]any{"billingDetails": map[string]any{"language": lang}}}
		for k, v := range extra {
			if v == nil {
				delete(body, k)
			} else {
				body[k] = v
			}
		}
		ft, _ := answer(s.v4(t, service, body))["formToken"].(string)
		if ft == "" {
			t.Fatalf("%s %s: no formToken", service, orderID)
		}
		return ft
	}
	// One token for the Token/Update forms.
	ft := create("Charge/CreateToken", "bp-token", "en", map[string]any{"amount": nil})
	if out := postCard(t, s, ft, "4970100000000055"); out["accepted"] != true {
		t.Fatalf("creating a token: %v", out)
	}
	txs, _ := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "bp-token"}))["transactions"].([]any)
	if len(txs) != 1 {
		t.Fatalf("Order/Get bp-token: %v", txs)
	}
	token, _ := txs[0].(map[string]any)["paymentMethodToken"].(string)

	facts := map[string]map[string]pageFacts{} // state → language → facts (desktop)
	var problems []string
	fail := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	wantAmount := map[string]string{"en": "€12.50", "fr": "12,50 €", "es": "12,50 €", "it": "12,50 €", "de": "12,50 €"}
	zeroAmount := map[string]string{"en": "€0.00", "fr": "0,00 €", "es": "0,00 €", "it": "0,00 €", "de": "0,00 €"}
	// frame is the path of the frame look reads ("" for the page).
	frame := ""
	// look records the current page (or frame) as state in lang, at both
	// widths.
	look := func(state, lang string) pageFacts {
		t.Helper()
		var desktop pageFacts
		for _, w := range []int64{360, 1280} {
			must(chromedp.Do(ctx, chromedp.EmulateViewport(w, 740+int64(w/1280)*60)), "the viewport")
			f, err := chromedp.Run(ctx, evaluateIn[pageFacts](frame, pageFactsScript))
			must(err, state+" ("+lang+"): reading the page")
			where := fmt.Sprintf("%s (%s) @%dpx", state, lang, w)
			if f.Lang != lang {
				fail("%s: html lang %q", where, f.Lang)
			}
			if strings.TrimSpace(f.Title) == "" {
				fail("%s: no title", where)
			}
			for _, x := range f.Unlabelled {
				fail("%s: control %s has no accessible name", where, x)
			}
			for _, x := range f.CardFields {
				fail("%s: card field %s", where, x)
			}
			for _, x := range f.LowContrast {
				fail("%s: low contrast %s", where, x)
			}
			for _, x := range f.InvalidWithoutDesc {
				fail("%s: invalid field %s has no error described", where, x)
			}
			if f.Wide != 0 {
				fail("%s: the page is %dpx wide in a %dpx viewport", where, f.Wide, f.ClientWidth)
			}
			if w == 1280 {
				desktop = f
			}
		}
		if facts[state] == nil {
			facts[state] = map[string]pageFacts{}
		}
		facts[state][lang] = desktop
		return desktop
	}
	norm := func(s string) string {
		return strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(s)
	}
	// submitEmpty submits the form with no field filled and checks that
	// focus lands on the first field and the errors are announced.
	submitEmpty := func(state, lang, button, first string) {
		t.Helper()
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(button)), chromedp.WaitVisible(chromedp.CSS(first+`[aria-invalid="true"]`))), state+" ("+lang+"): submitting it empty")
		f := look(state, lang)
		if "#"+f.ActiveID != first {
			fail("%s (%s): focus on #%s after submitting, want %s", state, lang, f.ActiveID, first)
		}
	}

	for _, lang := range []string{"en", "fr", "es", "it", "de"} {
		must(chromedp.Do(ctx, acceptLanguage(lang)), "Accept-Language")
		// The hosted form, its errors, a refusal.
		ft := create("Charge/CreatePayment", "bp-form-"+lang, lang, nil)
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft), chromedp.WaitVisible(chromedp.CSS("#kr-pan"))), "the hosted form ("+lang+")")
		f := look("hosted form", lang)
		if !strings.Contains(norm(f.PayButton), wantAmount[lang]) {
			fail("hosted form (%s): pay button %q, want the amount as %q", lang, f.PayButton, wantAmount[lang])
		}
		submitEmpty("hosted form, field errors", lang, "#kr-pay", "#kr-pan")
		must(chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970109900000008"),
			chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
			chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
			chromedp.Click(chromedp.CSS("#kr-pay")), chromedp.WaitVisible(chromedp.CSS("#kr-form-error:not(:empty)"))), "a refused card ("+lang+")")
		look("hosted form, refused", lang)

		// The 3-D Secure step and the result page.
		ft = create("Charge/CreatePayment", "bp-3ds-"+lang, lang, nil)
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft), chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
			chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970110000000021"),
			chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
			chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
			chromedp.Click(chromedp.CSS("#kr-pay")), chromedp.WaitVisible(chromedp.CSS("#kr-acs-approve"))), "the challenge ("+lang+")")
		look("3-D Secure", lang)
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-acs-approve")), chromedp.WaitVisible(chromedp.CSS("#kr-final.ok"))), "the result ("+lang+")")
		look("result, paid", lang)

		// Token/Update: a card form without an amount.
		ft = create("Token/Update", "bp-update-"+lang, lang, map[string]any{"paymentMethodToken": token, "amount": nil})
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft), chromedp.WaitVisible(chromedp.CSS("#kr-pan"))), "the Token/Update form ("+lang+")")
		// It pays nothing: no amount of zero in its header, and a title of
		// its own, not the payment form's.
		f = look("Token/Update form", lang)
		for _, x := range f.Texts {
			if strings.Contains(norm(x), zeroAmount[lang]) {
				fail("Token/Update form (%s): shows an amount %q", lang, x)
			}
		}
		if f.Title == facts["hosted form"][lang].Title {
			fail("Token/Update form (%s): titled %q, as the payment form", lang, f.Title)
		}

		// Message pages: nothing here, a wrong method, an invalid link.
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/no/such/page"), chromedp.WaitVisible(chromedp.CSS("#kr-final-message"))), "404 ("+lang+")")
		look("404", lang)
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/unknownFormToken"), chromedp.WaitVisible(chromedp.CSS("#kr-final-message"))), "invalid link ("+lang+")")
		look("invalid link", lang)
		must(chromedp.Do(ctx, chromedp.Navigate(`data:text/html,<form method="post" action="`+s.URL+`/static/hosted/form.css"><button>go</button></form>`),
			chromedp.Click(chromedp.CSS("button")), chromedp.WaitVisible(chromedp.CSS("#kr-final-message"))), "405 ("+lang+")")
		look("405", lang)
	}

	// Keyboard only, on a phone, in Italian: from the top of the page, Tab
	// reaches the card fields in order, each with a visible focus, and
	// Enter on the pay button pays.
	must(chromedp.Do(ctx, acceptLanguage("it"), chromedp.EmulateViewport(360, 740)), "Accept-Language")
	ft = create("Charge/CreatePayment", "bp-keyboard", "it", nil)
	must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+ft), chromedp.WaitVisible(chromedp.CSS("#kr-pan"))), "the hosted form (keyboard)")
	typed := map[string]string{"kr-pan": "4970100000000055", "kr-expiry": futureExpiry(), "kr-csc": "123", "kr-holder": "Giulia Rossi"}
	var order []string
	for range 12 {
		must(chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)), "Tab")
		at, err := chromedp.Run(ctx, chromedp.Evaluate[[2]string](focusScript))
		must(err, "the focused element")
		order = append(order, at[0])
		if at[1] != "" {
			fail("keyboard (it): #%s has no visible focus: %s", at[0], at[1])
		}
		if v, ok := typed[at[0]]; ok {
			must(chromedp.Do(ctx, chromedp.KeyEvent(v)), "typing in #"+at[0])
		}
		if at[0] == "kr-pay" {
			break
		}
	}
	if got := strings.Join(order, " "); got != "kr-pan kr-expiry kr-csc kr-holder kr-pay" {
		fail("keyboard (it): Tab goes through %q, want the card number, expiry, code, holder, then the pay button", got)
	} else {
		must(chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#kr-final.ok"))), "paying with Enter")
	}

	// The embedded form, in its frame on the demo's checkout.
	for _, lang := range []string{"en", "es", "it"} {
		must(chromedp.Do(ctx, acceptLanguage(lang), chromedp.EmulateViewport(1280, 800), chromedp.Navigate(s.URL+"/demo?lang="+lang),
			chromedp.WaitVisible(chromedp.CSS("ul.products")),
			chromedp.SetValue(chromedp.CSS("#lang-mug"), lang),
			chromedp.Click(chromedp.CSS("ul.products li:first-child button")),
			chromedp.WaitVisible(chromedp.CSS(".kr-embedded iframe"))), "the demo checkout ("+lang+")")
		in := frameQuery(t, ctx, "#kr-pan")
		frame = "/embedded/"
		look("embedded form", lang)
		must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-pay"), in), chromedp.WaitVisible(chromedp.CSS(`#kr-pan[aria-invalid="true"]`), in)), "the empty embedded form")
		f := look("embedded form, field errors", lang)
		if f.ActiveID != "kr-pan" {
			fail("embedded form, field errors (%s): focus on #%s after submitting, want #kr-pan", lang, f.ActiveID)
		}
		frame = ""
	}

	// FlexCheckout, in its six languages.
	for _, lang := range []string{"en", "fr", "es", "it", "de", "nl"} {
		must(chromedp.Do(ctx, acceptLanguage(lang)), "Accept-Language")
		params := ogone.Params{
			{Name: "ACCOUNT.PSPID", Value: shop.DemoPSPID}, {Name: "CARD.PAYMENTMETHOD", Value: "CreditCard"},
			{Name: "LAYOUT.LANGUAGE", Value: lang + "_" + strings.ToUpper(lang)},
			{Name: "PARAMETERS.ACCEPTURL", Value: s.URL + "/demo/flexcheckout/accept"},
			{Name: "PARAMETERS.EXCEPTIONURL", Value: s.URL + "/demo/flexcheckout/exception"},
		}
		sig, err := ogone.Sign(ogone.SHA512, params, shop.DemoSHAPassphrase, nil)
		must(err, "signing")
		q := url.Values{"SHASIGNATURE.SHASIGN": {sig}}
		for _, p := range params {
			q.Set(p.Name, p.Value)
		}
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/Tokenization/HostedPage?"+q.Encode()), chromedp.WaitVisible(chromedp.CSS("#cardno"))), "FlexCheckout ("+lang+")")
		look("FlexCheckout", lang)
		submitEmpty("FlexCheckout, field errors", lang, "#submit", "#cardno")
		q.Set("SHASIGNATURE.SHASIGN", strings.Repeat("0", len(sig)))
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/Tokenization/HostedPage?"+q.Encode()), chromedp.WaitVisible(chromedp.CSS("#generic-error"))), "FlexCheckout's error page ("+lang+")")
		look("FlexCheckout error page", lang)
	}

	// The expired link, last: it moves the clock past every form's life.
	fts := map[string]string{}
	for _, lang := range []string{"en", "fr", "es", "it", "de"} {
		fts[lang] = create("Charge/CreatePayment", "bp-expired-"+lang, lang, nil)
	}
	clk.Advance(16 * time.Minute)
	for _, lang := range []string{"en", "fr", "es", "it", "de"} {
		must(chromedp.Do(ctx, chromedp.Navigate(s.URL+"/pay/"+fts[lang]), chromedp.WaitVisible(chromedp.CSS("#kr-final-message"))), "expired link ("+lang+")")
		look("expired link", lang)
	}

	// Untranslated: a text of a page in another language that the same
	// state shows in English.
	states := make([]string, 0, len(facts))
	for st := range facts {
		states = append(states, st)
	}
	sort.Strings(states)
	for _, st := range states {
		en := map[string]bool{}
		for _, x := range facts[st]["en"].Texts {
			en[norm(x)] = true
		}
		for lang, f := range facts[st] {
			if lang == "en" {
				continue
			}
			if f.Title == facts[st]["en"].Title && !sameWord[lang][f.Title] {
				fail("%s (%s): title %q is the English one", st, lang, f.Title)
			}
			for _, x := range f.Texts {
				x = norm(x)
				if en[x] && regexp.MustCompile(`\pL{2}`).MatchString(x) && !untranslatedAllowed.MatchString(x) && !sameWord[lang][x] {
					fail("%s (%s): %q is in English", st, lang, x)
				}
			}
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d page states checked", len(facts))
}

// focusScript tells the focused element's id and, if its focus cannot be
// seen (no outline, no box shadow), why.
const focusScript = `(function () {
  var e = document.activeElement, s = getComputedStyle(e);
  var seen = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
  return [e.id || e.tagName, seen ? '' : 'outline ' + s.outlineStyle + ' ' + s.outlineWidth + ', box-shadow ' + s.boxShadow];
})()`

// evaluateIn evaluates expr in the first frame whose path starts with
// path (the page itself when path is ""), in an isolated world: the
// frame's Content-Security-Policy does not apply there, its DOM and
// computed styles are the page's.
func evaluateIn[T any](path, expr string) chromedp.Action[T] {
	if path == "" {
		return chromedp.Evaluate[T](expr)
	}
	return func(ctx context.Context, t *chromedp.Target) (T, error) {
		var zero T
		tree, err := cdp.Call(ctx, t, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			return zero, err
		}
		var found *cdp.Frame
		var walk func(ft *page.FrameTree)
		walk = func(ft *page.FrameTree) {
			if u, err := url.Parse(ft.Frame.URL); err == nil && found == nil && strings.HasPrefix(u.Path, path) {
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
		world, err := cdp.Call(ctx, t, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{FrameID: found.ID, WorldName: "openpsp-facts"})
		if err != nil {
			return zero, err
		}
		return chromedp.Evaluate[T](expr, func(p *runtime.EvaluateParams) { p.ContextID = world.ExecutionContextID })(ctx, t)
	}
}

// acceptLanguage has the tab send Accept-Language: lang from now on.
func acceptLanguage(lang string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}})
		return chromedp.Void{}, err
	}
}
