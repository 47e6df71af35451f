package v4

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/vault"
	"github.com/openpsp/openpsp/internal/wallet"
)

// tokensAPI serves the token and wallet web services over wallet.Service:
// Charge/CreateToken, Charge/CreateTokenFromTransaction, Token/Get,
// Token/Cancel, Token/Reactivate, Token/Update (a new card, through a
// form), Token/UpdateCustomerDetails (the buyer's details),
// CustomerWallet/Get and CustomerWallet/Update
// (wallet.go). Every service sees the tokens of the key set's mode only.
type tokensAPI struct {
	svc *wallet.Service
}

// createToken is Charge/CreateToken: a formToken whose form saves a card
// without paying (a VERIFICATION of amount 0). Body as Charge/CreatePayment
// without amount: currency, orderId, customer (its reference puts the card
// in that buyer's wallet), ipnTargetUrl, metadata, strongAuthentication,
// formAction REGISTER or CUSTOMER_WALLET (customer.reference required).
func (a *tokensAPI) createToken(c *Call) (any, error) {
	// REGISTER, or CUSTOMER_WALLET: the card saved goes into the wallet of
	// customer.reference (Lyra's plugins open their account page's "add a
	// card" form so).
	_, in, err := decodeTokenForm(c, payment.ActionRegister, payment.ActionCustomerWallet)
	if err != nil {
		return nil, err
	}
	formToken, err := a.svc.CreateToken(c.Ctx, c.Shop, c.Creds, in)
	if err != nil {
		return nil, err
	}
	return paymentFormAnswer(formToken), nil
}

// decodeTokenForm reads the body of a service that answers a form saving a
// card without paying (Charge/CreateToken, Token/Update): the fields of
// Charge/CreatePayment, an amount absent or 0, formAction absent or one of
// actions.
func decodeTokenForm(c *Call, actions ...string) (createPaymentRequest, payment.CreateInput, error) {
	var r createPaymentRequest
	if err := c.Decode(&r); err != nil {
		return r, payment.CreateInput{}, err
	}
	if r.Amount != nil {
		if v, err := amountField("amount", r.Amount); err != nil || *v != 0 {
			return r, payment.CreateInput{}, errs.Invalid(errs.BadAmount, "invalid amount", "amount", r.Amount.String())
		}
	}
	if f := str(r.FormAction); f != "" && !slices.Contains(actions, f) {
		return r, payment.CreateInput{}, invalidField("formAction", f)
	}
	in := payment.CreateInput{
		FormAction: str(r.FormAction),
		Currency:   str(r.Currency), OrderID: str(r.OrderID), IPNTargetURL: str(r.IPNTargetURL),
		StrongAuthentication: str(r.StrongAuthentication), Metadata: r.Metadata, PaymentMethods: r.PaymentMethods,
	}
	if r.Customer != nil {
		in.Customer = *r.Customer
	}
	if r.TransactionOptions != nil && r.TransactionOptions.CardOptions != nil {
		in.PaymentSource = str(r.TransactionOptions.CardOptions.PaymentSource)
	}
	return r, in, nil
}

// paymentFormAnswer is the answer of a service that creates a form: its
// formToken (V4/Charge/PaymentForm).
func paymentFormAnswer(formToken string) any {
	return struct {
		FormToken string `json:"formToken"`
		Type      string `json:"_type"`
	}{formToken, "V4/Charge/PaymentForm"}
}

// createTokenFromTransaction is Charge/CreateTokenFromTransaction: uuid of
// an accepted debit, optional email; answers V4/Token.
func (a *tokensAPI) createTokenFromTransaction(c *Call) (any, error) {
	var r struct {
		UUID  *string `json:"uuid"`
		Email *string `json:"email"`
	}
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	uuid, err := uuidField("uuid", r.UUID)
	if err != nil {
		return nil, err
	}
	email := str(r.Email)
	if email != "" {
		cust := payment.Customer{Email: &email}
		if err := checkCustomer(&cust); err != nil {
			return nil, err
		}
		email = *cust.Email
	}
	t, err := a.svc.CreateFromTransaction(c.Ctx, c.Shop.ID, c.Creds.Mode, uuid, email)
	if err != nil {
		return nil, err
	}
	return a.tokenObject(c, t), nil
}

type tokenRequest struct {
	PaymentMethodToken *string           `json:"paymentMethodToken"`
	Customer           *payment.Customer `json:"customer"`
}

// tokenGet is Token/Get: the token in any status but purged (PSP_036),
// cancellationDate set once cancelled or expired.
func (a *tokensAPI) tokenGet(c *Call) (any, error) {
	var r tokenRequest
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	t, err := a.svc.Token(c.Ctx, c.Shop.ID, c.Creds.Mode, str(r.PaymentMethodToken))
	if err != nil {
		return nil, err
	}
	if t.StatusAt(a.svc.Now()) == vault.StatusPurged {
		return nil, &errs.Error{Code: errs.TokenPurged, Message: "paymentMethodToken purged", Field: "paymentMethodToken"}
	}
	return a.tokenObject(c, t), nil
}

// tokenCancel is Token/Cancel: the token can no longer pay and the
// subscriptions on it stop; V4/Common/ResponseCodeAnswer.
func (a *tokensAPI) tokenCancel(c *Call) (any, error) {
	var r tokenRequest
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	if _, err := a.svc.Cancel(c.Ctx, c.Shop.ID, c.Creds.Mode, str(r.PaymentMethodToken)); err != nil {
		return nil, err
	}
	return responseCodeAnswer{ResponseCode: 0, ResponseCodeDetail: "token cancelled", Type: "V4/Common/ResponseCodeAnswer"}, nil
}

// tokenReactivate is Token/Reactivate: a cancelled token pays again (its
// subscriptions do not restart); V4/Common/ResponseCodeAnswer.
func (a *tokensAPI) tokenReactivate(c *Call) (any, error) {
	var r tokenRequest
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	if _, err := a.svc.Reactivate(c.Ctx, c.Shop.ID, c.Creds.Mode, str(r.PaymentMethodToken)); err != nil {
		return nil, err
	}
	return responseCodeAnswer{ResponseCode: 0, ResponseCodeDetail: "token reactivated", Type: "V4/Common/ResponseCodeAnswer"}, nil
}

// tokenUpdateCard is Token/Update: "update the payment method data
// associated with an existing alias" (docs.lyra.com/en/rest/V4.0/api/
// reference.html). It answers a formToken (V4/Charge/PaymentForm), as
// Charge/CreateToken does; the card the buyer enters on that form is
// verified (amount 0) and, once accepted, replaces the token's card under
// the same paymentMethodToken. Body: paymentMethodToken and the fields of
// Charge/CreateToken (currency required, orderId, customer, ipnTargetUrl,
// metadata, strongAuthentication, formAction REGISTER or none).
func (a *tokensAPI) tokenUpdateCard(c *Call) (any, error) {
	r, in, err := decodeTokenForm(c, payment.ActionRegister)
	if err != nil {
		return nil, err
	}
	formToken, err := a.svc.UpdateCard(c.Ctx, c.Shop, c.Creds, str(r.PaymentMethodToken), in)
	if err != nil {
		return nil, err
	}
	return paymentFormAnswer(formToken), nil
}

// tokenUpdateCustomer is Token/UpdateCustomerDetails: the buyer's details
// of one token (customer.billingDetails, shippingDetails, email); V4/Token.
func (a *tokensAPI) tokenUpdateCustomer(c *Call) (any, error) {
	var r tokenRequest
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	if r.Customer == nil {
		return nil, &errs.Error{Code: errs.NoChange, Message: "no change", Field: "customer",
			Detail: "give the customer details to update"}
	}
	if err := checkCustomer(r.Customer); err != nil {
		return nil, err
	}
	t, err := a.svc.UpdateCustomer(c.Ctx, c.Shop.ID, c.Creds.Mode, str(r.PaymentMethodToken), *r.Customer)
	if err != nil {
		return nil, err
	}
	return a.tokenObject(c, t), nil
}

// checkCustomer validates customer details given to a token service the
// way Charge/CreatePayment does.
func checkCustomer(cust *payment.Customer) error {
	return payment.NormalizeCustomer(cust)
}

// tokenJSON is V4/Token (field names and order of the public Token/Get
// example, secure.osb.pf …/reference/examples/token-get.html).
type tokenJSON struct {
	Status             string           `json:"status"`
	PaymentMethodToken string           `json:"paymentMethodToken"`
	PaymentMethodType  string           `json:"paymentMethodType"`
	CreationDate       string           `json:"creationDate"`
	CancellationDate   *string          `json:"cancellationDate"`
	Customer           payment.Customer `json:"customer"`
	TokenDetails       tokenDetailsJSON `json:"tokenDetails"`
	Type               string           `json:"_type"`
}

type tokenDetailsJSON struct {
	AuthorizationResponse payment.AuthorizationResponse `json:"authorizationResponse"`
	PaymentSource         *string                       `json:"paymentSource"`
	PAN                   string                        `json:"pan"`
	ExpiryMonth           int                           `json:"expiryMonth"`
	ExpiryYear            int                           `json:"expiryYear"`
	EffectiveBrand        string                        `json:"effectiveBrand"`
	IssuerCode            *string                       `json:"issuerCode"`
	IssuerName            *string                       `json:"issuerName"`
	EffectiveProductCode  *string                       `json:"effectiveProductCode"`
	Country               *string                       `json:"country"`
	MID                   *string                       `json:"mid"`
	Type                  string                        `json:"_type"`
}

// tokenObject is t as V4/Token. customer.reference is the wallet the token
// belongs to (none: null), whatever was sent when it was created.
func (a *tokensAPI) tokenObject(c *Call, t vault.Token) tokenJSON {
	now := a.svc.Now()
	status := t.StatusAt(now)
	var cust payment.Customer
	if len(t.Customer) > 0 {
		_ = json.Unmarshal(t.Customer, &cust)
	}
	cust.Reference = nil
	if t.CustomerReference != "" {
		ref := t.CustomerReference
		cust.Reference = &ref
	}
	j := tokenJSON{
		Status: string(status), PaymentMethodToken: t.Value, PaymentMethodType: methodType(t.Method),
		CreationDate: payment.Date(t.CreatedAt), Customer: cust.WithTypes(),
		TokenDetails: tokenDetailsJSON{
			PAN: t.PANMasked, ExpiryMonth: t.Expiry.Month, ExpiryYear: t.Expiry.Year, EffectiveBrand: string(t.Brand),
			AuthorizationResponse: payment.NewAuthorizationResponse(),
			Type:                  "V4/TokenDetails",
		},
		Type: "V4/Token",
	}
	switch {
	case status == vault.StatusCancelled && !t.CancelledAt.IsZero():
		d := payment.Date(t.CancelledAt)
		j.CancellationDate = &d
	case status == vault.StatusExpired:
		// The card stopped paying at the end of its expiry month.
		d := payment.Date(time.Date(t.Expiry.Year, time.Month(t.Expiry.Month)+1, 1, 0, 0, 0, 0, time.UTC))
		j.CancellationDate = &d
	}
	if tx, ok := a.svc.InitialTransaction(c.Ctx, t); ok && tx.AuthNumber != "" {
		date := payment.Date(tx.AuthAt)
		num := tx.AuthNumber
		j.TokenDetails.AuthorizationResponse.AuthorizationDate = &date
		j.TokenDetails.AuthorizationResponse.AuthorizationNumber = &num
	}
	return j
}

func methodType(m string) string {
	if m == "" {
		return "CARD"
	}
	return m
}
