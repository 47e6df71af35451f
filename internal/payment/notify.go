package payment

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
)

// Buyer and merchant notifications (order confirmations, token notices) go
// through package notify, in the transaction of the decision, each in a
// savepoint of its own: a notification that cannot be queued never undoes a
// payment.

// notifyDecision queues the notifications of a decided debit (authorized,
// to validate, refused, error).
func (s *Service) notifyDecision(ctx context.Context, tx *sql.Tx, p *Payment, t *Transaction, now time.Time) {
	if t.OperationType != Debit {
		return
	}
	if err := s.inSavepoint(tx, "notify_payment", t.UUID, func() error {
		sh, err := store.ShopTx(tx, p.ShopID)
		if err != nil {
			return err
		}
		_, err = notify.PaymentEvent(tx, now, sh, decisionFacts(ctx, p, t, now), deref(p.Customer.Email), deref(p.Customer.BillingDetails.Language))
		return err
	}); err != nil {
		// A deadlock: the payment's write stands, as for any
		// failure of its notifications' (their signatures return none).
		s.log.Error("payment: notify_payment", "transaction", t.UUID, "err", err)
	}
}

// decisionMessages is notifyDecision for a write prepared in advance
// (settleKnown): the messages to insert. A failure is logged and the
// payment goes on without them, as notifyDecision's savepoint does.
func (s *Service) decisionMessages(ctx context.Context, p *Payment, t *Transaction, now time.Time) []outbox.Message {
	if t.OperationType != Debit {
		return nil
	}
	sh, err := s.db.Shop(ctx, p.ShopID)
	if err == nil {
		var out notify.Enqueued
		out, err = notify.PaymentMessages(now, sh, decisionFacts(ctx, p, t, now), deref(p.Customer.Email), deref(p.Customer.BillingDetails.Language))
		if err == nil {
			return out.Messages
		}
	}
	s.log.Error("payment: notify_payment", "transaction", t.UUID, "err", err)
	return nil
}

func decisionFacts(ctx context.Context, p *Payment, t *Transaction, now time.Time) notify.PaymentFacts {
	f := notify.PaymentFacts{
		PaymentID: p.ID, OrderID: p.OrderID, TransactionID: t.UUID, Mode: p.Mode, Accepted: t.Status != StatusUnpaid,
		Amount: t.Amount, Currency: t.Currency, Brand: t.Brand, PANMasked: t.PANMasked, At: now,
		BuyerName: buyerName(p.Customer), TechnicalError: t.DetailedStatus == Error,
	}
	if t.DetailedStatus == Refused && t.MarkAuthAt.IsZero() {
		// A refused attempt on the form (not a deferred debit refused
		// after its card check was accepted: that buyer was told it was
		// accepted).
		f.RefusedBefore = refusedBefore(p, t)
	}
	if t.DetailedStatus == WaitingAuthorisation || t.DetailedStatus == WaitingAuthorisationToValidate {
		f.DebitOn = t.ExpectedCaptureAt
	}
	next, instalment := ctx.Value(instalmentKey{}).(func(Transaction) notify.Instalment)
	if instalment && (t.DetailedStatus == Refused || t.DetailedStatus == CaptureFailed) {
		in := next(*t)
		f.Instalment = &in
	}
	if t.DetailedStatus == Error && !t.MarkAuthAt.IsZero() && !instalment {
		// A deferred debit its D-1 authorization could not take by the
		// capture date: the buyer, told it was accepted, is told it was
		// not made. A subscription's instalment is retried instead, and
		// its technical failures are told nobody but the merchant.
		f.DebitAfterCheck = true
	}
	return f
}

// refusedBefore reports whether a debit of p other than t, an earlier
// attempt (one debit is live at a time), was refused.
func refusedBefore(p *Payment, t *Transaction) bool {
	for _, u := range p.Transactions {
		if u.UUID != t.UUID && u.OperationType == Debit && u.DetailedStatus == Refused {
			return true
		}
	}
	return false
}

// instalmentKey carries CreateInput.Instalment from PayToken to the
// notifications of its decision.
type instalmentKey struct{}

// notifyToken queues the notifications of a card saved during a payment or
// verification; the notification URL, if the shop wants one, gets the
// payment as kr-answer.
func (s *Service) notifyToken(ctx context.Context, tx *sql.Tx, p *Payment, t *Transaction, kind notify.TokenKind, now time.Time) {
	if err := s.inSavepoint(tx, "notify_token", t.UUID, func() error {
		sh, err := store.ShopTx(tx, p.ShopID)
		if err != nil {
			return err
		}
		q := *p
		replace(&q, *t)
		q.deriveOrder(now)
		answer, err := answerString(q, now)
		if err != nil {
			return err
		}
		_, err = notify.TokenEvent(tx, now, sh, kind, notify.TokenFacts{
			Token: t.Token, Mode: p.Mode, Brand: t.Brand, PANMasked: t.PANMasked, ExpiryMonth: t.ExpiryMonth,
			ExpiryYear: t.ExpiryYear, CustomerReference: deref(p.Customer.Reference), OrderID: p.OrderID, At: now,
			KRAnswer: answer, NotificationURL: p.Options.IPNTargetURL,
		}, notify.Buyer{Email: deref(p.Customer.Email), Phone: deref(p.Customer.BillingDetails.CellPhoneNumber),
			Language: deref(p.Customer.BillingDetails.Language), Name: buyerName(p.Customer)})
		return err
	}); err != nil {
		// A deadlock: the payment's write stands, as for any
		// failure of its notifications' (their signatures return none).
		s.log.Error("payment: notify_token", "transaction", t.UUID, "err", err)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func buyerName(c Customer) string {
	return strings.TrimSpace(deref(c.BillingDetails.FirstName) + " " + deref(c.BillingDetails.LastName))
}
