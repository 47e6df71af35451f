package hosted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openpsp/openpsp/internal/card"
)

// fakeWallets is the wallet service at this package's boundary: two cards
// for the form "w", the second paying a subscription.
type fakeWallets struct {
	mu      sync.Mutex
	manual  bool
	cards   []SavedCard
	paid    []CardInput
	deleted []string
	// pay, when set, is told of each saved-card payment: its form is
	// over, with the outcome Payments.Outcome reads again.
	pay *fakePayments
	// deleteErr, when set, is what Delete fails with (the database gone
	// during the deletion).
	deleteErr error
	// walletErr, when set, is what Wallet fails with.
	walletErr error
	// deleteRes, when set, is what Delete answers for a card it finds:
	// the shop's setting or the card's subscription changed since the
	// page was shown.
	deleteRes string
}

func newFakeWallets() *fakeWallets {
	return &fakeWallets{cards: []SavedCard{
		{ID: "c1", Brand: "CB", PANMasked: "497010XXXXXX0055", ExpiryMonth: 12, ExpiryYear: 2031},
		{ID: "c2", Brand: "MASTERCARD", PANMasked: "510001XXXXXX2045", ExpiryMonth: 1, ExpiryYear: 2032, InSubscription: true},
	}}
}

func (f *fakeWallets) Wallet(_ context.Context, formToken string) (Wallet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.walletErr != nil:
		return Wallet{}, f.walletErr
	case isWalletForm(formToken):
		return Wallet{Cards: append([]SavedCard(nil), f.cards...), ManualDeletion: f.manual}, nil
	case formToken == "oc" || formToken == "oc2":
		// A one-click form: the merchant's token, alone.
		return Wallet{Cards: f.cards[:1]}, nil
	}
	return Wallet{}, nil
}

// isWalletForm tells the forms whose buyer has the wallet: "w", and
// "w-…" for tests that need several forms.
func isWalletForm(formToken string) bool {
	return formToken == "w" || strings.HasPrefix(formToken, "w-")
}

func (f *fakeWallets) find(id string) (SavedCard, bool) {
	for _, c := range f.cards {
		if c.ID == id {
			return c, true
		}
	}
	return SavedCard{}, false
}

func (f *fakeWallets) SavedCard(_ context.Context, formToken, id string) (card.PAN, card.Expiry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.find(id)
	if !ok || (!isWalletForm(formToken) && !(strings.HasPrefix(formToken, "oc") && id == "c1")) {
		return card.PAN{}, card.Expiry{}, ErrCardNotFound
	}
	pan, _ := card.ParsePAN(map[string]string{"c1": "4970100000000055", "c2": "5100010000000049"}[c.ID])
	return pan, card.Expiry{Month: c.ExpiryMonth, Year: c.ExpiryYear}, nil
}

func (f *fakeWallets) PaySaved(_ context.Context, formToken string, in CardInput) (Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paid = append(f.paid, in)
	out := Outcome{Accepted: true, Final: true, KRAnswer: []byte(`{"orderStatus":"PAID","_type":"V4/Payment"}`)}
	if f.pay != nil {
		f.pay.mu.Lock()
		defer f.pay.mu.Unlock()
		f.pay.forms[formToken].Completed = true
		if f.pay.final == nil {
			f.pay.final = map[string]Outcome{}
		}
		final := out
		final.CardMasked, final.CardExpiry, final.SavedCard = in.PAN.Masked(), in.Expiry, in.Saved
		f.pay.final[formToken] = final
	}
	return out, nil
}

func (f *fakeWallets) Delete(_ context.Context, formToken, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.find(id)
	switch {
	case f.deleteErr != nil:
		return "", f.deleteErr
	case !ok:
		return "", ErrCardNotFound
	case f.deleteRes != "":
		return f.deleteRes, nil
	case f.manual:
		return DeleteManual, nil
	case c.InSubscription:
		return DeleteSubscription, nil
	}
	f.deleted = append(f.deleted, id)
	// The card leaves the wallet, as a cancelled token leaves the buyer's.
	f.cards = slices.DeleteFunc(f.cards, func(c SavedCard) bool { return c.ID == id })
	return DeleteDone, nil
}

func walletEnv(t *testing.T) (*env, *fakeWallets) {
	e := newEnv(t)
	fw := newFakeWallets()
	e.h = New(Options{Payments: e.pay, Keys: fakeKeys{}, Authenticator: e.sim, SealKey: testSealKey, Clock: e.clk, Wallet: fw})
	e.mux = http.NewServeMux()
	e.h.Register(e.mux)
	f := demoForm("w")
	f.FormAction = "CUSTOMER_WALLET"
	e.pay.add(f)
	return e, fw
}

// TestWalletForm: the saved cards on a CUSTOMER_WALLET form, in French,
// none chosen when there are two, the bin icons, the New card tab with its
// save box, and no token anywhere in the page.
func TestWalletForm(t *testing.T) {
	e, fw := walletEnv(t)
	w := e.do(t, "GET", "/pay/w?kr-language=fr", nil)
	body := w.Body.String()
	checkPageHeaders(t, w, false)
	for _, want := range []string{
		`id="kr-wallet" class="wallet" data-deletion="AUTOMATIC" data-delete-action="/pay/w/wallet/delete?kr-language=fr"`,
		`role="tablist"`, `>Cartes enregistrées<`, `>Nouvelle carte<`,
		`<span class="saved-pan">497010XXXXXX0055</span> <span class="saved-exp">expire fin 12/31</span>`,
		`aria-label="Supprimer la carte se terminant par 0055"`,
		`data-card="c2" data-last4="2045" data-csc-length="3"`, `data-subscription="true"`, `id="kr-saved-csc" name="saved_csc"`,
		`id="kr-panel-new" class="tab-panel" role="tabpanel" aria-labelledby="kr-tab-new" hidden`,
		`id="kr-save"`, `<dialog id="kr-confirm"`, `data-form-action="CUSTOMER_WALLET"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("wallet form lacks %q", want)
		}
	}
	if strings.Contains(body, " checked") {
		t.Error("a card is chosen in advance among two")
	}
	// One card: chosen in advance; manual deletion shown.
	fw.cards, fw.manual = fw.cards[:1], true
	body = e.do(t, "GET", "/pay/w", nil).Body.String()
	if !strings.Contains(body, `value="c1" checked`) || !strings.Contains(body, `data-deletion="MANUAL"`) {
		t.Errorf("one saved card, manual mode:\n%s", body)
	}
	// Another form action shows no wallet.
	e.pay.add(demoForm("p"))
	if body := e.do(t, "GET", "/pay/p", nil).Body.String(); strings.Contains(body, "kr-wallet") {
		t.Error("a PAYMENT form shows the wallet")
	}
}

// TestWalletPayAndDelete: paying with a saved card (its security code
// asked, as Lyra's wallet form asks it: the code is never stored; 3-D
// Secure on its number), an unknown card, and the deletion answers.
func TestWalletPayAndDelete(t *testing.T) {
	e, fw := walletEnv(t)
	q := "?kr-post-url-success=" + url.QueryEscape("https://shop.example/ok")
	if body := e.do(t, "GET", "/pay/w", nil).Body.String(); !strings.Contains(body, `name="saved_csc"`) {
		t.Errorf("the wallet asks no security code:\n%s", body)
	}
	res, w := e.postJSON(t, "/pay/w"+q, url.Values{"saved": {"c1"}})
	if w.Code != http.StatusUnprocessableEntity || res.Error == nil || res.Error.ErrorCode != "CLIENT_300" || len(fw.paid) != 0 {
		t.Fatalf("saved card without its security code: %d %+v, PaySaved %+v", w.Code, res, fw.paid)
	}
	res, _ = e.postJSON(t, "/pay/w"+q, url.Values{"saved": {"c1"}, "saved_csc": {"123"}})
	if res.Step != "done" || !res.Accepted || res.Return == nil {
		t.Fatalf("saved card payment %+v", res)
	}
	if len(fw.paid) != 1 || fw.paid[0].Saved != "c1" || fw.paid[0].ThreeDS == nil || fw.paid[0].CVV.Reveal() != "123" {
		t.Fatalf("PaySaved got %+v", fw.paid)
	}
	if e.pay.callCount() != 0 {
		t.Fatal("a saved card went to PayCard")
	}
	f := demoForm("w2")
	f.FormAction = "CUSTOMER_WALLET"
	e.pay.add(f)
	res, w = e.postJSON(t, "/pay/w2", url.Values{"saved": {"c9"}})
	if w.Code != http.StatusUnprocessableEntity || res.Error == nil || res.Error.ErrorCode != "CLIENT_311" {
		t.Fatalf("unknown saved card: %d %+v", w.Code, res)
	}
	// A challenge card: the seal carries the saved card through the challenge.
	e.pay.add(func() Form { f := demoForm("w"); f.FormAction = "CUSTOMER_WALLET"; return f }())
	res, _ = e.postJSON(t, "/pay/w", url.Values{"saved": {"c2"}, "saved_csc": {"456"}})
	if res.Step != "challenge" {
		t.Fatalf("saved challenge card %+v", res)
	}
	res, _ = e.postJSON(t, "/pay/w/3ds/complete", url.Values{"sealed": {res.Sealed}, "decision": {"approve"}})
	if !res.Accepted || fw.paid[len(fw.paid)-1].Saved != "c2" || !fw.paid[len(fw.paid)-1].ThreeDS.Challenged ||
		fw.paid[len(fw.paid)-1].CVV.Reveal() != "456" {
		t.Fatalf("after the challenge %+v, PaySaved %+v", res, fw.paid[len(fw.paid)-1])
	}

	e.pay.add(func() Form { f := demoForm("w"); f.FormAction = "CUSTOMER_WALLET"; return f }())
	del := func(id string) (int, string) {
		w := e.do(t, "POST", "/embedded/w/wallet/delete?origin="+url.QueryEscape("https://shop.example"), url.Values{"card": {id}}, "Accept", "application/json")
		return w.Code, w.Body.String()
	}
	if code, body := del("c1"); code != 200 || !strings.Contains(body, `"result":"deleted"`) || len(fw.deleted) != 1 {
		t.Fatalf("delete: %d %s", code, body)
	}
	// The script asks for neither (the page says them): the page is out
	// of date, TestWalletDeleteJSONAnswers.
	if code, body := del("c2"); code != http.StatusConflict || !strings.Contains(body, `"result":"subscription"`) || !strings.Contains(body, "contact the shop") {
		t.Fatalf("delete of a subscription's card: %d %s", code, body)
	}
	fw.manual = true
	if code, body := del("c2"); code != http.StatusConflict || !strings.Contains(body, `"result":"manual"`) {
		t.Fatalf("manual delete: %d %s", code, body)
	}
	if code, _ := del("c9"); code != http.StatusNotFound {
		t.Fatalf("delete of an unknown card: %d", code)
	}
	// Without a wallet service nothing is deleted, and a saved-card
	// payment is a choose-a-card error.
	e2 := newEnv(t)
	e2.pay.add(func() Form { f := demoForm("w"); f.FormAction = "CUSTOMER_WALLET"; return f }())
	if w := e2.do(t, "POST", "/pay/w/wallet/delete", url.Values{"card": {"c1"}}); w.Code != http.StatusNotFound {
		t.Fatalf("delete without a wallet service: %d", w.Code)
	}
	if res, _ := e2.postJSON(t, "/pay/w", url.Values{"saved": {"c1"}}); res.Error == nil || res.Error.ErrorCode != "CLIENT_311" {
		t.Fatalf("saved card without a wallet service: %+v", res)
	}
}

// oneClickForm is a one-click form of the demo shop: formAction PAYMENT
// with the merchant's paymentMethodToken (card c1 of the fake wallet).
func oneClickForm(token string) Form {
	f := demoForm(token)
	f.OneClick = true
	return f
}

// TestOneClickForm: a one-click form shows the merchant's saved card like
// a wallet's (brand, masked number, expiry), chosen, with a security code
// field to confirm it and a New card tab, but no bin icon nor save box, in
// every language of the pages; the page holds no token.
func TestOneClickForm(t *testing.T) {
	e, fw := walletEnv(t)
	e.pay.add(oneClickForm("oc"))
	for _, l := range languages {
		m := messages[l]
		w := e.do(t, "GET", "/pay/oc?kr-language="+l, nil)
		body := w.Body.String()
		checkPageHeaders(t, w, false)
		for _, want := range []string{
			`id="kr-wallet" class="wallet"`, `data-one-click="true"`,
			`>` + m["wallet_saved"] + `<`, `>` + m["wallet_new"] + `<`,
			`<span class="saved-brand">CB</span> <span class="saved-pan">497010XXXXXX0055</span>`,
			`<span class="saved-exp">` + strings.Replace(m["wallet_expires"], "%s", "12/31", 1) + `</span>`,
			`value="c1" checked`,
			`<label for="kr-saved-csc">` + m["csc"] + `</label>`,
			`id="kr-saved-csc" name="saved_csc"`, `data-length="3"`,
			`id="kr-panel-new" class="tab-panel" role="tabpanel" aria-labelledby="kr-tab-new" hidden`,
			`data-form-action="PAYMENT"`,
			// The hint of this card, not the one of a card yet to be typed.
			`<p id="kr-saved-csc-hint" class="hint">` + m["csc_hint_back"] + `</p>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: one-click form lacks %q", l, want)
			}
		}
		for _, bad := range []string{`class="trash"`, `<dialog id="kr-confirm"`, `id="kr-save"`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: one-click form has %q", l, bad)
			}
		}
	}
	// An American Express card: 4 digits on the front.
	fw.mu.Lock()
	fw.cards[0] = SavedCard{ID: "c1", Brand: "AMEX", PANMasked: "377734XXXXX1002", ExpiryMonth: 12, ExpiryYear: 2031}
	fw.mu.Unlock()
	for _, l := range languages {
		body := e.do(t, "GET", "/pay/oc?kr-language="+l, nil).Body.String()
		for _, want := range []string{`data-length="4"`, `<p id="kr-saved-csc-hint" class="hint">` + messages[l]["csc_hint_front"] + `</p>`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: one-click form of an Amex card lacks %q", l, want)
			}
		}
	}
	// The buyer cannot delete the merchant's token from the form.
	if w := e.do(t, "POST", "/pay/oc/wallet/delete", url.Values{"card": {"c1"}}); w.Code != http.StatusNotFound {
		t.Errorf("deleting on a one-click form: %d", w.Code)
	}
}

// TestOneClickPay: the saved card of a one-click form is paid once the
// buyer typed its security code (3-D Secure on its number, the code kept
// through a challenge); without it, or with a wrong one, the field is in
// error (CLIENT_303) and nothing is paid.
func TestOneClickPay(t *testing.T) {
	e, fw := walletEnv(t)
	e.pay.add(oneClickForm("oc"))
	for _, v := range []url.Values{{"saved": {"c1"}}, {"saved": {"c1"}, "saved_csc": {"12"}}, {"saved": {"c1"}, "saved_csc": {"12a"}}} {
		res, w := e.postJSON(t, "/pay/oc?kr-language=fr", v)
		if w.Code != http.StatusUnprocessableEntity || res.Step != "form" || res.Error == nil || res.Error.ErrorCode != "CLIENT_300" ||
			len(res.Error.Children) != 1 || res.Error.Children[0].ErrorCode != "CLIENT_303" || res.FieldErrors["saved_csc"] == "" {
			t.Fatalf("%v: %d %+v", v, w.Code, res)
		}
	}
	// Without the script: the form again, the field in error.
	w := e.do(t, "POST", "/pay/oc", url.Values{"saved": {"c1"}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "Enter the security code.") {
		t.Fatalf("no security code, HTML: %d", w.Code)
	}
	if len(fw.paid) != 0 {
		t.Fatalf("paid without a security code: %+v", fw.paid)
	}
	q := "?kr-post-url-success=" + url.QueryEscape("https://shop.example/ok")
	res, _ := e.postJSON(t, "/pay/oc"+q, url.Values{"saved": {"c1"}, "saved_csc": {"123"}})
	if res.Step != "done" || !res.Accepted || res.Return == nil {
		t.Fatalf("one-click payment %+v", res)
	}
	if len(fw.paid) != 1 || fw.paid[0].Saved != "c1" || fw.paid[0].CVV.Reveal() != "123" || fw.paid[0].ThreeDS == nil {
		t.Fatalf("PaySaved got %+v", fw.paid)
	}
	// A card of a wallet is not a one-click card: another id is refused.
	e.pay.add(oneClickForm("oc2"))
	if res, _ := e.postJSON(t, "/pay/oc2", url.Values{"saved": {"c2"}, "saved_csc": {"123"}}); res.Error == nil || res.Error.ErrorCode != "CLIENT_311" {
		t.Fatalf("another saved card on a one-click form: %+v", res)
	}
	// A new card instead: PayCard.
	res, _ = e.postJSON(t, "/pay/oc2", cardValues("5100010000002045", "12/30", "123"))
	if res.Step != "done" || !res.Accepted || e.pay.lastCall(t).Last4 != "2045" {
		t.Fatalf("new card on a one-click form %+v", res)
	}
}

// A saved card posted again once the form is over (the back button and
// "resend", a double click, a second tab) read "already processed": a post
// naming the saved card the payment was made with shows the outcome, page
// and JSON, as the first post did, and pays nothing; another saved card
// still reads that the form is over. Wallet and one-click forms alike.
func TestSavedCardPostReplayedAfterEndShowsTheOutcome(t *testing.T) {
	e, fw := walletEnv(t)
	fw.pay = e.pay
	e.pay.add(oneClickForm("oc"))
	for _, ft := range []string{"w", "oc"} {
		paid := url.Values{"saved": {"c1"}, "saved_csc": {"123"}}
		first, _ := e.postJSON(t, "/pay/"+ft+"?kr-language=fr", paid)
		if first.Step != "done" || !first.Accepted {
			t.Fatalf("%s: saved card payment %+v", ft, first)
		}
		replay, w := e.postJSON(t, "/pay/"+ft+"?kr-language=fr", paid)
		if w.Code != http.StatusOK || replay.Step != "done" || !replay.Accepted || replay.Message != first.Message {
			t.Errorf("%s: the same saved card posted again answered %d %+v; the first post answered %+v", ft, w.Code, replay, first)
		}
		page := e.do(t, "POST", "/pay/"+ft+"?kr-language=fr", paid)
		if body := html.UnescapeString(page.Body.String()); page.Code != http.StatusOK || !strings.Contains(body, messages["fr"]["accepted"]) || !strings.Contains(body, `data-page="result"`) {
			t.Errorf("%s: the same saved card posted again as a page: %d, want the paid result page:\n%s", ft, page.Code, body)
		}
		for _, other := range []url.Values{{"saved": {"c2"}, "saved_csc": {"123"}}, {"saved": {"C1"}, "saved_csc": {"123"}}} {
			res, _ := e.postJSON(t, "/pay/"+ft+"?kr-language=fr", other)
			if res.Accepted || res.Message != messages["fr"]["form_completed"] {
				t.Errorf("%s: saved card %s posted to the paid form answered %+v", ft, other.Get("saved"), res)
			}
		}
	}
	if len(fw.paid) != 2 || e.pay.callCount() != 0 {
		t.Errorf("PaySaved called %d times, PayCard %d, want 2 and 0", len(fw.paid), e.pay.callCount())
	}
}

// TestWalletDeletePage: the deletion without the script. The first post
// only asks to confirm; a subscription card or an unknown one is told at
// once, as a page (never JSON, never a 500); a one-click form deletes
// nothing; the confirmed post deletes.
func TestWalletDeletePage(t *testing.T) {
	e, fw := walletEnv(t)
	e.pay.add(oneClickForm("oc"))
	post := func(target string, v url.Values) (int, string) {
		w := e.do(t, "POST", target, v, "Sec-Fetch-Site", "same-origin")
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("POST %s %v: %q, not a page", target, v, ct)
		}
		return w.Code, html.UnescapeString(w.Body.String())
	}
	m := messages["en"]
	code, body := post("/pay/w/wallet/delete/page?kr-language=en", url.Values{"card": {"c1"}})
	if code != http.StatusOK || !strings.Contains(body, `id="kr-delete-yes"`) || !strings.Contains(body, fmt.Sprintf(m["wallet_confirm"], "0055")) ||
		!strings.Contains(body, `action="/pay/w/wallet/delete/page?kr-language=en"`) || len(fw.deleted) != 0 {
		t.Fatalf("first post: %d, deleted %v: %.400s", code, fw.deleted, body)
	}
	for _, c := range []struct {
		target string
		card   string
		status int
		want   string
	}{
		{"/pay/w/wallet/delete/page?kr-language=en", "c2", http.StatusOK, m["wallet_subscription"]},
		{"/pay/w/wallet/delete/page?kr-language=en", "c9", http.StatusNotFound, m["wallet_card_gone"]},
		{"/pay/oc/wallet/delete/page?kr-language=en", "c1", http.StatusNotFound, m["wallet_card_gone"]},
	} {
		code, body := post(c.target, url.Values{"card": {c.card}, "confirm": {"yes"}})
		if code != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d, want %d with %q", c.target, c.card, code, c.status, c.want)
		}
	}
	// A confirmation page that is out of date: the card pays a
	// subscription since it was shown (TestWalletDeletePageAnswers).
	fw.deleteRes = DeleteSubscription
	if code, body := post("/pay/w/wallet/delete/page?kr-language=en", url.Values{"card": {"c1"}, "confirm": {"yes"}}); code != http.StatusConflict ||
		!strings.Contains(body, m["wallet_subscription"]) {
		t.Errorf("confirmed after a subscription started: %d, want 409 with %q", code, m["wallet_subscription"])
	}
	fw.deleteRes = ""
	if len(fw.deleted) != 0 {
		t.Fatalf("deleted %v", fw.deleted)
	}
	// The confirmed post deletes, and sends the buyer to the form
	// (TestWalletDeletePageRedirectsToThePage).
	code, _ = post("/pay/w/wallet/delete/page?kr-language=en", url.Values{"card": {"c1"}, "confirm": {"yes"}})
	if code != http.StatusSeeOther || !slices.Equal(fw.deleted, []string{"c1"}) {
		t.Errorf("confirmed: %d, deleted %v", code, fw.deleted)
	}
}

// deleteWithoutScript posts the confirmed deletion of card from the page
// target (path and query, without "/wallet/delete/page") as a buyer's
// browser without the script does.
func deleteWithoutScript(t *testing.T, e *env, target, card string) *httptest.ResponseRecorder {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	return e.do(t, "POST", path+walletDeletePagePath+"?"+query, url.Values{"card": {card}, "confirm": {"yes"}}, "Sec-Fetch-Site", "same-origin")
}

// formErrorText is the text of the form's error area (role=alert).
func formErrorText(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `id="kr-form-error"`)
	if !ok {
		t.Fatalf("the page has no error area:\n%s", body)
	}
	_, rest, _ = strings.Cut(rest, ">")
	text, _, _ := strings.Cut(rest, "</div>")
	return text
}

// A buyer without the script who deleted a saved card and reloaded the
// page posted the deletion again and read "The card could not be
// deleted" (the card was gone). The confirmed deletion now answers 303 to
// the form's own page (Post/Redirect/Get), with the page's parameters
// (language, return address; the embedded form's origin and public key)
// and the card's last digits, which the page tells in the wallet's status
// line in the buyer's language, the focus on it (the fragment). Loading
// the page again deletes nothing and shows no error.
func TestWalletDeletePageRedirectsToThePage(t *testing.T) {
	e, fw := walletEnv(t)
	for _, target := range []string{
		"/pay/w?kr-language=fr&kr-post-url-success=" + url.QueryEscape("https://shop.example/ok"),
		embeddedURL("w", "https://shop.example", demoPublicKey) + "&kr-language=fr",
	} {
		fw.cards, fw.deleted = newFakeWallets().cards, nil
		w := deleteWithoutScript(t, e, target, "c1")
		if w.Code != http.StatusSeeOther {
			t.Fatalf("%s: confirmed deletion answered %d, want 303:\n%s", target, w.Code, w.Body)
		}
		loc, err := url.Parse(w.Header().Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := url.Parse(target)
		want := page.Query()
		want.Set("deleted", "0055")
		if loc.Host != "" || loc.Path != page.Path || loc.Fragment != "kr-wallet-msg" || !maps.EqualFunc(loc.Query(), want, slices.Equal) {
			t.Errorf("%s: redirected to %s, want %s?%s#kr-wallet-msg", target, loc, page.Path, want.Encode())
		}
		msg := fmt.Sprintf(messages["fr"]["wallet_deleted"], "0055")
		for load := range 2 {
			w := e.do(t, "GET", loc.RequestURI(), nil)
			body := html.UnescapeString(w.Body.String())
			if w.Code != http.StatusOK || !strings.Contains(body, `<p id="kr-wallet-msg" class="wallet-msg" role="status" tabindex="-1">`+msg+`</p>`) {
				t.Errorf("%s, load %d of the page: %d, want the wallet with %q in its status line:\n%s", target, load+1, w.Code, msg, body)
			}
			if got := formErrorText(t, body); got != "" {
				t.Errorf("%s, load %d of the page shows the error %q", target, load+1, got)
			}
			if !strings.Contains(body, `<html lang="fr"`) || !strings.Contains(body, `data-card="c2"`) || strings.Contains(body, `data-card="c1"`) {
				t.Errorf("%s, load %d: not the French wallet with c2 alone:\n%s", target, load+1, body)
			}
		}
		if !slices.Equal(fw.deleted, []string{"c1"}) {
			t.Errorf("%s: deleted %v, want c1 once", target, fw.deleted)
		}
	}
	// The status line's parameter is only ever four digits, on a wallet's
	// form: anything else shows nothing.
	for _, q := range []string{"deleted=00551", "deleted=abcd", "deleted=%3Cb%3E"} {
		body := e.do(t, "GET", "/pay/w?"+q, nil).Body.String()
		if !strings.Contains(body, `role="status" tabindex="-1"></p>`) {
			t.Errorf("?%s shows a status:\n%s", q, body)
		}
	}
	e.pay.add(demoForm("p"))
	if body := e.do(t, "GET", "/pay/p?deleted=0055", nil).Body.String(); strings.Contains(body, "0055") {
		t.Errorf("a form without a wallet tells a deletion:\n%s", body)
	}
}

// Deleting the last saved card without the script showed its success ("The
// card ending in 0055 has been deleted.") in the form's error area (red,
// role=alert). With no card left the page is the plain card form, to pay
// with a new card, and the message is a status above it (role=status, not
// the error's styling), in each language of the pages.
func TestWalletDeletePageLastCardIsAStatus(t *testing.T) {
	e, fw := walletEnv(t)
	for _, l := range languages {
		fw.cards = newFakeWallets().cards[:1]
		w := deleteWithoutScript(t, e, "/pay/w?kr-language="+l, "c1")
		if w.Code != http.StatusSeeOther {
			t.Fatalf("%s: the last card's deletion answered %d, want 303:\n%s", l, w.Code, w.Body)
		}
		loc, err := url.Parse(w.Header().Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		w = e.do(t, "GET", loc.RequestURI(), nil)
		body := html.UnescapeString(w.Body.String())
		msg := fmt.Sprintf(messages[l]["wallet_deleted"], "0055")
		if w.Code != http.StatusOK || !strings.Contains(body, `<p id="kr-wallet-msg" class="wallet-msg" role="status" tabindex="-1">`+msg+`</p>`) {
			t.Errorf("%s: %d, want %q as a status:\n%s", l, w.Code, msg, body)
		}
		if got := formErrorText(t, body); got != "" {
			t.Errorf("%s: the error area reads %q", l, got)
		}
		if !strings.Contains(body, `<html lang="`+l+`"`) || !strings.Contains(body, `id="kr-pan"`) || !strings.Contains(body, `id="kr-pay"`) ||
			strings.Contains(body, `id="kr-wallet"`) {
			t.Errorf("%s: not the card form without a wallet:\n%s", l, body)
		}
	}
}

// A database that failed during a deletion without the script answered
// the form with HTTP 500 and "The card could not be deleted". The buyer
// reads the temporarily-unavailable page the other pages show when the
// database is unavailable: 503 with Retry-After, in their language. Any
// other failure is the form again with the failure, HTTP 500 as the
// script's deletion answers it (TestWalletDeletePageAnswers).
func TestWalletDeletePageDatabaseUnavailable(t *testing.T) {
	e, fw := walletEnv(t)
	fw.deleteErr = fmt.Errorf("wallet: cancel token: %w: failed to connect", ErrUnavailable)
	w := deleteWithoutScript(t, e, "/pay/w?kr-language=de", "c1")
	checkUnavailable(t, "deletion", w, "de", MessageUnavailableNotCharged)
	checkPageHeaders(t, w, false)
	w = deleteWithoutScript(t, e, embeddedURL("w", "https://shop.example", demoPublicKey)+"&kr-language=it", "c1")
	checkUnavailable(t, "embedded form's deletion", w, "it", MessageUnavailableNotCharged)
	checkPageHeaders(t, w, true)

	fw.deleteErr = fmt.Errorf("wallet: decode the token: bad JSON")
	w = deleteWithoutScript(t, e, "/pay/w?kr-language=es", "c1")
	if body := html.UnescapeString(w.Body.String()); w.Code != http.StatusInternalServerError || !strings.Contains(body, messages["es"]["wallet_delete_failed"]) ||
		!strings.Contains(body, `id="kr-pan"`) || strings.Contains(body, "bad JSON") {
		t.Errorf("another failure: HTTP %d, want 500 and the form with %q:\n%s", w.Code, messages["es"]["wallet_delete_failed"], body)
	}
	if len(fw.deleted) != 0 {
		t.Errorf("deleted %v", fw.deleted)
	}
}

// The script's deletion (JSON) during a database outage answers 503 with
// Retry-After and the outage's message in the buyer's language, which the
// script shows in the wallet's status line: not a 500 saying the card
// could not be deleted, as if trying again at once would do.
func TestWalletDeleteJSONDatabaseUnavailable(t *testing.T) {
	e, fw := walletEnv(t)
	fw.deleteErr = fmt.Errorf("wallet: cancel token: %w: failed to connect", ErrUnavailable)
	w := e.do(t, "POST", "/pay/w/wallet/delete?kr-language=fr", url.Values{"card": {"c1"}})
	want := unavailableMessages["fr"][MessageUnavailable]
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
		!strings.Contains(w.Body.String(), `"result":"error"`) || !strings.Contains(w.Body.String(), want) {
		t.Errorf("deletion during an outage: HTTP %d, Retry-After %q, %s; want 503, Retry-After and %q",
			w.Code, w.Header().Get("Retry-After"), w.Body.String(), want)
	}
	if len(fw.deleted) != 0 {
		t.Errorf("deleted %v", fw.deleted)
	}
}

// The script's deletion (JSON) answered HTTP 500 for every failure that
// was not an outage (a form gone since the page was shown among them),
// and "The card could not be deleted. Please try again." for a card no
// longer in the wallet, which trying again cannot delete. Each case has
// its own answer now, in the buyer's language and the JSON the script
// reads (result, message), and nothing is deleted:
//   - a card not (or no longer) in the form's wallet, or no card: 404,
//     the card is no longer among the saved cards;
//   - a form gone since the page was shown: 404, the link is not valid;
//   - the shop's manual deletion, or a subscription on the card, since
//     the page was shown (the script asks only when the page said
//     neither): 409 with that result and its message;
//   - any other failure: 500, the card could not be deleted, never the
//     error's own text.
func TestWalletDeleteJSONAnswers(t *testing.T) {
	for _, l := range languages {
		m := messages[l]
		for _, c := range []struct {
			what, form, card string
			setup            func(*fakeWallets)
			status           int
			result, msg      string
		}{
			{"unknown card", "w", "c9", nil, http.StatusNotFound, "gone", m["wallet_card_gone"]},
			{"no card", "w", "", nil, http.StatusNotFound, "error", m["wallet_card_gone"]},
			{"form without a wallet", "p", "c1", nil, http.StatusNotFound, "error", m["wallet_card_gone"]},
			{"form gone", "w", "c1", func(fw *fakeWallets) { fw.deleteErr = fmt.Errorf("wallet: %w", ErrFormNotFound) },
				http.StatusNotFound, "error", m["form_not_found"]},
			{"subscription since the page", "w", "c1", func(fw *fakeWallets) { fw.deleteRes = DeleteSubscription },
				http.StatusConflict, DeleteSubscription, m["wallet_subscription"]},
			{"manual deletion since the page", "w", "c1", func(fw *fakeWallets) { fw.deleteRes = DeleteManual },
				http.StatusConflict, DeleteManual, m["wallet_manual"]},
			{"internal failure", "w", "c1", func(fw *fakeWallets) { fw.deleteErr = errors.New("wallet: decode the token: bad JSON") },
				http.StatusInternalServerError, "error", m["wallet_delete_failed"]},
		} {
			e, fw := walletEnv(t)
			e.pay.add(demoForm("p"))
			if c.setup != nil {
				c.setup(fw)
			}
			w := e.do(t, "POST", "/pay/"+c.form+"/wallet/delete?kr-language="+l, url.Values{"card": {c.card}}, "Accept", "application/json")
			var res walletResponse
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Errorf("%s, %s: not the script's JSON (%v): %s", l, c.what, err, w.Body)
			}
			if w.Code != c.status || res.Result != c.result || res.Message != c.msg || c.msg == "" {
				t.Errorf("%s, %s: HTTP %d %+v, want %d, result %q, message %q", l, c.what, w.Code, res, c.status, c.result, c.msg)
			}
			if strings.Contains(w.Body.String(), "bad JSON") || len(fw.deleted) != 0 {
				t.Errorf("%s, %s: %s, deleted %v", l, c.what, w.Body, fw.deleted)
			}
		}
	}
}

// The first step of a deletion without the script (the confirmation page)
// and the confirmed one read the wallet, and any failure to read it
// answered 404 "The card could not be deleted", a database outage
// included. An outage answers the temporarily-unavailable page, 503 with
// Retry-After, as the deletion itself and the other pages do; a form gone
// since the page was shown, the invalid link's page (404); any other
// failure, the form again with "could not be deleted", HTTP 500 as the
// script's deletion answers it. Nothing is deleted.
func TestWalletDeletePageAnswers(t *testing.T) {
	for _, confirm := range []string{"", "yes"} {
		e, fw := walletEnv(t)
		post := func(target string) *httptest.ResponseRecorder {
			path, query, _ := strings.Cut(target, "?")
			return e.do(t, "POST", path+walletDeletePagePath+"?"+query, url.Values{"card": {"c1"}, "confirm": {confirm}}, "Sec-Fetch-Site", "same-origin")
		}
		fw.walletErr = fmt.Errorf("wallet: list tokens: %w: failed to connect", ErrUnavailable)
		w := post("/pay/w?kr-language=de")
		checkUnavailable(t, "confirm="+confirm, w, "de", MessageUnavailableNotCharged)
		checkPageHeaders(t, w, false)
		w = post(embeddedURL("w", "https://shop.example", demoPublicKey) + "&kr-language=it")
		checkUnavailable(t, "embedded, confirm="+confirm, w, "it", MessageUnavailableNotCharged)
		checkPageHeaders(t, w, true)

		fw.walletErr = fmt.Errorf("wallet: %w", ErrFormNotFound)
		w = post("/pay/w?kr-language=fr")
		if body := html.UnescapeString(w.Body.String()); w.Code != http.StatusNotFound || !strings.Contains(body, messages["fr"]["form_not_found"]) {
			t.Errorf("confirm=%s, form gone: HTTP %d, want 404 and %q:\n%s", confirm, w.Code, messages["fr"]["form_not_found"], body)
		}

		fw.walletErr = errors.New("wallet: scan token: bad JSON")
		w = post("/pay/w?kr-language=es")
		if body := html.UnescapeString(w.Body.String()); w.Code != http.StatusInternalServerError || !strings.Contains(body, messages["es"]["wallet_delete_failed"]) ||
			!strings.Contains(body, `id="kr-pan"`) || strings.Contains(body, "bad JSON") {
			t.Errorf("confirm=%s, wallet unreadable: HTTP %d, want 500 and the form with %q:\n%s", confirm, w.Code, messages["es"]["wallet_delete_failed"], body)
		}
		if len(fw.deleted) != 0 {
			t.Errorf("confirm=%s: deleted %v", confirm, fw.deleted)
		}
	}
}

// TestWalletDeletePageAsksAsDialog: the confirmation page of a deletion
// without the script asks its question as the script's dialog does, in
// plain text (the same element, id kr-confirm-text), not as a large
// heading: the page's one h1 stays the shop's name.
func TestWalletDeletePageAsksAsDialog(t *testing.T) {
	e, _ := walletEnv(t)
	for _, lang := range []string{"en", "fr", "es", "it", "de"} {
		w := e.do(t, "POST", "/pay/w/wallet/delete/page?kr-language="+lang, url.Values{"card": {"c1"}}, "Sec-Fetch-Site", "same-origin")
		body := html.UnescapeString(w.Body.String())
		q := fmt.Sprintf(messages[lang]["wallet_confirm"], "0055")
		if w.Code != http.StatusOK || !strings.Contains(body, `<p id="kr-confirm-text">`+q+`</p>`) || strings.Count(body, "<h1") != 1 {
			t.Errorf("%s: the question is not the dialog's plain text, or the page has not one h1: %d\n%s", lang, w.Code, body)
		}
	}
}
