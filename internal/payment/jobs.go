package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// Background jobs. A scheduler calls each periodically, on every openpsp
// copy; the claims (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, then an
// UPDATE that repeats the condition) give each piece of work to one copy.

// CaptureDue captures up to limit AUTHORISED debits whose expected capture
// date has come (captureDelay days after the authorization: with the
// default 0, the next run after the authorization). It returns how many it
// captured.
func (s *Service) CaptureDue(ctx context.Context, limit int) (int, error) {
	n, _, err := s.captureDue(ctx, limit)
	return n, err
}

// CaptureAllDue runs CaptureDue in rounds of batch until a round claims
// fewer (or ctx ends), so that under load a run captures what the payments
// made since the last one instead of one batch per tick. It returns how
// many it captured.
func (s *Service) CaptureAllDue(ctx context.Context, batch int) (int, error) {
	return s.CaptureAllDueUntil(ctx, nil, batch)
}

// CaptureAllDueUntil is CaptureAllDue that also ends when stop closes (nil:
// never), more gently than at the end of ctx: the round in progress
// captures and records every capture it claimed, then no round starts.
// The app's capture job stops so at shutdown, instead of claiming rounds
// until its grace is over and being cut in the middle of one.
func (s *Service) CaptureAllDueUntil(ctx context.Context, stop <-chan struct{}, batch int) (int, error) {
	total := 0
	for ctx.Err() == nil {
		select {
		case <-stop:
			return total, nil
		default:
		}
		n, claimed, err := s.captureDue(ctx, batch)
		total += n
		if err != nil || claimed < batch {
			return total, err
		}
	}
	return total, nil
}

func (s *Service) captureDue(ctx context.Context, limit int) (captured, claimedN int, err error) {
	claimed, err := s.db.ClaimCaptures(ctx, s.clock.Now(), limit)
	if err != nil {
		return 0, 0, err
	}
	// The claimed captures run side by side: each is an acquirer call and
	// two writes, and one after the other they waited for a commit each
	// (about 50 captures a second under load, fewer than the payments
	// that made them); together they share the group commits.
	var (
		n   atomic.Int64
		wg  sync.WaitGroup
		sem = make(chan struct{}, captureParallelism)
	)
	notify := s.batchNotice(ctx, claimed)
	known := s.paymentsOf(ctx, claimed)
	for i := range claimed {
		r := &claimed[i] // not a copy for each goroutine
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, t, err := s.runCapture(ctx, known(r.PaymentID), transactionFromRecord(*r), notify[r.ShopID])
			if err != nil {
				s.log.Error("payment: capture", "transaction", r.UUID, "err", err)
				return
			}
			if t.DetailedStatus == Captured {
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(n.Load()), len(claimed), nil
}

// captureRetry is the wait before a capture the acquirer could not take
// is sent again, after each failure; the last step repeats until the
// capture is made (or the authorization expires). A deferred
// authorization the acquirer could not take waits the same, until its
// capture date (settleDeferredAuthorization).
var captureRetry = outbox.Schedule{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour}

// captureOutcome logs a capture that failed and, when nothing was
// performed (the claim is released), defers the transaction's next capture
// by captureRetry, before the outcome is recorded. A success ends the
// streak of failures in the log.
func (s *Service) captureOutcome(ctx context.Context, t Transaction, o outcome) {
	if o.err == nil {
		s.captureErrs.Recovered(ctx, s.log, s.clock.Now(), "payment: captures go through again")
		return
	}
	var next time.Time
	failures := 0
	if !o.unknown() {
		failures, next = s.retryLater(ctx, t, time.Time{})
	}
	args := []any{"transaction", t.UUID, "err", o.err}
	if failures > 0 {
		args = append(args, "failures", failures, "next", next)
	} else if o.unknown() {
		args = append(args, "next", "recovery asks the acquirer")
	}
	s.captureErrs.Failed(ctx, s.log, slog.LevelWarn, s.clock.Now(), "payment: capture failed, will retry", args...)
}

// retryLater records that t's pending operation (claimed, not performed)
// failed once more and defers its next try by captureRetry, to latest at
// the most when latest is not zero. It returns the failures so far and
// the time of the next try (0 and zero when nothing was recorded).
func (s *Service) retryLater(ctx context.Context, t Transaction, latest time.Time) (int, time.Time) {
	var next time.Time
	failures, err := s.db.PendingOpFailed(writeContext(ctx), t.UUID, t.PendingOpID, func(n int) time.Time {
		next = s.clock.Now().Add(captureRetry.Wait(n, outbox.DefaultJitter, rand.Float64()))
		if !latest.IsZero() && next.After(latest) {
			next = latest
		}
		return next
	})
	if err != nil {
		s.log.Error("payment: record the failure of "+t.PendingOp, "transaction", t.UUID, "err", err)
		return 0, time.Time{}
	}
	return failures, next
}

// paymentsOf reads the payments of claimed transactions in one go and
// returns a lookup giving each caller a payment of its own (nil when it
// could not be read: runCapture then reads it itself).
func (s *Service) paymentsOf(ctx context.Context, claimed []store.TransactionRecord) func(id string) *Payment {
	ids := make([]string, 0, len(claimed))
	for _, r := range claimed {
		ids = append(ids, r.PaymentID)
	}
	payments, txs, err := s.db.PaymentsWithTransactions(ctx, ids)
	if err != nil {
		s.log.Warn("payment: read the claimed captures' payments", "err", err)
	}
	return func(id string) *Payment {
		r, ok := payments[id]
		if !ok {
			return nil
		}
		p := s.assemble(r, txs[id])
		return &p
	}
}

// batchNotice tells, per shop of the claimed transactions, whether the
// shop wants the IPN of changes made by batch (shop.Settings.
// IPNOnBatchChange). A shop that cannot be read gets its IPNs.
func (s *Service) batchNotice(ctx context.Context, claimed []store.TransactionRecord) map[string]bool {
	return s.shopRule(ctx, claimed, func(st shop.Settings) bool { return st.IPNOnBatchChange })
}

// shopRule tells, per shop of the claimed transactions, whether rule holds
// for its settings; a shop that cannot be read gets true (its IPNs).
func (s *Service) shopRule(ctx context.Context, claimed []store.TransactionRecord, rule func(shop.Settings) bool) map[string]bool {
	notify := map[string]bool{}
	for _, r := range claimed {
		if _, ok := notify[r.ShopID]; ok {
			continue
		}
		sh, err := s.db.Shop(ctx, r.ShopID)
		notify[r.ShopID] = err != nil || rule(sh.Settings)
	}
	return notify
}

// AuthorizeDue sends the authorization of up to limit WAITING_AUTHORISATION
// debits whose capture date is a day away or less (store.AuthorizeAhead:
// D-1, as Lyra does, so that the capture on the date finds it
// authorized), or whose retry time has come: a merchant-initiated
// authorization of the amount (as lowered meanwhile), with the card kept
// for the transaction (deferredCardOf) and no security code. Approved, the debit is
// AUTHORISED and the capture job captures it on its date; refused, it is
// REFUSED and the merchant is told (email notice). The IPN is sent when
// the shop has IPNOnBatchAuthorization. An authorization the acquirer (or
// the vault) could not take is sent again after captureRetry's growing
// wait, until the capture date: still not sent then, the debit is ERROR
// and the merchant is told as of a refusal (technical error), and the
// buyer that the debit was not made (decisionFacts). A refusal is final: Lyra
// reruns refused authorizations only up to two days before the capture
// date, already past at D-1. Each debit is claimed first
// (store.ClaimAuthorizations), so copies never send it twice, and the
// claim's operation id makes a resend after a crash idempotent at the
// acquirer; an answer that never came is settled by RecoverRunning. It
// returns how many it authorized.
func (s *Service) AuthorizeDue(ctx context.Context, limit int) (int, error) {
	now := s.clock.Now()
	claimed, err := s.db.ClaimAuthorizations(ctx, now, limit)
	if err != nil {
		return 0, err
	}
	notify := s.shopRule(ctx, claimed, ipnOnBatchAuthorization)
	n := 0
	for _, r := range claimed {
		t, err := s.runAuthorisation(ctx, transactionFromRecord(r), notify[r.ShopID])
		if err != nil {
			s.log.Error("payment: deferred authorization", "transaction", r.UUID, "err", err)
			continue
		}
		if t.DetailedStatus == Authorised {
			n++
		}
	}
	return n, nil
}

// ipnOnBatchAuthorization is the shop's rule for the IPN of a deferred
// authorization's outcome, whichever path settles it (the job, recovery).
func ipnOnBatchAuthorization(st shop.Settings) bool { return st.IPNOnBatchAuthorization }

// runAuthorisation sends the claimed authorization of a WAITING_AUTHORISATION
// debit and records its outcome, with its IPN when notify. The card is the
// one typed on the form and kept for this transaction (deferredCard), else
// the token's. A card the vault no longer gives (token cancelled, purged)
// refuses the payment: there is no card to authorize.
func (s *Service) runAuthorisation(ctx context.Context, t Transaction, notify bool) (Transaction, error) {
	var o outcome
	if s.vault == nil {
		return t, errors.New("payment: deferred authorization: no card vault configured")
	}
	sc, err := s.deferredCardOf(ctx, t)
	switch {
	case err == nil:
		brand := card.Brand(t.Brand)
		if brand == "" {
			brand = sc.PAN.Brand()
		}
		actx, cancel := s.acquirerContext(ctx)
		o.res, o.err = s.acq.Authorize(actx, acquirer.AuthorizeRequest{
			OperationID: t.PendingOpID, ShopID: t.ShopID, Amount: t.Amount, Currency: t.Currency,
			PAN: sc.PAN, Expiry: sc.Expiry, Brand: brand, Initiator: acquirer.InitiatorMIT,
		})
		cancel()
	case isTokenError(err):
		o.res = acquirer.Result{ResponseCode: acquirer.CodeNotPermitted, Message: "the card's token is no longer usable"}
	default:
		// Not sent: release the claim, the next run tries again.
		o.err = fmt.Errorf("payment: read the card of the deferred authorization: %w: %w", acquirer.ErrUnavailable, err)
	}
	if o.unknown() {
		s.log.Warn("payment: deferred authorization outcome unknown, left for recovery", "transaction", t.UUID, "err", o.err)
	}
	return s.settleDeferredAuthorization(ctx, t, o, notify)
}

// settleDeferredAuthorization records the outcome o of the claimed
// authorization of WAITING_AUTHORISATION debit t, with its IPN when
// notify. AuthorizeDue and recovery (recoverPending) both settle through
// it, so the outcome is recorded and told alike. Not performed (the
// acquirer or vault unavailable, or the acquirer never saw it), the claim is
// released and the next try waits for captureRetry's delay, at the latest
// the capture date; a failure at or after that date ends the debit ERROR
// (pendingOutcome). Refused or ERROR, the merchant is told; the refusal of
// a subscription instalment's debit is told the buyer as the instalment's
// (instalmentContext), as an on-time refusal of that instalment is.
func (s *Service) settleDeferredAuthorization(ctx context.Context, t Transaction, o outcome, notify bool) (Transaction, error) {
	ctx = s.instalmentContext(ctx, t)
	if o.err != nil && !o.unknown() && s.clock.Now().Before(t.ExpectedCaptureAt) {
		failures, next := s.retryLater(ctx, t, t.ExpectedCaptureAt)
		s.authorizationErrs.Failed(ctx, s.log, slog.LevelWarn, s.clock.Now(), "payment: deferred authorization failed, will retry",
			"transaction", t.UUID, "err", o.err, "failures", failures, "next", next)
	}
	decide := quietUnless(notify, s.pendingDecision(t.PendingOpID, o))
	_, nt, err := s.apply(writeContext(ctx), "", t.UUID, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
		event, err := decide(p, t, s.clock.Now())
		if err != nil {
			return event, err
		}
		switch t.DetailedStatus {
		case Authorised:
			// Its capture counts its own failures.
			err = store.ForgetFailures(tx, t.UUID)
		case Refused, Error:
			// The buyer was told the payment was accepted; the merchant
			// learns it was not (and the buyer, when the shop confirms
			// orders by email).
			s.notifyDecision(ctx, tx, p, t, s.clock.Now())
		}
		return event, err
	})
	if err == nil && nt.DetailedStatus == Authorised {
		s.authorizationErrs.Recovered(ctx, s.log, s.clock.Now(), "payment: deferred authorizations go through again")
	}
	return nt, err
}

// deferredCardOf reads the card a deferred authorization sends: the card
// typed on the form, kept in the vault for this transaction, or else the
// card of its token.
func (s *Service) deferredCardOf(ctx context.Context, t Transaction) (StoredCard, error) {
	if t.deferredCard != "" {
		return s.vault.DeferredCard(ctx, t.ShopID, t.Mode, t.deferredCard)
	}
	return s.vault.Card(ctx, t.ShopID, t.Mode, t.Token)
}

// isTokenError reports whether err is the vault's answer for a token that
// cannot pay (an application error), rather than a failure to read it.
func isTokenError(err error) bool {
	_, ok := errs.As(err)
	return ok
}

// captureParallelism bounds the captures of one CaptureDue run in flight
// at once (acquirer calls and writes).
const captureParallelism = 128

// ExpireUnvalidated moves to EXPIRED up to limit debits the merchant did
// not validate in time: AUTHORISED_TO_VALIDATE ones whose authorization
// validity has passed, and WAITING_AUTHORISATION_TO_VALIDATE ones whose
// capture date has come (Lyra authorizes a deferred debit in manual
// validation only once validated, the day before the capture date: past
// that date it can no longer be captured on time). Both get the IPN
// payment.expired. It returns how many.
func (s *Service) ExpireUnvalidated(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		limit = 100
	}
	n := 0
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		n = 0
		now := s.clock.Now()
		uuids, err := store.ExpiringToValidate(tx, now, limit)
		if err != nil {
			return err
		}
		for _, u := range uuids {
			_, t, skipped, err := s.applyTx(ctx, tx, "", u, true, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
				if t.PendingOp != "" || !t.validationExpired(now) {
					return "", errNoChange
				}
				return "payment.expired", t.transition(Expired)
			})
			if err != nil {
				return err
			}
			if !skipped && t.DetailedStatus == Expired {
				n++
			}
		}
		return nil
	})
	return n, err
}

// validationExpired reports whether t, waiting for the merchant's
// validation, can no longer be validated at now: the authorization has
// expired, or, for a deferred debit not authorized yet, its capture date
// has come.
func (t Transaction) validationExpired(now time.Time) bool {
	return t.toValidate() && !now.Before(t.validationDeadline())
}

// validationDeadline is when t, waiting for the merchant's validation,
// expires (zero for a transaction not to validate).
func (t Transaction) validationDeadline() time.Time {
	switch t.DetailedStatus {
	case AuthorisedToValidate:
		return t.AuthExpiresAt
	case WaitingAuthorisationToValidate:
		return t.ExpectedCaptureAt
	}
	return time.Time{}
}

// RecoverRunning settles up to limit transactions left unsettled for longer
// than olderThan: authorizations and refunds still RUNNING (the acquirer's
// answer never came, or the process died before writing it) and captures or
// cancellations still pending. It asks the acquirer with Inquire and records
// what it did; an operation the acquirer never saw becomes ERROR (an
// authorization or refund: the card details are gone), is released to be
// sent again with the same operation id (a capture), or, a cancellation
// of a debit or of a refund, is sent again by recovery itself under the
// same operation id (resendCancel). Nothing is ever sent twice. olderThan
// is raised to the acquirer timeout, so that a call still waiting for its
// answer is not taken for a lost one. It returns how many it settled.
func (s *Service) RecoverRunning(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	return s.RecoverRunningUntil(ctx, nil, olderThan, limit)
}

// RecoverRunningUntil is RecoverRunning that also ends when stop closes
// (nil: never), as CaptureAllDueUntil does: the RUNNING transactions it
// claimed are all settled, then, stop closed, it claims no pending
// operation (the next run, or the next copy, takes them). The app's
// recovery job stops so at shutdown.
func (s *Service) RecoverRunningUntil(ctx context.Context, stop <-chan struct{}, olderThan time.Duration, limit int) (int, error) {
	if min := s.cfg.AcquirerTimeout + 5*time.Second; olderThan < min {
		olderThan = min
	}
	now := s.clock.Now()
	cutoff := now.Add(-olderThan)
	n := 0
	running, err := s.db.ClaimRunning(ctx, cutoff, now, limit)
	if err != nil {
		return 0, err
	}
	for _, r := range running {
		if s.recoverRunning(ctx, transactionFromRecord(r)) {
			n++
		}
	}
	select {
	case <-stop:
		return n, nil
	default:
	}
	pending, err := s.db.ClaimPendingOps(ctx, cutoff, now, limit)
	if err != nil {
		return n, err
	}
	for _, r := range pending {
		if s.recoverPending(ctx, transactionFromRecord(r)) {
			n++
		}
	}
	return n, nil
}

func (s *Service) inquire(ctx context.Context, opID string) (outcome, bool, error) {
	actx, cancel := s.acquirerContext(ctx)
	defer cancel()
	res, found, err := s.acq.Inquire(actx, opID)
	return outcome{res: res}, found, err
}

// inquiryFailed logs a failed recovery inquiry, at most a line a minute
// while the acquirer cannot be asked (each transaction is asked again at
// every recovery period).
func (s *Service) inquiryFailed(t Transaction, err error) {
	s.inquiryErrs.Failed(context.Background(), s.log, slog.LevelWarn, s.clock.Now(), "payment: recovery inquiry failed, will retry",
		"transaction", t.UUID, "err", err)
}

// inquiryWorked logs the end of a streak of failed inquiries.
func (s *Service) inquiryWorked() {
	s.inquiryErrs.Recovered(context.Background(), s.log, s.clock.Now(), "payment: recovery inquiries answered again")
}

func (s *Service) recoverRunning(ctx context.Context, t Transaction) bool {
	o, found, err := s.inquire(ctx, t.UUID)
	if err != nil {
		s.inquiryFailed(t, err)
		return false
	}
	s.inquiryWorked()
	if !found {
		o = outcome{err: errNeverSent}
	}
	var nt Transaction
	if t.OperationType == Credit {
		_, nt, err = s.settleRefund(ctx, t.UUID, o)
	} else {
		ctx = context.WithValue(s.instalmentContext(ctx, t), lateDecisionKey{}, true)
		_, nt, err = s.apply(writeContext(ctx), "", t.UUID, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
			if t.DetailedStatus != Initial {
				return "", errNoChange
			}
			return s.authorizationOutcome(ctx, tx, p, t, o, onAccept{})
		})
	}
	if err != nil {
		s.log.Error("payment: recovery", "transaction", t.UUID, "err", err)
		return false
	}
	return nt.DetailedStatus != Initial
}

// instalmentContext carries to the decision of t, settled late, what its
// refusal means for the subscription instalment it pays, as PayToken does
// for CreateInput.Instalment: the buyer then hears of it as of an on-time
// refusal (to be retried, or failed), not as of a one-off payment.
func (s *Service) instalmentContext(ctx context.Context, t Transaction) context.Context {
	if s.instalments == nil || t.PaymentMethodSource != "TOKEN" {
		return ctx
	}
	next, ok := s.instalments(ctx, t.PaymentID)
	if !ok {
		return ctx
	}
	return context.WithValue(ctx, instalmentKey{}, next)
}

func (s *Service) recoverPending(ctx context.Context, t Transaction) bool {
	if t.OperationType == Credit && t.PendingOp == opCapture {
		// A refund's capture asks the acquirer nothing (runCapture): the
		// one whose write was lost is made again.
		_, nt, err := s.runCapture(ctx, nil, t, false)
		if err != nil {
			s.log.Error("payment: recovery", "transaction", t.UUID, "err", err)
			return false
		}
		return nt.PendingOp == ""
	}
	o, found, err := s.inquire(ctx, t.PendingOpID)
	if err != nil {
		s.inquiryFailed(t, err)
		return false
	}
	s.inquiryWorked()
	if !found {
		// Never reached the acquirer: release the claim; the same
		// operation id is sent again by the next capture or authorization
		// run (after captureRetry's wait).
		o = outcome{err: errNeverSent}
	}
	if t.PendingOp == opAuthorise {
		sh, err := s.db.Shop(ctx, t.ShopID)
		notify := err != nil || ipnOnBatchAuthorization(sh.Settings) // as shopRule: unreadable, the IPN goes
		nt, err := s.settleDeferredAuthorization(ctx, t, o, notify)
		if err != nil {
			s.log.Error("payment: recovery", "transaction", t.UUID, "err", err)
			return false
		}
		return nt.PendingOp == ""
	}
	if !found && t.PendingOp == opCapture {
		s.captureOutcome(ctx, t, o)
	}
	if !found && t.PendingOp == opCancel {
		// The merchant asked for this cancellation and may never retry
		// it: released, the debit would be captured at its capture date,
		// the refund remitted to the buyer at its capture. Send it again
		// under the same operation id (the acquirer cannot make it
		// twice; a refund's is withdrawn by the same Cancel, its
		// AcquirerRef the refund's reference). Unreachable again, it
		// stays pending for the next round; refused, the transaction
		// stays AUTHORISED.
		var ok bool
		if o, ok = s.resendCancel(ctx, t); !ok {
			return false
		}
	}
	_, nt, err := s.settlePending(ctx, t.UUID, t.PendingOpID, o)
	if err != nil {
		s.log.Error("payment: recovery", "transaction", t.UUID, "err", err)
		return false
	}
	return nt.PendingOp == ""
}

// resendCancel sends again the pending cancellation of debit or refund t that
// recovery found the acquirer never received, and returns its outcome to
// record, or false when there is nothing to record yet: the acquirer could
// not be reached or did not answer, and the cancellation stays pending for
// the next recovery round.
func (s *Service) resendCancel(ctx context.Context, t Transaction) (outcome, bool) {
	actx, cancel := s.acquirerContext(ctx)
	res, err := s.acq.Cancel(actx, t.PendingOpID, t.AcquirerRef)
	cancel()
	o := outcome{res: res, err: err}
	switch {
	case err != nil:
		s.log.Warn("payment: recovery could not send the cancellation again, left pending", "transaction", t.UUID, "err", err)
		return o, false
	case !res.Approved:
		s.log.Warn("payment: recovery sent the cancellation again, the acquirer refused it", "transaction", t.UUID,
			"response_code", res.ResponseCode, "message", res.Message)
	}
	return o, true
}
