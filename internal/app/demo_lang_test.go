package app

import (
	"net/http"
	"strings"
	"testing"
)

// The demo shop picks the buyer's language (the payment form's, and the
// price format) as the payment pages do: ?lang= as a language tag in any
// of its spellings (fr-FR, de_DE, IT), else the browser's Accept-Language,
// else English; its own error page, the payment pages' message page,
// already did, so both agree. Its links keep the language.
func TestDemoHonoursTheBuyersLanguage(t *testing.T) {
	srv := unmatchedServer(t)
	for _, c := range []struct{ query, accept, want string }{
		{"?lang=fr", "", "fr"},
		{"?lang=fr-FR", "", "fr"},
		{"?lang=de_DE", "", "de"},
		{"?lang=IT", "", "it"},
		{"", "es-ES,es;q=0.9,en;q=0.5", "es"},
		{"?lang=nl", "de", "de"},
		{"?lang=fr", "de", "fr"},
		{"", "", "en"},
	} {
		// The payment pages' choice, as the demo's error page shows it.
		bad := call(t, srv, http.MethodPost, "/demo/return"+c.query, c.accept, "application/x-www-form-urlencoded", "kr-answer=%zz")
		if !strings.Contains(bad.body, `<html lang="`+c.want+`"`) {
			t.Fatalf("%q, Accept-Language %q: the payment pages do not choose %s:\n%.300s", c.query, c.accept, c.want, bad.body)
		}
		shop := call(t, srv, http.MethodGet, "/demo"+c.query, c.accept, "", "")
		if !strings.Contains(shop.body, `<option value="`+c.want+`" selected>`) || strings.Count(shop.body, " selected>") != 3 {
			t.Errorf("/demo%s, Accept-Language %q: the payment form's language is not %s", c.query, c.accept, c.want)
		}
		for _, link := range []string{`href="/demo?lang=` + c.want + `"`, `href="/demo/ipn?lang=` + c.want + `"`} {
			if ipn := call(t, srv, http.MethodGet, "/demo/ipn"+c.query, c.accept, "", ""); !strings.Contains(ipn.body, link) {
				t.Errorf("/demo/ipn%s, Accept-Language %q: no link %s", c.query, c.accept, link)
			}
		}
		flex := call(t, srv, http.MethodGet, "/demo/flexcheckout"+c.query, c.accept, "", "")
		if lyra := map[string]string{"en": "en_US", "fr": "fr_FR", "es": "es_ES", "it": "it_IT", "de": "de_DE"}[c.want]; !strings.Contains(flex.body, "LAYOUT.LANGUAGE="+lyra) {
			t.Errorf("/demo/flexcheckout%s, Accept-Language %q: FlexCheckout not asked for %s", c.query, c.accept, lyra)
		}
	}
}
