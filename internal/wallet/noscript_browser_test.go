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
// line, the focus on it; the card's token is CANCELLED in the store
// (logical deletion, as the scripted deletion does), and the other saved
// card pays. The form comes back by a redirection (Post/Redirect/Get):
// reloading it, which posted the deletion again and read "The card could
// not be deleted", shows the same page.
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
	if got := text(t, ctx, "#kr-confirm-text"); !strings.Contains(got, "2045") {
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
	u := eval[string](t, ctx, `location.href`)
	if !strings.Contains(u, "kr-language=en") || !strings.Contains(u, "kr-post-url-success") || !strings.Contains(u, "deleted=2045") ||
		!strings.HasSuffix(u, "#kr-wallet-msg") || !strings.Contains(u, "/pay/"+ft+"?") {
		t.Errorf("the page after the deletion is %s, want the form's with its parameters", u)
	}
	for load := range 2 {
		if load == 1 {
			must(t, chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#kr-wallet-msg"))), "reloading")
		}
		if got := text(t, ctx, "#kr-wallet-msg"); !strings.Contains(got, "2045 has been deleted") {
			t.Errorf("load %d: status after the deletion %q", load+1, got)
		}
		// A reload keeps the scroll, not the fragment's focus (Chromium).
		if got := eval[string](t, ctx, `document.activeElement.id`); load == 0 && got != "kr-wallet-msg" {
			t.Errorf("the focus is on %q after the deletion, want the status line", got)
		}
		if got := eval[string](t, ctx, `document.getElementById('kr-form-error').textContent`); got != "" {
			t.Errorf("load %d: the form reads the error %q", load+1, got)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('#kr-panel-saved .saved-card').length`); n != 1 {
			t.Errorf("load %d: %d saved cards shown after the deletion, want 1", load+1, n)
		}
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

// TestBrowserNoScriptWalletDeleteLastCard: a buyer without the script
// deletes their only saved card. The outcome read as an error (the form's
// red alert); it is a status (role=status, the text's colour), in the
// page's language, above the card form, where the buyer pays with a new
// card.
func TestBrowserNoScriptWalletDeleteLastCard(t *testing.T) {
	ctx := browsertest.New(t)
	browsertest.BlockFormScript(t, ctx)
	e := newEnv(t, storetest.SQLite(t), clock.Real{})
	m := newMerchant(t)
	exp := card.Expiry{Month: 12, Year: time.Now().Year() + 4}
	only := e.tokenize(cardOK, "buyer-1", shop.ModeTest, exp, "").Value
	ft := e.formToken(walletPayment(1990, "nojs-last", "buyer-1"))
	pageURL := e.srv.URL + "/pay/" + ft + "?kr-language=fr&kr-post-url-success=" + url.QueryEscape(m.srv.URL+"/paid")
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(pageURL),
		chromedp.Click(chromedp.CSS(`#kr-panel-saved .trash`)),
		chromedp.WaitVisible(chromedp.CSS("#kr-delete-yes")),
		chromedp.Click(chromedp.CSS("#kr-delete-yes")),
		chromedp.WaitVisible(chromedp.CSS("#kr-wallet-msg")),
	), "deleting the only card")
	if got := tokenValues(e.tokens("buyer-1", "CANCELLED")); !slices.Equal(got, []string{only}) {
		t.Fatalf("cancelled tokens %v, want %s", got, only)
	}
	if got := text(t, ctx, "#kr-wallet-msg"); got != "La carte se terminant par 0055 a été supprimée." {
		t.Errorf("status after the deletion %q", got)
	}
	if got := eval[string](t, ctx, `document.getElementById('kr-wallet-msg').getAttribute('role')`); got != "status" {
		t.Errorf("the outcome's role is %q, want status", got)
	}
	if got := eval[string](t, ctx, `document.documentElement.lang`); got != "fr" {
		t.Errorf("the page's language is %q", got)
	}
	// Not the error's styling: the error area stays empty and hidden, and
	// the status is in the text's colour, not the error's red.
	if got := eval[bool](t, ctx, `(function () {
		var err = document.getElementById('kr-form-error'), msg = document.getElementById('kr-wallet-msg');
		var red = getComputedStyle(document.documentElement).getPropertyValue('--error').trim();
		var probe = document.createElement('span'); probe.style.color = red; document.body.appendChild(probe);
		var redRGB = getComputedStyle(probe).color; probe.remove();
		return err.textContent === '' && err.getClientRects().length === 0 && getComputedStyle(msg).color !== redRGB;
	})()`); !got {
		t.Errorf("the outcome is shown as an error")
	}
	if got := eval[string](t, ctx, `document.activeElement.id`); got != "kr-wallet-msg" {
		t.Errorf("the focus is on %q, want the status line", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#kr-wallet, .saved-card').length`); n != 0 {
		t.Errorf("a wallet is still shown (%d elements)", n)
	}

	// A new card pays.
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), cardMC),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), fmt.Sprintf("12/%02d", exp.Year%100)),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-return button")),
		chromedp.Click(chromedp.CSS("#kr-return button")),
	), "paying with a new card")
	if a := m.answer(t, ctx); get(a, "orderStatus") != "PAID" {
		t.Fatalf("payment with a new card after the deletion %v", fmt.Sprint(a))
	}
}
