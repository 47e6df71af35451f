package demo

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/hosted"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

func sign(answer, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(answer))
	return hex.EncodeToString(m.Sum(nil))
}

func TestIPNReceiverChecksSignatures(t *testing.T) {
	db := storetest.SQLite(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	New(Options{BaseURL: func() string { return srv.URL }, IPNs: db, Language: hosted.PageLanguage}).Register(mux)

	answer := `{"orderStatus":"PAID","orderDetails":{"orderId":"demo-1","orderTotalAmount":1250,"orderCurrency":"EUR"},"transactions":[{"uuid":"abc","detailedStatus":"AUTHORISED"}]}`
	post := func(hash string) int {
		resp, err := http.PostForm(srv.URL+"/demo/ipn", url.Values{"kr-answer": {answer}, "kr-hash": {hash},
			"kr-hash-key": {"password"}, "kr-hash-algorithm": {"sha256_hmac"}, "kr-answer-type": {"V4/Payment"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(sign(answer, shop.DemoTestPassword)); code != 200 {
		t.Fatalf("valid IPN answered %d", code)
	}
	if code := post(sign(answer, "wrong")); code != 400 {
		t.Fatalf("forged IPN answered %d", code)
	}
	resp, err := http.Get(srv.URL + "/demo/ipn")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if strings.Count(page, `<td data-label="Order">demo-1</td>`) != 2 || !strings.Contains(page, ">valid<") || !strings.Contains(page, ">INVALID<") {
		t.Fatalf("IPN list does not show both IPNs with their check:\n%s", page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP: %q", csp)
	}
}

func TestReturnPageVerifiesKRHash(t *testing.T) {
	h := New(Options{BaseURL: func() string { return "http://127.0.0.1" }, Language: hosted.PageLanguage})
	answer := `{"orderStatus":"PAID","orderDetails":{"orderId":"demo-2","orderTotalAmount":2490,"orderCurrency":"EUR"}}`
	for _, tc := range []struct {
		key  string
		want string
	}{{shop.DemoTestHMACKey, "Signature verified"}, {"nope", "Signature INVALID"}} {
		form := url.Values{"kr-answer": {answer}, "kr-hash": {sign(answer, tc.key)}, "kr-hash-algorithm": {"sha256_hmac"}, "kr-hash-key": {"sha256_hmac"}}
		req := httptest.NewRequest("POST", "/demo/return?lang=fr", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.returnPage(w, req)
		if !strings.Contains(w.Body.String(), tc.want) || !strings.Contains(w.Body.String(), "24,90") {
			t.Fatalf("key %s: page does not say %q:\n%s", tc.key, tc.want, w.Body.String())
		}
	}
}

// The demo shop is written in English whatever language the buyer picks
// for the payment form (?lang= only sets kr-language and the price format):
// its pages must say lang="en", or screen readers read English text with a
// French or German voice (WCAG 3.1.1).
func TestDemoPagesDeclareTheirOwnLanguage(t *testing.T) {
	h := New(Options{BaseURL: func() string { return "http://127.0.0.1" }, Language: hosted.PageLanguage})
	mux := http.NewServeMux()
	h.Register(mux)
	for _, target := range []string{"/demo?lang=de", "/demo/return?lang=fr", "/demo/flexcheckout/result?lang=it"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		if !strings.Contains(w.Body.String(), `<html lang="en">`) {
			t.Errorf("%s: English page not declared lang=\"en\":\n%.200s", target, w.Body.String())
		}
	}
}

// TestCheckoutHostedLinkKeepsLanguage: the checkout's link to the hosted
// payment page carries the buyer's language to the page (kr-language) and
// back to the shop's return page (?lang= on the return URLs, as the embedded
// form's return URLs have); the buyer came back to an English-formatted page.
func TestCheckoutHostedLinkKeepsLanguage(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"SUCCESS","answer":{"formToken":"tok123"}}`)
	}))
	defer api.Close()
	h := New(Options{BaseURL: func() string { return api.URL }, Language: hosted.PageLanguage})
	mux := http.NewServeMux()
	h.Register(mux)
	for _, l := range []string{"fr", "de"} {
		form := url.Values{"product": {Products[0].ID}, "quantity": {"1"}, "lang": {l}}
		req := httptest.NewRequest("POST", "/demo/checkout", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		m := regexp.MustCompile(`<a href="([^"]*/pay/tok123[^"]*)"`).FindStringSubmatch(w.Body.String())
		if m == nil {
			t.Fatalf("%s: no link to the hosted page:\n%s", l, w.Body.String())
		}
		u, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		want := api.URL + "/demo/return?lang=" + l
		if q.Get("kr-language") != l || q.Get("kr-post-url-success") != want || q.Get("kr-post-url-refused") != want {
			t.Errorf("%s: hosted page link %s", l, u)
		}
	}
}

// TestDemoTitlesNameTheShopOnce: the layout adds " · OpenPSP Demo Shop" to
// each page's title; the shop page's tab read "OpenPSP Demo Shop · OpenPSP
// Demo Shop".
func TestDemoTitlesNameTheShopOnce(t *testing.T) {
	h := New(Options{BaseURL: func() string { return "http://127.0.0.1" }, Language: hosted.PageLanguage})
	mux := http.NewServeMux()
	h.Register(mux)
	title := regexp.MustCompile(`<title>([^<]*)</title>`)
	for _, target := range []string{"/demo", "/demo?lang=de", "/demo/return?lang=fr", "/demo/flexcheckout/result"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		m := title.FindStringSubmatch(w.Body.String())
		if m == nil {
			t.Errorf("%s: no title", target)
			continue
		}
		if n := strings.Count(html.UnescapeString(m[1]), "OpenPSP Demo Shop"); n > 1 {
			t.Errorf("%s: title %q names the shop %d times", target, m[1], n)
		}
	}
}

// TestFlexResultWritesTheExpiryAsADate: FlexCheckout returns the expiry as
// MMYY (Card.ExpiryDate=1130); the result page showed "CB
// XXXXXXXXXXXX0055 1130", a number run on after the card number.
func TestFlexResultWritesTheExpiryAsADate(t *testing.T) {
	mux := http.NewServeMux()
	New(Options{BaseURL: func() string { return "http://127.0.0.1" }, Language: hosted.PageLanguage}).Register(mux)
	signed := map[string]string{"Alias.AliasId": "A1", "Alias.Status": "0", "Alias.OrderId": "demo-1",
		"Card.Brand": "CB", "Card.CardNumber": "XXXXXXXXXXXX0055", "Card.ExpiryDate": "1130"}
	q := url.Values{"SHASign": {ogoneSHA512(signed, shop.DemoSHAPassphrase, func(n string) bool { return shaOutFields[n] })}}
	for k, v := range signed {
		q.Set(k, v)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/demo/flexcheckout/result?"+q.Encode(), nil))
	body := w.Body.String()
	if !strings.Contains(body, "SHA-OUT verified.") {
		t.Fatalf("signature not verified:\n%s", body)
	}
	if !strings.Contains(body, "<dd>CB XXXXXXXXXXXX0055, expires 11/30</dd>") {
		t.Errorf("card line:\n%s", body)
	}
}

// Anyone may post to /demo/ipn, and a forged IPN is kept to be shown as
// INVALID: the copies kept must stay bounded in number and size, or a loop
// of 1 MB posts fills the database's disk. The newest 200 are kept, a forged
// answer at most 16 KB of it; a signed one whole.
func TestIPNReceiverKeepsABoundedList(t *testing.T) {
	db := storetest.SQLite(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	New(Options{BaseURL: func() string { return srv.URL }, IPNs: db, Language: hosted.PageLanguage}).Register(mux)
	post := func(answer, hash string) {
		t.Helper()
		resp, err := http.PostForm(srv.URL+"/demo/ipn", url.Values{"kr-answer": {answer}, "kr-hash": {hash},
			"kr-hash-key": {"password"}, "kr-hash-algorithm": {"sha256_hmac"}, "kr-answer-type": {"V4/Payment"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	big := `{"orderStatus":"PAID","orderDetails":{"orderId":"big"},"x":"` + strings.Repeat("a", 900<<10) + `"}`
	post(big, "forged")
	for i := range 205 {
		post(`{"orderStatus":"PAID","orderDetails":{"orderId":"forged-`+strconv.Itoa(i)+`"}}`, "forged")
	}
	signed := `{"orderStatus":"PAID","orderDetails":{"orderId":"signed"},"x":"` + strings.Repeat("b", 20<<10) + `"}`
	post(signed, sign(signed, shop.DemoTestPassword))
	kept, err := db.DemoIPNs(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 200 || kept[0].OrderID != "signed" || kept[0].Answer != signed || !kept[0].SignatureOK {
		t.Fatalf("kept %d IPNs, newest %q (signature %v, %d bytes); want 200, the signed one whole first", len(kept), kept[0].OrderID, kept[0].SignatureOK, len(kept[0].Answer))
	}
	total := 0
	for _, n := range kept {
		total += len(n.Answer)
		if n.OrderID == "forged-5" {
			t.Errorf("an older IPN is still kept beyond the newest 200")
		}
	}
	if total > 200*(16<<10) {
		t.Errorf("the kept IPNs hold %d KB", total>>10)
	}
	// The big forged one is gone by now; alone, it is cut.
	post(big, "forged")
	if kept, _ = db.DemoIPNs(context.Background(), 1); len(kept[0].Answer) > 16<<10 {
		t.Errorf("a forged IPN kept whole: %d KB", len(kept[0].Answer)>>10)
	}
}

// The return page and the IPN list show kr-answer indented, which adds two
// spaces per level to every line: "[[[…]]]" nested n deep became n lines of
// up to 2n spaces, so 16 KB posted by anyone (a forged IPN is kept up to
// 16 KB, the list shows 100) made a page of 128 MB, and a 1 MB post to the
// return page one of 200 MB. The page must stay within a constant factor
// of what was posted.
func TestAnswerPagesStayLinearInTheAnswer(t *testing.T) {
	db := storetest.SQLite(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	New(Options{BaseURL: func() string { return srv.URL }, IPNs: db, Language: hosted.PageLanguage}).Register(mux)
	fetch := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		// Read at most 8 MB: the bound below is far smaller, and a page
		// that breaks it must not fill this test's memory either.
		b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %v", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, err)
		}
		return string(b)
	}
	form := func(answer, key string) url.Values {
		return url.Values{"kr-answer": {answer}, "kr-hash": {sign(answer, key)}, "kr-hash-key": {"password"},
			"kr-hash-algorithm": {"sha256_hmac"}, "kr-answer-type": {"V4/Payment"}}
	}
	empty := fetch(http.Get(srv.URL + "/demo/ipn"))
	const depth = 8000 // 16 KB, the most of a forged IPN that is kept
	nested := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	wide := strings.Repeat("[", 20) + strings.Repeat("1,", 8000) + "1" + strings.Repeat("]", 20)
	for _, answer := range []string{nested, wide, `{"orderStatus":"PAID","x":` + nested[:2000] + nested[len(nested)-2000:] + `}`} {
		for _, key := range []string{shop.DemoTestPassword, "forged"} {
			resp, err := http.PostForm(srv.URL+"/demo/ipn", form(answer, key))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		ret := fetch(http.PostForm(srv.URL+"/demo/return", form(answer, shop.DemoTestHMACKey)))
		list := fetch(http.Get(srv.URL + "/demo/ipn"))
		// The page's own markup, then each answer (HTML escaping
		// included) at most 16 times its size.
		if limit := len(empty) + 16*len(answer); len(ret) > limit {
			t.Errorf("the return page for %d bytes of answer is %d bytes (limit %d)", len(answer), len(ret), limit)
		}
		if limit := len(empty) + 2*(4<<10) + 2*16*len(answer); len(list) > limit {
			t.Errorf("the IPN list with 2 IPNs of %d bytes is %d bytes (limit %d)", len(answer), len(list), limit)
		}
		if !strings.Contains(list, html.EscapeString(answer[:100])) {
			t.Errorf("the IPN list does not show the answer as posted: %.300s", list)
		}
		if _, err := db.DeleteDemoIPNsBefore(context.Background(), time.Now().Add(time.Hour), 10); err != nil {
			t.Fatal(err)
		}
	}
	// An answer of ordinary depth is still shown indented.
	ipn := `{"orderStatus":"PAID","transactions":[{"transactionDetails":{"cardDetails":{"effectiveBrand":"VISA"}}}]}`
	ret := fetch(http.PostForm(srv.URL+"/demo/return", form(ipn, shop.DemoTestHMACKey)))
	if !strings.Contains(ret, "\n        &#34;cardDetails&#34;: {\n          &#34;effectiveBrand&#34;: &#34;VISA&#34;") {
		t.Errorf("the return page does not indent an ordinary answer: %.2000s", ret)
	}
}

// The IPN list writes when each IPN arrived in the demo shop's time zone,
// named as the English emails name it, as /demo/mail does (notify's
// DemoTime): it said "Received (UTC)" and 17:30 for an IPN the shop's
// emails tell at 18:30 CET. A demo shop that is not there is in UTC, said
// so.
func TestIPNListTimesInTheShopsZone(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		at := time.Date(2030, 11, 22, 17, 30, 0, 0, time.UTC)
		mux := http.NewServeMux()
		New(Options{BaseURL: func() string { return "http://127.0.0.1" }, IPNs: db, Shops: db, Now: func() time.Time { return at },
			Language: hosted.PageLanguage}).Register(mux)
		answer := `{"orderStatus":"PAID","orderDetails":{"orderId":"demo-1","orderTotalAmount":1250,"orderCurrency":"EUR"}}`
		form := url.Values{"kr-answer": {answer}, "kr-hash": {sign(answer, shop.DemoTestPassword)}, "kr-hash-key": {"password"}}
		req := httptest.NewRequest("POST", "/demo/ipn", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("IPN: %d %s", rec.Code, rec.Body)
		}
		list := func() string {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/demo/ipn", nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("/demo/ipn: %d %s", rec.Code, rec.Body)
			}
			return rec.Body.String()
		}
		if page := list(); !strings.Contains(page, "<span>2030-11-22</span> <span>17:30:00\u00a0UTC</span></time>") {
			t.Errorf("without the demo shop, the time is not in UTC said so:\n%s", page)
		}
		s := shop.Shop{ID: shop.DemoShopID, Name: shop.DemoShopName, Currency: "EUR", Language: "en", PrimaryEmail: shop.DemoMerchantEmail}
		s.Settings.TimeZone = "Europe/Paris"
		if err := db.InsertShop(context.Background(), s, nil, nil, at); err != nil {
			t.Fatal(err)
		}
		page := list()
		for _, want := range []string{`<time datetime="2030-11-22T17:30:00Z"><span>2030-11-22</span> <span>18:30:00` + "\u00a0" + `CET</span></time>`,
			`<th scope="col">Received</th>`, `<td data-label="Received" class="when">`} {
			if !strings.Contains(page, want) {
				t.Errorf("list lacks %q:\n%s", want, page)
			}
		}
		if strings.Contains(page, "(UTC)") {
			t.Errorf("list labels every time UTC:\n%s", page)
		}
	})
}
