package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/hosted"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/wallet"
)

// hostedPayments adapts the payment service to what the buyer's pages need:
// its database outages marked (unavailable), as the wallet's are.
type hostedPayments struct {
	pay     *payment.Service
	shops   *shop.Service
	wallets *wallet.Service
}

func (h hostedPayments) Form(ctx context.Context, formToken string) (hosted.Form, error) {
	p, err := h.pay.PaymentForToken(ctx, formToken)
	if err != nil {
		if e, ok := errs.As(err); ok && e.Code == payment.CodeFormToken {
			return hosted.Form{}, hosted.ErrFormNotFound
		}
		return hosted.Form{}, unavailable(err)
	}
	sh, err := h.shops.Get(ctx, p.ShopID)
	if err != nil {
		return hosted.Form{}, unavailable(err)
	}
	lang := ""
	if l := p.Customer.BillingDetails.Language; l != nil {
		lang = strings.ToLower(*l)
	}
	expired := p.FormExpired(h.pay.Now())
	return hosted.Form{
		FormToken: formToken, ShopID: p.ShopID, ShopName: sh.Name, LogoURL: sh.LogoURL, Mode: p.Mode,
		Language: lang, Amount: p.Amount, Currency: p.Currency, OrderID: p.OrderID,
		AttemptsLeft: p.AttemptsLeft(), Expired: expired, Completed: p.Completed() && !closedByExpiry(p, expired),
		InProgress: wallet.HostedInProgress(p),
		FormAction: p.FormAction, OneClick: p.OneClick(), PrimaryColor: sh.Settings.PrimaryColor,
		StrongAuthentication: p.Options.StrongAuthentication, ReturnOrigins: sh.Settings.ReturnOrigins,
		TimeZone: sh.Settings.TimeZone,
	}, nil
}

// unavailable marks err as hosted.ErrUnavailable when it says the
// database cannot be reached: the buyer reads that the service is
// temporarily unavailable rather than that a technical error occurred.
func unavailable(err error) error {
	if store.IsUnavailable(err) {
		return fmt.Errorf("%w: %w", hosted.ErrUnavailable, err)
	}
	return err
}

// hostedWallets is the wallet as the pages use it, its database outages
// marked as Form's are: a saved card's deletion that fails because the
// database cannot be reached, or whose wallet cannot be read for its
// confirmation page, reads as the service temporarily unavailable, not as
// a card that could not be deleted; so does a saved card's payment, its
// card's read or its attempt, not as a technical error.
type hostedWallets struct{ hosted.Wallets }

func (w hostedWallets) SavedCard(ctx context.Context, formToken, cardID string) (card.PAN, card.Expiry, error) {
	pan, exp, err := w.Wallets.SavedCard(ctx, formToken, cardID)
	return pan, exp, unavailable(err)
}

func (w hostedWallets) PaySaved(ctx context.Context, formToken string, in hosted.CardInput) (hosted.Outcome, error) {
	out, err := w.Wallets.PaySaved(ctx, formToken, in)
	return out, unavailable(err)
}

func (w hostedWallets) Wallet(ctx context.Context, formToken string) (hosted.Wallet, error) {
	res, err := w.Wallets.Wallet(ctx, formToken)
	return res, unavailable(err)
}

func (w hostedWallets) Delete(ctx context.Context, formToken, cardID string) (string, error) {
	res, err := w.Wallets.Delete(ctx, formToken, cardID)
	return res, unavailable(err)
}

// closedByExpiry reports whether p's order cycle is closed only because its
// form expired: nothing paid or waiting, attempts left. Its buyer reads
// that the form expired, not that the payment was processed.
func closedByExpiry(p payment.Payment, expired bool) bool {
	return expired && p.AttemptsLeft() > 0 && (p.OrderStatus == payment.StatusUnpaid || p.OrderStatus == payment.StatusAbandoned)
}

func (h hostedPayments) PayCard(ctx context.Context, formToken string, in hosted.CardInput) (hosted.Outcome, error) {
	p, t, err := h.pay.PayCard(ctx, formToken, payment.CardInput{
		PAN: in.PAN, Expiry: in.Expiry, CVV: in.CVV, Holder: in.Holder, SaveCard: in.Save, ThreeDS: in.ThreeDS,
		BuyerIP: in.BuyerIP, BuyerLanguage: in.Language,
	})
	if err != nil {
		return hosted.Outcome{}, unavailable(wallet.HostedError(err))
	}
	return wallet.HostedOutcome(p, t, h.pay.Now())
}

func (h hostedPayments) Outcome(ctx context.Context, formToken string) (hosted.Outcome, error) {
	p, err := h.pay.PaymentForToken(ctx, formToken)
	if err != nil {
		return hosted.Outcome{}, err
	}
	return h.wallets.HostedFinalOutcome(ctx, p)
}

// hostedKeys gives the pages the shop keys they sign with.
type hostedKeys struct{ shops *shop.Service }

func (k hostedKeys) HMACKey(ctx context.Context, shopID, mode string) (string, error) {
	c, err := k.shops.Credentials(ctx, shopID, mode)
	if err != nil {
		return "", err
	}
	return c.HMACKey, nil
}

func (k hostedKeys) PublicKeyShop(ctx context.Context, publicKey string) (string, string, error) {
	_, c, err := k.shops.ByPublicKey(ctx, publicKey)
	if err != nil {
		return "", "", err
	}
	return c.ShopID, c.Mode, nil
}

// ipnKeys signs IPNs with the REST password of the payment's mode.
type ipnKeys struct{ shops *shop.Service }

func (k ipnKeys) IPNKey(ctx context.Context, shopID, mode string) (string, error) {
	c, err := k.shops.Credentials(ctx, shopID, mode)
	if errors.Is(err, shop.ErrNotFound) {
		return "", errors.Join(err, outbox.ErrNoIPNKey)
	}
	if err != nil {
		return "", err
	}
	return c.Password, nil
}
