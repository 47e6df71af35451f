package wallet_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

const successURL = "https://merchant.example/paid"

// page returns the HTML of the hosted form.
func (e *env) page(ft string) string {
	e.t.Helper()
	res, err := e.srv.Client().Get(e.srv.URL + "/pay/" + ft)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("GET form: %d %s", res.StatusCode, b)
	}
	return string(b)
}

var cardIDs = regexp.MustCompile(`<li class="saved-card" data-card="([^"]+)"`)

// savedCards returns the ids of the saved cards the form shows.
func (e *env) savedCards(ft string) []string {
	var ids []string
	for _, m := range cardIDs.FindAllStringSubmatch(e.page(ft), -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// hostedAnswer is the form script's JSON answer.
type hostedAnswer struct {
	Step     string `json:"step"`
	Accepted bool   `json:"accepted"`
	Message  string `json:"message"`
	Detail   string `json:"detail"`
	Error    *struct {
		ErrorCode string `json:"errorCode"`
	} `json:"error"`
	Return *struct {
		Fields []struct{ Name, Value string } `json:"fields"`
	} `json:"return"`
	Result string `json:"result"` // wallet deletion
}

// post submits to the hosted page as the form script does.
func (e *env) post(ft, suffix string, form url.Values) hostedAnswer {
	e.t.Helper()
	_, a, _ := e.postAt(ft, suffix, "kr-post-url-success="+url.QueryEscape(successURL), form)
	return a
}

// postAt is post with the page's query: the HTTP status, the answer and
// its JSON.
func (e *env) postAt(ft, suffix, query string, form url.Values) (int, hostedAnswer, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/pay/"+ft+suffix+"?"+query, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var a hostedAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		e.t.Fatalf("POST %s: HTTP %d: %v: %s", suffix, res.StatusCode, err, b)
	}
	return res.StatusCode, a, string(b)
}

// answer returns the kr-answer of an accepted payment.
func (a hostedAnswer) answer(t *testing.T) map[string]any {
	t.Helper()
	if !a.Accepted || a.Return == nil {
		t.Fatalf("payment not accepted: %+v", a)
	}
	for _, f := range a.Return.Fields {
		if f.Name == "kr-answer" {
			var m map[string]any
			if err := json.Unmarshal([]byte(f.Value), &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatal("no kr-answer")
	return nil
}

func newCard(pan string, save bool) url.Values {
	v := url.Values{"pan": {pan}, "expiry": {"12/32"}, "csc": {"123"}}
	if len(pan) == 15 {
		v.Set("csc", "1234")
	}
	if save {
		v.Set("save", "1")
	}
	return v
}

// get reads a path of a JSON object.
func get(m map[string]any, path string) any {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k]
		case []any:
			if len(c) == 0 {
				return nil
			}
			cur = c[0].(map[string]any)[k]
		default:
			return nil
		}
	}
	return cur
}

func tokenValues(list []map[string]any) []string {
	var out []string
	for _, t := range list {
		out = append(out, t["paymentMethodToken"].(string))
	}
	return out
}

// TestWalletErrors: the two errors of document 003.
func TestWalletErrors(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		body := walletPayment(1000, "o-1", "")
		delete(body["customer"].(map[string]any), "reference")
		a := e.fails("Charge/CreatePayment", body, "INT_917")
		if a["detailedErrorMessage"] == nil {
			t.Errorf("INT_917 without detail: %v", a)
		}
		e.setShop(func(s *shop.Settings) { s.PaymentByToken = false })
		e.fails("Charge/CreatePayment", walletPayment(1000, "o-2", "cust-1"), "INT_916")
		// A plain payment still works without the option.
		e.formToken(map[string]any{"amount": 1000, "currency": "EUR"})
	})
}

// TestWalletLifecycle walks document 003 through the API and the form's
// JSON endpoints: saving cards (or not), paying with a saved card, billing
// details carried over and updated, Charge/CreateToken with and without a
// reference, deletion in automatic and manual modes and for a card paying
// a subscription, Token/* services, expiry, modes and shops kept apart.
func TestWalletLifecycle(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		clk := clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
		e := newEnv(t, db, clk)

		// First purchase: no saved card yet; the buyer saves the card.
		body := walletPayment(1500, "o-1", "cust-1")
		body["customer"].(map[string]any)["billingDetails"] = map[string]any{"firstName": "Ada", "lastName": "Lovelace", "language": "fr"}
		ft := e.formToken(body)
		if html := e.page(ft); strings.Contains(html, `id="kr-wallet"`) || !strings.Contains(html, `id="kr-save"`) {
			t.Fatal("first wallet form: saved cards shown or no save box")
		}
		ans := e.post(ft, "", newCard(cardOK, true)).answer(t)
		tok, _ := get(ans, "transactions.paymentMethodToken").(string)
		if tok == "" || get(ans, "customer.reference") != "cust-1" {
			t.Fatalf("saved card answer %v", ans)
		}
		w := e.tokens("cust-1", "")
		if len(w) != 1 || w[0]["paymentMethodToken"] != tok || get(w[0], "customer.billingDetails.firstName") != "Ada" ||
			get(w[0], "customer.reference") != "cust-1" || get(w[0], "tokenDetails.effectiveBrand") != "CB" ||
			get(w[0], "tokenDetails.authorizationResponse.authorizationNumber") == nil || w[0]["status"] != "ACTIVE" {
			t.Fatalf("wallet after the first save %v", w)
		}
		// Paid without saving, and with a brand wallets do not keep.
		e.post(e.formToken(walletPayment(1500, "o-2", "cust-1")), "", newCard(cardMC, false)).answer(t)
		ans = e.post(e.formToken(walletPayment(1500, "o-3", "cust-1")), "", newCard(cardJCB, true)).answer(t)
		if get(ans, "transactions.paymentMethodToken") != nil {
			t.Fatalf("a JCB card was saved: %v", ans)
		}
		if w := e.tokens("cust-1", "ALL"); len(w) != 1 {
			t.Fatalf("wallet after unsaved payments: %v", tokenValues(w))
		}

		// Next purchase: the saved card is there, chosen; billing details
		// carry over from the card.
		ft = e.formToken(walletPayment(2500, "o-4", "cust-1"))
		ids := e.savedCards(ft)
		if len(ids) != 1 || !strings.Contains(e.page(ft), `value="`+ids[0]+`" checked`) {
			t.Fatalf("saved cards on the form: %v", ids)
		}
		if strings.Contains(e.page(ft), tok) {
			t.Fatal("the form shows the token")
		}
		ans = e.post(ft, "", url.Values{"saved": {ids[0]}, "saved_csc": {"123"}}).answer(t)
		if get(ans, "transactions.paymentMethodToken") != tok ||
			get(ans, "transactions.transactionDetails.cardDetails.paymentMethodSource") != "TOKEN" ||
			get(ans, "customer.billingDetails.firstName") != "Ada" || get(ans, "orderStatus") != "PAID" {
			t.Fatalf("saved-card payment %v", ans)
		}
		// New details with the payment: used for it, the token unchanged.
		body = walletPayment(2500, "o-5", "cust-1")
		body["customer"].(map[string]any)["billingDetails"] = map[string]any{"firstName": "Bob"}
		ft = e.formToken(body)
		ans = e.post(ft, "", url.Values{"saved": e.savedCards(ft), "saved_csc": {"123"}}).answer(t)
		if get(ans, "customer.billingDetails.firstName") != "Bob" {
			t.Fatalf("billing details of the request not used: %v", ans)
		}
		if got := e.ok("Token/Get", map[string]any{"paymentMethodToken": tok}); get(got, "customer.billingDetails.firstName") != "Ada" {
			t.Fatalf("the token changed: %v", got)
		}
		// A card id from elsewhere is no card of this wallet.
		if a := e.post(e.formToken(walletPayment(100, "o-x", "cust-1")), "", url.Values{"saved": {"nope"}}); a.Error == nil || a.Error.ErrorCode != "CLIENT_311" {
			t.Fatalf("unknown saved card: %+v", a)
		}

		// Saving a card without paying, with the reference: into the wallet.
		a := e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-1",
			"customer": map[string]any{"email": "buyer@example.com", "reference": "cust-1"}})
		ans = e.post(a["formToken"].(string), "", newCard(cardAmex, false)).answer(t)
		amex, _ := get(ans, "transactions.paymentMethodToken").(string)
		if get(ans, "transactions.operationType") != "VERIFICATION" || get(ans, "transactions.detailedStatus") != "ACCEPTED" ||
			get(ans, "transactions.amount") != 0.0 || amex == "" || get(ans, "customer.reference") != "cust-1" {
			t.Fatalf("CreateToken with a reference: %v", ans)
		}
		// The shop's notification URL got the verification's IPN.
		if n := e.count(`SELECT COUNT(*) FROM outbox WHERE channel = 'ipn' AND event = 'payment.accepted'
			AND target = 'https://merchant.example/ipn' AND payload LIKE $1`, "%"+amex+"%"); n != 1 {
			t.Fatalf("IPNs of the CreateToken verification: %d", n)
		}
		// Without: a token, not in the wallet.
		a = e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-2",
			"customer": map[string]any{"email": "buyer@example.com"}})
		ans = e.post(a["formToken"].(string), "", newCard(cardMC, false)).answer(t)
		loose, _ := get(ans, "transactions.paymentMethodToken").(string)
		if loose == "" || get(ans, "customer.reference") != nil {
			t.Fatalf("CreateToken without a reference: %v", ans)
		}
		if got := tokenValues(e.tokens("cust-1", "")); !slices.Equal(got, []string{tok, amex}) {
			t.Fatalf("wallet %v, want [%s %s]", got, tok, amex)
		}
		if got := e.ok("Token/Get", map[string]any{"paymentMethodToken": loose}); got["status"] != "ACTIVE" || get(got, "customer.reference") != nil {
			t.Fatalf("token outside the wallet %v", got)
		}

		// CustomerWallet/Update: the buyer's details on every token.
		a = e.ok("CustomerWallet/Update", map[string]any{"customerReference": "cust-1",
			"customer": map[string]any{"billingDetails": map[string]any{"firstName": "Carl", "cellPhoneNumber": "+33612345678"}}})
		if list, _ := a["tokens"].([]any); len(list) != 2 {
			t.Fatalf("CustomerWallet/Update answer %v", a)
		}
		for _, tk := range e.tokens("cust-1", "") {
			if get(tk, "customer.billingDetails.firstName") != "Carl" || get(tk, "customer.email") != "buyer@example.com" {
				t.Fatalf("after CustomerWallet/Update %v", tk)
			}
		}
		// Token/UpdateCustomerDetails: one token only.
		e.ok("Token/UpdateCustomerDetails", map[string]any{"paymentMethodToken": amex, "customer": map[string]any{"email": "new@example.com"}})
		if got := e.ok("Token/Get", map[string]any{"paymentMethodToken": tok}); get(got, "customer.email") != "buyer@example.com" {
			t.Fatalf("Token/UpdateCustomerDetails changed another token: %v", got)
		}

		// The buyer deletes a card (automatic mode): cancelled, still
		// visible to the merchant, notifications queued.
		ft = e.formToken(walletPayment(900, "o-6", "cust-1"))
		ids = e.savedCards(ft)
		if len(ids) != 2 || strings.Contains(e.page(ft), " checked") {
			t.Fatalf("two saved cards: %v (none chosen in advance)", ids)
		}
		if a := e.post(ft, "", url.Values{}); a.Error == nil || a.Error.ErrorCode == "" {
			t.Fatalf("payment without card or choice: %+v", a)
		}
		if r := e.post(ft, "/wallet/delete", url.Values{"card": {ids[1]}}); r.Result != "deleted" {
			t.Fatalf("delete: %+v", r)
		}
		if got := tokenValues(e.tokens("cust-1", "")); !slices.Equal(got, []string{tok}) {
			t.Fatalf("active after delete %v", got)
		}
		c := e.tokens("cust-1", "CANCELLED")
		if len(c) != 1 || c[0]["paymentMethodToken"] != amex || c[0]["status"] != "CANCELLED" || c[0]["cancellationDate"] != "2030-03-10T09:00:00+00:00" {
			t.Fatalf("cancelled %v", c)
		}
		if got := e.outbox(amex); !slices.Contains(got, "webhook token.cancelled https://merchant.example/ipn") ||
			!slices.Contains(got, "email token.cancelled new@example.com") || !slices.Contains(got, "email token.cancelled merchant@example.com") {
			t.Fatalf("notifications of the deletion %v", got)
		}
		if a := e.post(ft, "", url.Values{"saved": {ids[1]}}); a.Error == nil || a.Error.ErrorCode != "CLIENT_311" {
			t.Fatalf("paying with a deleted card: %+v", a)
		}
		e.fails("Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR", "formAction": "SILENT", "paymentMethodToken": amex}, "PSP_031")
		e.ok("Token/Reactivate", map[string]any{"paymentMethodToken": amex})
		e.fails("Token/Reactivate", map[string]any{"paymentMethodToken": amex}, "PSP_014")
		if got := tokenValues(e.tokens("cust-1", "")); len(got) != 2 {
			t.Fatalf("after reactivation %v", got)
		}

		// Manual mode: nothing changes, the buyer is told to contact the shop.
		e.setShop(func(s *shop.Settings) { s.TokenDeletion = shop.DeletionManual })
		ft = e.formToken(walletPayment(900, "o-7", "cust-1"))
		if !strings.Contains(e.page(ft), `data-deletion="MANUAL"`) {
			t.Fatal("manual mode not on the form")
		}
		if r := e.post(ft, "/wallet/delete", url.Values{"card": {e.savedCards(ft)[0]}}); r.Result != "manual" || r.Message == "" {
			t.Fatalf("manual delete %+v", r)
		}
		e.setShop(func(s *shop.Settings) { s.TokenDeletion = shop.DeletionAutomatic })
		// A card paying a subscription stays.
		e.subs.set(tok)
		ft = e.formToken(walletPayment(900, "o-8", "cust-1"))
		if !strings.Contains(e.page(ft), `data-subscription="true"`) {
			t.Fatal("no subscription warning on the form")
		}
		if r := e.post(ft, "/wallet/delete", url.Values{"card": {e.savedCards(ft)[0]}}); r.Result != "subscription" || r.Message == "" {
			t.Fatalf("delete of a subscription's card %+v", r)
		}
		if got := tokenValues(e.tokens("cust-1", "")); len(got) != 2 {
			t.Fatalf("after refused deletions %v", got)
		}
		// Token/Cancel stops the subscriptions on the token.
		e.ok("Token/Cancel", map[string]any{"paymentMethodToken": tok})
		if got := e.ok("Token/Get", map[string]any{"paymentMethodToken": tok}); got["status"] != "CANCELLED" || got["cancellationDate"] == nil {
			t.Fatalf("Token/Get after cancel %v", got)
		}
		if !slices.Contains(e.subs.stopped, tok) {
			t.Fatal("Token/Cancel did not stop the subscription")
		}
		e.fails("Token/Cancel", map[string]any{"paymentMethodToken": tok}, "PSP_031")
		e.fails("Token/Get", map[string]any{"paymentMethodToken": "0123456789abcdef0123456789abcdef"}, "PSP_030")
		e.fails("Token/Get", map[string]any{}, "INT_902")
		e.fails("CustomerWallet/Get", map[string]any{"customerReference": "cust-1", "tokenStatus": "SOMETIMES"}, "INT_902")
		if all := e.tokens("cust-1", "ALL"); len(all) != 2 {
			t.Fatalf("ALL %v", tokenValues(all))
		}

		// Modes and shops are separate wallets.
		status, a := e.callAs(shopID, prodPass, "CustomerWallet/Get", map[string]any{"customerReference": "cust-1", "tokenStatus": "ALL"})
		if status != "SUCCESS" || len(a["tokens"].([]any)) != 0 {
			t.Fatalf("PRODUCTION wallet %s %v", status, a)
		}
		if status, a = e.callAs(shopID, prodPass, "Token/Get", map[string]any{"paymentMethodToken": amex}); a["errorCode"] != "PSP_030" {
			t.Fatalf("TEST token seen with the PRODUCTION key: %s %v", status, a)
		}
		status, a = e.callAs(shopID, prodPass, "Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR", "formAction": "SILENT", "paymentMethodToken": amex})
		if a["errorCode"] != "PSP_030" {
			t.Fatalf("TEST token paid with the PRODUCTION key: %s %v", status, a)
		}
		if status, a = e.callAs(otherShop, otherPass, "CustomerWallet/Get", map[string]any{"customerReference": "cust-1", "tokenStatus": "ALL"}); len(a["tokens"].([]any)) != 0 {
			t.Fatalf("other shop's wallet %s %v", status, a)
		}

		// SILENT with a wallet token: the card's billing details carry over.
		a = e.ok("Charge/CreatePayment", map[string]any{"amount": 700, "currency": "EUR", "formAction": "SILENT", "paymentMethodToken": amex})
		if get(a, "customer.billingDetails.firstName") != "Carl" || get(a, "orderStatus") != "PAID" {
			t.Fatalf("SILENT payment %v", a)
		}
		uuid := get(a, "transactions.uuid").(string)

		// Charge/CreateTokenFromTransaction: from a debit paid with a token.
		nt := e.ok("Charge/CreateTokenFromTransaction", map[string]any{"uuid": uuid, "email": "copy@example.com"})
		if nt["_type"] != "V4/Token" || nt["paymentMethodToken"] == amex || get(nt, "customer.email") != "copy@example.com" ||
			get(nt, "customer.reference") != nil || get(nt, "tokenDetails.pan") != "375900XXXXX0008" {
			t.Fatalf("CreateTokenFromTransaction %v", nt)
		}
		verif := e.ok("Order/Get", map[string]any{"orderId": "reg-1"})
		e.fails("Charge/CreateTokenFromTransaction", map[string]any{"uuid": get(verif, "transactions.uuid")}, "PSP_035")
		plain := e.ok("Order/Get", map[string]any{"orderId": "o-2"})
		e.fails("Charge/CreateTokenFromTransaction", map[string]any{"uuid": get(plain, "transactions.uuid")}, "PSP_035")

		// An expired card is never offered, and lists as EXPIRED.
		short := e.tokenize(cardMC, "cust-1", shop.ModeTest, card.Expiry{Month: 3, Year: 2030}, `{"email":"buyer@example.com"}`)
		if n := len(e.savedCards(e.formToken(walletPayment(100, "o-9", "cust-1")))); n != 2 {
			t.Fatalf("cards before the expiry: %d", n)
		}
		clk.Advance(30 * 24 * time.Hour)
		ft = e.formToken(walletPayment(100, "o-10", "cust-1"))
		if ids := e.savedCards(ft); len(ids) != 1 {
			t.Fatalf("cards after the expiry: %v", ids)
		}
		exp := e.tokens("cust-1", "EXPIRED")
		if len(exp) != 1 || exp[0]["paymentMethodToken"] != short.Value || exp[0]["cancellationDate"] != "2030-04-01T00:00:00+00:00" {
			t.Fatalf("EXPIRED %v", exp)
		}
		// The last card deleted: the form has no saved card left.
		if r := e.post(ft, "/wallet/delete", url.Values{"card": e.savedCards(ft)}); r.Result != "deleted" {
			t.Fatalf("last delete %+v", r)
		}
		if strings.Contains(e.page(ft), `id="kr-wallet"`) {
			t.Fatal("the wallet is still shown without any card")
		}
	})
}

// TestPaySavedChecks: the payment service pays a form with a saved card only
// if the card is in that form's wallet, in its mode, and with its security
// code (the hosted form asks it; the service refuses a caller that does not).
func TestPaySavedChecks(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		exp := card.Expiry{Month: 12, Year: 2032}
		mine := e.tokenize(cardOK, "cust-1", shop.ModeTest, exp, "")
		theirs := e.tokenize(cardOK, "cust-2", shop.ModeTest, exp, "")
		loose := e.tokenize(cardOK, "", shop.ModeTest, exp, "")
		prod := e.tokenize(cardOK, "cust-1", shop.ModeProduction, exp, "")
		ft := e.formToken(walletPayment(100, "p-1", "cust-1"))
		for _, tok := range []string{theirs.Value, loose.Value, prod.Value, "ffffffffffffffffffffffffffffffff"} {
			_, _, err := e.pay.PaySaved(e.ctx(), ft, payment.SavedCardInput{Token: tok})
			wantCode(t, err, "PSP_030")
		}
		plain := e.formToken(map[string]any{"amount": 100, "currency": "EUR", "customer": map[string]any{"reference": "cust-1"}})
		_, _, err := e.pay.PaySaved(e.ctx(), plain, payment.SavedCardInput{Token: mine.Value})
		wantCode(t, err, "PSP_001")
		// The buyer's own card still needs its security code, as on the
		// hosted form and a one-click form: PSP_024, no attempt used.
		_, _, err = e.pay.PaySaved(e.ctx(), ft, payment.SavedCardInput{Token: mine.Value})
		wantCode(t, err, "PSP_024")
		code, _ := card.NewSecurityCode("123")
		p, tx, err := e.pay.PaySaved(e.ctx(), ft, payment.SavedCardInput{Token: mine.Value, CVV: code})
		if err != nil || !tx.Accepted() || tx.Token != mine.Value || p.Attempts != 1 {
			t.Fatalf("PaySaved: %v %+v", err, tx)
		}
	})
}

// TestSavedCardChallenge: a saved card goes through 3-D Secure like a typed
// one; the challenge round trip carries the saved card, not a typed one.
func TestSavedCardChallenge(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), nil)
	tok := e.tokenize("4970110000000021", "cust-3", shop.ModeTest, card.Expiry{Month: 12, Year: 2032}, "")
	ft := e.formToken(walletPayment(4200, "c-1", "cust-3"))
	ids := e.savedCards(ft)
	u := e.srv.URL + "/pay/" + ft
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(url.Values{"saved": ids, "saved_csc": {"123"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ch struct{ Step, Action, Sealed string }
	if err := json.NewDecoder(res.Body).Decode(&ch); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if ch.Step != "challenge" || ch.Sealed == "" {
		t.Fatalf("saved challenge card: %+v", ch)
	}
	a := e.post(ft, "/3ds/complete", url.Values{"sealed": {ch.Sealed}, "decision": {"approve"}}).answer(t)
	if get(a, "transactions.paymentMethodToken") != tok.Value ||
		get(a, "transactions.transactionDetails.cardDetails.threeDSResponse.authenticationResultData.status") != "SUCCESS" {
		t.Fatalf("after the challenge %v", a)
	}
}

// A customer reference is the same wallet however the merchant pads it:
// Charge/CreatePayment trims customer.reference before saving the card, so
// CustomerWallet/Get and CustomerWallet/Update must trim it too, or the
// very string the merchant sent with the payment finds an empty wallet.
func TestWalletReferenceTrimmed(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ans := e.post(e.formToken(walletPayment(1000, "o-1", " cust-7 ")), "", newCard(cardOK, true)).answer(t)
		tok, _ := get(ans, "transactions.paymentMethodToken").(string)
		if tok == "" {
			t.Fatalf("no card saved: %v", ans)
		}
		for _, ref := range []string{" cust-7 ", "cust-7"} {
			if w := e.tokens(ref, ""); len(w) != 1 || w[0]["paymentMethodToken"] != tok {
				t.Fatalf("CustomerWallet/Get %q: %v", ref, tokenValues(w))
			}
		}
		a := e.ok("CustomerWallet/Update", map[string]any{"customerReference": " cust-7 ",
			"customer": map[string]any{"email": "new@example.com"}})
		if list, _ := a["tokens"].([]any); len(list) != 1 || get(list[0].(map[string]any), "customer.email") != "new@example.com" {
			t.Fatalf("CustomerWallet/Update: %v", a)
		}
	})
}
