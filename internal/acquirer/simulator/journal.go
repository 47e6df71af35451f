package simulator

import (
	"context"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/card"
)

// Journal is the simulator's durable memory, shared by every openpsp copy on
// the same database (the store implements it). With a journal the simulator
// behaves like one remote acquirer: what it decided survives a crash of the
// process that asked, and any copy can capture, refund, inquire or complete
// what another copy started.
//
// Error contract: an error that wraps context.Canceled or
// context.DeadlineExceeded means nothing was written; any other error leaves
// the outcome unknown.
type Journal interface {
	// RecordOperation decides and records operation opID in one write
	// transaction. It reads and locks the operation whose acquirer reference
	// is originalRef (none when originalRef is "" or unknown: decide gets
	// nil) and, when that one names an original of its own (a refund's
	// capture: Entry.Original), that one too, as original.OriginalOp. It
	// calls decide, which returns the new entry and may change the
	// Captured, Refunded and Cancelled of both, then inserts the entry and
	// saves what changed. When opID is already recorded (by anyone,
	// including a concurrent transaction of another copy), nothing is changed
	// and the recorded entry is returned. decide must only compute: it runs
	// inside the transaction and may run more than once.
	RecordOperation(ctx context.Context, opID, originalRef string, decide func(original *Entry) Entry) (Entry, error)
	// LookupOperation returns the entry recorded for opID.
	LookupOperation(ctx context.Context, opID string) (Entry, bool, error)
	// CountAuthorizations counts the approved authorizations recorded (a
	// test measure: it may scan).
	CountAuthorizations(ctx context.Context) (int, error)

	// StartSession records a new 3-D Secure transaction.
	StartSession(ctx context.Context, s Session) error
	// CompleteSession locks the 3-D Secure transaction dsTransID and, when
	// it is not completed yet, stores complete's result. It returns the
	// transaction as stored afterwards; found is false when it is unknown.
	// complete must only compute, and may run more than once.
	CompleteSession(ctx context.Context, dsTransID string, complete func(Session) Session) (s Session, found bool, err error)
}

// Kind is the kind of an acquirer operation.
type Kind int

// Kinds of operations, as stored in a journal.
const (
	KindAuthorization Kind = iota + 1
	KindVerification
	KindCapture
	KindCancellation
	KindRefund
)

func (k Kind) String() string {
	if k < KindAuthorization || k > KindRefund {
		return "operation"
	}
	return [...]string{"", "authorization", "verification", "capture", "cancellation", "refund"}[k]
}

// Entry is what the acquirer remembers of one operation id: a journal row.
// It holds no card data.
type Entry struct {
	OperationID string
	Kind        Kind
	// Result is the answer given, replayed to any repeat of the operation;
	// Result.AcquirerReference is what later operations refer to.
	Result acquirer.Result
	// Amount and Currency of an approved authorization, capture, refund
	// (or, for a cancellation, of the authorization released).
	Amount   int64
	Currency string
	// Sale marks an authorization captured in one step, refundable on its
	// own reference.
	Sale bool
	// Captured is what has been captured of an authorization (all of it for
	// a sale); Refunded what has been refunded of a capture or sale;
	// Cancelled marks a released authorization.
	Captured  int64
	Refunded  int64
	Cancelled bool
	// At is when the operation was decided (simulator clock).
	At time.Time
	// Original is the acquirer reference of the operation a refund
	// refunded (its capture or sale), so that cancelling the refund gives
	// its amount back there; "" for other kinds.
	Original string
	// OriginalOp is the operation Original names, read and locked with
	// this one while it is the original of an operation being recorded
	// (RecordOperation); nil otherwise. Not stored.
	OriginalOp *Entry
}

// Session is a 3-D Secure transaction waiting for, or done with, its
// challenge.
type Session struct {
	DSTransID string
	Brand     card.Brand
	// Completed is false while a challenge is awaited.
	Completed bool
	Result    acquirer.ThreeDSResult
	// At is when the transaction started (simulator clock).
	At time.Time
}
