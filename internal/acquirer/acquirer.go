// Package acquirer defines how OpenPSP talks to the parties that authorize
// card payments (acquirers) and authenticate cardholders (3-D Secure servers).
// Every acquirer connector implements Connector; the built-in test acquirer
// lives in the simulator subpackage.
//
// The contract that matters most is about outcomes: a refusal by the issuer or
// acquirer is an ordinary Result with Approved=false and a nil error. An error
// means the caller does not know what happened (ErrTimeout: ask again later
// with Inquire) or knows that nothing happened (ErrUnavailable). Operations
// are idempotent on their OperationID: sending the same operation twice never
// moves money twice, the second call returns the first call's result.
package acquirer

import (
	"context"
	"errors"

	"github.com/openpsp/openpsp/internal/card"
)

// Errors returned by connectors. Test them with errors.Is: connectors wrap
// them with detail.
var (
	// ErrTimeout means the deadline passed before the acquirer answered. The
	// operation may or may not have been performed: the caller must find out
	// with Inquire (or by resending the same OperationID) before deciding.
	ErrTimeout = errors.New("acquirer: no answer before the deadline, outcome unknown")
	// ErrUnavailable is a technical error after which nothing happened at the
	// acquirer (connection refused, malformed answer, maintenance). The same
	// operation may be sent again.
	ErrUnavailable = errors.New("acquirer: unavailable, operation not performed")
	// ErrInvalidRequest means the request was rejected before it reached the
	// acquirer (missing operation id, missing card number): a bug in the
	// caller, nothing happened, resending it unchanged will fail again.
	ErrInvalidRequest = errors.New("acquirer: invalid request")
	// ErrNotFound means a referenced object (for example a 3-D Secure
	// transaction id) is unknown to the remote party.
	ErrNotFound = errors.New("acquirer: not found")
)

// Initiator values for AuthorizeRequest.Initiator.
const (
	// InitiatorCIT is a customer-initiated transaction: the buyer is present.
	InitiatorCIT = "CIT"
	// InitiatorMIT is a merchant-initiated transaction (subscription
	// instalment, delayed charge): the buyer is absent, no 3-D Secure.
	InitiatorMIT = "MIT"
)

// AuthorizeRequest asks the acquirer to reserve (and optionally capture) an
// amount on a card, or, through Verify, to check a card without an amount.
type AuthorizeRequest struct {
	// OperationID is our unique id for this operation; it is the idempotency
	// key towards the acquirer.
	OperationID string
	// ShopID identifies the shop; MerchantID is the acquirer's merchant id
	// (MID), which may be empty in test.
	ShopID, MerchantID string
	// Amount in minor units of Currency (ISO 4217 alphabetic code).
	Amount   int64
	Currency string
	// PAN, Expiry and SecurityCode of the card. SecurityCode is zero for a
	// payment with a stored token.
	PAN          card.PAN
	Expiry       card.Expiry
	SecurityCode card.SecurityCode
	// Brand is the network the payment runs on (for co-badged cards, the one
	// the buyer or the merchant chose).
	Brand card.Brand
	// Capture true authorizes and captures in one step (a sale).
	Capture bool
	// Initiator is InitiatorCIT or InitiatorMIT.
	Initiator string
	// ThreeDS is the outcome of cardholder authentication when it ran.
	ThreeDS *ThreeDSResult
}

// Result is the acquirer's answer to an operation.
type Result struct {
	// Approved is true when the operation was performed.
	Approved bool
	// ResponseCode is the ISO 8583-style two-digit code (see the Code*
	// constants): "00" when approved.
	ResponseCode string
	// AuthorizationNumber is the issuer's 6-character approval code, set when
	// an authorization or verification is approved.
	AuthorizationNumber string
	// AcquirerReference is the acquirer's unique id for this operation; it is
	// what Capture, Cancel and Refund refer to.
	AcquirerReference string
	// Message is a human-readable English explanation.
	Message string
}

// Connector is what every acquirer implements.
type Connector interface {
	// Authorize reserves r.Amount on the card (and captures it when
	// r.Capture is set).
	Authorize(ctx context.Context, r AuthorizeRequest) (Result, error)
	// Capture takes amount (at most what is left of the authorization
	// authRef) for settlement.
	Capture(ctx context.Context, operationID, authRef string, amount int64, currency string) (Result, error)
	// Cancel releases an authorization that has not been captured, or
	// withdraws a refund not yet remitted (authRef is then the refund's
	// reference): its amount can be refunded again.
	Cancel(ctx context.Context, operationID, authRef string) (Result, error)
	// Refund gives back amount (at most what is left of the capture
	// captureRef, which may be a sale authorization).
	Refund(ctx context.Context, operationID, captureRef string, amount int64, currency string) (Result, error)
	// Verify checks a card without an amount (zero-amount authorization),
	// e.g. before storing it as a token.
	Verify(ctx context.Context, r AuthorizeRequest) (Result, error)
	// Inquire tells what happened to an operation we sent: found is false
	// when the acquirer never saw it (it may be sent again).
	Inquire(ctx context.Context, operationID string) (Result, bool, error)
}

// ISO 8583-style response codes used by OpenPSP connectors.
const (
	CodeApproved           = "00"
	CodeReferToIssuer      = "01"
	CodeDoNotHonour        = "05"
	CodeInvalidTransaction = "12"
	CodeInvalidAmount      = "13"
	CodeInvalidCardNumber  = "14"
	CodeRecordNotFound     = "25"
	CodeFormatError        = "30"
	CodeLostCard           = "41"
	CodeStolenCard         = "43"
	CodeInsufficientFunds  = "51"
	CodeExpiredCard        = "54"
	CodeNotPermitted       = "57"
	CodeFraudSuspicion     = "59"
	CodeExceedsLimit       = "61"
	CodeIssuerUnavailable  = "91"
	CodeDuplicate          = "94"
	CodeSystemMalfunction  = "96"
	CodeSCARequired        = "1A" // Strong Customer Authentication required (soft decline)
)

var codeMessages = map[string]string{
	CodeApproved:           "approved",
	CodeReferToIssuer:      "refer to card issuer",
	CodeDoNotHonour:        "do not honour",
	CodeInvalidTransaction: "invalid transaction",
	CodeInvalidAmount:      "invalid amount",
	CodeInvalidCardNumber:  "invalid card number",
	CodeRecordNotFound:     "original operation not found",
	CodeFormatError:        "format error",
	CodeLostCard:           "lost card",
	CodeStolenCard:         "stolen card",
	CodeInsufficientFunds:  "insufficient funds",
	CodeExpiredCard:        "expired card",
	CodeNotPermitted:       "transaction not permitted to cardholder",
	CodeFraudSuspicion:     "suspected fraud",
	CodeExceedsLimit:       "exceeds amount limit",
	CodeIssuerUnavailable:  "issuer unavailable",
	CodeDuplicate:          "duplicate operation",
	CodeSystemMalfunction:  "system malfunction",
	CodeSCARequired:        "strong customer authentication required",
}

// CodeMessage returns the English meaning of a response code, or "refused
// (code XX)" for a code it does not know.
func CodeMessage(code string) string {
	if m, ok := codeMessages[code]; ok {
		return m
	}
	return "refused (code " + code + ")"
}
