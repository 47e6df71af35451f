package subscription

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/hosted"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
	"github.com/openpsp/openpsp/internal/wallet"
)

// checkedHook is the wallet's view of the subscriptions, running
// afterCheck once its first answer to ActiveOnToken is given: what the
// merchant does between the buyer's deletion's first look and its write.
type checkedHook struct {
	WalletHook
	afterCheck func()
}

func (h *checkedHook) ActiveOnToken(ctx context.Context, shopID, mode, token string) (bool, error) {
	ok, err := h.WalletHook.ActiveOnToken(ctx, shopID, mode, token)
	if f := h.afterCheck; f != nil {
		h.afterCheck = nil
		f()
	}
	return ok, err
}

// gotTokens is the vault as Create reads it, running afterGet once after
// its first read of a token: what the buyer does between Create's check of
// the token and its write.
type gotTokens struct {
	Tokens
	afterGet func()
}

func (g *gotTokens) Get(ctx context.Context, shopID, mode, token string) (vault.Token, error) {
	t, err := g.Tokens.Get(ctx, shopID, mode, token)
	if f := g.afterGet; f != nil {
		g.afterGet = nil
		f()
	}
	return t, err
}

// walletCard saves a card in a buyer's wallet and opens that buyer's
// CUSTOMER_WALLET form: the card's token and the formToken.
func (e *env) walletCard(ref string) (vault.Token, string) {
	e.t.Helper()
	pan, _ := card.ParsePAN(cardOK)
	tok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeTest, PAN: pan,
		Expiry: card.Expiry{Month: 12, Year: 2035}, CustomerReference: ref, Customer: json.RawMessage(`{}`), Origin: "V4"})
	if err != nil {
		e.t.Fatal(err)
	}
	_, ft, err := e.pay.CreatePayment(e.ctx(), e.shop, e.creds, payment.CreateInput{Amount: 990, Currency: "EUR",
		OrderID: "order-" + ref, FormAction: payment.ActionCustomerWallet, Customer: payment.Customer{Reference: &ref}})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, ft
}

// The buyer's deletion of a saved card checked for a subscription on it
// before its write, and the write stopped the subscriptions on the token:
// a subscription created on that card in between (Charge/CreateSubscription
// answered SUCCESS) was silently cancelled by the buyer's deletion. And a
// subscription created on a card whose deletion committed between
// Create's check of the token and its write was stored on a cancelled
// token. The check and the change are one decision inside each write: the
// deletion refuses a card that pays a subscription (DeleteSubscription,
// nothing changed), and Create refuses a token cancelled meanwhile
// (PSP_031, nothing stored).
func TestBuyerDeletionAndNewSubscriptionRace(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sub := CreateInput{Amount: 100, Currency: "EUR", RRule: "FREQ=MONTHLY", EffectDate: e.clk.Now()}

		// A subscription created after the deletion's first look.
		tok, ft := e.walletCard("buyer-1")
		hook := &checkedHook{WalletHook: e.svc.ForWallet()}
		w := wallet.New(wallet.Options{DB: db, Vault: e.vault, Payments: e.pay, Subscriptions: hook, Clock: e.clk})
		var created Subscription
		hook.afterCheck = func() {
			in := sub
			in.PaymentMethodToken = tok.Value
			created = e.create(in)
		}
		res, err := w.Hosted().Delete(e.ctx(), ft, tok.ID)
		if err != nil || res != hosted.DeleteSubscription {
			t.Errorf("deletion of a card whose subscription began during it: %q, %v; want %q", res, err, hosted.DeleteSubscription)
		}
		if got := e.get(created); got.Cancelled(e.clk.Now()) {
			t.Errorf("the subscription the merchant was told was created is cancelled: %+v", got)
		}
		if got, err := e.vault.Get(e.ctx(), e.shop.ID, shop.ModeTest, tok.Value); err != nil || got.Status != vault.StatusActive {
			t.Errorf("the card after the refused deletion: %s, %v", got.Status, err)
		}

		// The deletion committed after Create's look at the token.
		tok, ft = e.walletCard("buyer-2")
		tokens := &gotTokens{Tokens: e.vault}
		svc := New(db, e.clk, e.pay, tokens, Config{Lease: time.Minute})
		tokens.afterGet = func() {
			if res, err := w.Hosted().Delete(e.ctx(), ft, tok.ID); err != nil || res != hosted.DeleteDone {
				t.Errorf("the buyer's deletion: %q, %v", res, err)
			}
		}
		in := sub
		in.PaymentMethodToken = tok.Value
		_, err = svc.Create(e.ctx(), e.shop, e.creds, in)
		if e, ok := errs.As(err); !ok || e.Code != errs.TokenInvalid {
			t.Errorf("a subscription on a card deleted during its creation: %v, want %s", err, errs.TokenInvalid)
		}
		var n int
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM subscriptions WHERE token = $1`, tok.Value).Scan(&n); err != nil || n != 0 {
			t.Errorf("subscriptions stored on the deleted card: %d, %v", n, err)
		}
	})
}

// On PostgreSQL the two writes run side by side: the token's row lock
// orders them. A deletion holding the card (its UPDATE done, not
// committed) makes a subscription's creation on it wait, then refuse the
// cancelled token; a creation holding it (its subscription stored, not
// committed) makes the deletion wait, then refuse the card that pays it.
// Without the lock the creation stored its subscription beside the
// deletion under way (both committed: a subscription on a cancelled card).
func TestBuyerDeletionAndNewSubscriptionLockOnPostgres(t *testing.T) {
	db := storetest.Postgres(t)
	e := newEnv(t, db)
	w := wallet.New(wallet.Options{DB: db, Vault: e.vault, Payments: e.pay, Subscriptions: e.svc.ForWallet(), Clock: e.clk})
	in := CreateInput{Amount: 100, Currency: "EUR", RRule: "FREQ=MONTHLY", EffectDate: e.clk.Now()}

	// held runs first in a transaction of its own, then second on another
	// connection; once second waits for a lock, held's transaction
	// commits; second's outcome is returned.
	held := func(first func(*sql.Tx) error, second func() error) error {
		t.Helper()
		tx, err := db.Writer().Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := first(tx); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- second() }()
		for waiting := false; !waiting; {
			select {
			case err := <-done:
				t.Errorf("went through while the other write held the card: %v", err)
				_ = tx.Commit()
				return err
			default:
			}
			if err := db.Reader().QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if !waiting {
				time.Sleep(5 * time.Millisecond)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		return <-done
	}

	tok, _ := e.walletCard("buyer-pg-1")
	err := held(func(tx *sql.Tx) error {
		_, err := store.CancelActiveTokenTx(tx, e.shop.ID, shop.ModeTest, tok.Value, e.clk.Now())
		return err
	}, func() error {
		in := in
		in.PaymentMethodToken = tok.Value
		_, err := e.svc.Create(e.ctx(), e.shop, e.creds, in)
		return err
	})
	if e, ok := errs.As(err); !ok || e.Code != errs.TokenInvalid {
		t.Errorf("a subscription on a card whose deletion was under way: %v, want %s", err, errs.TokenInvalid)
	}

	tok, ft := e.walletCard("buyer-pg-2")
	var res string
	err = held(func(tx *sql.Tx) error {
		now := e.clk.Now()
		return insertOnActiveToken(tx, db.Dialect(), store.SubscriptionRecord{ID: "held-sub", ShopID: e.shop.ID, Mode: shop.ModeTest,
			Token: tok.Value, Metadata: "{}", Options: "{}", Amount: 100, Currency: "EUR", EffectDate: now, RRule: "FREQ=MONTHLY",
			ScheduleStart: effectDay(now), NextSequence: 1, NextDueAt: now.Add(time.Hour), Status: StatusActive, Version: 1,
			CreatedAt: now, UpdatedAt: now})
	}, func() error {
		var err error
		res, err = w.Hosted().Delete(e.ctx(), ft, tok.ID)
		return err
	})
	if err != nil || res != hosted.DeleteSubscription {
		t.Errorf("deletion of a card whose subscription was being stored: %q, %v; want %q", res, err, hosted.DeleteSubscription)
	}
	if got, err := e.vault.Get(e.ctx(), e.shop.ID, shop.ModeTest, tok.Value); err != nil || got.Status != vault.StatusActive {
		t.Errorf("the card after the refused deletion: %s, %v", got.Status, err)
	}
}
