package payment

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/jsonstr"
	"github.com/openpsp/openpsp/internal/store"
)

// This file is the payment side of buyer wallets (seed document 003): which
// cards a wallet keeps, paying a CUSTOMER_WALLET form with a saved card, and
// the billing details a saved card carries to the payments made with it.

// walletBrands are the brands a buyer wallet keeps (document 003, "Medios de
// pago admisibles"): AMEX, CB, Titre-Restaurant, VISA, VISA ELECTRON,
// MASTERCARD, MAESTRO.
var walletBrands = map[card.Brand]bool{
	card.Amex: true, card.CB: true, card.CONECS: true, card.Visa: true, card.VisaElectron: true,
	card.Mastercard: true, card.Maestro: true,
}

// WalletBrand reports whether a buyer wallet keeps cards of brand b.
// Titre-Restaurant issuer brands (EDENRED …) count as CONECS.
func WalletBrand(b card.Brand) bool { return walletBrands[b.Family()] }

// WalletEligible reports whether a buyer wallet keeps this card: one of its
// brands (a co-badged card has several) is a wallet brand.
func WalletEligible(pan card.PAN) bool {
	for _, b := range pan.Brands() {
		if WalletBrand(b) {
			return true
		}
	}
	return false
}

// carryOver returns the customer of a payment made with a saved card: the
// billing details the merchant sent with this payment when it sent any,
// else those kept with the card (document 003: "los datos de la solicitud
// se utilizarán para la transacción", the token itself is not changed). The
// email kept with the card fills in a missing one, and the reference of the
// wallet the card is in a missing reference (a subscription's instalment
// sends no customer: its IPN still says whose wallet paid).
func carryOver(c Customer, sc StoredCard) (Customer, bool) {
	saved := sc.Customer
	changed := false
	if c.Reference == nil && sc.CustomerReference != "" {
		r := sc.CustomerReference
		c.Reference, changed = &r, true
	}
	if billingEmpty(c.BillingDetails) && !billingEmpty(saved.BillingDetails) {
		b := saved.BillingDetails
		b.Type = ""
		c.BillingDetails, changed = b, true
	}
	if c.Email == nil && saved.Email != nil {
		e := *saved.Email
		c.Email, changed = &e, true
	}
	return c, changed
}

func billingEmpty(b BillingDetails) bool {
	b.Type = ""
	return b == BillingDetails{}
}

// NormalizeCustomer validates customer details given to a token service as
// Charge/CreatePayment validates them, and cleans them for storage.
func NormalizeCustomer(c *Customer) error { return c.normalize() }

// WithTypes returns c with the _type of every object set, as answers show
// a customer (Token/Get, CustomerWallet/Get).
func (c Customer) WithTypes() Customer { return c.withTypes() }

// SavedCardInput is a card of the buyer's wallet chosen on a CUSTOMER_WALLET
// form, or the card of a one-click form (CreatePayment with a
// paymentMethodToken), after 3-D Secure when it ran.
type SavedCardInput struct {
	Token string
	// CVV is the security code the buyer typed to confirm the card: the
	// hosted form asks it for every saved card, and PaySaved refuses a
	// saved card without it (PSP_024), of a wallet as of a one-click form.
	// It lives in memory for this authorization only.
	CVV           card.SecurityCode
	ThreeDS       *acquirer.ThreeDSResult
	BuyerIP       string // as CardInput.BuyerIP
	BuyerLanguage string // as CardInput.BuyerLanguage
}

// PaySaved pays the CUSTOMER_WALLET payment of a formToken with a card of
// the buyer's wallet: an active token of the payment's shop and mode whose
// customer reference is the payment's. As PayCard, a refusal is not an
// error. The billing details kept with the card carry over to the payment
// when the merchant sent none (carryOver).
func (s *Service) PaySaved(ctx context.Context, formToken string, in SavedCardInput) (Payment, Transaction, error) {
	if s.vault == nil {
		return Payment{}, Transaction{}, internal(errors.New("payment: no card vault configured"))
	}
	if in.Token == "" {
		return Payment{}, Transaction{}, invalid("paymentMethodToken", "null")
	}
	threeDSFailed := false
	if in.ThreeDS != nil {
		switch in.ThreeDS.Status {
		case acquirer.ThreeDSChallenge:
			return Payment{}, Transaction{}, invalid("threeDS.status", in.ThreeDS.Status)
		case acquirer.ThreeDSFailed, acquirer.ThreeDSRejected:
			threeDSFailed = true
		}
	}
	fp, err := s.PaymentForToken(ctx, formToken)
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	notFound := errs.Invalid(errs.TokenNotFound, "token not found", "paymentMethodToken", in.Token)
	oneClick := fp.OneClick()
	switch {
	case oneClick:
		// The merchant's token, and only it, confirmed with its security
		// code as Lyra's one-click form asks.
		if in.Token != fp.Options.PaymentMethodToken {
			return Payment{}, Transaction{}, notFound
		}
	case fp.FormAction != ActionCustomerWallet || fp.Customer.Reference == nil:
		return Payment{}, Transaction{}, &errs.Error{Code: errs.Unauthorized, Message: "unauthorized action",
			Detail: "only a CUSTOMER_WALLET or one-click form pays with a saved card"}
	}
	sc, err := s.tokenCard(ctx, fp.ShopID, fp.Mode, in.Token)
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	// A wallet's card must be in this buyer's wallet: a token value from
	// anywhere else is unknown here.
	if !oneClick && sc.CustomerReference != *fp.Customer.Reference {
		return Payment{}, Transaction{}, notFound
	}
	// Every saved card is confirmed with its security code, a wallet's as a
	// one-click form's: the hosted form asks it, and a caller that skips the
	// form must not pay without it (the code is never stored, so only the
	// buyer can give it).
	if in.CVV.IsZero() {
		return Payment{}, Transaction{}, &errs.Error{Code: errs.CVVRequired, Message: "CVV mandatory", Field: "securityCode"}
	}
	brand := sc.Brand
	if brand == "" {
		brand = sc.PAN.Brand()
	}
	var p Payment
	var t Transaction
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		p, t, err = s.startAttempt(ctx, tx, formToken, in.ThreeDS, buyerBrowser{ip: in.BuyerIP, language: in.BuyerLanguage}, func(p *Payment, t *Transaction) (bool, error) {
			t.PaymentMethodSource, t.Token = "TOKEN", in.Token
			t.Brand, t.PANMasked = string(brand), sc.PAN.Masked()
			t.ExpiryMonth, t.ExpiryYear = sc.Expiry.Month, sc.Expiry.Year
			t.CardHolderName = storedHolder(sc.Holder)
			t.ThreeDS = in.ThreeDS
			c, changed := carryOver(p.Customer, sc)
			if changed {
				p.Customer = c
			}
			return changed, nil
		})
		return err
	})
	if used, ok := errors.AsType[*challengeUsed](err); ok {
		return used.p, used.t, nil
	}
	if err != nil {
		return Payment{}, Transaction{}, s.startError(err, p)
	}
	if threeDSFailed {
		return s.settleAuthorization(ctx, p, t, outcome{threeDSFailed: in.ThreeDS.Status}, onAccept{}, time.Time{})
	}
	return s.authorize(ctx, p, t, cardData{pan: sc.PAN, expiry: sc.Expiry, cvv: in.CVV, brand: brand, holder: sc.Holder,
		initiator: acquirer.InitiatorCIT, threeDS: in.ThreeDS, lastUsed: sc.LastUsedAt})
}

// OneClick reports whether the payment's form is a one-click form: created
// with the paymentMethodToken whose card the form offers (Lyra's one-click
// payment, formAction PAYMENT).
func (p Payment) OneClick() bool {
	return p.FormAction == ActionPayment && p.Options.PaymentMethodToken != ""
}

// tokenCard returns the card of a token that may pay for the shop in mode
// now, or the vault's error the merchant can act on (PSP_030 not found, a
// token of the other mode too; PSP_031 cancelled, expired or not a card;
// PSP_036 purged).
func (s *Service) tokenCard(ctx context.Context, shopID, mode, token string) (StoredCard, error) {
	if s.vault == nil {
		return StoredCard{}, internal(errors.New("payment: no card vault configured"))
	}
	sc, err := s.vault.Card(ctx, shopID, mode, token)
	if err != nil {
		if _, ok := errs.As(err); ok {
			return StoredCard{}, err
		}
		return StoredCard{}, internal(err)
	}
	if sc.Mode != "" && sc.Mode != mode {
		// A TEST key never pays with a PRODUCTION card, nor the reverse.
		return StoredCard{}, errs.Invalid(errs.TokenNotFound, "token not found", "paymentMethodToken", token)
	}
	return sc, nil
}

// setCustomer stores the customer of a payment (billing details carried
// over from a saved card when the buyer chose it).
func setCustomer(tx *sql.Tx, paymentID string, c Customer) error {
	s, err := jsonstr.Marshal(c)
	if err != nil {
		return err
	}
	return store.SetPaymentCustomerTx(tx, paymentID, s)
}
