package hosted

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/typography"
)

func (e *env) do(t *testing.T, method, target string, body url.Values, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if body != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(body.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

func (e *env) postJSON(t *testing.T, target string, body url.Values, hdr ...string) (apiResponse, *httptest.ResponseRecorder) {
	t.Helper()
	w := e.do(t, "POST", target, body, append([]string{"Accept", "application/json"}, hdr...)...)
	var res apiResponse
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatalf("POST %s: status %d, not JSON: %v\n%s", target, w.Code, err, w.Body.String())
	}
	return res, w
}

func cardValues(pan, exp, csc string) url.Values {
	return url.Values{"pan": {pan}, "expiry": {exp}, "csc": {csc}, "holder": {"Ada Lovelace"}}
}

func fields(fs []formField) map[string]string {
	m := map[string]string{}
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}

var nonceRE = regexp.MustCompile(`'nonce-([^']+)'`)

var emptyHeadingRE = regexp.MustCompile(`<h[1-6][^>]*>\s*</h[1-6]>`)

// checkPageHeaders asserts the security headers every page has.
func checkPageHeaders(t *testing.T, w *httptest.ResponseRecorder, embedded bool) string {
	t.Helper()
	h := w.Header()
	csp := h.Get("Content-Security-Policy")
	if csp == "" {
		t.Fatal("no Content-Security-Policy")
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "script-src *", "script-src 'self'"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP contains %q: %s", bad, csp)
		}
	}
	for _, want := range []string{"default-src 'none'", "base-uri 'none'", "connect-src 'self'", "require-trusted-types-for 'script'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %q: %s", want, csp)
		}
	}
	if embedded {
		if !strings.Contains(csp, "frame-ancestors *") || h.Get("X-Frame-Options") != "" {
			t.Errorf("embedded page must be frameable: CSP %s, XFO %q", csp, h.Get("X-Frame-Options"))
		}
	} else if !strings.Contains(csp, "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("page must not be frameable: CSP %s, XFO %q", csp, h.Get("X-Frame-Options"))
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", h)
	}
	m := nonceRE.FindStringSubmatch(csp)
	if m == nil {
		t.Fatalf("no nonce in CSP %s", csp)
	}
	body := w.Body.String()
	// Every script carries the nonce; there is no inline script.
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1)
	if len(scripts) == 0 {
		t.Error("no script tag")
	}
	for _, s := range scripts {
		if !strings.Contains(s, `nonce="`+m[1]+`"`) || !strings.Contains(s, "src=") {
			t.Errorf("script without the nonce or inline: %s", s)
		}
	}
	if strings.Contains(body, " style=") || strings.Contains(body, " on") && regexp.MustCompile(`<[^>]+ on[a-z]+=`).MatchString(body) {
		t.Error("inline style attribute or event handler in page")
	}
	return csp
}

func TestFormPage(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("tok1"))
	w := e.do(t, "GET", "/pay/tok1?kr-post-url-success="+url.QueryEscape("https://shop.example:8443/ok?x=1"), nil)
	if w.Code != 200 {
		t.Fatalf("status %d\n%s", w.Code, w.Body)
	}
	csp := checkPageHeaders(t, w, false)
	if !strings.Contains(csp, "form-action 'self' https://shop.example:8443") {
		t.Errorf("form-action must allow the return URL's origin: %s", csp)
	}
	body := w.Body.String()
	for _, want := range []string{
		`<html lang="en"`,
		`<label for="kr-pan">Card number</label>`,
		`autocomplete="cc-number"`, `autocomplete="cc-exp"`, `autocomplete="cc-csc"`, `autocomplete="cc-name"`,
		`inputmode="numeric"`,
		`role="alert"`,
		`Pay €12.50`,
		`Café &lt;Démo&gt;`,
		`Order order-42`,
		`TEST mode`,
		`You have 3 attempts left.`,
		`action="/pay/tok1?kr-post-url-success=https%3A%2F%2Fshop.example%3A8443%2Fok%3Fx%3D1"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "kr-save") {
		t.Error("save box shown for formAction PAYMENT")
	}
}

func TestFormVariants(t *testing.T) {
	e := newEnv(t)
	f := demoForm("ask")
	f.FormAction, f.PrimaryColor, f.LogoURL = "ASK_REGISTER_PAY", "#FFD700", "https://cdn.example/logo.png"
	e.pay.add(f)
	r := demoForm("reg")
	r.FormAction, r.Amount, r.Mode = "REGISTER", 0, "PRODUCTION"
	e.pay.add(r)

	w := e.do(t, "GET", "/pay/ask", nil)
	body := w.Body.String()
	csp := checkPageHeaders(t, w, false)
	if !strings.Contains(body, `id="kr-save"`) {
		t.Error("ASK_REGISTER_PAY must offer to save the card")
	}
	// Gold needs dark text to reach 4.5:1; its borders on white are a
	// darker gold, at 3:1.
	if !strings.Contains(body, "--primary:#ffd700;--on-primary:#111827;--primary-ui:#ad9200}") {
		t.Errorf("shop colour not applied:\n%s", body)
	}
	if !strings.Contains(csp, "img-src 'self' https://cdn.example") || !strings.Contains(csp, "style-src 'self' 'nonce-") {
		t.Errorf("CSP for logo/colour: %s", csp)
	}
	// The short form the shop settings accept (`primary-color=#0b5`, the
	// CLI's own example) is the same colour on the page.
	short := demoForm("short")
	short.PrimaryColor = "#0B5"
	e.pay.add(short)
	if body := e.do(t, "GET", "/pay/short", nil).Body.String(); !strings.Contains(body, "--primary:#00bb55;") {
		t.Errorf("short shop colour #0B5 not applied:\n%s", body)
	}
	w = e.do(t, "GET", "/pay/reg", nil)
	body = w.Body.String()
	if !strings.Contains(body, "Register my card") || strings.Contains(body, "TEST mode") {
		t.Errorf("REGISTER in PRODUCTION: want the register button and no test banner")
	}
}

func TestLanguage(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("tok"))
	it := demoForm("it")
	it.Language = "it"
	e.pay.add(it)
	for _, c := range []struct {
		target, accept, lang, pay string
	}{
		{"/pay/tok", "fr-FR,fr;q=0.9,en;q=0.5", "fr", "Payer 12,50\u00a0€"},
		{"/pay/tok", "en;q=0.4, de;q=0.8", "de", "12,50\u00a0€ bezahlen"},
		{"/pay/tok?kr-language=es-ES", "fr", "es", "Pagar 12,50\u00a0€"},
		{"/pay/it", "fr", "it", "Paga 12,50\u00a0€"},
		{"/pay/it?kr-language=de-DE", "", "de", "bezahlen"},
		{"/pay/tok", "pt-BR, ja", "en", "Pay €12.50"},
		{"/pay/tok?kr-language=xx", "", "en", "Pay €12.50"},
	} {
		w := e.do(t, "GET", c.target, nil, "Accept-Language", c.accept)
		body := html.UnescapeString(w.Body.String())
		if !strings.Contains(body, `lang="`+c.lang+`"`) || !strings.Contains(body, c.pay) {
			t.Errorf("%s with Accept-Language %q: want lang %s and %q", c.target, c.accept, c.lang, c.pay)
		}
	}
}

func TestUnusableForms(t *testing.T) {
	e := newEnv(t)
	exp := demoForm("expired")
	exp.Expired = true
	e.pay.add(exp)
	done := demoForm("done")
	done.Completed = true
	e.pay.add(done)
	none := demoForm("none")
	none.AttemptsLeft = 0
	e.pay.add(none)
	for _, c := range []struct {
		target string
		code   int
		text   string
	}{
		{"/pay/unknown", 404, "This payment link is not valid."},
		{"/pay/expired", 410, "This payment session has expired."},
		{"/pay/done", 200, "This payment has already been processed."},
		{"/pay/none", 200, "The maximum number of attempts has been reached."},
		{"/pay/tok?kr-post-url-success=javascript:alert(1)", 400, "return address is not valid"},
		{"/pay/tok?kr-get-url-refused=%2Frelative", 400, "return address is not valid"},
	} {
		w := e.do(t, "GET", c.target, nil)
		if w.Code != c.code || !strings.Contains(html.UnescapeString(w.Body.String()), c.text) {
			t.Errorf("%s: %d, want %d with %q\n%s", c.target, w.Code, c.code, c.text, w.Body)
		}
		checkPageHeaders(t, w, false)
		if strings.Contains(w.Body.String(), `id="kr-form"`) {
			t.Errorf("%s: unusable form rendered a card form", c.target)
		}
		// Screen readers announce an empty heading as "heading level 1",
		// nothing else (no shop is known for an unknown formToken).
		if m := emptyHeadingRE.FindString(w.Body.String()); m != "" {
			t.Errorf("%s: empty heading %s", c.target, m)
		}
	}
	// JSON callers get the same, as an error step.
	res, w := e.postJSON(t, "/pay/expired", cardValues("4970100000000055", "12/30", "123"))
	if w.Code != 410 || res.Step != "error" || res.Error.ErrorCode != "CLIENT_100" {
		t.Errorf("expired JSON: %d %+v", w.Code, res)
	}
	if e.pay.callCount() != 0 {
		t.Error("PayCard called for an unusable form")
	}
}

func TestReturnURLModes(t *testing.T) {
	e := newEnv(t)
	p := demoForm("prod")
	p.Mode = "PRODUCTION"
	e.pay.add(p)
	for target, code := range map[string]int{
		"/pay/prod?kr-post-url-success=" + url.QueryEscape("http://shop.example/ok"):   400,
		"/pay/prod?kr-post-url-success=" + url.QueryEscape("https://shop.example/ok"):  200,
		"/pay/prod?kr-post-url-success=" + url.QueryEscape("http://127.0.0.1:8080/"):   200,
		"/pay/prod?kr-post-url-success=" + url.QueryEscape("https://u:p@shop.example"): 400,
	} {
		if w := e.do(t, "GET", target, nil); w.Code != code {
			t.Errorf("%s: %d, want %d", target, w.Code, code)
		}
	}
}

// TestReturnOrigins: a shop that lists its return origins gets its pages
// refused, as an invalid return address, when a return address of the
// query has another origin; a shop that lists none keeps PayZen's rule.
func TestReturnOrigins(t *testing.T) {
	e := newEnv(t)
	locked := demoForm("locked")
	locked.ReturnOrigins = []string{"https://shop.example", "http://127.0.0.1:8080"}
	e.pay.add(locked)
	e.pay.add(demoForm("open"))
	ret := func(token string, kv ...string) string {
		q := url.Values{"kr-language": {"fr"}}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return "/pay/" + token + "?" + q.Encode()
	}
	refusal := html.EscapeString(messages["fr"]["invalid_return_url"])
	for _, c := range []struct {
		target string
		code   int
	}{
		{ret("locked", "kr-post-url-success", "https://shop.example/ok"), 200},
		{ret("locked", "kr-get-url-success", "https://SHOP.example:443/ok", "kr-post-url-refused", "http://127.0.0.1:8080/ko"), 200},
		{ret("locked"), 200},
		{ret("locked", "kr-post-url-success", "https://evil.example/collect"), 400},
		{ret("locked", "kr-post-url-success", "https://shop.example/ok", "kr-get-url-refused", "https://evil.example/"), 400},
		{ret("locked", "kr-post-url-success", "http://shop.example/ok"), 400},
		{ret("locked", "kr-post-url-success", "https://shop.example:8443/ok"), 400},
		{ret("locked", "kr-post-url-success", "https://shop.example.evil.example/ok"), 400},
		{ret("open", "kr-post-url-success", "https://evil.example/collect"), 200},
	} {
		w := e.do(t, "GET", c.target, nil)
		if w.Code != c.code {
			t.Errorf("%s: %d, want %d", c.target, w.Code, c.code)
			continue
		}
		if got := strings.Contains(w.Body.String(), refusal); got != (c.code == 400) {
			t.Errorf("%s: invalid_return_url message shown: %v, want %v", c.target, got, c.code == 400)
		}
	}
	// A card posted to a page with a foreign return address is not paid.
	res, w := e.postJSON(t, ret("locked", "kr-post-url-success", "https://evil.example/collect"), cardValues("4970 1000 0000 0055", "12/30", "123"))
	if w.Code != 400 || res.Step != "error" || res.Error == nil || res.Error.ErrorCode != "CLIENT_997" || res.Return != nil {
		t.Fatalf("foreign return: %d %+v", w.Code, res)
	}
	if n := len(e.pay.calls); n != 0 {
		t.Fatalf("PayCard called %d times for a refused return address", n)
	}
	res, w = e.postJSON(t, ret("locked", "kr-post-url-success", "https://shop.example/paid"), cardValues("4970 1000 0000 0055", "12/30", "123"))
	if w.Code != 200 || !res.Accepted || res.Return == nil || res.Return.Action != "https://shop.example/paid" {
		t.Fatalf("allowed return: %d %+v", w.Code, res)
	}
}

func embeddedURL(token, origin, pk string) string {
	q := url.Values{"origin": {origin}, "kr-public-key": {pk}}
	return "/embedded/" + token + "?" + q.Encode()
}

func TestEmbeddedDocument(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("emb"))
	w := e.do(t, "GET", embeddedURL("emb", "https://merchant.example:444", demoPublicKey), nil)
	if w.Code != 200 {
		t.Fatalf("status %d\n%s", w.Code, w.Body)
	}
	csp := checkPageHeaders(t, w, true)
	if !strings.Contains(csp, "form-action 'self';") {
		t.Errorf("the frame submits only to OpenPSP: %s", csp)
	}
	body := w.Body.String()
	if !strings.Contains(body, `data-parent-origin="https://merchant.example:444"`) || !strings.Contains(body, `data-mode="embedded"`) {
		t.Error("frame does not know its parent origin")
	}
	if strings.Contains(body, `class="shop"`) {
		t.Error("inline embedded form shows the shop header")
	}
	// Pop-in shows the header; custom labels apply.
	w = e.do(t, "GET", embeddedURL("emb", "https://merchant.example", demoPublicKey)+"&kr-popin=true&kr-label-pan=Num%C3%A9ro&kr-placeholder-pan=XXXX", nil)
	body = w.Body.String()
	if !strings.Contains(body, `class="shop"`) || !strings.Contains(body, ">Numéro</label>") || !strings.Contains(body, `placeholder="XXXX"`) {
		t.Error("popin header or custom label missing")
	}

	for name, c := range map[string]struct {
		target, code string
		status       int
	}{
		"no origin":      {"/embedded/emb?kr-public-key=" + url.QueryEscape(demoPublicKey), "", 400},
		"star origin":    {embeddedURL("emb", "*", demoPublicKey), "", 400},
		"origin w/ path": {embeddedURL("emb", "https://merchant.example/x", demoPublicKey), "", 400},
		"no public key":  {embeddedURL("emb", "https://merchant.example", ""), "CLIENT_501", 400},
		"unknown key":    {embeddedURL("emb", "https://merchant.example", "nope"), "CLIENT_004", 400},
		"other shop key": {embeddedURL("emb", "https://merchant.example", otherPublic), "CLIENT_004", 400},
	} {
		w := e.do(t, "GET", c.target, nil)
		if w.Code != c.status || !strings.Contains(w.Body.String(), `data-error-code="`+c.code) {
			t.Errorf("%s: %d\n%s", name, w.Code, w.Body)
		}
		if c.code == "" && strings.Contains(w.Body.String(), "data-parent-origin") {
			t.Errorf("%s: an invalid origin must not become a postMessage target", name)
		}
	}
}

func TestPayAcceptedFrictionless(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("ok"))
	res, w := e.postJSON(t, "/pay/ok?kr-post-url-success="+url.QueryEscape("https://shop.example/paid"), cardValues("4970 1000 0000 0055", "12/30", "123"))
	if w.Code != 200 || res.Step != "done" || !res.Accepted || res.Return == nil {
		t.Fatalf("%d %+v", w.Code, res)
	}
	if res.Return.Action != "https://shop.example/paid" || res.Return.Method != "post" {
		t.Errorf("return %+v", res.Return)
	}
	f := fields(res.Return.Fields)
	if f["kr-hash-algorithm"] != "sha256_hmac" || f["kr-hash-key"] != "sha256_hmac" || f["kr-answer-type"] != "V4/Payment" {
		t.Errorf("return fields %v", f)
	}
	verifyHash(t, demoHMACKey, f["kr-answer"], f["kr-hash"])
	if !strings.Contains(f["kr-answer"], `"orderStatus":"PAID"`) {
		t.Errorf("answer %s", f["kr-answer"])
	}
	c := e.pay.lastCall(t)
	if c.Masked != "497010XXXXXX0055" || c.Expiry != "1230" || c.CVV != "123" || c.Holder != "Ada Lovelace" {
		t.Errorf("PayCard got %+v", c)
	}
	if c.ThreeDS == nil || c.ThreeDS.Status != acquirer.ThreeDSAuthenticated || c.ThreeDS.Challenged || !c.ThreeDS.LiabilityShift {
		t.Errorf("frictionless 3DS result %+v", c.ThreeDS)
	}
	if res.Result != nil {
		t.Error("hosted answer carries the embedded result")
	}
}

func TestPayEmbeddedJSON(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("emb"))
	res, _ := e.postJSON(t, embeddedURL("emb", "https://merchant.example", demoPublicKey), cardValues("5100010000002045", "0931", "999"))
	if res.Step != "done" || !res.Accepted || res.Return != nil || len(res.Result) != 5 {
		t.Fatalf("%+v", res)
	}
	f := fields(res.Result)
	verifyHash(t, demoHMACKey, f["kr-answer"], f["kr-hash"])
}

func TestFieldErrors(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("f"))
	for _, c := range []struct {
		name  string
		in    url.Values
		field string
		text  string
	}{
		{"luhn", cardValues("4970100000000056", "12/30", "123"), "pan", "not valid"},
		{"empty pan", cardValues("", "12/30", "123"), "pan", "Enter your card number."},
		{"past", cardValues("4970100000000055", "02/26", "123"), "expiry", "expired"},
		{"bad month", cardValues("4970100000000055", "13/30", "123"), "expiry", "MM/YY"},
		{"amex cvv", cardValues("375900000000008", "12/30", "123"), "csc", "4 digits"},
		{"visa 4-digit cvv", cardValues("4970100000000055", "12/30", "1234"), "csc", "3 digits"},
		{"letters cvv", cardValues("4970100000000055", "12/30", "12a"), "csc", "3 digits"},
	} {
		res, w := e.postJSON(t, "/pay/f", c.in)
		if w.Code != 422 || res.Step != "form" || !strings.Contains(res.FieldErrors[c.field], c.text) {
			t.Errorf("%s: %d %+v", c.name, w.Code, res)
		}
		if res.Error == nil || res.Error.ErrorCode != "CLIENT_300" || len(res.Error.Children) == 0 {
			t.Errorf("%s: error %+v", c.name, res.Error)
		}
	}
	// The current month is still valid.
	if res, _ := e.postJSON(t, "/pay/f", cardValues("4970100000000055", "03/26", "123")); res.Step != "done" {
		t.Errorf("03/26 in March 2026: %+v", res)
	}

	// Without JavaScript: the page again, 422, errors inline, no card data echoed.
	e.pay.add(demoForm("g"))
	w := e.do(t, "POST", "/pay/g", cardValues("4970100000000056", "12/30", "987"))
	body := w.Body.String()
	if w.Code != 422 || !strings.Contains(body, `aria-invalid="true"`) || !strings.Contains(body, "Please correct the highlighted fields.") {
		t.Errorf("HTML field errors: %d\n%s", w.Code, body)
	}
	if strings.Contains(body, "4970100000000056") || strings.Contains(body, "987") {
		t.Error("card number or security code written into the page")
	}
	if !strings.Contains(body, `value="12/30"`) || !strings.Contains(body, `value="Ada Lovelace"`) {
		t.Error("expiry and holder should be kept")
	}
}

func TestRefusalsAndAttempts(t *testing.T) {
	e := newEnv(t)
	f := demoForm("r")
	f.AttemptsLeft = 2
	e.pay.add(f)
	target := "/pay/r?kr-post-url-success=" + url.QueryEscape("https://shop.example/ok") +
		"&kr-get-url-refused=" + url.QueryEscape("https://shop.example/ko?cart=7") + "&kr-language=fr"

	res, _ := e.postJSON(t, target, cardValues("4970109900000016", "12/30", "123"))
	if res.Step != "form" || !strings.Contains(res.Message, "provision insuffisante") || res.AttemptsText != "Il vous reste 1 tentative." {
		t.Fatalf("first refusal: %+v", res)
	}
	if res.Error == nil || res.Error.ErrorCode != "ACQ_001" || res.Error.DetailedErrorCode != ReasonInsufficientFunds {
		t.Errorf("refusal error %+v", res.Error)
	}
	verifyHash(t, demoHMACKey, fields(res.Result)["kr-answer"], fields(res.Result)["kr-hash"])

	res, _ = e.postJSON(t, target, cardValues("4970109900000008", "12/30", "123"))
	if res.Step != "done" || res.Accepted || res.Return == nil || res.Error.ErrorCode != "PSP_099" {
		t.Fatalf("last refusal: %+v", res)
	}
	if !strings.Contains(res.Detail, "nombre maximal de tentatives") {
		t.Errorf("final message %q, detail %q", res.Message, res.Detail)
	}
	if res.Return.Method != "get" || res.Return.Action != "https://shop.example/ko" {
		t.Errorf("refused return %+v", res.Return)
	}
	rf := fields(res.Return.Fields)
	if rf["cart"] != "7" || !strings.Contains(rf["kr-answer"], `"orderStatus":"UNPAID"`) {
		t.Errorf("GET return keeps the URL's query and carries the answer: %v", rf)
	}
	verifyHash(t, demoHMACKey, rf["kr-answer"], rf["kr-hash"])
	// The form is over now.
	if w := e.do(t, "GET", "/pay/r", nil); !strings.Contains(w.Body.String(), "already been processed") {
		t.Errorf("after the last attempt: %s", w.Body)
	}
}

func TestTechnicalError(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("t"))
	res, _ := e.postJSON(t, "/pay/t", cardValues("4970109900000065", "12/30", "123"))
	if res.Step != "form" || !strings.Contains(res.Message, "technical error") || res.Error.ErrorCode != "CLIENT_999" {
		t.Errorf("%+v", res)
	}
	if res.AttemptsText != "You have 3 attempts left." {
		t.Errorf("a technical error must not count as an attempt: %q", res.AttemptsText)
	}
}

// TestPendingAndInProgress: an attempt the acquirer has not answered yet is
// neither refused nor accepted: the buyer is told it is being processed and
// may not try again, in the page, in JSON, and on reloading the page; a
// second submission refused because the first is under way says so too,
// not "technical error, your card was not charged".
func TestPendingAndInProgress(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("p"))
	ret := "?kr-post-url-refused=" + url.QueryEscape("https://shop.example/ko") + "&kr-language=de"
	res, _ := e.postJSON(t, "/pay/p"+ret, cardValues("4970109900000073", "12/30", "123"))
	if res.Step != "done" || res.Accepted || res.Return != nil || res.Result != nil ||
		res.Message != messages["de"]["pending"] || res.Error == nil || res.Error.ErrorCode != "CLIENT_502" {
		t.Errorf("pending attempt: %+v", res)
	}
	w := e.do(t, "GET", "/pay/p"+ret, nil)
	if body := html.UnescapeString(w.Body.String()); w.Code != 200 || strings.Contains(body, `id="kr-form"`) ||
		!strings.Contains(body, messages["de"]["in_progress"]) {
		t.Errorf("page of a form in progress: %d\n%s", w.Code, body)
	}

	// A second submission whose form was read before the first attempt
	// started: PayCard refuses it.
	e.pay.add(demoForm("q"))
	e.pay.racing = true
	res, _ = e.postJSON(t, "/pay/q", cardValues("4970100000000055", "12/30", "123"))
	if res.Step != "error" || res.Message != messages["en"]["in_progress"] || res.Error.ErrorCode != "CLIENT_502" {
		t.Errorf("second submission: %+v", res)
	}
	w = e.do(t, "POST", "/pay/q", cardValues("4970100000000055", "12/30", "123"))
	if body := html.UnescapeString(w.Body.String()); strings.Contains(body, "technical error") || !strings.Contains(body, messages["en"]["in_progress"]) {
		t.Errorf("second submission, HTML: %s", body)
	}
}

func TestThreeDSStatuses(t *testing.T) {
	for _, c := range []struct {
		pan      string
		status   string
		accepted bool
	}{
		{"4970109900000099", acquirer.ThreeDSFailed, false},
		{"4970110000000401", acquirer.ThreeDSRejected, false},
		{"4970109900000107", acquirer.ThreeDSUnavailable, true},
		{"4970109900000115", acquirer.ThreeDSAttempted, true},
	} {
		e := newEnv(t)
		e.pay.add(demoForm("s"))
		res, _ := e.postJSON(t, "/pay/s", cardValues(c.pan, "12/30", "123"))
		call := e.pay.lastCall(t)
		if call.ThreeDS == nil || call.ThreeDS.Status != c.status {
			t.Errorf("%s: PayCard got 3DS %+v, want %s", c.pan, call.ThreeDS, c.status)
		}
		if res.Accepted != c.accepted {
			t.Errorf("%s: %+v", c.pan, res)
		}
		if !c.accepted && !strings.Contains(res.Message, "3-D Secure") {
			t.Errorf("%s: message %q", c.pan, res.Message)
		}
	}
	// strongAuthentication DISABLED: no 3-D Secure at all.
	e := newEnv(t)
	f := demoForm("d")
	f.StrongAuthentication = "DISABLED"
	e.pay.add(f)
	e.postJSON(t, "/pay/d", cardValues("4970110000000021", "12/30", "123"))
	if c := e.pay.lastCall(t); c.ThreeDS != nil {
		t.Errorf("DISABLED still ran 3DS: %+v", c.ThreeDS)
	}
}

var sealedRE = regexp.MustCompile(`name="sealed" value="([^"]+)"`)

func TestChallengeApproved(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("c"))
	q := "?kr-post-url-success=" + url.QueryEscape("https://shop.example/ok")
	res, _ := e.postJSON(t, "/pay/c"+q, cardValues("4970110000000021", "12/30", "123"))
	if res.Step != "challenge" || res.Sealed == "" || res.Action != "/pay/c/3ds"+strings.ReplaceAll(q, "%3A", "%3A") {
		t.Fatalf("%+v", res)
	}
	if e.pay.callCount() != 0 {
		t.Fatal("paid before the challenge")
	}
	if strings.Contains(res.Sealed, "4970110000000021") {
		t.Fatal("card number in clear in the sealed blob")
	}
	// The form script posts the sealed card to the challenge page.
	w := e.do(t, "POST", res.Action, url.Values{"sealed": {res.Sealed}})
	body := w.Body.String()
	checkPageHeaders(t, w, false)
	if w.Code != 200 || !strings.Contains(body, `class="test-banner"`) || !strings.Contains(body, "ending in 0021") || !strings.Contains(body, `id="kr-acs-approve"`) {
		t.Fatalf("challenge page %d\n%s", w.Code, body)
	}
	m := sealedRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no sealed field on the challenge page")
	}
	w = e.do(t, "POST", "/pay/c/3ds/complete"+q, url.Values{"sealed": {html.UnescapeString(m[1])}, "decision": {"approve"}})
	body = w.Body.String()
	csp := checkPageHeaders(t, w, false)
	if !strings.Contains(csp, "form-action 'self' https://shop.example") {
		t.Errorf("result page CSP must allow the return: %s", csp)
	}
	if !strings.Contains(body, `id="kr-return" method="post" action="https://shop.example/ok"`) || !strings.Contains(body, "Payment accepted") {
		t.Fatalf("result page\n%s", body)
	}
	call := e.pay.lastCall(t)
	if call.ThreeDS == nil || call.ThreeDS.Status != acquirer.ThreeDSAuthenticated || !call.ThreeDS.Challenged || !call.ThreeDS.LiabilityShift {
		t.Errorf("after the challenge PayCard got %+v", call.ThreeDS)
	}
	if call.CVV != "123" || call.Holder != "Ada Lovelace" || call.Expiry != "1230" {
		t.Errorf("card did not survive the round trip: %+v", call)
	}
	// The answer in the page is exactly what was signed.
	hash := regexp.MustCompile(`name="kr-hash" value="([0-9a-f]{64})"`).FindStringSubmatch(body)
	ans := regexp.MustCompile(`name="kr-answer" value="([^"]+)"`).FindStringSubmatch(body)
	if hash == nil || ans == nil {
		t.Fatal("return fields missing")
	}
	verifyHash(t, demoHMACKey, html.UnescapeString(ans[1]), hash[1])
}

func TestChallengeFailedHTML(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("c"))
	// Without JavaScript the first POST answers with the challenge page itself.
	w := e.do(t, "POST", "/pay/c", cardValues("5100010000000049", "12/30", "123"))
	m := sealedRE.FindStringSubmatch(w.Body.String())
	if w.Code != 200 || m == nil {
		t.Fatalf("%d\n%s", w.Code, w.Body)
	}
	w = e.do(t, "POST", "/pay/c/3ds/complete", url.Values{"sealed": {html.UnescapeString(m[1])}, "decision": {"fail"}})
	body := w.Body.String()
	if !strings.Contains(body, `id="kr-form"`) || !strings.Contains(body, "could not authenticate you") || !strings.Contains(body, "You have 2 attempts left.") {
		t.Fatalf("after a failed challenge\n%s", body)
	}
	if !strings.Contains(body, `data-error-code="ACQ_001"`) {
		t.Error("the refusal is not marked for the merchant page")
	}
	call := e.pay.lastCall(t)
	if call.ThreeDS == nil || call.ThreeDS.Status != acquirer.ThreeDSFailed || !call.ThreeDS.Challenged {
		t.Errorf("PayCard got %+v", call.ThreeDS)
	}
	if e.pay.authorized != 0 {
		t.Error("a failed authentication reached the acquirer")
	}
}

func TestChallengeOnlyInTest(t *testing.T) {
	e := newEnv(t)
	f := demoForm("p")
	f.Mode = "PRODUCTION"
	e.pay.add(f)
	res, _ := e.postJSON(t, "/pay/p", cardValues("4970110000000021", "12/30", "123"))
	if res.Step != "form" || !strings.Contains(res.Message, "not available") || e.pay.callCount() != 0 {
		t.Errorf("PRODUCTION challenge: %+v", res)
	}
	// A sealed blob made for a TEST form is refused once the form is not TEST.
	e.pay.add(demoForm("t"))
	res, _ = e.postJSON(t, "/pay/t", cardValues("4970110000000021", "12/30", "123"))
	e.pay.forms["t"].Mode = "PRODUCTION"
	w := e.do(t, "POST", "/pay/t/3ds/complete", url.Values{"sealed": {res.Sealed}, "decision": {"approve"}})
	if !strings.Contains(w.Body.String(), "not available") || e.pay.callCount() != 0 {
		t.Errorf("complete in PRODUCTION: %s", w.Body)
	}
}

func TestSealAcrossCopies(t *testing.T) {
	a := newEnv(t)
	a.pay.add(demoForm("x"))
	res, _ := a.postJSON(t, "/pay/x", cardValues("4970110000000021", "12/30", "123"))
	if res.Step != "challenge" {
		t.Fatalf("%+v", res)
	}
	// Another copy of openpsp, same key, same payment service and 3DS
	// server, no shared memory: it opens the blob.
	b := New(Options{Payments: a.pay, Keys: fakeKeys{}, Authenticator: a.sim, SealKey: testSealKey, Clock: a.clk})
	mux := http.NewServeMux()
	b.Register(mux)
	other := &env{h: b, mux: mux, pay: a.pay, clk: a.clk, sim: a.sim}
	w := other.do(t, "POST", "/pay/x/3ds/complete", url.Values{"sealed": {res.Sealed}, "decision": {"approve"}})
	if !strings.Contains(w.Body.String(), "Payment accepted") {
		t.Fatalf("other copy could not complete\n%s", w.Body)
	}

	// Wrong key, other formToken, tampering, and time all refuse it.
	a.pay.add(demoForm("y"))
	res, _ = a.postJSON(t, "/pay/y", cardValues("4970110000000021", "12/30", "123"))
	wrong := New(Options{Payments: a.pay, Keys: fakeKeys{}, Authenticator: a.sim, SealKey: []byte("ffffffffffffffffffffffffffffffff"), Clock: a.clk})
	if _, _, err := wrong.seal.open("y", res.Sealed); err == nil {
		t.Error("opened with another key")
	}
	if _, _, err := a.h.seal.open("x", res.Sealed); err == nil {
		t.Error("opened for another formToken")
	}
	// One bit flipped inside the ciphertext: rewriting the last base64
	// characters may leave the decoded bytes as they were.
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(res.Sealed, sealPrefix))
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x01
	tampered := sealPrefix + base64.RawURLEncoding.EncodeToString(raw)
	if _, _, err := a.h.seal.open("y", tampered); err == nil {
		t.Error("opened a tampered blob")
	}
	if _, _, err := a.h.seal.open("y", res.Sealed); err != nil {
		t.Fatalf("fresh blob: %v", err)
	}
	a.clk.Set(a.clk.Now().Add(sealTTL + time.Second))
	if _, _, err := a.h.seal.open("y", res.Sealed); err != errSealExpired {
		t.Errorf("after %v: %v", sealTTL, err)
	}
	w = a.do(t, "POST", "/pay/y/3ds/complete", url.Values{"sealed": {res.Sealed}, "decision": {"approve"}})
	if !strings.Contains(w.Body.String(), "authentication session has expired") || !strings.Contains(w.Body.String(), `id="kr-form"`) {
		t.Errorf("expired blob: %s", w.Body)
	}
}

// A cross-site POST is refused with 403 and, for the buyer's browser,
// the message page in its language (it was text/plain "cross-origin
// request refused"); the form script's fetch reads a JSON error.
func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("x"))
	w := e.do(t, "POST", "/pay/x", cardValues("4970100000000055", "12/30", "123"), "Sec-Fetch-Site", "cross-site")
	if w.Code != http.StatusForbidden || e.pay.callCount() != 0 {
		t.Errorf("cross-site POST: %d", w.Code)
	}
	for _, c := range []struct{ target, lang, text string }{
		{"/pay/x", "it-IT,it;q=0.9", messages["it"]["cross_site"]},
		{"/pay/x/3ds/complete", "fr", messages["fr"]["cross_site"]},
		{"/embedded/x", "de-DE", messages["de"]["cross_site"]},
		{"/pay/x?kr-language=es", "fr", messages["es"]["cross_site"]},
		{"/pay/x/wallet/delete", "", messages["en"]["cross_site"]},
		{"/pay/x/wallet/delete/page", "de", messages["de"]["cross_site"]},
	} {
		w := e.do(t, "POST", c.target, cardValues("4970100000000055", "12/30", "123"), "Sec-Fetch-Site", "cross-site", "Accept-Language", c.lang)
		body := html.UnescapeString(w.Body.String())
		if w.Code != http.StatusForbidden || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
			!strings.Contains(body, `data-page="message"`) || c.text == "" || !strings.Contains(body, c.text) {
			t.Errorf("cross-site POST %s (%s): %d %q, want 403 and the message page saying %q:\n%s", c.target, c.lang, w.Code, w.Header().Get("Content-Type"), c.text, body)
		}
		checkPageHeaders(t, w, strings.HasPrefix(c.target, "/embedded/"))
	}
	res, w := e.postJSON(t, "/pay/x", cardValues("4970100000000055", "12/30", "123"), "Sec-Fetch-Site", "cross-site", "Accept-Language", "es")
	if w.Code != http.StatusForbidden || res.Step != "error" || res.Message != messages["es"]["cross_site"] {
		t.Errorf("cross-site JSON POST: %d %+v", w.Code, res)
	}
	if e.pay.callCount() != 0 {
		t.Errorf("a cross-site POST reached the payment")
	}
	w = e.do(t, "POST", "/pay/x", cardValues("4970100000000055", "12/30", "123"), "Sec-Fetch-Site", "same-origin", "Accept", "application/json")
	if w.Code != 200 {
		t.Errorf("same-origin POST: %d %s", w.Code, w.Body)
	}
}

func TestStaticFiles(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		path, ctype, contains string
		code                  int
	}{
		{ClientPath, "text/javascript", "KR_CLIENT_LOADED", 200},
		{"/static/js/krypton-client/V4.0/ext/classic-reset.css", "text/css", "", 200},
		{"/static/js/krypton-client/V4.0/ext/classic.js", "text/javascript", "", 200},
		{"/static/js/krypton-client/V4.0/ext/neon-reset.min.css", "text/css", "", 200},
		{"/static/js/krypton-client/V4.0/ext/neon.js", "text/javascript", "", 200},
		{"/static/js/krypton-client/V4.0/ext/x.html", "", "", 404},
		{"/static/hosted/form.js", "text/javascript", "openpspDetectBrand", 200},
		{"/static/hosted/form.css", "text/css", "--primary", 200},
		{"/static/hosted/kr-payment-form.js", "", "", 404},
		{"/static/hosted/page.html", "", "", 404},
	} {
		w := e.do(t, "GET", c.path, nil)
		if w.Code != c.code {
			t.Errorf("%s: %d", c.path, w.Code)
			continue
		}
		if c.code != 200 {
			continue
		}
		h := w.Header()
		if !strings.HasPrefix(h.Get("Content-Type"), c.ctype) || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: headers %v", c.path, h)
		}
		if !strings.Contains(w.Body.String(), c.contains) {
			t.Errorf("%s: body lacks %q", c.path, c.contains)
		}
	}
}

func TestMessagesComplete(t *testing.T) {
	verbs := regexp.MustCompile(`%[sd]`)
	en := messages["en"]
	for _, l := range languages {
		m := messages[l]
		if len(m) != len(en) {
			t.Errorf("%s has %d messages, en has %d", l, len(m), len(en))
		}
		for k, v := range en {
			got, ok := m[k]
			if !ok || strings.TrimSpace(got) == "" {
				t.Errorf("%s: missing %q", l, k)
				continue
			}
			if strings.Join(verbs.FindAllString(got, -1), "") != strings.Join(verbs.FindAllString(v, -1), "") {
				t.Errorf("%s: %q has verbs %q, en %q", l, k, got, v)
			}
		}
	}
	for _, r := range []string{ReasonRefused, ReasonInsufficientFunds, ReasonExpiredCard, ReasonThreeDSFailed, ReasonTechnical, ReasonCardNotSupported} {
		if en[r] == "" {
			t.Errorf("no message for reason %q", r)
		}
	}
	for _, k := range clientKeys {
		if en[k] == "" {
			t.Errorf("client key %q has no message", k)
		}
	}
}

// Every French text of the pages (the main catalogue, wallet and refusal
// parts included) puts a no-break space (U+00A0, or the narrow U+202F)
// before : ; ! ? » and after «, as French typography wants and as the
// buyer's emails do: with a plain space the sign can start a line on a
// narrow phone screen. French and Italian apostrophes are the typographic
// ’ (U+2019): "n’est", "l’ordine" (typography.Problems).
func TestTypography(t *testing.T) {
	for _, lang := range languages {
		for k, v := range messages[lang] {
			for _, p := range typography.Problems(lang, v) {
				t.Errorf("%s %q: %s: %q", lang, k, p, v)
			}
		}
	}
}

// Every text of the pages addresses the buyer in its language's formal
// register: vous, Sie, usted, Lei ("Inserisca", "la Sua banca"); the card
// form's Italian messages said tu while the wallet's said Lei. Why these
// registers, and the words of the others: typography.RegisterProblems.
// Spanish says "póngase en contacto con" as the emails do, not "Contacte
// con" or "comuníquese"; the merchant is the shop in every language (the
// wallet's texts and the 3-D Secure page said marchand, comercio,
// esercente, Händler), and the security code and expiry date have one
// name each (typography.WordingProblems).
func TestRegister(t *testing.T) {
	for _, lang := range languages {
		for k, v := range messages[lang] {
			for _, p := range typography.RegisterProblems(lang, v) {
				t.Errorf("%s %q: %s: %q", lang, k, p, v)
			}
			for _, p := range typography.WordingProblems(lang, v) {
				t.Errorf("%s %q: %s: %q", lang, k, p, v)
			}
		}
	}
}

func TestReasonForCode(t *testing.T) {
	for code, want := range map[string]string{
		acquirer.CodeInsufficientFunds: ReasonInsufficientFunds,
		acquirer.CodeExpiredCard:       ReasonExpiredCard,
		acquirer.CodeStolenCard:        ReasonRefused,
		acquirer.CodeDoNotHonour:       ReasonRefused,
		acquirer.CodeIssuerUnavailable: ReasonTechnical,
	} {
		if got := ReasonForCode(code); got != want {
			t.Errorf("%s: %s, want %s", code, got, want)
		}
	}
}

// The default palette of form.css reads at 4.5:1 (a shop's colour is
// shop.PaletteFor's, tested there).
func TestDefaultPaletteContrast(t *testing.T) {
	for _, p := range [][2]string{{"#1f2937", "#ffffff"}, {"#4b5563", "#ffffff"}, {"#b91c1c", "#ffffff"}, {"#b91c1c", "#fef2f2"}, {"#ffffff", "#1d4ed8"}, {"#6b7280", "#ffffff"}, {"#78350f", "#fffbeb"}, {"#166534", "#ffffff"}} {
		if r := shop.ContrastRatio(p[0], p[1]); r < 4.5 {
			t.Errorf("%s on %s: %.2f:1", p[0], p[1], r)
		}
	}
}

func TestAcceptLanguage(t *testing.T) {
	for h, want := range map[string]string{
		"":                          "",
		"de-CH, fr;q=0.9":           "de",
		"ja, it;q=0.1":              "it",
		"fr;q=0, es;q=0.5":          "es",
		"en-GB;q=0.8, fr-CA;q=0.81": "fr",
		"*":                         "",
		// The weight's name is case-insensitive; a weight outside the
		// qvalue grammar (0 to 1, three decimals) discards its entry.
		"fr;Q=0, de;q=0.5":       "de",
		"fr;q=inf, de;q=0.5":     "de",
		"fr;q=2, de;q=0.001":     "de",
		"fr;q=nan, it":           "it",
		"fr;q=0.5000, es; q=0.4": "es",
		"fr ; Q = 1.000":         "fr",
	} {
		got, _ := fromAcceptLanguage(h)
		if got != want {
			t.Errorf("%q: %q, want %q", h, got, want)
		}
	}
}

// retryInvitations are the words that ask the buyer to try again, in each
// language of the pages.
var retryInvitations = map[string][]string{
	"en": {"Try another card", "try again"},
	"fr": {"Essayez une autre carte", "réessayer"},
	"es": {"Pruebe con otra tarjeta", "Inténtelo de nuevo"},
	"it": {"Provi un’altra carta", "Riprovi"},
	"de": {"Versuchen Sie eine andere Karte", "versuchen Sie es erneut"},
}

// TestFinalRefusalInvitesNoRetry: after the last attempt the message says
// that the maximum number of attempts is reached, and does not invite the
// buyer to try another card or to try again, whatever the reason and the
// language; a refusal that leaves attempts still does.
func TestFinalRefusalInvitesNoRetry(t *testing.T) {
	reasons := []string{ReasonRefused, ReasonInsufficientFunds, ReasonExpiredCard, ReasonThreeDSFailed, ReasonTechnical, ReasonCardNotSupported, "unknown"}
	for _, l := range languages {
		m := messages[l]
		for _, r := range reasons {
			headline, detail := finalRefusal(m, r)
			got := headline + " " + detail
			if !strings.Contains(got, m["no_attempts"]) {
				t.Errorf("%s/%s: final message %q does not say the attempts are over", l, r, got)
			}
			for _, w := range retryInvitations[l] {
				if strings.Contains(strings.ToLower(got), strings.ToLower(w)) {
					t.Errorf("%s/%s: final message %q invites another try (%q)", l, r, got, w)
				}
			}
		}
	}

	// Through the page, in JSON and in HTML (no script), in English.
	e := newEnv(t)
	for i, asJSON := range []bool{true, false} {
		f := demoForm("last" + string(rune('a'+i)))
		f.AttemptsLeft = 2
		e.pay.add(f)
		target := "/pay/" + f.FormToken + "?kr-language=en"
		res, _ := e.postJSON(t, target, cardValues("4970109900000008", "12/30", "123"))
		if res.Step != "form" || !strings.Contains(res.Message, "Try another card") {
			t.Fatalf("a refusal with an attempt left must invite another card: %+v", res)
		}
		var msg string
		if asJSON {
			res, _ = e.postJSON(t, target, cardValues("4970109900000008", "12/30", "123"))
			if res.Step != "done" || res.Error == nil || res.Error.ErrorCode != "PSP_099" {
				t.Fatalf("last refusal: %+v", res)
			}
			msg = res.Message + " " + res.Detail
		} else {
			w := e.do(t, "POST", target, cardValues("4970109900000008", "12/30", "123"))
			msg = html.UnescapeString(w.Body.String())
		}
		if !strings.Contains(msg, "The maximum number of attempts has been reached.") {
			t.Errorf("json=%v: final message %q", asJSON, msg)
		}
		// The headline says what happened; the end of the attempts follows
		// it in normal weight (the detail), not as two more sentences of one
		// bold red block of four.
		if asJSON {
			if res.Detail != messages["en"]["no_attempts"] || strings.Contains(res.Message, res.Detail) {
				t.Errorf("json: final refusal headline %q, detail %q: the end of the attempts must be the detail", res.Message, res.Detail)
			}
		} else if !strings.Contains(msg, `<span class="detail">`+messages["en"]["no_attempts"]+`</span>`) {
			t.Errorf("html: the end of the attempts is not the detail of the final page:\n%s", msg)
		}
		for _, w := range retryInvitations["en"] {
			if strings.Contains(msg, w) {
				t.Errorf("json=%v: final message invites another try (%q): %q", asJSON, w, msg)
			}
		}
	}
}

// TestErrorAnswersHaveSecurityHeaders: the plain answers of the handlers (a
// body that does not parse, a cross-site POST) carry the headers the pages
// carry; they had none of them but the nosniff http.Error adds.
func TestErrorAnswersHaveSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("x"))
	for _, embedded := range []bool{false, true} {
		prefix := "/pay/x"
		if embedded {
			prefix = "/embedded/x"
		}
		for _, p := range []string{"", "/3ds", "/3ds/complete", "/wallet/delete"} {
			for _, hdr := range [][]string{{"Sec-Fetch-Site", "same-origin"}, {"Sec-Fetch-Site", "cross-site"}} {
				r := httptest.NewRequest("POST", prefix+p, strings.NewReader("pan=%zz"))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set(hdr[0], hdr[1])
				w := httptest.NewRecorder()
				e.mux.ServeHTTP(w, r)
				if w.Code != http.StatusBadRequest && w.Code != http.StatusForbidden {
					t.Errorf("POST %s (%s): status %d", prefix+p, hdr[1], w.Code)
				}
				h := w.Header()
				csp := h.Get("Content-Security-Policy")
				frame := "frame-ancestors 'none'"
				if embedded {
					frame = "frame-ancestors *"
				}
				if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, frame) ||
					h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" ||
					h.Get("Cache-Control") != "no-store" || (h.Get("X-Frame-Options") == "DENY") == embedded {
					t.Errorf("POST %s (%s) %d: headers %v", prefix+p, hdr[1], w.Code, h)
				}
			}
		}
	}
	if e.pay.callCount() != 0 {
		t.Error("a payment was attempted")
	}
}

// A logo stored before logo-url was validated (or written to the database
// by hand) must not break the page: anything but an https URL or a path on
// OpenPSP is left out, and what is shown is escaped in the attribute.
func TestStoredBadLogoIsLeftOut(t *testing.T) {
	e := newEnv(t)
	for i, logo := range []string{
		"javascript:alert(1)",
		"data:image/svg+xml,<svg onload=alert(1)>",
		"http://cdn.example/logo.png",
		`"><script>alert(1)</script>`,
		"//evil.example/logo.png",
		"https://user:pw@cdn.example/logo.png",
	} {
		f := demoForm(fmt.Sprintf("bad%d", i))
		f.LogoURL = logo
		e.pay.add(f)
		w := e.do(t, "GET", "/pay/"+f.FormToken, nil)
		body := w.Body.String()
		if w.Code != http.StatusOK || strings.Contains(body, `class="logo"`) || strings.Contains(body, "alert(1)") {
			t.Errorf("logo %q: HTTP %d, page shows it:\n%s", logo, w.Code, body)
		}
		if csp := w.Header().Get("Content-Security-Policy"); strings.Contains(csp, "evil") || strings.Contains(csp, "cdn.example") {
			t.Errorf("logo %q widened the CSP: %s", logo, csp)
		}
	}
	// A valid logo with characters that need escaping stays inside its attribute.
	f := demoForm("quoted")
	f.LogoURL = `https://cdn.example/logo.png?a="b"&c=<d>`
	e.pay.add(f)
	body := e.do(t, "GET", "/pay/quoted", nil).Body.String()
	if !strings.Contains(body, `class="logo" src="https://cdn.example/logo.png?a=%22b%22&amp;c=%3cd%3e"`) {
		t.Errorf("quoted logo not escaped:\n%s", body)
	}
}

// TestMalformedPostIsABuyerPage: a post whose body does not parse (a=%zz)
// gets the message page in the buyer's language, or the form script's JSON
// error (CLIENT_300, also from the saved-card deletion), not a bare "bad
// request" in English.
func TestMalformedPostIsABuyerPage(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("x"))
	for _, prefix := range []string{"/pay/x", "/embedded/x"} {
		for _, p := range []string{"", "/3ds", "/3ds/complete"} {
			r := httptest.NewRequest("POST", prefix+p, strings.NewReader("pan=%zz"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			r.Header.Set("Accept-Language", "de-DE,de;q=0.9")
			w := httptest.NewRecorder()
			e.mux.ServeHTTP(w, r)
			body := w.Body.String()
			if w.Code != http.StatusBadRequest || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
				!strings.Contains(body, `lang="de"`) || !strings.Contains(body, messages["de"]["invalid_request"]) {
				t.Errorf("POST %s: %d %q %.200s", prefix+p, w.Code, w.Header().Get("Content-Type"), body)
			}
		}
		// The form script's posts: the payment, and the deletion of a
		// saved card, which it reads with fetch whatever Accept says.
		for _, p := range []string{"", "/wallet/delete"} {
			for _, accept := range []string{"application/json", ""} {
				if p == "" && accept == "" {
					continue // a browser's post: the page above
				}
				r := httptest.NewRequest("POST", prefix+p, strings.NewReader("card=%zz"))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Sec-Fetch-Site", "same-origin")
				r.Header.Set("Accept", accept)
				r.Header.Set("Accept-Language", "it")
				w := httptest.NewRecorder()
				e.mux.ServeHTTP(w, r)
				var ans apiResponse
				if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || w.Code != http.StatusBadRequest ||
					!strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") || ans.Error == nil ||
					ans.Error.ErrorCode != "CLIENT_300" || ans.Message != messages["it"]["invalid_request"] {
					t.Errorf("POST %s as JSON (Accept %q): %d %q %s", prefix+p, accept, w.Code, w.Header().Get("Content-Type"), w.Body.String())
				}
			}
		}
	}
	if e.pay.callCount() != 0 {
		t.Error("a payment was attempted")
	}
}

// A deferred payment accepted on a card check alone (WAITING_AUTHORISATION)
// tells the buyer on the final page that nothing is debited yet and the
// day the amount will be, in the page's language: on the hosted page, in
// the embedded form's answer, and when the challenge completion is posted
// again once the form is over. "Payment accepted" alone read as debited now.
// The day is the one of the shop's time zone.
func TestDeferredDebitDateOnFinalPage(t *testing.T) {
	want := map[string][2]string{
		// The day is one unbreakable piece (no-break spaces).
		"en": {"nothing has been debited yet", "March\u00a05,\u00a02030"},
		"fr": {"rien n’a encore été débité", "5\u00a0mars\u00a02030"},
	}
	for lang, w := range want {
		e := newEnv(t)
		e.pay.debitOn = time.Date(2030, 3, 5, 9, 0, 0, 0, time.UTC)
		says := func(where, text string) {
			t.Helper()
			text = html.UnescapeString(text)
			if !strings.Contains(text, w[0]) || !strings.Contains(text, w[1]) {
				t.Errorf("%s %s: want %q and %q in:\n%s", lang, where, w[0], w[1], text)
			}
			if strings.Contains(text, "09:00") {
				t.Errorf("%s %s: the debit date carries a time of day: %s", lang, where, text)
			}
		}

		// Hosted page, through the 3-D Secure challenge, then the
		// completion posted again.
		fm := demoForm("h-" + lang)
		fm.Language = lang
		e.pay.add(fm)
		res, _ := e.postJSON(t, "/pay/h-"+lang, cardValues("4970110000000021", "12/30", "123"))
		if res.Step != "challenge" {
			t.Fatalf("%s: %+v", lang, res)
		}
		done := url.Values{"sealed": {res.Sealed}, "decision": {"approve"}}
		page := e.do(t, "POST", "/pay/h-"+lang+"/3ds/complete", done)
		says("hosted page", page.Body.String())
		again := e.do(t, "POST", "/pay/h-"+lang+"/3ds/complete", done)
		says("outcome page posted again", again.Body.String())
		if e.pay.callCount() != 1 {
			t.Fatalf("%s: %d payment attempts", lang, e.pay.callCount())
		}

		// Embedded form (the pop-in is the same document): the answer the
		// form script shows.
		fm = demoForm("e-" + lang)
		fm.Language = lang
		e.pay.add(fm)
		er, _ := e.postJSON(t, embeddedURL("e-"+lang, "https://merchant.example", demoPublicKey), cardValues("5100010000002045", "0931", "999"))
		if er.Step != "done" || !er.Accepted {
			t.Fatalf("%s embedded: %+v", lang, er)
		}
		says("embedded answer", er.Message+" "+er.Detail)
		if er.Message != messages[lang]["accepted"] {
			t.Errorf("%s embedded: headline %q, want %q alone (the day follows in detail)", lang, er.Message, messages[lang]["accepted"])
		}

		// A shop in Paris (Form.TimeZone): a debit at 23:30 UTC on March
		// 4 is made on March 5 there, the day its buyer's email says.
		e.pay.debitOn = time.Date(2030, 3, 4, 23, 30, 0, 0, time.UTC)
		fm = demoForm("z-" + lang)
		fm.Language, fm.TimeZone = lang, "Europe/Paris"
		e.pay.add(fm)
		zr, _ := e.postJSON(t, "/pay/z-"+lang, cardValues("5100010000002045", "0931", "999"))
		if zr.Step != "done" || !zr.Accepted {
			t.Fatalf("%s in Paris: %+v", lang, zr)
		}
		says("answer of a shop in Paris", zr.Message+" "+zr.Detail)

		// A payment debited now says nothing of a later debit.
		e.pay.debitOn = time.Time{}
		fm = demoForm("n-" + lang)
		fm.Language = lang
		e.pay.add(fm)
		nr, _ := e.postJSON(t, "/pay/n-"+lang, cardValues("5100010000002045", "0931", "999"))
		if !nr.Accepted || strings.Contains(nr.Message, w[0]) || nr.Detail != "" {
			t.Errorf("%s: an immediate payment's message: %q", lang, nr.Message)
		}
	}
}

var titleRE = regexp.MustCompile(`<title>([^<]*)</title>`)

// pageTitle is the <title> of a page, as a screen reader or a tab reads it.
func pageTitle(body string) string {
	m := titleRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// The message page's title read "Secure payment" whatever it said (a
// page not found, an invalid link, a refusal), then the first clause of
// its sentence ("This payment link is not valid", "For your security,
// this form can only be sent from the payment page"): it is now the page's
// heading, short and in the page's language, so that a buyer with a screen
// reader or many tabs knows without reading the page.
func TestMessagePageTitleIsItsHeading(t *testing.T) {
	e := newEnv(t)
	done := demoForm("done")
	done.Completed = true
	e.pay.add(done)
	for _, c := range []struct{ lang, notFound, badLink, completed, method string }{
		{"en", "Page not found", "Invalid payment link", "Payment already processed", "Page unavailable"},
		{"fr", "Page introuvable", "Lien de paiement non valide", "Paiement déjà traité", "Page indisponible"},
		{"es", "Página no encontrada", "Enlace de pago no válido", "Pago ya procesado", "Página no disponible"},
		{"it", "Pagina non trovata", "Link di pagamento non valido", "Pagamento già elaborato", "Pagina non disponibile"},
		{"de", "Seite nicht gefunden", "Ungültiger Zahlungslink", "Zahlung bereits verarbeitet", "Seite nicht verfügbar"},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/nope", nil)
		r.Header.Set("Accept-Language", c.lang)
		e.h.MessagePage(w, r, http.StatusNotFound, MessagePageNotFound, "")
		if got := pageTitle(w.Body.String()); got != c.notFound {
			t.Errorf("%s page not found: title %q, want %q", c.lang, got, c.notFound)
		}
		w = httptest.NewRecorder()
		e.h.MessagePage(w, r, http.StatusMethodNotAllowed, MessageMethodNotAllowed, c.lang)
		if got := pageTitle(w.Body.String()); got != c.method {
			t.Errorf("%s wrong method: title %q, want %q", c.lang, got, c.method)
		}
		w = e.do(t, "GET", "/pay/unknown", nil, "Accept-Language", c.lang)
		if got := pageTitle(w.Body.String()); got != c.badLink {
			t.Errorf("%s unknown form: title %q, want %q", c.lang, got, c.badLink)
		}
		w = e.do(t, "GET", "/pay/done?kr-language="+c.lang, nil)
		if got := pageTitle(w.Body.String()); got != c.completed+" · "+done.ShopName {
			t.Errorf("%s completed form: title %q, want %q", c.lang, got, c.completed+" · "+done.ShopName)
		}
	}
}

// A message page's sentence explains its heading rather than say it again:
// the page not found read "Page not found" as its heading and "Page not
// found: check the address or return to the shop." below it.
func TestMessageSentenceDoesNotRepeatItsHeading(t *testing.T) {
	keys := []string{MessageMethodNotAllowed, "cross_site", "invalid_request", "invalid_return_url", "invalid_public_key",
		"invalid_origin", "technical_error"}
	for k := range messageHeadings {
		keys = append(keys, k)
	}
	for _, lang := range languages {
		for _, k := range keys {
			heading, msg := messageHeading(lang, k), messages[lang][k]
			if heading == "" || msg == "" {
				t.Errorf("%s %s: heading %q, sentence %q", lang, k, heading, msg)
				continue
			}
			if strings.HasPrefix(strings.ToLower(msg), strings.ToLower(heading)) {
				t.Errorf("%s %s: the sentence %q begins with its heading %q", lang, k, msg, heading)
			}
		}
	}
}

// A message page that ends the buyer's way (an address that leads nowhere,
// a payment link that is not valid, a session expired) says where to go on:
// back to the shop. The invalid link read "Invalid payment link", then
// "This payment link is not valid.", the heading again and no way on.
func TestDeadEndMessageSaysWhereToGoOn(t *testing.T) {
	shopWord := map[string]string{"en": "shop", "fr": "boutique", "es": "tienda", "it": "negozio", "de": "Shop"}
	for _, lang := range languages {
		for _, k := range []string{MessagePageNotFound, "form_not_found", "form_expired"} {
			if msg := messages[lang][k]; !strings.Contains(msg, shopWord[lang]) {
				t.Errorf("%s %s: %q does not send the buyer back to the %s", lang, k, msg, shopWord[lang])
			}
		}
	}
}

// The card form posted again as a page (no script: the browser's "resend"
// after the back button) once the form is over shows the outcome page,
// paid, as the first post did; another card reads that the form is over.
func TestCardPostReplayedAfterEndShowsTheOutcomePage(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("again"))
	card := cardValues("4970100000000055", "12/30", "123")
	first := e.do(t, "POST", "/pay/again?kr-language=fr", card)
	replay := e.do(t, "POST", "/pay/again?kr-language=fr", card)
	for _, w := range []*httptest.ResponseRecorder{first, replay} {
		if body := html.UnescapeString(w.Body.String()); w.Code != http.StatusOK || !strings.Contains(body, messages["fr"]["accepted"]) || !strings.Contains(body, `data-page="result"`) {
			t.Errorf("card post: %d, want the paid result page:\n%s", w.Code, body)
		}
	}
	other := e.do(t, "POST", "/pay/again?kr-language=fr", cardValues("5100010000002045", "12/30", "123"))
	if body := html.UnescapeString(other.Body.String()); !strings.Contains(body, messages["fr"]["form_completed"]) {
		t.Errorf("another card after the payment: %d\n%s", other.Code, body)
	}
	if n := e.pay.callCount(); n != 1 {
		t.Errorf("PayCard called %d times, want 1", n)
	}
}

// A form sent back with mistakes (no script: the page posted as a page)
// starts its title with "Error: " in the page's language, as GOV.UK's
// forms do, so that a screen reader says it as the page loads; the form
// as first shown has its title alone.
func TestFormWithMistakesTitleSaysError(t *testing.T) {
	e := newEnv(t)
	prefixes := map[string]string{"en": "Error: ", "fr": "Erreur\u00a0: ", "es": "Error: ", "it": "Errore: ", "de": "Fehler: "}
	if len(prefixes) != len(languages) {
		t.Fatalf("test languages %v, page languages %v", prefixes, languages)
	}
	for _, lang := range languages {
		for _, action := range []string{"PAYMENT", "REGISTER"} {
			f := demoForm("m-" + lang + "-" + action)
			f.FormAction = action
			if action == "REGISTER" {
				f.Amount = 0
			}
			e.pay.add(f)
			title := messages[lang]["title"]
			if action == "REGISTER" {
				title = messages[lang]["title_register"]
			}
			want := title + " · " + f.ShopName
			target := "/pay/" + f.FormToken + "?kr-language=" + lang
			if got := pageTitle(e.do(t, "GET", target, nil).Body.String()); got != want {
				t.Errorf("%s %s form: title %q, want %q", lang, action, got, want)
			}
			w := e.do(t, "POST", target, cardValues("4970100000000056", "12/30", "1"))
			if got := pageTitle(w.Body.String()); w.Code != http.StatusUnprocessableEntity || got != prefixes[lang]+want {
				t.Errorf("%s %s form with mistakes: HTTP %d, title %q, want %q", lang, action, w.Code, got, prefixes[lang]+want)
			}
		}
	}
}

// TestChallengeSaysTestOnce: the simulated 3-D Secure page tells the buyer
// once, clearly, that it is a TEST (the TEST-mode notice), not three times
// (notice, badge and title), in every language; and it keeps that notice in
// a frame that hides the TEST banner (kr-hide-debug-toolbar), since the
// page exists only in TEST.
func TestChallengeSaysTestOnce(t *testing.T) {
	e := newEnv(t)
	e.pay.add(demoForm("c"))
	e.pay.add(demoForm("emb"))
	hidden := embeddedURL("emb", "https://shop.example", demoPublicKey) + "&kr-hide-debug-toolbar=true"
	for _, lang := range []string{"en", "fr", "es", "it", "de"} {
		for _, target := range []string{"/pay/c?kr-language=" + lang, hidden + "&kr-language=" + lang} {
			res, _ := e.postJSON(t, target, cardValues("4970110000000021", "12/30", "123"))
			if res.Step != "challenge" {
				t.Fatalf("%s: %+v", target, res)
			}
			body := e.do(t, "POST", res.Action, url.Values{"sealed": {res.Sealed}}).Body.String()
			if n := strings.Count(body, "TEST"); n != 1 || !strings.Contains(body, `class="test-banner"`) {
				t.Errorf("%s: the challenge page says TEST %d times, want once, in the TEST-mode notice\n%s", target, n, body)
			}
		}
	}
}

// TestReloadShowsSettledOutcome: a buyer whose card attempt got no answer
// (the acquirer's came too late, or the outcome could not be confirmed)
// reloads the payment page: while the payment is being processed, the
// page says so, with a link to check again; once recovery settled it, the
// browser that paid reads the outcome as a normal answer would have given
// it (accepted and the return to the shop, or the final refusal), in its
// language. Whoever else opens the link, or a browser whose proof is for
// another form, still reads that the payment was already processed.
func TestReloadShowsSettledOutcome(t *testing.T) {
	for _, accepted := range []bool{true, false} {
		e := newEnv(t)
		e.pay.add(demoForm("u"))
		e.pay.add(demoForm("other"))
		q := "?kr-language=fr&kr-post-url-success=" + url.QueryEscape("https://shop.example/ok") + "&kr-post-url-refused=" + url.QueryEscape("https://shop.example/ko")
		res, w := e.postJSON(t, "/pay/u"+q, cardValues("4970109900000073", "12/30", "123"))
		cookies := w.Result().Cookies()
		if res.Step != "done" || len(cookies) != 1 || cookies[0].Name != attemptCookie || !cookies[0].HttpOnly || cookies[0].Path != "/pay/u" {
			t.Fatalf("pending attempt: %+v, cookies %v", res, cookies)
		}
		if strings.Contains(cookies[0].Value, "0073") {
			t.Fatal("the card in clear in the attempt's proof")
		}
		proof := attemptCookie + "=" + cookies[0].Value
		get := func(target, cookie string) string {
			t.Helper()
			w := e.do(t, "GET", target, nil, "Cookie", cookie)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s: %d", target, w.Code)
			}
			return html.UnescapeString(w.Body.String())
		}
		fr := messages["fr"]
		body := get("/pay/u"+q, proof)
		if !strings.Contains(body, fr["in_progress"]) || !strings.Contains(body, `id="kr-check" class="secondary" href="/pay/u?`) || !strings.Contains(body, fr["check_again"]) {
			t.Fatalf("reload while pending:\n%s", body)
		}
		e.pay.settle(t, "u", accepted)
		body = get("/pay/u"+q, proof)
		if accepted {
			if !strings.Contains(body, fr["accepted"]) || !strings.Contains(body, `id="kr-return" method="post" action="https://shop.example/ok"`) {
				t.Errorf("reload once accepted:\n%s", body)
			}
		} else if !strings.Contains(body, fr["insufficient_funds"]) || !strings.Contains(body, fr["no_attempts"]) ||
			!strings.Contains(body, `action="https://shop.example/ko"`) {
			t.Errorf("reload once refused:\n%s", body)
		}
		for _, c := range []struct{ target, cookie string }{
			{"/pay/u" + q, ""},
			{"/pay/u" + q, attemptCookie + "=v1.forged"},
			{"/pay/other" + q, proof},
		} {
			e.pay.forms["other"].Completed = true
			body := get(c.target, c.cookie)
			if c.target == "/pay/u"+q && !strings.Contains(body, fr["form_completed"]) || strings.Contains(body, "kr-answer") {
				t.Errorf("GET %s with %q shows the outcome:\n%s", c.target, c.cookie, body)
			}
		}
		if n := e.pay.callCount(); n != 1 {
			t.Errorf("%d attempts, want the one", n)
		}
	}
	// The frame keeps no proof: its cookie would be a third party's.
	e := newEnv(t)
	e.pay.add(demoForm("emb"))
	_, w := e.postJSON(t, embeddedURL("emb", "https://shop.example", demoPublicKey), cardValues("4970109900000073", "12/30", "123"))
	if c := w.Result().Cookies(); len(c) != 0 {
		t.Errorf("the embedded form set %v", c)
	}
}
