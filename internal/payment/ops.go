package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/money"
	"github.com/openpsp/openpsp/internal/store"
)

// Capture captures an AUTHORISED debit now, instead of waiting for its
// expected capture date. An acquirer that does not answer in time leaves
// the capture pending; RecoverRunning finishes it.
func (s *Service) Capture(ctx context.Context, shopID, uuid string) (Payment, Transaction, error) {
	p, t, err := s.apply(ctx, shopID, uuid, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
		if err := t.Capturable(); err != nil {
			return "", err
		}
		s.claim(t, opCapture)
		return "", nil
	})
	if err != nil {
		return p, t, err
	}
	np, nt, o, err := s.sendCapture(ctx, &p, t, true)
	switch {
	case err != nil:
	case o.err != nil && !o.unknown():
		// Not performed, and the claim is released: the capture job takes
		// it at its expected capture date, maybe days ahead, not now as
		// asked. The caller must not read "captured"; as for a
		// cancellation (runCancel), an error the caller may retry.
		return np, nt, &errs.Error{Code: errs.Internal, Message: "internal error, please retry later",
			Detail: detailCaptureUnreachable, Err: o.err}
	case o.unknown():
		// No answer in time: the capture may have been made. It stays
		// pending until recovery asks the acquirer (RecoverRunning), so
		// the caller must read neither "captured" nor "not captured": an
		// internal error, which the Idempotency-Key layer does not keep,
		// so that a retry tells what recovery found (Capturable answers
		// the same while the capture is pending). The operation id is
		// the debit's own: no retry captures twice.
		return np, nt, &errs.Error{Code: errs.Internal, Message: "internal error, please retry later",
			Detail: detailCaptureUnknown,
			Err:    fmt.Errorf("%w: %w (%w)", ErrCaptureUnknown, o.err, errs.ErrRetryLater)}
	case o.err == nil && !o.res.Approved:
		// Refused: the debit is CAPTURE_FAILED, for good. Lyra documents
		// no code of its own for a refused capture; PSP_003, payment
		// refused, is the closest of its list, with the acquirer's
		// response code as for a refused payment (ACQ_001 on the
		// transaction). Not an internal error: retrying cannot capture.
		return np, nt, &errs.Error{Code: errs.PaymentRefused, Message: "payment refused", DetailedCode: o.res.ResponseCode,
			Detail: captureRefusedDetail(o.res.Message)}
	}
	return np, nt, err
}

// CaptureAmount captures amount (0: all) of a debit now, as a DirectLink
// maintenance SAL/SAS asks it: an AUTHORISED_TO_VALIDATE debit is validated
// and an amount below the debit's lowers it (the rest is released), in the
// very write that claims the capture. Checked, lowered, validated and
// claimed in separate writes, a concurrent Transaction/Update, partial
// cancellation or second capture could slip in between: the caller was
// then told an amount captured that was not, or the merchant's lowered
// amount was raised back. The amount may not exceed the debit's amount
// now (PSP_020). A debit past its validation deadline is expired, as
// Validate does (PSP_011).
//
// With keepRest (a SAL), an amount below the debit's is captured as a
// part of it (splitPart) and the rest stays open, the debit as it was
// (to validate or authorized) for that much less: the transaction
// returned is the part, captured or its capture under way.
//
// onClaim, if set, runs inside the write that claims the capture, with the
// transaction claimed (the part, or the debit), before the acquirer is
// called; its error undoes the claim (and the part). A caller's record of
// the operation (a DirectLink PAYIDSUB) is thus made with it: a process
// stopped after the claim leaves both or neither.
func (s *Service) CaptureAmount(ctx context.Context, shopID, uuid string, amount int64, keepRest bool,
	onClaim func(tx *sql.Tx, t Transaction) error) (Payment, Transaction, error) {
	var (
		expiredAt time.Time
		part      Transaction
	)
	p, t, err := s.apply(ctx, shopID, uuid, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
		expiredAt, part = time.Time{}, Transaction{}
		if t.OperationType != Debit || t.PendingOp != "" || (t.DetailedStatus != Authorised && t.DetailedStatus != AuthorisedToValidate) {
			return "", badStatus(*t, "a capture")
		}
		if err := p.partPending(*t); err != nil {
			return "", err
		}
		if at, late := s.expireLate(t); late {
			expiredAt = at
			return "payment.expired", nil
		}
		if amount < 0 || amount > t.Amount {
			return "", &errs.Error{Code: errs.BadAmount, Message: "invalid amount", Field: "amount",
				Detail: fmt.Sprintf("Invalid input value [name=amount, value=%d]: %d left to capture", amount, t.Amount)}
		}
		if keepRest && amount > 0 && amount < t.Amount {
			var err error
			if part, err = s.splitPart(tx, p, t, amount); err == nil && onClaim != nil {
				err = onClaim(tx, part)
			}
			return "", err
		}
		if amount > 0 {
			t.Amount = amount
		}
		event := ""
		if t.DetailedStatus == AuthorisedToValidate {
			// The IPN a validation by Transaction/Update sends, with
			// the debit as it now is: AUTHORISED, its capture under way.
			event = "payment.validated"
			if err := t.validate(); err != nil {
				return "", err
			}
		}
		s.claim(t, opCapture)
		if onClaim != nil {
			if err := onClaim(tx, *t); err != nil {
				return "", err
			}
		}
		return event, nil
	})
	if err = lateErr(err, expiredAt); err != nil {
		return p, t, err
	}
	if part.UUID != "" {
		return s.runCapture(ctx, &p, part, true)
	}
	return s.runCapture(ctx, &p, t, true)
}

// The detailedErrorMessage of Capture's errors. Transaction/Capture puts
// "transaction <uuid>: " (46 characters) before them, and Lyra documents
// detailedErrorMessage up to 127 characters: they must fit in 81
// (TestCaptureDetailsFitV4).
const (
	detailCaptureUnreachable = "the acquirer could not be reached: not captured, retry later"
	detailCaptureUnknown     = "no answer from the acquirer in time: the capture is being checked with it"
	detailCapturePending     = "a capture is in progress or being checked with the acquirer"
	captureRefusedPrefix     = "the acquirer refused the capture: "
)

// captureRefusedDetail is the detail of a capture the acquirer refused
// with message msg, clipped to fit (the response code is beside it, in
// detailedErrorCode).
func captureRefusedDetail(msg string) string {
	const room = 81 - len(captureRefusedPrefix)
	if r := []rune(msg); len(r) > room {
		msg = string(r[:room-1]) + "…"
	}
	return captureRefusedPrefix + msg
}

// ErrCaptureUnknown is in the error of a Capture the acquirer did not
// answer in time: the debit Capture returns with it has its capture
// pending, for recovery to settle.
var ErrCaptureUnknown = errors.New("payment: capture outcome unknown")

// Capturable tells whether Capture may capture t now (PSP_011 if not), so
// that a caller capturing several transactions can check them all first.
// A debit whose capture is under way, or is being checked with the
// acquirer after a lost answer, is neither capturable nor known to be
// captured: "retry later", as Capture answered the capture that lost it.
func (t Transaction) Capturable() error {
	if t.OperationType == Debit && t.DetailedStatus == Authorised && t.PendingOp == opCapture {
		return &errs.Error{Code: errs.Internal, Message: "internal error, please retry later",
			Detail: detailCapturePending, Err: errs.ErrRetryLater}
	}
	if t.OperationType != Debit || t.DetailedStatus != Authorised || t.PendingOp != "" {
		return badStatus(t, "a capture")
	}
	return nil
}

// claim marks t with a pending operation before the acquirer is called. The
// operation id is derived from the transaction and stored with the claim,
// so a retry after a crash sends the same id and the acquirer does not
// perform it twice.
func (s *Service) claim(t *Transaction, op string) {
	t.PendingOp, t.PendingSince = op, s.clock.Now()
	t.pendingStartedAt = t.PendingSince
	switch op {
	case opCapture:
		t.PendingOpID = t.UUID + "-capture"
	case opCancel:
		t.PendingOpID = cancelOpID(t.UUID, t.cancelRefusals+1)
	case opAuthorise:
		// store.ClaimAuthorizations stamps the same id.
		t.PendingOpID = t.UUID + "-authorise"
	}
}

// cancelOpID is the operation id of the cancellation of transaction uuid
// sent after n-1 refused ones. The acquirer answers an operation id with
// the outcome it already gave it, so a cancellation asked again after the
// acquirer refused one must be a new operation, or the merchant would be
// answered the old refusal; one not performed (the acquirer unreachable)
// keeps its id. An accepted cancellation leaves the transaction CANCELLED
// and a pending one blocks another (cancelPending): none is made twice.
func cancelOpID(uuid string, n int) string {
	if n <= 1 {
		return uuid + "-cancel"
	}
	return fmt.Sprintf("%s-cancel-%d", uuid, n)
}

// runCapture sends a claimed capture and records its outcome, with its IPN
// when notify. The payment, known (the claim's write returned it) or read
// outside the writer before the call when known is nil, lets the outcome's
// write be prepared in advance (settleKnown) unless something changed
// meanwhile.
func (s *Service) runCapture(ctx context.Context, known *Payment, t Transaction, notify bool) (Payment, Transaction, error) {
	p, nt, _, err := s.sendCapture(ctx, known, t, notify)
	return p, nt, err
}

// sendCapture is runCapture that also returns what the acquirer answered.
func (s *Service) sendCapture(ctx context.Context, known *Payment, t Transaction, notify bool) (Payment, Transaction, outcome, error) {
	var p Payment
	var perr error
	if known != nil {
		p = *known
	} else {
		p, perr = s.payment(ctx, s.db.Reader(), t.ShopID, t.PaymentID)
	}
	var res acquirer.Result
	var err error
	if t.OperationType == Credit {
		// The acquirer performed the refund when it accepted it
		// (Connector.Refund): its capture is its remittance, which asks
		// the acquirer nothing more.
		res = acquirer.Result{Approved: true, ResponseCode: acquirer.CodeApproved, AcquirerReference: t.CaptureRef}
	} else {
		actx, cancel := s.acquirerContext(ctx)
		res, err = s.acq.Capture(actx, t.PendingOpID, t.AcquirerRef, t.Amount, t.Currency)
		cancel()
	}
	o := outcome{res: res, err: err}
	s.captureOutcome(ctx, t, o)
	decide := quietUnless(notify, s.pendingDecision(t.PendingOpID, o))
	if t.IsPart() {
		// A refused part goes back to its debit in the outcome's write.
		np, nt, err := s.settle(ctx, t.UUID, decide)
		return np, nt, o, err
	}
	if perr == nil {
		if cur, ok := p.Transaction(t.UUID); ok && cur.version == t.version {
			np, nt, err := s.settleKnown(writeContext(ctx), p, cur, decide, false, time.Time{})
			if !errors.Is(err, errStale) {
				return np, nt, o, err
			}
		}
	}
	np, nt, err := s.applyDecision(ctx, t.UUID, decide)
	return np, nt, o, err
}

// quietUnless is d without its IPN event unless notify.
func quietUnless(notify bool, d decision) decision {
	if notify {
		return d
	}
	return func(p *Payment, t *Transaction, now time.Time) (string, error) {
		_, err := d(p, t, now)
		return "", err
	}
}

// runCancel sends a claimed cancellation and records its outcome. Unless
// the acquirer cancelled, it returns an error: the caller must never read
// "cancelled" (nor the debit, still AUTHORISED, as an answer) for a
// cancellation that was not made or may not have been. Unreachable: INT_999,
// the claim released, a retry sends it again. Refused: PSP_003 with the
// acquirer's response code, as Capture answers a refused capture (with
// ErrCancelRefused); the transaction stays as it was. No answer in time:
// INT_999 "being checked" (with ErrCancelUnknown), not kept under the
// Idempotency-Key; the claim stays for recovery to ask the acquirer, and a
// retry meanwhile answers the same (cancelPending).
func (s *Service) runCancel(ctx context.Context, t Transaction) (Payment, Transaction, error) {
	actx, cancel := s.acquirerContext(ctx)
	res, err := s.acq.Cancel(actx, t.PendingOpID, t.AcquirerRef)
	cancel()
	o := outcome{res: res, err: err}
	decide := s.pendingDecision(t.PendingOpID, o)
	if err == nil && !res.Approved {
		// Refused: the merchant reads it in this answer (PSP_003); the
		// IPN refuseCancel gives is for one recovery settles, whose
		// merchant was answered INT_999.
		decide = quietUnless(false, decide)
	}
	p, nt, serr := s.settle(ctx, t.UUID, decide)
	if serr != nil {
		return p, nt, serr
	}
	switch {
	case err != nil && !o.unknown():
		return p, nt, &errs.Error{Code: errs.Internal, Message: "internal error, please retry later",
			Detail: detailCancelUnreachable, Err: err}
	case o.unknown():
		s.log.Warn("payment: cancellation outcome unknown, left pending for recovery", "transaction", t.UUID, "err", err)
		return p, nt, &errs.Error{Code: errs.Internal, Message: "internal error, please retry later",
			Detail: detailCancelUnknown,
			Err:    fmt.Errorf("%w: %w (%w)", ErrCancelUnknown, err, errs.ErrRetryLater)}
	case !res.Approved:
		return p, nt, &errs.Error{Code: errs.PaymentRefused, Message: "payment refused", DetailedCode: res.ResponseCode,
			Detail: clipDetail(cancelRefusedPrefix, res.Message), Err: ErrCancelRefused}
	}
	return p, nt, nil
}

// The detailedErrorMessage of a cancellation's errors (Lyra documents it
// up to 127 characters).
const (
	detailCancelUnreachable = "the acquirer could not be reached, the transaction was not cancelled"
	detailCancelUnknown     = "no answer from the acquirer in time: the cancellation is being checked with it"
	detailCancelPending     = "a cancellation is in progress or being checked with the acquirer, retry later"
	cancelRefusedPrefix     = "the acquirer refused the cancellation: "
)

// The IPN events of a cancellation the acquirer refused (refuseCancel).
const (
	eventCancelRefused       = "payment.cancel_refused"
	eventRefundCancelRefused = "transaction.refund_cancel_refused"
)

// ErrCancelUnknown is in the error of a cancellation the acquirer did not
// answer in time: the transaction returned with it has its cancellation
// pending, for recovery to settle.
var ErrCancelUnknown = errors.New("payment: cancellation outcome unknown")

// ErrCancelRefused is in the error of a cancellation the acquirer refused:
// the transaction returned with it is as it was before.
var ErrCancelRefused = errors.New("payment: cancellation refused by the acquirer")

// clipDetail is prefix then msg, clipped to 127 characters.
func clipDetail(prefix, msg string) string {
	room := 127 - len([]rune(prefix))
	if r := []rune(msg); len(r) > room {
		msg = string(r[:room-1]) + "…"
	}
	return prefix + msg
}

// cancelPending is the answer to a cancellation of t while an earlier one
// is sent or being checked with the acquirer: "retry later", as that one
// was answered, not PSP_011 (which would read as cancelled or not
// cancellable).
func cancelPending(t Transaction) error {
	if t.PendingOp != opCancel {
		return nil
	}
	return &errs.Error{Code: errs.Internal, Message: "internal error, please retry later",
		Detail: detailCancelPending, Err: errs.ErrRetryLater}
}

// settlePending records the outcome of a pending capture or cancellation,
// if the transaction still waits for this very operation. A refund it
// cancels gives its amount back to its debit in the same write, so that
// the debit can be refunded again.
func (s *Service) settlePending(ctx context.Context, uuid, opID string, o outcome) (Payment, Transaction, error) {
	return s.settle(ctx, uuid, s.pendingDecision(opID, o))
}

// settle is settlePending with the decision given. A refund cancelled
// gives its amount back to its debit, a part whose capture is refused to
// the debit it was taken from (returnPart), in the same write.
func (s *Service) settle(ctx context.Context, uuid string, decide decision) (Payment, Transaction, error) {
	return s.apply(writeContext(ctx), "", uuid, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
		from := t.DetailedStatus
		event, err := decide(p, t, s.clock.Now())
		switch {
		case err != nil || from == t.DetailedStatus:
		case t.OperationType == Credit && t.DetailedStatus == Cancelled:
			err = s.releaseRefund(tx, p, *t)
		case t.IsPart() && t.DetailedStatus == CaptureFailed:
			err = s.returnPart(tx, p, *t)
		}
		return event, err
	})
}

// applyDecision is the locked path of a decision: apply re-reads and locks
// the transaction, then decide changes it.
func (s *Service) applyDecision(ctx context.Context, uuid string, decide decision) (Payment, Transaction, error) {
	return s.apply(writeContext(ctx), "", uuid, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
		return decide(p, t, s.clock.Now())
	})
}

// pendingDecision records the outcome o of pending operation opID, if the
// transaction still waits for this very operation.
func (s *Service) pendingDecision(opID string, o outcome) decision {
	return func(p *Payment, t *Transaction, _ time.Time) (string, error) {
		if t.PendingOp == "" || t.PendingOpID != opID {
			return "", errNoChange
		}
		return s.pendingOutcome(p, t, o)
	}
}

func (s *Service) pendingOutcome(p *Payment, t *Transaction, o outcome) (string, error) {
	if o.unknown() {
		// Leave the claim: recovery will ask the acquirer.
		return "", errNoChange
	}
	op := t.PendingOp
	t.PendingOp, t.PendingOpID, t.PendingSince, t.pendingStartedAt = "", "", time.Time{}, time.Time{}
	now := s.clock.Now()
	switch {
	case op == opAuthorise && o.err != nil && !now.Before(t.ExpectedCaptureAt):
		// A deferred authorization still not sent on the capture date:
		// the debit can no longer be authorized in time.
		t.ErrorCode, t.ErrorMessage = CodeAcquirerError, "acquirer unavailable, payment not performed"
		t.DetailedErrorMessage = "the authorization could not be sent before the capture date"
		return eventRefused, t.transition(Error)
	case o.err != nil:
		// Not performed: release the claim, the next run tries again.
		return "", nil
	case op == opCapture && o.res.Approved:
		t.CapturedAmount, t.CapturedAt, t.CaptureRef = t.Amount, now, o.res.AcquirerReference
		t.forgetCancelRefusal()
		if t.OperationType == Credit {
			return "transaction.refund_captured", t.transition(Captured)
		}
		return "payment.captured", t.transition(Captured)
	case op == opCapture:
		t.ErrorCode, t.ErrorMessage = CodeRefused, "capture refused"
		t.DetailedErrorCode, t.DetailedErrorMessage = o.res.ResponseCode, o.res.Message
		return "payment.capture_failed", t.transition(CaptureFailed)
	case op == opCancel && o.res.Approved && t.OperationType == Credit:
		// The refund is withdrawn: settlePending gives its amount back
		// to the debit in the same write.
		t.forgetCancelRefusal()
		return eventRefundCancelled, t.transition(Cancelled)
	case op == opCancel && o.res.Approved:
		t.forgetCancelRefusal()
		return "payment.cancelled", t.transition(Cancelled)
	case op == opAuthorise && o.res.Approved:
		t.AuthNumber, t.AuthResult, t.AuthAt = o.res.AuthorizationNumber, o.res.ResponseCode, now
		t.AuthAmount, t.AcquirerRef = t.Amount, o.res.AcquirerReference
		t.AuthExpiresAt = now.AddDate(0, 0, max(p.Options.ValidityDays, 1))
		return eventAuthorised, t.transition(Authorised)
	case op == opAuthorise:
		t.AuthResult, t.AuthAt, t.AcquirerRef = o.res.ResponseCode, now, o.res.AcquirerReference
		t.ErrorCode, t.ErrorMessage = CodeRefused, "payment refused"
		t.DetailedErrorCode = o.res.ResponseCode
		t.DetailedErrorMessage = acquirer.CodeMessage(o.res.ResponseCode)
		return eventRefused, t.transition(Refused)
	}
	if op == opCancel {
		return refuseCancel(t, o.res), nil
	}
	return "", nil
}

// refuseCancel records on t the acquirer's refusal res of its
// cancellation, however it came (answered at once, found or seen refused
// by recovery), and returns the IPN event that tells it. The debit or
// refund stays AUTHORISED, to be captured or remitted at its date, with
// the refusal where a refused capture puts it (errorCode ACQ_001,
// detailedErrorCode the acquirer's response code) and detailedErrorMessage
// as runCancel's answer, so that Transaction/Get and every IPN of the
// payment tell the same until the transaction is captured or cancelled
// (forgetCancelRefusal). The IPN (eventCancelRefused,
// eventRefundCancelRefused for a refund) goes whatever the shop's batch
// rules, as a cancellation made does, since the merchant asked for the
// operation: answered INT_999 "being checked", it is how they learn that
// what they cancelled goes on (runCancel, whose merchant reads the refusal
// in its answer, sends none). The next cancellation asked is a new
// operation at the acquirer (cancelOpID). compat.md documents no rule
// tying IPNs to a change of status, and Lyra sends an IPN for operations
// that change none (a merchant's modification from the Back Office).
func refuseCancel(t *Transaction, res acquirer.Result) string {
	t.cancelRefusals++
	t.ErrorCode, t.ErrorMessage = CodeRefused, "cancellation refused"
	t.DetailedErrorCode, t.DetailedErrorMessage = res.ResponseCode, clipDetail(cancelRefusedPrefix, res.Message)
	if t.OperationType == Credit {
		return eventRefundCancelRefused
	}
	return eventCancelRefused
}

// forgetCancelRefusal clears the refusal of an earlier cancellation
// (refuseCancel) from t, captured or cancelled now: Transaction/Get
// and the IPN show a transaction's latest state, as Lyra's do, and a
// merchant reading errorCode ACQ_001 on a CAPTURED or CANCELLED
// transaction would take the capture or cancellation for refused. The
// merchant was told of the refusal by its own IPN. Only that refusal
// leaves error fields on an AUTHORISED transaction.
func (t *Transaction) forgetCancelRefusal() {
	t.ErrorCode, t.ErrorMessage, t.DetailedErrorCode, t.DetailedErrorMessage = "", "", "", ""
}

// Validate accepts an AUTHORISED_TO_VALIDATE debit: it becomes AUTHORISED
// and is captured at its expected capture date. A
// WAITING_AUTHORISATION_TO_VALIDATE debit becomes WAITING_AUTHORISATION:
// its authorization is sent the day before its capture date.
//
// One past its deadline (validationExpired) is refused as expired, even
// when ExpireUnvalidated has not reached it yet: it is expired in the same
// write, with the job's IPN, so that the answer and the stored state agree
// and nothing is captured on an expired authorization or authorized after
// its capture date.
func (s *Service) Validate(ctx context.Context, shopID, uuid string) (Payment, Transaction, error) {
	var expiredAt time.Time
	p, t, err := s.apply(ctx, shopID, uuid, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
		expiredAt = time.Time{}
		if t.OperationType != Debit || !t.toValidate() || t.PendingOp != "" {
			return "", badStatus(*t, "a validation")
		}
		if at, late := s.expireLate(t); late {
			expiredAt = at
			return "payment.expired", nil
		}
		return "payment.validated", t.validate()
	})
	return p, t, lateErr(err, expiredAt)
}

// expireLate expires t, waiting for the merchant's validation, when an
// operation of the merchant (Validate, Update) finds it past its deadline
// before ExpireUnvalidated did: the caller's write then records EXPIRED
// with the job's IPN, and the caller answers lateErr. It returns the
// deadline and whether it expired t.
func (s *Service) expireLate(t *Transaction) (time.Time, bool) {
	if !t.validationExpired(s.clock.Now()) {
		return time.Time{}, false
	}
	deadline := t.validationDeadline() // of the status before the expiry
	if err := t.transition(Expired); err != nil {
		return time.Time{}, false
	}
	return deadline, true
}

// lateErr is the answer to an operation that found its transaction
// expired unvalidated at expiredAt (zero: it did not). Lyra has no code of
// its own for a validation that came too late: the transaction is no
// longer to validate, an incorrect status.
func lateErr(err error, expiredAt time.Time) error {
	if err != nil || expiredAt.IsZero() {
		return err
	}
	return &errs.Error{Code: errs.TxBadStatus, Message: "incorrect transaction status",
		Detail: "the transaction expired unvalidated on " + Date(expiredAt)}
}

// toValidate reports whether t waits for the merchant's validation.
func (t Transaction) toValidate() bool {
	return t.DetailedStatus == AuthorisedToValidate || t.DetailedStatus == WaitingAuthorisationToValidate
}

// AwaitingAuthorisation reports whether t is a deferred debit whose
// authorization is not sent yet (nothing is reserved on the card).
func (t Transaction) AwaitingAuthorisation() bool {
	return t.DetailedStatus == WaitingAuthorisation || t.DetailedStatus == WaitingAuthorisationToValidate
}

// validate moves a transaction to validate on: AUTHORISED, or
// WAITING_AUTHORISATION when its authorization is still to be sent.
func (t *Transaction) validate() error {
	if t.DetailedStatus == WaitingAuthorisationToValidate {
		return t.transition(WaitingAuthorisation)
	}
	return t.transition(Authorised)
}

// UpdateInput is a Transaction/Update request (cardUpdate).
type UpdateInput struct {
	Amount              *int64 // lowered amount (at most what was authorized)
	Currency            string // must be the transaction's when given
	ExpectedCaptureDate *time.Time
	ManualValidation    string // "", "NO" (validates a transaction to validate), "YES"
}

// Update changes a debit that is not captured yet: its amount (down to
// what will be captured), its expected capture date, or its manual
// validation (from YES to NO only, which validates it).
func (s *Service) Update(ctx context.Context, shopID, uuid string, in UpdateInput) (Payment, Transaction, error) {
	if in.ManualValidation != "" && in.ManualValidation != "YES" && in.ManualValidation != "NO" {
		return Payment{}, Transaction{}, invalid("cardUpdate.manualValidation", in.ManualValidation)
	}
	if err := knownCurrency("cardUpdate.currency", in.Currency); err != nil {
		return Payment{}, Transaction{}, err
	}
	var expiredAt time.Time
	p, t, err := s.apply(ctx, shopID, uuid, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
		expiredAt = time.Time{}
		updatable := t.DetailedStatus == Authorised || t.DetailedStatus == AuthorisedToValidate || t.AwaitingAuthorisation()
		if t.OperationType != Debit || !updatable || t.PendingOp != "" {
			return "", badStatus(*t, "an update")
		}
		// Past its validation deadline, a transaction to validate is
		// expired, whatever the update (as Validate does).
		if at, late := s.expireLate(t); late {
			expiredAt = at
			return "payment.expired", nil
		}
		// What may not be exceeded: the amount authorized or, before the
		// authorization of a deferred debit, the amount it will ask for.
		ceiling, what := t.AuthAmount, "authorized"
		if t.AwaitingAuthorisation() {
			ceiling, what = t.Amount, "to be authorized"
		}
		if in.Currency != "" && in.Currency != t.Currency {
			return "", invalid("cardUpdate.currency", in.Currency)
		}
		if in.Amount != nil {
			switch {
			case *in.Amount <= 0:
				return "", errs.Invalid(errs.BadAmount, "invalid amount", "cardUpdate.amount", *in.Amount)
			case *in.Amount > ceiling:
				return "", &errs.Error{Code: errs.AmountNotAuth, Message: "amount not authorized", Field: "cardUpdate.amount",
					Detail: fmt.Sprintf("the amount can be lowered only: %d is more than the %d %s", *in.Amount, ceiling, what)}
			}
			t.Amount = *in.Amount
		}
		if d := in.ExpectedCaptureDate; d != nil {
			// Captures are daily: a date earlier today is today's capture,
			// one before today is refused (Lyra documents no meaning for a
			// past capture date), as is one past the authorization's expiry.
			if now := s.clock.Now().UTC(); d.Before(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)) {
				return "", &errs.Error{Code: "PSP_013", Message: "date too far", Field: "cardUpdate.expectedCaptureDate",
					Detail: "the expected capture date " + Date(*d) + " is in the past"}
			}
			if !t.AuthExpiresAt.IsZero() && d.After(t.AuthExpiresAt) {
				return "", &errs.Error{Code: "PSP_013", Message: "date too far", Field: "cardUpdate.expectedCaptureDate",
					Detail: "the authorization expires at " + Date(t.AuthExpiresAt)}
			}
			t.ExpectedCaptureAt = d.UTC()
		}
		switch {
		case in.ManualValidation == "NO" && t.toValidate():
			return "payment.validated", t.validate()
		case in.ManualValidation == "YES" && (t.DetailedStatus == Authorised || t.DetailedStatus == WaitingAuthorisation):
			return "", &errs.Error{Code: errs.TxBadStatus, Message: "incorrect transaction status", Field: "cardUpdate.manualValidation",
				Detail: "an automatic validation cannot become manual"}
		}
		return "", nil
	})
	return p, t, lateErr(err, expiredAt)
}

// knownCurrency checks the currency an operation on a transaction names
// (optional: "" is none) as Charge/CreatePayment does: one that is not an
// ISO 4217 code, unknown or not in upper case, is PSP_021 "unknown
// currency" (Lyra's PSP list), not INT_902. A known one that is not the
// transaction's is the caller's to refuse (INT_902).
func knownCurrency(field, currency string) error {
	if currency == "" {
		return nil
	}
	if _, ok := money.Lookup(currency); !ok {
		return errs.Invalid(errs.BadCurrency, "unknown currency", field, currency)
	}
	return nil
}

// Resolution modes of Transaction/CancelOrRefund.
const (
	ResolutionAuto         = ""
	ResolutionCancellation = "CANCELLATION_ONLY"
	ResolutionRefund       = "REFUND_ONLY"
)

// CancelInput is a Transaction/CancelOrRefund request.
type CancelInput struct {
	Amount         *int64 // nil: everything that is left
	Currency       string // must be the transaction's when given
	ResolutionMode string // "" (AUTO), CANCELLATION_ONLY, REFUND_ONLY
	Comment        string
	// AtLeastLeft, with Amount nil, refuses (PSP_020) the cancellation of
	// a debit not captured yet unless at least this much of it is left
	// to cancel: DirectLink's DES names an amount and closes the order.
	// Checked in the write that claims the cancellation, so that a
	// partial cancellation that lowered the debit meanwhile is seen.
	AtLeastLeft *int64
	// OnClaim, if set, runs inside the write that makes the operation
	// (claims the cancellation, lowers or cancels the debit, or inserts
	// the refund's CREDIT), with the transaction it produced (the debit,
	// the refund cancelled, or the CREDIT), before the acquirer is called;
	// its error undoes the operation. A caller's record of it (a
	// DirectLink PAYIDSUB) is thus made with it, as CaptureAmount's
	// onClaim.
	OnClaim func(tx *sql.Tx, t Transaction) error
}

// CancelOrRefund gives money back on a debit: before capture it cancels
// (the whole amount) or lowers the amount (part of it); after capture it
// refunds, as a CREDIT transaction of its own, any amount up to what is left
// of the capture, as many times as wanted. CANCELLATION_ONLY on a captured
// debit is PSP_075, REFUND_ONLY on one not captured yet is PSP_076. On a
// refund (CREDIT) accepted but not captured yet it cancels the refund
// (refundCancellable), through the acquirer as a debit's cancellation,
// and gives its amount back to the debit. It returns the transaction the
// operation produced: the debit or refund for a cancellation, the credit
// for a refund.
func (s *Service) CancelOrRefund(ctx context.Context, shopID, uuid string, in CancelInput) (Payment, Transaction, error) {
	switch in.ResolutionMode {
	case ResolutionAuto, "AUTO", ResolutionCancellation, ResolutionRefund:
	default:
		return Payment{}, Transaction{}, invalid("resolutionMode", in.ResolutionMode)
	}
	if err := knownCurrency("currency", in.Currency); err != nil {
		return Payment{}, Transaction{}, err
	}
	var kind string
	var credit Transaction
	p, t, err := s.apply(ctx, shopID, uuid, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
		event, err := s.cancelOrRefund(tx, p, t, in, &kind, &credit)
		if err == nil && in.OnClaim != nil {
			made := *t
			if kind == "refund" {
				made = credit
			}
			err = in.OnClaim(tx, made)
		}
		return event, err
	})
	if err != nil {
		return p, t, err
	}
	switch kind {
	case "cancel":
		return s.runCancel(ctx, t)
	case "refund":
		parent := t
		actx, cancel := s.acquirerContext(ctx)
		res, rerr := s.acq.Refund(actx, credit.UUID, parent.CaptureRef, credit.Amount, credit.Currency)
		cancel()
		return s.settleRefund(ctx, credit.UUID, outcome{res: res, err: rerr})
	}
	return p, t, nil
}

// cancelOrRefund is CancelOrRefund's change of t (locked, in tx): it
// sets kind to what is left to do once written ("cancel": the acquirer's
// cancellation; "refund": credit, inserted, to send; "lowered" or "":
// nothing).
func (s *Service) cancelOrRefund(tx *sql.Tx, p *Payment, t *Transaction, in CancelInput, kind *string, credit *Transaction) (string, error) {
	*kind, *credit = "", Transaction{}
	if t.OperationType == Credit {
		if err := refundCancellable(*t, in); err != nil {
			return "", err
		}
		*kind = "cancel"
		s.claim(t, opCancel)
		return "", nil
	}
	if t.OperationType != Debit {
		return "", badStatus(*t, "a cancellation or refund")
	}
	if in.Currency != "" && in.Currency != t.Currency {
		return "", invalid("currency", in.Currency)
	}
	if err := cancelPending(*t); err != nil {
		return "", err
	}
	if t.PendingOp != "" {
		return "", &errs.Error{Code: errs.TxBadStatus, Message: "incorrect transaction status",
			Detail: "an operation on this transaction is in progress, retry later", Err: errs.ErrInProgress}
	}
	switch t.DetailedStatus {
	case Authorised, AuthorisedToValidate, WaitingAuthorisation, WaitingAuthorisationToValidate:
		if err := p.partPending(*t); err != nil {
			return "", err
		}
		if in.ResolutionMode == ResolutionRefund {
			return "", &errs.Error{Code: errs.RefundToCancel, Message: "refund not yet available, please cancel",
				Detail: "the transaction is not captured yet"}
		}
		amount := t.Amount
		if in.Amount != nil {
			amount = *in.Amount
		} else if in.AtLeastLeft != nil && *in.AtLeastLeft > t.Amount {
			return "", &errs.Error{Code: errs.BadAmount, Message: "invalid amount", Field: "amount",
				Detail: fmt.Sprintf("Invalid input value [name=amount, value=%d]: %d left to cancel", *in.AtLeastLeft, t.Amount)}
		}
		if amount <= 0 || amount > t.Amount {
			return "", errs.Invalid(errs.BadAmount, "invalid amount", "amount", amount)
		}
		if amount < t.Amount {
			// A partial cancellation lowers what will be captured.
			t.Amount -= amount
			*kind = "lowered"
			return "", nil
		}
		if t.AwaitingAuthorisation() {
			// Nothing was authorized: there is nothing to release at
			// the acquirer.
			return "payment.cancelled", t.transition(Cancelled)
		}
		if p.sharesAuthorization(*t) {
			// Captured in parts: the rest is released by not
			// capturing it, the authorization being the parts' too.
			return "payment.cancelled", t.transition(Cancelled)
		}
		*kind = "cancel"
		s.claim(t, opCancel)
		return "", nil
	case Captured:
		if in.ResolutionMode == ResolutionCancellation {
			return "", &errs.Error{Code: errs.CancelToRefund, Message: "cancellation impossible, please refund",
				Detail: "the transaction is already captured"}
		}
		left := t.CapturedAmount - t.RefundedAmount
		amount := left
		if in.Amount != nil {
			amount = *in.Amount
		} else if left <= 0 {
			// A full refund asked no amount: there is none to name.
			return "", &errs.Error{Code: errs.BadAmount, Message: "invalid amount",
				Detail: fmt.Sprintf("nothing left to refund: the %d captured are refunded or being refunded", t.CapturedAmount)}
		}
		if amount <= 0 || amount > left {
			return "", &errs.Error{Code: errs.BadAmount, Message: "invalid amount", Field: "amount",
				Detail: fmt.Sprintf("Invalid input value [name=amount, value=%d]: %d left to refund", amount, left)}
		}
		// Reserve the amount on the debit before the acquirer is asked:
		// concurrent refunds cannot together exceed the capture.
		t.RefundedAmount += amount
		var err error
		*credit, err = s.insertCredit(tx, p, *t, amount)
		*kind = "refund"
		return "", err
	}
	return "", badStatus(*t, "a cancellation or refund")
}

// refundCancellable tells whether CancelOrRefund may cancel refund t now:
// accepted but not remitted yet (AUTHORISED, not being captured), as a
// whole. REFUND_ONLY asks to refund what is not captured: PSP_076, as for a
// debit. A captured refund keeps PSP_011: its money has left.
func refundCancellable(t Transaction, in CancelInput) error {
	if err := cancelPending(t); err != nil {
		return err
	}
	if t.PendingOp != "" {
		return &errs.Error{Code: errs.TxBadStatus, Message: "incorrect transaction status",
			Detail: "an operation on this refund is in progress, retry later"}
	}
	if t.DetailedStatus != Authorised {
		return badStatus(t, "a cancellation or refund")
	}
	if in.Currency != "" && in.Currency != t.Currency {
		return invalid("currency", in.Currency)
	}
	if in.ResolutionMode == ResolutionRefund {
		return &errs.Error{Code: errs.RefundToCancel, Message: "refund not yet available, please cancel",
			Detail: "a refund not yet captured can only be cancelled"}
	}
	if in.Amount != nil && *in.Amount != t.Amount {
		// The acquirer withdraws a refund whole (acquirer.Connector.Cancel).
		return &errs.Error{Code: errs.BadAmount, Message: "invalid amount", Field: "amount",
			Detail: fmt.Sprintf("Invalid input value [name=amount, value=%d]: a refund is cancelled whole, for its %d (partial cancellation of a refund is not supported)", *in.Amount, t.Amount)}
	}
	return nil
}

// insertCredit inserts the RUNNING refund of parent.
func (s *Service) insertCredit(tx *sql.Tx, p *Payment, parent Transaction, amount int64) (Transaction, error) {
	now := s.clock.Now()
	seq, err := store.NextSequenceNumber(tx, p.ID)
	if err != nil {
		return Transaction{}, err
	}
	c := Transaction{
		UUID: ids.NewHex(), ShopID: parent.ShopID, PaymentID: parent.PaymentID, ParentUUID: parent.UUID,
		Mode: parent.Mode, OrderID: parent.OrderID, OperationType: Credit, Amount: amount, Currency: parent.Currency,
		Status: StatusRunning, DetailedStatus: Initial, Token: parent.Token,
		PaymentMethodSource: parent.PaymentMethodSource, Brand: parent.Brand, PANMasked: parent.PANMasked,
		ExpiryMonth: parent.ExpiryMonth, ExpiryYear: parent.ExpiryYear, CardHolderName: parent.CardHolderName,
		Metadata:       parent.Metadata,
		SequenceNumber: seq, CreatedAt: now, UpdatedAt: now, version: 1,
	}
	if err := store.InsertTransaction(tx, c.record()); err != nil {
		return Transaction{}, err
	}
	p.Transactions = append(p.Transactions, c)
	return c, nil
}

// settleRefund records the outcome of a RUNNING refund; a refund that was
// not performed gives its reservation back to the debit.
func (s *Service) settleRefund(ctx context.Context, uuid string, o outcome) (Payment, Transaction, error) {
	if o.unknown() {
		s.log.Warn("payment: refund outcome unknown, left RUNNING for recovery", "transaction", uuid, "err", o.err)
	}
	return s.apply(writeContext(ctx), "", uuid, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
		if t.DetailedStatus != Initial || o.unknown() {
			return "", errNoChange
		}
		return s.refundOutcome(tx, p, t, o)
	})
}

func (s *Service) refundOutcome(tx *sql.Tx, p *Payment, t *Transaction, o outcome) (string, error) {
	now := s.clock.Now()
	if o.err == nil && o.res.Approved {
		// Accepted, the refund is AUTHORISED and due for capture at once
		// (Lyra's expectedCaptureDate of a refund is its creation date):
		// the capture job remits it and it becomes CAPTURED, with its
		// captureResponse; until then captureResponse is all null.
		t.AuthNumber, t.AuthResult, t.AuthAt, t.AuthAmount = o.res.AuthorizationNumber, o.res.ResponseCode, now, t.Amount
		t.AcquirerRef, t.CaptureRef = o.res.AcquirerReference, o.res.AcquirerReference
		t.ExpectedCaptureAt = t.CreatedAt
		return "transaction.refunded", t.transition(Authorised)
	}
	to := Refused
	if o.err != nil {
		to = Error
		t.ErrorCode, t.ErrorMessage = CodeAcquirerError, "acquirer unavailable, refund not performed"
	} else {
		t.AuthResult, t.AuthAt = o.res.ResponseCode, now
		t.ErrorCode, t.ErrorMessage = CodeRefused, "refund refused"
		t.DetailedErrorCode, t.DetailedErrorMessage = o.res.ResponseCode, o.res.Message
	}
	if err := t.transition(to); err != nil {
		return "", err
	}
	return "transaction.refund_refused", s.releaseRefund(tx, p, *t)
}

// eventRefundCancelled is the IPN event of a refund cancelled before its
// capture (the payment's kr-answer, the refund CANCELLED in it).
const eventRefundCancelled = "transaction.refund_cancelled"

// releaseRefund gives the amount that refund t reserved on its debit back
// (a refund refused, failed or cancelled moved no money), within the write
// tx that records t's new status.
func (s *Service) releaseRefund(tx *sql.Tx, p *Payment, t Transaction) error {
	_, err := s.changeLocked(tx, p, t.ParentUUID, func(parent *Transaction) bool {
		parent.RefundedAmount = max(parent.RefundedAmount-t.Amount, 0)
		return true
	})
	return err
}

// changeLocked locks transaction uuid of p within the write tx (after the
// payment, which the caller's write locked first, as everywhere), applies
// change and, when change reports a change, writes it and puts it in p.
// It returns the transaction as it then is.
func (s *Service) changeLocked(tx *sql.Tx, p *Payment, uuid string, change func(*Transaction) bool) (Transaction, error) {
	rec, err := store.LockTransaction(tx, s.db.Dialect(), "", uuid)
	if err != nil {
		return Transaction{}, err
	}
	t := transactionFromRecord(rec)
	if !change(&t) {
		return t, nil
	}
	t.UpdatedAt = s.clock.Now()
	rec = t.record()
	if err := store.UpdateTransaction(tx, &rec); err != nil {
		return Transaction{}, err
	}
	t.version = rec.Version
	replace(p, t)
	return t, nil
}
