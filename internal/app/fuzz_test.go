package app

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/api/v4"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

func fuzzApp(f *testing.F) (*App, http.Handler) {
	a := testApp(f, nil)
	return a, a.Handler()
}

// testApp starts the app on a fresh SQLite data folder, development
// settings plus env (OPENPSP_* names), closed when tb ends.
func testApp(tb testing.TB, env map[string]string) *App {
	tb.Helper()
	return testAppLogging(tb, env, io.Discard)
}

// testAppLogging is testApp with its log written to logs.
func testAppLogging(tb testing.TB, env map[string]string, logs io.Writer) *App {
	tb.Helper()
	return testAppOptions(tb, env, Options{LogOutput: logs})
}

// testAppOptions is testApp with opts (a clock, where the log goes…).
func testAppOptions(tb testing.TB, env map[string]string, opts Options) *App {
	tb.Helper()
	dir := tb.TempDir()
	cfg, err := config.Load(nil, func(k string) string {
		switch k {
		case "OPENPSP_DATA_DIR":
			return dir
		case "OPENPSP_ADDR":
			return "127.0.0.1:0"
		}
		return env[k]
	})
	if err != nil {
		tb.Fatal(err)
	}
	a, err := New(context.Background(), cfg, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a
}

// v4ErrorCode is the shape of every V4 error code (compat.md §1.3).
var v4ErrorCode = regexp.MustCompile(`^(INT|PSP|ACQ|AUTH)_[0-9]{3}$`)

// recordTables are the tables a refused request must leave as they were.
var recordTables = []string{"payments", "transactions", "tokens", "subscriptions", "subscription_instalments", "outbox"}

// rowCounts counts the rows of recordTables: cheap on the small database a
// fuzz run builds, and enough to see a half-written record.
func rowCounts(t *testing.T, a *App) map[string]int {
	counts := map[string]int{}
	for _, table := range recordTables {
		var n int
		if err := a.DB.Reader().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		counts[table] = n
	}
	return counts
}

// Every web service answers any body with a V4 envelope: never an HTTP
// error, never an internal error (INT_999), never a panic. A refused call
// names a V4 error code with a message and writes nothing: no payment,
// transaction, token, subscription or notification is left half-made.
func FuzzV4WebServices(f *testing.F) {
	a, h := fuzzApp(f)
	names := a.V4.Names()
	if len(names) < 10 {
		f.Fatalf("only %d web services registered", len(names))
	}
	for _, body := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"amount":`, `{"amount":-1,"currency":"EUR"}`, `{"amount":1e400}`,
		`{"amount":990,"currency":"EUR","orderId":"fuzz-1"}`,
		`{"amount":990,"currency":"EUR","orderId":"o","formAction":"SILENT","paymentMethodToken":"00000000000000000000000000000000"}`,
		`{"amount":990,"currency":"XXX","customer":{"email":"not-an-email","billingDetails":{"language":"zz"}}}`,
		`{"uuid":"../../etc","amount":"10"}`, `{"paymentMethodToken":null}`, `{"customerReference":"` + strings.Repeat("é", 300) + `"}`,
		`{"rrule":"RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=0","effectDate":"2026-13-45T99:00:00Z"}`,
		`{"value":"hi"}`, "{\"orderId\":\"\u0000\"}", `{"transactionOptions":{"cardOptions":{"captureDelay":-5,"manualValidation":"MAYBE"}}}`,
		// Scalars of another type, as PHP integrations send them (read as PayZen reads them).
		`{"amount":"990","currency":"EUR","orderId":12,"customer":{"reference":7},"metadata":[],"transactionOptions":{"cardOptions":{"captureDelay":"2"}}}`,
		`{"amount":" 99 ","currency":true,"orderId":1.5e300,"metadata":{"a":[1],"b":{"c":false}}}`,
	} {
		for i := range names {
			f.Add(uint8(i), body)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		name := names[int(which)%len(names)]
		before := rowCounts(t, a)
		req := httptest.NewRequest("POST", "/api-payment/V4/"+name, strings.NewReader(body))
		req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("%s %q: HTTP %d", name, body, w.Code)
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %q: Content-Type %q", name, body, ct)
		}
		var env struct {
			WebService string `json:"webService"`
			Status     string `json:"status"`
			Type       string `json:"_type"`
			Answer     struct {
				ErrorCode    string `json:"errorCode"`
				ErrorMessage string `json:"errorMessage"`
				Type         string `json:"_type"`
			} `json:"answer"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s %q: not a V4 envelope: %s", name, body, w.Body.String())
		}
		if env.WebService != name || env.Type != "V4/WebService/Response" {
			t.Fatalf("%s %q: envelope of %q, _type %q", name, body, env.WebService, env.Type)
		}
		switch env.Status {
		case "SUCCESS":
			return
		case "ERROR":
		default:
			t.Fatalf("%s %q: status %q", name, body, env.Status)
		}
		if env.Answer.ErrorCode == "INT_999" {
			t.Fatalf("%s %q: internal error: %s", name, body, w.Body.String())
		}
		if !v4ErrorCode.MatchString(env.Answer.ErrorCode) || env.Answer.ErrorMessage == "" ||
			env.Answer.Type != "V4/WebService/WebServiceError" {
			t.Fatalf("%s %q: not a V4 error answer: %s", name, body, w.Body.String())
		}
		if after := rowCounts(t, a); !maps.Equal(before, after) {
			t.Fatalf("%s %q refused with %s but wrote rows: %v → %v", name, body, env.Answer.ErrorCode, before, after)
		}
	})
}

// buyerPage matches the pages a buyer's browser posts to: the payment form
// (hosted and embedded), its 3-D Secure steps and FlexCheckout.
var buyerPage = regexp.MustCompile(`^/((pay|embedded)/[^/]+(/3ds(/complete)?)?|Tokenization/HostedPage)$`)

// directLinkPage matches a DirectLink endpoint (other paths under /ncol/,
// such as "/ncol/." that the mux redirects to its clean form, are not).
var directLinkPage = regexp.MustCompile(`^/ncol/(test|prod)/[a-z_]+\.asp$`)

// pageLanguage is the language an HTML page declares.
var pageLanguage = regexp.MustCompile(`<html[^>]* lang="([^"]*)"`)

// The buyer's pages answer any form post with a page, never a 500. A
// buyer's page is HTML in one of the languages of the pages, DirectLink an
// ncresponse with an NCERROR, and a refused post writes nothing.
func FuzzBuyerPagePosts(f *testing.F) {
	a, h := fuzzApp(f)
	for _, path := range []string{"/pay/unknown", "/embedded/unknown", "/pay/unknown/3ds", "/pay/unknown/3ds/complete",
		"/Tokenization/HostedPage", "/ncol/test/orderdirect.asp", "/ncol/test/maintenancedirect.asp", "/ncol/test/querydirect.asp",
		"/demo/checkout", "/demo/return", "/demo/ipn", "/demo/flexcheckout/charge"} {
		for _, body := range []string{"", "a=%zz", "kr-answer={}&kr-hash=00", "pan=4970100000000055&expiry=12/30&csc=123",
			"product=mug&quantity=999999999999999999999", "ACCOUNT.PSPID=openpspdemo&SHASIGNATURE.SHASIGN=00", "LAYOUT.LANGUAGE=nl_NL&ACCOUNT.PSPID=openpspdemo", "x=" + strings.Repeat("%ff", 100)} {
			f.Add(path, body)
		}
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?%") || len(body) > 8192 {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return
		}
		before := rowCounts(t, a)
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// A same-origin browser post, so cross-origin protection lets it in.
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 && w.Code != http.StatusBadGateway && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("POST %s %q: HTTP %d: %s", path, body, w.Code, w.Body.String())
		}
		ct := w.Header().Get("Content-Type")
		switch {
		case buyerPage.MatchString(req.URL.Path) && (w.Code < 300 || w.Code >= 400):
			lang := pageLanguage.FindStringSubmatch(w.Body.String())
			langs := []string{"en", "fr", "es", "it", "de"}
			if strings.HasPrefix(req.URL.Path, "/Tokenization/") {
				langs = ogone.Languages // FlexCheckout speaks Dutch too
			}
			if !strings.HasPrefix(ct, "text/html") || lang == nil || !slices.Contains(langs, lang[1]) {
				t.Fatalf("POST %s %q: HTTP %d %q is not a buyer's page: %.300s", path, body, w.Code, ct, w.Body.String())
			}
		case directLinkPage.MatchString(req.URL.Path) && w.Code != http.StatusNotFound:
			if w.Code != http.StatusOK || !strings.HasPrefix(ct, "text/xml") || !strings.Contains(w.Body.String(), "NCERROR=") {
				t.Fatalf("POST %s %q: HTTP %d %q is not an ncresponse: %.300s", path, body, w.Code, ct, w.Body.String())
			}
		}
		if w.Code >= 400 {
			if after := rowCounts(t, a); !maps.Equal(before, after) {
				t.Fatalf("POST %s %q refused with HTTP %d but wrote rows: %v → %v", path, body, w.Code, before, after)
			}
		}
	})
}

// A retried call never does its work twice: any mutating web service
// called again with the same Idempotency-Key and body answers what it
// answered the first time and writes nothing more (no second payment,
// token, subscription or notification).
func FuzzV4Retries(f *testing.F) {
	a, h := fuzzApp(f)
	var names []string
	for _, n := range a.V4.Names() {
		if v4.Mutating(n) {
			names = append(names, n)
		}
	}
	if len(names) < 5 {
		f.Fatalf("only %d mutating web services", len(names))
	}
	for i := range names {
		for _, body := range []string{`{}`, `{"amount":990,"currency":"EUR","orderId":"retry-1"}`,
			`{"amount":990,"currency":"EUR","orderId":"o","formAction":"SILENT","paymentMethodToken":"00000000000000000000000000000000"}`,
			`{"amount":-1}`, `not json`} {
			f.Add(uint8(i), "key-1", body)
		}
	}
	f.Add(uint8(0), "", `{"amount":990,"currency":"EUR","orderId":"retry-2"}`)
	f.Add(uint8(0), "a key", `{}`)
	f.Fuzz(func(t *testing.T, which uint8, key, body string) {
		name := names[int(which)%len(names)]
		call := func() string {
			req := httptest.NewRequest("POST", "/api-payment/V4/"+name, strings.NewReader(body))
			req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
			req.Header.Set(v4.IdempotencyHeader, key)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			var env struct {
				Status string          `json:"status"`
				Answer json.RawMessage `json:"answer"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatalf("%s %q: not a V4 envelope: %s", name, body, w.Body.String())
			}
			return env.Status + " " + string(env.Answer)
		}
		first := call()
		once := rowCounts(t, a)
		if key == "" {
			return // without a key a call is a new call
		}
		if again := call(); again != first {
			t.Fatalf("%s %q with key %q: answered\n%s\nthen\n%s", name, body, key, first, again)
		}
		if twice := rowCounts(t, a); !maps.Equal(once, twice) {
			t.Fatalf("%s %q with key %q: the retry wrote rows: %v → %v", name, body, key, once, twice)
		}
	})
}
