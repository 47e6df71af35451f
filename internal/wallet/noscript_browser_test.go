package wallet_test

import (
	"fmt"
	"net/url"
	"slices"
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

// TestBrowserNoScriptWalletDelete: a buyer whose browser runs no script
// (form.js blocked) deletes a saved card: the bin icon posts to a
// confirmation page, Cancel goes back with the card still there, Delete
// (a second submit) brings the form back with the card gone and a status
// line; the card's token is CANCELLED in the store (logical deletion, as
// the scripted deletion does), and the other saved card pays.
func TestBrowserNoScriptWalletDelete(t *testing.T) {
	ctx := browsertest.New(t)
	browsertest.BlockFormScript(t, ctx)
	e := newEnv(t, storetest.SQLite(t), clock.Real{})
	m := newMerchant(t)
	year := time.Now().Year() + 4
	exp := card.Expiry{Month: 12, Year: year}
	first := e.tokenize(cardOK, "buyer-1", shop.ModeTest, exp, "").Value
	second := e.tokenize(cardMC, "buyer-1", shop.ModeTest, exp, "").Value
	ft := e.formToken(walletPayment(1990, "nojs-1", "buyer-1"))
	pageURL := e.srv.URL + "/pay/" + ft + "?kr-language=en&kr-post-url-success=" + url.QueryEscape(m.srv.URL+"/paid")
	bin2045 := `#kr-panel-saved li[data-last4="2045"] .trash`

	must(t, chromedp.Do(ctx,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.CSS(bin2045)),
		chromedp.Click(chromedp.CSS(bin2045)),
		chromedp.WaitVisible(chromedp.CSS("#kr-delete-yes")),
	), "the bin icon without the script")
	if got := text(t, ctx, "#kr-message-title"); !strings.Contains(got, "2045") {
		t.Errorf("confirmation page reads %q", got)
	}
	if got := eval[string](t, ctx, `document.activeElement.id`); got != "kr-delete-no" {
		t.Errorf("the confirmation page starts on %q, want Cancel", got)
	}
	if got := e.tokens("buyer-1", "CANCELLED"); len(got) != 0 {
		t.Fatalf("the first post deleted already: %v", tokenValues(got))
	}
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#kr-delete-no")),
		chromedp.WaitVisible(chromedp.CSS(bin2045)),
	), "cancelling")
	if got := e.tokens("buyer-1", "CANCELLED"); len(got) != 0 {
		t.Fatalf("Cancel deleted: %v", tokenValues(got))
	}
	if u := eval[string](t, ctx, `location.href`); !strings.Contains(u, "kr-language=en") || !strings.Contains(u, "kr-post-url-success") {
		t.Errorf("Cancel lost the page's parameters: %s", u)
	}

	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(bin2045)),
		chromedp.WaitVisible(chromedp.CSS("#kr-delete-yes")),
		chromedp.Click(chromedp.CSS("#kr-delete-yes")),
		chromedp.WaitVisible(chromedp.CSS("#kr-wallet-msg")),
	), "deleting")
	if got := text(t, ctx, "#kr-wallet-msg"); !strings.Contains(got, "2045 has been deleted") {
		t.Errorf("status after the deletion %q", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#kr-panel-saved .saved-card').length`); n != 1 {
		t.Errorf("%d saved cards shown after the deletion, want 1", n)
	}
	if got := tokenValues(e.tokens("buyer-1", "CANCELLED")); !slices.Equal(got, []string{second}) {
		t.Fatalf("cancelled tokens %v, want %s", got, second)
	}
	if got := tokenValues(e.tokens("buyer-1", "")); !slices.Equal(got, []string{first}) {
		t.Fatalf("active tokens %v, want %s", got, first)
	}

	// The card left pays (it is the only one: chosen already).
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-saved-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-return button")),
		chromedp.Click(chromedp.CSS("#kr-return button")),
	), "paying with the card left")
	a := m.answer(t, ctx)
	if get(a, "orderStatus") != "PAID" || get(a, "transactions.paymentMethodToken") != first {
		t.Fatalf("payment after the deletion %v", fmt.Sprint(a))
	}
}
