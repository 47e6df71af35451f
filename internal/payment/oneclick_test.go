package payment

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// TestOneClickCreatePayment is Lyra's one-click payment: Charge/CreatePayment
// with a paymentMethodToken and no formAction (or PAYMENT) gives a formToken
// whose form pays with the token's card once the buyer confirms it with the
// security code (PaySaved): a customer-initiated payment that records the
// token's use. The token is checked when the formToken is created.
func TestOneClickCreatePayment(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		rec := &recordingAcquirer{Simulator: e.sim}
		e.svc = New(db, e.clk, rec, CardVault(e.vault), Config{AcquirerTimeout: 200 * time.Millisecond})
		tok := e.token(cardOK)
		for _, action := range []string{"", ActionPayment} {
			p, ft, err := e.svc.CreatePayment(e.ctx(), e.shop, e.creds, CreateInput{Amount: 990, Currency: "EUR",
				FormAction: action, PaymentMethodToken: tok})
			if err != nil {
				t.Fatalf("formAction %q: %v", action, err)
			}
			if ft == "" || p.FormAction != ActionPayment || p.Options.PaymentMethodToken != tok || p.Options.MaxAttempts != 3 {
				t.Fatalf("one-click payment %+v", p)
			}
		}

		// The buyer confirms the saved card: the security code is asked.
		e.clk.Advance(2 * time.Hour) // past the token's last-use resolution
		_, ft := e.create(CreateInput{Amount: 990, OrderID: "oc-1", PaymentMethodToken: tok})
		_, _, err := e.svc.PaySaved(e.ctx(), ft, SavedCardInput{Token: tok})
		wantCode(t, err, errs.CVVRequired)
		// Only the token the merchant gave pays this form.
		_, _, err = e.svc.PaySaved(e.ctx(), ft, SavedCardInput{Token: e.token(cardOK), CVV: cvv("123")})
		wantCode(t, err, errs.TokenNotFound)
		p, tx, err := e.svc.PaySaved(e.ctx(), ft, SavedCardInput{Token: tok, CVV: cvv("123")})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Authorised)
		if tx.Token != tok || tx.PaymentMethodSource != "TOKEN" || tx.PANMasked != "497010XXXXXX0055" || p.OrderStatus != StatusPaid {
			t.Fatalf("one-click payment %+v / %s", tx, p.OrderStatus)
		}
		if got := rec.last(); got.Initiator != acquirer.InitiatorCIT || got.SecurityCode.Reveal() != "123" {
			t.Errorf("the acquirer saw initiator %q, security code given %v", got.Initiator, !got.SecurityCode.IsZero())
		}
		vt, err := e.vault.Get(e.ctx(), e.shop.ID, "TEST", tok)
		if err != nil || !vt.LastUsedAt.Equal(e.clk.Now()) {
			t.Errorf("the token's use is not recorded: last used %v, now %v (%v)", vt.LastUsedAt, e.clk.Now(), err)
		}

		// A refused one-click attempt leaves the form's other attempts,
		// for the same card or another one.
		_, ft = e.create(CreateInput{Amount: 990, PaymentMethodToken: e.token(cardRefused)})
		_, tx, err = e.svc.PaySaved(e.ctx(), ft, SavedCardInput{Token: mustToken(t, e, ft), CVV: cvv("123")})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Refused)
		p, tx, err = e.svc.PayCard(e.ctx(), ft, cardIn(cardOK))
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Authorised)
		if tx.PaymentMethodSource != "NEW" || tx.Token != "" || p.Attempts != 2 {
			t.Fatalf("another card after a refusal: %+v, %d attempts", tx, p.Attempts)
		}

		// A CUSTOMER_WALLET form is not a one-click form: its saved cards
		// are the buyer's wallet, not any token.
		email := "buyer@example.com"
		_, ft = e.create(CreateInput{Amount: 990, FormAction: ActionCustomerWallet, Customer: Customer{Email: &email, Reference: &email}})
		_, _, err = e.svc.PaySaved(e.ctx(), ft, SavedCardInput{Token: tok, CVV: cvv("123")})
		wantCode(t, err, errs.TokenNotFound)
	})
}

// TestOneClickTokenErrors: the token of a one-click payment is checked at
// Charge/CreatePayment, with the errors of a SILENT payment (compat.md
// §1.7): unknown or of another shop or mode PSP_030, cancelled or not a card
// PSP_031, purged PSP_036; a shop without payment by token PSP_001; a token
// with another formAction than PAYMENT (or SILENT) INT_902.
func TestOneClickTokenErrors(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		other := shop.Shop{ID: "11112222", Name: "Other", Currency: "EUR", Language: "en", Settings: shop.Settings{PaymentByToken: true}}
		if err := db.InsertShop(e.ctx(), other, nil, nil, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		purged := e.token(cardOK)
		e.clk.Advance(time.Hour)
		if _, err := e.vault.Purge(e.ctx(), e.clk.Now(), vault.PurgeOptions{}); err != nil {
			t.Fatal(err)
		}
		c := cardIn(cardOK)
		otherTok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: other.ID, Mode: shop.ModeTest, PAN: c.PAN, Expiry: c.Expiry})
		if err != nil {
			t.Fatal(err)
		}
		prodTok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeProduction, PAN: c.PAN, Expiry: c.Expiry})
		if err != nil {
			t.Fatal(err)
		}
		cancelled := e.token(cardOK)
		if _, err := e.vault.Cancel(e.ctx(), e.shop.ID, "TEST", cancelled); err != nil {
			t.Fatal(err)
		}
		iban, err := vault.NewIBAN("DE89370400440532013000")
		if err != nil {
			t.Fatal(err)
		}
		var sdd vault.Token
		err = db.Write(e.ctx(), func(tx *sql.Tx) error {
			sdd, _, err = e.vault.SaveAccount(e.ctx(), tx, vault.AccountRequest{ShopID: e.shop.ID, Mode: shop.ModeTest,
				IBAN: iban, HolderName: "Max Muster", Origin: "V4"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		tok := e.token(cardOK)
		noTokens := e.shop
		noTokens.Settings.PaymentByToken = false
		cases := []struct {
			name   string
			sh     shop.Shop
			action string
			token  string
			code   string
		}{
			{"unknown", e.shop, "", "ffffffffffffffffffffffffffffffff", errs.TokenNotFound},
			{"not a token value", e.shop, "", "abc", errs.TokenNotFound},
			{"another shop's", e.shop, "", otherTok.Value, errs.TokenNotFound},
			{"PRODUCTION token, TEST key", e.shop, "", prodTok.Value, errs.TokenNotFound},
			{"cancelled", e.shop, ActionPayment, cancelled, errs.TokenInvalid},
			{"purged", e.shop, "", purged, errs.TokenPurged},
			{"direct debit", e.shop, "", sdd.Value, errs.TokenInvalid},
			{"no payment by token", noTokens, "", tok, errs.Unauthorized},
			{"REGISTER_PAY", e.shop, ActionRegisterPay, tok, errs.InputInvalid},
			{"CUSTOMER_WALLET", e.shop, ActionCustomerWallet, tok, errs.InputInvalid},
		}
		for _, c := range cases {
			_, _, err := e.svc.CreatePayment(e.ctx(), c.sh, e.creds, CreateInput{Amount: 990, Currency: "EUR",
				FormAction: c.action, PaymentMethodToken: c.token})
			if e, ok := errs.As(err); !ok || e.Code != c.code {
				t.Errorf("%s: error %v, want %s", c.name, err, c.code)
			}
		}
		var n int
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM payments`).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d payments stored for refused requests (%v)", n, err)
		}
	})
}

// recordingAcquirer is the simulator, keeping the last authorization asked.
type recordingAcquirer struct {
	*simulator.Simulator
	mu  sync.Mutex
	req acquirer.AuthorizeRequest
}

func (r *recordingAcquirer) Authorize(ctx context.Context, req acquirer.AuthorizeRequest) (acquirer.Result, error) {
	r.mu.Lock()
	r.req = req
	r.mu.Unlock()
	return r.Simulator.Authorize(ctx, req)
}

func (r *recordingAcquirer) last() acquirer.AuthorizeRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.req
}

func cvv(s string) card.SecurityCode {
	c, err := card.NewSecurityCode(s)
	if err != nil {
		panic(err)
	}
	return c
}

// mustToken returns the paymentMethodToken of a one-click formToken.
func mustToken(t *testing.T, e *env, ft string) string {
	t.Helper()
	p, err := e.svc.PaymentForToken(e.ctx(), ft)
	if err != nil || p.Options.PaymentMethodToken == "" {
		t.Fatalf("one-click form %s: %+v %v", ft, p.Options, err)
	}
	return p.Options.PaymentMethodToken
}

// A saved card's 3-D Secure challenge, as a typed card's, pays one attempt:
// the completion posted again makes no attempt and answers the first.
func TestSavedCardChallengeUsedOnce(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		_, ft := e.create(CreateInput{Amount: 990, OrderID: "oc-3ds", PaymentMethodToken: tok})
		in := SavedCardInput{Token: tok, CVV: cvv("123"), ThreeDS: &acquirer.ThreeDSResult{Status: acquirer.ThreeDSFailed,
			Version: acquirer.ThreeDSVersion, Challenged: true, DSTransID: "d1b2c3d4-0000-4000-8000-000000000001"}}
		_, first, err := e.svc.PaySaved(e.ctx(), ft, in)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, first, Refused)
		p, again, err := e.svc.PaySaved(e.ctx(), ft, in)
		if err != nil || again.UUID != first.UUID || len(p.Transactions) != 1 || p.Attempts != 1 {
			t.Fatalf("replay: %v, transaction %s (first %s), %d transactions, %d attempts",
				err, again.UUID, first.UUID, len(p.Transactions), p.Attempts)
		}
	})
}
