package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
)

// Behind a reverse proxy r.RemoteAddr is the proxy: failed logins were
// logged with the proxy's address, and a buyer's payment recorded no
// address at all. With OPENPSP_TRUSTED_PROXIES naming the proxy (here the
// loopback address the test client comes from), the address the proxy
// puts in X-Forwarded-For is the client's: it is logged for failed V4 and
// DirectLink logins, and a hosted payment records the buyer's address in
// customer.extraDetails.ipAddress unless the merchant sent one.
func TestClientAddressBehindATrustedProxy(t *testing.T) {
	s := startServer(t, serverOpts{env: map[string]string{"OPENPSP_TRUSTED_PROXIES": "127.0.0.1/32, ::1/128"}})
	const buyer = "198.51.100.23"
	// payHosted pays a new payment on the hosted page and returns its V4
	// answer (the kr-answer and IPN payload), read back from the database.
	payHosted := func(orderID string, customer map[string]any) map[string]any {
		t.Helper()
		env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 1500, "currency": "EUR", "orderId": orderID, "customer": customer})
		formToken, _ := answer(env)["formToken"].(string)
		req, _ := http.NewRequest("POST", s.URL+"/pay/"+formToken+"?kr-language=en",
			strings.NewReader(url.Values{"pan": {"4970100000000055"}, "expiry": {"12/" + futureExpiry()[2:]}, "csc": {"123"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Origin", s.URL)
		// What the buyer claims, then what the proxy saw.
		req.Header.Set("X-Forwarded-For", "203.0.113.250, "+buyer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		stored, err := s.Payments.PaymentForToken(context.Background(), formToken)
		if err != nil {
			t.Fatal(err)
		}
		b, err := payment.Answer(stored, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ipOf := func(p map[string]any) any {
		c, _ := p["customer"].(map[string]any)
		x, _ := c["extraDetails"].(map[string]any)
		return x["ipAddress"]
	}

	p := payHosted("clientip-1", map[string]any{"email": "a@example.com"})
	if p["orderStatus"] != "PAID" || ipOf(p) != buyer {
		t.Fatalf("hosted payment: orderStatus %v, customer.extraDetails.ipAddress %v, want %s", p["orderStatus"], ipOf(p), buyer)
	}
	// The merchant's own value is kept.
	p = payHosted("clientip-2", map[string]any{"email": "a@example.com", "extraDetails": map[string]any{"ipAddress": "192.0.2.44"}})
	if p["orderStatus"] != "PAID" || ipOf(p) != "192.0.2.44" {
		t.Fatalf("the merchant's customer.extraDetails.ipAddress became %v (%v)", ipOf(p), p["orderStatus"])
	}

	call := func(path string, body url.Values, user, pw string) {
		t.Helper()
		req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(body.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", buyer)
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	call("/api-payment/V4/Charge/SDKTest", nil, shop.DemoShopID, "wrong-password")
	// querydirect needs no SHASIGN: the password is what is checked.
	call("/ncol/test/querydirect.asp", url.Values{"PSPID": {shop.DemoPSPID}, "USERID": {shop.DemoAPIUser}, "PSWD": {"wrong"},
		"ORDERID": {"clientip-1"}}, "", "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		logs := s.Logs.String()
		v4ok := strings.Contains(logs, `"surface":"v4","login":"`+shop.DemoShopID+`","remote":"`+buyer+`"`)
		dlok := strings.Contains(logs, `"surface":"directlink","login":"`+shop.DemoPSPID+"/"+shop.DemoAPIUser+`","remote":"`+buyer+`"`)
		if v4ok && dlok {
			break
		}
		if time.Now().After(deadline) {
			var lines []string
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, `"surface"`) {
					lines = append(lines, l)
				}
			}
			t.Fatalf("failed logins not logged with the client's address (v4 %v, directlink %v):\n%s", v4ok, dlok, strings.Join(lines, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Behind a proxy that writes RFC 7239 Forwarded
// (OPENPSP_FORWARDED_HEADER=forwarded) the client's address is its for=
// node, and an X-Forwarded-For the client wrote is not read: a failed
// login is logged with the Forwarded address, never the forged one.
func TestClientAddressFromForwarded(t *testing.T) {
	s := startServer(t, serverOpts{env: map[string]string{"OPENPSP_TRUSTED_PROXIES": "127.0.0.1/32, ::1/128",
		"OPENPSP_FORWARDED_HEADER": "forwarded"}})
	const client, forged = "2001:db8::23", "203.0.113.250"
	req, _ := http.NewRequest("POST", s.URL+"/api-payment/V4/Charge/SDKTest", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", forged)
	req.Header.Set("Forwarded", `for="[`+client+`]:4711";proto=https`)
	req.SetBasicAuth(shop.DemoShopID, "wrong-password")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := `"surface":"v4","login":"` + shop.DemoShopID + `","remote":"` + client + `"`
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.Logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("failed login not logged with the Forwarded address %s:\n%s", client, s.Logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(s.Logs.String(), forged) {
		t.Errorf("the forged X-Forwarded-For %s is in the logs", forged)
	}
}
