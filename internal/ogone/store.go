package ogone

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ErrNotFound is returned by Store lookups that find nothing.
var ErrNotFound = errors.New("ogone: not found")

// ErrConflict is returned when a row that must be unique exists already.
var ErrConflict = errors.New("ogone: conflict")

// Session states.
const (
	SessionOpen = "OPEN"
	SessionDone = "DONE"
)

// Session is one FlexCheckout page: the validated request, kept between the
// page and the buyer's submit so that copies of OpenPSP share nothing in
// memory. Its id is unguessable and is the only thing the page carries.
type Session struct {
	ID        string
	ShopID    string
	Mode      string
	Request   FlexRequest
	State     string
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AliasOrder records that an ALIAS.ORDERID created or updated an alias, for
// the duplicate ORDERID check (document 004 §3.1.1).
type AliasOrder struct {
	ShopID    string
	Mode      string
	OrderID   string
	AliasID   string
	SessionID string
	CreatedAt time.Time
}

// ErrorLogEntry is one line of the error log an operator reads (the
// "Error logs" of document 004 §3.1.1).
type ErrorLogEntry struct {
	ID        string
	ShopID    string
	Source    string // flexcheckout | directlink
	Code      string
	Message   string
	Details   map[string]string
	CreatedAt time.Time
}

// Order is a DirectLink order: the PAYID a merchant knows, bound to the
// payment and transaction the payment service keeps.
type Order struct {
	PAYID           int64
	ShopID          string
	Mode            string
	OrderID         string
	PaymentID       string
	TransactionUUID string
	Operation       string // RES, SAL or PAU as requested
	Status          int    // last Ogone STATUS answered
	Alias           string // the ALIAS the order named; answers say it once the payment's token is it
	ECI             string
	PM              string
	Brand           string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// OrderOp is one maintenance operation on an order (its PAYIDSUB).
type OrderOp struct {
	PAYID     int64
	PAYIDSUB  int
	Operation string // SAL, SAS, RFD, RFS, DEL, DES, REN
	Amount    int64
	Status    int
	NCError   string
	// TransactionUUID is the transactions the operation made, separated
	// by spaces: a SAL's part (a capture of part of the order that
	// leaves the rest open), the refunds of an RFD or RFS (CREDIT; one
	// per capture of an order captured in parts); "" for none.
	TransactionUUID string
	CreatedAt       time.Time
}

// Store is what this package needs from the database; *store.DB implements
// it (internal/store/ogone.go). Methods taking a *sql.Tx run in the caller's
// transaction.
type Store interface {
	TemplateStore

	// WriteTx runs fn in a write transaction (the group-commit path).
	WriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error

	InsertSession(ctx context.Context, s Session) error
	// Session returns ErrNotFound for an unknown id.
	Session(ctx context.Context, id string) (Session, error)
	// CountAttempt adds one failed attempt to an OPEN session and returns
	// the new count; ErrNotFound if the session is not OPEN.
	CountAttempt(ctx context.Context, id string) (int, error)
	// FinishSession moves an OPEN session to DONE; false if it was not OPEN.
	FinishSession(tx *sql.Tx, id string, now time.Time) (bool, error)
	// DeleteSessions deletes up to limit sessions that expired before t.
	DeleteSessions(ctx context.Context, before time.Time, limit int) (int, error)

	// AliasOrder returns ErrNotFound when the ORDERID created no alias.
	AliasOrder(tx *sql.Tx, shopID, mode, orderID string) (AliasOrder, error)
	// InsertAliasOrder records an ORDERID; an existing one is left as is.
	InsertAliasOrder(tx *sql.Tx, o AliasOrder) error

	InsertErrorLog(ctx context.Context, e ErrorLogEntry) error
	// ErrorLog lists a shop's entries (all shops for ""), newest first.
	ErrorLog(ctx context.Context, shopID string, limit int) ([]ErrorLogEntry, error)
	// DeleteErrorLog deletes up to limit entries of source older than t.
	DeleteErrorLog(ctx context.Context, source string, before time.Time, limit int) (int, error)

	// InsertOrder stores a new order; ErrConflict when the PAYID is taken.
	InsertOrder(ctx context.Context, o Order) error
	UpdateOrder(ctx context.Context, o Order) error
	// SetOrderTransactionTx binds, inside tx, an order to its payment and
	// DEBIT transaction; ErrNotFound if there is no such order.
	SetOrderTransactionTx(tx *sql.Tx, payid int64, paymentID, transactionUUID string) error
	// DeleteOrder deletes an order that has no transaction; ErrNotFound if
	// there is no such order.
	DeleteOrder(ctx context.Context, shopID string, payid int64) error
	// Order finds an order by PAYID; ErrNotFound if the shop has none.
	Order(ctx context.Context, shopID string, payid int64) (Order, error)
	// OrdersByOrderID lists a shop's orders with that ORDERID, newest first.
	OrdersByOrderID(ctx context.Context, shopID, mode, orderID string) ([]Order, error)
	// InsertOrderOp stores a maintenance operation with the next PAYIDSUB
	// and returns it.
	InsertOrderOp(ctx context.Context, op OrderOp) (OrderOp, error)
	// InsertOrderOpTx is InsertOrderOp inside tx: the write that performs
	// the operation, so that the operation and its record are made
	// together.
	InsertOrderOpTx(tx *sql.Tx, op OrderOp) (OrderOp, error)
	// UpdateOrderOp sets the amount, status, NCERROR and transactions of
	// the operation (PAYID, PAYIDSUB) to what it was answered; ErrNotFound
	// if none.
	UpdateOrderOp(ctx context.Context, op OrderOp) error
	// OrderOps lists an order's operations by PAYIDSUB.
	OrderOps(ctx context.Context, payid int64) ([]OrderOp, error)
}
