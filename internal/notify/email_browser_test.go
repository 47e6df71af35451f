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

// emailViewer serves the email being checked to the browser. The browser
// may still fetch from the server (a favicon, a late request of the page
// before) while a loop sets the next one: an atomic value, not a plain
// string.
type emailViewer struct {
	html atomic.Pointer[string]
	srv  *httptest.Server
}

func newEmailViewer(t *testing.T) *emailViewer {
	v := &emailViewer{}
	v.html.Store(new(string))
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(*v.html.Load()))
	}))
	t.Cleanup(v.srv.Close)
	return v
}

// show opens html in the browser b, width px wide.
func (v *emailViewer) show(t *testing.T, b context.Context, width int64, html string) {
	t.Helper()
	v.html.Store(&html)
	if err := chromedp.Do(b, chromedp.EmulateViewport(width, 800), chromedp.Navigate(v.srv.URL), chromedp.WaitVisible(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
}

// The buyer's order confirmation, opened on a phone, was 525 px wide at 375:
// the transaction id (32 characters without a break) kept its table from
// shrinking, and a mail client then zooms the whole message out or scrolls
// it sideways. Every HTML email, in the longest languages, must fit 320 px.
func TestEmailsFitAPhone(t *testing.T) {
	v := newEmailViewer(t)
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
			v.show(t, b, 320, out.HTML)
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

// An order id of a usual length ("CMD-2026-11-25-000123456") broke across
// two lines of the buyer's email on a phone (at its hyphens, in the narrow
// column beside its label) although the screen has room for it: the buyer
// quotes it to the shop. It must keep to one line where it fits, and an id
// too long for the screen must still wrap, the email staying on screen.
func TestEmailOrderIDOnOneLine(t *testing.T) {
	v := newEmailViewer(t)
	b := browsertest.New(t)
	r := notify.NewRenderer(nil, nil)
	const long = "ORDER-2026-11-25-0001234567890-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789"
	for _, c := range []struct {
		order  string
		lines  int // 0: more than one
		widths []int64
	}{
		// 375 px: the common phone; at 320 its 248 px of text are too narrow for it.
		{"CMD-2026-11-25-000123456", 1, []int64{375, 414}},
		{"CMD-2026-000123456", 1, []int64{320}},
		{long, 0, []int64{320, 375}},
	} {
		for _, id := range []string{notify.TplPaymentAcceptedBuyer, notify.TplPaymentRefusedBuyer} {
			for _, lang := range []string{"en", "fr", "es", "it", "de"} {
				for _, width := range c.widths {
					content := notify.SampleContent(id)
					content.Lang = lang
					content.Payment.OrderID = c.order
					out, err := r.Email(context.Background(), content)
					if err != nil {
						t.Fatal(err)
					}
					v.show(t, b, width, out.HTML)
					got, err := chromedp.Run(b, chromedp.Evaluate[[]int](`(() => {
						const td = [...document.querySelectorAll('td')].find(e => e.textContent === `+"`"+c.order+"`"+`);
						if (!td) return [-1, 0];
						const r = document.createRange();
						r.selectNodeContents(td);
						const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
						return [tops.size, document.documentElement.scrollWidth];
					})()`))
					if err != nil {
						t.Fatal(err)
					}
					lines, wide := got[0], got[1]
					if wide > int(width) || lines < 1 || (c.lines == 1) != (lines == 1) {
						t.Errorf("%s (%s) at %d px: order id %q on %d lines, email %d px wide", id, lang, width, c.order, lines, wide)
					}
				}
			}
		}
	}
}
