package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/shop"
)

// lockedBuffer collects log output written by concurrent requests.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// loggedApp is testApp with its JSON log lines collected.
func loggedApp(t *testing.T, env map[string]string) (*httptest.Server, *lockedBuffer) {
	t.Helper()
	withJSON := map[string]string{"OPENPSP_LOG_FORMAT": "json"}
	for k, v := range env {
		withJSON[k] = v
	}
	logs := &lockedBuffer{}
	a := testAppLogging(t, withJSON, logs)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv, logs
}

// accessLines are the access-log records in logs.
func accessLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "http request" {
			out = append(out, rec)
		}
	}
	return out
}

// An operator saw no request at the default level: the access line was
// logged at debug only. Every request logs one line at info with its
// method, path (never the query string), status, duration with its unit,
// response bytes, request id and client address, and nothing of the
// credentials or body; the probes and the scraper only at debug.
func TestAccessLog(t *testing.T) {
	srv, logs := loggedApp(t, nil)
	const secret = "vads_signature_abc123"
	body := `{"amount":1000,"currency":"EUR","paymentForms":[{"paymentMethodType":"CARD","pan":"4970100000000055","expiryMonth":"12","expiryYear":"39","securityCode":"123"}]}`
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api-payment/V4/Charge/CreatePayment?signature="+secret, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	const formToken = "sealedFormTokenXYZ0123456789"
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/pay/" + formToken} {
		r, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}

	out := logs.String()
	lines := accessLines(t, out)
	if len(lines) != 2 {
		t.Fatalf("%d access lines at info, want 2 (the probes and /metrics at debug only):\n%s", len(lines), out)
	}
	// A payment page's form token lets whoever holds it pay: named, not shown.
	if p := lines[1]["path"]; p != "/pay/{formToken}" {
		t.Errorf("payment page logged as %v, want /pay/{formToken}", p)
	}
	l := lines[0]
	want := map[string]any{"level": "INFO", "method": "POST", "path": "/api-payment/V4/Charge/CreatePayment",
		"status": float64(resp.StatusCode), "bytes": float64(n), "request_id": resp.Header.Get("X-Request-Id"), "client_ip": "127.0.0.1"}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("access line %s = %v, want %v\n%v", k, l[k], v, l)
		}
	}
	if d, ok := l["duration"].(string); !ok || !strings.HasSuffix(d, "s") {
		t.Errorf("access line duration %v: want a duration with its unit", l["duration"])
	} else if _, err := time.ParseDuration(d); err != nil {
		t.Errorf("access line duration %q: %v", d, err)
	}
	for _, leak := range []string{secret, formToken, shop.DemoTestPassword, "4970100000000055", "Authorization", "Basic ", "signature="} {
		if strings.Contains(out, leak) {
			t.Errorf("the log holds %q:\n%s", leak, out)
		}
	}

	// At debug the probes and the scraper are logged too.
	srv, logs = loggedApp(t, map[string]string{"OPENPSP_LOG_LEVEL": "debug"})
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		r, err := http.Get(srv.URL + p + "?x=1")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	var paths []string
	for _, l := range accessLines(t, logs.String()) {
		paths = append(paths, l["level"].(string)+" "+l["path"].(string)+" "+strconv.Itoa(int(l["status"].(float64))))
	}
	if strings.Join(paths, ",") != "DEBUG /healthz 200,DEBUG /readyz 200,DEBUG /metrics 200" {
		t.Errorf("access lines at debug: %v", paths)
	}
}

// OPENPSP_ACCESS_LOG=off turns the access lines off.
func TestAccessLogOff(t *testing.T) {
	srv, logs := loggedApp(t, map[string]string{"OPENPSP_ACCESS_LOG": "off", "OPENPSP_LOG_LEVEL": "debug"})
	for _, p := range []string{"/api-payment/V4/Charge/SDKTest", "/healthz"} {
		r, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	if lines := accessLines(t, logs.String()); len(lines) != 0 {
		t.Fatalf("OPENPSP_ACCESS_LOG=off, yet access lines: %v", lines)
	}
}

// The access line names a payment page's form token and a FlexCheckout
// session however the request ends: a route that did not match (a GET of
// a POST-only address, such as a reload of the 3-D Secure step, an address
// with a trailing slash, another case) has no path values, and its line
// showed the token in clear, which lets whoever reads the logs open the
// page and pay within its 15 minutes.
func TestAccessLogHidesTokensOfUnmatchedRoutes(t *testing.T) {
	srv, logs := loggedApp(t, nil)
	ft := createForm(t, srv)
	const session = "0123456789abcdef0123456789abcdef01234567"
	calls := []struct{ method, path, want string }{
		{"GET", "/pay/" + ft, "/pay/{formToken}"},
		{"GET", "/pay/" + ft + "/3ds", "/pay/{formToken}/3ds"},
		{"GET", "/embedded/" + ft + "/3ds/complete", "/embedded/{formToken}/3ds/complete"},
		{"PUT", "/pay/" + ft, "/pay/{formToken}"},
		{"GET", "/pay/" + ft + "/", "/pay/{formToken}/"},
		{"GET", "/PAY/" + ft, "/PAY/{formToken}"},
		{"POST", "/pay/" + ft + "/nope/more", "/pay/{formToken}/nope/more"},
		{"GET", "/Tokenization/HostedPage/" + session, "/Tokenization/HostedPage/{session}"},
		{"POST", "/tokenization/hostedpage/" + session, "/tokenization/hostedpage/{session}"},
		{"GET", "/Tokenization/Hostedpage/" + session + "/cancel", "/Tokenization/Hostedpage/{session}/cancel"},
		{"GET", "//pay/" + ft, "//pay/{formToken}"},
		{"GET", "/x/../embedded/" + ft, "/x/../embedded/{formToken}"},
		// Not a token: addresses that only look alike keep their path.
		{"GET", "/payments/x", "/payments/x"},
		{"GET", "/pay", "/pay"},
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range calls {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	out := logs.String()
	var got []string
	for _, l := range accessLines(t, out) {
		if p, _ := l["path"].(string); p != "/api-payment/V4/Charge/CreatePayment" {
			got = append(got, l["method"].(string)+" "+p)
		}
	}
	var want []string
	for _, c := range calls {
		want = append(want, c.method+" "+c.want)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("access lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, secret := range []string{ft, session} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}
