package subscription

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// maxCatchUp bounds how many instalments of one subscription one run
// creates (after a long stop, the others come at the next runs).
const maxCatchUp = 50

// errClaimLost: another copy took the instalment over (our claim expired).
// It must not wrap store.ErrConflict, which PayToken would take for a
// duplicate order.
var errClaimLost = errors.New("subscription: instalment claim lost to another copy")

// errCancelled: the subscription was cancelled before the payment started.
var errCancelled = errors.New("subscription: cancelled before the instalment was charged")

// ChargeDue is the scheduler job, run periodically on every openpsp copy.
// It creates the instalments whose date has come (each exactly once: the
// subscription row is locked with SKIP LOCKED and the instalment is unique
// per sequence), settles instalments whose outcome was left unknown, then
// claims up to limit instalments due for an attempt and charges each with
// the subscription's token. It returns how many payments it made.
func (s *Service) ChargeDue(ctx context.Context, limit int) (int, error) {
	return s.ChargeDueUntil(ctx, nil, limit)
}

// ChargeDueUntil is ChargeDue that also ends when stop closes (nil: never),
// as payment.CaptureAllDueUntil does: the stale instalments it claimed are
// all settled, then, stop closed, it claims no instalment due for an
// attempt, so no new charge starts (the next run, or the next copy, makes
// them). The app's job stops so at shutdown.
func (s *Service) ChargeDueUntil(ctx context.Context, stop <-chan struct{}, limit int) (int, error) {
	if limit <= 0 {
		limit = 100
	}
	now := s.clock.Now()
	if err := s.createDue(ctx, now, limit); err != nil {
		return 0, err
	}
	stale, err := s.db.ClaimStaleCharging(ctx, now, s.cfg.Lease, limit)
	if err != nil {
		return 0, err
	}
	for _, inst := range stale {
		s.settleStale(ctx, inst)
	}
	select {
	case <-stop:
		return 0, nil
	default:
	}
	claimed, err := s.db.ClaimInstalments(ctx, now, s.cfg.Lease, limit)
	if err != nil {
		return 0, err
	}
	var n atomic.Int64
	work := make(chan store.InstalmentRecord)
	var wg sync.WaitGroup
	for i := 0; i < min(s.cfg.Workers, len(claimed)); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for inst := range work {
				if s.charge(ctx, inst) {
					n.Add(1)
				}
			}
		}()
	}
	for _, inst := range claimed {
		work <- inst
	}
	close(work)
	wg.Wait()
	return int(n.Load()), nil
}

// createDue creates the instalments of up to limit subscriptions whose
// next date has come.
func (s *Service) createDue(ctx context.Context, now time.Time, limit int) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		subs, err := store.DueSubscriptions(tx, s.db.Dialect(), now, limit)
		if err != nil {
			return err
		}
		for i := range subs {
			if err := s.createInstalments(tx, &subs[i], now); err != nil {
				return err
			}
		}
		return nil
	})
}

// amountOf is the amount of instalment seq: initialAmount for the first
// initialAmountNumber ones, then amount.
func amountOf(r store.SubscriptionRecord, seq int) int64 {
	if r.InitialAmount != nil && seq <= r.InitialAmountNumber {
		return *r.InitialAmount
	}
	return r.Amount
}

// createInstalments turns the dates of r (locked in tx) that have come into
// instalments and moves its schedule on.
func (s *Service) createInstalments(tx *sql.Tx, r *store.SubscriptionRecord, now time.Time) error {
	rule, err := ParseRule(r.RRule)
	if err != nil {
		// Rules are checked when stored; one that no longer parses stops
		// rather than being retried forever.
		s.log.Error("subscription: stored rrule does not parse, schedule stopped", "subscription", r.ID, "err", err)
		r.NextDueAt = time.Time{}
	}
	for i := 0; err == nil && !r.NextDueAt.IsZero() && !r.NextDueAt.After(now) && i < maxCatchUp; i++ {
		if !r.CancelDate.IsZero() && r.NextDueAt.After(r.CancelDate) {
			r.NextDueAt = time.Time{}
			break
		}
		inst := store.InstalmentRecord{
			ID: ids.New(), SubscriptionID: r.ID, ShopID: r.ShopID, Sequence: r.NextSequence, DueAt: r.NextDueAt,
			Amount: amountOf(*r, r.NextSequence), Currency: r.Currency, Status: store.InstalmentDue,
			NextAttemptAt: r.NextDueAt, CreatedAt: now, UpdatedAt: now,
		}
		if err := store.InsertInstalment(tx, inst); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
		r.NextSequence++
		r.ScheduleDone++
		r.LastDueAt = r.NextDueAt
		if next, ok := rule.Next(r.ScheduleStart, r.LastDueAt, r.ScheduleDone); ok {
			r.NextDueAt = next
		} else {
			r.NextDueAt = time.Time{}
		}
	}
	// A termination date that has passed leaves the status ACTIVE: the
	// instalments due before it are owed and their retries go on. Only an
	// immediate cancellation (status CANCELLED) stops those.
	r.UpdatedAt = now
	return store.UpdateSubscription(tx, r)
}

// charge makes one attempt at a claimed instalment. It reports whether a
// payment was made.
func (s *Service) charge(ctx context.Context, inst store.InstalmentRecord) bool {
	log := s.log.With("subscription", inst.SubscriptionID, "sequence", inst.Sequence)
	if s.technicalFailures(inst, inst.Attempts) >= s.cfg.Retry.MaxTechnical {
		// Its failure was decided but waited for its notice (release):
		// it is recorded now, without a new payment.
		s.release(ctx, inst, store.InstalmentOutcome{Status: store.InstalmentFailed, Refusals: inst.Refusals,
			ErrorCode: inst.ErrorCode, ErrorDetail: inst.ErrorDetail})
		return false
	}
	sub, err := store.GetSubscription(ctx, s.db.Reader(), inst.ShopID, inst.SubscriptionID)
	if err != nil {
		log.Error("subscription: read subscription", "err", err)
		s.release(ctx, inst, s.internalFailure(inst))
		return false
	}
	sh, err := s.db.Shop(ctx, inst.ShopID)
	if err != nil {
		log.Error("subscription: read shop", "err", err)
		s.release(ctx, inst, s.internalFailure(inst))
		return false
	}
	var opts Options
	_ = json.Unmarshal([]byte(sub.Options), &opts)
	var md map[string]string
	_ = json.Unmarshal([]byte(sub.Metadata), &md)
	attempt := 0
	in := payment.CreateInput{
		Amount: inst.Amount, Currency: inst.Currency, OrderID: sub.OrderID, FormAction: payment.ActionSilent,
		PaymentMethodToken: sub.Token, IPNTargetURL: opts.IPNTargetURL, CaptureDelay: opts.CaptureDelay,
		ManualValidation: opts.ManualValidation, PaymentSource: opts.PaymentSource, Metadata: md, SubscriptionID: sub.ID,
		Instalment: func(t payment.Transaction) notify.Instalment { return s.instalmentNotice(inst, attempt, t) },
		OnStart: func(tx *sql.Tx, paymentID, uuid string) error {
			// The subscription row is locked first, as Cancel does: a
			// cancellation either comes before this payment (which is then
			// not made) or waits until it is under way.
			cur, err := store.LockSubscription(tx, s.db.Dialect(), "", inst.SubscriptionID)
			if err != nil {
				return err
			}
			if cur.Status == StatusCancelled {
				return errCancelled
			}
			a, err := store.AttachInstalmentPayment(tx, inst.ID, inst.ClaimID, paymentID, uuid, s.clock.Now())
			if errors.Is(err, store.ErrConflict) {
				return errClaimLost
			}
			attempt = a
			return err
		},
	}
	p, t, err := s.pay.PayToken(ctx, sh, shop.Credentials{ShopID: sh.ID, Mode: sub.Mode}, in)
	switch {
	case errors.Is(err, errClaimLost):
		log.Warn("subscription: instalment taken over by another copy, not charged here")
		return false
	case errors.Is(err, errCancelled):
		s.release(ctx, inst, store.InstalmentOutcome{Status: store.InstalmentCancelled, Refusals: inst.Refusals})
		return false
	case err != nil:
		e, ok := errs.As(err)
		if ok && e.Code != errs.Internal {
			// The token cannot pay (cancelled, purged, expired card) or
			// the shop no longer allows it: trying again will not help.
			detail := e.Detail
			if detail == "" {
				detail = e.Message
			}
			log.Warn("subscription: instalment refused before payment", "code", e.Code, "detail", detail)
			s.release(ctx, inst, store.InstalmentOutcome{Status: store.InstalmentFailed, Refusals: inst.Refusals,
				ErrorCode: e.Code, ErrorDetail: detail})
			return false
		}
		// Nothing was charged if no payment was attached (release then
		// succeeds); otherwise the stale pass settles it from the payment.
		log.Error("subscription: charge failed", "err", err)
		s.release(ctx, inst, s.internalFailure(inst))
		return false
	}
	s.settle(ctx, inst, attempt, p.ID, t)
	return true
}

// instalmentNotice says what the refusal t of attempt number attempt at
// inst leads to, for the buyer's notice: the buyer hears of a refusal when
// it is the instalment's first (it will be retried) and when it is final.
func (s *Service) instalmentNotice(inst store.InstalmentRecord, attempt int, t payment.Transaction) notify.Instalment {
	o, _ := s.outcome(inst, attempt, t)
	n := notify.Instalment{Told: inst.Refusals > 0}
	if o.Status == store.InstalmentDue {
		n.RetryAt = o.NextAttemptAt
	}
	return n
}

// recoveredInstalment is the payment.InstalmentLookup of s: the notice of a
// late refusal (recovery settling an attempt whose authorization timed out)
// is the one an on-time refusal of that attempt gets.
func (s *Service) recoveredInstalment(ctx context.Context, paymentID string) (func(payment.Transaction) notify.Instalment, bool) {
	inst, attempt, err := store.InstalmentOfPayment(ctx, s.db.Reader(), paymentID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("subscription: instalment of a recovered payment", "payment", paymentID, "err", err)
		}
		return nil, false
	}
	return func(t payment.Transaction) notify.Instalment { return s.instalmentNotice(inst, attempt, t) }, true
}

// settleStale settles an instalment whose payment was made but whose
// outcome was not recorded: the copy died before settling it (a payment
// that payment.RecoverRunning decides late is followed in that write by
// followDebit; this is the fallback).
func (s *Service) settleStale(ctx context.Context, inst store.InstalmentRecord) {
	_, t, err := s.pay.Get(ctx, inst.ShopID, inst.TransactionUUID)
	if err != nil {
		s.log.Error("subscription: read instalment payment", "subscription", inst.SubscriptionID,
			"sequence", inst.Sequence, "err", err)
		return
	}
	s.settle(ctx, inst, inst.Attempts, inst.PaymentID, t)
}

// settle records the outcome of attempt number attempts of inst, paid by
// paymentID with transaction t. A transaction still RUNNING, a deferred
// debit still waiting for its authorization, or a debit waiting for the
// merchant's validation, is left: the instalment stays CHARGING with its
// payment, which ClaimInstalments never charges again, and is settled by
// followDebit in the write that decides the debit, recovery's of a RUNNING
// one included (the stale pass settles the rest: an attempt whose copy
// died before settling it).
func (s *Service) settle(ctx context.Context, inst store.InstalmentRecord, attempts int, paymentID string, t payment.Transaction) {
	o, final := s.outcome(inst, attempts, t)
	if !final {
		s.waitForAuthorization(ctx, inst, t)
		return
	}
	reason, tell := settledNotice(t, o)
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		ok, err := store.SettleInstalment(tx, inst.ID, paymentID, o)
		if !ok || err != nil || !tell {
			return err
		}
		failed := inst
		failed.Attempts = attempts
		return s.failedNotice(ctx, tx, failed, o, reason)
	})
	if err != nil {
		// The claim expires and the stale pass settles it (with its
		// notice, which is never left out).
		s.log.Error("subscription: record instalment outcome", "subscription", inst.SubscriptionID,
			"sequence", inst.Sequence, "err", err)
	}
}

// waitForAuthorization holds the claim of inst, whose deferred debit t is
// validated but not authorized yet, until a lease after the authorization
// is due (store.AuthorizeAhead before the capture date): before then the
// debit cannot be decided, and the stale pass would read it again at every
// lease for weeks. A debit waiting for the merchant's validation keeps the
// lease: it may be validated, or expire, at any time. A capture date moved
// later is found at the next look and the claim pushed again.
func (s *Service) waitForAuthorization(ctx context.Context, inst store.InstalmentRecord, t payment.Transaction) {
	if t.DetailedStatus != payment.WaitingAuthorisation || t.ExpectedCaptureAt.IsZero() {
		return
	}
	until := t.ExpectedCaptureAt.Add(-store.AuthorizeAhead).Add(s.cfg.Lease)
	if !until.After(s.clock.Now().Add(s.cfg.Lease)) {
		return
	}
	if _, err := s.db.ExtendInstalmentClaim(ctx, inst.ID, inst.ClaimID, until); err != nil {
		// The lease ends as usual and the stale pass looks again.
		s.log.Error("subscription: extend the claim of an instalment waiting for its authorization",
			"subscription", inst.SubscriptionID, "sequence", inst.Sequence, "err", err)
	}
}

// outcome applies the retry policy to the transaction of an attempt.
func (s *Service) outcome(inst store.InstalmentRecord, attempts int, t payment.Transaction) (store.InstalmentOutcome, bool) {
	now := s.clock.Now()
	switch {
	case t.AwaitingAuthorisation(), t.DetailedStatus == payment.AuthorisedToValidate:
		// Accepted, but nothing is authorized yet (the authorization sent
		// the day before the capture date decides the instalment), or
		// nothing will be captured until the merchant validates it.
		return store.InstalmentOutcome{}, false
	case merchantEnded[t.DetailedStatus].detail != "":
		// The merchant did not validate the debit in time, or cancelled
		// it: a decision, not a failure that another attempt would mend.
		return store.InstalmentOutcome{Status: store.InstalmentFailed, Refusals: inst.Refusals, ErrorCode: t.ErrorCode,
			ErrorDetail: merchantEnded[t.DetailedStatus].detail, Now: now}, true
	case t.Accepted():
		return store.InstalmentOutcome{Status: store.InstalmentPaid, PaidAmount: t.Amount, Refusals: inst.Refusals, Now: now}, true
	case t.Status == payment.StatusRunning:
		return store.InstalmentOutcome{}, false
	case t.DetailedStatus == payment.Refused, t.DetailedStatus == payment.CaptureFailed:
		// A capture the acquirer refused is a refusal of the debit too
		// (Lyra files CAPTURE_FAILED with REFUSED among the failed
		// statuses; one the acquirer could not take is retried by the
		// capture job and never ends so). Its response code is the
		// capture's, not the issuer's answer to an authorization: the new
		// debit of a retry asks a new authorization, which
		// neverApproved's codes do not forbid.
		detail := t.DetailedErrorCode
		if t.DetailedErrorMessage != "" {
			detail += " " + t.DetailedErrorMessage
		}
		refusals := inst.Refusals + 1
		o := store.InstalmentOutcome{Status: store.InstalmentFailed, Refusals: refusals, ErrorCode: t.ErrorCode,
			ErrorDetail: detail, Now: now}
		delays := s.cfg.Retry.Refused
		final := t.DetailedStatus == payment.Refused && neverApproved[t.DetailedErrorCode]
		if refusals <= len(delays) && !final {
			gap := delays[refusals-1]
			if refusals > 1 {
				gap -= delays[refusals-2]
			}
			o.Status, o.NextAttemptAt = store.InstalmentDue, inst.DueAt.Add(delays[refusals-1])
			if soonest := now.Add(gap); o.NextAttemptAt.Before(soonest) {
				o.NextAttemptAt = soonest
			}
		}
		return o, true
	}
	// ERROR (acquirer unreachable) or any other end: nothing was charged.
	return s.technicalRetry(inst, attempts, t.ErrorCode, t.ErrorMessage), true
}

// settledNotice says whether the merchant is told, by an instalment_failed
// notice with reason, of the attempt whose debit t settled its instalment
// with outcome o. A debit that expired unvalidated or was cancelled has
// only its payment IPN, which does not say that the instalment is over:
// the merchant is told as of an instalment that failed before any
// payment. Any other outcome is told by the payment's IPN. reason is
// merchantEnded's even when tell is false.
func settledNotice(t payment.Transaction, o store.InstalmentOutcome) (reason string, tell bool) {
	end, ok := merchantEnded[t.DetailedStatus]
	return end.reason, ok && o.Status == store.InstalmentFailed
}

// merchantEnded gives, for the ends of a debit that the merchant decided
// (never validated, cancelled), the error detail of its instalment, which
// then fails without a new attempt (the transaction has no error of its
// own), and the reason its merchant's notice gives instead of a charge
// that failed (which would send the merchant to check the card).
var merchantEnded = map[string]struct{ detail, reason string }{
	payment.Expired:   {"EXPIRED: the merchant did not validate the debit in time", notify.InstalmentNotValidated},
	payment.Cancelled: {"CANCELLED: the merchant cancelled the debit", notify.InstalmentCancelled},
}

// neverApproved are the issuer response codes that no retry turns into an
// approval: the card is lost, stolen, closed or unknown, the payment is not
// allowed to it, the cardholder stopped the payments, or its expiry (the
// one saved with the token, which a retry sends again) has passed. The card
// schemes forbid reattempting them (Visa's "issuer will never approve"
// category, Mastercard's "do not try again" advice) and charge for it: such
// an instalment fails at once.
var neverApproved = map[string]bool{
	"04": true, "07": true, "12": true, "14": true, "15": true, "41": true, "43": true, "46": true,
	"54": true, "57": true, "R0": true, "R1": true, "R3": true,
}

// technicalRetry tries again after Retry.Technical, until MaxTechnical
// technical failures: those of the payments made (attempts, counting the
// one that failed, less the refusals) and those before any payment. A
// failure before payment passes inst.Attempts+1.
func (s *Service) technicalRetry(inst store.InstalmentRecord, attempts int, code, detail string) store.InstalmentOutcome {
	now := s.clock.Now()
	o := store.InstalmentOutcome{Status: store.InstalmentDue, Refusals: inst.Refusals,
		NextAttemptAt: now.Add(s.cfg.Retry.Technical), ErrorCode: code, ErrorDetail: detail, Now: now}
	if s.technicalFailures(inst, attempts) >= s.cfg.Retry.MaxTechnical {
		o.Status = store.InstalmentFailed
	}
	return o
}

// technicalFailures counts the technical failures of inst when attempts
// payments were made for it: those of the payments (less the refusals)
// and those before any payment. An instalment waiting for an attempt has
// fewer than Retry.MaxTechnical, unless its failure waits for its notice.
func (s *Service) technicalFailures(inst store.InstalmentRecord, attempts int) int {
	return attempts - inst.Refusals + inst.FailuresBeforePayment
}

// internalFailure is technicalRetry for a failure of OpenPSP itself before
// any payment. The merchant sees the instalment's error detail (the
// instalment_failed webhook and email): it gets the stable V4 technical
// error, the Go error text having been logged by the caller.
func (s *Service) internalFailure(inst store.InstalmentRecord) store.InstalmentOutcome {
	return s.technicalRetry(inst, inst.Attempts+1, errs.Internal, "internal error")
}

// release records the outcome of a claim under which no payment was made.
// An instalment that fails so (the token cannot pay, or the technical
// failures reached their cap) has no payment and so no IPN: the merchant's
// webhook and email are queued in the same transaction. When they cannot
// be (the shop or the subscription cannot be read, which may well be why
// the instalment failed), the failure is not recorded without them: the
// instalment waits Retry.Technical and is tried again, as after a
// technical failure, and fails with its notice once they can be queued.
func (s *Service) release(ctx context.Context, inst store.InstalmentRecord, o store.InstalmentOutcome) {
	if o.Now.IsZero() {
		o.Now = s.clock.Now()
	}
	log := s.log.With("subscription", inst.SubscriptionID, "sequence", inst.Sequence)
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		ok, err := store.ReleaseInstalment(tx, inst.ID, inst.ClaimID, o)
		if !ok || err != nil || o.Status != store.InstalmentFailed {
			return err
		}
		return s.failedNotice(ctx, tx, inst, o, "")
	})
	if err == nil {
		return
	}
	log.Error("subscription: release instalment", "err", err)
	if o.Status != store.InstalmentFailed {
		return // the claim expires and the instalment is claimed again
	}
	wait := o
	wait.Status, wait.NextAttemptAt = store.InstalmentDue, o.Now.Add(s.cfg.Retry.Technical)
	if err := s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := store.ReleaseInstalment(tx, inst.ID, inst.ClaimID, wait)
		return err
	}); err != nil {
		log.Error("subscription: release instalment to wait for its notice", "err", err)
	}
}

// failedNotice queues, in tx, the merchant's notice of inst failed with
// outcome o, before any payment (reason empty) or by a debit the merchant
// ended (reason: a notify.InstalmentFacts.Reason). The shop and the
// subscription are read in tx: an error undoes the failure with it, so
// that no instalment fails without its notice.
func (s *Service) failedNotice(ctx context.Context, tx *sql.Tx, inst store.InstalmentRecord, o store.InstalmentOutcome, reason string) error {
	sh, err := store.ShopTx(tx, inst.ShopID)
	if err != nil {
		return fmt.Errorf("subscription: notice of a failed instalment: %w", err)
	}
	sub, err := store.GetSubscription(ctx, tx, inst.ShopID, inst.SubscriptionID)
	if err != nil {
		return fmt.Errorf("subscription: notice of a failed instalment: %w", err)
	}
	_, err = notify.InstalmentFailed(tx, o.Now, sh, failedFacts(sub, inst, o, reason))
	return err
}

// failedFacts are the facts of the merchant's notice of inst, of
// subscription sub, failed with outcome o for reason.
func failedFacts(sub store.SubscriptionRecord, inst store.InstalmentRecord, o store.InstalmentOutcome, reason string) notify.InstalmentFacts {
	var opts Options
	_ = json.Unmarshal([]byte(sub.Options), &opts)
	return notify.InstalmentFacts{SubscriptionID: sub.ID, Token: sub.Token, OrderID: sub.OrderID, Mode: sub.Mode,
		Sequence: inst.Sequence, Amount: inst.Amount, Currency: inst.Currency, DueAt: inst.DueAt, Attempts: inst.Attempts,
		ErrorCode: o.ErrorCode, ErrorDetail: o.ErrorDetail, Reason: reason, At: o.Now, NotificationURL: opts.IPNTargetURL}
}

// followDebit is the payment.DebitHook of s: inside the write that moves
// the debit t of an instalment's payment p, the instalment follows it.
//
// A CHARGING instalment (its debit waited for its deferred authorization,
// for the merchant's validation, or, RUNNING, for recovery to learn its
// authorization's outcome) is settled as soon as its debit is decided
// (authorized or refused at D-1 or late, expired, cancelled) as settle
// does, rather than a lease later by the stale pass: a late refusal's
// notice (recoveredInstalment) gives the retry date recorded here. A debit
// validated but still waiting for its authorization leaves it CHARGING.
//
// A PAID instalment (its debit was authorized) whose debit the merchant
// lowers before its capture (Transaction/Update, a partial
// Transaction/CancelOrRefund) stays PAID for the lowered amount, which the
// instalment and its subscription report as paid. One whose debit
// collects nothing after all is not paid any more: cancelled by the merchant before
// its capture, it is FAILED without a new debit (a void, as an invoice
// whose payment is voided is not paid); refused at capture, it is a
// refused instalment, tried again by the refusal policy (the buyer and
// the merchant get the refusal's notices from the payment service). The
// merchant hears of it when it ends FAILED: the debit's IPN does not say
// what becomes of the instalment, which the API showed as paid. A refund
// after the capture changes nothing: the money was collected.
func (s *Service) followDebit(ctx context.Context, tx *sql.Tx, p payment.Payment, t payment.Transaction, now time.Time) error {
	inst, attempt, err := store.LockInstalmentOfPayment(tx, s.db.Dialect(), p.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || inst.PaymentID != p.ID {
		return err // nil for an attempt the instalment moved on from
	}
	var ok bool
	o, final := s.outcome(inst, attempt, t)
	reason, tell := settledNotice(t, o)
	switch {
	case !final:
		return nil
	case inst.Status == store.InstalmentCharging:
		ok, err = store.SettleInstalment(tx, inst.ID, p.ID, o)
	case inst.Status == store.InstalmentPaid && o.Status != store.InstalmentPaid:
		ok, err = store.UnpayInstalment(tx, inst.ID, p.ID, o)
		// The API showed it paid, and the debit's IPN does not say that
		// the instalment is not: the merchant is told of any failure.
		tell = o.Status == store.InstalmentFailed
	case inst.Status == store.InstalmentPaid && o.PaidAmount != inst.PaidAmount:
		// The merchant lowered the debit before its capture: it stays
		// paid (no new debit asks for the rest), for what it collects.
		_, err = store.RepayInstalment(tx, inst.ID, p.ID, o.PaidAmount, now)
		return err
	default:
		return nil
	}
	if !ok || err != nil || !tell {
		return err
	}
	inst.Attempts = attempt
	return s.failedNotice(ctx, tx, inst, o, reason)
}
