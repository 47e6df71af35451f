package demo

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted"
	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// TestBrowserReturnPageWrapsBetweenWords: on a phone the return page's facts
// (transaction id with its status, masked card number) wrap at spaces, and
// only a word wider than the facts' box is cut. With word-break: break-all the
// page read "(AU" / "THORISED)" and "497011XXXXXX00" / "21" at 375 px; with
// the labels beside their values, "497010XXXXXX005" / "5" at 360 px, the
// value's column narrower than the number though the box was not.
func TestBrowserReturnPageWrapsBetweenWords(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	New(Options{BaseURL: func() string { return srv.URL }, Language: hosted.PageLanguage}).Register(mux)

	answer := `{"orderStatus":"PAID","orderDetails":{"orderId":"demo-bace8cc239","orderTotalAmount":1250,"orderCurrency":"EUR"},` +
		`"transactions":[{"uuid":"01a20af93b9271b7a172ed5ee7672fe9","detailedStatus":"AUTHORISED",` +
		`"transactionDetails":{"cardDetails":{"effectiveBrand":"CB","pan":"497011XXXXXX0021"}}}]}`
	// The buyer's browser comes back with a POST: this page makes it.
	mux.HandleFunc("/back", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!DOCTYPE html><title>back</title><form method="post" action="/demo/return?lang=fr">`+
			field("kr-answer", answer)+field("kr-hash", sign(answer, shop.DemoTestHMACKey))+
			field("kr-hash-algorithm", "sha256_hmac")+field("kr-hash-key", "sha256_hmac")+field("kr-answer-type", "V4/Payment")+
			`<button id="go" type="submit">go</button></form>`)
	})

	ctx := browsertest.New(t)
	for _, width := range []int64{320, 360, 375, 390, 414} {
		type cut struct {
			Word  string
			Lines int
		}
		var cuts []cut
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(width, 800),
			chromedp.Navigate(srv.URL+"/back"),
			chromedp.Click(chromedp.CSS("#go")),
			chromedp.WaitVisible(chromedp.CSS(".facts")),
		)
		if err == nil {
			// Every word of a fact that fits the width of the facts' box
			// must sit on one line.
			cuts, err = chromedp.Run(ctx, chromedp.Evaluate[[]cut](`(function () {
				var out = [];
				document.querySelectorAll('.facts dd').forEach(function (dd) {
					var walker = document.createTreeWalker(dd, NodeFilter.SHOW_TEXT);
					for (var n = walker.nextNode(); n; n = walker.nextNode()) {
						var re = /\S+/g, m;
						while ((m = re.exec(n.data))) {
							var r = document.createRange();
							r.setStart(n, m.index);
							r.setEnd(n, m.index + m[0].length);
							var tops = {};
							Array.prototype.forEach.call(r.getClientRects(), function (b) { tops[Math.round(b.top)] = true; });
							var lines = Object.keys(tops).length;
							// The word's own width, on one line: the box
							// of a cut word is that of its pieces.
							var probe = document.createElement('span');
							probe.style.whiteSpace = 'nowrap';
							probe.style.position = 'absolute';
							probe.textContent = m[0];
							n.parentNode.appendChild(probe);
							var width = probe.getBoundingClientRect().width;
							probe.remove();
							var box = dd.parentElement, bs = getComputedStyle(box);
							var avail = box.clientWidth - parseFloat(bs.paddingLeft) - parseFloat(bs.paddingRight);
							if (lines > 1 && width <= avail) {
								out.push({Word: m[0], Lines: lines});
							}
						}
					}
				});
				return out;
			})()`))
		}
		if err != nil {
			t.Fatalf("%d px: %v", width, err)
		}
		for _, c := range cuts {
			t.Errorf("%d px: %q is cut across %d lines though it fits the facts' box", width, c.Word, c.Lines)
		}
	}
	browsertest.NoConsoleErrors(t, ctx)
}

func field(name, value string) string {
	return fmt.Sprintf(`<input type="hidden" name="%s" value="%s">`, name, html.EscapeString(value))
}

// TestBrowserIPNListLabelsItsCellsOnAPhone: under 600 px the IPN table is a
// list of stacked cells and its header row is hidden; each cell must then
// say which column it is. The phone showed "valid" and "UNPAID REFUSED"
// with nothing saying that they were the signature check and the status.
func TestBrowserIPNListLabelsItsCellsOnAPhone(t *testing.T) {
	db := storetest.SQLite(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	New(Options{BaseURL: func() string { return srv.URL }, IPNs: db, Language: hosted.PageLanguage}).Register(mux)
	answer := `{"orderStatus":"PAID","orderDetails":{"orderId":"demo-1","orderTotalAmount":1250,"orderCurrency":"EUR"},"transactions":[{"uuid":"abc","detailedStatus":"AUTHORISED"}]}`
	resp, err := http.PostForm(srv.URL+"/demo/ipn", url.Values{"kr-answer": {answer}, "kr-hash": {sign(answer, shop.DemoTestPassword)},
		"kr-hash-key": {"password"}, "kr-hash-algorithm": {"sha256_hmac"}, "kr-answer-type": {"V4/Payment"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	ctx := browsertest.New(t)
	type cell struct{ Header, Label string }
	var cells []cell
	err = chromedp.Do(ctx, chromedp.EmulateViewport(375, 800), chromedp.Navigate(srv.URL+"/demo/ipn"), chromedp.WaitVisible(chromedp.CSS("table.ipn td")))
	if err == nil {
		// What the phone shows before each cell: the ::before text.
		cells, err = chromedp.Run(ctx, chromedp.Evaluate[[]cell](`(function () {
			var heads = Array.prototype.map.call(document.querySelectorAll('table.ipn thead th'), function (th) { return th.textContent.trim(); });
			var out = [];
			document.querySelectorAll('table.ipn tbody tr').forEach(function (tr) {
				Array.prototype.forEach.call(tr.cells, function (td, i) {
					var c = getComputedStyle(td, '::before').content;
					out.push({Header: heads[i], Label: c === 'none' || c === 'normal' ? '' : c.replace(/^"|"$/g, '')});
				});
			});
			return out;
		})()`))
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 5 {
		t.Fatalf("cells %v", cells)
	}
	for _, c := range cells {
		if c.Label != c.Header {
			t.Errorf("at 375 px the cell of column %q is labelled %q", c.Header, c.Label)
		}
	}
}

// TestBrowserDemoLinksAreEasyToTap: on a phone the header's links (the
// shop, FlexCheckout, the IPNs, the mailbox) are at least 44 px tall, the
// size of a fingertip (Apple's and WCAG 2.5.5's 44 px): they were lines of
// text 24 px tall, two rows of them close together.
func TestBrowserDemoLinksAreEasyToTap(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	New(Options{BaseURL: func() string { return srv.URL }, Language: hosted.PageLanguage}).Register(mux)

	ctx := browsertest.New(t)
	type link struct {
		Text   string
		Height float64
	}
	for _, path := range []string{"/demo?lang=de"} {
		err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile), chromedp.Navigate(srv.URL+path),
			chromedp.WaitVisible(chromedp.CSS("header nav a")))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		links, err := chromedp.Run(ctx, chromedp.Evaluate[[]link](`Array.from(document.querySelectorAll('header nav a')).map(a => ({Text: a.textContent.trim(), Height: a.getBoundingClientRect().height}))`))
		if err != nil || len(links) == 0 {
			t.Fatalf("%s: links %v, %v", path, links, err)
		}
		for _, l := range links {
			if l.Height < 44 {
				t.Errorf("%s at 360 px: the link %q is %.0f px tall, want 44 at least", path, l.Text, l.Height)
			}
		}
	}
	browsertest.NoConsoleErrors(t, ctx)
}
