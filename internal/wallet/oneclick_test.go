package wallet_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// TestOneClickPages: a one-click form (CreatePayment with a
// paymentMethodToken) through the V4 API and the buyer pages on both
// engines: the token's card is the form's only saved card, an American
// Express card asks a 4-digit code, the buyer cannot delete it, and a token
// cancelled after CreatePayment is no longer offered (the buyer types a
// card). CreatePayment answers the token errors in the V4 envelope.
func TestOneClickPages(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		exp := card.Expiry{Month: 12, Year: 2032}
		amex := e.tokenize(cardAmex, "", shop.ModeTest, exp, "")
		e.tokenize(cardMC, "", shop.ModeTest, exp, "") // another token of the shop: not shown
		oneClick := func(tok string) string {
			return e.formToken(map[string]any{"amount": 990, "currency": "EUR", "paymentMethodToken": tok})
		}
		ft := oneClick(amex.Value)
		ids := e.savedCards(ft)
		page := e.page(ft)
		if len(ids) != 1 || ids[0] != amex.ID || !strings.Contains(page, `data-length="4"`) ||
			!strings.Contains(page, "American Express") || strings.Contains(page, amex.Value) {
			t.Fatalf("one-click form of an AMEX token: cards %v\n%s", ids, page)
		}
		if a := e.post(ft, "/wallet/delete", url.Values{"card": ids}); a.Result != "error" {
			t.Fatalf("deleting the merchant's token from the form: %+v", a)
		}
		if a := e.post(ft, "", url.Values{"saved": ids, "saved_csc": {"123"}}); a.Step != "form" || a.Error == nil || a.Error.ErrorCode != "CLIENT_300" {
			t.Fatalf("a 3-digit code for an AMEX card: %+v", a)
		}
		a := e.post(ft, "", url.Values{"saved": ids, "saved_csc": {"1234"}}).answer(t)
		if get(a, "transactions.paymentMethodToken") != amex.Value || get(a, "orderStatus") != "PAID" {
			t.Fatalf("one-click AMEX payment %v", a)
		}

		// Cancelled after CreatePayment: the form is a plain card form.
		ft = oneClick(amex.Value)
		e.ok("Token/Cancel", map[string]any{"paymentMethodToken": amex.Value})
		if got := e.savedCards(ft); len(got) != 0 || strings.Contains(e.page(ft), "kr-saved-csc") {
			t.Fatalf("a cancelled token still offered: %v", got)
		}
		if a := e.post(ft, "", url.Values{"saved": {amex.ID}, "saved_csc": {"1234"}}); a.Error == nil || a.Error.ErrorCode != "CLIENT_311" {
			t.Fatalf("paying with a cancelled token: %+v", a)
		}
		a = e.post(ft, "", url.Values{"pan": {cardOK}, "expiry": {"12/32"}, "csc": {"123"}}).answer(t)
		if get(a, "transactions.transactionDetails.cardDetails.paymentMethodSource") != "NEW" {
			t.Fatalf("a typed card on the form: %v", a)
		}

		// The V4 errors of CreatePayment.
		body := func(tok string) map[string]any {
			return map[string]any{"amount": 990, "currency": "EUR", "paymentMethodToken": tok}
		}
		e.fails("Charge/CreatePayment", body(amex.Value), "PSP_031")
		e.fails("Charge/CreatePayment", body("ffffffffffffffffffffffffffffffff"), "PSP_030")
		other := e.tokenize(cardOK, "", shop.ModeProduction, exp, "")
		e.fails("Charge/CreatePayment", body(other.Value), "PSP_030")
		b := body(e.tokenize(cardOK, "", shop.ModeTest, exp, "").Value)
		b["formAction"] = "ASK_REGISTER_PAY"
		e.fails("Charge/CreatePayment", b, "INT_902")
		e.setShop(func(s *shop.Settings) { s.PaymentByToken = false })
		b["formAction"] = "PAYMENT"
		e.fails("Charge/CreatePayment", b, "PSP_001")
	})
}
