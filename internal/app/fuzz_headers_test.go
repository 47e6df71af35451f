package app

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	v4 "github.com/openpsp/openpsp/internal/api/v4"
	"github.com/openpsp/openpsp/internal/shop"
)

// headerTargets are requests whose answer depends on request headers:
// the V4 web services (Basic auth, Idempotency-Key), /metrics (its bearer
// token), the buyer's pages and FlexCheckout (Accept-Language, Accept),
// DirectLink (the Content-Type of its form), the demo's pages.
var headerTargets = []struct{ method, path, body string }{
	{"POST", "/api-payment/V4/Charge/SDKTest", `{"value":"hi"}`},
	{"POST", "/api-payment/V4/Charge/CreatePayment", `{"amount":990,"currency":"EUR","orderId":"fz-hdr"}`},
	{"POST", "/api-payment/V4/Order/Get", `{"orderId":"fz-hdr"}`},
	{"GET", "/metrics", ""},
	{"GET", "/pay/unknown", ""},
	{"POST", "/pay/unknown", "pan=4970100000000055&expiry=12%2F39&csc=123"},
	{"GET", "/Tokenization/HostedPage?ACCOUNT.PSPID=openpspdemo", ""},
	{"POST", "/ncol/test/orderdirect.asp", "PSPID=openpspdemo&ORDERID=fz-hdr&AMOUNT=100&CURRENCY=EUR"},
	{"POST", "/ncol/test/querydirect.asp", "PSPID=openpspdemo&ORDERID=fz-hdr"},
	{"GET", "/demo", ""},
	{"POST", "/demo/checkout", "product=mug&quantity=1"},
	{"GET", "/healthz", ""},
}

// FuzzRequestHeaders sends any Authorization, Accept-Language, Accept,
// Content-Type, X-Request-Id, Idempotency-Key and X-Forwarded-For with the
// requests of headerTargets (FuzzV4WebServices always sends the demo
// shop's good credentials). Whatever the headers, no answer is a 5xx; a web
// service answers a V4 envelope, a refused one with a V4 error code and no
// row written; DirectLink an ncresponse; /metrics without its token a 401
// that asks for it; and the request id echoed is one the server would log
// (visible ASCII, at most 64 bytes: what the log carries as it is).
func FuzzRequestHeaders(f *testing.F) {
	a := testApp(f, map[string]string{"OPENPSP_METRICS_TOKEN": "fuzz-metrics-token"})
	h := a.Handler()
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	good := basic(shop.DemoShopID, shop.DemoTestPassword)
	for i := range headerTargets {
		for _, s := range [][7]string{
			{good, "", "", "", "", "", ""},
			{"", "fr-FR,fr;q=0.9", "application/json", "application/x-www-form-urlencoded", "req-1", "idem-1", "203.0.113.9"},
			{"Basic", "de;q=nan", "*/*", "multipart/form-data; boundary=", "\x01", "", "::1, 10.0.0.1"},
			{"Basic %%%", "*", "text/html", "application/x-www-form-urlencoded; charset=\"", strings.Repeat("r", 65), "k", "unknown"},
			{basic(shop.DemoShopID, ""), "zz", "", "text/plain", "", strings.Repeat("k", 300), ""},
			{basic("", shop.DemoTestPassword), "", "", "application/json", "", "", ""},
			{"Basic " + base64.StdEncoding.EncodeToString([]byte("\xff\x00:\xfe")), "", "", "", "", "", ""},
			{basic(shop.DemoShopID, shop.DemoTestPassword+"x"), "", "", "", "", "", ""},
			{"Bearer fuzz-metrics-token", "", "", "", "", "", ""}, {"bearer  fuzz-metrics-token ", "", "", "", "", "", ""},
			{"Bearer fuzz-metrics-tokenx", "", "", "", "", "", ""}, {"Digest x", "", "", "", "", "", ""},
			{good + "==", "en;q=0.1, it;q=0.2", "application/json;q=0", "application/x-www-form-urlencoded;;", "é", "", "[::1]:80"},
		} {
			f.Add(uint8(i), s[0], s[1], s[2], s[3], s[4], s[5], s[6])
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, auth, lang, accept, contentType, requestID, idemKey, forwarded string) {
		for _, v := range []string{auth, lang, accept, contentType, requestID, idemKey, forwarded} {
			// What net/http lets through: its server answers 400 to a
			// request whose header values hold a control character
			// other than a tab, before any handler.
			if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) || len(v) > 1024 {
				return
			}
		}
		target := headerTargets[int(which)%len(headerTargets)]
		req := httptest.NewRequest(target.method, target.path, strings.NewReader(target.body))
		for k, v := range map[string]string{"Authorization": auth, "Accept-Language": lang, "Accept": accept,
			"Content-Type": contentType, "X-Request-Id": requestID, v4.IdempotencyHeader: idemKey, "X-Forwarded-For": forwarded} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		before := rowCounts(t, a)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		// The demo's checkout calls the API over HTTP on the app's own
		// listener, which a handler test has not started: 502 there.
		if w.Code >= 500 && !(w.Code == http.StatusBadGateway && target.path == "/demo/checkout") {
			t.Fatalf("%s %s (Authorization %q, Accept-Language %q, Accept %q, Content-Type %q): HTTP %d: %.300s",
				target.method, target.path, auth, lang, accept, contentType, w.Code, w.Body.String())
		}
		if id := w.Header().Get("X-Request-Id"); !loggableRequestID(id) {
			t.Fatalf("%s %s with X-Request-Id %q: echoed %q", target.method, target.path, requestID, id)
		}
		ct := w.Header().Get("Content-Type")
		switch {
		case strings.HasPrefix(target.path, "/api-payment/"):
			var env struct {
				Status string `json:"status"`
				Answer struct {
					ErrorCode string `json:"errorCode"`
				} `json:"answer"`
			}
			if w.Code != http.StatusOK || !strings.HasPrefix(ct, "application/json") || json.Unmarshal(w.Body.Bytes(), &env) != nil {
				t.Fatalf("%s with Authorization %q: HTTP %d %q is not a V4 envelope: %.300s", target.path, auth, w.Code, ct, w.Body.String())
			}
			if env.Status == "ERROR" {
				if env.Answer.ErrorCode == "INT_999" || !v4ErrorCode.MatchString(env.Answer.ErrorCode) {
					t.Fatalf("%s with Authorization %q: error %s", target.path, auth, w.Body.String())
				}
				if after := rowCounts(t, a); !maps.Equal(before, after) {
					t.Fatalf("%s with Authorization %q refused (%s) but wrote rows: %v → %v", target.path, auth, env.Answer.ErrorCode, before, after)
				}
			} else if u, p, _ := req.BasicAuth(); u != shop.DemoShopID || p != shop.DemoTestPassword {
				t.Fatalf("%s with Authorization %q: %s, though the credentials are not the shop's", target.path, auth, env.Status)
			}
		case target.path == "/metrics":
			if auth != "" && w.Code == http.StatusOK && !strings.Contains(auth, "fuzz-metrics-token") {
				t.Fatalf("/metrics served with Authorization %q", auth)
			}
			if w.Code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("/metrics 401 without a Bearer challenge")
			}
		case strings.HasPrefix(target.path, "/ncol/"):
			if w.Code != http.StatusOK || !strings.HasPrefix(ct, "text/xml") || !strings.Contains(w.Body.String(), "NCERROR=") {
				t.Fatalf("%s with Content-Type %q: HTTP %d %q is not an ncresponse: %.300s", target.path, contentType, w.Code, ct, w.Body.String())
			}
		}
	})
}
