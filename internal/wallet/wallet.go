// Package wallet is buyer wallets (seed document 003) and the token web
// services around them: the cards a buyer saved under the merchant's
// customer reference, paying a CUSTOMER_WALLET form with one of them (the
// hosted pages' Wallets, hosted.go, which also offer the merchant's token
// on a one-click form), the buyer deleting one (a logical
// deletion: the token is cancelled, stays visible to the merchant, and the
// token notifications fire), and the merchant's Token/* and CustomerWallet/*
// services (internal/api/v4 tokens.go, wallet.go).
//
// A wallet is every token of one shop, one mode (TEST or PRODUCTION) and
// one customer reference: references are the merchant's own buyer ids,
// unique within its shop; the same reference in another shop, or under the
// other key set, is another wallet.
package wallet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/vault"
)

// SubscriptionChecker is what wallets need from subscriptions
// (internal/subscription): a card that pays an active subscription is not
// deleted by the buyer, and cancelling a token stops the subscriptions on
// it (Token/Cancel).
type SubscriptionChecker interface {
	// ActiveOnToken reports whether an active subscription of the shop's
	// mode pays with the token.
	ActiveOnToken(ctx context.Context, shopID, mode, token string) (bool, error)
	// ActiveOnTokenTx is ActiveOnToken inside tx, the write transaction
	// that cancels the token, once the token's row is locked: it sees
	// every subscription committed on the token before that lock.
	ActiveOnTokenTx(ctx context.Context, tx *sql.Tx, shopID, mode, token string) (bool, error)
	// CancelForToken stops, inside tx (the write transaction that cancels
	// the token), every subscription of the shop's mode that pays with it.
	CancelForToken(ctx context.Context, tx *sql.Tx, shopID, mode, token string) error
}

// Options configure a Service.
type Options struct {
	DB       *store.DB
	Vault    *vault.Vault
	Payments *payment.Service
	// Subscriptions may be nil: no subscription then uses any card.
	Subscriptions SubscriptionChecker
	Clock         clock.Clock // nil: the wall clock
	Logger        *slog.Logger
}

// Service manages buyer wallets. Safe for concurrent use.
type Service struct {
	db    *store.DB
	vault *vault.Vault
	pay   *payment.Service
	subs  SubscriptionChecker
	clock clock.Clock
	log   *slog.Logger
}

// New returns a wallet service. DB, Vault and Payments are required.
func New(o Options) *Service {
	if o.DB == nil || o.Vault == nil || o.Payments == nil {
		panic("wallet: Options.DB, Vault and Payments are required")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{db: o.DB, vault: o.Vault, pay: o.Payments, subs: o.Subscriptions, clock: o.Clock, log: o.Logger}
}

// Token statuses of CustomerWallet/Get's tokenStatus.
const (
	FilterActive    = "ACTIVE"
	FilterExpired   = "EXPIRED"
	FilterCancelled = "CANCELLED"
	FilterAll       = "ALL"
)

// Tokens returns the tokens of a wallet in one mode, oldest first: with
// FilterActive ("" too) those that can pay, FilterExpired those whose card
// has expired, FilterCancelled those deleted, FilterAll all three. Purged
// tokens (card data destroyed) are never listed.
func (s *Service) Tokens(ctx context.Context, shopID, mode, reference, filter string) ([]vault.Token, error) {
	// Payments save cards under the trimmed customer.reference.
	reference = strings.TrimSpace(reference)
	if reference == "" {
		return nil, errs.Invalid(errs.InputInvalid, "web-service input data validation error", "customerReference", "null")
	}
	f := vault.Status(strings.ToUpper(filter))
	switch f {
	case "":
		f = vault.StatusActive
	case vault.StatusActive, vault.StatusExpired, vault.StatusCancelled, vault.StatusAll:
	default:
		return nil, errs.Invalid(errs.InputInvalid, "web-service input data validation error", "tokenStatus", filter)
	}
	all, err := s.vault.Wallet(ctx, shopID, reference, f)
	if err != nil {
		return nil, internal(err)
	}
	now := s.clock.Now()
	out := make([]vault.Token, 0, len(all))
	for _, t := range all {
		if t.Mode == mode && t.StatusAt(now) != vault.StatusPurged {
			out = append(out, t)
		}
	}
	return out, nil
}

// Token returns a token of the shop in the mode of the key set used; a
// token of the other mode is not found, as a transaction is not.
func (s *Service) Token(ctx context.Context, shopID, mode, token string) (vault.Token, error) {
	if err := checkToken(token); err != nil {
		return vault.Token{}, err
	}
	t, err := s.vault.Get(ctx, shopID, mode, token)
	if err != nil {
		return vault.Token{}, tokenError(err, token)
	}
	if t.Mode != mode {
		return vault.Token{}, tokenError(vault.ErrTokenNotFound, token)
	}
	return t, nil
}

// Now is the service's clock, for answers.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Cancel deletes a token logically (Token/Cancel, the buyer's bin icon):
// in one write transaction the token is cancelled, the subscriptions that
// pay with it stop, and the token notifications of the shop (notification
// URL, buyer and merchant emails and SMS) are queued. A cancelled token
// cannot pay, stays visible, and can be reactivated (Reactivate). It
// returns the token as the cancellation wrote it.
func (s *Service) Cancel(ctx context.Context, shopID, mode, token string) (vault.Token, error) {
	return s.cancel(ctx, shopID, mode, token, false)
}

// errSubscribed refuses the buyer's deletion of a card that pays a
// subscription: the buyer is invited to contact the shop instead
// (hosted.DeleteSubscription).
var errSubscribed = errors.New("wallet: an active subscription pays with the token")

// cancel is Cancel; with keepSubscribed (the buyer's deletion) a token that
// pays an active subscription is left as it is and errSubscribed returned.
// That check is made in the cancellation's write, after the token's row is
// locked by its UPDATE, so that it and the cancellation are one decision:
// a subscription created on the token meanwhile (subscription.Create locks
// the row too) is either seen here or sees the token cancelled.
func (s *Service) cancel(ctx context.Context, shopID, mode, token string, keepSubscribed bool) (vault.Token, error) {
	t, err := s.Token(ctx, shopID, mode, token)
	if err != nil {
		return vault.Token{}, err
	}
	switch t.StatusAt(s.clock.Now()) {
	case vault.StatusPurged:
		return t, tokenError(vault.ErrTokenPurged, token)
	case vault.StatusCancelled:
		return t, tokenError(vault.ErrTokenCancelled, token)
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		// The vault's own Cancel commits alone; here the cancellation must
		// commit with its notifications and the subscriptions it stops, so
		// the same guarded UPDATE runs in this transaction.
		cancelled, err := store.CancelActiveTokenTx(tx, shopID, mode, token, now)
		if err != nil {
			return fmt.Errorf("wallet: cancel token: %w", err)
		}
		if !cancelled {
			// Cancelled or purged by someone else since we read it.
			return vault.ErrTokenCancelled
		}
		if keepSubscribed && s.subs != nil {
			inSub, err := s.subs.ActiveOnTokenTx(ctx, tx, shopID, mode, token)
			if err != nil {
				return fmt.Errorf("wallet: subscriptions of token: %w", err)
			}
			if inSub {
				return errSubscribed
			}
		}
		if s.subs != nil {
			if err := s.subs.CancelForToken(ctx, tx, shopID, mode, token); err != nil {
				return fmt.Errorf("wallet: stop subscriptions of token: %w", err)
			}
		}
		sh, err := store.ShopTx(tx, shopID)
		if err != nil {
			return err
		}
		t.Status, t.CancelledAt, t.UpdatedAt = vault.StatusCancelled, now, now
		_, err = notify.TokenEvent(tx, now, sh, notify.TokenCancelled, facts(t, now), buyerOf(t))
		return err
	})
	switch {
	case errors.Is(err, errSubscribed):
		return vault.Token{}, err
	case vault.IsTokenError(err):
		return vault.Token{}, tokenError(err, token)
	case err != nil:
		return vault.Token{}, internal(err)
	}
	// The token as committed, not read again: a failed read would tell a
	// cancellation that went through as failed.
	return t, nil
}

// Reactivate makes a cancelled token usable again (Token/Reactivate). The
// subscriptions Cancel stopped stay stopped.
func (s *Service) Reactivate(ctx context.Context, shopID, mode, token string) (vault.Token, error) {
	t, err := s.Token(ctx, shopID, mode, token)
	if err != nil {
		return vault.Token{}, err
	}
	if t.Status == vault.StatusActive {
		// Nothing to reactivate: an active token answers as PayZen's
		// "no change".
		return t, &errs.Error{Code: errs.NoChange, Message: "no change", Field: "paymentMethodToken",
			Detail: "the token is not cancelled"}
	}
	if _, err := s.vault.Reactivate(ctx, shopID, mode, token); err != nil {
		return vault.Token{}, tokenError(err, token)
	}
	return s.Token(ctx, shopID, mode, token)
}

// UpdateCustomer replaces, on one token, the parts of the buyer's details
// that c gives (billing details, shipping details, email); the customer
// reference, which places the token in a wallet, does not change
// (Token/Update).
func (s *Service) UpdateCustomer(ctx context.Context, shopID, mode, token string, c payment.Customer) (vault.Token, error) {
	t, err := s.Token(ctx, shopID, mode, token)
	if err != nil {
		return vault.Token{}, err
	}
	merged, err := mergeCustomer(t.Customer, c)
	if err != nil {
		return vault.Token{}, internal(err)
	}
	if _, err := s.vault.Update(ctx, shopID, mode, token, vault.TokenUpdate{Customer: merged}); err != nil {
		return vault.Token{}, tokenError(err, token)
	}
	return s.Token(ctx, shopID, mode, token)
}

// UpdateWallet applies UpdateCustomer to every token of a wallet that is
// not purged (CustomerWallet/Update) and returns the wallet's tokens.
func (s *Service) UpdateWallet(ctx context.Context, shopID, mode, reference string, c payment.Customer) ([]vault.Token, error) {
	tokens, err := s.Tokens(ctx, shopID, mode, reference, FilterAll)
	if err != nil {
		return nil, err
	}
	for _, t := range tokens {
		if _, err := s.UpdateCustomer(ctx, shopID, mode, t.Value, c); err != nil {
			return nil, err
		}
	}
	return s.Tokens(ctx, shopID, mode, reference, FilterAll)
}

// CreateFromTransaction creates a token from an accepted debit
// (Charge/CreateTokenFromTransaction). OpenPSP keeps no card number
// outside the vault, so the debit's card must still be there: the debit
// was paid with a token, or saved one. Refused, verification and other
// debits answer PSP_035 (token creation denied), as PayZen answers refused
// and verification transactions. The new token is outside any wallet and
// carries only the email given.
func (s *Service) CreateFromTransaction(ctx context.Context, shopID, mode, uuid, email string) (vault.Token, error) {
	p, t, err := s.pay.Get(ctx, shopID, uuid)
	if err != nil {
		return vault.Token{}, err
	}
	if t.Mode != mode {
		return vault.Token{}, errs.Invalid(errs.TxNotFound, "transaction not found", "uuid", uuid)
	}
	denied := func(detail string) error {
		return &errs.Error{Code: errs.TokenDenied, Message: "token creation denied", Field: "uuid", Detail: detail}
	}
	if t.OperationType != payment.Debit || !t.Accepted() {
		return vault.Token{}, denied("the transaction is not an accepted debit")
	}
	if t.Token == "" {
		return vault.Token{}, denied("the card of this transaction was not kept: only a debit paid with or saving a token can give one")
	}
	pan, exp, _, err := s.vault.Card(ctx, shopID, mode, t.Token)
	if err != nil {
		if vault.IsTokenError(err) {
			return vault.Token{}, denied("the card of this transaction is no longer available")
		}
		return vault.Token{}, internal(err)
	}
	c := payment.Customer{}
	if email != "" {
		c.Email = &email
	}
	c.BillingDetails.Language = p.Customer.BillingDetails.Language
	c.ShippingDetails.IdentityCode = p.Customer.ShippingDetails.IdentityCode
	cust, err := json.Marshal(c)
	if err != nil {
		return vault.Token{}, internal(err)
	}
	nt, err := s.vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: shopID, Mode: mode, PAN: pan, Expiry: exp,
		Customer: cust, Origin: "V4", OriginOrderID: p.OrderID, InitialTransactionUUID: t.UUID})
	if err != nil {
		if vault.IsTokenError(err) {
			return vault.Token{}, denied("the card of this transaction cannot be saved")
		}
		return vault.Token{}, internal(err)
	}
	return nt, nil
}

// mergeCustomer returns the stored customer JSON with what c gives
// replacing it.
func mergeCustomer(stored json.RawMessage, c payment.Customer) (json.RawMessage, error) {
	var cur payment.Customer
	if len(stored) > 0 {
		_ = json.Unmarshal(stored, &cur)
	}
	if c.Email != nil {
		cur.Email = c.Email
	}
	if !empty(c.BillingDetails) {
		cur.BillingDetails = c.BillingDetails
	}
	if !empty(c.ShippingDetails) {
		cur.ShippingDetails = c.ShippingDetails
	}
	return json.Marshal(cur)
}

func empty[T comparable](v T) bool {
	var zero T
	return v == zero
}

// facts describes a token for its notifications.
func facts(t vault.Token, now time.Time) notify.TokenFacts {
	return notify.TokenFacts{Token: t.Value, Mode: t.Mode, Brand: string(t.Brand), PANMasked: t.PANMasked,
		ExpiryMonth: t.Expiry.Month, ExpiryYear: t.Expiry.Year, CustomerReference: t.CustomerReference,
		OrderID: t.OriginOrderID, At: now}
}

// buyerOf is who the buyer notifications of a token go to: the details the
// merchant gave when the card was saved (or later updated).
func buyerOf(t vault.Token) notify.Buyer {
	var c payment.Customer
	_ = json.Unmarshal(t.Customer, &c)
	name := strings.TrimSpace(deref(c.BillingDetails.FirstName) + " " + deref(c.BillingDetails.LastName))
	return notify.Buyer{Email: deref(c.Email), Phone: deref(c.BillingDetails.CellPhoneNumber),
		Language: deref(c.BillingDetails.Language), Name: name}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkToken refuses a paymentMethodToken that cannot be one.
func checkToken(token string) error {
	if token == "" {
		return errs.Invalid(errs.InputInvalid, "web-service input data validation error", "paymentMethodToken", "null")
	}
	if vault.ValidateToken(token) != nil {
		return errs.Invalid(errs.TokenNotFound, "token not found", "paymentMethodToken", token)
	}
	return nil
}

// tokenError maps the vault's errors to the PayZen codes (compat.md §1.7).
func tokenError(err error, token string) error {
	if _, ok := errs.As(err); ok {
		return err
	}
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
	case errors.Is(err, vault.ErrInvalidRequest):
		return &errs.Error{Code: errs.InputInvalid, Message: "web-service input data validation error", Err: err}
	}
	return internal(err)
}

func internal(err error) error {
	return &errs.Error{Code: errs.Internal, Message: "internal error, please retry later", Err: err}
}

// shopOf reads a shop (deletion mode, notification settings).
func (s *Service) shopOf(ctx context.Context, shopID string) (shop.Shop, error) {
	return s.db.Shop(ctx, shopID)
}

// CreateToken stores a Charge/CreateToken request: a zero-amount REGISTER
// payment whose form saves the card through a VERIFICATION transaction
// (detailedStatus ACCEPTED). With customer.reference the card joins that
// buyer's wallet; without, the token is outside any wallet. formAction
// CUSTOMER_WALLET asks for a wallet: customer.reference and the payment by
// token option are required, as for Charge/CreatePayment. It returns the
// formToken.
func (s *Service) CreateToken(ctx context.Context, sh shop.Shop, creds shop.Credentials, in payment.CreateInput) (string, error) {
	if in.FormAction == payment.ActionCustomerWallet {
		if err := payment.NormalizeCustomer(&in.Customer); err != nil {
			return "", err
		}
		if err := payment.CheckWallet(sh, in.Customer); err != nil {
			return "", err
		}
	}
	in.Amount, in.FormAction = 0, payment.ActionRegister
	_, formToken, err := s.pay.CreatePayment(ctx, sh, creds, in)
	return formToken, err
}

// UpdateCard stores a Token/Update request: a zero-amount REGISTER form, as
// Charge/CreateToken's, whose accepted VERIFICATION puts the card the buyer
// entered in place of token's card, under the same token value; a refused
// card leaves the token as it was. The token must be a card token of the
// key set's mode that is not cancelled or purged (a token whose card has
// expired may be updated: that is what the update is for). It returns the
// formToken.
func (s *Service) UpdateCard(ctx context.Context, sh shop.Shop, creds shop.Credentials, token string, in payment.CreateInput) (string, error) {
	mode := creds.Mode
	if mode == "" {
		mode = shop.ModeTest
	}
	t, err := s.Token(ctx, sh.ID, mode, token)
	if err != nil {
		return "", err
	}
	switch {
	case t.Status == vault.StatusPurged || t.StatusAt(s.clock.Now()) == vault.StatusPurged:
		return "", tokenError(vault.ErrTokenPurged, token)
	case t.Status == vault.StatusCancelled:
		return "", tokenError(vault.ErrTokenCancelled, token)
	case t.Method == vault.MethodSDD:
		return "", errs.Invalid(errs.InputInvalid, "web-service input data validation error", "paymentMethodToken", token)
	}
	in.Amount, in.FormAction, in.UpdateToken = 0, payment.ActionRegister, token
	_, formToken, err := s.pay.CreatePayment(ctx, sh, creds, in)
	return formToken, err
}

// InitialTransaction returns the transaction that created a token (its
// authorization shows in Token/Get), if it is still there.
func (s *Service) InitialTransaction(ctx context.Context, t vault.Token) (payment.Transaction, bool) {
	if t.InitialTransactionUUID == "" {
		return payment.Transaction{}, false
	}
	_, tx, err := s.pay.Get(ctx, t.ShopID, t.InitialTransactionUUID)
	if err != nil {
		return payment.Transaction{}, false
	}
	return tx, true
}
