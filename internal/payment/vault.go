package payment

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/vault"
)

// Vault is what payments need from the card vault (internal/vault): store a
// card when a payment or verification asks for it, and give back the card
// of a token for a server-to-server payment. Errors the merchant can act on
// (unknown, cancelled or purged token) should be *errs.Error with the PSP
// codes of compat.md §1.7 (PSP_030, PSP_031, PSP_036); they are passed on.
type Vault interface {
	// Tokenize stores a card inside tx, the database transaction that
	// records the approved transaction it was used for, and returns its
	// paymentMethodToken and the token notification it calls for:
	// TokenCreated for a new token, TokenUpdated for a token whose card
	// it replaced (Token/Update, or a card already in the buyer's wallet
	// given with a later expiry), "" for a card already in the buyer's
	// wallet, whose token is answered unchanged. It must only touch the
	// database.
	Tokenize(ctx context.Context, tx *sql.Tx, req TokenizeRequest) (token string, kind notify.TokenKind, err error)
	// Card returns the card of an active token of the shop's mode (TEST or
	// PRODUCTION: the same value may name a token in each).
	Card(ctx context.Context, shopID, mode, token string) (StoredCard, error)
	// UpdatableToken tells whether the card of token (Token/Update,
	// Options.UpdateToken) may still be replaced at now: nil, or the
	// *errs.Error of an unknown (PSP_030), cancelled (PSP_031) or purged
	// (PSP_036) token or of one that holds no card (PSP_031); any other
	// error is technical.
	UpdatableToken(ctx context.Context, shopID, mode, token string, now time.Time) error
	// MarkUsed records, inside tx, that a token was just used to pay
	// (the retention purge counts from the last use).
	MarkUsed(tx *sql.Tx, shopID, mode, token string) error
	// SealDeferredCard keeps, inside tx (the write that starts the
	// payment), the card typed for a deferred debit until its D-1
	// authorization (or a card kept for the caller, CardInput.KeepCard,
	// until its payment ends), and returns the internal reference that
	// opens it. It is no paymentMethodToken: no merchant-facing call finds
	// it.
	SealDeferredCard(tx *sql.Tx, req DeferredCardRequest) (ref string, err error)
	// DeferredCard opens a card kept by SealDeferredCard.
	DeferredCard(ctx context.Context, shopID, mode, ref string) (StoredCard, error)
	// EraseDeferredCard destroys a card kept by SealDeferredCard inside tx,
	// the write that records the outcome that makes it useless.
	EraseDeferredCard(tx *sql.Tx, shopID, mode, ref string) error
}

// DeferredCardRequest is the card typed for a deferred debit, or kept for
// the caller until its payment ends (CardInput.KeepCard). There is no
// security code: it is never stored.
type DeferredCardRequest struct {
	ShopID          string
	Mode            string
	PAN             card.PAN
	Expiry          card.Expiry
	TransactionUUID string
	Holder          string // the name typed with the card, sealed with it
	Temporary       bool   // CardInput.KeepCardTemporary
}

// TokenizeRequest is a card to store and where it comes from.
type TokenizeRequest struct {
	ShopID   string
	Mode     string
	PAN      card.PAN
	Expiry   card.Expiry
	Brand    card.Brand
	Holder   string
	Customer Customer // email, reference, billing details
	// CustomerReference puts the token in that buyer's wallet
	// (formAction CUSTOMER_WALLET); "" for a token outside any wallet.
	CustomerReference string
	OrderID           string
	TransactionUUID   string // the transaction that verified or paid with the card
	// Token, if set, is an existing token of the shop whose card this one
	// replaces (Token/Update), under the same value; "" for a new token.
	Token string
}

// StoredCard is the card behind a token.
type StoredCard struct {
	PAN    card.PAN
	Expiry card.Expiry
	Brand  card.Brand
	Holder string
	// Mode is the token's mode (TEST or PRODUCTION); "" when unknown.
	Mode string
	// CustomerReference is the wallet the token belongs to ("" for none).
	CustomerReference string
	// Customer is what the merchant said of the buyer when the card was
	// saved (or later, CustomerWallet/Update): its billing details carry
	// over to wallet payments.
	Customer Customer
	// LastUsedAt is the token's last recorded use (see lastUseResolution).
	LastUsedAt time.Time
	// Temporary is set on a kept card sealed temporary
	// (CardInput.KeepCardTemporary).
	Temporary bool
}

// CardVault adapts the card vault to Vault, mapping its errors to the PayZen
// codes a merchant can act on.
func CardVault(v *vault.Vault) Vault { return cardVault{v} }

type cardVault struct{ v *vault.Vault }

func (c cardVault) Tokenize(ctx context.Context, tx *sql.Tx, req TokenizeRequest) (string, notify.TokenKind, error) {
	cust, err := json.Marshal(req.Customer)
	if err != nil {
		return "", "", err
	}
	vreq := vault.TokenizeRequest{
		ShopID: req.ShopID, Mode: req.Mode, PAN: req.PAN, Expiry: req.Expiry, HolderName: req.Holder,
		CustomerReference: req.CustomerReference, Customer: cust, Origin: "V4", OriginOrderID: req.OrderID,
		InitialTransactionUUID: req.TransactionUUID,
	}
	var t vault.Token
	kind := notify.TokenUpdated
	if req.Token != "" {
		// Token/Update: the verified card replaces the token's own. A
		// token cancelled or purged meanwhile is the merchant's error
		// (tokenError), which the caller records on the verification.
		vreq.Token = req.Token
		t, err = c.v.ReplaceCard(ctx, tx, vreq)
		if err != nil && !errors.Is(err, vault.ErrTokenExpired) { // that is the new card's expiry
			return "", "", tokenError(err, req.Token)
		}
	} else {
		var saved vault.Saved
		t, saved, err = c.v.SaveInWallet(ctx, tx, vreq)
		switch saved {
		case vault.SavedNew:
			kind = notify.TokenCreated
		case vault.SavedExisting:
			kind = ""
		}
	}
	if err != nil {
		return "", "", err
	}
	return t.Value, kind, nil
}

func (c cardVault) UpdatableToken(ctx context.Context, shopID, mode, token string, now time.Time) error {
	t, err := c.v.Get(ctx, shopID, mode, token)
	switch {
	case err != nil:
		return tokenError(err, token)
	case t.Status == vault.StatusPurged || t.StatusAt(now) == vault.StatusPurged:
		return tokenError(vault.ErrTokenPurged, token)
	case t.Status == vault.StatusCancelled:
		return tokenError(vault.ErrTokenCancelled, token)
	case t.Method == vault.MethodSDD:
		return NotCardToken()
	}
	return nil
}

func (c cardVault) Card(ctx context.Context, shopID, mode, token string) (StoredCard, error) {
	pan, exp, t, err := c.v.Card(ctx, shopID, mode, token)
	switch {
	case err == nil:
		sc := StoredCard{PAN: pan, Expiry: exp, Brand: t.Brand, Holder: t.HolderName, Mode: t.Mode,
			CustomerReference: t.CustomerReference, LastUsedAt: t.LastUsedAt}
		if len(t.Customer) > 0 {
			// Best effort: details that do not parse are not carried over.
			_ = json.Unmarshal(t.Customer, &sc.Customer)
		}
		return sc, nil
	case errors.Is(err, vault.ErrNotCard):
		// A SEPA direct debit alias (FlexCheckout's direct debit page)
		// cannot pay by card: the merchant's mistake, not ours.
		return StoredCard{}, NotCardToken()
	}
	return StoredCard{}, tokenError(err, token)
}

// tokenError turns the vault's error about a merchant's token into the PSP
// code Lyra answers for it (compat.md §1.7); other errors are returned as
// they are.
func tokenError(err error, token string) error {
	switch {
	case errors.Is(err, vault.ErrTokenNotFound), errors.Is(err, vault.ErrInvalidToken):
		return errs.Invalid(errs.TokenNotFound, "token not found", "paymentMethodToken", token)
	case errors.Is(err, vault.ErrTokenCancelled):
		return &errs.Error{Code: errs.TokenInvalid, Message: "invalid token", Field: "paymentMethodToken",
			Detail: errs.DetailTokenCancelled}
	case errors.Is(err, vault.ErrTokenExpired):
		return &errs.Error{Code: errs.TokenInvalid, Message: "invalid token", Field: "paymentMethodToken",
			Detail: errs.DetailCardExpired}
	case errors.Is(err, vault.ErrTokenPurged):
		return &errs.Error{Code: errs.TokenPurged, Message: "paymentMethodToken purged", Field: "paymentMethodToken"}
	}
	return err
}

// NotCardToken is the error of a token that holds a bank account (a SEPA
// direct debit alias) where a card is needed: PSP_031, as PayZen answers
// for a token that cannot pay.
func NotCardToken() *errs.Error {
	return &errs.Error{Code: errs.TokenInvalid, Message: "invalid token", Field: "paymentMethodToken",
		Detail: errs.DetailNotCard}
}

func (c cardVault) MarkUsed(tx *sql.Tx, shopID, mode, token string) error {
	return c.v.MarkUsed(tx, shopID, mode, token)
}

func (c cardVault) SealDeferredCard(tx *sql.Tx, req DeferredCardRequest) (string, error) {
	return c.v.SealInternal(tx, vault.InternalCardRequest{ShopID: req.ShopID, Mode: req.Mode, PAN: req.PAN,
		Expiry: req.Expiry, TransactionUUID: req.TransactionUUID, HolderName: req.Holder, Temporary: req.Temporary})
}

func (c cardVault) DeferredCard(ctx context.Context, shopID, mode, ref string) (StoredCard, error) {
	pan, exp, t, err := c.v.InternalCard(ctx, shopID, mode, ref)
	if err != nil {
		if vault.IsTokenError(err) {
			// Erased or unknown: no card to authorize (an application
			// error, as for a token that can no longer pay).
			return StoredCard{}, &errs.Error{Code: errs.TokenPurged, Message: "card no longer available",
				Detail: "the card kept for the deferred authorization is erased", Err: err}
		}
		return StoredCard{}, err
	}
	return StoredCard{PAN: pan, Expiry: exp, Brand: pan.Brand(), Holder: t.HolderName, Mode: t.Mode, Temporary: !t.Permanent}, nil
}

func (c cardVault) EraseDeferredCard(tx *sql.Tx, shopID, mode, ref string) error {
	return c.v.EraseInternal(tx, shopID, mode, ref)
}
