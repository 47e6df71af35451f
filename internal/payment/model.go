package payment

import (
	"encoding/json"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/jsonstr"
	"github.com/openpsp/openpsp/internal/store"
)

// Form actions of Charge/CreatePayment (compat.md §1.5).
const (
	ActionPayment        = "PAYMENT"          // the buyer enters a card; default
	ActionRegisterPay    = "REGISTER_PAY"     // pay and save the card
	ActionAskRegisterPay = "ASK_REGISTER_PAY" // pay; the buyer chooses to save the card
	ActionRegister       = "REGISTER"         // save a card without paying (VERIFICATION)
	ActionCustomerWallet = "CUSTOMER_WALLET"  // pay with a card of the buyer's wallet or a new one
	ActionSilent         = "SILENT"           // server to server with paymentMethodToken, no form
)

// Order cycles.
const (
	CycleOpen   = "OPEN"
	CycleClosed = "CLOSED"
)

// Payment is one payment request (the PayZen order of one formToken, or one
// SILENT payment) with its transactions: the V4/Payment object.
type Payment struct {
	ID            string
	ShopID        string
	Mode          string // TEST | PRODUCTION, from the key set used
	OrderID       string
	Amount        int64 // minor units; lowered by Transaction/Update
	Currency      string
	FormAction    string
	OrderStatus   string // PAID | UNPAID | RUNNING | ABANDONED
	OrderCycle    string // OPEN | CLOSED
	Customer      Customer
	Options       Options
	FormToken     string
	FormExpiresAt time.Time
	Attempts      int
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Transactions in sequence order.
	Transactions []Transaction

	version int // stored version (optimistic lock); 0 before the insert
}

// Transaction returns the payment's transaction with that uuid.
func (p Payment) Transaction(uuid string) (Transaction, bool) {
	for _, t := range p.Transactions {
		if t.UUID == uuid {
			return t, true
		}
	}
	return Transaction{}, false
}

// AttemptsLeft is how many card attempts the form still allows.
func (p Payment) AttemptsLeft() int {
	n := p.Options.MaxAttempts - p.Attempts
	if n < 0 {
		return 0
	}
	return n
}

// FormExpired reports whether the formToken no longer accepts payments.
func (p Payment) FormExpired(now time.Time) bool {
	return p.FormToken == "" || !now.Before(p.FormExpiresAt)
}

// Completed reports whether the payment is over for the buyer: paid, or
// no attempt left (the order cycle is closed).
func (p Payment) Completed() bool { return p.OrderCycle == CycleClosed }

// UpdateTokenGone reports whether p is a Token/Update form an attempt of
// which was refused because its token could no longer take a card
// (cancelled, purged): the form is over, another card would fare no better.
func (p Payment) UpdateTokenGone() bool {
	if p.Options.UpdateToken == "" {
		return false
	}
	for _, t := range p.Transactions {
		if t.OperationType == Verification && t.DetailedStatus == Refused && tokenGoneCode(t.ErrorCode) {
			return true
		}
	}
	return false
}

// Accepted reports whether the transaction succeeded: authorized (to be
// captured or validated), captured, a verification accepted, or a deferred
// debit whose card was verified and waits for its authorization (the
// buyer is told the payment is accepted, as Lyra does).
func (t Transaction) Accepted() bool {
	switch t.DetailedStatus {
	case Authorised, AuthorisedToValidate, Captured, Accepted, WaitingAuthorisation, WaitingAuthorisationToValidate:
		return true
	}
	return false
}

// Options are the CreatePayment options kept with a payment, and the shop
// settings in force when it was created (so that jobs need no shop lookup).
type Options struct {
	CaptureDelay         int               `json:"captureDelay"`
	ManualValidation     bool              `json:"manualValidation,omitempty"`
	PaymentSource        string            `json:"paymentSource,omitempty"`
	StrongAuthentication string            `json:"strongAuthentication,omitempty"`
	Metadata             map[string]string `json:"metadata,omitempty"`
	PaymentMethods       []string          `json:"paymentMethods,omitempty"`
	IPNTargetURL         string            `json:"ipnTargetUrl,omitempty"` // as given
	IPNTarget            string            `json:"ipnTarget,omitempty"`    // resolved: ipnTargetUrl or the shop's
	PaymentMethodToken   string            `json:"paymentMethodToken,omitempty"`
	UpdateToken          string            `json:"updateToken,omitempty"` // Token/Update: the token whose card the form replaces
	MaxAttempts          int               `json:"maxAttempts"`
	ValidityDays         int               `json:"validityDays"`
	AllowDuplicate       bool              `json:"allowDuplicatePaidOrder,omitempty"`
	SubscriptionID       string            `json:"subscriptionId,omitempty"` // an instalment of this subscription
	// Origin is the wire format that made the payment: "" for the V4 API
	// and its forms, OriginDirectLink for an Ingenico DirectLink order
	// (whose status changes make a post-sale request: the hook looks
	// nothing up for the others).
	Origin string `json:"origin,omitempty"`
}

// OriginDirectLink is Options.Origin of a DirectLink order.
const OriginDirectLink = "DIRECTLINK"

// Transaction is one operation on a card: a DEBIT, a CREDIT (refund) or a
// VERIFICATION.
type Transaction struct {
	UUID                string // 32 lowercase hex
	ShopID              string
	PaymentID           string
	ParentUUID          string
	Mode                string
	OrderID             string
	OperationType       string
	Amount              int64
	Currency            string
	Status              string
	DetailedStatus      string
	Token               string // paymentMethodToken
	PaymentMethodSource string // NEW | TOKEN
	Brand               string
	PANMasked           string
	ExpiryMonth         int
	ExpiryYear          int
	// CardHolderName is the name typed with the card on the form, or held
	// by the token that paid ("" for none): cardDetails.cardHolderName.
	// Cardholder data: kept out of logs, as the masked PAN beside it.
	CardHolderName    string
	ManualValidation  bool
	ExpectedCaptureAt time.Time
	AuthExpiresAt     time.Time
	AuthNumber        string
	AuthResult        string // acquirer response code
	AuthAt            time.Time
	AuthAmount        int64
	// MarkAuth* are the card check made at payment time for a deferred
	// debit, authorized only the day before its capture date: Lyra's
	// markAuthorizationResponse. MarkAuthResult is "" without a check.
	MarkAuthNumber       string
	MarkAuthResult       string // acquirer response code
	MarkAuthAt           time.Time
	MarkAuthAmount       int64
	AcquirerRef          string
	CaptureRef           string
	CapturedAmount       int64
	CapturedAt           time.Time
	RefundedAmount       int64 // DEBIT: refunded (or being refunded) by CREDIT children
	ThreeDS              *acquirer.ThreeDSResult
	ErrorCode            string
	ErrorMessage         string
	DetailedErrorCode    string
	DetailedErrorMessage string
	Metadata             map[string]string
	SequenceNumber       int
	PendingOp            string // CAPTURE | CANCEL while the acquirer is asked
	PendingOpID          string
	PendingSince         time.Time
	CreatedAt            time.Time
	UpdatedAt            time.Time

	orderGuard string
	version    int
	// deferredCard is the vault's internal reference of the card typed for
	// a deferred debit, kept until its D-1 authorization ("" for none or
	// once erased). Unexported: it is never part of an answer or IPN.
	deferredCard string
	// pendingStartedAt is when PendingOp was claimed (PendingSince is
	// renewed by each recovery claim); cancelRefusals counts the
	// cancellations the acquirer refused (cancelOpID).
	pendingStartedAt time.Time
	cancelRefusals   int
}

// Pending acquirer operations on an existing transaction.
const (
	opCapture = "CAPTURE"
	opCancel  = "CANCEL"
	// opAuthorise is the authorization of a WAITING_AUTHORISATION debit,
	// sent by AuthorizeDue the day before its capture date.
	opAuthorise = "AUTHORISE"
)

func paymentFromRecord(r store.PaymentRecord) Payment {
	p := Payment{
		ID: r.ID, ShopID: r.ShopID, Mode: r.Mode, OrderID: r.OrderID, Amount: r.Amount, Currency: r.Currency,
		FormAction: r.FormAction, OrderStatus: r.OrderStatus, OrderCycle: r.OrderCycle, FormToken: r.FormToken,
		FormExpiresAt: r.FormExpiresAt, Attempts: r.Attempts, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		version: r.Version,
	}
	_ = json.Unmarshal([]byte(r.Customer), &p.Customer)
	_ = json.Unmarshal([]byte(r.Options), &p.Options)
	return p
}

func (p Payment) record() store.PaymentRecord {
	c, _ := jsonstr.Marshal(p.Customer)
	o, _ := jsonstr.Marshal(p.Options)
	return store.PaymentRecord{
		ID: p.ID, ShopID: p.ShopID, Mode: p.Mode, OrderID: p.OrderID, Amount: p.Amount, Currency: p.Currency,
		FormAction: p.FormAction, OrderStatus: p.OrderStatus, OrderCycle: p.OrderCycle, Customer: c,
		Options: o, FormToken: p.FormToken, FormExpiresAt: p.FormExpiresAt, Attempts: p.Attempts,
		Version: p.version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

// stateRecord is the part of p's record that a change of its state writes
// (store.UpdatePaymentState, store.WriteSettlement): record without the
// customer's and options' JSON, which those statements do not write.
func (p *Payment) stateRecord() store.PaymentRecord {
	return store.PaymentRecord{ID: p.ID, OrderStatus: p.OrderStatus, OrderCycle: p.OrderCycle, Amount: p.Amount,
		Attempts: p.Attempts, Version: p.version, UpdatedAt: p.UpdatedAt}
}

func transactionFromRecord(r store.TransactionRecord) Transaction {
	t := Transaction{
		UUID: r.UUID, ShopID: r.ShopID, PaymentID: r.PaymentID, ParentUUID: r.ParentUUID, Mode: r.Mode,
		OrderID: r.OrderID, OperationType: r.OperationType, Amount: r.Amount, Currency: r.Currency, Status: r.Status,
		DetailedStatus: r.DetailedStatus, Token: r.Token, PaymentMethodSource: r.PaymentMethodSource, Brand: r.Brand,
		PANMasked: r.PANMasked, ExpiryMonth: r.ExpiryMonth, ExpiryYear: r.ExpiryYear, CardHolderName: r.CardHolderName,
		ManualValidation: r.ManualValidation, ExpectedCaptureAt: r.ExpectedCaptureAt, AuthExpiresAt: r.AuthExpiresAt,
		AuthNumber: r.AuthNumber, AuthResult: r.AuthResult, AuthAt: r.AuthAt, AuthAmount: r.AuthAmount,
		MarkAuthNumber: r.MarkAuthNumber, MarkAuthResult: r.MarkAuthResult, MarkAuthAt: r.MarkAuthAt,
		MarkAuthAmount: r.MarkAuthAmount,
		AcquirerRef:    r.AcquirerRef, CaptureRef: r.CaptureRef, CapturedAmount: r.CapturedAmount,
		CapturedAt: r.CapturedAt, RefundedAmount: r.RefundedAmount, ErrorCode: r.ErrorCode,
		ErrorMessage: r.ErrorMessage, DetailedErrorCode: r.DetailedErrorCode,
		DetailedErrorMessage: r.DetailedErrorMessage, SequenceNumber: r.SequenceNumber, PendingOp: r.PendingOp,
		PendingOpID: r.PendingOpID, PendingSince: r.PendingSince, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		orderGuard: r.OrderGuard, version: r.Version, deferredCard: r.DeferredCardToken,
		pendingStartedAt: r.PendingStartedAt, cancelRefusals: r.CancelRefusals,
	}
	if r.ThreeDS != "" {
		var tds acquirer.ThreeDSResult
		if json.Unmarshal([]byte(r.ThreeDS), &tds) == nil {
			t.ThreeDS = &tds
		}
	}
	if r.Metadata != "" && r.Metadata != "{}" {
		_ = json.Unmarshal([]byte(r.Metadata), &t.Metadata)
	}
	return t
}

func (t Transaction) record() store.TransactionRecord {
	var tds string
	if t.ThreeDS != nil {
		tds, _ = jsonstr.Marshal(t.ThreeDS)
	}
	md := "{}"
	if len(t.Metadata) > 0 {
		md, _ = jsonstr.Marshal(t.Metadata)
	}
	return store.TransactionRecord{
		UUID: t.UUID, ShopID: t.ShopID, PaymentID: t.PaymentID, ParentUUID: t.ParentUUID, Mode: t.Mode,
		OrderID: t.OrderID, OperationType: t.OperationType, Amount: t.Amount, Currency: t.Currency, Status: t.Status,
		DetailedStatus: t.DetailedStatus, Token: t.Token, PaymentMethodSource: t.PaymentMethodSource, Brand: t.Brand,
		PANMasked: t.PANMasked, ExpiryMonth: t.ExpiryMonth, ExpiryYear: t.ExpiryYear, CardHolderName: t.CardHolderName,
		ManualValidation: t.ManualValidation, ExpectedCaptureAt: t.ExpectedCaptureAt, AuthExpiresAt: t.AuthExpiresAt,
		AuthNumber: t.AuthNumber, AuthResult: t.AuthResult, AuthAt: t.AuthAt, AuthAmount: t.AuthAmount,
		MarkAuthNumber: t.MarkAuthNumber, MarkAuthResult: t.MarkAuthResult, MarkAuthAt: t.MarkAuthAt,
		MarkAuthAmount: t.MarkAuthAmount,
		AcquirerRef:    t.AcquirerRef, CaptureRef: t.CaptureRef, CapturedAmount: t.CapturedAmount,
		CapturedAt: t.CapturedAt, RefundedAmount: t.RefundedAmount, ThreeDS: tds, ErrorCode: t.ErrorCode,
		ErrorMessage: t.ErrorMessage, DetailedErrorCode: t.DetailedErrorCode,
		DetailedErrorMessage: t.DetailedErrorMessage, Metadata: md, SequenceNumber: t.SequenceNumber,
		OrderGuard: t.orderGuard, PendingOp: t.PendingOp, PendingOpID: t.PendingOpID, PendingSince: t.PendingSince,
		DeferredCardToken: t.deferredCard, Version: t.version, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		PendingStartedAt: t.pendingStartedAt, CancelRefusals: t.cancelRefusals,
	}
}

// deriveOrder sets the order status and cycle from the transactions, as
// PayZen reports them: PAID once a debit or verification is paid, RUNNING
// while one is in flight or waits for validation, UNPAID otherwise, and
// ABANDONED for a form that expired without any attempt.
func (p *Payment) deriveOrder(now time.Time) {
	status, anyTx := StatusUnpaid, false
	for _, t := range p.Transactions {
		if t.OperationType == Credit {
			continue
		}
		anyTx = true
		switch t.Status {
		case StatusPaid:
			status = StatusPaid
		case StatusRunning:
			if status != StatusPaid {
				status = StatusRunning
			}
		}
	}
	formOver := p.FormAction == ActionSilent || p.AttemptsLeft() == 0 || p.UpdateTokenGone() ||
		(!p.FormExpiresAt.IsZero() && !now.Before(p.FormExpiresAt))
	switch {
	case status == StatusPaid:
		p.OrderCycle = CycleClosed
	case status == StatusRunning:
		p.OrderCycle = CycleOpen
		for _, t := range p.Transactions {
			switch t.DetailedStatus {
			case AuthorisedToValidate, WaitingAuthorisation, WaitingAuthorisationToValidate:
				// The buyer is done: only the merchant or a job moves it on.
				p.OrderCycle = CycleClosed
			}
		}
	case !anyTx && formOver:
		status, p.OrderCycle = StatusAbandoned, CycleClosed
	case formOver:
		p.OrderCycle = CycleClosed
	default:
		p.OrderCycle = CycleOpen
	}
	p.OrderStatus = status
}
