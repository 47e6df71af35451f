package v4_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v4 "github.com/openpsp/openpsp/internal/api/v4"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/shop"
)

// Every V4 web service takes the shop's private key (HTTP Basic): it is
// called from the merchant's server, never from a buyer's browser, and
// OpenPSP's own browser code (the embedded form's client, the hosted
// pages) never calls it. So no answer grants a page of another origin the
// right to call it or read the result: neither the preflight nor the call
// itself carries CORS headers, whatever Origin is sent.
func TestV4GrantsNoCrossOriginAccess(t *testing.T) {
	s := v4.New(v4.Options{Auth: testAuth{shop.Shop{ID: shopID}}, Clock: clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))})
	s.RegisterBase()
	mux := http.NewServeMux()
	mux.Handle("/api-payment/V4/{name...}", s)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, c := range []struct {
		method string
		auth   bool
	}{{http.MethodOptions, false}, {http.MethodPost, true}, {http.MethodPost, false}, {http.MethodGet, false}} {
		req, _ := http.NewRequest(c.method, srv.URL+"/api-payment/V4/Charge/SDKTest", strings.NewReader(`{"value":"hi"}`))
		req.Header.Set("Origin", "https://evil.example")
		if c.method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		}
		if c.auth {
			req.SetBasicAuth(shopID, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for k := range resp.Header {
			if strings.HasPrefix(http.CanonicalHeaderKey(k), "Access-Control-") {
				t.Errorf("%s (Basic auth %v): %s: %q", c.method, c.auth, k, resp.Header.Get(k))
			}
		}
		if c.auth && !strings.Contains(string(body), `"SUCCESS"`) {
			t.Errorf("a server-to-server call with an Origin header must still work: %s", body)
		}
	}
}
