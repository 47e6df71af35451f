package wallet_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// TestBrowserOneClick is Lyra's one-click payment in a real browser:
// Charge/CreatePayment with only amount, currency and paymentMethodToken;
// the hosted page shows the saved card (brand, masked number, expiry)
// chosen, and the buyer confirms it with its security code (asked, checked
// before anything is sent); a refused saved card, then another card from
// the "New card" tab on the same form; a card that takes a 3-D Secure
// challenge; the page in French; the embedded form in German.
func TestBrowserOneClick(t *testing.T) {
	ctx := browsertest.New(t)
	// The browser checks expiry dates with its own clock: use the real one.
	e := newEnv(t, storetest.SQLite(t), clock.Real{})
	m := newMerchant(t)
	year := time.Now().Year() + 4
	exp := card.Expiry{Month: 12, Year: year}
	expiry := fmt.Sprintf("12%02d", year%100)
	hostedURL := func(ft, lang string) string {
		return e.srv.URL + "/pay/" + ft + "?kr-language=" + lang + "&kr-post-url-success=" + url.QueryEscape(m.srv.URL+"/paid")
	}
	oneClick := func(token, order string) string {
		t.Helper()
		a := e.ok("Charge/CreatePayment", map[string]any{"amount": 990, "currency": "EUR", "orderId": order, "paymentMethodToken": token})
		ft, _ := a["formToken"].(string)
		if ft == "" || a["_type"] != "V4/Charge/PaymentForm" {
			t.Fatalf("one-click CreatePayment answered %v", a)
		}
		return ft
	}
	tok := e.tokenize(cardOK, "", shop.ModeTest, exp, `{"email":"buyer@example.com"}`).Value

	// 1. The saved card, chosen; the security code is asked first.
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(oneClick(tok, "oc-1"), "en")),
		chromedp.WaitVisible(chromedp.CSS("#kr-saved-csc")),
	), "one-click form")
	if got := text(t, ctx, ".saved-card label"); !strings.Contains(got, "CB") || !strings.Contains(got, "497010XXXXXX0055") ||
		!strings.Contains(got, fmt.Sprintf("expires 12/%02d", year%100)) {
		t.Errorf("saved card reads %q", got)
	}
	if !eval[bool](t, ctx, `document.querySelector('#kr-panel-saved input[type=radio]').checked && document.getElementById('kr-panel-new').hidden`) {
		t.Error("the saved card is not chosen, or the new card fields show")
	}
	if eval[bool](t, ctx, `!!document.querySelector('.trash') || !!document.getElementById('kr-save') || !!document.getElementById('kr-confirm')`) {
		t.Error("a one-click form offers to delete or save the card")
	}
	if got := text(t, ctx, `label[for="kr-saved-csc"]`); got != "Security code" {
		t.Errorf("security code label %q", got)
	}
	if strings.Contains(eval[string](t, ctx, `document.documentElement.outerHTML`), tok) {
		t.Error("the page holds the paymentMethodToken")
	}
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-saved-csc-error")),
	), "paying without the security code")
	if got := text(t, ctx, "#kr-saved-csc-error"); got != "Enter the security code." {
		t.Errorf("security code error %q", got)
	}
	if got := eval[string](t, ctx, `document.activeElement.id`); got != "kr-saved-csc" {
		t.Errorf("focus on %q, want the security code", got)
	}
	if n := e.count(`SELECT COUNT(*) FROM transactions`); n != 0 {
		t.Fatalf("%d transactions before the buyer confirmed", n)
	}
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-saved-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
	), "confirming the saved card")
	a := m.answer(t, ctx)
	if get(a, "orderStatus") != "PAID" || get(a, "transactions.paymentMethodToken") != tok ||
		get(a, "transactions.transactionDetails.cardDetails.paymentMethodSource") != "TOKEN" ||
		get(a, "transactions.transactionDetails.cardDetails.pan") != "497010XXXXXX0055" || get(a, "orderDetails.orderId") != "oc-1" {
		t.Fatalf("one-click payment %v", a)
	}

	// 2. A saved card refused: the buyer pays with another card instead,
	// on the same form.
	refused := e.tokenize(cardRefuse, "", shop.ModeTest, exp, "").Value
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(oneClick(refused, "oc-2"), "en")),
		chromedp.WaitVisible(chromedp.CSS("#kr-saved-csc")),
		chromedp.SendKeys(chromedp.CSS("#kr-saved-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-attempts")),
	), "a refused saved card")
	waitText(t, ctx, "#kr-form-error", "refused")
	if got := text(t, ctx, "#kr-attempts"); got != "You have 2 attempts left." {
		t.Errorf("attempts after a refusal %q", got)
	}
	if got := eval[string](t, ctx, `document.getElementById('kr-saved-csc').value`); got != "" {
		t.Errorf("the security code stays after a refusal: %q", got)
	}
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#kr-tab-new")),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), cardMC),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), expiry),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
	), "another card")
	a = m.answer(t, ctx)
	txs, _ := a["transactions"].([]any)
	if get(a, "orderStatus") != "PAID" || len(txs) != 2 {
		t.Fatalf("another card after a refused saved card: %v", a)
	}
	if last := txs[1].(map[string]any); get(last, "paymentMethodToken") != nil ||
		get(last, "transactionDetails.cardDetails.paymentMethodSource") != "NEW" || get(last, "detailedStatus") != "AUTHORISED" {
		t.Fatalf("the new card's transaction %v", last)
	}

	// 3. In French, the buyer chooses another card at once.
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(oneClick(tok, "oc-3"), "fr")),
		chromedp.WaitVisible(chromedp.CSS("#kr-saved-csc")),
	), "French one-click form")
	for sel, want := range map[string]string{`label[for="kr-saved-csc"]`: "Cryptogramme visuel", "#kr-tab-saved": "Cartes enregistrées", "#kr-tab-new": "Nouvelle carte"} {
		if got := text(t, ctx, sel); got != want {
			t.Errorf("%s reads %q, want %q", sel, got, want)
		}
	}
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#kr-tab-new")),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), cardAmex),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), expiry),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "1234"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
	), "another card in French")
	a = m.answer(t, ctx)
	if get(a, "orderStatus") != "PAID" || get(a, "transactions.paymentMethodToken") != nil ||
		get(a, "transactions.transactionDetails.cardDetails.paymentMethodSource") != "NEW" {
		t.Fatalf("another card instead of the saved one: %v", a)
	}

	// 4. A saved card that takes a 3-D Secure challenge: the customer is
	// present, authenticated like with a typed card.
	challenge := e.tokenize("4970110000000021", "", shop.ModeTest, exp, "").Value
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(oneClick(challenge, "oc-4"), "en")),
		chromedp.WaitVisible(chromedp.CSS("#kr-saved-csc")),
		chromedp.SendKeys(chromedp.CSS("#kr-saved-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-acs-approve")),
		chromedp.Click(chromedp.CSS("#kr-acs-approve")),
	), "3-D Secure challenge of a saved card")
	a = m.answer(t, ctx)
	if get(a, "orderStatus") != "PAID" || get(a, "transactions.paymentMethodToken") != challenge ||
		get(a, "transactions.effectiveStrongAuthentication") != "ENABLED" {
		t.Fatalf("one-click payment after a challenge: %v", a)
	}

	// 5. The embedded form, in German.
	m.page = fmt.Sprintf(`<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<script src="%[1]s/static/js/krypton-client/V4.0/stable/kr-payment-form.min.js"
  kr-public-key="%[2]s" kr-post-url-success="%[3]s/paid" kr-language="de"></script>
<script>KR.onFormReady(function () { document.body.setAttribute('data-ready', '1'); });</script>
</head><body><div class="kr-embedded" kr-form-token="%[4]s"></div></body></html>`, e.srv.URL, publicKey, m.srv.URL, oneClick(tok, "oc-5"))
	must(t, chromedp.Do(ctx, chromedp.Navigate(m.srv.URL), chromedp.WaitReady(chromedp.CSS("body[data-ready]"))), "merchant page")
	in := frame(t, ctx, "#kr-saved-csc")
	if got := text(t, ctx, `label[for="kr-saved-csc"]`, in); got != "Sicherheitscode" {
		t.Errorf("security code label in the frame %q", got)
	}
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-saved-csc"), "123", in),
		chromedp.Click(chromedp.CSS("#kr-pay"), in),
	), "confirming in the frame")
	if a := m.answer(t, ctx); get(a, "transactions.paymentMethodToken") != tok || get(a, "orderStatus") != "PAID" {
		t.Fatalf("one-click in the frame: %v", a)
	}
	browsertest.NoConsoleErrors(t, ctx)
}

// waitText waits until sel's text contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if strings.Contains(text(t, ctx, sel), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s reads %q, want %q in it", sel, text(t, ctx, sel), want)
}
