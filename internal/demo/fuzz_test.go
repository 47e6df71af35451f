package demo

import (
	"context"
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
//
// The receiver keeps the IPNs in a real SQLite file, emptied before each
// input, so that an input's coverage and cost do not depend on those
// before it (with the list growing, the worker chased coverage it could
// not reproduce: 26 to 5,000 executions in 30 s).
func FuzzSignedAnswers(f *testing.F) {
	db := storetest.SQLite(f)
	mux := http.NewServeMux()
	New(Options{BaseURL: func() string { return "http://127.0.0.1" }, IPNs: db}).Register(mux)
	for _, s := range []string{
		`{"orderStatus":"PAID","orderDetails":{"orderId":"demo-1","orderTotalAmount":1250,"orderCurrency":"EUR"},"transactions":[{"uuid":"abc","detailedStatus":"AUTHORISED"}]}`,
		`{"orderDetails":{"orderTotalAmount":-9223372036854775808,"orderCurrency":"KWD"}}`, `{"orderDetails":{"orderTotalAmount":1e99}}`,
		`{"transactions":[]}`, `{"transactions":[{"transactionDetails":{"cardDetails":{"pan":"497010XXXXXX0055","effectiveBrand":"<b>"}}}]}`,
		`[]`, `null`, `"x"`, `{`, "\xff", "<script>alert(1)</script>", `{"orderStatus":"` + strings.Repeat("é", 500) + `"}`,
		strings.Repeat("[", 300) + strings.Repeat("]", 300), `{"a":` + strings.Repeat(`{"a":`, 30) + `1` + strings.Repeat("}", 31),
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, answer string, hmacKey bool) {
		if answer == "" || len(answer) > 16<<10 {
			return
		}
		if _, err := db.Writer().Exec(`DELETE FROM demo_ipn`); err != nil {
			t.Fatal(err)
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
		kept, err := db.DemoIPNs(context.Background(), 10)
		if err != nil || len(kept) != 1 || kept[0].Answer != answer || !kept[0].SignatureOK {
			t.Fatalf("signed IPN %q: kept %+v (%v)", answer, kept, err)
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
		// Each page grows with the answer, never faster (a deep nest
		// indented grew as its square).
		for _, p := range []*httptest.ResponseRecorder{w, list} {
			if n := p.Body.Len(); n > 8<<10+32*len(answer) {
				t.Fatalf("a page of %d bytes for %d bytes of answer %.100q", n, len(answer), answer)
			}
		}
	})
}
