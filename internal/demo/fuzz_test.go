package demo

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// FuzzSignedAnswers posts any kr-answer, correctly signed, to the demo
// shop's IPN receiver and return page, as a merchant's site receives them:
// whatever the JSON (or not JSON) inside, the IPN is acknowledged and kept,
// the return page is a page that says the signature holds, the IPN list
// still shows: never a 500 or a panic in summarize or its templates.
func FuzzSignedAnswers(f *testing.F) {
	db := storetest.SQLite(f)
	mux := http.NewServeMux()
	New(Options{BaseURL: func() string { return "http://127.0.0.1" }, IPNs: db}).Register(mux)
	for _, s := range []string{
		`{"orderStatus":"PAID","orderDetails":{"orderId":"demo-1","orderTotalAmount":1250,"orderCurrency":"EUR"},"transactions":[{"uuid":"abc","detailedStatus":"AUTHORISED"}]}`,
		`{"orderDetails":{"orderTotalAmount":-9223372036854775808,"orderCurrency":"KWD"}}`, `{"orderDetails":{"orderTotalAmount":1e99}}`,
		`{"transactions":[]}`, `{"transactions":[{"transactionDetails":{"cardDetails":{"pan":"497010XXXXXX0055","effectiveBrand":"<b>"}}}]}`,
		`[]`, `null`, `"x"`, `{`, "\xff", "<script>alert(1)</script>", `{"orderStatus":"` + strings.Repeat("é", 500) + `"}`,
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, answer string, hmacKey bool) {
		if answer == "" || len(answer) > 16<<10 {
			return
		}
		key, keyName := shop.DemoTestPassword, "password"
		if hmacKey {
			key, keyName = shop.DemoTestHMACKey, "sha256_hmac"
		}
		form := url.Values{"kr-answer": {answer}, "kr-hash": {sign(answer, key)}, "kr-hash-key": {keyName},
			"kr-hash-algorithm": {"sha256_hmac"}, "kr-answer-type": {"V4/Payment"}}
		post := func(path string) *httptest.ResponseRecorder {
			r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			return w
		}
		if w := post("/demo/ipn"); w.Code != http.StatusOK || w.Body.String() != "OK" {
			t.Fatalf("signed IPN %q: %d %s", answer, w.Code, w.Body.String())
		}
		if !hmacKey {
			return
		}
		w := post("/demo/return")
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
			!strings.Contains(w.Body.String(), "Signature verified") {
			t.Fatalf("signed return %q: %d %.300s", answer, w.Code, w.Body.String())
		}
		list := httptest.NewRecorder()
		mux.ServeHTTP(list, httptest.NewRequest("GET", "/demo/ipn", nil))
		if list.Code != http.StatusOK {
			t.Fatalf("IPN list after %q: %d", answer, list.Code)
		}
	})
}
