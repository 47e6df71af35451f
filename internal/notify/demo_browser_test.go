package notify_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// The demo mailbox on a phone: its table of six columns (a date, an address,
// a long subject) was 900 px wide at 375 px and made the whole page scroll
// sideways, the header's rule ending at the screen's edge. The page must fit
// the screen, with every message's subject (its link) on it.
func TestDemoMailboxFitsAPhone(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	for i := range 3 {
		err := db.KeepDemoMessage(ctx, store.DemoMessage{OutboxID: fmt.Sprint("o", i), ShopID: "69876357", Channel: "email", Event: "payment.accepted",
			Mode: "TEST", Recipient: "kaeufer.mit.langem.namen@example.com", Subject: "[TEST] Zahlung bestätigt: Bestellung qa92-2 bei OpenPSP Demo Shop",
			Text: "…", CreatedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
	}
	// An SMS has no subject: its text is the row's link, and it names the
	// token, a 32-character word. It made the table, and the page, 1222 px
	// wide at 1024.
	err := db.KeepDemoMessage(ctx, store.DemoMessage{OutboxID: "o-sms", ShopID: "69876357", Channel: "sms", Event: "token.created",
		Mode: "TEST", Recipient: "+33600000000", Text: "[TEST] OpenPSP Demo Shop: token af53a4890f996bdbeeb3154373278857 created (CB ****0055).",
		CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(notify.DemoHandler(db, notify.DemoOptions{Logger: quiet()}))
	defer srv.Close()
	b := browsertest.New(t)
	for _, w := range []int64{320, 375, 1024, 1040, 1280} {
		if err := chromedp.Do(b, chromedp.EmulateViewport(w, 800), chromedp.Navigate(srv.URL+"/demo/mail"), chromedp.WaitVisible(chromedp.CSS("table"))); err != nil {
			t.Fatal(err)
		}
		fits, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if !fits {
			sw, _ := chromedp.Run(b, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			t.Errorf("at %d px the mailbox page is %d px wide: it scrolls sideways", w, sw)
		}
		// What the buyer's message says is the row's link: on screen, not
		// hidden past the right edge of a table that scrolls.
		shown, err := chromedp.Run(b, chromedp.Evaluate[bool](`[...document.querySelectorAll("tbody a")].every(a => { const r = a.getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth && r.width > 0; })`))
		if err != nil {
			t.Fatal(err)
		}
		if !shown {
			t.Errorf("at %d px a message's subject is not on screen", w)
		}
		if w >= 1024 {
			// On a wide screen the other columns keep their words whole:
			// cutting every cell made "Em" / "ail" and "Typ" / "e".
			cut, err := chromedp.Run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("th, td")].filter(c => !c.classList.contains("subject")).flatMap(c => {
				const out = [], walk = document.createTreeWalker(c, NodeFilter.SHOW_TEXT);
				for (let n = walk.nextNode(); n; n = walk.nextNode()) {
					for (const m of n.data.matchAll(/\S+/g)) {
						const r = document.createRange(); r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
						if (new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1) out.push(m[0]);
					}
				}
				return out;
			})`))
			if err != nil {
				t.Fatal(err)
			}
			if len(cut) > 0 {
				t.Errorf("at %d px these words are cut across lines: %q", w, cut)
			}
		}
	}
	browsertest.NoConsoleErrors(t, b)
}
