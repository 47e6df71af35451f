package ogone_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

// FuzzEndpoints sends arbitrary parameters to every Ogone endpoint, raw and
// signed with the demo passphrase (so that what lies behind the signature
// check runs too). Whatever comes in, FlexCheckout answers a page, a
// redirect or the generic error page and DirectLink an ncresponse document:
// never a 500. A FlexCheckout page is HTML in one of its languages, a
// redirect says where to; a request refused outright (an error page, or
// DirectLink STATUS 0) writes no payment, transaction, alias or order.
// Its seeds run in every `go test` as the table of bad input.
// flexPageLanguage is the language a FlexCheckout page declares.
var flexPageLanguage = regexp.MustCompile(`<html[^>]* lang="([^"]*)"`)

// rowCounts counts the rows a payment, an alias or an order leaves behind.
func (e *env) rowCounts(t *testing.T) map[string]int {
	counts := map[string]int{}
	for _, table := range []string{"payments", "transactions", "tokens", "ogone_orders", "ogone_alias_orders", "outbox"} {
		var n int
		if err := e.db.Reader().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		counts[table] = n
	}
	return counts
}

func FuzzEndpoints(f *testing.F) {
	e := newEnv(f)
	action, _ := e.open(e.flexParams(nil))
	mux := http.NewServeMux()
	e.h.Register(mux)

	seeds := []string{
		"", "a=%zz", "=x", "a=1&A=2", "ACCOUNT.PSPID=" + pspid, "ACCOUNT.PSPID=" + strings.Repeat("p", 31),
		"CARD.BRAND=VISA&PARAMETERS.ACCEPTURL=https://a.example/&PARAMETERS.EXCEPTIONURL=https://a.example/",
		"CARD.PAYMENTMETHOD=CreditCard&PARAMETERS.ACCEPTURL=ftp://x&PARAMETERS.EXCEPTIONURL=https://a/",
		"CARD.PAYMENTMETHOD=DirectDebit&PARAMETERS.ACCEPTURL=https://a/&PARAMETERS.EXCEPTIONURL=https://a/",
		"CARD.BRAND=VISA&PARAMETERS.ACCEPTURL=https://a/&PARAMETERS.EXCEPTIONURL=https://a/&LAYOUT.TEMPLATENAME=x.html",
		"CARD.BRAND=VISA&PARAMETERS.ACCEPTURL=https://a/&PARAMETERS.EXCEPTIONURL=https://a/&PARAMETERS.EXCLUDEDPAYMENTMETHODS=VISA",
		"SHASIGNATURE.SHASIGN=%C3%A9&ACCOUNT.PSPID=" + pspid, "x=%00", "x=%ff",
		"CARDNO=4111111111111111&CN=a&EXPM=13&EXPY=2032&CVC=12345", "CARDNO=&CN=&EXPM=&EXPY=&CVC=", "IBAN=DE00&HOLDER=x",
		"ORDERID=1&AMOUNT=100&CURRENCY=EUR&ALIAS=x", "ORDERID=1&AMOUNT=-1&CURRENCY=EUR", "ORDERID=1&AMOUNT=99999999999999999999&CURRENCY=EUR&CARDNO=4111111111111111&ED=1299",
		"PAYID=abc&OPERATION=SAS", "PAYID=99999999999999999999&OPERATION=RFD&AMOUNT=1", "ORDERID=none&PAYIDSUB=x",
		"ORDERID=1&AMOUNT=100&CURRENCY=KWD&OPERATION=SAL&CARDNO=4970100000000055&ED=12/2032&CVC=123",
	}
	for i, s := range seeds {
		for target := range 8 {
			f.Add(uint8(target), i%2 == 0, s)
		}
	}
	// A DirectLink payment that goes through, so that the fuzzer starts
	// from the paths that write.
	for _, target := range []uint8{3, 4} {
		f.Add(target, true, "ORDERID=S-1&AMOUNT=1250&CURRENCY=EUR&OPERATION=SAL&ECI=9&CARDNO=4970100000000055&ED=12/32&CVC=123&CN=J+D")
	}
	f.Fuzz(func(t *testing.T, target uint8, signed bool, raw string) {
		if len(raw) > 4096 {
			return
		}
		body := raw
		if signed {
			v, err := url.ParseQuery(raw)
			if err != nil {
				return
			}
			if target%8 < 3 {
				v.Set("ACCOUNT.PSPID", pspid)
				v.Set("SHASIGNATURE.SHASIGN", sign("SHA-512", v, passphrase, nil))
			} else {
				v.Set("PSPID", pspid)
				v.Set("USERID", shop.DemoAPIUser)
				v.Set("PSWD", shop.DemoAPIPassword)
				v.Set("SHASIGN", sign("SHA-512", v, passphrase, nil))
			}
			body = v.Encode()
		}
		var r *http.Request
		switch target % 8 {
		case 0:
			r = httptest.NewRequest("GET", "/Tokenization/HostedPage", nil)
			r.URL.RawQuery = body
		case 1:
			r = httptest.NewRequest("POST", "/Tokenization/HostedPage", strings.NewReader(body))
		case 2:
			r = httptest.NewRequest("POST", action, strings.NewReader(body))
		case 3:
			r = httptest.NewRequest("POST", "/ncol/test/orderdirect_utf8.asp", strings.NewReader(body))
		case 4:
			r = httptest.NewRequest("POST", "/ncol/test/orderdirect.asp", strings.NewReader(body))
		case 5:
			r = httptest.NewRequest("POST", "/ncol/test/maintenancedirect.asp", strings.NewReader(body))
		case 6:
			r = httptest.NewRequest("POST", "/ncol/test/querydirect_utf8.asp", strings.NewReader(body))
		default:
			r = httptest.NewRequest("POST", action+"/cancel", strings.NewReader(body))
		}
		if r.Method == "POST" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		before := e.rowCounts(t)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		res := w.Result()
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s: %d %s", r.Method, r.URL.Path, res.StatusCode, w.Body.String())
		}
		refused, ignored := res.StatusCode >= 400, ""
		if strings.HasPrefix(r.URL.Path, "/ncol/") {
			if res.StatusCode != 200 {
				t.Fatalf("DirectLink answered HTTP %d", res.StatusCode)
			}
			nc := ncresponse(t, w.Body.Bytes())
			if nc["NCERROR"] == "" || nc["STATUS"] == "" {
				t.Fatalf("ncresponse without NCERROR or STATUS: %s", w.Body.String())
			}
			refused = nc["STATUS"] == "0"
			if refused && nc["PAYID"] != "0" {
				// Refused with a PAYID: the order was recorded as invalid
				// (STATUS 0) on purpose, so that it can be queried; nothing
				// else may be.
				ignored = "ogone_orders"
			}
		} else if res.StatusCode >= 300 && res.StatusCode < 400 {
			if res.Header.Get("Location") == "" {
				t.Fatalf("%s %s: redirect %d without Location", r.Method, r.URL.Path, res.StatusCode)
			}
		} else {
			lang := flexPageLanguage.FindStringSubmatch(w.Body.String())
			if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || lang == nil || !slices.Contains(ogone.Languages, lang[1]) {
				t.Fatalf("%s %s %q: HTTP %d %q is not a page in a FlexCheckout language: %.300s",
					r.Method, r.URL.Path, body, res.StatusCode, res.Header.Get("Content-Type"), w.Body.String())
			}
		}
		after := e.rowCounts(t)
		delete(before, ignored)
		delete(after, ignored)
		if refused && !maps.Equal(before, after) {
			t.Fatalf("%s %s %q refused but wrote rows: %v → %v", r.Method, r.URL.Path, body, before, after)
		}
	})
}
