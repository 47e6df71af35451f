// Package simulator is OpenPSP's built-in TEST acquirer and 3-D Secure
// server. It behaves like a remote party rather than a stub: it honours the
// caller's deadline, keeps deciding when the caller has gone away (so a
// timed-out operation may well have been approved, which is what recovery
// through Inquire is for), answers the same operation id with the same result,
// and checks capture, cancel and refund amounts. What it answers is chosen by
// the card number, from the table returned by TestCards.
//
// Its memory is the process's own unless Config.Journal is set: then every
// operation is decided and recorded in one database transaction, so that an
// authorization survives a restart of openpsp and every copy on the same
// database talks to one acquirer.
package simulator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/ids"
)

// Config tunes the simulator. The zero value is usable.
type Config struct {
	// SlowDelay is how long the "slow" card takes to answer (default 2 s).
	SlowDelay time.Duration
	// TimeoutHold is how long the "timeout" card holds a request whose
	// context has no deadline before giving up with ErrTimeout, standing in
	// for the connector's own read timeout (default 30 s).
	TimeoutHold time.Duration
	// Clock tells the date, to refuse cards whose expiry date has passed
	// (default: the wall clock).
	Clock clock.Clock
	// Journal, when set, is where operations and 3-D Secure transactions
	// are decided and recorded, so that they survive a restart and every
	// openpsp copy on the same database sees one acquirer. nil keeps them
	// in this process's memory.
	Journal Journal
}

// Fault is a failure injected into one operation by InjectFault.
type Fault int

// Faults that InjectFault can inject.
const (
	// FaultUnavailable makes the operation fail with ErrUnavailable, with
	// nothing recorded.
	FaultUnavailable Fault = iota + 1
	// FaultTimeout holds the operation until the caller's deadline, then
	// performs it and returns ErrTimeout, like the timeout card.
	FaultTimeout
	// FaultRefused makes the acquirer refuse the operation (response code
	// 05, do not honour), recorded as a refusal like any other: no card
	// number makes a capture, cancellation or refund refused on an
	// authorization that allows it.
	FaultRefused
	// FaultLost holds the operation like FaultTimeout, then returns
	// ErrTimeout WITHOUT performing it, as if the request never reached
	// the acquirer: nothing is recorded, Inquire finds nothing and the
	// same operation id may be sent again. It tests recovery of an
	// operation whose outcome the caller could not learn but that in fact
	// did not happen.
	FaultLost
)

// lost is the behaviour FaultLost gives an operation; no test card has it.
const lost Behaviour = -1

// operation is what this process knows of one operation id: in memory mode
// everything, for good; with a journal only an operation in progress here,
// so that repeats arriving meanwhile wait for it instead of racing it.
type operation struct {
	// kind is the kind requested by the first call (fixed).
	kind Kind
	// done is closed once Entry (or err) is final; callers that arrive
	// while the first call is in progress wait on it.
	done chan struct{}
	// Entry is the decision. In memory mode the money fields of an
	// authorization or capture change afterwards, under Simulator.mu.
	Entry
	// err is set when the operation was not performed (technical error) or
	// its outcome is unknown (journal failure); the operation is then
	// forgotten so it can be sent again.
	err error
}

// Simulator is the test acquirer (acquirer.Connector) and 3-D Secure server
// (acquirer.Authenticator). Safe for concurrent use.
type Simulator struct {
	cfg Config

	mu    sync.Mutex
	ops   map[string]*operation // by our operation id (journal: in progress only)
	refs  map[string]*operation // by acquirer reference (memory mode)
	fault map[string]Fault      // by operation id, consumed by the next call
	next  map[Kind]Fault        // by kind, taken by the next new operation of it
	auths int                   // approved authorizations (memory mode)
	ds    map[string]*Session   // 3-D Secure transactions by DSTransID (memory mode)
}

var (
	_ acquirer.Connector     = (*Simulator)(nil)
	_ acquirer.Authenticator = (*Simulator)(nil)
)

// New returns a simulator: with empty memory, or over cfg.Journal.
func New(cfg Config) *Simulator {
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = 2 * time.Second
	}
	if cfg.TimeoutHold <= 0 {
		cfg.TimeoutHold = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Simulator{
		cfg:   cfg,
		ops:   make(map[string]*operation),
		refs:  make(map[string]*operation),
		fault: make(map[string]Fault),
		next:  make(map[Kind]Fault),
		ds:    make(map[string]*Session),
	}
}

// Authorizations returns how many authorizations (amount > 0) the simulator
// has approved, counting each operation id once: the measure that an
// operation sent many times was authorized only once. With a journal it
// counts every copy's authorizations, and returns -1 if the journal cannot
// be read.
func (s *Simulator) Authorizations() int {
	if j := s.cfg.Journal; j != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n, err := j.CountAuthorizations(ctx)
		if err != nil {
			return -1
		}
		return n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

// InjectFault makes the next call carrying operationID fail with f, whatever
// the operation (capture, refund …), so tests can exercise recovery paths that
// no card number reaches. Faults are held by this Simulator value only, even
// with a journal.
func (s *Simulator) InjectFault(operationID string, f Fault) {
	s.mu.Lock()
	s.fault[operationID] = f
	s.mu.Unlock()
}

// InjectNextFault makes the next new operation of kind fail with f, as
// InjectFault does for one operation id: for operations whose id the test
// cannot know beforehand (a refund's is the refund's own transaction id).
func (s *Simulator) InjectNextFault(kind Kind, f Fault) {
	s.mu.Lock()
	s.next[kind] = f
	s.mu.Unlock()
}

// lookupTimeout bounds the journal look-up that precedes a held or faulted
// operation.
const lookupTimeout = 10 * time.Second

// decider fills in a new operation (its amount, currency, sale flag) and
// returns the answer. original is the operation the new one draws on, nil
// when there is none or it is unknown; decider may change its Captured,
// Refunded and Cancelled. It only computes: with a journal it runs inside a
// database transaction, possibly more than once.
type decider func(op, original *Entry) acquirer.Result

// Authorize implements acquirer.Connector.
func (s *Simulator) Authorize(ctx context.Context, r acquirer.AuthorizeRequest) (acquirer.Result, error) {
	if err := checkCardRequest(r); err != nil {
		return acquirer.Result{}, err
	}
	tc := lookup(r.PAN.Reveal())
	return s.run(ctx, r.OperationID, KindAuthorization, "", tc.Behaviour, func(op, _ *Entry) acquirer.Result {
		return s.decideAuthorize(op, r, tc)
	})
}

// Verify implements acquirer.Connector: a zero-amount authorization.
func (s *Simulator) Verify(ctx context.Context, r acquirer.AuthorizeRequest) (acquirer.Result, error) {
	if err := checkCardRequest(r); err != nil {
		return acquirer.Result{}, err
	}
	tc := lookup(r.PAN.Reveal())
	return s.run(ctx, r.OperationID, KindVerification, "", tc.Behaviour, func(_, _ *Entry) acquirer.Result {
		if res, refused := s.refuseCard(r, tc, false); refused {
			return res
		}
		return approved(acquirer.CodeMessage(acquirer.CodeApproved), true)
	})
}

// Capture implements acquirer.Connector. Several partial captures are allowed
// up to the authorized amount.
func (s *Simulator) Capture(ctx context.Context, operationID, authRef string, amount int64, currency string) (acquirer.Result, error) {
	if operationID == "" {
		return acquirer.Result{}, fmt.Errorf("simulator capture: %w: empty operation id", acquirer.ErrInvalidRequest)
	}
	return s.run(ctx, operationID, KindCapture, authRef, Approve, func(op, auth *Entry) acquirer.Result {
		if res, ok := usable(auth, KindAuthorization); !ok {
			return res
		}
		switch {
		case auth.Cancelled:
			return refused(acquirer.CodeInvalidTransaction, "authorization was cancelled")
		case currency != auth.Currency:
			return refused(acquirer.CodeInvalidTransaction, "currency differs from the authorization")
		case amount <= 0:
			return refused(acquirer.CodeInvalidAmount, "capture amount must be positive")
		case amount > auth.Amount-auth.Captured:
			return refused(acquirer.CodeInvalidAmount, fmt.Sprintf("capture of %d exceeds the %d left on the authorization", amount, auth.Amount-auth.Captured))
		}
		auth.Captured += amount
		op.Amount, op.Currency = amount, currency
		return approved("captured", false)
	})
}

// Cancel implements acquirer.Connector: it releases an authorization none of
// which was captured (a captured one must be refunded instead), or
// withdraws a refund (authRef is then the refund's reference), whose amount
// can then be refunded again. The simulator does not know when a refund is
// remitted: the caller only cancels one it has not remitted yet.
func (s *Simulator) Cancel(ctx context.Context, operationID, authRef string) (acquirer.Result, error) {
	if operationID == "" {
		return acquirer.Result{}, fmt.Errorf("simulator cancel: %w: empty operation id", acquirer.ErrInvalidRequest)
	}
	return s.run(ctx, operationID, KindCancellation, authRef, Approve, func(op, auth *Entry) acquirer.Result {
		if auth != nil && auth.Kind == KindRefund {
			return cancelRefund(op, auth)
		}
		if res, ok := usable(auth, KindAuthorization); !ok {
			return res
		}
		switch {
		case auth.Cancelled:
			return refused(acquirer.CodeInvalidTransaction, "authorization already cancelled")
		case auth.Captured > 0:
			return refused(acquirer.CodeInvalidTransaction, "authorization already captured: refund it instead")
		}
		auth.Cancelled = true
		op.Amount, op.Currency = auth.Amount, auth.Currency
		return approved("cancelled", false)
	})
}

// cancelRefund decides the cancellation op of refund ref: the refund is
// marked cancelled and its amount is given back to the capture it
// refunded (ref.OriginalOp), which can be refunded again.
func cancelRefund(op, ref *Entry) acquirer.Result {
	switch {
	case !ref.Result.Approved:
		return refused(acquirer.CodeInvalidTransaction, "refund was refused")
	case ref.Cancelled:
		return refused(acquirer.CodeInvalidTransaction, "refund already cancelled")
	}
	ref.Cancelled = true
	if capt := ref.OriginalOp; capt != nil {
		capt.Refunded = max(capt.Refunded-ref.Amount, 0)
	}
	op.Amount, op.Currency = ref.Amount, ref.Currency
	return approved("refund cancelled", false)
}

// Refund implements acquirer.Connector. captureRef is a capture or a sale
// (an authorization sent with Capture); several partial refunds are allowed
// up to the captured amount.
func (s *Simulator) Refund(ctx context.Context, operationID, captureRef string, amount int64, currency string) (acquirer.Result, error) {
	if operationID == "" {
		return acquirer.Result{}, fmt.Errorf("simulator refund: %w: empty operation id", acquirer.ErrInvalidRequest)
	}
	return s.run(ctx, operationID, KindRefund, captureRef, Approve, func(op, capt *Entry) acquirer.Result {
		if capt == nil {
			return refused(acquirer.CodeRecordNotFound, "capture not found")
		}
		var capturedAmount int64
		switch {
		case capt.Kind == KindCapture && capt.Result.Approved:
			capturedAmount = capt.Amount
		case capt.Kind == KindAuthorization && capt.Result.Approved && capt.Sale:
			capturedAmount = capt.Amount
		default:
			return refused(acquirer.CodeInvalidTransaction, "reference is not a capture")
		}
		switch {
		case currency != capt.Currency:
			return refused(acquirer.CodeInvalidTransaction, "currency differs from the capture")
		case amount <= 0:
			return refused(acquirer.CodeInvalidAmount, "refund amount must be positive")
		case amount > capturedAmount-capt.Refunded:
			return refused(acquirer.CodeInvalidAmount, fmt.Sprintf("refund of %d exceeds the %d left on the capture", amount, capturedAmount-capt.Refunded))
		}
		capt.Refunded += amount
		op.Amount, op.Currency, op.Original = amount, currency, captureRef
		return approved("refunded", false)
	})
}

// Inquire implements acquirer.Connector. An operation still in progress in
// this process is waited for, within ctx, so the answer is always final.
// With a journal, an operation another copy still holds (timeout card) is
// not found yet: it has not been decided.
func (s *Simulator) Inquire(ctx context.Context, operationID string) (acquirer.Result, bool, error) {
	if err := ctx.Err(); err != nil {
		return acquirer.Result{}, false, fmt.Errorf("simulator inquire: %w: %w", acquirer.ErrUnavailable, err)
	}
	s.mu.Lock()
	op, ok := s.ops[operationID]
	s.mu.Unlock()
	if ok {
		select {
		case <-op.done:
		case <-ctx.Done():
			return acquirer.Result{}, false, fmt.Errorf("simulator inquire: %w: %w", acquirer.ErrTimeout, ctx.Err())
		}
		if op.err == nil {
			return op.Result, true, nil
		}
		if s.cfg.Journal == nil {
			// Not performed (technical error): the acquirer forgot it.
			return acquirer.Result{}, false, nil
		}
		// A journal failure may have hidden a commit: the journal tells.
	}
	if s.cfg.Journal == nil {
		return acquirer.Result{}, false, nil
	}
	e, found, err := s.cfg.Journal.LookupOperation(ctx, operationID)
	if err != nil {
		return acquirer.Result{}, false, fmt.Errorf("simulator inquire: %w: %w", acquirer.ErrUnavailable, err)
	}
	if !found {
		return acquirer.Result{}, false, nil
	}
	return e.Result, true, nil
}

// run gives an operation its idempotency and its remote-party timing, then
// has decide called exactly once per performed operation, with the original
// operation named by origRef (nil if unknown), in memory under s.mu or in a
// journal transaction that locks the original: concurrent captures of one
// authorization never race.
func (s *Simulator) run(ctx context.Context, opID string, kind Kind, origRef string, b Behaviour, decide decider) (acquirer.Result, error) {
	if err := ctx.Err(); err != nil {
		// Never sent.
		return acquirer.Result{}, fmt.Errorf("simulator %s: %w: %w", kind, acquirer.ErrUnavailable, err)
	}

	s.mu.Lock()
	if op, ok := s.ops[opID]; ok {
		s.mu.Unlock()
		if op.kind != kind {
			return duplicate(op.kind), nil
		}
		return s.replay(ctx, kind, op)
	}
	op := &operation{kind: kind, done: make(chan struct{})}
	s.ops[opID] = op
	if f, ok := s.next[kind]; ok {
		delete(s.next, kind)
		s.fault[opID] = f
	}
	_, hasFault := s.fault[opID]
	s.mu.Unlock()

	if j := s.cfg.Journal; j != nil && (b != Approve || hasFault) {
		// The card's timing and injected faults apply to an operation the
		// acquirer has not seen; a repeat (perhaps first sent to another
		// copy, or before a restart) is answered at once. The look-up is
		// the acquirer's own business: the caller's deadline (which the
		// timeout card is about to outlive) does not cut it short.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
		e, found, err := j.LookupOperation(lctx, opID)
		cancel()
		if err != nil {
			err = fmt.Errorf("simulator %s: %w: %w", kind, acquirer.ErrUnavailable, err)
			s.forget(opID, op, err)
			return acquirer.Result{}, err
		}
		if found {
			s.settle(opID, op, e)
			return answer(e.Kind, e.Result, kind), nil
		}
	}
	s.mu.Lock()
	if f, ok := s.fault[opID]; ok {
		delete(s.fault, opID)
		switch f {
		case FaultUnavailable:
			b = Unavailable
		case FaultTimeout:
			b = Timeout
		case FaultLost:
			b = lost
		case FaultRefused:
			b = Approve // answered at once
			decide = func(_, _ *Entry) acquirer.Result {
				return refused(acquirer.CodeDoNotHonour, "refused by an injected fault")
			}
		}
	}
	s.mu.Unlock()

	switch b {
	case Unavailable:
		err := fmt.Errorf("simulator %s: %w: test card for technical errors", kind, acquirer.ErrUnavailable)
		s.forget(opID, op, err)
		return acquirer.Result{}, err

	case Timeout:
		// Hold the request past the caller's deadline, then perform it: the
		// caller never learns that it went through.
		s.holdPastDeadline(ctx)
		_, _ = s.finish(context.WithoutCancel(ctx), opID, op, origRef, decide)
		return acquirer.Result{}, fmt.Errorf("simulator %s: %w: no answer before the deadline", kind, acquirer.ErrTimeout)

	case lost:
		// Hold like a timeout, then drop the request unperformed.
		s.holdPastDeadline(ctx)
		err := fmt.Errorf("simulator %s: %w: no answer before the deadline", kind, acquirer.ErrTimeout)
		s.forget(opID, op, err)
		return acquirer.Result{}, err

	case Slow:
		// Decided on arrival, answered late: a caller that gives up early
		// does not undo the operation.
		res, err := s.finish(context.WithoutCancel(ctx), opID, op, origRef, decide)
		if err != nil {
			return acquirer.Result{}, err
		}
		wait := time.NewTimer(s.cfg.SlowDelay)
		defer wait.Stop()
		select {
		case <-wait.C:
			return res, nil
		case <-ctx.Done():
			return acquirer.Result{}, fmt.Errorf("simulator %s: %w: %w", kind, acquirer.ErrTimeout, ctx.Err())
		}

	default:
		return s.finish(ctx, opID, op, origRef, decide)
	}
}

// replay answers a repeated operation id with the first call's result,
// waiting for it if the first call is still in progress.
func (s *Simulator) replay(ctx context.Context, kind Kind, op *operation) (acquirer.Result, error) {
	select {
	case <-op.done:
	case <-ctx.Done():
		return acquirer.Result{}, fmt.Errorf("simulator %s: %w: %w", kind, acquirer.ErrTimeout, ctx.Err())
	}
	if op.err != nil {
		return acquirer.Result{}, op.err
	}
	// Only Kind and Result: in memory mode the money fields of op change
	// under s.mu as later operations draw on it.
	return answer(op.Kind, op.Result, kind), nil
}

// answer is what a call of the given kind gets for an operation recorded
// with recorded and res.
func answer(recorded Kind, res acquirer.Result, kind Kind) acquirer.Result {
	if recorded != kind {
		return duplicate(recorded)
	}
	return res
}

func duplicate(first Kind) acquirer.Result {
	return refused(acquirer.CodeDuplicate, fmt.Sprintf("operation id already used for a %s", first))
}

// finish decides an operation, records it and wakes the callers waiting for
// it. With a journal, ctx bounds only the wait for the write to start (an
// ended ctx means nothing was recorded); the decision is then the journal's.
func (s *Simulator) finish(ctx context.Context, opID string, op *operation, origRef string, decide decider) (acquirer.Result, error) {
	if j := s.cfg.Journal; j != nil {
		now := s.cfg.Clock.Now()
		e, err := j.RecordOperation(ctx, opID, origRef, func(orig *Entry) Entry {
			ne := Entry{OperationID: opID, Kind: op.kind, At: now}
			res := decide(&ne, orig)
			res.AcquirerReference = newReference()
			ne.Result = res
			return ne
		})
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("simulator %s: %w: %w", op.kind, acquirer.ErrUnavailable, err)
			} else {
				err = fmt.Errorf("simulator %s: %w: journal: %w", op.kind, acquirer.ErrTimeout, err)
			}
			s.forget(opID, op, err)
			return acquirer.Result{}, err
		}
		s.settle(opID, op, e)
		return answer(e.Kind, e.Result, op.kind), nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var orig *Entry
	if o, ok := s.refs[origRef]; ok && origRef != "" {
		orig = &o.Entry
		if oo, ok := s.refs[orig.Original]; ok && orig.Original != "" {
			// As the journal does (Journal.RecordOperation).
			orig.OriginalOp = &oo.Entry
			defer func() { orig.OriginalOp = nil }()
		}
	}
	op.Entry = Entry{OperationID: opID, Kind: op.kind, At: s.cfg.Clock.Now()}
	res := decide(&op.Entry, orig)
	for {
		ref := newReference()
		if _, taken := s.refs[ref]; !taken {
			res.AcquirerReference = ref
			s.refs[ref] = op
			break
		}
	}
	if op.kind == KindAuthorization && res.Approved {
		s.auths++
	}
	op.Result = res
	close(op.done)
	return res, nil
}

// settle ends an operation in progress with what the journal recorded: the
// journal answers from now on.
func (s *Simulator) settle(opID string, op *operation, e Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ops[opID] == op {
		delete(s.ops, opID)
	}
	op.Entry = e
	close(op.done)
}

// forget drops an operation that was not performed, so the same id can be
// sent again, and releases the callers waiting for it with err.
func (s *Simulator) forget(opID string, op *operation, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ops[opID] == op {
		delete(s.ops, opID)
	}
	op.err = err
	close(op.done)
}

// usable checks that an original operation exists, is of the given kind and
// was approved; when not, it returns the refusal to answer.
func usable(o *Entry, kind Kind) (acquirer.Result, bool) {
	switch {
	case o == nil:
		return refused(acquirer.CodeRecordNotFound, kind.String()+" not found"), false
	case o.Kind != kind:
		return refused(acquirer.CodeInvalidTransaction, "reference is not an "+kind.String()), false
	case !o.Result.Approved:
		return refused(acquirer.CodeInvalidTransaction, kind.String()+" was refused"), false
	}
	return acquirer.Result{}, true
}

func (s *Simulator) decideAuthorize(op *Entry, r acquirer.AuthorizeRequest, tc TestCard) acquirer.Result {
	if r.Amount <= 0 {
		return refused(acquirer.CodeInvalidAmount, "amount must be positive (use Verify for a card check)")
	}
	if !validCurrency(r.Currency) {
		return refused(acquirer.CodeFormatError, "currency must be an ISO 4217 alphabetic code")
	}
	if res, refusedCard := s.refuseCard(r, tc, true); refusedCard {
		return res
	}
	op.Amount, op.Currency = r.Amount, r.Currency
	if r.Capture {
		op.Captured, op.Sale = r.Amount, true
	}
	return approved(acquirer.CodeMessage(acquirer.CodeApproved), true)
}

// refuseCard applies the checks an issuer makes on the card itself.
func (s *Simulator) refuseCard(r acquirer.AuthorizeRequest, tc TestCard, withAmount bool) (acquirer.Result, bool) {
	if !luhn(r.PAN.Reveal()) {
		return refused(acquirer.CodeInvalidCardNumber, ""), true
	}
	switch {
	case tc.Behaviour == Refuse, tc.Behaviour == RefuseAmount && withAmount:
		return refused(tc.Code, ""), true
	}
	if expired(r.Expiry, s.cfg.Clock.Now()) {
		return refused(acquirer.CodeExpiredCard, ""), true
	}
	return acquirer.Result{}, false
}

func checkCardRequest(r acquirer.AuthorizeRequest) error {
	switch {
	case r.OperationID == "":
		return fmt.Errorf("simulator: %w: empty operation id", acquirer.ErrInvalidRequest)
	case r.PAN.IsZero():
		return fmt.Errorf("simulator: %w: no card number", acquirer.ErrInvalidRequest)
	}
	return nil
}

func approved(msg string, withAuthNumber bool) acquirer.Result {
	res := acquirer.Result{Approved: true, ResponseCode: acquirer.CodeApproved, Message: msg}
	if withAuthNumber {
		res.AuthorizationNumber = newAuthorizationNumber()
	}
	return res
}

func refused(code, detail string) acquirer.Result {
	msg := acquirer.CodeMessage(code)
	if detail != "" {
		msg += ": " + detail
	}
	return acquirer.Result{ResponseCode: code, Message: msg}
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// luhn reports whether a number passes the Luhn check. The card package
// validates numbers too; the simulator checks again because a remote
// acquirer would not trust its client.
func luhn(s string) bool {
	if len(s) < 12 || len(s) > 19 {
		return false
	}
	sum := 0
	for i := 0; i < len(s); i++ {
		d := int(s[len(s)-1-i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// newReference returns a 32-hex-digit reference, the shape of PayZen
// transaction uuids. It is a UUIDv7, as every key OpenPSP stores: the
// journal's unique index on it then grows at its end, where random
// references dirtied a page of it anywhere for each operation.
func newReference() string {
	return ids.NewHex()
}

// newAuthorizationNumber returns 6 random digits.
func newAuthorizationNumber() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b[:])
}

// expired reports whether an expiry date, when one was given, has passed.
func expired(e card.Expiry, now time.Time) bool {
	return !e.IsZero() && e.Expired(now)
}

// holdPastDeadline holds a request as an acquirer that does not answer in
// time: until the caller gives up, or TimeoutHold at most.
func (s *Simulator) holdPastDeadline(ctx context.Context) {
	hold := time.NewTimer(s.cfg.TimeoutHold)
	defer hold.Stop()
	select {
	case <-ctx.Done():
	case <-hold.C:
	}
}
