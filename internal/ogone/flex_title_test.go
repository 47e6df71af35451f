package ogone_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

var titleRE = regexp.MustCompile(`(?s)<title>(.*?)</title>`)

func pageTitle(t *testing.T, page string) string {
	t.Helper()
	m := titleRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no title in %s", page)
	}
	return html.UnescapeString(m[1])
}

// The titles of the FlexCheckout pages, in each page language: the error
// page says what is unavailable, with the shop's name once the request is
// known to be the merchant's (signed), as the hosted payment pages do
// ("Title · Shop"); an unsigned request, which anyone can send with any
// PSPID, does not learn the shop's name. A form sent back with mistakes
// starts its title with "Error: ", as GOV.UK does, so that a screen reader
// says it when the page loads.
func TestFlexPageTitles(t *testing.T) {
	e := newEnv(t)
	type want struct{ card, account, form, errPrefix string }
	wants := map[string]want{
		"en": {"Card registration unavailable", "Bank account registration unavailable", "Card details", "Error: "},
		"fr": {"Enregistrement de la carte indisponible", "Enregistrement du compte bancaire indisponible", "Données de la carte", "Erreur\u00a0: "},
		"es": {"Registro de la tarjeta no disponible", "Registro de la cuenta bancaria no disponible", "Datos de la tarjeta", "Error: "},
		"it": {"Registrazione della carta non disponibile", "Registrazione del conto bancario non disponibile", "Dati della carta", "Errore: "},
		"de": {"Kartenregistrierung nicht verfügbar", "Registrierung der Bankverbindung nicht verfügbar", "Kartendaten", "Fehler: "},
		"nl": {"Kaartregistratie niet beschikbaar", "Registratie van de bankrekening niet beschikbaar", "Kaartgegevens", "Fout: "},
	}
	if len(wants) != len(ogone.Languages) {
		t.Fatalf("test languages %d, page languages %v", len(wants), ogone.Languages)
	}
	suffix := " · " + shop.DemoShopName
	for _, lang := range ogone.Languages {
		w := wants[lang]
		locale := lang + "_XX"
		// Unsigned: the generic page, no shop name.
		p := e.flexParams(map[string]string{"LAYOUT.LANGUAGE": locale})
		p.Set("SHASIGNATURE.SHASIGN", strings.Repeat("0", 128))
		resp, page := e.get(e.srv.URL + ogone.FlexCheckoutPath + "?" + p.Encode())
		if resp.StatusCode != http.StatusBadRequest || pageTitle(t, page) != w.card {
			t.Errorf("%s unsigned: HTTP %d, title %q, want %q", lang, resp.StatusCode, pageTitle(t, page), w.card)
		}
		if strings.Contains(page, shop.DemoShopName) {
			t.Errorf("%s unsigned: the shop's name on the page", lang)
		}
		// Signed but invalid (a template that does not exist): the shop's name.
		_, page = e.get(e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": locale, "LAYOUT.TEMPLATENAME": "none.html"})))
		if got := pageTitle(t, page); got != w.card+suffix {
			t.Errorf("%s signed error: title %q, want %q", lang, got, w.card+suffix)
		}
		_, page = e.get(e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": locale, "CARD.PAYMENTMETHOD": "DirectDebits DE",
			"LAYOUT.TEMPLATENAME": "none.html"})))
		if got := pageTitle(t, page); got != w.account+suffix {
			t.Errorf("%s signed direct debit error: title %q, want %q", lang, got, w.account+suffix)
		}
		// The form, then the form with mistakes.
		action, page := e.open(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": locale}))
		if got := pageTitle(t, page); got != w.form+suffix {
			t.Errorf("%s form: title %q, want %q", lang, got, w.form+suffix)
		}
		bad := cardForm(visa)
		bad.Set("CVC", "1")
		resp, page = e.post(action, bad)
		if got := pageTitle(t, page); resp.StatusCode != http.StatusOK || got != w.errPrefix+w.form+suffix {
			t.Errorf("%s form with mistakes: HTTP %d, title %q, want %q", lang, resp.StatusCode, got, w.errPrefix+w.form+suffix)
		}
		// A page session that is over: the error page of the session's shop.
		e.clock.Advance(31 * time.Minute)
		resp, page = e.post(action, cardForm(visa))
		if got := pageTitle(t, page); resp.StatusCode != http.StatusGone || got != w.card+suffix {
			t.Errorf("%s expired session: HTTP %d, title %q, want %q", lang, resp.StatusCode, got, w.card+suffix)
		}
	}
}

// A merchant template keeps its own title; after mistakes it starts with
// "Error: " in the page language too.
func TestFlexTemplateTitleAfterMistakes(t *testing.T) {
	e := newEnv(t)
	tpl := `<!DOCTYPE html><html><head><title>Boutique Exemple</title></head><body>$$$PAYMENT ZONE$$$</body></html>`
	if _, err := e.admin.UploadTemplate(t.Context(), shop.DemoShopID, "t.html", []byte(tpl)); err != nil {
		t.Fatal(err)
	}
	action, page := e.open(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "fr_FR", "LAYOUT.TEMPLATENAME": "t.html"}))
	if got := pageTitle(t, page); got != "Boutique Exemple" {
		t.Fatalf("template title %q", got)
	}
	bad := cardForm("4111111111111112")
	_, page = e.post(action, bad)
	if got := pageTitle(t, page); got != "Erreur\u00a0: Boutique Exemple" {
		t.Fatalf("template title after mistakes %q", got)
	}
}
