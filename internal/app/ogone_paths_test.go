package app

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
)

// Ingenico's pages are served by IIS, which ignores the case of a path, so
// merchants' code reaches them under other spellings: a PostFinance
// integration posts to https://e-payment.postfinance.ch/Ncol/Test/orderdirect.asp,
// node-concardis (lib/hosted/Url.js) opens FlexCheckout at
// …/Tokenization/HostedPage/?… (endpoint + "/?" + query). Changing only the
// base URL, they must reach the same pages here.
func TestOgonePagesAnswerUnderAnyCaseAndHostedPageSlash(t *testing.T) {
	srv := unmatchedServer(t)
	for _, p := range []string{"/Ncol/Test/orderdirect.asp", "/NCOL/TEST/OrderDirect_UTF8.asp", "/ncol/Test/querydirect.asp",
		"/ncol/test/MaintenanceDirect.asp"} {
		got := call(t, srv, http.MethodPost, p, "", "application/x-www-form-urlencoded", "PSPID=nobody")
		if got.status != http.StatusOK || !strings.HasPrefix(got.header.Get("Content-Type"), "text/xml") ||
			!strings.Contains(got.body, `NCERROR="50001118"`) {
			t.Errorf("POST %s: %d %q %s, want the ncresponse of an unknown PSPID", p, got.status, got.header.Get("Content-Type"), got.body)
		}
	}
	flex := url.Values{"ACCOUNT.PSPID": {shop.DemoPSPID}, "CARD.PAYMENTMETHOD": {"CreditCard"},
		"PARAMETERS.ACCEPTURL": {"https://shop.example/ok"}, "PARAMETERS.EXCEPTIONURL": {"https://shop.example/nok"}}
	flex.Set("SHASIGNATURE.SHASIGN", sha512In(t, flex, shop.DemoSHAPassphrase))
	for _, p := range []string{"/Tokenization/HostedPage/", "/tokenization/hostedpage", "/TOKENIZATION/HOSTEDPAGE/"} {
		got := call(t, srv, http.MethodGet, p+"?"+flex.Encode(), "", "", "")
		if got.status != http.StatusOK || !strings.Contains(got.body, `name="CARDNO"`) {
			t.Errorf("GET %s: %d, want the card form:\n%.300s", p, got.status, got.body)
		}
	}
	// Other addresses stay unknown.
	for _, p := range []string{"/ncol/nope/orderdirect.asp", "/Ncol/Test/nope.asp", "/Tokenization/HostedPageX"} {
		if got := call(t, srv, http.MethodPost, p, "", "", ""); got.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", p, got.status)
		}
	}
}
