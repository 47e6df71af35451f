package subscription

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
	"github.com/openpsp/openpsp/internal/wallet"
)

func TestCreateErrors(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		cancelled := e.token(cardOK)
		if _, err := e.vault.Cancel(e.ctx(), e.shop.ID, "TEST", cancelled); err != nil {
			t.Fatal(err)
		}
		pan, _ := card.ParsePAN(cardOK)
		temp, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeTest, PAN: pan,
			Expiry: card.Expiry{Month: 12, Year: 2035}, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		prod, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeProduction, PAN: pan,
			Expiry: card.Expiry{Month: 12, Year: 2035}})
		if err != nil {
			t.Fatal(err)
		}
		iban, _ := vault.NewIBAN("DE89370400440532013000")
		err = db.Write(e.ctx(), func(tx *sql.Tx) error {
			_, _, err := e.vault.SaveAccount(e.ctx(), tx, vault.AccountRequest{ShopID: e.shop.ID, Mode: shop.ModeTest,
				Token: "sepa-1", IBAN: iban, HolderName: "Max Muster", Origin: "FLEXCHECKOUT"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(2 * time.Minute) // the temporary token is purged now
		ok := func() CreateInput {
			return CreateInput{Amount: 100, Currency: "EUR", EffectDate: e.clk.Now(), PaymentMethodToken: tok, RRule: "FREQ=MONTHLY"}
		}
		for _, c := range []struct {
			name   string
			change func(*CreateInput)
			code   string
			field  string
		}{
			{"amount zero", func(in *CreateInput) { in.Amount = 0 }, "PSP_020", "amount"},
			{"amount too big", func(in *CreateInput) { in.Amount = 1e13 }, "PSP_020", "amount"},
			{"no currency", func(in *CreateInput) { in.Currency = "" }, "INT_902", "currency"},
			{"unknown currency", func(in *CreateInput) { in.Currency = "XYZ" }, "PSP_021", "currency"},
			{"initial amount zero", func(in *CreateInput) { in.InitialAmount, in.InitialAmountNumber = ptr(int64(0)), 1 }, "PSP_020", "initialAmount"},
			{"initial number without amount", func(in *CreateInput) { in.InitialAmountNumber = 2 }, "INT_902", "initialAmount"},
			{"initial number too big", func(in *CreateInput) { in.InitialAmount, in.InitialAmountNumber = ptr(int64(5)), 1000 }, "INT_902", "initialAmountNumber"},
			{"no rrule", func(in *CreateInput) { in.RRule = " " }, "INT_902", "rrule"},
			{"bad rrule", func(in *CreateInput) { in.RRule = "FREQ=MONTHLY;BYMONTHDAY=32" }, "PSP_033", "rrule"},
			{"hourly rrule", func(in *CreateInput) { in.RRule = "FREQ=HOURLY" }, "PSP_033", "rrule"},
			{"rrule without dates", func(in *CreateInput) { in.RRule = "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30" }, "PSP_033", "rrule"},
			{"rrule ended", func(in *CreateInput) { in.RRule = "FREQ=MONTHLY;UNTIL=20200101" }, "PSP_033", "rrule"},
			{"no effect date", func(in *CreateInput) { in.EffectDate = time.Time{} }, "INT_902", "effectDate"},
			{"past effect date", func(in *CreateInput) { in.EffectDate = e.clk.Now().AddDate(0, 0, -1) }, "INT_902", "effectDate"},
			{"effect date too far", func(in *CreateInput) { in.EffectDate = e.clk.Now().AddDate(11, 0, 0) }, "PSP_013", "effectDate"},
			{"no token", func(in *CreateInput) { in.PaymentMethodToken = "" }, "INT_902", "paymentMethodToken"},
			{"unknown token", func(in *CreateInput) { in.PaymentMethodToken = strings.Repeat("a", 32) }, "PSP_030", "paymentMethodToken"},
			{"token too long", func(in *CreateInput) { in.PaymentMethodToken = strings.Repeat("a", 65) }, "PSP_030", "paymentMethodToken"},
			{"production token", func(in *CreateInput) { in.PaymentMethodToken = prod.Value }, "PSP_030", "paymentMethodToken"},
			{"cancelled token", func(in *CreateInput) { in.PaymentMethodToken = cancelled }, "PSP_031", "paymentMethodToken"},
			{"purged token", func(in *CreateInput) { in.PaymentMethodToken = temp.Value }, "PSP_036", "paymentMethodToken"},
			{"bank account token", func(in *CreateInput) { in.PaymentMethodToken = "sepa-1" }, "PSP_031", "paymentMethodToken"},
			{"order id too long", func(in *CreateInput) { in.OrderID = strings.Repeat("o", 65) }, "INT_902", "orderId"},
			{"description control", func(in *CreateInput) { in.Description = "a\x00b" }, "INT_902", "description"},
			{"metadata key", func(in *CreateInput) { in.Metadata = map[string]string{"": "x"} }, "INT_902", "metadata."},
			{"ipn url", func(in *CreateInput) { in.Options.IPNTargetURL = "ftp://x" }, "INT_902", "ipnTargetUrl"},
			{"capture delay", func(in *CreateInput) { in.Options.CaptureDelay = ptr(400) }, "INT_902", "transactionOptions.cardOptions.captureDelay"},
			{"manual validation", func(in *CreateInput) { in.Options.ManualValidation = "MAYBE" }, "INT_902", "transactionOptions.cardOptions.manualValidation"},
		} {
			in := ok()
			c.change(&in)
			_, err := e.svc.Create(e.ctx(), e.shop, e.creds, in)
			if er := wantCode(t, err, c.code); er.Field != c.field {
				t.Errorf("%s: field %q, want %q (%v)", c.name, er.Field, c.field, err)
			}
		}
		noTokens := e.shop
		noTokens.Settings.PaymentByToken = false
		_, err = e.svc.Create(e.ctx(), noTokens, e.creds, ok())
		wantCode(t, err, "PSP_001")
		var n int
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM subscriptions`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d subscriptions stored by refused calls", n)
		}
	})
}

func TestGetUpdate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		sub := e.create(CreateInput{Amount: 1000, PaymentMethodToken: tok, RRule: "FREQ=MONTHLY;COUNT=6", OrderID: "o-1",
			InitialAmount: ptr(int64(100)), InitialAmountNumber: 1, Description: "plan"})
		e.run(1)

		// Get: the key set's mode, the subscription's token.
		if _, err := e.svc.Get(e.ctx(), e.shop.ID, shop.ModeProduction, sub.ID, tok); err == nil {
			t.Fatal("a PRODUCTION key sees a TEST subscription")
		} else {
			wantCode(t, err, "PSP_032")
		}
		_, err := e.svc.Get(e.ctx(), e.shop.ID, shop.ModeTest, sub.ID, e.token(cardOK))
		wantCode(t, err, "PSP_030")
		_, err = e.svc.Get(e.ctx(), e.shop.ID, shop.ModeTest, "nope", tok)
		wantCode(t, err, "PSP_032")
		_, err = e.svc.Get(e.ctx(), "00000000", shop.ModeTest, sub.ID, tok)
		wantCode(t, err, "PSP_032")

		// A new amount applies to the instalments to come.
		up := UpdateInput{SubscriptionID: sub.ID, PaymentMethodToken: tok, Amount: 2000, Currency: "EUR",
			EffectDate: sub.EffectDate, RRule: "RRULE:FREQ=MONTHLY;COUNT=6", Description: ptr("gold plan")}
		got, err := e.svc.Update(e.ctx(), e.shop, e.creds, up)
		if err != nil || got.Amount != 2000 || got.Description != "gold plan" || got.TotalPayments != 6 || !got.NextDueAt.Equal(date("2030-04-10")) {
			t.Fatalf("Update = %+v, %v", got, err)
		}
		e.clk.Set(t0.AddDate(0, 1, 0))
		e.run(1)
		if is := e.instalments(sub); is[0].Amount != 100 || is[1].Amount != 2000 {
			t.Fatalf("amounts %d %d", is[0].Amount, is[1].Amount)
		}

		// A new rule restarts the schedule from its effectDate, after the
		// last instalment; COUNT counts from there.
		up.RRule, up.EffectDate = "FREQ=WEEKLY;COUNT=2", e.clk.Now()
		_, err = e.svc.Update(e.ctx(), e.shop, e.creds, up)
		wantCode(t, err, "INT_902") // today had an instalment already
		up.EffectDate = e.clk.Now().AddDate(0, 0, -1)
		_, err = e.svc.Update(e.ctx(), e.shop, e.creds, up)
		wantCode(t, err, "INT_902")
		up.EffectDate = e.clk.Now().AddDate(0, 0, 3)
		up.RRule = "FREQ=WEEKLY;BYMONTHDAY=1"
		_, err = e.svc.Update(e.ctx(), e.shop, e.creds, up)
		wantCode(t, err, "PSP_033")
		up.RRule = "FREQ=WEEKLY;COUNT=2"
		got, err = e.svc.Update(e.ctx(), e.shop, e.creds, up)
		if err != nil || got.TotalPayments != 4 || !got.NextDueAt.Equal(date("2030-04-13")) {
			t.Fatalf("Update rule = %+v, %v", got, err)
		}
		e.clk.Set(t0.AddDate(0, 3, 0))
		e.run(2)
		if got := dueDates(e.instalments(sub)); got != "2030-03-10 2030-04-10 2030-04-13 2030-04-20" {
			t.Fatalf("due dates %s", got)
		}
		if got := e.get(sub); got.PastPayments != 4 || got.TotalPayments != 4 {
			t.Fatalf("after the new rule %+v", got)
		}

		// Errors.
		bad := up
		bad.PaymentMethodToken = e.token(cardOK)
		_, err = e.svc.Update(e.ctx(), e.shop, e.creds, bad)
		wantCode(t, err, "PSP_030")
		bad = up
		bad.SubscriptionID = strings.Repeat("f", 32)
		_, err = e.svc.Update(e.ctx(), e.shop, e.creds, bad)
		wantCode(t, err, "PSP_032")
		bad = up
		bad.Amount = -1
		_, err = e.svc.Update(e.ctx(), e.shop, e.creds, bad)
		wantCode(t, err, "PSP_020")
		_, err = e.svc.Update(e.ctx(), e.shop, shop.Credentials{ShopID: e.shop.ID, Mode: shop.ModeProduction}, up)
		wantCode(t, err, "PSP_032")
		if _, err := e.svc.Cancel(e.ctx(), e.shop.ID, shop.ModeTest, sub.ID, tok, time.Time{}); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Update(e.ctx(), e.shop, e.creds, up)
		wantCode(t, err, "PSP_033")
		_, err = e.svc.Cancel(e.ctx(), e.shop.ID, shop.ModeTest, "nope", tok, time.Time{})
		wantCode(t, err, "PSP_032")
	})
}

// The answers have PayZen's shape.
func TestObjects(t *testing.T) {
	sub := Subscription{ID: "abc", ShopID: "69876357", Token: "tok", Amount: 990, Currency: "EUR",
		EffectDate: date("2030-03-10"), RRule: "RRULE:FREQ=MONTHLY", PastPayments: 2, CancelDate: date("2030-05-01")}
	o := Object(sub).(subscriptionJSON)
	if o.Type != "V4/Subscription" || o.EffectDate != "2030-03-10T00:00:00+00:00" || *o.CancelDate != "2030-05-01T00:00:00+00:00" ||
		o.OrderID != nil || o.InitialAmount != nil || o.PastPaymentsNumber != 2 {
		t.Fatalf("%+v", o)
	}
	c := CreatedObject(sub).(createdJSON)
	if c.Type != "V4/Charge/SubscriptionCreated" || c.SubscriptionID != "abc" || c.PaymentMethodToken != "tok" {
		t.Fatalf("%+v", c)
	}
}

// The app wires the real services in.
var (
	_ wallet.SubscriptionChecker = WalletHook{}
	_ Payments                   = (*payment.Service)(nil)
	_ Tokens                     = (*vault.Vault)(nil)
)

// Token/Cancel through the wallet service stops the token's subscriptions
// in its own transaction.
func TestWalletTokenCancelStopsSubscriptions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		sub := e.create(CreateInput{Amount: 100, PaymentMethodToken: tok, RRule: "FREQ=MONTHLY"})
		w := wallet.New(wallet.Options{DB: db, Vault: e.vault, Payments: e.pay, Subscriptions: e.svc.ForWallet(), Clock: e.clk})
		if _, err := w.Cancel(e.ctx(), e.shop.ID, shop.ModeTest, tok); err != nil {
			t.Fatal(err)
		}
		if got := e.get(sub); !got.Cancelled(e.clk.Now()) {
			t.Fatalf("subscription not cancelled: %+v", got)
		}
		e.run(0)
		if ok, _ := e.svc.ActiveOnToken(e.ctx(), e.shop.ID, "TEST", tok); ok {
			t.Fatal("still active")
		}
	})
}
