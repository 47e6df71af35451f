package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
)

// createForm makes a payment of the demo shop through V4 and returns its formToken.
func createForm(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/api-payment/V4/Charge/CreatePayment",
		strings.NewReader(`{"amount":1000,"currency":"EUR","orderId":"hardening"}`))
	req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Answer struct {
			FormToken string `json:"formToken"`
		} `json:"answer"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Answer.FormToken == "" {
		t.Fatalf("CreatePayment: %v %+v", err, env)
	}
	return env.Answer.FormToken
}

// htmlPages are pages a browser shows, of every part of the program.
func htmlPages(formToken string) []string {
	q := url.Values{"kr-public-key": {shop.DemoTestPublicKey}, "origin": {"https://merchant.example"}}
	return []string{"/demo", "/demo/flexcheckout", "/demo/ipn", "/demo/mail", "/demo/return",
		"/pay/" + formToken, "/embedded/" + formToken + "?" + q.Encode(), "/pay/unknown-token", "/nowhere",
		"/Tokenization/HostedPage?ACCOUNT.PSPID=nobody"}
}

var scriptSrc = regexp.MustCompile(`(?:^|;)\s*(?:script-src|default-src)[^;]*`)

// Every HTML page carries a Content-Security-Policy that allows no inline
// script, says who may frame it, and nosniff and a Referrer-Policy; served
// over https, every answer carries Strict-Transport-Security, and never
// over plain http (where browsers ignore it and it would only pin a
// development host).
func TestSecurityHeaders(t *testing.T) {
	for _, public := range []string{"", "https://pay.example.test"} {
		srv := httptest.NewServer(testApp(t, map[string]string{"OPENPSP_DEMO": "true", "OPENPSP_PUBLIC_URL": public}).Handler())
		t.Cleanup(srv.Close)
		ft := createForm(t, srv)
		for _, p := range append(htmlPages(ft), "/healthz", "/api-payment/V4/Charge/SDKTest") {
			a := call(t, srv, "GET", p, "en", "", "")
			hsts := a.header.Get("Strict-Transport-Security")
			if public == "" && hsts != "" {
				t.Errorf("%s over plain http has Strict-Transport-Security %q", p, hsts)
			}
			if public != "" && !strings.Contains(hsts, "max-age=31536000") {
				t.Errorf("%s served as %s has no Strict-Transport-Security", p, public)
			}
			if !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
				continue
			}
			csp := a.header.Get("Content-Security-Policy")
			for _, d := range scriptSrc.FindAllString(csp, -1) {
				if strings.Contains(d, "unsafe-inline") || strings.Contains(d, "unsafe-eval") {
					t.Errorf("%s allows inline scripts: %s", p, csp)
				}
			}
			if !strings.Contains(csp, "frame-ancestors") || !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("%s: Content-Security-Policy %q", p, csp)
			}
			if a.header.Get("X-Content-Type-Options") != "nosniff" || a.header.Get("Referrer-Policy") == "" {
				t.Errorf("%s: X-Content-Type-Options %q, Referrer-Policy %q", p, a.header.Get("X-Content-Type-Options"), a.header.Get("Referrer-Policy"))
			}
			// The embedded form and FlexCheckout live in the merchant's
			// iframe; the demo's FlexCheckout result page is framed by the
			// demo itself.
			embedded := strings.HasPrefix(p, "/embedded/") || strings.HasPrefix(p, "/Tokenization/")
			if framed := !strings.Contains(csp, "frame-ancestors 'none'"); framed != embedded {
				t.Errorf("%s: frame-ancestors of %q (only the embedded form may be framed by any page)", p, csp)
			}
		}
	}
}

// countingReader is a body of n bytes made on the fly, counting what the
// server read of it.
type countingReader struct {
	left, read int64
	n          *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), c.left)
	for i := range p[:n] {
		p[i] = 'a'
	}
	c.left -= n
	c.n.Add(n)
	return int(n), nil
}

// A 100 MB body to any address that takes a POST gets an answer in the
// caller's format (a V4 error, an Ogone XML answer, a page), never a 500,
// and the server stops reading long before the end, whatever the content
// type says.
func TestHugeBodiesAreRefused(t *testing.T) {
	srv := httptest.NewServer(testApp(t, map[string]string{"OPENPSP_DEMO": "true"}).Handler())
	t.Cleanup(srv.Close)
	ft := createForm(t, srv)
	const size = 100 << 20
	const maxRead = 12 << 20
	paths := []string{"/api-payment/V4/Charge/SDKTest", "/pay/" + ft, "/pay/" + ft + "/3ds", "/pay/" + ft + "/3ds/complete",
		"/pay/" + ft + "/wallet/delete", "/Tokenization/HostedPage", "/Tokenization/HostedPage/abc", "/ncol/test/orderdirect.asp",
		"/ncol/test/querydirect_utf8.asp", "/ncol/test/maintenancedirect.asp", "/demo/checkout", "/demo/return", "/demo/ipn",
		"/demo/flexcheckout/charge"}
	for _, p := range paths {
		for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "application/json"} {
			var read atomic.Int64
			body := &countingReader{left: size, n: &read}
			if strings.HasPrefix(ct, "multipart") {
				// One file part that never ends.
				body.left -= 100
			}
			var r io.Reader = body
			if strings.HasPrefix(ct, "multipart") {
				r = io.MultiReader(strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n"), body)
			}
			req, _ := http.NewRequest("POST", srv.URL+p, r)
			req.ContentLength = -1
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Origin", srv.URL)
			req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("%s (%s): no answer: %v", p, ct, err)
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("%s (%s): HTTP %d %s", p, ct, resp.StatusCode, b)
			}
			if got := read.Load(); got > maxRead {
				t.Errorf("%s (%s): the server read %d MB of a 100 MB body", p, ct, got>>20)
			}
			switch {
			case strings.HasPrefix(p, "/api-payment/"):
				if !strings.Contains(string(b), `"status":"ERROR"`) {
					t.Errorf("%s (%s): not a V4 error: %s", p, ct, b)
				}
			case strings.HasPrefix(p, "/ncol/"):
				if !strings.Contains(string(b), "<ncresponse") {
					t.Errorf("%s (%s): not an Ogone answer: %s", p, ct, b)
				}
			}
		}
	}
}
