// Package payment is the card payments core: payments (the PayZen order of
// one formToken or one server-to-server call) and their transactions
// (DEBIT, CREDIT, VERIFICATION), the state machine that moves them, the
// acquirer calls that drive it, the background jobs that capture, expire and
// recover, and the PayZen V4 JSON they are shown as.
//
// Two rules hold everywhere. An acquirer call never happens inside a
// database transaction: the transaction is first committed RUNNING (or
// marked with a pending operation), then the acquirer is called with an
// operation id derived from the transaction, then the outcome is committed
// with its notification. And every committed state change writes its IPN
// to the outbox in the same database transaction.
package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/obs"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
)

// Config tunes the service. Zero values mean the defaults.
type Config struct {
	// AcquirerTimeout bounds one acquirer call (default 30 s). A call
	// without an answer by then leaves its transaction RUNNING for
	// RecoverRunning.
	AcquirerTimeout time.Duration
	// FormTokenTTL is how long a formToken accepts payments (default 15 min,
	// as PayZen).
	FormTokenTTL time.Duration
	// Logger receives technical errors (default slog.Default()).
	Logger *slog.Logger
}

// Service runs payments. Safe for concurrent use; any number of openpsp
// copies may run it against one PostgreSQL database.
type Service struct {
	db    *store.DB
	clock clock.Clock
	acq   acquirer.Connector
	vault Vault
	cfg   Config
	log   *slog.Logger
	// local is the dispatcher of this process, which takes the messages of
	// a settlement as it commits them (nil: they wait for a claim).
	local Dispatcher
	// captureErrs keeps an acquirer outage from logging a line per
	// failed capture while it lasts.
	captureErrs obs.LogLimiter
	// inquiryErrs does the same for recovery's inquiries.
	inquiryErrs obs.LogLimiter
	// authorizationErrs does the same for deferred authorizations.
	authorizationErrs obs.LogLimiter
	// keptCardHook takes the kept card of an accepted payment
	// (CardInput.KeepCard, SetKeptCardHook); nil: none.
	keptCardHook KeptCardHook
	// instalments tells recovery what a late refusal of an instalment's
	// payment leads to (nil: no subscriptions).
	instalments InstalmentLookup
	// debitHook follows the debits of subscription instalments (nil: no
	// subscriptions).
	debitHook DebitHook
	// statusHook is told of every change of a transaction's status,
	// pending operation or amount, in the write that makes it (nil: none).
	statusHook StatusHook
}

// StatusHook is told, inside the write that records it, that transaction
// after of payment p was before in another status, pending operation or
// amount; what it writes in tx commits with the change (the Ogone
// post-sale request is queued so). An error undoes the whole write.
type StatusHook func(ctx context.Context, tx *sql.Tx, p Payment, before, after Transaction, now time.Time) error

// SetStatusHook registers the StatusHook. Call it before the service is
// used.
func (s *Service) SetStatusHook(f StatusHook) { s.statusHook = f }

// followStatus calls the StatusHook when t moved from before.
func (s *Service) followStatus(ctx context.Context, tx *sql.Tx, p *Payment, before Transaction, t *Transaction, now time.Time) error {
	if s.statusHook == nil || before.DetailedStatus == t.DetailedStatus && before.PendingOp == t.PendingOp && before.Amount == t.Amount {
		return nil
	}
	return s.statusHook(ctx, tx, *p, before, *t, now)
}

// Dispatcher is the outbox dispatcher of this process (outbox.Dispatcher).
type Dispatcher interface {
	Reserve(n int) *outbox.Reservation
}

// HandMessagesTo makes the service insert the notifications of its common
// settlements already claimed by d and hand them to d once committed,
// instead of leaving them for d's claim query (see outbox.Reservation).
// Call it before the service is used.
func (s *Service) HandMessagesTo(d Dispatcher) { s.local = d }

// InstalmentLookup finds, for a payment whose outcome recovery learns late
// (RecoverRunning), what a refusal means for the subscription instalment it
// was an attempt at: what CreateInput.Instalment says for a payment decided
// on time. ok is false for a payment that pays no instalment.
type InstalmentLookup func(ctx context.Context, paymentID string) (next func(Transaction) notify.Instalment, ok bool)

// SetInstalmentLookup makes recovery notify a late refusal of an
// instalment as an on-time one is (the subscription service registers
// itself). Call it before the service is used.
func (s *Service) SetInstalmentLookup(f InstalmentLookup) { s.instalments = f }

// DebitHook is told, inside the write that records it, that the debit t
// of a subscription instalment's payment p moved on after its
// authorization's decision (authorized at D-1, validated, cancelled,
// expired, captured, refused at capture): the instalment follows its debit
// in the same commit. An error undoes the whole write.
type DebitHook func(ctx context.Context, tx *sql.Tx, p Payment, t Transaction, now time.Time) error

// SetDebitHook registers the subscription service's DebitHook. Call it
// before the service is used.
func (s *Service) SetDebitHook(f DebitHook) { s.debitHook = f }

// followDebit calls the DebitHook when t, a transaction of p that was in
// status from with amount fromAmount, is a subscription's debit that
// changed status or amount (lowered before its capture: what the
// instalment collects). The first decision (from INITIAL) is left out
// when it answers PayToken, whose caller, the subscription service,
// records it; one learnt late by recovery (lateDecision) is followed in
// its write, so that the instalment's retry date is the one the refusal's
// notice gives.
func (s *Service) followDebit(ctx context.Context, tx *sql.Tx, p *Payment, from string, fromAmount int64, t *Transaction, now time.Time) error {
	if s.debitHook == nil || p.Options.SubscriptionID == "" || t.OperationType != Debit ||
		from == Initial && ctx.Value(lateDecisionKey{}) == nil || from == t.DetailedStatus && fromAmount == t.Amount {
		return nil
	}
	if t.DetailedStatus == CaptureFailed {
		// A refused capture is the refusal of the instalment: the buyer
		// and the merchant are told as of a refused authorization, with
		// what follows for the instalment (instalmentContext). The
		// instalment is read before the hook moves it.
		s.notifyDecision(s.instalmentContext(ctx, *t), tx, p, t, now)
	}
	return s.debitHook(ctx, tx, *p, *t, now)
}

// lateDecisionKey marks the context of a write that records the first
// decision of a transaction learnt by recovery (RecoverRunning).
type lateDecisionKey struct{}

// New returns a payment service. vault may be nil until the card vault is
// wired: payments that save or use a token then fail with INT_999.
func New(db *store.DB, clk clock.Clock, acq acquirer.Connector, vault Vault, cfg Config) *Service {
	if cfg.AcquirerTimeout <= 0 {
		cfg.AcquirerTimeout = 30 * time.Second
	}
	if cfg.FormTokenTTL <= 0 {
		cfg.FormTokenTTL = 15 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Service{db: db, clock: clk, acq: acq, vault: vault, cfg: cfg, log: cfg.Logger}
}

// Error codes of this package beyond errs' (compat.md §1.7 and the
// acquirer-side codes of transactions).
const (
	// CodeFormToken answers a formToken that is unknown or expired.
	CodeFormToken = "PSP_108"
	// CodeRefused is the errorCode of a transaction the issuer or acquirer
	// refused; detailedErrorCode carries the acquirer's response code.
	CodeRefused = "ACQ_001"
	// CodeAcquirerError is the errorCode of a transaction that failed for a
	// technical reason (acquirer unreachable): nothing was authorized.
	CodeAcquirerError = "ACQ_999"
	// CodeWalletNotInOffer answers formAction CUSTOMER_WALLET for a shop
	// whose offer lacks "payment by token" (Lyra INT_916).
	CodeWalletNotInOffer = "INT_916"
	// CodeWalletNoReference answers formAction CUSTOMER_WALLET without
	// customer.reference (Lyra INT_917).
	CodeWalletNoReference = "INT_917"
)

func internal(err error) error {
	return &errs.Error{Code: errs.Internal, Message: "internal error, please retry later", Err: err}
}

func txNotFound(field, value string) error {
	return errs.Invalid(errs.TxNotFound, "transaction not found", field, value)
}

// badStatus refuses what on t; when an operation on t is pending with the
// acquirer the refusal wraps errs.ErrInProgress (the same answer for V4).
func badStatus(t Transaction, what string) error {
	e := &errs.Error{Code: errs.TxBadStatus, Message: "incorrect transaction status",
		Detail: fmt.Sprintf("%s is not possible on a %s in status %s", what, t.OperationType, t.DetailedStatus)}
	if t.PendingOp != "" {
		e.Err = errs.ErrInProgress
	}
	return e
}

// Get returns a shop's transaction by uuid and the payment it belongs to.
func (s *Service) Get(ctx context.Context, shopID, uuid string) (Payment, Transaction, error) {
	r, err := store.GetTransaction(ctx, s.db.Reader(), shopID, uuid)
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, Transaction{}, txNotFound("uuid", uuid)
	}
	if err != nil {
		return Payment{}, Transaction{}, internal(err)
	}
	p, err := s.payment(ctx, s.db.Reader(), shopID, r.PaymentID)
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	t, _ := p.Transaction(uuid)
	return p, t, nil
}

// GetPayment returns a shop's payment by id, with its transactions.
func (s *Service) GetPayment(ctx context.Context, shopID, id string) (Payment, error) {
	return s.payment(ctx, s.db.Reader(), shopID, id)
}

// MaxOrderResults is the most transactions Order/Get lists: Lyra answers
// PSP_015 "too many results" beyond 30 (Order/Get web service reference).
const MaxOrderResults = 30

// OrderGet returns the payments of a shop's order (in the mode of the key
// set used) that have transactions, oldest first, each with its
// transactions. An order without any transaction is PSP_010, as PayZen
// answers it; an order with more than MaxOrderResults transactions of
// operationType ("" for any) is PSP_015, found without reading the rest.
func (s *Service) OrderGet(ctx context.Context, shopID, mode, orderID, operationType string) ([]Payment, error) {
	recs, err := store.PaymentsByOrder(ctx, s.db.Reader(), shopID, mode, orderID)
	if err != nil {
		return nil, internal(err)
	}
	var out []Payment
	results := 0
	for _, r := range recs {
		p, err := s.withTransactions(ctx, s.db.Reader(), paymentFromRecord(r))
		if err != nil {
			return nil, err
		}
		for _, t := range p.Transactions {
			if operationType == "" || t.OperationType == operationType {
				results++
			}
		}
		if results > MaxOrderResults {
			return nil, &errs.Error{Code: errs.TooMany, Message: "too many results", Field: "orderId",
				Detail: fmt.Sprintf("order %s has more than %d transactions; Order/Get lists at most %d", orderID, MaxOrderResults, MaxOrderResults)}
		}
		if len(p.Transactions) > 0 {
			p.deriveOrder(s.clock.Now())
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, txNotFound("orderId", orderID)
	}
	return out, nil
}

// PaymentForToken returns the payment a formToken was issued for, for the
// hosted form: amount, currency, shop, attempts left (AttemptsLeft), expiry
// (FormExpired), whether the form is over (Completed). An unknown token is
// CodeFormToken; an expired one is returned, for the form to say so.
func (s *Service) PaymentForToken(ctx context.Context, formToken string) (Payment, error) {
	r, err := store.PaymentByFormToken(ctx, s.db.Reader(), formToken)
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, errs.New(CodeFormToken, "invalid or expired formToken")
	}
	if err != nil {
		return Payment{}, internal(err)
	}
	p, err := s.withTransactions(ctx, s.db.Reader(), paymentFromRecord(r))
	if err != nil {
		return Payment{}, err
	}
	p.deriveOrder(s.clock.Now())
	return p, nil
}

// payment reads a payment for an answer: its order status is derived
// again at the current time (a form that expired unused is ABANDONED).
func (s *Service) payment(ctx context.Context, q store.Querier, shopID, id string) (Payment, error) {
	r, err := store.GetPayment(ctx, q, shopID, id)
	if err != nil {
		return Payment{}, internal(err)
	}
	recs, err := store.TransactionsOfPayment(ctx, q, r.ID)
	if err != nil {
		return Payment{}, internal(err)
	}
	return s.assemble(r, recs), nil
}

// assemble is the payment of record r with its transactions recs, its
// order status derived at the current time.
func (s *Service) assemble(r store.PaymentRecord, recs []store.TransactionRecord) Payment {
	p := paymentFromRecord(r)
	p.Transactions = transactionsFromRecords(recs)
	p.deriveOrder(s.clock.Now())
	return p
}

func (s *Service) withTransactions(ctx context.Context, q store.Querier, p Payment) (Payment, error) {
	recs, err := store.TransactionsOfPayment(ctx, q, p.ID)
	if err != nil {
		return Payment{}, internal(err)
	}
	p.Transactions = transactionsFromRecords(recs)
	return p, nil
}

func transactionsFromRecords(recs []store.TransactionRecord) []Transaction {
	out := make([]Transaction, len(recs))
	for i, r := range recs {
		out[i] = transactionFromRecord(r)
	}
	return out
}

// errNoChange, returned by a mutation, means there is nothing to write (the
// state already moved on, e.g. recovery settled it first).
var errNoChange = errors.New("payment: no change")

// mutation changes t (a transaction of p) inside a write transaction. It
// may insert other transactions itself (appending them to p.Transactions).
// It returns the IPN event to send, "" for none.
type mutation func(tx *sql.Tx, p *Payment, t *Transaction) (event string, err error)

// apply runs fn on a shop's transaction (shopID "" for jobs) in one write
// transaction: it locks the payment then the transaction, runs fn, saves the
// transaction and the derived order status, and writes the IPN.
func (s *Service) apply(ctx context.Context, shopID, uuid string, fn mutation) (Payment, Transaction, error) {
	var p Payment
	var t Transaction
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		p, t, _, err = s.applyTx(ctx, tx, shopID, uuid, false, fn)
		return err
	})
	if err != nil {
		var ie *ErrIllegalTransition
		if _, ok := errs.As(err); !ok && !errors.As(err, &ie) {
			if errors.Is(err, store.ErrNotFound) {
				return Payment{}, Transaction{}, txNotFound("uuid", uuid)
			}
			return Payment{}, Transaction{}, internal(err)
		}
		if ie != nil {
			return Payment{}, Transaction{}, &errs.Error{Code: errs.TxBadStatus, Message: "incorrect transaction status", Detail: ie.Error()}
		}
		return Payment{}, Transaction{}, err
	}
	return p, t, nil
}

// applyTx is apply inside the caller's transaction. With skipLocked, a
// payment another copy holds is skipped (skipped true).
func (s *Service) applyTx(ctx context.Context, tx *sql.Tx, shopID, uuid string, skipLocked bool, fn mutation) (p Payment, t Transaction, skipped bool, err error) {
	d := s.db.Dialect()
	pid, err := store.PaymentIDOf(tx, shopID, uuid)
	if err != nil {
		return p, t, false, err
	}
	var prec store.PaymentRecord
	if skipLocked {
		var ok bool
		if prec, ok, err = store.TryLockPayment(tx, d, pid); err != nil || !ok {
			return p, t, !ok, err
		}
	} else if prec, err = store.LockPayment(tx, d, pid); err != nil {
		return p, t, false, err
	}
	trec, err := store.LockTransaction(tx, d, shopID, uuid)
	if err != nil {
		return p, t, false, err
	}
	p = paymentFromRecord(prec)
	if p, err = s.withTransactions(ctx, tx, p); err != nil {
		return p, t, false, err
	}
	t = transactionFromRecord(trec)
	before := t
	from, fromAmount := t.DetailedStatus, t.Amount
	event, err := fn(tx, &p, &t)
	if errors.Is(err, errNoChange) {
		return p, t, false, nil
	}
	if err != nil {
		return p, t, false, err
	}
	now := s.clock.Now()
	t.UpdatedAt = now
	erase := t.releaseDeferredCard()
	rec := t.record()
	if err := s.eraseDeferredCard(tx, &t, erase); err != nil {
		return p, t, false, err
	}
	if err := store.UpdateTransaction(tx, &rec); err != nil {
		return p, t, false, err
	}
	t.version = rec.Version
	replace(&p, t)
	if err := s.savePayment(tx, &p, event, now); err != nil {
		return p, t, false, err
	}
	if err := s.followStatus(ctx, tx, &p, before, &t, now); err != nil {
		return p, t, false, err
	}
	return p, t, false, s.followDebit(ctx, tx, &p, from, fromAmount, &t, now)
}

// replace puts t in place of the payment's transaction with the same uuid.
func replace(p *Payment, t Transaction) {
	for i := range p.Transactions {
		if p.Transactions[i].UUID == t.UUID {
			p.Transactions[i] = t
			return
		}
	}
	p.Transactions = append(p.Transactions, t)
}

// savePayment derives and stores the order status and writes the IPN of
// event ("" for none) with the payment as it now is.
func (s *Service) savePayment(tx *sql.Tx, p *Payment, event string, now time.Time) error {
	p.deriveOrder(now)
	p.UpdatedAt = now
	rec := p.stateRecord()
	if err := store.UpdatePaymentState(tx, &rec); err != nil {
		return err
	}
	p.version = rec.Version
	if event == "" || p.Options.IPNTarget == "" {
		return nil
	}
	payload, err := answerString(*p, now)
	if err != nil {
		return err
	}
	_, err = store.InsertOutbox(tx, s.ipnMessage(p, event, payload), now)
	return err
}

// ipnMessage is the IPN of event with the payment's kr-answer payload.
func (s *Service) ipnMessage(p *Payment, event string, payload string) outbox.Message {
	return outbox.Message{ShopID: p.ShopID, Channel: outbox.ChannelIPN, Event: event, OrderingKey: p.ID,
		Target: p.Options.IPNTarget, Payload: payload}
}

// acquirerContext bounds an acquirer call. It does not inherit the
// caller's cancellation: once sent, an operation's outcome must be written
// even if the buyer's browser went away.
func (s *Service) acquirerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.cfg.AcquirerTimeout)
}

// writeContext is the context of the write that records an acquirer
// outcome: it must not be cancelled with the request.
func writeContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// errNeverSent is the outcome of an operation the acquirer says it never
// received: not performed, like acquirer.ErrUnavailable.
var errNeverSent = fmt.Errorf("payment: operation unknown to the acquirer: %w", acquirer.ErrUnavailable)

// Now is the service's clock, for the serverDate of answers.
func (s *Service) Now() time.Time { return s.clock.Now() }
