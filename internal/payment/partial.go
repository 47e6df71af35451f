package payment

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/store"
)

// Partial captures. An Ingenico SAL for less than what is left of an
// authorisation captures that part and leaves the rest open for another
// SAL or a last SAS (CaptureAmount with keepRest). The part becomes a
// DEBIT of its own, a "part" of the debit it is taken from: same payment,
// same authorization (AcquirerRef), ParentUUID the debit's. It is captured
// as any debit, under its own operation id, so that recovery, retries and
// the acquirer's journal see it as any capture; the debit it comes from is
// lowered by its amount, authorization included, in the same write, and
// stays as it was (to validate, authorized) for the rest.

// IsPart tells whether t is the partial capture of another debit.
func (t Transaction) IsPart() bool { return t.OperationType == Debit && t.ParentUUID != "" }

// parts returns the partial captures of debit uuid in p, in sequence order.
func (p Payment) parts(uuid string) []Transaction {
	var out []Transaction
	for _, t := range p.Transactions {
		if t.IsPart() && t.ParentUUID == uuid {
			out = append(out, t)
		}
	}
	return out
}

// sharesAuthorization tells whether another debit of p lives on t's
// authorization (the parts of a debit captured in parts, and that debit)
// and is not ended: t's authorization is then not t's alone to cancel at
// the acquirer, which would cancel it for the others too (or refuse, some
// of it being captured). Cancelling t in whole only stops t from being
// captured, as a partial capture releases the rest.
func (p Payment) sharesAuthorization(t Transaction) bool {
	for _, o := range p.Transactions {
		if o.UUID == t.UUID || o.OperationType != Debit || t.AcquirerRef == "" || o.AcquirerRef != t.AcquirerRef {
			continue
		}
		switch o.DetailedStatus {
		case Authorised, AuthorisedToValidate, Captured:
			return true
		}
	}
	return false
}

// partPending refuses an operation on debit t while the capture of one of
// its parts is under way (its answer awaited, lost until recovery learns
// it, or the acquirer unreachable until the capture job makes it: a part
// is made with its capture claimed, so one still authorised is that), as
// t's own pending capture does (badStatus): the order is 91 for it, and a
// SAL sent again by a merchant who got no answer is the same shipment,
// which a new part would capture twice. A deletion then would leave the
// authorization held if the part is refused.
func (p Payment) partPending(t Transaction) error {
	for _, o := range p.parts(t.UUID) {
		if o.PendingOp != "" || o.DetailedStatus == Authorised {
			return &errs.Error{Code: errs.TxBadStatus, Message: "incorrect transaction status",
				Detail: "the capture of a part of this transaction is in progress, retry later", Err: errs.ErrInProgress}
		}
	}
	return nil
}

// splitPart takes a part of amount off debit t (locked, in tx) and inserts
// it as a new debit, its capture claimed: t's amount and authorization are
// lowered by amount, which must be below t's amount.
func (s *Service) splitPart(tx *sql.Tx, p *Payment, t *Transaction, amount int64) (Transaction, error) {
	now := s.clock.Now()
	seq, err := store.NextSequenceNumber(tx, p.ID)
	if err != nil {
		return Transaction{}, err
	}
	part := *t
	part.UUID, part.ParentUUID, part.Amount, part.AuthAmount = ids.NewHex(), t.UUID, amount, amount
	part.ManualValidation, part.ExpectedCaptureAt = false, now
	part.CapturedAmount, part.CaptureRef, part.RefundedAmount = 0, "", 0
	part.ErrorCode, part.ErrorMessage, part.DetailedErrorCode, part.DetailedErrorMessage = "", "", "", ""
	part.SequenceNumber, part.CreatedAt, part.UpdatedAt = seq, now, now
	// Not the order's guard (one paid debit per order id: the part is of
	// the same order) nor a card kept for a deferred authorization.
	part.orderGuard, part.deferredCard, part.cancelRefusals, part.version = "", "", 0, 1
	part.DetailedStatus, part.Status = Authorised, StatusOf(Authorised)
	s.claim(&part, opCapture)
	if err := store.InsertTransaction(tx, part.record()); err != nil {
		return Transaction{}, err
	}
	t.Amount -= amount
	t.AuthAmount -= amount
	p.Transactions = append(p.Transactions, part)
	return part, nil
}

// returnPart gives the amount of part t, whose capture the acquirer
// refused, back to the debit it was taken from, within the write tx that
// records the refusal: the authorization is still there for it, so another
// SAL or the last SAS may capture it. A debit no longer open (captured,
// cancelled, its own capture under way) takes nothing back: its capture
// claimed what it had.
func (s *Service) returnPart(tx *sql.Tx, p *Payment, t Transaction) error {
	_, err := s.changeLocked(tx, p, t.ParentUUID, func(parent *Transaction) bool {
		if parent.PendingOp != "" || (parent.DetailedStatus != Authorised && parent.DetailedStatus != AuthorisedToValidate) {
			return false
		}
		parent.Amount += t.Amount
		parent.AuthAmount += t.Amount
		return true
	})
	return err
}

// RefundCaptures refunds amount (0: all that is left) of what debit uuid
// and its partial captures captured, as a DirectLink RFD or RFS asks it of
// an order captured in parts: in one write, one CREDIT per captured debit
// as needed, none above what is left of its own capture, oldest captures
// first. A debit without parts is refunded as CancelOrRefund (REFUND_ONLY)
// does. It returns the credits, each settled as CancelOrRefund settles
// its refund. onClaim, if set, runs inside the write that inserts the
// credits, with them, before the acquirer is called; its error undoes
// them (CancelInput.OnClaim).
func (s *Service) RefundCaptures(ctx context.Context, shopID, uuid string, amount int64,
	onClaim func(tx *sql.Tx, credits []Transaction) error) (Payment, []Transaction, error) {
	var (
		credits []Transaction
		parents []Transaction
		split   bool
	)
	p, _, err := s.apply(ctx, shopID, uuid, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
		credits, parents, split = nil, nil, false
		parts := p.parts(t.UUID)
		if t.OperationType != Debit || len(parts) == 0 {
			return "", errNoChange
		}
		split = true
		captured := make([]Transaction, 0, len(parts)+1)
		for _, c := range append(parts, *t) {
			if c.DetailedStatus == Captured && c.PendingOp == "" && c.CapturedAmount > c.RefundedAmount {
				captured = append(captured, c)
			}
		}
		var left int64
		for _, c := range captured {
			left += c.CapturedAmount - c.RefundedAmount
		}
		if amount == 0 {
			amount = left
			if left <= 0 {
				return "", &errs.Error{Code: errs.BadAmount, Message: "invalid amount",
					Detail: "nothing left to refund: the captures of the order are refunded or being refunded"}
			}
		}
		if amount <= 0 || amount > left {
			return "", &errs.Error{Code: errs.BadAmount, Message: "invalid amount", Field: "amount",
				Detail: fmt.Sprintf("Invalid input value [name=amount, value=%d]: %d left to refund", amount, left)}
		}
		rest := amount
		for _, c := range captured {
			if rest == 0 {
				break
			}
			take := min(rest, c.CapturedAmount-c.RefundedAmount)
			rest -= take
			if c.UUID == t.UUID {
				// The debit apply locked and writes.
				t.RefundedAmount += take
				c = *t
			} else {
				var err error
				c, err = s.changeLocked(tx, p, c.UUID, func(c *Transaction) bool {
					c.RefundedAmount += take
					return true
				})
				if err != nil {
					return "", err
				}
			}
			credit, err := s.insertCredit(tx, p, c, take)
			if err != nil {
				return "", err
			}
			credits, parents = append(credits, credit), append(parents, c)
		}
		if onClaim != nil {
			return "", onClaim(tx, credits)
		}
		return "", nil
	})
	if err != nil {
		return p, nil, err
	}
	if !split {
		in := CancelInput{ResolutionMode: ResolutionRefund}
		if onClaim != nil {
			in.OnClaim = func(tx *sql.Tx, c Transaction) error { return onClaim(tx, []Transaction{c}) }
		}
		if amount > 0 {
			in.Amount = &amount
		}
		p, c, err := s.CancelOrRefund(ctx, shopID, uuid, in)
		if err != nil {
			return p, nil, err
		}
		return p, []Transaction{c}, nil
	}
	out := make([]Transaction, len(credits))
	for i, c := range credits {
		actx, cancel := s.acquirerContext(ctx)
		res, rerr := s.acq.Refund(actx, c.UUID, parents[i].CaptureRef, c.Amount, c.Currency)
		cancel()
		np, nc, err := s.settleRefund(ctx, c.UUID, outcome{res: res, err: rerr})
		if err != nil {
			return np, nil, err
		}
		p, out[i] = np, nc
	}
	return p, out, nil
}
