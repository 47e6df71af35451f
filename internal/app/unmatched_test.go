package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// unmatchedServer boots the whole app (demo on, as in development) behind a
// real HTTP server on 127.0.0.1.
func unmatchedServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(testApp(t, map[string]string{"OPENPSP_DEMO": "true"}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	header http.Header
	body   string
}

func call(t *testing.T, srv *httptest.Server, method, path, lang, contentType, body string) answer {
	t.Helper()
	return callURL(t, srv.URL, method, path, lang, contentType, body)
}

// callURL is call to the app served at base (scheme://host:port).
func callURL(t *testing.T, base, method, path, lang, contentType, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// The page texts, as a buyer reads them (French: no-break space before
// the colon, typographic apostrophe).
var (
	notFoundText = map[string]string{
		"en": "No page exists at this address: check it or return to the shop.",
		"fr": "Aucune page n’existe à cette adresse\u00a0: vérifiez-la ou retournez sur la boutique.",
		"es": "No existe ninguna página en esta dirección: compruébela o vuelva a la tienda.",
		"it": "Non esiste alcuna pagina a questo indirizzo: lo controlli o torni al negozio.",
		"de": "Unter dieser Adresse gibt es keine Seite: Prüfen Sie sie oder kehren Sie zum Shop zurück.",
	}
	methodText = map[string]string{
		"en": "This page cannot be opened this way: return to the shop and try again.",
		"fr": "Cette page ne s’ouvre pas de cette façon\u00a0: retournez sur la boutique et réessayez.",
		"es": "Esta página no se puede abrir de esta forma: vuelva a la tienda e inténtelo de nuevo.",
		"it": "Questa pagina non può essere aperta in questo modo: torni al negozio e riprovi.",
		"de": "Diese Seite kann so nicht geöffnet werden: Kehren Sie zum Shop zurück und versuchen Sie es erneut.",
	}
)

func wantPage(t *testing.T, what string, got answer, status int, lang, text string) {
	t.Helper()
	if got.status != status {
		t.Errorf("%s: status %d, want %d", what, got.status, status)
	}
	if ct := got.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("%s: Content-Type %q, want the HTML message page: %q", what, ct, got.body)
		return
	}
	if got.header.Get("Content-Security-Policy") == "" {
		t.Errorf("%s: no Content-Security-Policy on the page", what)
	}
	if !strings.Contains(got.body, `<html lang="`+lang+`"`) || !strings.Contains(got.body, `data-page="message"`) {
		t.Errorf("%s: not the %s message page:\n%s", what, lang, got.body)
	}
	if !strings.Contains(got.body, text) {
		t.Errorf("%s: the page does not say %q:\n%s", what, text, got.body)
	}
}

// A browser landing on an address nothing serves reads the payment pages'
// message page in its language, with the status 404; a wrong method keeps
// 405 and its Allow header. Before, both were the mux's text/plain "404
// page not found" / "Method Not Allowed".
func TestUnmatchedPathsAnswerTheMessagePage(t *testing.T) {
	srv := unmatchedServer(t)
	langs := []struct{ header, lang string }{
		{"fr-FR,fr;q=0.9,en;q=0.8", "fr"}, {"es", "es"}, {"it-IT", "it"}, {"de-DE,de;q=0.9", "de"}, {"", "en"}, {"nl", "en"},
	}
	paths := []string{"/nope", "/pay", "/pay/", "/demo/nope", "/ncol/test/nope.asp", "/metricsx", "/embedded/a/b/c"}
	for i, p := range paths {
		l := langs[i%len(langs)]
		wantPage(t, "GET "+p, call(t, srv, http.MethodGet, p, l.header, "", ""), http.StatusNotFound, l.lang, notFoundText[l.lang])
	}
	for _, l := range langs {
		got := call(t, srv, http.MethodGet, "/Tokenization/HostedPage/x", l.header, "", "")
		wantPage(t, "GET /Tokenization/HostedPage/x ("+l.lang+")", got, http.StatusMethodNotAllowed, l.lang, methodText[l.lang])
		if a := got.header.Get("Allow"); a != "POST" {
			t.Errorf("GET /Tokenization/HostedPage/x: Allow %q, want POST", a)
		}
	}
	got := call(t, srv, http.MethodDelete, "/demo/checkout", "it", "", "")
	wantPage(t, "DELETE /demo/checkout", got, http.StatusMethodNotAllowed, "it", methodText["it"])
	if a := got.header.Get("Allow"); a != "POST" {
		t.Errorf("DELETE /demo/checkout: Allow %q, want POST", a)
	}
}

// Machines keep their answers: the probes and metrics answer as before, and
// any address under /api-payment/ answers a V4 error as an unknown V4 web
// service does.
func TestUnmatchedMachinePathsKeepTheirFormat(t *testing.T) {
	srv := unmatchedServer(t)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		got := call(t, srv, http.MethodPost, p, "fr", "", "")
		if got.status != http.StatusMethodNotAllowed || !strings.HasPrefix(got.header.Get("Content-Type"), "text/plain") ||
			!strings.Contains(got.header.Get("Allow"), "GET") {
			t.Errorf("POST %s: %d %q Allow %q, want the plain 405", p, got.status, got.header.Get("Content-Type"), got.header.Get("Allow"))
		}
	}
	if got := call(t, srv, http.MethodGet, "/metrics", "fr", "", ""); got.status != http.StatusOK || !strings.HasPrefix(got.header.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /metrics: %d %q", got.status, got.header.Get("Content-Type"))
	}
	v4 := func(method, path, wantCode string) {
		t.Helper()
		got := call(t, srv, method, path, "fr", "application/json", "{}")
		var env struct {
			Status string `json:"status"`
			Answer struct {
				ErrorCode string `json:"errorCode"`
			} `json:"answer"`
		}
		if got.status != http.StatusOK || !strings.HasPrefix(got.header.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(got.body), &env) != nil {
			t.Errorf("%s %s: %d %q %s, want a V4 JSON answer", method, path, got.status, got.header.Get("Content-Type"), got.body)
			return
		}
		if env.Status != "ERROR" || env.Answer.ErrorCode != wantCode {
			t.Errorf("%s %s: %s %s, want ERROR %s: %s", method, path, env.Status, env.Answer.ErrorCode, wantCode, got.body)
		}
	}
	for _, p := range []string{"/api-payment/V4/Charge/Nope", "/api-payment/nope", "/api-payment/V3/Charge/CreatePayment", "/api-payment/", "/api-payment/v4/Charge/CreatePayment", "/api-payment/Charge/CreatePayment"} {
		v4(http.MethodPost, p, "INT_901")
	}
	for _, p := range []string{"/api-payment/V4/Charge/Nope", "/api-payment/V3/Charge/CreatePayment"} {
		v4(http.MethodGet, p, "INT_902")
	}
}

// The demo shop's errors a browser reads are the message page in the
// shop's language (?lang=, the form's lang) or the browser's; its IPN
// endpoint, which a server calls, keeps plain text.
func TestDemoErrorsAnswerTheMessagePage(t *testing.T) {
	srv := unmatchedServer(t)
	form := "application/x-www-form-urlencoded"
	got := call(t, srv, http.MethodPost, "/demo/checkout", "en", form, url.Values{"product": {"nope"}, "lang": {"fr"}}.Encode())
	wantPage(t, "unknown product", got, http.StatusBadRequest, "fr", "Le formulaire n’a pas pu être lu.")
	got = call(t, srv, http.MethodPost, "/demo/checkout", "de", form, "product=nope")
	wantPage(t, "unknown product, no lang", got, http.StatusBadRequest, "de", "Das Formular konnte nicht gelesen werden.")
	got = call(t, srv, http.MethodPost, "/demo/return?lang=es", "en", form, "kr-answer=%zz")
	wantPage(t, "unreadable return", got, http.StatusBadRequest, "es", "No se ha podido leer el formulario.")
	got = call(t, srv, http.MethodPost, "/demo/ipn", "fr", form, "kr-answer=%zz")
	if got.status != http.StatusBadRequest || !strings.HasPrefix(got.header.Get("Content-Type"), "text/plain") {
		t.Errorf("unreadable IPN: %d %q, want plain text for the server that posts it", got.status, got.header.Get("Content-Type"))
	}
}

// A missing file under a registered static route (the pages' assets,
// FlexCheckout's, the demo's) and the other "not found" answers of the
// routes themselves (a demo mailbox message that does not exist, an
// unknown DirectLink environment) were Go's text/plain "404 page not
// found", while an address no route takes was the message page: they are
// the message page too, in the browser's language, with the status 404.
// A stylesheet or script load reads the same answer: no browser shows it,
// and with nosniff neither text/html nor text/plain is run or applied.
func TestRoutesNotFoundAnswerTheMessagePage(t *testing.T) {
	srv := unmatchedServer(t)
	langs := []struct{ header, lang string }{{"fr-FR,fr;q=0.9", "fr"}, {"it", "it"}, {"de", "de"}, {"es", "es"}, {"", "en"}}
	for i, p := range []string{
		"/static/hosted/nope.css", "/static/hosted/nope.js", "/static/hosted/page.html",
		"/static/js/krypton-client/V4.0/ext/x.html", "/Tokenization/static/nope.css", "/Tokenization/static/", "/demo/static/",
		"/demo/static/nope.css", "/demo/mail/nope", "/demo/mail/a/b", "/ncol/nope/orderdirect.asp",
	} {
		l := langs[i%len(langs)]
		wantPage(t, "GET "+p, call(t, srv, http.MethodGet, p, l.header, "", ""), http.StatusNotFound, l.lang, notFoundText[l.lang])
	}
	// The files themselves are still served.
	for _, p := range []string{"/static/hosted/form.css", "/Tokenization/static/flex.css", "/demo/static/demo.css"} {
		if got := call(t, srv, http.MethodGet, p, "fr", "", ""); got.status != http.StatusOK || !strings.HasPrefix(got.header.Get("Content-Type"), "text/css") {
			t.Errorf("GET %s: %d %q", p, got.status, got.header.Get("Content-Type"))
		}
	}
}
