package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/notify"
)

// The buyer's order confirmation, opened on a phone, was 525 px wide at 375:
// the transaction id (32 characters without a break) kept its table from
// shrinking, and a mail client then zooms the whole message out or scrolls
// it sideways. Every HTML email, in the longest languages, must fit 320 px.
func TestEmailsFitAPhone(t *testing.T) {
	// The page being checked. The browser may still fetch from the server
	// (a favicon, a late request of the page before) while the loop sets
	// the next one: an atomic value, not a plain string.
	var html atomic.Pointer[string]
	html.Store(new(string))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(*html.Load()))
	}))
	defer srv.Close()
	b := browsertest.New(t)
	r := notify.NewRenderer(nil, nil)
	for _, id := range []string{notify.TplPaymentAcceptedBuyer, notify.TplPaymentRefusedBuyer, notify.TplPaymentMerchant,
		notify.TplTokenBuyer, notify.TplTokenMerchant, notify.TplInstalmentMerchant} {
		for _, lang := range []string{"fr", "de"} {
			c := notify.SampleContent(id)
			c.Lang = lang
			out, err := r.Email(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			html.Store(&out.HTML)
			if err := chromedp.Do(b, chromedp.EmulateViewport(320, 800), chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS("body"))); err != nil {
				t.Fatal(err)
			}
			wide, err := chromedp.Run(b, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			if err != nil {
				t.Fatal(err)
			}
			if wide > 320 {
				t.Errorf("%s (%s) is %d px wide on a 320 px screen", id, lang, wide)
			}
		}
	}
}
