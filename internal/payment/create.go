package payment

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/money"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// CreateInput is a Charge/CreatePayment request (and Charge/CreateToken's,
// with Amount 0 and FormAction REGISTER).
type CreateInput struct {
	Amount             int64
	Currency           string
	OrderID            string
	FormAction         string // "" means PAYMENT
	PaymentMethodToken string // SILENT, or a one-click PAYMENT form
	// UpdateToken is the token whose card a REGISTER form replaces
	// (Token/Update): the card the buyer enters is verified and, once
	// accepted, sealed under this token value instead of a new one.
	UpdateToken  string
	Customer     Customer
	IPNTargetURL string
	// transactionOptions.cardOptions
	CaptureDelay     *int   // days; nil: 0
	ManualValidation string // "", "YES", "NO"
	PaymentSource    string // "", EC, MOTO, CC, OTHER
	// StrongAuthentication is the merchant's 3-D Secure preference, kept
	// for the hosted form.
	StrongAuthentication string
	Metadata             map[string]string
	PaymentMethods       []string
	// Initiator is acquirer.InitiatorCIT or InitiatorMIT for PayToken;
	// empty: MIT (the buyer is absent from a SILENT payment). DirectLink
	// sets it from Ogone's ECI.
	Initiator string
	// SubscriptionID marks an instalment of a subscription (PayToken only):
	// the instalments of one subscription share its orderId, so the
	// one-paid-payment-per-orderId guard does not apply to them.
	SubscriptionID string
	// Instalment, if set, says what a refusal of this instalment attempt
	// leads to, for the buyer's email (PayToken only): see
	// notify.PaymentFacts.Instalment.
	Instalment func(t Transaction) notify.Instalment
	// OnStart, if set, runs inside the database transaction that commits
	// the payment and its RUNNING transaction, before the acquirer is
	// called (PayToken only). Its error undoes both and is returned
	// (wrapped in INT_999 unless it is an *errs.Error). It must only touch
	// the database: subscriptions link an instalment to its payment here,
	// so that an instalment is never charged twice.
	OnStart func(tx *sql.Tx, paymentID, transactionUUID string) error
	// Origin is Options.Origin ("" for V4).
	Origin string
}

const msgInvalid = "web-service input data validation error"

func invalid(field string, value any) error {
	return errs.Invalid(errs.InputInvalid, msgInvalid, field, value)
}

var (
	formActions = map[string]bool{ActionPayment: true, ActionRegisterPay: true, ActionAskRegisterPay: true,
		ActionRegister: true, ActionCustomerWallet: true, ActionSilent: true}
	paymentSources = map[string]bool{"EC": true, "MOTO": true, "CC": true, "OTHER": true}
	strongAuths    = map[string]bool{"AUTO": true, "ENABLED": true, "DISABLED": true, "CHALLENGE_REQUESTED": true,
		"CHALLENGE_MANDATE": true, "NO_PREFERENCE": true, "FRICTIONLESS": true}
)

// maxAmount bounds amounts to what every currency's 12 digits allow.
const maxAmount = 999_999_999_999

// CheckWallet answers formAction CUSTOMER_WALLET for a shop and a
// customer (normalized): the wallet document's two errors, with the codes
// Lyra's error reference gives them (compat.md §1.7; README "Error codes").
func CheckWallet(sh shop.Shop, c Customer) error {
	if !sh.Settings.PaymentByToken {
		return &errs.Error{Code: CodeWalletNotInOffer, Message: "using CUSTOMER_WALLET requires the payment by token option",
			Field: "formAction", Detail: "the shop's offer does not include payment by token"}
	}
	if c.Reference == nil {
		return &errs.Error{Code: CodeWalletNoReference, Message: "customer.reference is required when formAction is CUSTOMER_WALLET",
			Field: "customer.reference", Detail: "Invalid input value [name=customer.reference, value=null]"}
	}
	return nil
}

// validate checks every field and returns the options to keep.
func (in *CreateInput) validate(sh shop.Shop) (Options, error) {
	var o Options
	if in.FormAction == "" {
		in.FormAction = ActionPayment
	}
	if !formActions[in.FormAction] {
		return o, invalid("formAction", in.FormAction)
	}
	switch {
	case in.Amount < 0 || in.Amount > maxAmount:
		return o, errs.Invalid(errs.BadAmount, "invalid amount", "amount", in.Amount)
	case in.Amount == 0 && in.FormAction != ActionRegister:
		return o, errs.Invalid(errs.BadAmount, "invalid amount", "amount", in.Amount)
	case in.Amount != 0 && in.FormAction == ActionRegister:
		return o, errs.Invalid(errs.BadAmount, "invalid amount", "amount", in.Amount)
	}
	if in.Currency == "" {
		return o, invalid("currency", "null")
	}
	if _, ok := money.Lookup(in.Currency); !ok {
		return o, errs.Invalid(errs.BadCurrency, "unknown currency", "currency", in.Currency)
	}
	in.OrderID = strings.TrimSpace(in.OrderID)
	if utf8.RuneCountInString(in.OrderID) > 64 || strings.ContainsFunc(in.OrderID, isControl) {
		return o, invalid("orderId", clip(in.OrderID))
	}
	if err := in.Customer.normalize(); err != nil {
		return o, err
	}
	switch {
	case in.PaymentMethodToken == "":
		if in.FormAction == ActionSilent {
			return o, invalid("paymentMethodToken", "null")
		}
	case in.FormAction != ActionSilent && in.FormAction != ActionPayment:
		// SILENT (zero-click) and PAYMENT (one-click: the form shows the
		// token's card) pay with a token; the other forms save or choose
		// cards of their own.
		return o, invalid("paymentMethodToken", in.PaymentMethodToken)
	case !sh.Settings.PaymentByToken:
		return o, &errs.Error{Code: errs.Unauthorized, Message: "unauthorized action", Field: "formAction",
			Detail: "payment by token is not enabled for this shop"}
	}
	if len(in.PaymentMethodToken) > 64 {
		return o, invalid("paymentMethodToken", clip(in.PaymentMethodToken))
	}
	if in.UpdateToken != "" && (in.FormAction != ActionRegister || len(in.UpdateToken) > 64) {
		return o, invalid("paymentMethodToken", clip(in.UpdateToken))
	}
	if in.FormAction == ActionCustomerWallet {
		if err := CheckWallet(sh, in.Customer); err != nil {
			return o, err
		}
	}
	if in.IPNTargetURL != "" {
		u, err := url.Parse(in.IPNTargetURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(in.IPNTargetURL) > 2048 {
			return o, invalid("ipnTargetUrl", clip(in.IPNTargetURL))
		}
	}
	if in.CaptureDelay != nil {
		if *in.CaptureDelay < 0 || *in.CaptureDelay > 365 {
			return o, invalid("transactionOptions.cardOptions.captureDelay", *in.CaptureDelay)
		}
		o.CaptureDelay = *in.CaptureDelay
	}
	switch in.ManualValidation {
	case "", "NO":
	case "YES":
		o.ManualValidation = true
	default:
		return o, invalid("transactionOptions.cardOptions.manualValidation", in.ManualValidation)
	}
	if in.PaymentSource != "" && !paymentSources[in.PaymentSource] {
		return o, invalid("transactionOptions.cardOptions.paymentSource", in.PaymentSource)
	}
	if in.StrongAuthentication != "" && !strongAuths[in.StrongAuthentication] {
		return o, invalid("strongAuthentication", in.StrongAuthentication)
	}
	if len(in.Metadata) > 100 {
		return o, invalid("metadata", len(in.Metadata))
	}
	for k, v := range in.Metadata {
		if k == "" || len(k) > 255 || len(v) > 4096 || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return o, invalid("metadata."+clip(k), clip(v))
		}
	}
	for i, m := range in.PaymentMethods {
		if m == "" || len(m) > 64 {
			return o, invalid("paymentMethods["+strconv.Itoa(i)+"]", m)
		}
	}
	settings := sh.Settings.Effective()
	o.PaymentSource = in.PaymentSource
	o.StrongAuthentication = in.StrongAuthentication
	o.Metadata = in.Metadata
	o.PaymentMethods = in.PaymentMethods
	o.IPNTargetURL = in.IPNTargetURL
	o.IPNTarget = in.IPNTargetURL
	if o.IPNTarget == "" {
		o.IPNTarget = sh.NotificationURL
	}
	o.PaymentMethodToken = in.PaymentMethodToken
	o.UpdateToken = in.UpdateToken
	o.MaxAttempts = settings.MaxAttempts
	if in.FormAction == ActionSilent {
		o.MaxAttempts = 1
	}
	o.ValidityDays = settings.AuthorizationValidityDays
	o.AllowDuplicate = settings.AllowDuplicatePaidOrder || in.SubscriptionID != ""
	o.SubscriptionID = in.SubscriptionID
	o.Origin = in.Origin
	return o, nil
}

func (s *Service) newPayment(sh shop.Shop, creds shop.Credentials, in CreateInput, o Options) Payment {
	now := s.clock.Now()
	p := Payment{
		ID: ids.New(), ShopID: sh.ID, Mode: creds.Mode, OrderID: in.OrderID, Amount: in.Amount,
		Currency: in.Currency, FormAction: in.FormAction, Customer: in.Customer, Options: o,
		CreatedAt: now, UpdatedAt: now, version: 1,
	}
	if p.Mode == "" {
		p.Mode = shop.ModeTest
	}
	if in.FormAction != ActionSilent {
		// 32 random bytes: the formToken is the only credential of the
		// hosted form, it must not be guessable.
		p.FormToken = "ft" + ids.RandomHex(32)
		p.FormExpiresAt = now.Add(s.cfg.FormTokenTTL)
	}
	p.deriveOrder(now)
	return p
}

// CreatePayment validates a payment request and stores it; it returns the
// payment and its formToken, valid FormTokenTTL (15 minutes), for the
// hosted form or the JS client. formAction SILENT is PayToken's. With a
// paymentMethodToken (formAction PAYMENT) it is a one-click payment: the
// token must be able to pay now, and the form offers its card (PaySaved).
func (s *Service) CreatePayment(ctx context.Context, sh shop.Shop, creds shop.Credentials, in CreateInput) (Payment, string, error) {
	o, err := in.validate(sh)
	if err != nil {
		return Payment{}, "", err
	}
	if in.FormAction == ActionSilent {
		return Payment{}, "", invalid("formAction", in.FormAction)
	}
	p := s.newPayment(sh, creds, in, o)
	if in.PaymentMethodToken != "" {
		// Told now, as for a SILENT payment, not to the buyer on the form.
		if _, err := s.tokenCard(ctx, p.ShopID, p.Mode, in.PaymentMethodToken); err != nil {
			return Payment{}, "", err
		}
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error { return store.InsertPayment(tx, p.record()) })
	if err != nil {
		return Payment{}, "", internal(err)
	}
	return p, p.FormToken, nil
}

// isDuplicate tells a refused insert of a live debit (unique index) apart.
func isDuplicate(err error) bool { return errors.Is(err, store.ErrConflict) }

func duplicate(p Payment) error {
	detail := "a payment of this order is already paid or in progress"
	if p.OrderID != "" {
		detail = "order " + p.OrderID + " is already paid or has a payment in progress"
	}
	return &errs.Error{Code: errs.DupForbidden, Message: "duplication forbidden", Field: "orderId", Detail: detail}
}
