package payment

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/jsonstr"
)

// This file is the one place where payments become PayZen V4 JSON: the
// Charge/CreatePayment SILENT answer, Transaction/Get, Order/Get, the
// hosted form's kr-answer and the IPN all use it. Field names, order and
// nulls follow the samples of lyra/rest-php-sdk src/Lyra/Tests/ClientTest.php.

// Answer returns the kr-answer JSON of p (a V4/Payment object) as of now:
// the exact bytes to post as kr-answer and to sign with kr-hash.
func Answer(p Payment, now time.Time) ([]byte, error) {
	b, err := json.Marshal(Object(p, now))
	if err != nil {
		return nil, fmt.Errorf("payment: marshal answer: %w", err)
	}
	return b, nil
}

// answerString is Answer as a string, for an outbox message's payload.
func answerString(p Payment, now time.Time) (string, error) {
	s, err := jsonstr.Marshal(Object(p, now))
	if err != nil {
		return "", fmt.Errorf("payment: marshal answer: %w", err)
	}
	return s, nil
}

// Object returns p as the V4/Payment answer object, to embed in a V4
// response envelope.
func Object(p Payment, now time.Time) any {
	txs := make([]transactionJSON, len(p.Transactions))
	for i, t := range p.Transactions {
		txs[i] = transactionObject(p, t, "V4/PaymentTransaction", false)
	}
	return paymentJSON{
		ShopID: p.ShopID, OrderCycle: p.OrderCycle, OrderStatus: p.OrderStatus, ServerDate: Date(now),
		OrderDetails: orderDetails(p), Customer: p.Customer.withTypes(), Transactions: txs, Type: "V4/Payment",
	}
}

// TransactionObject returns t, a transaction of p, as the V4/Transaction
// answer of Transaction/Get and the other Transaction/* services.
func TransactionObject(p Payment, t Transaction) any {
	return transactionObject(p, t, "V4/Transaction", true)
}

// OrderObject returns the Order/Get answer (V4/OrderTransactions): the
// transactions of every payment of one order, optionally of one operation
// type only. ps must not be empty. The order's status, cycle and details
// are those of the payment that decides the status (the best paid; of
// equals, the latest), not of the last attempt: a refused attempt made
// after the order was paid must not hide the paid amount.
func OrderObject(ps []Payment, operationType string, now time.Time) any {
	var txs []transactionJSON
	decider := ps[0]
	for _, p := range ps {
		for _, t := range p.Transactions {
			if operationType == "" || t.OperationType == operationType {
				txs = append(txs, transactionObject(p, t, "V4/Transaction", true))
			}
		}
		if rank(p.OrderStatus) >= rank(decider.OrderStatus) {
			decider = p
		}
	}
	if txs == nil {
		txs = []transactionJSON{}
	}
	cycle := decider.OrderCycle
	if decider.OrderStatus == StatusPaid {
		cycle = CycleClosed
	}
	return orderJSON{
		ShopID: decider.ShopID, OrderCycle: cycle, OrderStatus: decider.OrderStatus, ServerDate: Date(now),
		OrderDetails: orderDetails(decider), Transactions: txs, Type: "V4/OrderTransactions",
	}
}

func rank(status string) int {
	switch status {
	case StatusPaid:
		return 3
	case StatusRunning:
		return 2
	case StatusUnpaid:
		return 1
	}
	return 0
}

// Date formats a time as PayZen does: 2018-12-11T19:03:45+00:00.
func Date(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

func optDate(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := Date(t)
	return &s
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optInt(i int) *int {
	if i == 0 {
		return nil
	}
	return &i
}

func optInt64(i int64) *int64 { return &i }

type paymentJSON struct {
	ShopID       string            `json:"shopId"`
	OrderCycle   string            `json:"orderCycle"`
	OrderStatus  string            `json:"orderStatus"`
	ServerDate   string            `json:"serverDate"`
	OrderDetails orderDetailsJSON  `json:"orderDetails"`
	Customer     Customer          `json:"customer"`
	Transactions []transactionJSON `json:"transactions"`
	// SubMerchantDetails is always null: OpenPSP has no sub-merchants.
	SubMerchantDetails any    `json:"subMerchantDetails"`
	Type               string `json:"_type"`
}

type orderJSON struct {
	ShopID       string            `json:"shopId"`
	OrderCycle   string            `json:"orderCycle"`
	OrderStatus  string            `json:"orderStatus"`
	ServerDate   string            `json:"serverDate"`
	OrderDetails orderDetailsJSON  `json:"orderDetails"`
	Transactions []transactionJSON `json:"transactions"`
	Type         string            `json:"_type"`
}

type orderDetailsJSON struct {
	OrderTotalAmount     int64             `json:"orderTotalAmount"`
	OrderEffectiveAmount int64             `json:"orderEffectiveAmount"`
	OrderCurrency        string            `json:"orderCurrency"`
	Mode                 string            `json:"mode"`
	OrderID              *string           `json:"orderId"`
	Metadata             map[string]string `json:"metadata"`
	Type                 string            `json:"_type"`
}

func orderDetails(p Payment) orderDetailsJSON {
	return orderDetailsJSON{
		OrderTotalAmount: p.Amount, OrderEffectiveAmount: effectiveAmount(p), OrderCurrency: p.Currency, Mode: p.Mode,
		OrderID: optString(p.OrderID), Metadata: p.Options.Metadata, Type: "V4/OrderDetails",
	}
}

// effectiveAmount is what the order is charged: the amount of its accepted
// debit, which Transaction/Update or a partial cancellation may have lowered
// below the order's total, with its parts captured apart (a DirectLink SAL
// for part of it); the total while no debit is accepted.
func effectiveAmount(p Payment) int64 {
	var sum int64
	accepted := false
	for _, t := range p.Transactions {
		if t.OperationType == Debit && t.Accepted() {
			sum, accepted = sum+t.Amount, true
		}
	}
	if !accepted {
		return p.Amount
	}
	return sum
}

type transactionJSON struct {
	ShopID                        string                 `json:"shopId"`
	UUID                          string                 `json:"uuid"`
	Amount                        int64                  `json:"amount"`
	Currency                      string                 `json:"currency"`
	PaymentMethodType             string                 `json:"paymentMethodType"`
	PaymentMethodToken            *string                `json:"paymentMethodToken"`
	Status                        string                 `json:"status"`
	DetailedStatus                string                 `json:"detailedStatus"`
	OperationType                 string                 `json:"operationType"`
	EffectiveStrongAuthentication string                 `json:"effectiveStrongAuthentication"`
	CreationDate                  string                 `json:"creationDate"`
	ErrorCode                     *string                `json:"errorCode"`
	ErrorMessage                  *string                `json:"errorMessage"`
	DetailedErrorCode             *string                `json:"detailedErrorCode"`
	DetailedErrorMessage          *string                `json:"detailedErrorMessage"`
	Metadata                      map[string]string      `json:"metadata"`
	TransactionDetails            transactionDetailsJSON `json:"transactionDetails"`
	OrderDetails                  *orderDetailsJSON      `json:"orderDetails,omitempty"`
	Customer                      *Customer              `json:"customer,omitempty"`
	Type                          string                 `json:"_type"`
}

type transactionDetailsJSON struct {
	LiabilityShift        string                  `json:"liabilityShift"`
	EffectiveAmount       int64                   `json:"effectiveAmount"`
	EffectiveCurrency     string                  `json:"effectiveCurrency"`
	CreationContext       string                  `json:"creationContext"`
	CardDetails           cardDetailsJSON         `json:"cardDetails"`
	FraudManagement       fraudManagementJSON     `json:"fraudManagement"`
	SubscriptionDetails   subscriptionDetailsJSON `json:"subscriptionDetails"`
	ParentTransactionUUID *string                 `json:"parentTransactionUuid"`
	MID                   *string                 `json:"mid"`
	SequenceNumber        int                     `json:"sequenceNumber"`
	// AcquirerNetwork is the acquirer network code Lyra documents in its
	// answers (e.g. "CONECS"); always null: OpenPSP's acquirer
	// connectors name no network, and Lyra writes null for absent data.
	AcquirerNetwork  *string              `json:"acquirerNetwork"`
	AdditionalFields additionalFieldsJSON `json:"additionalFields"`
	Type             string               `json:"_type"`
}

// fraudManagementJSON is fraudManagement: OpenPSP runs no risk control,
// so only its _type.
type fraudManagementJSON struct {
	Type string `json:"_type"`
}

// subscriptionDetailsJSON names the subscription a transaction is an
// instalment of (null for any other transaction).
type subscriptionDetailsJSON struct {
	SubscriptionID *string `json:"subscriptionId"`
	Type           string  `json:"_type"`
}

type additionalFieldsJSON struct {
	InstallmentNumber *int   `json:"installmentNumber"`
	Type              string `json:"_type"`
}

// cardDetailsJSON is cardDetails with the fields of Lyra's current
// kr-answer example, in its order. cardHolderName is the name typed with
// the card (or held by the paying token; a refund shows its debit's), null
// when none was. The issuer, installment and identity document fields are
// null: OpenPSP keeps none of them with a transaction, nor an issuer's
// transaction identifier (the acquirer connector returns none).
// authenticationResponse (V4/AuthenticationResponseData) is left out
// rather than written null: the 3-D Secure result is in threeDSResponse,
// and a null there would say that no authentication took place.
type cardDetailsJSON struct {
	PaymentSource                      *string               `json:"paymentSource"`
	ManualValidation                   string                `json:"manualValidation"`
	ExpectedCaptureDate                *string               `json:"expectedCaptureDate"`
	EffectiveBrand                     *string               `json:"effectiveBrand"`
	PAN                                *string               `json:"pan"`
	ExpiryMonth                        *int                  `json:"expiryMonth"`
	ExpiryYear                         *int                  `json:"expiryYear"`
	Country                            *string               `json:"country"`
	IssuerCode                         *string               `json:"issuerCode"`
	IssuerName                         *string               `json:"issuerName"`
	EffectiveProductCode               *string               `json:"effectiveProductCode"`
	LegacyTransID                      string                `json:"legacyTransId"`
	LegacyTransDate                    string                `json:"legacyTransDate"`
	PaymentMethodSource                string                `json:"paymentMethodSource"`
	AuthorizationResponse              AuthorizationResponse `json:"authorizationResponse"`
	CaptureResponse                    captureJSON           `json:"captureResponse"`
	ThreeDSResponse                    threeDSJSON           `json:"threeDSResponse"`
	InstallmentNumber                  *int                  `json:"installmentNumber"`
	InstallmentCode                    *string               `json:"installmentCode"`
	MarkAuthorizationResponse          markAuthJSON          `json:"markAuthorizationResponse"`
	CardHolderName                     *string               `json:"cardHolderName"`
	IdentityDocumentNumber             *string               `json:"identityDocumentNumber"`
	IdentityDocumentType               *string               `json:"identityDocumentType"`
	InitialIssuerTransactionIdentifier *string               `json:"initialIssuerTransactionIdentifier"`
	Type                               string                `json:"_type"`
}

// AuthorizationResponse is the V4 object
// V4/PaymentMethod/Details/Cards/CardAuthorizationResponse: a transaction's
// cardDetails.authorizationResponse and, with only the date and number of
// the card's first authorization, a token's tokenDetails (Token/Get).
type AuthorizationResponse struct {
	Amount              *int64  `json:"amount"`
	Currency            *string `json:"currency"`
	AuthorizationDate   *string `json:"authorizationDate"`
	AuthorizationNumber *string `json:"authorizationNumber"`
	AuthorizationResult *string `json:"authorizationResult"`
	AuthorizationMode   *string `json:"authorizationMode"`
	Type                string  `json:"_type"`
}

// captureJSON is captureResponse. The effective refund is the refund in
// the currency the card was charged in: OpenPSP converts no currency, so
// it is the refund.
type captureJSON struct {
	RefundAmount            *int64  `json:"refundAmount"`
	RefundCurrency          *string `json:"refundCurrency"`
	CaptureDate             *string `json:"captureDate"`
	CaptureFileNumber       *string `json:"captureFileNumber"`
	EffectiveRefundAmount   *int64  `json:"effectiveRefundAmount"`
	EffectiveRefundCurrency *string `json:"effectiveRefundCurrency"`
	Type                    string  `json:"_type"`
}

type threeDSJSON struct {
	AuthenticationResultData authResultJSON `json:"authenticationResultData"`
	Type                     string         `json:"_type"`
}

type authResultJSON struct {
	TransactionCondition string  `json:"transactionCondition"`
	Enrolled             string  `json:"enrolled"`
	Status               string  `json:"status"`
	ECI                  *string `json:"eci"`
	XID                  *string `json:"xid"`
	CAVVAlgorithm        *string `json:"cavvAlgorithm"`
	CAVV                 *string `json:"cavv"`
	SignValid            *string `json:"signValid"`
	Brand                *string `json:"brand"`
	Type                 string  `json:"_type"`
}

type markAuthJSON struct {
	Amount              *int64  `json:"amount"`
	Currency            *string `json:"currency"`
	AuthorizationDate   *string `json:"authorizationDate"`
	AuthorizationNumber *string `json:"authorizationNumber"`
	AuthorizationResult *string `json:"authorizationResult"`
	Type                string  `json:"_type"`
}

func transactionObject(p Payment, t Transaction, typ string, withOrder bool) transactionJSON {
	strong, liability := "DISABLED", "NO"
	if t.ThreeDS != nil {
		switch t.ThreeDS.Status {
		case acquirer.ThreeDSAuthenticated, acquirer.ThreeDSAttempted, acquirer.ThreeDSChallenge:
			strong = "ENABLED"
		}
		if t.ThreeDS.LiabilityShift {
			liability = "YES"
		}
	}
	context := "CHARGE"
	if t.OperationType == Credit {
		context = "REFUND"
	}
	manual := "NO"
	if t.ManualValidation {
		manual = "YES"
	}
	source := p.Options.PaymentSource
	if source == "" {
		source = "EC"
	}
	pms := t.PaymentMethodSource
	if pms == "" {
		pms = "NEW"
	}
	j := transactionJSON{
		ShopID: t.ShopID, UUID: t.UUID, Amount: t.Amount, Currency: t.Currency, PaymentMethodType: "CARD",
		PaymentMethodToken: optString(t.Token), Status: t.Status, DetailedStatus: t.DetailedStatus,
		OperationType: t.OperationType, EffectiveStrongAuthentication: strong, CreationDate: Date(t.CreatedAt),
		ErrorCode: optString(t.ErrorCode), ErrorMessage: optString(t.ErrorMessage),
		DetailedErrorCode: optString(t.DetailedErrorCode), DetailedErrorMessage: optString(t.DetailedErrorMessage),
		Metadata: t.Metadata,
		TransactionDetails: transactionDetailsJSON{
			LiabilityShift: liability, EffectiveAmount: t.Amount, EffectiveCurrency: t.Currency,
			CreationContext: context,
			CardDetails: cardDetailsJSON{
				PaymentSource: &source, ManualValidation: manual, ExpectedCaptureDate: optDate(t.ExpectedCaptureAt),
				EffectiveBrand: optString(t.Brand), PAN: optString(t.PANMasked), ExpiryMonth: optInt(t.ExpiryMonth),
				ExpiryYear: optInt(t.ExpiryYear), CardHolderName: optString(t.CardHolderName), LegacyTransID: legacyTransID(t.UUID),
				LegacyTransDate: Date(t.CreatedAt), PaymentMethodSource: pms,
				AuthorizationResponse: authResponse(t), CaptureResponse: captureResponse(t),
				ThreeDSResponse:           threeDSResponse(t),
				MarkAuthorizationResponse: markAuthResponse(t),
				Type:                      "V4/PaymentMethod/Details/CardDetails",
			},
			FraudManagement: fraudManagementJSON{Type: "V4/PaymentMethod/Details/FraudManagement"},
			SubscriptionDetails: subscriptionDetailsJSON{SubscriptionID: optString(p.Options.SubscriptionID),
				Type: "V4/PaymentMethod/Details/SubscriptionDetails"},
			ParentTransactionUUID: optString(t.ParentUUID), SequenceNumber: t.SequenceNumber,
			AdditionalFields: additionalFieldsJSON{Type: "V4/PaymentMethod/Details/AdditionalFields"},
			Type:             "V4/TransactionDetails",
		},
		Type: typ,
	}
	if withOrder {
		// A V4/Transaction stands alone (Transaction/Get, Order/Get, the
		// Transaction/* answers), so it carries its order and its buyer,
		// as Lyra's Transaction object does; inside a V4/Payment both are
		// the Payment's.
		od := orderDetails(p)
		c := p.Customer.withTypes()
		j.OrderDetails, j.Customer = &od, &c
	}
	return j
}

// NewAuthorizationResponse returns the object with every field null.
func NewAuthorizationResponse() AuthorizationResponse {
	return AuthorizationResponse{Type: "V4/PaymentMethod/Details/Cards/CardAuthorizationResponse"}
}

func authResponse(t Transaction) AuthorizationResponse {
	a := NewAuthorizationResponse()
	if t.AuthResult == "" {
		return a
	}
	a.AuthorizationResult = optString(authorizationResult(t.AuthResult))
	a.AuthorizationDate = optDate(t.AuthAt)
	a.AuthorizationNumber = optString(t.AuthNumber)
	if t.AuthNumber != "" || t.AuthResult == acquirer.CodeApproved {
		amount := t.AuthAmount
		if amount == 0 {
			amount = t.Amount
		}
		full := "FULL"
		a.Amount, a.Currency, a.AuthorizationMode = optInt64(amount), optString(t.Currency), &full
	}
	return a
}

// markAuthResponse is the card check of a deferred debit (all null for a
// transaction without one): it stays as it was once the debit is
// authorized, which authResponse then shows.
func markAuthResponse(t Transaction) markAuthJSON {
	m := markAuthJSON{Type: "V4/PaymentMethod/Details/Cards/MarkAuthorizationResponse"}
	if t.MarkAuthResult == "" {
		return m
	}
	m.Amount, m.Currency = optInt64(t.MarkAuthAmount), optString(t.Currency)
	m.AuthorizationDate = optDate(t.MarkAuthAt)
	m.AuthorizationNumber = optString(t.MarkAuthNumber)
	m.AuthorizationResult = optString(authorizationResult(t.MarkAuthResult))
	return m
}

// authorizationResult writes an ISO response code the PayZen way: without
// the leading zero ("00" → "0", "05" → "5").
func authorizationResult(code string) string {
	if len(code) == 2 && code[0] == '0' {
		return code[1:]
	}
	return code
}

func captureResponse(t Transaction) captureJSON {
	c := captureJSON{Type: "V4/PaymentMethod/Details/Cards/CardCaptureResponse"}
	if t.CapturedAt.IsZero() {
		return c
	}
	c.CaptureDate = optDate(t.CapturedAt)
	if t.OperationType == Debit {
		c.RefundAmount = optInt64(t.RefundedAmount)
		if t.RefundedAmount > 0 {
			c.RefundCurrency = optString(t.Currency)
		}
	}
	c.EffectiveRefundAmount, c.EffectiveRefundCurrency = c.RefundAmount, c.RefundCurrency
	return c
}

func threeDSResponse(t Transaction) threeDSJSON {
	r := authResultJSON{TransactionCondition: "COND_3D_ERROR", Enrolled: "UNKNOWN", Status: "UNKNOWN",
		Type: "V4/PaymentMethod/Details/Cards/CardAuthenticationResponse"}
	if t.Brand != "" {
		r.Brand = optString(t.Brand)
	}
	if tds := t.ThreeDS; tds != nil {
		r.ECI, r.CAVV = optString(tds.ECI), optString(tds.AuthenticationValue)
		if tds.AuthenticationValue != "" {
			alg := "CAVV"
			r.CAVVAlgorithm = &alg
		}
		switch tds.Status {
		case acquirer.ThreeDSAuthenticated:
			r.TransactionCondition, r.Enrolled, r.Status = "COND_3D_SUCCESS", "YES", "SUCCESS"
		case acquirer.ThreeDSAttempted:
			r.TransactionCondition, r.Enrolled, r.Status = "COND_3D_ATTEMPT", "YES", "ATTEMPT"
		case acquirer.ThreeDSFailed, acquirer.ThreeDSRejected:
			r.TransactionCondition, r.Enrolled, r.Status = "COND_3D_FAILURE", "YES", "FAILED"
		case acquirer.ThreeDSUnavailable:
			r.TransactionCondition, r.Enrolled, r.Status = "COND_3D_NOT_ENROLLED", "NO", "UNKNOWN"
		}
	}
	return threeDSJSON{AuthenticationResultData: r, Type: "V4/PaymentMethod/Details/Cards/ThreeDSResponse"}
}

// legacyTransID is the 6-digit transaction number of the PayZen form API,
// derived from the uuid so that it never changes.
func legacyTransID(uuid string) string {
	if len(uuid) < 8 {
		return "000000"
	}
	n, err := strconv.ParseUint(strings.ToLower(uuid[len(uuid)-8:]), 16, 32)
	if err != nil {
		return "000000"
	}
	return fmt.Sprintf("%06d", n%1000000)
}
