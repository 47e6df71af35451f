package app

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

// The demo shop charges the card a buyer has just saved on FlexCheckout
// while that buyer is on its page: a first payment the buyer starts, ECI 7
// (e-commerce), not 9 (recurring e-commerce, the later payments with the
// alias without the buyer). The whole app runs on loopback: the demo's
// DirectLink order reaches the real orderdirect, whose answer (shown on
// the demo page) gives the ECI applied.
func TestDemoChargesAJustSavedCardAsECommerce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	a := testApp(t, map[string]string{"OPENPSP_DEMO": "true", "OPENPSP_PUBLIC_URL": base})
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	// The card saved under an alias, as FlexCheckout would (here with a
	// DirectLink order that stores it).
	order := url.Values{"PSPID": {shop.DemoPSPID}, "USERID": {shop.DemoAPIUser}, "PSWD": {shop.DemoAPIPassword},
		"ORDERID": {"eci-save-1"}, "AMOUNT": {"100"}, "CURRENCY": {"EUR"}, "OPERATION": {"RES"}, "ECI": {"7"},
		"CARDNO": {"5100010000002045"}, "ED": {"1233"}, "CVC": {"123"}, "ALIAS": {"demo-eci"}}
	order.Set("SHASIGN", sha512In(t, order, shop.DemoSHAPassphrase))
	resp, err := http.PostForm(base+"/ncol/test/orderdirect_utf8.asp", order)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `STATUS="5"`) || !strings.Contains(string(b), `ALIAS="demo-eci"`) {
		t.Fatalf("saving the card: %s", b)
	}

	resp, err = http.PostForm(base+"/demo/flexcheckout/charge", url.Values{"alias": {"demo-eci"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if !strings.Contains(page, `id="dl-status">9<`) {
		t.Fatalf("the demo's charge was not paid:\n%s", page)
	}
	if !strings.Contains(page, "ECI=&#34;7&#34;") {
		t.Fatalf("the demo's charge of a just-saved card is not ECI 7 (e-commerce):\n%s", page)
	}
}

// sha512In is the SHA-IN of a DirectLink request, SHA-512 as the demo
// PSPID has it.
func sha512In(t *testing.T, v url.Values, pass string) string {
	t.Helper()
	var ps ogone.Params
	for k := range v {
		ps = append(ps, ogone.Param{Name: k, Value: v.Get(k)})
	}
	d, err := ogone.Digest(ogone.SHA512, []byte(ogone.ComposeSHA(ps, pass, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
