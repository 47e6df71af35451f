package app

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// A panic while serving a request was answered "internal error", text/plain
// HTTP 500, whoever called: a merchant's V4 client, which reads a JSON
// envelope (errors with HTTP 200), a DirectLink integration, which reads an
// XML ncresponse, a buyer in FlexCheckout's frame or on a payment page. Each
// now reads its own format: V4 INT_999 (HTTP 200), DirectLink NCERROR
// 40001011, for a buyer the pages' message page in their language (HTTP
// 500), which never says the card was not charged after a post (the panic
// may have come after the charge). The panic is logged with the path's
// secrets named, never shown to the caller, and counted in /metrics.
func TestPanicAnsweredInTheCallersFormat(t *testing.T) {
	var logs jobLog
	a := testAppLogging(t, nil, &logs)
	const secret = "s3cret-in-panic-value"
	// The test-only route: every address panics but /metrics, served by
	// the app's own routes, behind the app's real middleware.
	routes := a.mux
	a.mux = http.NewServeMux()
	a.mux.Handle("/", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom " + secret) }))
	a.mux.Handle("GET /metrics", routes)
	a.mux.Handle("/pay/late", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><p>half a page")
		_ = http.NewResponseController(w).Flush()
		panic("late boom")
	}))
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)

	do := func(method, path, lang, accept string, form url.Values) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, html.UnescapeString(string(b))
	}
	noLeak := func(what, body string) {
		t.Helper()
		for _, s := range []string{secret, "boom", "goroutine", ".go:", "internal error\n"} {
			if strings.Contains(body, s) {
				t.Errorf("%s: the answer shows %q:\n%s", what, s, body)
			}
		}
	}

	// V4: the envelope of an internal error, HTTP 200, as safeCall answers.
	resp, body := do(http.MethodPost, "/api-payment/V4/Charge/SDKTest", "", "", nil)
	var env struct {
		Status string `json:"status"`
		Answer struct {
			ErrorCode string `json:"errorCode"`
		} `json:"answer"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil || resp.StatusCode != http.StatusOK || env.Status != "ERROR" ||
		env.Answer.ErrorCode != "INT_999" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("V4 panic: HTTP %d %s %+v %v, want 200 ERROR INT_999 in JSON:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), env, err, body)
	}
	noLeak("V4", body)

	// DirectLink: Ingenico's ncresponse with the NCERROR of a technical problem.
	for _, p := range []string{"/ncol/test/orderdirect.asp", "/ncol/prod/maintenancedirect_utf8.asp", "/ncol/test/querydirect.asp"} {
		resp, body = do(http.MethodPost, p, "", "", url.Values{"PSPID": {"x"}, "ORDERID": {"1"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<ncresponse") || !strings.Contains(body, `NCERROR="40001011"`) ||
			!strings.Contains(resp.Header.Get("Content-Type"), "xml") {
			t.Errorf("DirectLink %s panic: HTTP %d %s, want 200 and an ncresponse NCERROR 40001011:\n%s", p, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		noLeak("DirectLink "+p, body)
	}

	page := func(what string, resp *http.Response, body string, want ...string) {
		t.Helper()
		if resp.StatusCode != http.StatusInternalServerError || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s panic: HTTP %d %s, want a 500 HTML page", what, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(body, "<html") {
			t.Errorf("%s panic: not a page:\n%s", what, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s panic: the page lacks %q:\n%s", what, w, body)
			}
		}
		noLeak(what, body)
	}
	// FlexCheckout's page, in the merchant's frame, in its LAYOUT.LANGUAGE.
	resp, body = do(http.MethodGet, "/Tokenization/HostedPage?ACCOUNT.PSPID=x&LAYOUT.LANGUAGE=it_IT", "en", "", nil)
	page("FlexCheckout", resp, body, `lang="it"`, "Si è verificato un errore tecnico")
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("FlexCheckout panic: X-Frame-Options %q: the merchant's frame cannot show the page", xfo)
	}
	// A payment page opened: nothing was charged.
	const formToken = "tok-" + "0123456789abcdef"
	resp, body = do(http.MethodGet, "/pay/"+formToken, "de-DE,de;q=0.9", "", nil)
	page("payment page", resp, body, `lang="de"`, "Ein technischer Fehler ist aufgetreten. Ihre Karte wurde nicht belastet.")
	// The card form posted: the panic may have come after the charge, so
	// the page says nothing of the card and asks not to pay again.
	resp, body = do(http.MethodPost, "/pay/"+formToken+"?kr-language=fr", "en", "", url.Values{"pan": {"4970100000000055"}})
	page("card form posted", resp, body, `lang="fr"`, "Ne payez pas une seconde fois")
	if strings.Contains(body, "pas été débitée") {
		t.Errorf("card form posted: the page says the card was not charged:\n%s", body)
	}
	// The form script's post reads its JSON error.
	resp, body = do(http.MethodPost, "/embedded/"+formToken, "en", "application/json", url.Values{"pan": {"4970100000000055"}})
	var ans struct {
		Step  string `json:"step"`
		Error struct {
			ErrorCode string `json:"errorCode"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil || resp.StatusCode != http.StatusInternalServerError || ans.Step != "error" || ans.Error.ErrorCode != "CLIENT_999" {
		t.Errorf("form script's post panic: HTTP %d %+v %v, want 500 step error CLIENT_999:\n%s", resp.StatusCode, ans, err, body)
	}
	noLeak("form script's post", body)
	// Any other address a browser opens: the message page.
	resp, body = do(http.MethodGet, "/demo/", "es", "", nil)
	page("other page", resp, body, `lang="es"`)
	// A probe reads the status only.
	if resp, _ = do(http.MethodGet, "/healthz", "", "", nil); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("/healthz panic: HTTP %d, want 500", resp.StatusCode)
	}

	// A panic after the answer began: nothing can replace it, and it must
	// not read as complete (nor get an error text glued to it): the
	// connection is cut.
	if resp, err := http.Get(srv.URL + "/pay/late"); err != nil {
		t.Fatal(err)
	} else {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("a panic after the answer began: the client read a complete answer: %q", b)
		}
	}

	// Logged, once a request, without the form token; counted.
	if n := logs.count("panic serving request"); n != 11 {
		t.Errorf("%d panics logged, want 11:\n%s", n, logs.b.String())
	}
	if logs.count(formToken) != 0 || logs.count("/pay/{formToken}") == 0 {
		t.Errorf("the log shows the form token:\n%s", logs.b.String())
	}
	_, metrics := do(http.MethodGet, "/metrics", "", "", nil)
	if m := regexp.MustCompile(`(?m)^openpsp_http_panics_total\{route="/"\} 10$`).FindString(metrics); m == "" {
		t.Errorf("/metrics does not count the 10 panics:\n%s", grepLines(metrics, "panic"))
	}
}

// grepLines keeps s's lines that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
