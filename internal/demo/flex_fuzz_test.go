package demo

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// FuzzFlexResult comes back to the demo shop's FlexCheckout result page
// (ACCEPTURL) with a correctly signed alias and one more parameter of any
// name and value, as anyone who edits the URL can. The page says "SHA-OUT
// verified." only when the alias it shows, and offers to charge, is the one
// the signature covers; and the same URL always gives the same verdict.
func FuzzFlexResult(f *testing.F) {
	db := storetest.SQLite(f)
	mux := http.NewServeMux()
	New(Options{BaseURL: func() string { return "http://127.0.0.1" }, IPNs: db}).Register(mux)
	for _, s := range [][3]string{
		{"A1b2C3", "basket", "x"}, {"A1b2C3", "Alias_AliasId", "EVIL"}, {"A1b2C3", "alias.aliasid", "EVIL"},
		{"A1b2C3", "Alias.AliasId", "EVIL"}, {"A1b2C3", "SHASIGN", "00"}, {"A1b2C3", "CARD.BRAND", "VISA"}, {"A1b2C3", "lang", "fr"}, {"", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	shown := regexp.MustCompile(`<dd id="alias">([^<]*)</dd>`)
	f.Fuzz(func(t *testing.T, alias, extraName, extraValue string) {
		alias = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, alias)
		if alias == "" {
			alias = "A1"
		}
		signed := map[string]string{"Alias.AliasId": alias, "Alias.Status": "0", "Alias.OrderId": "demo-1"}
		q := url.Values{"SHASign": {ogoneSHA512(signed, shop.DemoSHAPassphrase, func(n string) bool { return shaOutFields[n] })}}
		for k, v := range signed {
			q.Set(k, v)
		}
		target := "/demo/flexcheckout/result?" + q.Encode() + "&" + url.QueryEscape(extraName) + "=" + url.QueryEscape(extraValue)
		var verdict string
		for i := 0; i < 4; i++ {
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
			if w.Code != http.StatusOK {
				t.Fatalf("%s: %d", target, w.Code)
			}
			body := w.Body.String()
			m := shown.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("%s: no alias on the page", target)
			}
			ok := strings.Contains(body, "SHA-OUT verified.")
			if ok && m[1] != alias {
				t.Fatalf("%s: SHA-OUT verified, yet the page shows alias %q, not the signed %q", target, m[1], alias)
			}
			v := m[1] + " " + map[bool]string{true: "verified", false: "refused"}[ok]
			if i > 0 && v != verdict {
				t.Fatalf("%s: %s, then %s", target, verdict, v)
			}
			verdict = v
		}
	})
}
