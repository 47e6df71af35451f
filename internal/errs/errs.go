// Package errs is the application error type: a code from the PayZen V4
// catalogue (INT_…, PSP_…, ACQ_…) that each API surface maps to its own
// format (V4 error answer, Ogone NCERROR, HTML message, HTTP status).
package errs

import (
	"errors"
	"fmt"
)

// Error is an error with a code a merchant's integration can act on.
type Error struct {
	Code         string // e.g. "INT_902", "PSP_010"
	Message      string // errorMessage
	DetailedCode string // detailedErrorCode (optional)
	Detail       string // detailedErrorMessage (optional)
	Field        string // the input field at fault, dotted path (e.g. "customer.email")
	Err          error  // cause, for logs; never shown to callers
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Field != "" {
		s += " [" + e.Field + "]"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrRetryLater marks, in Error.Err, an INT_999 that is an expected state
// rather than a fault: an operation under way or whose outcome is being
// checked with the acquirer, which the caller retries. The API surfaces log
// it as a warning; other internal errors are logged as errors.
var ErrRetryLater = errors.New("expected state, retry later")

// ErrInProgress marks, in Error.Err, a refusal (PSP_011) of an operation on
// a transaction while another operation on it is pending with the acquirer:
// the transaction may take it once that one settles. A surface whose
// protocol has a "try again" answer (DirectLink's 40001011) gives that.
var ErrInProgress = errors.New("another operation on the transaction is in progress")

// New returns an error with a code and message.
func New(code, message string) *Error { return &Error{Code: code, Message: message} }

// Newf returns an error with a formatted message.
func Newf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports a bad input field in the PayZen way: the code's message and
// a detail naming the field and value ("Invalid input value [name=…, value=…]").
func Invalid(code, message, field string, value any) *Error {
	return &Error{
		Code:    code,
		Message: message,
		Field:   field,
		Detail:  fmt.Sprintf("Invalid input value [name=%s, value=%v]", field, value),
	}
}

// Wrap attaches a cause to e (kept for logs only) and returns e.
func (e *Error) Wrap(err error) *Error { c := *e; c.Err = err; return &c }

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Codes used across the code base. PSP codes follow compat.md §1.7.
const (
	InputInvalid   = "INT_902" // web-service input data validation error
	BadCredentials = "INT_905" // invalid login or private key
	Internal       = "INT_999"
	Unauthorized   = "PSP_001"
	InvalidAttr    = "PSP_002"
	PaymentRefused = "PSP_003"
	TxNotFound     = "PSP_010"
	TxBadStatus    = "PSP_011"
	TxExists       = "PSP_012"
	NoChange       = "PSP_014"
	TooMany        = "PSP_015" // too many results (Order/Get beyond 30 transactions)
	DupForbidden   = "PSP_016"
	BadAmount      = "PSP_020"
	BadCurrency    = "PSP_021"
	UnknownCard    = "PSP_022"
	BadExpiry      = "PSP_023"
	CVVRequired    = "PSP_024"
	BadCardNumber  = "PSP_026"
	TokenNotFound  = "PSP_030"
	TokenInvalid   = "PSP_031"
	SubNotFound    = "PSP_032"
	SubInvalid     = "PSP_033"
	TokenExists    = "PSP_034"
	TokenDenied    = "PSP_035"
	TokenPurged    = "PSP_036"
	AmountNotAuth  = "PSP_040"
	Insufficient   = "PSP_042"
	CancelToRefund = "PSP_075"
	RefundToCancel = "PSP_076"
)

// The details of TokenInvalid (PSP_031), which say why a token cannot pay.
// They are part of the V4 answer and of a failed instalment's record, and
// the instalment-failed notice tells each cause in the merchant's language
// by matching them (notify.instalmentErrorKey): one definition for both.
const (
	DetailTokenCancelled = "the token is cancelled"
	DetailCardExpired    = "the card of this token has expired"
	DetailNotCard        = "the token holds a bank account (SEPA direct debit), not a card"
)
