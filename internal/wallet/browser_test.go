package wallet_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

// merchant is the merchant's site: its return URL records what the browser
// brought back, its page embeds the form.
type merchant struct {
	srv   *httptest.Server
	posts chan url.Values
	page  string
}

func newMerchant(t *testing.T) *merchant {
	m := &merchant{posts: make(chan url.Values, 4)}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, m.page)
		case "/paid":
			_ = r.ParseForm()
			m.posts <- r.Form
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<!doctype html><title>Shop</title><p id="landed">paid</p>`)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(m.srv.Close)
	return m
}

// answer waits for the browser at the merchant's success URL (the post
// received and the page shown) and returns the kr-answer, after checking
// kr-hash with code of its own.
func (m *merchant) answer(t *testing.T, ctx context.Context) map[string]any {
	t.Helper()
	var v url.Values
	select {
	case v = <-m.posts:
	case <-ctx.Done():
		t.Fatalf("waiting for the browser return: %v", ctx.Err())
	}
	// The post has reached the shop, but the browser is still on its way
	// there: a Navigate sent now races that navigation and may fail with
	// net::ERR_ABORTED (seen in TestBrowserWallet under load). Wait for the
	// browser to land on the shop's page first.
	must(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#landed"))), "landing at the shop")
	mac := hmac.New(sha256.New, []byte(hmacKey))
	mac.Write([]byte(v.Get("kr-answer")))
	if v.Get("kr-hash") != hex.EncodeToString(mac.Sum(nil)) {
		t.Fatalf("kr-hash does not match: %v", v)
	}
	var a map[string]any
	if err := json.Unmarshal([]byte(v.Get("kr-answer")), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string, opts ...chromedp.QueryOption) string {
	t.Helper()
	s, err := chromedp.Run(ctx, browsertest.Text(sel, opts...))
	must(t, err, "reading "+sel)
	return s
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	must(t, err, js)
	return v
}

// TestBrowserWallet is document 003 in a real browser, one buyer after
// another purchase: pay and save a card; pay with the saved card, chosen in
// advance; pay with a new card from the "New card" tab (the save box gone
// for a brand wallets do not keep) and save it; choose among two cards; the
// bin icon in manual mode and on a card paying a subscription; deleting
// with the confirmation dialog; deleting the only card opens the "New
// card" tab; paying without saving. Then Charge/CreateToken in the embedded
// form, with and without a customer reference, and a saved card paid in the
// frame.
func TestBrowserWallet(t *testing.T) {
	ctx := browsertest.New(t)
	// The browser checks expiry dates with its own clock: use the real one.
	e := newEnv(t, storetest.SQLite(t), clock.Real{})
	m := newMerchant(t)
	expiry := fmt.Sprintf("12%02d", (time.Now().Year()+4)%100)
	hostedURL := func(ft string) string {
		return e.srv.URL + "/pay/" + ft + "?kr-language=en&kr-post-url-success=" + url.QueryEscape(m.srv.URL+"/paid")
	}
	typeCard := func(pan string) chromedp.Action[chromedp.Void] {
		csc := "123"
		if len(pan) == 15 {
			csc = "1234"
		}
		return chromedp.Steps(
			chromedp.SendKeys(chromedp.CSS("#kr-pan"), pan),
			chromedp.SendKeys(chromedp.CSS("#kr-expiry"), expiry),
			chromedp.SendKeys(chromedp.CSS("#kr-csc"), csc),
		)
	}
	order := 0
	form := func() string {
		order++
		return e.formToken(walletPayment(1990, fmt.Sprintf("b-%d", order), "buyer-1"))
	}

	// 1. First purchase: no saved card; the buyer ticks "Save my card".
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(form())),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
	), "first form")
	if eval[bool](t, ctx, `!!document.getElementById('kr-wallet')`) {
		t.Fatal("a wallet is shown to a buyer without saved cards")
	}
	must(t, chromedp.Do(ctx, typeCard(cardOK), chromedp.Click(chromedp.CSS("#kr-save")), chromedp.Click(chromedp.CSS("#kr-pay"))), "paying and saving")
	first, _ := get(m.answer(t, ctx), "transactions.paymentMethodToken").(string)
	if first == "" {
		t.Fatal("the card was not saved")
	}

	// 2. The saved card is there and chosen: one click pays.
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(form())),
		chromedp.WaitVisible(chromedp.CSS("#kr-panel-saved .saved-card")),
	), "form with one saved card")
	if !eval[bool](t, ctx, `document.querySelector('#kr-panel-saved input[type=radio]').checked && document.getElementById('kr-panel-new').hidden`) {
		t.Fatal("the only saved card is not chosen in advance")
	}
	if got := text(t, ctx, ".saved-card label"); !strings.Contains(got, "497010XXXXXX0055") || !strings.Contains(got, "CB") {
		t.Errorf("saved card reads %q", got)
	}
	must(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#kr-saved-csc"), "123"), chromedp.Click(chromedp.CSS("#kr-pay"))),
		"paying with the saved card and its security code")
	a := m.answer(t, ctx)
	if get(a, "transactions.paymentMethodToken") != first || get(a, "transactions.transactionDetails.cardDetails.paymentMethodSource") != "TOKEN" {
		t.Fatalf("saved-card payment %v", a)
	}

	// 3. A new card from the "New card" tab, saved too. A JCB card may not
	// be saved: the box goes away while it is typed.
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(form())),
		chromedp.WaitVisible(chromedp.CSS("#kr-tab-new")),
		chromedp.Click(chromedp.CSS("#kr-tab-new")),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "3530111333300000"),
	), "new card tab")
	if !eval[bool](t, ctx, `document.getElementById('kr-save-wrap').hidden`) {
		t.Error("the save box stays for a JCB card")
	}
	must(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#kr-pan"), ""),
		typeCard(cardMC),
		chromedp.WaitVisible(chromedp.CSS("#kr-save")),
		chromedp.Click(chromedp.CSS("#kr-save")),
		chromedp.Click(chromedp.CSS("#kr-pay")),
	), "paying with a new card")
	a = m.answer(t, ctx)
	second, _ := get(a, "transactions.paymentMethodToken").(string)
	if second == "" || second == first || get(a, "transactions.transactionDetails.cardDetails.paymentMethodSource") != "NEW" {
		t.Fatalf("new card payment %v", a)
	}

	// 4. Two cards: the buyer must choose.
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(form())),
		chromedp.WaitVisible(chromedp.CSS("#kr-panel-saved .saved-card")),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-form-error")),
	), "paying without choosing")
	if got := text(t, ctx, "#kr-form-error"); !strings.Contains(got, "Choose one of your saved cards") {
		t.Errorf("alert without a chosen card: %q", got)
	}
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#kr-panel-saved li:nth-child(2) input[type=radio]`)),
		chromedp.SendKeys(chromedp.CSS("#kr-saved-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
	), "choosing the second card")
	if got := get(m.answer(t, ctx), "transactions.paymentMethodToken"); got != second {
		t.Fatalf("paid with %v, want the second card %s", got, second)
	}

	// 5. Manual deletion: the bin icon asks the buyer to contact the shop.
	e.setShop(func(s *shop.Settings) { s.TokenDeletion = shop.DeletionManual })
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(form())),
		chromedp.WaitVisible(chromedp.CSS("#kr-panel-saved .saved-card")),
		chromedp.Click(chromedp.CSS(`#kr-panel-saved li:nth-child(1) .trash`)),
		chromedp.WaitVisible(chromedp.CSS("#kr-wallet-msg")),
	), "bin icon in manual mode")
	if got := text(t, ctx, "#kr-wallet-msg"); !strings.Contains(got, "contact the shop") {
		t.Errorf("manual mode message %q", got)
	}
	if eval[bool](t, ctx, `document.getElementById('kr-confirm').open`) {
		t.Error("a confirmation opened in manual mode")
	}

	// 6. Automatic deletion; the first card pays a subscription.
	e.setShop(func(s *shop.Settings) { s.TokenDeletion = shop.DeletionAutomatic })
	e.subs.set(first)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(form())),
		chromedp.WaitVisible(chromedp.CSS("#kr-panel-saved .saved-card")),
		chromedp.Click(chromedp.CSS(`#kr-panel-saved li:nth-child(1) .trash`)),
		chromedp.WaitVisible(chromedp.CSS("#kr-wallet-msg")),
	), "bin icon on a subscription's card")
	if got := text(t, ctx, "#kr-wallet-msg"); !strings.Contains(got, "subscription") {
		t.Errorf("subscription warning %q", got)
	}
	// The other card: confirmation, cancelled once, then confirmed.
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#kr-panel-saved li:nth-child(2) .trash`)),
		chromedp.WaitVisible(chromedp.CSS("#kr-confirm")),
	), "confirmation")
	if got := text(t, ctx, "#kr-confirm-text"); !strings.Contains(got, "2045") {
		t.Errorf("confirmation %q", got)
	}
	// The dialog opens on its harmless choice: Enter or Space right away
	// must not delete the card.
	if got := eval[string](t, ctx, `document.activeElement.id`); got != "kr-confirm-no" {
		t.Errorf("the confirmation opens with the focus on %q, want the Cancel button", got)
	}
	// On a phone the dialog stands apart from the page beneath: a margin
	// on each side, its border never on the screen's edge.
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(360, 740)), "phone viewport")
	if got := eval[[]float64](t, ctx, `(r => [r.left, innerWidth - r.right])(document.getElementById('kr-confirm').getBoundingClientRect())`); got[0] < 8 || got[1] < 8 {
		t.Errorf("at 360px the confirmation leaves %.0fpx on the left and %.0fpx on the right, want 8 at least", got[0], got[1])
	}
	must(t, chromedp.Do(ctx,
		chromedp.EmulateReset(),
		chromedp.Click(chromedp.CSS("#kr-confirm-no")),
		chromedp.WaitNotVisible(chromedp.CSS("#kr-confirm")),
		chromedp.Click(chromedp.CSS(`#kr-panel-saved li:nth-child(2) .trash`)),
		chromedp.WaitVisible(chromedp.CSS("#kr-confirm")),
		chromedp.Click(chromedp.CSS("#kr-confirm-yes")),
		chromedp.WaitNotPresent(chromedp.CSS(`#kr-panel-saved li:nth-child(2)`)),
	), "deleting the second card")
	if got := text(t, ctx, "#kr-wallet-msg"); !strings.Contains(got, "2045 has been deleted") {
		t.Errorf("deletion message %q", got)
	}
	if got := tokenValues(e.tokens("buyer-1", "CANCELLED")); !slices.Equal(got, []string{second}) {
		t.Fatalf("cancelled tokens %v", got)
	}
	if got := e.outbox(second); !slices.Contains(got, "webhook token.cancelled https://merchant.example/ipn") {
		t.Errorf("deletion notifications %v", got)
	}

	// 7. The only card left deleted: the "New card" tab opens by itself,
	// and the buyer pays without saving.
	e.subs.unset(first)
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(form())),
		chromedp.WaitVisible(chromedp.CSS("#kr-panel-saved .saved-card")),
		chromedp.Click(chromedp.CSS(`#kr-panel-saved .trash`)),
		chromedp.WaitVisible(chromedp.CSS("#kr-confirm")),
		chromedp.Click(chromedp.CSS("#kr-confirm-yes")),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
	), "deleting the only card")
	if !eval[bool](t, ctx, `document.querySelector('.tabs').hidden && document.getElementById('kr-panel-saved').hidden && !document.getElementById('kr-panel-new').hidden && document.activeElement.id === 'kr-pan'`) {
		t.Error("the New card tab did not open by itself")
	}
	must(t, chromedp.Do(ctx, typeCard(cardAmex), chromedp.Click(chromedp.CSS("#kr-pay"))), "paying without saving")
	if a := m.answer(t, ctx); get(a, "transactions.paymentMethodToken") != nil || get(a, "orderStatus") != "PAID" {
		t.Fatalf("unsaved payment %v", a)
	}
	if got := e.tokens("buyer-1", ""); len(got) != 0 {
		t.Fatalf("active cards left: %v", tokenValues(got))
	}

	// 8. Charge/CreateToken in the embedded form, with a reference: the
	// card joins buyer-2's wallet; then that card pays in the frame.
	embed := func(ft string) {
		m.page = fmt.Sprintf(`<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<script src="%[1]s/static/js/krypton-client/V4.0/stable/kr-payment-form.min.js"
  kr-public-key="%[2]s" kr-post-url-success="%[3]s/paid" kr-language="en"></script>
<script>KR.onFormReady(function () { document.body.setAttribute('data-ready', '1'); });</script>
</head><body><div class="kr-embedded" kr-form-token="%[4]s"></div></body></html>`, e.srv.URL, publicKey, m.srv.URL, ft)
		must(t, chromedp.Do(ctx, chromedp.Navigate(m.srv.URL), chromedp.WaitReady(chromedp.CSS("body[data-ready]"))), "merchant page")
	}
	tok := e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-1",
		"customer": map[string]any{"email": "buyer2@example.com", "reference": "buyer-2"}})
	embed(tok["formToken"].(string))
	in := frame(t, ctx, "#kr-pan")
	if got := text(t, ctx, "#kr-pay", in); got != "Register my card" {
		t.Errorf("CreateToken button %q", got)
	}
	must(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), cardOK, in),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), expiry, in),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123", in),
		chromedp.Click(chromedp.CSS("#kr-pay"), in),
	), "registering in the frame")
	a = m.answer(t, ctx)
	reg, _ := get(a, "transactions.paymentMethodToken").(string)
	if get(a, "transactions.operationType") != "VERIFICATION" || get(a, "transactions.detailedStatus") != "ACCEPTED" ||
		get(a, "customer.reference") != "buyer-2" || reg == "" {
		t.Fatalf("CreateToken answer %v", a)
	}
	if got := tokenValues(e.tokens("buyer-2", "")); !slices.Equal(got, []string{reg}) {
		t.Fatalf("buyer-2's wallet %v", got)
	}
	embed(e.formToken(walletPayment(500, "b2-1", "buyer-2")))
	in = frame(t, ctx, "#kr-panel-saved .saved-card")
	must(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#kr-saved-csc"), "123", in), chromedp.Click(chromedp.CSS("#kr-pay"), in)),
		"paying with the saved card and its security code in the frame")
	if got := get(m.answer(t, ctx), "transactions.paymentMethodToken"); got != reg {
		t.Fatalf("paid in the frame with %v, want %s", got, reg)
	}

	// Without a reference: a token, outside any wallet.
	tok = e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-2", "customer": map[string]any{"email": "buyer2@example.com"}})
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(hostedURL(tok["formToken"].(string))),
		typeCard(cardMC),
		chromedp.Click(chromedp.CSS("#kr-pay")),
	), "CreateToken without a reference")
	a = m.answer(t, ctx)
	if get(a, "transactions.paymentMethodToken") == nil || get(a, "customer.reference") != nil {
		t.Fatalf("CreateToken without reference %v", a)
	}
	if got := tokenValues(e.tokens("buyer-2", "ALL")); !slices.Equal(got, []string{reg}) {
		t.Fatalf("buyer-2's wallet after a token without reference: %v", got)
	}
	browsertest.NoConsoleErrors(t, ctx)
}

// frame waits until the first iframe's document has sel and returns the
// query option that searches it.
func frame(t *testing.T, ctx context.Context, sel string) chromedp.QueryOption {
	t.Helper()
	for ctx.Err() == nil {
		frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("iframe")))
		if err == nil && len(frames) > 0 {
			in := chromedp.FromNode(frames[0])
			short, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
			_, err = chromedp.Run(short, chromedp.Nodes(chromedp.CSS(sel), in))
			cancel()
			if err == nil {
				return in
			}
		}
	}
	t.Fatalf("waiting for %s in the frame: %v", sel, ctx.Err())
	return nil
}

// A card deleted elsewhere (the merchant's Token/Cancel, the buyer's other
// tab) after the page was shown: the bin icon's deletion answers 404, "This
// card is no longer among your saved cards", and the script said so but
// left the card in the list, to be chosen and paid with. The card leaves
// the list as a deleted one does, the message in the wallet's status line
// (role=status), the focus on the card left.
func TestBrowserWalletDeleteGoneCard(t *testing.T) {
	ctx := browsertest.New(t)
	e := newEnv(t, storetest.SQLite(t), clock.Real{})
	exp := card.Expiry{Month: 12, Year: time.Now().Year() + 4}
	kept := e.tokenize(cardOK, "buyer-gone", shop.ModeTest, exp, "")
	gone := e.tokenize(cardMC, "buyer-gone", shop.ModeTest, exp, "")
	ft := e.formToken(walletPayment(990, "gone-1", "buyer-gone"))
	must(t, chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+"/pay/"+ft+"?kr-language=en"),
		chromedp.WaitVisible(chromedp.CSS(`#kr-panel-saved [data-card="`+gone.ID+`"]`)),
	), "wallet form with two cards")
	e.ok("Token/Cancel", map[string]any{"paymentMethodToken": gone.Value})
	must(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#kr-panel-saved [data-card="`+gone.ID+`"] .trash`)),
		chromedp.WaitVisible(chromedp.CSS("#kr-confirm")),
		chromedp.Click(chromedp.CSS("#kr-confirm-yes")),
		chromedp.WaitNotPresent(chromedp.CSS(`#kr-panel-saved [data-card="`+gone.ID+`"]`)),
	), "deleting the card cancelled since the page was shown")
	if got := text(t, ctx, "#kr-wallet-msg"); got != cardGoneText["en"] {
		t.Errorf("wallet status line %q, want %q", got, cardGoneText["en"])
	}
	if got := eval[string](t, ctx, `document.getElementById('kr-wallet-msg').getAttribute('role')`); got != "status" {
		t.Errorf("the message's role %q, want status", got)
	}
	if !eval[bool](t, ctx, `(function () {
		var li = document.querySelector('#kr-panel-saved [data-card="`+kept.ID+`"]');
		var r = li && li.querySelector('input[type=radio]');
		return !!r && r.checked && document.activeElement === r;
	})()`) {
		t.Error("the card left is not chosen and focused")
	}
	for _, p := range browsertest.Problems(ctx) {
		// The browser logs the deletion's 404, the answer under test.
		if !strings.Contains(p, "status of 404") || !strings.Contains(p, "/wallet/delete?") {
			t.Errorf("browser console: %s", p)
		}
	}
}
