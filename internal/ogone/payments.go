package ogone

import (
	"context"
	"database/sql"

	"github.com/openpsp/openpsp/internal/card"
)

// Payments is what DirectLink needs from the payment service, so that a
// DirectLink order is the very payment V4 Transaction/Get shows. The
// adapter in internal/ogone/ogonepay implements it over *payment.Service.
// Business refusals of an operation (wrong status, amount too high) come
// back as *errs.Error with the PayZen codes; a refused authorization is not
// an error but a transaction in status REFUSED.
type Payments interface {
	// Pay creates a payment of the shop and authorizes it with an alias
	// (a vault token) or a card; Capture asks for the capture at once (an
	// Ogone SAL). It returns the DEBIT transaction.
	Pay(ctx context.Context, req PayRequest) (PaymentTx, error)
	// Capture captures amount (0: all) of an authorized debit; what is not
	// captured is released, unless keepRest (a SAL): an amount below the
	// debit's is then captured as a part of it, a debit of its own which
	// Capture returns, the debit lowered by it and open for the rest.
	// onClaim runs in the write that claims it, with the transaction
	// claimed (the part, or the debit).
	Capture(ctx context.Context, shopID, uuid string, amount int64, keepRest bool, onClaim ClaimFunc) (PaymentTx, error)
	// Cancel cancels an authorization that is not captured: all of it
	// (amount 0, or the debit's whole amount), or, for an amount below
	// the debit's, that part only, the debit being lowered by it in one
	// write (the rest stays to capture). atLeast > 0, with amount 0,
	// cancels all of it but is refused (invalid amount) when less than
	// atLeast is left, checked in the write that claims the
	// cancellation (a DES with an AMOUNT). A cancellation the acquirer
	// refused, or whose answer it did not give in time, is no error: the
	// debit comes back as it is, CancelRefused set or its cancellation
	// pending. onClaim runs in the write that claims the cancellation,
	// or lowers or cancels the debit, with the debit.
	Cancel(ctx context.Context, shopID, uuid string, amount, atLeast int64, onClaim ClaimFunc) (PaymentTx, error)
	// Refund refunds amount (0: all that is left) of a captured debit, or
	// of what it and its parts captured, and returns the refund's CREDIT
	// transactions: one per captured debit it takes from. onClaim runs in
	// the write that inserts them, with them.
	Refund(ctx context.Context, shopID, uuid string, amount int64, onClaim ClaimFunc) ([]PaymentTx, error)
	// Get returns a transaction as it is now.
	Get(ctx context.Context, shopID, uuid string) (PaymentTx, error)
	// OnKeptCardAccepted sets what becomes of the card a payment kept
	// (PayRequest.KeepCard) once it is accepted, by the call that paid or
	// by recovery: fn runs inside the write that records the acceptance,
	// its error undoing its own writes only (the payment stands), and the
	// token it returns becomes the payment's token. New calls it once.
	OnKeptCardAccepted(fn func(ctx context.Context, tx *sql.Tx, c KeptCard) (token string, err error))
}

// ClaimFunc, given to a maintenance operation (Capture, Cancel, Refund),
// runs inside the write that makes it, with the transactions it made or
// claimed, before the acquirer is called; its error undoes the operation.
// nil: none. DirectLink writes the operation's record (its PAYIDSUB) so,
// that a process stopped, or a write failing, after the operation leaves
// it with its record, never an operation no PAYIDSUB names, which the
// merchant, answered nothing, would send again and have made twice.
type ClaimFunc func(tx *sql.Tx, made []PaymentTx) error

// KeptCard is the card a payment kept (PayRequest.KeepCard), handed over
// once the payment is accepted.
type KeptCard struct {
	ShopID          string
	Mode            string
	OrderID         string
	TransactionUUID string
	PAN             card.PAN
	Expiry          card.Expiry
	Holder          string
	Temporary       bool // kept with PayRequest.KeepCardTemporary
}

// PayRequest is a DirectLink order (OPERATION RES, PAU or SAL).
type PayRequest struct {
	ShopID   string
	Mode     string // TEST | PRODUCTION
	OrderID  string
	Amount   int64 // minor units
	Currency string
	// Token is the alias to pay with; when empty, PAN, Expiry and CVC are.
	Token   string
	PAN     card.PAN
	Expiry  card.Expiry
	CVC     card.SecurityCode
	Holder  string
	Email   string
	Capture bool
	// ECI is Ogone's electronic commerce indicator as applied (the PSPID's
	// default ECI when none was sent): 2, 3 and 9 are merchant-initiated payments
	// (recurring, instalments), the others customer-initiated.
	ECI string
	// OnStart, if set, runs inside the write transaction that starts the
	// payment, with its id and its DEBIT's UUID, before the acquirer is
	// called; an error stops the payment.
	OnStart func(tx *sql.Tx, paymentID, transactionUUID string) error
	// KeepCard, for a card payment (no Token), seals the card in the
	// vault in the write that starts the payment: once the payment is
	// accepted — in the call or, when its answer was lost, by recovery —
	// the OnKeptCardAccepted function gets it in the write that records
	// the acceptance; any other end erases it. KeepCardTemporary marks it
	// for a temporary alias (KeptCard.Temporary), whose 2 hours start when
	// the alias is stored: the kept card lasts until the payment ends.
	KeepCard          bool
	KeepCardTemporary bool
}

// PaymentTx is a transaction as DirectLink reports it (the fields of the
// payment service's Transaction it needs).
type PaymentTx struct {
	UUID           string
	PaymentID      string
	OperationType  string // DEBIT | CREDIT
	DetailedStatus string // AUTHORISED, AUTHORISED_TO_VALIDATE, CAPTURED, CAPTURE_FAILED, CANCELLED, EXPIRED, REFUSED, ERROR, INITIAL
	Amount         int64
	AuthAmount     int64
	CapturedAmount int64
	RefundedAmount int64
	Currency       string
	AuthNumber     string
	AuthResult     string // the acquirer's response code
	Brand          string // card.Brand spelling
	PANMasked      string
	Token          string
	PendingOp      string // CAPTURE | CANCEL while the acquirer is asked
	// RefundPending is set by Get on a debit with a refund accepted but
	// not captured (remitted) yet, its own or one of its parts': the
	// order is 81, not 8, until then.
	RefundPending bool
	// PartsCaptured and PartsRefunded are set by Get on a debit captured
	// in parts (SAL for less than what was left): what its parts captured
	// and what of it is refunded or being refunded.
	PartsCaptured, PartsRefunded int64
	// ParentUUID is the debit a part was taken from ("" for any other
	// debit): a part's status is its capture's.
	ParentUUID string
	// CancelRefused is set by Cancel when the acquirer refused the
	// cancellation: the debit is as it was, authorised for all of it. A
	// debit lowered by a partial cancellation looks the same otherwise.
	CancelRefused bool
}

// Detailed statuses of PaymentTx (the payment service's names).
const (
	dsInitial       = "INITIAL"
	dsAuthorised    = "AUTHORISED"
	dsToValidate    = "AUTHORISED_TO_VALIDATE"
	dsCaptured      = "CAPTURED"
	dsCaptureFailed = "CAPTURE_FAILED"
	dsCancelled     = "CANCELLED"
	dsExpired       = "EXPIRED"
	dsRefused       = "REFUSED"
	dsError         = "ERROR"
	pendingCapture  = "CAPTURE"
	pendingCancel   = "CANCEL"
	operationCredit = "CREDIT"
)
