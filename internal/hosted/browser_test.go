package hosted

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/shop"
)

// browserEnv is OpenPSP's pages on one loopback origin and a merchant site
// on another (another port: another origin, as in production).
type browserEnv struct {
	*env
	psp      *httptest.Server
	merchant *httptest.Server
	posts    chan url.Values // what the merchant's return URLs received
	events   chan string     // what the merchant page's KR callbacks reported
	page     string          // the merchant page's HTML
}

func newBrowserEnv(t *testing.T) *browserEnv { return newBrowserEnvWith(t, nil) }

// newBrowserEnvWith is newBrowserEnv with the buyers' wallets of wallets
// (nil: none).
func newBrowserEnvWith(t *testing.T, wallets Wallets) *browserEnv {
	t.Helper()
	// The browser validates expiry dates with its own clock: use the real one.
	pay := newFakePayments()
	sim := simulator.New(simulator.Config{})
	h := New(Options{Payments: pay, Keys: fakeKeys{}, Authenticator: sim, SealKey: testSealKey, Clock: clock.Real{}, Wallet: wallets})
	mux := http.NewServeMux()
	h.Register(mux)
	b := &browserEnv{
		env:    &env{h: h, mux: mux, pay: pay, sim: sim},
		posts:  make(chan url.Values, 4),
		events: make(chan string, 16),
	}
	b.psp = httptest.NewServer(mux)
	t.Cleanup(b.psp.Close)
	b.merchant = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, b.page)
		case "/event":
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
			b.events <- string(body)
		case "/favicon.ico":
			w.WriteHeader(http.StatusNoContent)
		case "/paid", "/refused":
			_ = r.ParseForm()
			v := r.Form
			v.Set("_path", r.URL.Path)
			v.Set("_method", r.Method)
			b.posts <- v
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<!doctype html><title>Back at the shop</title><p id="landed">`+r.URL.Path+`</p>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(b.merchant.Close)
	return b
}

func wait[T any](t *testing.T, ctx context.Context, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v", what, ctx.Err())
	}
	var zero T
	return zero
}

func futureExpiry() string {
	return fmt.Sprintf("12%02d", (time.Now().Year()+4)%100)
}

// typeCard types pan, a future expiry and a security code of 3 digits in
// the card form.
func typeCard(pan string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), pan),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"))
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestBrowserEmbedded is a merchant page written for Lyra's client: script
// tag with kr-public-key and kr-post-url-success, a kr-embedded container
// with Lyra's placeholder children, inline KR callbacks. The buyer types a
// card in the frame and pays; the browser lands on the merchant's success
// URL with a kr-hash this test verifies with its own HMAC code.
func TestBrowserEmbedded(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	b.pay.add(demoForm("embtok"))
	b.page = fmt.Sprintf(`<!doctype html>
<html><head><meta charset="utf-8"><title>Merchant</title>
<link rel="stylesheet" href="%[1]s/static/js/krypton-client/V4.0/ext/neon-reset.min.css">
<script src="%[1]s/static/js/krypton-client/V4.0/stable/kr-payment-form.min.js"
  kr-public-key="%[2]s" kr-post-url-success="%[3]s/paid" kr-language="fr-FR"></script>
<script src="%[1]s/static/js/krypton-client/V4.0/ext/neon.js"></script>
<script>
function report(o) { fetch('/event', {method: 'POST', body: JSON.stringify(o), keepalive: true}); }
KR.onFormReady(function () { document.body.setAttribute('data-ready', '1'); });
KR.onBrandChanged(function (e) { report({brand: e.card.brand}); });
KR.onSubmit(function (r) {
  report({submit: r.clientAnswer.orderStatus, raw: r.rawClientAnswer, hash: r.hash, algo: r.hashAlgorithm});
  return true;
});
KR.onError(function (e) { report({error: e.errorCode}); });
</script>
</head><body><h1>Checkout</h1>
<div class="kr-embedded" kr-form-token="embtok">
  <div class="kr-pan"></div><div class="kr-expiry"></div><div class="kr-security-code"></div>
  <button class="kr-payment-button"></button><div class="kr-form-error"></div>
</div></body></html>`, b.psp.URL, demoPublicKey, b.merchant.URL)

	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.merchant.URL),
		chromedp.WaitReady(chromedp.CSS("body[data-ready]")),
	), "loading the merchant page")
	frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("iframe")))
	must(t, err, "finding the payment frame")
	in := chromedp.FromNode(frames[0])
	if src := frames[0].AttributeValue("src"); !strings.HasPrefix(src, b.psp.URL+"/embedded/embtok?") {
		t.Fatalf("frame src %q", src)
	}
	// Lyra's placeholder children are hidden, not shown next to our frame.
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('.kr-payment-button')).display`))
	must(t, err, "placeholder style")
	if hidden != "none" {
		t.Errorf("Lyra placeholder button is %q, want hidden", hidden)
	}

	label, err := chromedp.Run(ctx, browsertest.Text("#kr-pay", in))
	must(t, err, "pay button")
	if label != "Payer 12,50\u00a0€" {
		t.Errorf("pay button %q", label)
	}
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970110000000021", in),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry(), in),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123", in),
	), "typing the card")
	shown, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#kr-pan"), in))
	must(t, err, "pan value")
	if shown != "4970 1100 0000 0021" {
		t.Errorf("card number shown as %q", shown)
	}
	if ev := wait(t, ctx, b.events, "onBrandChanged"); !strings.Contains(ev, `"brand":"visa"`) {
		t.Errorf("brand event %s", ev)
	}
	// This card takes a 3-D Secure challenge: the test bank page opens in
	// the frame, and its answer ends the payment from there.
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-pay"), in)), "paying")
	approve := waitInFrame(t, ctx, "#kr-acs-approve")
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-acs-approve"), approve)), "approving in the frame")

	got := wait(t, ctx, b.posts, "the browser return")
	if got.Get("_path") != "/paid" || got.Get("_method") != "POST" {
		t.Fatalf("landed on %s %s", got.Get("_method"), got.Get("_path"))
	}
	if got.Get("kr-hash-algorithm") != "sha256_hmac" || got.Get("kr-hash-key") != "sha256_hmac" || got.Get("kr-answer-type") != "V4/Payment" {
		t.Errorf("return fields %v", got)
	}
	answer := got.Get("kr-answer")
	verifyHash(t, demoHMACKey, answer, got.Get("kr-hash"))
	var parsed map[string]any
	must(t, json.Unmarshal([]byte(answer), &parsed), "kr-answer JSON")
	if parsed["orderStatus"] != "PAID" || !strings.Contains(answer, "Zoë") {
		t.Errorf("answer %s", answer)
	}
	// The onSubmit callback ran first, with the exact signed string.
	var sub struct{ Submit, Raw, Hash, Algo string }
	for sub.Submit == "" {
		must(t, json.Unmarshal([]byte(wait(t, ctx, b.events, "onSubmit")), &sub), "event JSON")
	}
	if sub.Submit != "PAID" || sub.Raw != answer || sub.Hash != got.Get("kr-hash") || sub.Algo != "sha256_hmac" {
		t.Errorf("onSubmit got %+v", sub)
	}
	landed, err := chromedp.Run(ctx, browsertest.Text("#landed"))
	must(t, err, "merchant success page")
	if landed != "/paid" {
		t.Errorf("top page shows %q", landed)
	}
	if c := b.pay.lastCall(t); c.ThreeDS == nil || c.ThreeDS.Status != acquirer.ThreeDSAuthenticated || !c.ThreeDS.Challenged {
		t.Errorf("3DS %+v", c.ThreeDS)
	}
	browsertest.NoConsoleErrors(t, ctx)
}

// waitInFrame waits until the first iframe's current document has sel and
// returns the query option that searches it. The frame node is fetched
// again each time: after a navigation inside the frame the old node points
// at the old document.
func waitInFrame(t *testing.T, ctx context.Context, sel string) chromedp.QueryOption {
	t.Helper()
	for ctx.Err() == nil {
		frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("iframe")))
		if err != nil {
			t.Fatalf("finding the frame: %v", err)
		}
		in := chromedp.FromNode(frames[0])
		short, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		_, err = chromedp.Run(short, chromedp.Nodes(chromedp.CSS(sel), in))
		cancel()
		if err == nil {
			return in
		}
	}
	t.Fatalf("waiting for %s in the frame: %v", sel, ctx.Err())
	return nil
}

// TestBrowserHostedChallenge pays on the hosted page with cards that need a
// 3-D Secure challenge: approved (back at the merchant with a valid
// kr-hash), then failed (the form again with the reason, one attempt used)
// and paid with another card. It also checks the page at 320px and the
// form script's brand table against internal/card.
func TestBrowserHostedChallenge(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	b.pay.add(demoForm("ok3ds"))
	b.pay.add(demoForm("ko3ds"))
	ret := "?kr-post-url-success=" + url.QueryEscape(b.merchant.URL+"/paid") + "&kr-post-url-refused=" + url.QueryEscape(b.merchant.URL+"/refused")

	// Approved.
	must(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(320, 640),
		chromedp.Navigate(b.psp.URL+"/pay/ok3ds"+ret),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
	), "loading the hosted page")
	narrow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	must(t, err, "measuring")
	if !narrow {
		t.Error("the hosted page scrolls sideways at 320px")
	}
	checkBrandTable(t, ctx)
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970110000000021"),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
		chromedp.SendKeys(chromedp.CSS("#kr-holder"), "Ada Lovelace"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-acs-approve")),
	), "reaching the challenge")
	// The page is marked TEST once, by the TEST-mode notice.
	notice, err := chromedp.Run(ctx, browsertest.Text(".test-banner"))
	must(t, err, "challenge TEST notice")
	if !strings.Contains(notice, "TEST") {
		t.Errorf("challenge page TEST notice %q", notice)
	}
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-acs-approve"))), "approving")
	got := wait(t, ctx, b.posts, "the return after approval")
	if got.Get("_path") != "/paid" {
		t.Fatalf("approved challenge landed on %s", got.Get("_path"))
	}
	verifyHash(t, demoHMACKey, got.Get("kr-answer"), got.Get("kr-hash"))
	if c := b.pay.lastCall(t); c.ThreeDS == nil || c.ThreeDS.Status != acquirer.ThreeDSAuthenticated || !c.ThreeDS.Challenged || c.Holder != "Ada Lovelace" {
		t.Errorf("after approval PayCard got %+v", c)
	}
	must(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#landed"))), "landing at the shop")

	// On a phone in German the expiry label wraps on two lines ("Ablaufdatum
	// (MM/JJ)") and the security code's does not: the two inputs side by side
	// still line up.
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.psp.URL+"/pay/ko3ds"+ret+"&kr-language=de"),
		chromedp.WaitVisible(chromedp.CSS("#kr-csc")),
	), "loading the German page on a phone")
	tops, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`['kr-expiry', 'kr-csc', 'kr-expiry-label'].map(function (id) {
		var e = id === 'kr-expiry-label' ? document.querySelector('label[for=kr-expiry]') : document.getElementById(id);
		return id === 'kr-expiry-label' ? e.getBoundingClientRect().height : e.getBoundingClientRect().top;
	})`))
	must(t, err, "measuring the expiry and security code inputs")
	if len(tops) != 3 || tops[0] != tops[1] {
		t.Errorf("expiry and security code inputs at different heights (tops, label height): %v", tops)
	}
	if len(tops) == 3 && tops[2] < 30 {
		t.Errorf("the expiry label did not wrap at 320px (height %vpx): the check above proves nothing", tops[2])
	}

	// Failed, in German, then paid with another card.
	must(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1024, 800),
		chromedp.Navigate(b.psp.URL+"/pay/ko3ds"+ret+"&kr-language=de"),
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "5100010000000049"),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-acs-fail")),
		chromedp.Click(chromedp.CSS("#kr-acs-fail")),
		chromedp.WaitVisible(chromedp.CSS("#kr-form-error")),
	), "failing the challenge")
	alert, err := chromedp.Run(ctx, browsertest.Text("#kr-form-error"))
	must(t, err, "alert")
	if !strings.Contains(alert, "konnte Sie nicht authentifizieren") {
		t.Errorf("alert after a failed challenge: %q", alert)
	}
	attempts, err := chromedp.Run(ctx, browsertest.Text("#kr-attempts"))
	must(t, err, "attempts")
	if attempts != "Sie haben noch 2 Versuche." {
		t.Errorf("attempts %q", attempts)
	}
	if c := b.pay.lastCall(t); c.ThreeDS == nil || c.ThreeDS.Status != acquirer.ThreeDSFailed {
		t.Errorf("after failure PayCard got %+v", c.ThreeDS)
	}
	select {
	case v := <-b.posts:
		t.Fatalf("a failed challenge with attempts left went back to the shop: %v", v)
	default:
	}
	// Inline validation, then a good card.
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970100000000056"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan-error")),
	), "inline validation")
	invalid, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#kr-pan"), "aria-invalid"))
	must(t, err, "aria-invalid")
	if invalid.Value != "true" {
		t.Errorf("aria-invalid %+v", invalid)
	}
	n := b.pay.callCount()
	must(t, chromedp.Do(ctx,
		// (chromedp.Clear empties the attribute, not what the buyer typed.)
		chromedp.SetValue(chromedp.CSS("#kr-pan"), ""),
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970100000000055"),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "321"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
	), "paying with another card")
	got = wait(t, ctx, b.posts, "the return after the second card")
	if got.Get("_path") != "/paid" || b.pay.callCount() != n+1 {
		t.Fatalf("second card: landed on %s after %d calls", got.Get("_path"), b.pay.callCount()-n)
	}
	verifyHash(t, demoHMACKey, got.Get("kr-answer"), got.Get("kr-hash"))
	browsertest.NoConsoleErrors(t, ctx)
}

// checkBrandTable compares the form script's small IIN table with
// internal/card's network brand (CB and CONECS are BIN lists the server
// alone knows).
func checkBrandTable(t *testing.T, ctx context.Context) {
	t.Helper()
	prefixes := []string{
		"4", "4970100000000055", "4026000000000002", "4175001", "4508", "4844", "4913", "4917", "4918",
		"51", "55", "56", "2221", "2720", "2721", "2220", "34", "37", "35", "300", "305", "306", "36", "38", "39",
		"3528", "3589", "3590", "6011", "6012", "644", "649", "643", "65", "62", "81", "82", "50", "58", "6759",
		"676770", "63", "64", "66", "69", "1", "9", "70",
	}
	list, _ := json.Marshal(prefixes)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(`+string(list)+`).map(function (d) { return window.openpspDetectBrand(d) || ""; })`))
	must(t, err, "evaluating the brand table")
	for i, p := range prefixes {
		want := ""
		for _, b := range card.DetectBrands(p) {
			if b != card.CB && b != card.CONECS {
				want = string(b)
			}
		}
		if got[i] != want {
			t.Errorf("brand of %s: form script says %q, internal/card %q", p, got[i], want)
		}
	}
}

// TestBrowserPopinGlue is a single-page app as @lyracom/embedded-form-glue
// drives the client: the script is injected with kr-spa-mode, then
// setFormConfig, attachForm and showForm, in pop-in mode. The only attempt
// is refused: onError gets PSP_099 with the signed answer, and the browser
// goes to kr-post-url-refused.
func TestBrowserPopinGlue(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	f := demoForm("popin")
	f.AttemptsLeft = 1
	b.pay.add(f)
	b.page = fmt.Sprintf(`<!doctype html>
<html><head><meta charset="utf-8"><title>SPA</title></head><body>
<div id="myPaymentForm"><div class="kr-embedded" kr-popin></div></div>
<script>
function report(o) { fetch('/event', {method: 'POST', body: JSON.stringify(o), keepalive: true}); }
// What KRGlue.loadLibrary does (app/KryptonGlue.js).
var s = document.createElement('script');
s.src = '%[1]s/static/js/krypton-client/V4.0/stable/kr-payment-form.min.js';
s.setAttribute('kr-public-key', '%[2]s');
s.setAttribute('kr-spa-mode', 'true');
window.__kr__script = s;
document.body.appendChild(s);
(function whenDefined() {
  if (!window.KR || !window.KR.onFormReady) return setTimeout(whenDefined, 20);
  KR.setFormConfig({formToken: 'popin', 'kr-language': 'es-ES', 'kr-post-url-refused': '%[3]s/refused'})
    .then(function (r) { return r.KR.onError(function (e) {
      report({error: e.errorCode, raw: e.metadata && e.metadata.answer && e.metadata.answer.rawClientAnswer});
    }); })
    .then(function (r) { return r.KR.onFormReady(function () { document.body.setAttribute('data-ready', '1'); }); })
    .then(function (r) { return r.KR.attachForm('#myPaymentForm'); })
    .then(function (r) { return r.KR.showForm(r.result.formId); });
})();
</script></body></html>`, b.psp.URL, demoPublicKey, b.merchant.URL)

	must(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(375, 800), // a phone
		chromedp.Navigate(b.merchant.URL),
		chromedp.WaitReady(chromedp.CSS("body[data-ready]")),
	), "loading the SPA")
	label, err := chromedp.Run(ctx, browsertest.Text(".kr-popin-button"))
	must(t, err, "pop-in button")
	if label != "Pagar 12,50\u00a0€" {
		t.Errorf("pop-in button %q", label)
	}
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(".kr-popin-button")),
		chromedp.WaitVisible(chromedp.CSS(".kr-popin-overlay iframe")),
	), "opening the pop-in")
	frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(".kr-popin-overlay iframe")))
	must(t, err, "frame")
	in := chromedp.FromNode(frames[0])
	// The frame is as tall as its document: nothing (the shop, the amount,
	// the TEST banner) is scrolled out of sight inside the pop-in. The
	// frame measured itself while its document was scrolled to the focused
	// card number, and stayed too short.
	var scrolled, overflow int64
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		top, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[int64](chromedp.CSS("html"), "scrollTop", in))
		must(t, err, "frame scroll")
		sh, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[int64](chromedp.CSS("html"), "scrollHeight", in))
		must(t, err, "frame height")
		ch, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[int64](chromedp.CSS("html"), "clientHeight", in))
		must(t, err, "frame height")
		if scrolled, overflow = top, sh-ch; scrolled == 0 && overflow <= 0 {
			break
		}
	}
	if scrolled != 0 || overflow > 0 {
		t.Errorf("pop-in frame scrolled by %dpx, %dpx of its document out of sight", scrolled, overflow)
	}
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970109900000016", in),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry(), in),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123", in),
		chromedp.Click(chromedp.CSS("#kr-pay"), in),
	), "paying in the pop-in")
	got := wait(t, ctx, b.posts, "the refused return")
	if got.Get("_path") != "/refused" || got.Get("_method") != "POST" {
		t.Fatalf("landed on %s %s", got.Get("_method"), got.Get("_path"))
	}
	verifyHash(t, demoHMACKey, got.Get("kr-answer"), got.Get("kr-hash"))
	if !strings.Contains(got.Get("kr-answer"), `"orderStatus":"UNPAID"`) {
		t.Errorf("refused answer %s", got.Get("kr-answer"))
	}
	var ev struct{ Error, Raw string }
	must(t, json.Unmarshal([]byte(wait(t, ctx, b.events, "onError")), &ev), "event JSON")
	if ev.Error != "PSP_099" || ev.Raw != got.Get("kr-answer") {
		t.Errorf("onError got %+v", ev)
	}
	browsertest.NoConsoleErrors(t, ctx)
}

// TestBrowserPopinLabels: the pop-in button, the close label and the
// dialog's name of a French merchant page are French from the start; they
// were English ("Pay", "Close") until the frame had loaded.
func TestBrowserPopinLabels(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	b.pay.add(demoForm("dialog"))
	b.page = popinPage(b)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.merchant.URL),
		chromedp.WaitReady(chromedp.CSS("body[data-ready]")),
	), "loading the merchant page")
	created, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("body"), "data-created"))
	must(t, err, "labels at creation")
	if created.Value != `["Payer","Fermer","Formulaire de paiement"]` {
		t.Errorf("before the frame loaded: button, close label, dialog label = %s", created.Value)
	}
	browsertest.NoConsoleErrors(t, ctx)
}

// popinPage is a French merchant page with a pop-in form between two links;
// it records the pop-in's labels as the form is created, before the frame
// has loaded.
func popinPage(b *browserEnv) string { return popinPageWith(b, "") }

// popinPageWith is popinPage with more of the merchant's script, run
// before its KR.onFormReady.
func popinPageWith(b *browserEnv, script string) string {
	return fmt.Sprintf(`<!doctype html>
<html><head><meta charset="utf-8"><title>Merchant</title>
<script src="%[1]s/static/js/krypton-client/V4.0/stable/kr-payment-form.min.js"
  kr-public-key="%[2]s" kr-language="fr-FR"></script>
<script>
KR.onFormCreated(function () {
  var b = document.querySelector('.kr-popin-button'), c = document.querySelector('.kr-popin-close');
  var d = document.querySelector('.kr-popin-overlay [role="dialog"]');
  document.body.setAttribute('data-created', JSON.stringify([b.textContent, c.getAttribute('aria-label'), d.getAttribute('aria-label')]));
});
%[3]sKR.onFormReady(function () { document.body.setAttribute('data-ready', '1'); });
</script>
</head><body><a id="before" href="#top">Before</a>
<div class="kr-embedded" kr-popin kr-form-token="dialog"></div>
<a id="after" href="#bottom">After</a>
<button id="mine" type="button">Pay with the shop's own button</button>
<script>document.getElementById('mine').addEventListener('click', function () { KR.openPopin(); });</script>
</body></html>`, b.psp.URL, demoPublicKey, script)
}

// TestBrowserPopinDialog opens the pop-in with the keyboard. The dialog is a
// labelled modal; focus goes into it on open, Tab and Shift+Tab never leave
// it for the merchant page behind (Tab past the frame's last field went to
// the page), and Escape gives focus back to the button that opened it.
func TestBrowserPopinDialog(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	b.pay.add(demoForm("dialog"))
	b.page = popinPage(b)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.merchant.URL),
		chromedp.WaitReady(chromedp.CSS("body[data-ready]")),
	), "loading the merchant page")
	attrs, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
  var d = document.querySelector('.kr-popin-overlay [role="dialog"]');
  return d.getAttribute('aria-modal') + ' ' + !!(d.getAttribute('aria-label') || d.getAttribute('aria-labelledby'));
})()`))
	must(t, err, "dialog attributes")
	if attrs != "true true" {
		t.Errorf("dialog aria-modal, labelled: %s", attrs)
	}

	// Where the focus is, seen from the merchant page: "dialog" when it is
	// in the pop-in (the close button, the frame), else the element's id.
	where := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
  var a = document.activeElement;
  if (a && a.closest('.kr-popin-overlay')) return 'dialog';
  return a ? (a.id || a.className || a.tagName) : 'none';
})()`))
		must(t, err, "active element")
		return s
	}
	must(t, chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS(".kr-popin-button")),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(".kr-popin-overlay iframe")),
	), "opening the pop-in")
	if w := where(); w != "dialog" {
		t.Fatalf("after opening, focus is on %s", w)
	}
	for i := 0; i < 14; i++ {
		must(t, chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)), "Tab")
		if w := where(); w != "dialog" {
			t.Fatalf("Tab %d left the dialog for %s", i+1, w)
		}
	}
	for i := 0; i < 14; i++ {
		must(t, chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))), "Shift+Tab")
		if w := where(); w != "dialog" {
			t.Fatalf("Shift+Tab %d left the dialog for %s", i+1, w)
		}
	}
	must(t, chromedp.Do(ctx,
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(chromedp.CSS(".kr-popin-overlay")),
	), "closing with Escape")
	if w := where(); w != "kr-popin-button" {
		t.Errorf("after Escape, focus is on %s, want the pop-in button", w)
	}
	// Opened by the shop's own button (KR.openPopin), closed with the close
	// button: focus goes back to the shop's button.
	must(t, chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS("#mine")),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(".kr-popin-overlay iframe")),
	), "opening the pop-in from the shop's button")
	if w := where(); w != "dialog" {
		t.Fatalf("after opening, focus is on %s", w)
	}
	must(t, chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS(".kr-popin-close")),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitNotVisible(chromedp.CSS(".kr-popin-overlay")),
	), "closing with the close button")
	if w := where(); w != "mine" {
		t.Errorf("after closing, focus is on %s, want the shop's button", w)
	}
	browsertest.NoConsoleErrors(t, ctx)
}

// TestBrowserPopinOpenedEarly: a merchant page that calls KR.openPopin()
// as soon as the form is created, before the frame has loaded (the shop's
// colours unknown, the pop-in button hidden), gets the pop-in open once
// the form is ready, the focus on the card number as when the buyer opens
// it, and the focus back on the (then visible) pop-in button on Escape.
// The dialog opened at once, before the frame could take focus: the
// frame's message to focus its first field was lost and focus stayed on
// the close button.
func TestBrowserPopinOpenedEarly(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	b.pay.add(demoForm("dialog"))
	b.page = popinPageWith(b, `KR.onFormCreated(function () { KR.openPopin(); });
KR.onFocus(function (e) { document.body.setAttribute('data-focus', e.field); });
`)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.merchant.URL),
		chromedp.WaitReady(chromedp.CSS("body[data-ready]")),
		chromedp.WaitVisible(chromedp.CSS(".kr-popin-overlay iframe")),
	), "loading the merchant page that opens the pop-in at once")
	state := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
  var a = document.activeElement, b = document.querySelector('.kr-popin-button');
  var at = !a ? 'none' : a.tagName === 'IFRAME' && a.closest('.kr-popin-overlay') ? 'frame' : (a.id || a.className || a.tagName);
  return at + ' ' + document.body.getAttribute('data-focus') + ' ' + getComputedStyle(b).visibility;
})()`))
		must(t, err, "focus")
		return s
	}
	must(t, chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS("body[data-focus]"))), "waiting for the focus on a field of the frame")
	if got := state(); got != "frame pan visible" {
		t.Fatalf("pop-in opened early: focus, frame's field, button = %q, want the frame's card number", got)
	}
	must(t, chromedp.Do(ctx,
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(chromedp.CSS(".kr-popin-overlay")),
	), "closing with Escape")
	if got := state(); !strings.HasPrefix(got, "kr-popin-button ") {
		t.Errorf("after Escape, focus is on %q, want the pop-in button", got)
	}
	browsertest.NoConsoleErrors(t, ctx)
}

// TestBrowserPopinEarlyOpenCancelled: a merchant page that asks for the
// pop-in before the frame has loaded and closes it again before then (an
// early KR.openPopin() then KR.closePopin()) must not get the dialog once
// the frame is ready: the close cancels the pending open.
func TestBrowserPopinEarlyOpenCancelled(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	b.pay.add(demoForm("dialog"))
	b.page = popinPageWith(b, `KR.onFormCreated(function () { KR.openPopin(); KR.closePopin(); });
`)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.merchant.URL),
		chromedp.WaitReady(chromedp.CSS("body[data-ready]")),
		chromedp.WaitVisible(chromedp.CSS(".kr-popin-button")),
	), "loading the merchant page that opens and closes the pop-in at once")
	display, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('.kr-popin-overlay')).display`))
	must(t, err, "reading the dialog's display")
	if display != "none" {
		t.Fatalf("pop-in opened and closed before the frame loaded: the dialog is shown (display %q) once the form is ready", display)
	}
	browsertest.NoConsoleErrors(t, ctx)
}

// TestBrowserDeferredFinalPage pays deferred payments (the card only
// checked, the amount debited on a later day) on the hosted page on a phone
// (375px) and a desktop (1280px), in French (the longest wording) and
// English, once with a frictionless card (the page's script writes the
// final message) and once through the 3-D Secure challenge (the server
// renders it); Spanish, Italian and German on a phone. The final message
// must read as a short bold headline ("Payment accepted") and a sentence of
// normal weight with the debit day, both on screen, in the same live region
// as the plain "Payment accepted", and the page must not scroll sideways.
// A screenshot of each is written to
// OPENPSP_SCREENSHOT_DIR when set (for a person to look at), else to the
// test's temporary directory.
func TestBrowserDeferredFinalPage(t *testing.T) {
	dir := os.Getenv("OPENPSP_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	debitOn := time.Date(2030, 3, 5, 9, 0, 0, 0, time.UTC)
	words := map[string][2]string{
		"en": {"nothing has been debited yet", "March 5, 2030"},
		"fr": {"rien n’a encore été débité", "5 mars 2030"},
	}
	for _, l := range []string{"es", "it", "de"} {
		words[l] = [2]string{"", strings.ReplaceAll(notify.FormatDay(l, debitOn), "\u00a0", " ")}
	}
	for _, c := range []struct {
		lang      string
		width     int64
		challenge bool
	}{
		{"fr", 375, false}, {"fr", 375, true}, {"fr", 1280, false},
		{"en", 375, false}, {"en", 1280, true}, {"en", 1280, false},
		{"es", 375, false}, {"it", 375, true}, {"de", 375, false},
	} {
		name := fmt.Sprintf("%s-%d-challenge=%v", c.lang, c.width, c.challenge)
		t.Run(name, func(t *testing.T) {
			ctx := browsertest.New(t)
			b := newBrowserEnv(t)
			b.pay.debitOn = debitOn
			fm := demoForm("deferred")
			fm.Language = c.lang
			b.pay.add(fm)
			pan := "5100010000002045" // frictionless
			if c.challenge {
				pan = "4970110000000021"
			}
			// No return URL: the buyer stays on the final page.
			must(t, chromedp.Do(ctx,
				chromedp.EmulateViewport(c.width, 800),
				chromedp.Navigate(b.psp.URL+"/pay/deferred"),
				chromedp.WaitVisible(chromedp.CSS("#kr-pay")),
			), "opening the form")
			// A live region is announced when its content changes, not
			// when it appears: the role=status region must be in the page
			// (not hidden), empty, before the buyer pays.
			type liveBefore struct {
				Exists, Shown bool
				Role, Text    string
			}
			before, err := chromedp.Run(ctx, chromedp.Evaluate[liveBefore](`(function () {
  var m = document.getElementById('kr-final-message');
  if (!m) return {Exists: false};
  window.krLiveRegion = m;
  return {Exists: true, Shown: m.checkVisibility() && !m.closest('[hidden],[aria-hidden="true"]'), Role: m.getAttribute('role'), Text: m.textContent};
})()`))
			must(t, err, "reading the live region before paying")
			if !before.Exists || !before.Shown || before.Role != "status" || before.Text != "" {
				t.Errorf("before paying, #kr-final-message is %+v, want an empty role=status region in the page (not hidden)", before)
			}
			must(t, chromedp.Do(ctx,
				chromedp.SendKeys(chromedp.CSS("#kr-pan"), pan),
				chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
				chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
				chromedp.Click(chromedp.CSS("#kr-pay")),
			), "paying")
			if c.challenge {
				must(t, chromedp.Do(ctx,
					chromedp.WaitVisible(chromedp.CSS("#kr-acs-approve")),
					chromedp.Click(chromedp.CSS("#kr-acs-approve")),
				), "approving the challenge")
			}
			must(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#kr-final.ok #kr-final-message"))), "the final message")

			type finalBox struct {
				Text        string
				Live        string // role or aria-live of the region holding the message
				Same        bool   // the region is the element that was there before paying
				Left, Right float64
				Client      float64
				ScrollWidth float64
				Height      float64
				Overflowing []string // elements wider than the viewport
				DateLines   int      // lines the debit day is spread over
				// The font weight of the text holding the headline, and
				// of the text holding the day; the headline's own text.
				HeadWeight, DayWeight int
				Head                  string
			}
			day, _ := json.Marshal(words[c.lang][1])
			dayJSON := string(day)
			head, _ := json.Marshal(messages[c.lang]["accepted"])
			headJSON := string(head)
			got, err := chromedp.Run(ctx, chromedp.Evaluate[finalBox](`(function () {
  var m = document.getElementById('kr-final-message');
  var live = m.closest('[role="status"],[role="alert"],[aria-live]');
  var r = m.getBoundingClientRect(), de = document.documentElement;
  var wide = [];
  document.querySelectorAll('body *').forEach(function (e) {
    var b = e.getBoundingClientRect();
    if (b.width && (b.left < 0 || b.right > de.clientWidth)) wide.push(e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className);
  });
  // The lines the day's text covers: a day cut in two ("March" at the end
  // of a line, "5, 2030" on the next) reads as two things.
  var day = `+dayJSON+`, head = `+headJSON+`, tops = {}, w = document.createTreeWalker(m, NodeFilter.SHOW_TEXT), n;
  var headWeight = 0, dayWeight = 0, headText = '';
  while ((n = w.nextNode())) {
    var weight = parseInt(getComputedStyle(n.parentElement).fontWeight, 10);
    if (n.data.indexOf(head) >= 0) { headWeight = weight; headText = n.data; }
    var at = n.data.replace(/\u00a0/g, ' ').indexOf(day);
    if (at < 0) continue;
    dayWeight = weight;
    var dr = document.createRange();
    dr.setStart(n, at);
    dr.setEnd(n, at + day.length);
    Array.prototype.forEach.call(dr.getClientRects(), function (q) { if (q.width) tops[Math.round(q.top)] = true; });
  }
  return {DateLines: Object.keys(tops).length, Text: m.innerText, Live: live ? (live.getAttribute('role') || 'aria-live=' + live.getAttribute('aria-live')) + ' ' + live.id : '',
    Same: m === window.krLiveRegion, HeadWeight: headWeight, DayWeight: dayWeight, Head: headText,
    Left: r.left, Right: r.right, Client: de.clientWidth, ScrollWidth: de.scrollWidth, Height: r.height, Overflowing: wide};
})()`))
			must(t, err, "measuring the final page")

			w := words[c.lang]
			got.Text = strings.ReplaceAll(got.Text, "\u00a0", " ")
			if got.DateLines != 1 {
				t.Errorf("the debit day %q is spread over %d lines", w[1], got.DateLines)
			}
			if !strings.Contains(got.Text, w[0]) || !strings.Contains(got.Text, w[1]) {
				t.Errorf("final message %q, want %q and %q", got.Text, w[0], w[1])
			}
			// A short bold headline, then the day in a sentence of
			// normal weight: one long bold paragraph read poorly.
			if strings.TrimSpace(got.Head) != messages[c.lang]["accepted"] || got.HeadWeight < 600 {
				t.Errorf("the headline is %q in weight %d, want %q alone in bold (600 or more)", got.Head, got.HeadWeight, messages[c.lang]["accepted"])
			}
			if got.DayWeight == 0 || got.DayWeight > 400 {
				t.Errorf("the sentence with the day has weight %d, want normal (400)", got.DayWeight)
			}
			// As "Payment accepted" alone: a polite status, the same element.
			if got.Live != "status kr-final-message" {
				t.Errorf("the message is announced by %q, want role=status on #kr-final-message", got.Live)
			}
			// The form's script fills the region that was there; only
			// its content changed. (After a challenge the server renders
			// a new page with the message in it.)
			if !c.challenge && !got.Same {
				t.Errorf("the final message is in a region inserted after paying, not in the one the page loaded with")
			}
			if got.ScrollWidth > got.Client {
				t.Errorf("the final page scrolls sideways: scrollWidth %v > clientWidth %v", got.ScrollWidth, got.Client)
			}
			if got.Left < 0 || got.Right > got.Client || got.Height == 0 {
				t.Errorf("the message's box %v..%v (height %v) is not within the %vpx viewport", got.Left, got.Right, got.Height, got.Client)
			}
			if len(got.Overflowing) > 0 {
				t.Errorf("wider than the viewport: %v", got.Overflowing)
			}

			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			must(t, err, "screenshot")
			file := filepath.Join(dir, "deferred-"+strings.ReplaceAll(name, "=", "-")+".png")
			must(t, os.WriteFile(file, png, 0o644), "writing the screenshot")
			t.Logf("screenshot: %s", file)
			browsertest.NoConsoleErrors(t, ctx)
		})
	}
}

// A form on another site posting to the payment page (a forged or stale
// page) is refused, and the browser shows the buyer the message page in
// their language, titled with what it says, not a text/plain line.
func TestBrowserCrossSitePostShowsTheMessagePage(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	b.pay.add(demoForm("xsite"))
	b.page = `<!doctype html><html><head><meta charset="utf-8"><title>Elsewhere</title></head><body>
<form id="f" method="post" action="` + b.psp.URL + `/pay/xsite?kr-language=it">
<input name="pan" value="4970100000000055"><input name="expiry" value="` + futureExpiry() + `"><input name="csc" value="123">
<button id="go">Pay</button></form></body></html>`
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.merchant.URL),
		chromedp.Click(chromedp.CSS("#go")),
		chromedp.WaitVisible(chromedp.CSS("#kr-final-message")),
	), "posting from another site")
	// Read by script, not by a DOM node id: the post crosses sites, and
	// Chromium may swap the page's renderer process, whose late document
	// update made chromedp.Text's node id unknown once in CI ("No node
	// with given id found") after WaitVisible had found it.
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#kr-final-message").innerText`))
	must(t, err, "message")
	if text != messages["it"]["cross_site"] {
		t.Errorf("the refusal says %q, want %q", text, messages["it"]["cross_site"])
	}
	lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang + " | " + document.title`))
	must(t, err, "lang and title")
	if want := "it | " + messages["it"]["h_unavailable"]; lang != want {
		t.Errorf("page %q, want %q", lang, want)
	}
	if b.pay.callCount() != 0 {
		t.Error("the cross-site post reached the payment")
	}
}

// The pay button's busy state ("Processing…", while the payment is sent)
// is read by the buyer: its label must keep 4.5:1 against its background,
// as the browser paints them, for the default colour and a shop's light
// and dark ones. It faded at opacity .75, 4.0:1 on the default blue (axe
// does not check it: the button is disabled meanwhile). It must still
// look busy (a spinner) and say so (aria-busy, disabled).
func TestBrowserBusyButtonContrast(t *testing.T) {
	for _, color := range []string{"", "#ffff00", "#f0f0f0", "#0b1f3a", "#ff6600"} {
		t.Run("colour="+color, func(t *testing.T) {
			ctx := browsertest.New(t)
			b := newBrowserEnv(t)
			b.pay.hold = make(chan struct{})
			released := false
			release := func() {
				if !released {
					released = true
					close(b.pay.hold)
				}
			}
			defer release()
			fm := demoForm("busy")
			fm.Language, fm.PrimaryColor = "en", color
			b.pay.add(fm)
			must(t, chromedp.Do(ctx,
				chromedp.EmulateViewport(375, 800),
				chromedp.Navigate(b.psp.URL+"/pay/busy"),
				chromedp.WaitVisible(chromedp.CSS("#kr-pay")),
				chromedp.SendKeys(chromedp.CSS("#kr-pan"), "5100010000002045"),
				chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
				chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
				chromedp.Click(chromedp.CSS("#kr-pay")),
				chromedp.WaitVisible(chromedp.CSS(`#kr-pay[aria-busy="true"]`)),
			), "paying")
			type look struct {
				Text, Color, Background, Page, Filter, Spinner string
				Opacity                                        float64
				Disabled                                       bool
				AriaDisabled                                   string
			}
			// The button's colours, the page's behind it, and the
			// opacity the button and its ancestors apply together.
			got, err := chromedp.Run(ctx, chromedp.Evaluate[look](`(function () {
  var b = document.getElementById('kr-pay'), s = getComputedStyle(b), op = 1, f = [];
  for (var e = b; e; e = e.parentElement) { var c = getComputedStyle(e); op *= parseFloat(c.opacity); if (c.filter !== 'none') f.push(c.filter); }
  var before = getComputedStyle(b, '::before');
  return {Text: b.textContent, Color: s.color, Background: s.backgroundColor, Page: getComputedStyle(b.closest('main')).backgroundColor,
    Filter: f.join(' '), Spinner: before.content !== 'none' ? before.borderTopStyle : '', Opacity: op, Disabled: b.disabled, AriaDisabled: b.getAttribute('aria-disabled') || ''};
})()`))
			must(t, err, "reading the busy button")
			release()
			if got.Text != "Processing…" || got.Disabled || got.AriaDisabled != "true" || got.Spinner != "solid" {
				t.Errorf("busy button: %+v, want the label Processing…, aria-disabled (still focusable), with its spinner", got)
			}
			if got.Filter != "" {
				t.Errorf("busy button under a filter %q: its contrast is not its colours'", got.Filter)
			}
			page := rgbOf(t, got.Page)
			fg, bg := over(rgbOf(t, got.Color), page, got.Opacity), over(rgbOf(t, got.Background), page, got.Opacity)
			if r := shop.ContrastRatio(fg, bg); r < 4.5 {
				t.Errorf("busy button: %s on %s as painted (opacity %.2f): %.2f:1, want 4.5:1", fg, bg, got.Opacity, r)
			}
			must(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#kr-final.ok"))), "the payment's end")
		})
	}
}

// TestBrowserBusyButtonKeepsFocus holds a payment open on a phone-sized
// page: the busy pay button keeps the keyboard focus (aria-disabled, not
// disabled, which drops the focus to the body), and a second click, Enter
// and Space on it, and Enter in a field, post no second card (counted where
// the posts arrive, the payment service). The outcome then takes the focus
// in a live region: the accepted message, or the refusal's alert with the
// button usable again, or, for a form gone meanwhile, the alert with the
// button disabled.
func TestBrowserBusyButtonKeepsFocus(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	b.pay.hold = make(chan struct{})
	released := false
	release := func() {
		if !released {
			released = true
			close(b.pay.hold)
		}
	}
	defer release()
	for _, tok := range []string{"busy-ok", "busy-ko", "busy-gone"} {
		fm := demoForm(tok)
		fm.Language = "fr"
		b.pay.add(fm)
	}
	type state struct {
		Active, Role, AriaDisabled, AriaBusy string
		Disabled                             bool
	}
	read := func(what string) state {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[state](`(function () {
  var a = document.activeElement, p = document.getElementById('kr-pay');
  return {Active: a ? a.id || a.tagName : '', Role: a && a.getAttribute('role') || '',
    AriaDisabled: p.getAttribute('aria-disabled') || '', AriaBusy: p.getAttribute('aria-busy') || '', Disabled: p.disabled};
})()`))
		must(t, err, what)
		return s
	}
	fill := func(pan string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.SendKeys(chromedp.CSS("#kr-pan"), pan),
			chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
			chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
		)
	}

	must(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(375, 800),
		chromedp.Navigate(b.psp.URL+"/pay/busy-ok"),
		chromedp.WaitVisible(chromedp.CSS("#kr-pay")),
		fill("5100010000002045"),
		// The keyboard's way: focus on the button, Enter.
		chromedp.Focus(chromedp.CSS("#kr-pay")),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`#kr-pay[aria-busy="true"]`)),
	), "paying")
	if s := read("reading the busy page"); s.Active != "kr-pay" || s.Disabled || s.AriaDisabled != "true" {
		t.Errorf("while busy: %+v, want the focus on kr-pay, aria-disabled and not disabled", s)
	}
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.Focus(chromedp.CSS("#kr-pay")),
		chromedp.KeyEvent(kb.Enter),
		chromedp.KeyEvent(" "),
		chromedp.Focus(chromedp.CSS("#kr-csc")),
		chromedp.KeyEvent(kb.Enter),
	), "paying again while busy")
	if s := read("reading the busy page again"); s.AriaBusy != "true" {
		t.Errorf("after the second tries: %+v, want still busy", s)
	}
	release()
	must(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#kr-final.ok"))), "the payment's end")
	// Any second post was sent in the handlers of the events above, before
	// the first post was let through: it has reached the service by now.
	if n := b.pay.startedCount(); n != 1 {
		t.Errorf("%d card posts reached the payment service, want 1", n)
	}
	if s := read("reading the outcome"); s.Active != "kr-final-message" || s.Role != "status" {
		t.Errorf("after acceptance: %+v, want the focus on the kr-final-message live region", s)
	}

	// A refusal: the alert takes the focus, the button is usable again.
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.psp.URL+"/pay/busy-ko"),
		chromedp.WaitVisible(chromedp.CSS("#kr-pay")),
		fill("4970109900000008"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-form-error")),
	), "a refused card")
	if s := read("reading the refusal"); s.Active != "kr-form-error" || s.Role != "alert" || s.Disabled || s.AriaDisabled != "" || s.AriaBusy != "false" {
		t.Errorf("after a refusal: %+v, want the focus on the kr-form-error alert and the button usable", s)
	}
	if n := b.pay.startedCount(); n != 2 {
		t.Errorf("%d card posts in all, want 2", n)
	}
	// (Before the form gone: its 404 is logged in the console.)
	browsertest.NoConsoleErrors(t, ctx)

	// A form gone meanwhile cannot be sent again: its button is disabled,
	// and the focus it held goes to the alert first.
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.psp.URL+"/pay/busy-gone"),
		chromedp.WaitVisible(chromedp.CSS("#kr-pay")),
		fill("5100010000002045"),
	), "loading a form")
	b.pay.mu.Lock()
	delete(b.pay.forms, "busy-gone")
	b.pay.mu.Unlock()
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-form-error")),
	), "paying on a gone form")
	if s := read("reading the gone form"); s.Active != "kr-form-error" || s.Role != "alert" || !s.Disabled {
		t.Errorf("after a form gone: %+v, want the focus on the kr-form-error alert and the button disabled", s)
	}
}

// rgbOf reads a computed colour, "rgb(r, g, b)" (opaque).
func rgbOf(t *testing.T, css string) [3]float64 {
	t.Helper()
	var c [3]float64
	if _, err := fmt.Sscanf(css, "rgb(%f, %f, %f)", &c[0], &c[1], &c[2]); err != nil {
		t.Fatalf("colour %q: %v", css, err)
	}
	return c
}

// firstLook, put on a merchant page before the client script, records the
// pop-in button's look when it is first rendered visible: a mutation
// observer's callback runs before the browser paints again, so what it sees
// is what the first frame showing the button shows. It also records the
// container's height when the button was inserted and when it appeared.
const firstLook = `<script>
(function () {
  var inserted = null;
  new MutationObserver(function () {
    var b = document.querySelector('.kr-popin-button');
    if (window.__firstLook || !b) return;
    var box = b.parentNode.getBoundingClientRect().height;
    if (inserted === null) inserted = box;
    var s = getComputedStyle(b);
    if (!b.getClientRects().length || s.visibility !== 'visible' || s.opacity === '0') return;
    window.__firstLook = {Seen: true, HeightAtInsert: inserted, HeightSeen: box,
      Look: {Color: s.color, Background: s.backgroundColor, Border: s.borderTopColor + ' ' + s.borderTopStyle + ' ' + s.borderTopWidth,
        Decoration: s.textDecorationLine, Outline: s.outlineStyle === 'none' ? 'none' : s.outlineStyle + ' ' + s.outlineWidth}};
  }).observe(document, {childList: true, subtree: true, attributes: true});
})();
</script>
`

// over is colour c painted at opacity op over bg, as #rrggbb.
func over(c, bg [3]float64, op float64) string {
	var out [3]uint8
	for i := range c {
		out[i] = uint8(math.Round(op*c[i] + (1-op)*bg[i]))
	}
	return fmt.Sprintf("#%02x%02x%02x", out[0], out[1], out[2])
}

// TestBrowserPopinShopColour shows the pop-in form of a shop with a light
// (yellow) and a dark (navy) colour on a merchant page, on a phone and a
// desktop. The pop-in's button on the merchant page was a fixed blue: once
// the frame is ready it is drawn like the frame's own pay button, with
// shop.PaletteFor's colour, text and edge; hover underlines its label and
// keyboard focus draws the hosted page's ring. Inside the opened pop-in the
// pay button has the same colours. Screenshots go to
// OPENPSP_SCREENSHOT_DIR when set.
//
// The button's look is also read at its first appearance (firstLook): it
// was drawn in the default blue until the frame had loaded, a flash of blue
// on every page load. It now appears in the shop's colours, and the space
// it takes is the same from its insertion on (no layout shift when it
// appears).
func TestBrowserPopinShopColour(t *testing.T) {
	dir := os.Getenv("OPENPSP_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	for _, color := range []string{"#ffff00", "#0b1f3a"} {
		for _, width := range []int64{375, 1280} {
			name := fmt.Sprintf("popin-%s-%d", strings.TrimPrefix(color, "#"), width)
			t.Run(name, func(t *testing.T) {
				ctx := browsertest.New(t)
				b := newBrowserEnv(t)
				fm := demoForm("dialog")
				fm.PrimaryColor = color
				b.pay.add(fm)
				b.page = strings.Replace(popinPage(b), "<script src=", firstLook+"<script src=", 1)
				pal := shop.PaletteFor(color, "#1d4ed8")
				type look struct{ Color, Background, Border, Decoration, Outline string }
				read := func(what string) look {
					t.Helper()
					got, err := chromedp.Run(ctx, chromedp.Evaluate[look](`(function () {
  var s = getComputedStyle(document.querySelector('.kr-popin-button'));
  return {Color: s.color, Background: s.backgroundColor, Border: s.borderTopColor + ' ' + s.borderTopStyle + ' ' + s.borderTopWidth,
    Decoration: s.textDecorationLine, Outline: s.outlineStyle === 'none' ? 'none' : s.outlineStyle + ' ' + s.outlineWidth};
})()`))
					must(t, err, what)
					return got
				}
				must(t, chromedp.Do(ctx,
					chromedp.EmulateViewport(width, 800),
					chromedp.Navigate(b.merchant.URL),
					chromedp.WaitReady(chromedp.CSS("body[data-ready]")),
				), "loading the merchant page")
				want := look{Color: browsertest.CSSRGB(pal.On), Background: browsertest.CSSRGB(pal.Color), Border: browsertest.CSSRGB(pal.UI) + " solid 2px", Decoration: "none", Outline: "none"}
				if got := read("the button"); got != want {
					t.Errorf("pop-in button %+v, want %+v", got, want)
				}
				type first struct {
					Look                       look
					Seen                       bool
					HeightAtInsert, HeightSeen float64
				}
				fl, err := chromedp.Run(ctx, chromedp.Evaluate[first](`window.__firstLook || {Seen: false}`))
				must(t, err, "the button's first look")
				if !fl.Seen || fl.Look != want {
					t.Errorf("pop-in button at its first appearance (seen %v): %+v, want %+v", fl.Seen, fl.Look, want)
				}
				if fl.HeightAtInsert != fl.HeightSeen {
					t.Errorf("the pop-in's container was %vpx high when the button was inserted, %vpx when it appeared", fl.HeightAtInsert, fl.HeightSeen)
				}
				// Hover, then the keyboard: Tab from the link before it.
				pos, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(function () {
  var r = document.querySelector('.kr-popin-button').getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
})()`))
				must(t, err, "the button's place")
				must(t, chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, pos[0], pos[1])), "hovering")
				if got := read("hovered"); got.Decoration != "underline" {
					t.Errorf("hovered pop-in button: %+v, want its label underlined", got)
				}
				must(t, chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 1, 790),
					chromedp.Focus(chromedp.CSS("#before")), chromedp.KeyEvent(kb.Tab)), "tabbing to the button")
				if got := read("focused"); got.Outline != "solid 3px" || got.Decoration != "none" {
					t.Errorf("pop-in button with keyboard focus: %+v, want a 3px ring", got)
				}
				shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
				must(t, err, "screenshot")
				must(t, os.WriteFile(filepath.Join(dir, name+".png"), shot, 0o644), "writing the screenshot")
				// Opened, the frame's pay button has the same colours.
				must(t, chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS(".kr-popin-overlay iframe"))), "opening the pop-in")
				in := waitInFrame(t, ctx, "#kr-pay")
				pay, err := chromedp.Run(ctx, chromedp.ComputedStyle(chromedp.CSS("#kr-pay"), in))
				must(t, err, "the frame's pay button")
				styles := map[string]string{}
				for _, p := range pay {
					styles[p.Name] = p.Value
				}
				if styles["background-color"] != want.Background || styles["color"] != want.Color {
					t.Errorf("pay button in the pop-in: %s on %s, want %s on %s", styles["color"], styles["background-color"], want.Color, want.Background)
				}
				shot, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
				must(t, err, "screenshot")
				must(t, os.WriteFile(filepath.Join(dir, name+"-open.png"), shot, 0o644), "writing the screenshot")
				browsertest.NoConsoleErrors(t, ctx)
			})
		}
	}
}

// TestBrowserCompletedFormIsANoticeNotAnError: a buyer who paid and opens
// the payment link again (back button, the link in an email) reads "This
// payment has already been processed." It was shown as a failure, in the
// error red with role="alert", to a buyer whose payment went through; it is
// a notice now, in the text colour, announced politely. The merchant's
// onError still receives CLIENT_502.
func TestBrowserCompletedFormIsANoticeNotAnError(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	done := demoForm("paid")
	done.Completed = true
	b.pay.add(done)
	type look struct{ Color, Text, Role, Code, Error string }
	var got look
	must(t, chromedp.Do(ctx, chromedp.Navigate(b.psp.URL+"/pay/paid?kr-language=fr"), chromedp.WaitVisible(chromedp.CSS("#kr-final-message"))), "the completed form")
	got, err := chromedp.Run(ctx, chromedp.Evaluate[look](`(function () {
		var m = document.getElementById('kr-final-message');
		var probe = document.createElement('span');
		probe.style.color = 'var(--error)';
		document.body.appendChild(probe);
		var e = getComputedStyle(probe).color;
		var t = getComputedStyle(document.body).color;
		probe.remove();
		return {Color: getComputedStyle(m).color, Text: t, Role: m.getAttribute('role'), Code: m.dataset.errorCode || '', Error: e};
	})()`))
	must(t, err, "the message's look")
	if got.Color == got.Error || got.Color != got.Text {
		t.Errorf("the notice is painted %s (error colour %s, text colour %s)", got.Color, got.Error, got.Text)
	}
	if got.Role != "status" {
		t.Errorf("the notice has role %q, want status", got.Role)
	}
	if got.Code != "CLIENT_502" {
		t.Errorf("the page no longer hands CLIENT_502 to onError: %q", got.Code)
	}
}

// The form script's post whose answer never came (the connection cut
// after the payment service took the card: a proxy's timeout, a network
// drop) showed "A technical error occurred. Your card was not charged.
// Please try again." and offered the pay button again: the card may have
// been charged, and a buyer who believed it could pay on a new order. The
// form says, in its language, that the payment could not be confirmed
// yet and not to pay again, and its button stays disabled; the merchant
// page's onError gets CLIENT_999.
func TestBrowserLostAnswerDoesNotSayNotCharged(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	b.pay.add(demoForm("cut"))
	b.pay.cut = true
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.psp.URL+"/pay/cut?kr-language=it"),
		chromedp.WaitVisible(chromedp.CSS("#kr-pay")),
		typeCard("4970100000000055"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
	), "paying with the answer lost")
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('kr-form-error').textContent !== ''`))
	must(t, err, "waiting for the form's message")
	type look struct {
		Alert    string
		Disabled bool
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[look](`({Alert: document.getElementById('kr-form-error').textContent,
		Disabled: document.getElementById('kr-pay').disabled})`))
	must(t, err, "reading the form")
	if got.Alert != messages["it"][MessageUnconfirmed] || !got.Disabled {
		t.Errorf("after the lost answer: %+v, want %q and the pay button disabled", got, messages["it"][MessageUnconfirmed])
	}
}

// TestBrowserMessagePagesHaveAStructure: the message pages (an unknown
// payment link, a payment already made, an address nothing serves) were one
// bold sentence with no heading. Each now has one h1, in the buyer's
// language, inside the main landmark, the explanation in normal weight, a
// link back to the shop when a checked return address names it, and no
// horizontal scrolling on a 320px phone. The tab's title is the heading
// (the shop's name may follow), the explanation does not say it again.
func TestBrowserMessagePagesHaveAStructure(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	done := demoForm("paid")
	done.Completed = true
	b.pay.add(done)
	b.mux.HandleFunc("GET /nothing-here", func(w http.ResponseWriter, r *http.Request) {
		b.h.MessagePage(w, r, http.StatusNotFound, MessagePageNotFound, "fr")
	})
	refused := b.merchant.URL + "/refused"
	cases := []struct {
		path, lang, heading, message, back string
	}{
		{"/pay/nosuch?kr-language=de&kr-get-url-refused=" + url.QueryEscape(refused), "de", "h_link_invalid", "form_not_found", ""},
		{"/pay/paid?kr-language=es&kr-get-url-refused=" + url.QueryEscape(refused), "es", "h_completed", "form_completed", b.merchant.URL + "/"},
		{"/nothing-here", "fr", "h_not_found", "page_not_found", ""},
	}
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(320, 640)), "a 320px phone")
	for _, c := range cases {
		type look struct {
			H1s, Mains, H1InMain         int
			H1, Text, BackHref, BackText string
			Title                        string
			H1Weight, TextWeight         int
			ScrollWidth, ClientWidth     int
		}
		must(t, chromedp.Do(ctx, chromedp.Navigate(b.psp.URL+c.path), chromedp.WaitVisible(chromedp.CSS("#kr-final-message"))), c.path)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[look](`(function () {
			var h = document.querySelectorAll('h1'), m = document.getElementById('kr-final-message'), a = document.getElementById('kr-back');
			return {
				H1s: h.length, Mains: document.querySelectorAll('main').length,
				H1InMain: document.querySelectorAll('main h1').length,
				H1: h.length ? h[0].textContent : '', Text: m.textContent, Title: document.title,
				BackHref: a ? a.getAttribute('href') : '', BackText: a ? a.textContent : '',
				H1Weight: h.length ? parseInt(getComputedStyle(h[0]).fontWeight, 10) : 0,
				TextWeight: parseInt(getComputedStyle(m).fontWeight, 10),
				ScrollWidth: document.documentElement.scrollWidth, ClientWidth: document.documentElement.clientWidth,
			};
		})()`))
		must(t, err, c.path)
		if got.H1s != 1 || got.H1InMain != 1 || got.Mains != 1 {
			t.Errorf("%s: %d h1 (%d in main), %d main; want one h1 in the one main", c.path, got.H1s, got.H1InMain, got.Mains)
		}
		if want := messages[c.lang][c.heading]; got.H1 != want || want == "" {
			t.Errorf("%s: heading %q, want %q", c.path, got.H1, want)
		}
		if want := messages[c.lang][c.heading]; !strings.HasPrefix(got.Title, want) || strings.HasPrefix(got.Text, want) {
			t.Errorf("%s: title %q and explanation %q; want the title to begin with the heading %q and the explanation not", c.path, got.Title, got.Text, want)
		}
		if got.Text != messages[c.lang][c.message] {
			t.Errorf("%s: explanation %q, want %q", c.path, got.Text, messages[c.lang][c.message])
		}
		if got.H1Weight < 600 || got.TextWeight != 400 {
			t.Errorf("%s: heading weight %d, explanation weight %d; want a bold heading and a normal explanation", c.path, got.H1Weight, got.TextWeight)
		}
		if got.BackHref != c.back || (c.back != "" && got.BackText != messages[c.lang]["return_to_shop"]) {
			t.Errorf("%s: back link %q %q, want %q", c.path, got.BackHref, got.BackText, c.back)
		}
		if got.ScrollWidth > got.ClientWidth {
			t.Errorf("%s: %dpx wide in a %dpx viewport", c.path, got.ScrollWidth, got.ClientWidth)
		}
	}
}

// With the form script, mistakes are shown without a page load: the title
// starts with "Error: " in the page language too while the form shows
// them, as it does on the page sent back without the script, and loses it
// once the form is sent without mistakes.
func TestBrowserFormMistakesTitle(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	f := demoForm("title-fr")
	b.pay.add(f)
	want := messages["fr"]["title"] + " · " + f.ShopName
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(b.psp.URL+"/pay/title-fr?kr-language=fr"),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan-error")),
	), "sending the empty form")
	title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title`))
	must(t, err, "title")
	if title != "Erreur\u00a0: "+want {
		t.Errorf("title with mistakes %q, want %q", title, "Erreur\u00a0: "+want)
	}
	must(t, chromedp.Do(ctx, typeCard("5100010000002045"), chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-final-message"))), "paying")
	title, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.title`))
	must(t, err, "title")
	if title != want {
		t.Errorf("title after paying %q, want %q", title, want)
	}
}

// TestBrowserReloadShowsSettledOutcome: a buyer pays on the hosted page and
// the acquirer's answer does not come in time: the page says the payment
// is being processed. Reloaded, it still says so, with a link to check
// again; once recovery accepted the payment, reloading shows it accepted,
// in the buyer's language, and takes the buyer back to the shop as a normal
// success does. Another browser opening the link reads that the payment
// was already processed.
func TestBrowserReloadShowsSettledOutcome(t *testing.T) {
	ctx := browsertest.New(t)
	b := newBrowserEnv(t)
	b.pay.add(demoForm("late"))
	de := messages["de"]
	page := b.psp.URL + "/pay/late?kr-language=de&kr-post-url-success=" + url.QueryEscape(b.merchant.URL+"/paid")
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS("#kr-pay")),
		typeCard("4970109900000073"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
	), "paying, the answer late")
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('kr-final-message').textContent !== ''`))
	must(t, err, "waiting for the pending message")
	must(t, chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#kr-check"))), "reloading while pending")
	msg, err := chromedp.Run(ctx, browsertest.Text("#kr-final-message"))
	must(t, err, "reading the pending page")
	check, err := chromedp.Run(ctx, browsertest.Text("#kr-check"))
	must(t, err, "reading the check link")
	if msg != de["in_progress"] || check != de["check_again"] {
		t.Errorf("reloaded while pending: %q, link %q", msg, check)
	}
	b.pay.settle(t, "late", true)
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#kr-check"))), "checking again once accepted")
	got := wait(t, ctx, b.posts, "the return to the shop once accepted")
	if got.Get("_path") != "/paid" {
		t.Fatalf("the settled payment returned to %s", got.Get("_path"))
	}
	verifyHash(t, demoHMACKey, got.Get("kr-answer"), got.Get("kr-hash"))

	// Without the return, the page itself says it, in German.
	must(t, chromedp.Do(ctx, chromedp.Navigate(b.psp.URL+"/pay/late?kr-language=de"), chromedp.WaitVisible(chromedp.CSS("#kr-final-message"))), "reopening")
	msg, err = chromedp.Run(ctx, browsertest.Text("#kr-final-message"))
	must(t, err, "reading the outcome")
	if msg != de["accepted"] {
		t.Errorf("reopened once accepted: %q, want %q", msg, de["accepted"])
	}

	// A browser that did not pay learns nothing more than before.
	other := browsertest.New(t)
	must(t, chromedp.Do(other, chromedp.Navigate(b.psp.URL+"/pay/late?kr-language=de"), chromedp.WaitVisible(chromedp.CSS("#kr-final-message"))), "opening elsewhere")
	msg, err = chromedp.Run(other, browsertest.Text("#kr-final-message"))
	must(t, err, "reading elsewhere")
	if msg != de["form_completed"] {
		t.Errorf("another browser reads %q, want %q", msg, de["form_completed"])
	}
}
