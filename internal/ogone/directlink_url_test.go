package ogone_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
)

// DirectLink read its parameters from the URL's query string as from the
// POST body: a CARDNO, CVC or PSWD sent in the URL was processed, and the
// URL, card number and password included, is what proxies and web servers
// log. Ingenico's own guidance ("Ensure PCI compliancy") calls a POST with
// the data in the URL non-compliant and the body the only PCI-compliant
// place; ActiveMerchant and the other integrations post every parameter in
// the body. A request with any parameter in its URL is now refused, NCERROR
// 50001111, before anything is read or checked: no payment, no login
// attempt; NCERRORPLUS names the parameters (never their values), and says
// why when one of them is a card number, security code or password.
func TestDirectLinkRefusesParametersInTheURL(t *testing.T) {
	e := newEnv(t)
	const cvc = "123"
	signed := func(order string) url.Values {
		v := url.Values{"PSPID": {pspid}, "USERID": {shop.DemoAPIUser}, "PSWD": {shop.DemoAPIPassword}, "ORDERID": {order},
			"AMOUNT": {"1250"}, "CURRENCY": {"EUR"}, "OPERATION": {"RES"}, "ECI": {"7"}, "CARDNO": {visa}, "ED": {"1232"}, "CVC": {cvc}}
		v.Set("SHASIGN", sign("SHA-512", v, passphrase, nil))
		return v
	}
	// post sends body in the body and inURL (the names of body's
	// parameters to move, written as given) in the URL.
	post := func(page string, body url.Values, inURL ...string) (map[string]string, string) {
		t.Helper()
		q := url.Values{}
		for _, n := range inURL {
			q.Set(n, body.Get(strings.ToUpper(n)))
			body.Del(strings.ToUpper(n))
		}
		u := e.srv.URL + "/ncol/test/" + page
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		resp, err := e.client.Post(u, "application/x-www-form-urlencoded", strings.NewReader(body.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: HTTP %d %s", page, resp.StatusCode, b)
		}
		return ncresponse(t, b), string(b)
	}
	refused := func(what string, r map[string]string, raw string, want ...string) {
		t.Helper()
		if r["NCERROR"] != "50001111" || r["STATUS"] != "0" || r["PAYID"] != "0" {
			t.Errorf("%s: %v, want NCERROR 50001111, STATUS 0", what, r)
		}
		for _, w := range want {
			if !strings.Contains(r["NCERRORPLUS"], w) {
				t.Errorf("%s: NCERRORPLUS %q lacks %q", what, r["NCERRORPLUS"], w)
			}
		}
		for _, secret := range []string{visa, shop.DemoAPIPassword, `"` + cvc + `"`} {
			if strings.Contains(raw, secret) {
				t.Errorf("%s: the answer shows %q:\n%s", what, secret, raw)
			}
		}
	}
	notPaid := func(what, order string) {
		t.Helper()
		if q := e.direct("querydirect_utf8.asp", map[string]string{"ORDERID": order}); q["NCERROR"] != "50001130" {
			t.Errorf("%s: the order was processed: %v", what, q)
		}
	}

	for _, c := range []struct {
		what  string
		inURL []string
		want  []string
	}{
		{"card number in the URL", []string{"CARDNO"}, []string{"CARDNO", "URL", "POST body"}},
		{"security code in the URL", []string{"CVC"}, []string{"CVC", "URL", "POST body"}},
		{"password in the URL", []string{"PSWD"}, []string{"PSWD", "URL", "POST body"}},
		{"lower-case names in the URL", []string{"cardno", "cvc"}, []string{"CARDNO", "CVC"}},
		{"other parameters in the URL", []string{"ORDERID", "AMOUNT"}, []string{"ORDERID", "AMOUNT", "URL", "POST body"}},
		// A card number written as a name is refused, and not echoed.
		{"a card number as a name", []string{visa}, []string{"URL", "POST body"}},
	} {
		order := "URL-" + strings.ReplaceAll(c.what, " ", "-")[:12]
		r, raw := post("orderdirect_utf8.asp", signed(order), c.inURL...)
		refused(c.what, r, raw, c.want...)
		notPaid(c.what, order)
	}
	// Maintenance and query too: the API user's password in the URL.
	pay, _ := post("orderdirect_utf8.asp", signed("URL-OK"))
	if pay["STATUS"] != "5" {
		t.Fatalf("the same order with every parameter in the body: %v, want STATUS 5", pay)
	}
	for _, page := range []string{"maintenancedirect.asp", "querydirect_utf8.asp"} {
		v := url.Values{"PSPID": {pspid}, "USERID": {shop.DemoAPIUser}, "PSWD": {shop.DemoAPIPassword}, "PAYID": {pay["PAYID"]}}
		if page == "maintenancedirect.asp" {
			v.Set("OPERATION", "SAS")
		}
		v.Set("SHASIGN", sign("SHA-512", v, passphrase, nil))
		r, raw := post(page, v, "PSWD")
		refused(page, r, raw, "PSWD")
	}
	if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": pay["PAYID"]}); q["STATUS"] != "5" {
		t.Errorf("the maintenance with its password in the URL was processed: %v", q)
	}
}
