package ogone_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
)

// FuzzEndpoints sends arbitrary parameters to every Ogone endpoint, raw and
// signed with the demo passphrase (so that what lies behind the signature
// check runs too). Whatever comes in, FlexCheckout answers a page, a
// redirect or the generic error page and DirectLink an ncresponse document:
// never a 500. Its seeds run in every `go test` as the table of bad input.
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
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		res := w.Result()
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s: %d %s", r.Method, r.URL.Path, res.StatusCode, w.Body.String())
		}
		if strings.HasPrefix(r.URL.Path, "/ncol/") {
			if res.StatusCode != 200 {
				t.Fatalf("DirectLink answered HTTP %d", res.StatusCode)
			}
			if r := ncresponse(t, w.Body.Bytes()); r["NCERROR"] == "" || r["STATUS"] == "" {
				t.Fatalf("ncresponse without NCERROR or STATUS: %s", w.Body.String())
			}
		}
	})
}
