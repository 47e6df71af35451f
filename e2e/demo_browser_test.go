package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
)

func futureExpiry() string { return fmt.Sprintf("12%02d", (time.Now().Year()+3)%100) }

// frameQuery returns the query option that targets the first iframe's
// document once sel exists in it.
func frameQuery(t *testing.T, ctx context.Context, sel string) chromedp.QueryOption {
	t.Helper()
	for ctx.Err() == nil {
		frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("iframe")))
		if err == nil && len(frames) > 0 {
			in := chromedp.FromNode(frames[0])
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err = chromedp.Run(short, chromedp.Nodes(chromedp.CSS(sel), in))
			cancel()
			if err == nil {
				return in
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("waiting for %s in the payment frame: %v", sel, ctx.Err())
	return nil
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// pollFor polls fn until it returns "" (done) or the deadline passes.
func pollFor(t *testing.T, d time.Duration, what string, fn func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		if last = fn(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, last)
}

// The newcomer's first minute: /demo, buy a product, pay with 4970100000000055
// in the embedded form, land on the shop's return page with a verified
// signature, see the IPN the shop received and the order confirmation in the
// demo mailbox, in the buyer's language.
func TestDemoPaymentInBrowser(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := browsertest.New(t)
	must := mustDo(t)
	must(chromedp.Do(ctx,
		chromedp.Navigate(s.URL+"/demo"),
		chromedp.WaitVisible(chromedp.CSS("ul.products")),
		chromedp.SetValue(chromedp.CSS("#lang-mug"), "fr"),
		chromedp.SetValue(chromedp.CSS("#email-mug"), "marie@example.com"),
		chromedp.Click(chromedp.CSS("ul.products li:first-child button")),
		chromedp.WaitVisible(chromedp.CSS(".kr-embedded iframe")),
	), "opening the checkout")
	in := frameQuery(t, ctx, "#kr-pan")
	must(chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970100000000055", in),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry(), in),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123", in),
		chromedp.Click(chromedp.CSS("#kr-pay"), in),
	), "paying")
	must(chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("dl.facts"))), "landing on the return page")
	result, err := chromedp.Run(ctx, browsertest.Text("main"))
	must(err, "reading the return page")
	for _, want := range []string{"Signature verified", "PAID", "497010XXXXXX0055", "12,50"} {
		if !strings.Contains(result, want) {
			t.Fatalf("return page lacks %q:\n%s", want, result)
		}
	}
	browsertest.NoConsoleErrors(t, ctx)

	pollFor(t, 20*time.Second, "the shop's IPN", func() string {
		page := get(t, s.URL+"/demo/ipn")
		if !strings.Contains(page, ">valid<") || !strings.Contains(page, "PAID") {
			return "no valid PAID IPN listed yet"
		}
		if strings.Contains(page, "INVALID") {
			return "an IPN failed its signature check"
		}
		return ""
	})
	pollFor(t, 20*time.Second, "the order confirmation email", func() string {
		box := get(t, s.URL+"/demo/mail?format=json")
		if !strings.Contains(box, "marie@example.com") {
			return "no email to the buyer yet: " + box
		}
		return ""
	})
	box := get(t, s.URL+"/demo/mail?format=json")
	if !strings.Contains(box, "commande") && !strings.Contains(box, "Commande") && !strings.Contains(box, "paiement") {
		t.Fatalf("the buyer's confirmation is not in French:\n%s", box)
	}
}
