package payment

import "fmt"

// Operation types of a transaction (PayZen operationType).
const (
	Debit        = "DEBIT"        // a payment
	Credit       = "CREDIT"       // a refund, child of a captured DEBIT
	Verification = "VERIFICATION" // a zero-amount card check (token creation)
)

// Transaction statuses (PayZen status): what a merchant's integration acts on.
const (
	StatusPaid      = "PAID"
	StatusUnpaid    = "UNPAID"
	StatusRunning   = "RUNNING"
	StatusAbandoned = "ABANDONED" // order level only: the buyer left without paying
)

// Detailed statuses (PayZen detailedStatus) OpenPSP uses.
const (
	// Initial is a transaction waiting for the acquirer's answer: status
	// RUNNING. PayZen reports such a transaction as INITIAL.
	Initial              = "INITIAL"
	Authorised           = "AUTHORISED"
	AuthorisedToValidate = "AUTHORISED_TO_VALIDATE"
	Captured             = "CAPTURED"
	CaptureFailed        = "CAPTURE_FAILED"
	Cancelled            = "CANCELLED"
	Expired              = "EXPIRED"
	Refused              = "REFUSED"
	Accepted             = "ACCEPTED"
	// WaitingAuthorisation is a debit whose capture date is beyond the
	// authorization's validity: its card was verified at payment time and
	// the authorization is sent the day before the capture date
	// (AuthorizeDue). WaitingAuthorisationToValidate is the same in manual
	// validation mode, before the merchant validated it: nothing is sent
	// until then. Both are status RUNNING (Lyra's status_reference).
	WaitingAuthorisation           = "WAITING_AUTHORISATION"
	WaitingAuthorisationToValidate = "WAITING_AUTHORISATION_TO_VALIDATE"
	// Error is a technical failure: the acquirer could not be reached or
	// the request was malformed; nothing was authorized. Status UNPAID.
	Error = "ERROR"
)

// StatusOf maps a detailed status to its status, as PayZen groups them
// (compat.md §1.6).
func StatusOf(detailed string) string {
	switch detailed {
	case Authorised, Captured, Accepted, "PARTIALLY_AUTHORISED":
		return StatusPaid
	case Initial, AuthorisedToValidate, WaitingAuthorisation, WaitingAuthorisationToValidate,
		"CAPTURE_PENDING", "UNDER_VERIFICATION", "PRE_AUTHORISED", "PENDING":
		return StatusRunning
	}
	return StatusUnpaid
}

// transitions is the state machine, by operation type: from → allowed next
// detailed statuses. A CAPTURED debit has no transition: refunds are CREDIT
// transactions of their own, pointing at it with parentTransactionUuid.
var transitions = map[string]map[string][]string{
	Debit: {
		Initial: {Authorised, AuthorisedToValidate, WaitingAuthorisation, WaitingAuthorisationToValidate,
			Refused, Error},
		Authorised:                     {Captured, CaptureFailed, Cancelled},
		AuthorisedToValidate:           {Authorised, Cancelled, Expired},
		WaitingAuthorisation:           {Authorised, Refused, Cancelled, Error},
		WaitingAuthorisationToValidate: {WaitingAuthorisation, Cancelled, Expired},
	},
	Verification: {
		Initial: {Accepted, Refused, Error},
	},
	// A refund the acquirer accepted is AUTHORISED (status PAID), as Lyra
	// answers Transaction/CancelOrRefund, and CAPTURED once the capture
	// job has remitted it (CaptureDue), as Lyra's capture batch does.
	// Until then the merchant may cancel it (CancelOrRefund on the
	// refund): CANCELLED, as a refund not yet remitted is in Lyra's Back
	// Office.
	Credit: {
		Initial:    {Authorised, Refused, Error},
		Authorised: {Captured, Cancelled},
	},
}

// DetailedStatuses lists every detailed status the state machine knows.
func DetailedStatuses() []string {
	return []string{Initial, Authorised, AuthorisedToValidate, WaitingAuthorisation, WaitingAuthorisationToValidate,
		Captured, CaptureFailed, Cancelled, Expired, Refused, Accepted, Error}
}

// OperationTypes lists the operation types.
func OperationTypes() []string { return []string{Debit, Credit, Verification} }

// CanTransition reports whether a transaction of operation type op may move
// from one detailed status to another.
func CanTransition(op, from, to string) bool {
	for _, next := range transitions[op][from] {
		if next == to {
			return true
		}
	}
	return false
}

// ErrIllegalTransition is returned by Transition for a move the state
// machine refuses.
type ErrIllegalTransition struct{ Op, From, To string }

func (e *ErrIllegalTransition) Error() string {
	return fmt.Sprintf("payment: illegal transition of a %s transaction from %s to %s", e.Op, e.From, e.To)
}

// transition moves t to the detailed status to, keeping status in step, or
// refuses an illegal move.
func (t *Transaction) transition(to string) error {
	if !CanTransition(t.OperationType, t.DetailedStatus, to) {
		return &ErrIllegalTransition{Op: t.OperationType, From: t.DetailedStatus, To: to}
	}
	t.DetailedStatus = to
	t.Status = StatusOf(to)
	return nil
}
