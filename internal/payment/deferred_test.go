package payment

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// recordingAcq is the simulator, recording the authorization and
// verification requests it is sent.
type recordingAcq struct {
	*simulator.Simulator
	mu             sync.Mutex
	auths, verifys []acquirer.AuthorizeRequest
}

func (r *recordingAcq) Authorize(ctx context.Context, req acquirer.AuthorizeRequest) (acquirer.Result, error) {
	r.mu.Lock()
	r.auths = append(r.auths, req)
	r.mu.Unlock()
	return r.Simulator.Authorize(ctx, req)
}

func (r *recordingAcq) Verify(ctx context.Context, req acquirer.AuthorizeRequest) (acquirer.Result, error) {
	r.mu.Lock()
	r.verifys = append(r.verifys, req)
	r.mu.Unlock()
	return r.Simulator.Verify(ctx, req)
}

func (r *recordingAcq) counts() (auths, verifys int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.auths), len(r.verifys)
}

// deferredEnv is an env whose service sends to a recordingAcq, with a shop
// that wants the IPN of the authorizations made by the job.
func deferredEnv(t *testing.T, db *store.DB) (*env, *recordingAcq) {
	e := newEnv(t, db)
	acq := &recordingAcq{Simulator: e.sim}
	e.svc = New(db, e.clk, acq, CardVault(e.vault), Config{AcquirerTimeout: 200 * time.Millisecond})
	e.shop.Settings.IPNOnBatchAuthorization = true
	e.shop.PrimaryEmail = "merchant@shop.example"
	e.shop.Settings.Notifications.MerchantPaymentNotice = true
	if err := e.db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
		t.Fatalf("update shop: %v", err)
	}
	return e, acq
}

func (e *env) payDeferred(pan string, delay int, manual string) (Payment, Transaction) {
	e.t.Helper()
	e.orders++
	p, tx, err := e.svc.PayToken(e.ctx(), e.shop, e.creds, CreateInput{Amount: 2500, Currency: "EUR", OrderID: fmt.Sprintf("late-%d", e.orders),
		PaymentMethodToken: e.token(pan), CaptureDelay: &delay, ManualValidation: manual})
	if err != nil {
		e.t.Fatalf("PayToken: %v", err)
	}
	return p, tx
}

// authorizeDue runs the D-1 authorization job at the env's clock.
func (e *env) authorizeDue() int {
	e.t.Helper()
	n, err := e.svc.AuthorizeDue(e.ctx(), 100)
	if err != nil {
		e.t.Fatalf("AuthorizeDue: %v", err)
	}
	return n
}

// A token payment whose capture date is beyond the authorization's
// validity is verified at payment time (WAITING_AUTHORISATION, nothing
// reserved), authorized for the full amount the day before the capture
// date as a merchant-initiated transaction, then captured on that date.
func TestDeferredAuthorizationAtDMinus1(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := deferredEnv(t, db)
		start := e.clk.Now()
		p, tx := e.payDeferred(cardOK, 20, "")
		wantStatus(t, tx, WaitingAuthorisation)
		if p.OrderStatus != StatusRunning || !tx.Accepted() {
			t.Fatalf("order %s, accepted %v", p.OrderStatus, tx.Accepted())
		}
		if a, v := acq.counts(); a != 0 || v != 1 {
			t.Fatalf("at payment time: %d authorizations, %d verifications; want a verification only", a, v)
		}
		if want := start.AddDate(0, 0, 20); !tx.ExpectedCaptureAt.Equal(want) {
			t.Fatalf("expected capture %v, want %v", tx.ExpectedCaptureAt, want)
		}
		// Nothing was authorized: the answer shows no authorization.
		if tr := transactionJSONOf(t, p, tx.UUID); tr.authorizationAmount != nil {
			t.Fatalf("authorizationResponse of a transaction waiting for its authorization: %v", *tr.authorizationAmount)
		}

		// Up to two days before the capture date nothing is sent.
		e.clk.Set(start.AddDate(0, 0, 18))
		if n := e.authorizeDue(); n != 0 {
			t.Fatalf("authorized %d at D-2", n)
		}
		if _, err := e.svc.CaptureAllDue(e.ctx(), 10); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.get(tx.UUID), WaitingAuthorisation)

		// D-1: the authorization, once, whichever copies run the job.
		e.clk.Set(start.AddDate(0, 0, 19))
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if _, err := e.svc.AuthorizeDue(e.ctx(), 100); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got := e.get(tx.UUID)
		wantStatus(t, got, Authorised)
		if a, _ := acq.counts(); a != 1 {
			t.Fatalf("%d authorizations sent at D-1, want 1", a)
		}
		req := acq.auths[0]
		if req.Initiator != acquirer.InitiatorMIT || !req.SecurityCode.IsZero() || req.Amount != 2500 || req.OperationID != tx.UUID+"-authorise" {
			t.Fatalf("D-1 authorization request %+v", req)
		}
		if got.AuthAmount != 2500 || got.AuthNumber == "" || !got.AuthExpiresAt.After(got.ExpectedCaptureAt) {
			t.Fatalf("authorized transaction %+v", got)
		}

		// Captured on the capture date by the capture job.
		if _, err := e.svc.CaptureAllDue(e.ctx(), 10); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.get(tx.UUID), Authorised)
		e.clk.Set(start.AddDate(0, 0, 20))
		if _, err := e.svc.CaptureAllDue(e.ctx(), 10); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.get(tx.UUID), Captured)
		if ev := e.events(p.ID); len(ev) != 2 || ev[0] != "payment.accepted" || ev[1] != "payment.authorised" {
			t.Fatalf("IPN events %v", ev)
		}
	})
}

// A card accepted at verification and refused at the D-1 authorization
// ends REFUSED, with the IPN and the merchant's email.
func TestDeferredAuthorizationRefused(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, _ := deferredEnv(t, db)
		start := e.clk.Now()
		p, tx := e.payDeferred(cardInsufficient, 20, "")
		wantStatus(t, tx, WaitingAuthorisation)
		before := len(e.merchantEmails(p.ID))
		e.clk.Set(start.AddDate(0, 0, 19))
		if n := e.authorizeDue(); n != 0 {
			t.Fatalf("AuthorizeDue counted %d authorized", n)
		}
		got := e.get(tx.UUID)
		wantStatus(t, got, Refused)
		if got.DetailedErrorCode != acquirer.CodeInsufficientFunds {
			t.Fatalf("refusal %+v", got)
		}
		ev := e.events(p.ID)
		if len(ev) != 2 || ev[1] != "payment.refused" {
			t.Fatalf("IPN events %v", ev)
		}
		if n := len(e.merchantEmails(p.ID)); n != before+1 {
			t.Fatalf("merchant emails %d, then %d", before, n)
		}
		_, pp, err := e.svc.Get(e.ctx(), e.shop.ID, tx.UUID)
		if err != nil || pp.Status != StatusUnpaid {
			t.Fatalf("Get: %v %v", pp.Status, err)
		}
	})
}

// The IPN of the job's authorization follows the shop's rule.
func TestDeferredAuthorizationIPNRule(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, _ := deferredEnv(t, db)
		e.shop.Settings.IPNOnBatchAuthorization = false
		if err := e.db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		start := e.clk.Now()
		p, tx := e.payDeferred(cardOK, 20, "")
		e.clk.Set(start.AddDate(0, 0, 19))
		e.authorizeDue()
		wantStatus(t, e.get(tx.UUID), Authorised)
		if ev := e.events(p.ID); len(ev) != 1 {
			t.Fatalf("IPN events %v, want the payment's only", ev)
		}
	})
}

// In manual validation mode the authorization is sent only once the
// merchant validated the transaction.
func TestDeferredAuthorizationManualValidation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := deferredEnv(t, db)
		start := e.clk.Now()
		_, tx := e.payDeferred(cardOK, 20, "YES")
		wantStatus(t, tx, WaitingAuthorisationToValidate)
		e.clk.Set(start.AddDate(0, 0, 19))
		e.authorizeDue()
		wantStatus(t, e.get(tx.UUID), WaitingAuthorisationToValidate)
		if a, _ := acq.counts(); a != 0 {
			t.Fatalf("%d authorizations before validation", a)
		}
		if _, vt, err := e.svc.Validate(e.ctx(), e.shop.ID, tx.UUID); err != nil {
			t.Fatal(err)
		} else {
			wantStatus(t, vt, WaitingAuthorisation)
		}
		e.authorizeDue()
		wantStatus(t, e.get(tx.UUID), Authorised)
	})
}

// Meanwhile the merchant may lower the amount, move the capture date or
// cancel; a cancelled transaction is never authorized and nothing is sent
// to the acquirer for its cancellation.
func TestDeferredAuthorizationUpdateAndCancel(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := deferredEnv(t, db)
		start := e.clk.Now()
		_, tx := e.payDeferred(cardOK, 20, "")
		lower := int64(1800)
		later := start.AddDate(0, 0, 30)
		_, ut, err := e.svc.Update(e.ctx(), e.shop.ID, tx.UUID, UpdateInput{Amount: &lower, ExpectedCaptureDate: &later})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		wantStatus(t, ut, WaitingAuthorisation)
		if ut.Amount != 1800 || !ut.ExpectedCaptureAt.Equal(later) {
			t.Fatalf("updated %+v", ut)
		}
		higher := int64(2600)
		_, _, err = e.svc.Update(e.ctx(), e.shop.ID, tx.UUID, UpdateInput{Amount: &higher})
		wantCode(t, err, "PSP_040")
		// Nothing is authorized yet: the detail says what the ceiling is.
		if d := err.(*errs.Error).Detail; !strings.Contains(d, "the 1800 to be authorized") {
			t.Fatalf("PSP_040 detail %q", d)
		}
		e.clk.Set(start.AddDate(0, 0, 19))
		if e.authorizeDue() != 0 {
			t.Fatal("authorized before the moved date")
		}
		e.clk.Set(start.AddDate(0, 0, 29))
		e.authorizeDue()
		got := e.get(tx.UUID)
		wantStatus(t, got, Authorised)
		if acq.auths[0].Amount != 1800 {
			t.Fatalf("authorized %d", acq.auths[0].Amount)
		}

		_, tx2 := e.payDeferred(cardOK, 20, "")
		_, ct, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx2.UUID, CancelInput{})
		if err != nil {
			t.Fatalf("cancel: %v", err)
		}
		wantStatus(t, ct, Cancelled)
		e.clk.Set(e.clk.Now().AddDate(0, 0, 25))
		e.authorizeDue()
		wantStatus(t, e.get(tx2.UUID), Cancelled)
		if a, _ := acq.counts(); a != 1 {
			t.Fatalf("%d authorizations, want the first payment's only", a)
		}
	})
}

// A D-1 authorization whose answer never came stays claimed; recovery asks
// the acquirer and settles it, and it is never sent twice.
func TestDeferredAuthorizationTimeoutRecovered(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, _ := deferredEnv(t, db)
		start := e.clk.Now()
		_, tx := e.payDeferred(cardOK, 20, "")
		e.sim.InjectFault(tx.UUID+"-authorise", simulator.FaultTimeout)
		e.clk.Set(start.AddDate(0, 0, 19))
		e.authorizeDue()
		got := e.get(tx.UUID)
		wantStatus(t, got, WaitingAuthorisation)
		if got.PendingOp == "" {
			t.Fatal("the timed-out authorization is not left claimed")
		}
		e.authorizeDue() // claimed: not sent again
		e.clk.Advance(2 * time.Minute)
		if _, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 100); err != nil {
			t.Fatal(err)
		}
		got = e.get(tx.UUID)
		wantStatus(t, got, Authorised)
		if got.PendingOp != "" || e.sim.Authorizations() != 1 {
			t.Fatalf("pending %q, %d authorizations", got.PendingOp, e.sim.Authorizations())
		}
	})
}

// A capture delay within the authorization's validity is authorized at
// once, as before.
func TestShortCaptureDelayAuthorizedAtOnce(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := deferredEnv(t, db)
		_, tx := e.payDeferred(cardOK, 7, "")
		wantStatus(t, tx, Authorised)
		if a, v := acq.counts(); a != 1 || v != 0 {
			t.Fatalf("%d authorizations, %d verifications", a, v)
		}
	})
}

// merchantEmails lists the merchant's email notices of a payment.
func (e *env) merchantEmails(paymentID string) []string { return e.emailEvents(paymentID, "merchant") }

// emailEvents lists the events of the email notices of a payment to one
// recipient ("buyer" or "merchant"), in no particular order.
func (e *env) emailEvents(paymentID, recipient string) []string {
	e.t.Helper()
	rows, err := e.db.Reader().Query(`SELECT event FROM outbox WHERE channel = $1 AND ordering_key = $2`,
		outbox.ChannelEmail, "payment:"+paymentID+"/"+recipient)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ev string
		if err := rows.Scan(&ev); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

type answeredTx struct{ authorizationAmount *float64 }

// transactionJSONOf reads transaction uuid of p as the V4 answer shows it.
func transactionJSONOf(t *testing.T, p Payment, uuid string) answeredTx {
	t.Helper()
	b, err := Answer(p, p.UpdatedAt)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, b)
	for _, x := range m["transactions"].([]any) {
		tx := x.(map[string]any)
		if tx["uuid"] != uuid {
			continue
		}
		card := tx["transactionDetails"].(map[string]any)["cardDetails"].(map[string]any)
		var out answeredTx
		if a, ok := card["authorizationResponse"].(map[string]any)["amount"].(float64); ok {
			out.authorizationAmount = &a
		}
		return out
	}
	t.Fatalf("no transaction %s in %s", uuid, b)
	return answeredTx{}
}

// A WAITING_AUTHORISATION_TO_VALIDATE debit the merchant never validates
// is never authorized (Lyra sends the authorization only once it is
// validated): at its capture date it is EXPIRED, with the IPN an expiring
// AUTHORISED_TO_VALIDATE gets, and can no longer be validated.
func TestDeferredAuthorizationUnvalidatedExpiresAtCaptureDate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := deferredEnv(t, db)
		start := e.clk.Now()
		p, tx := e.payDeferred(cardOK, 20, "YES")
		wantStatus(t, tx, WaitingAuthorisationToValidate)

		e.clk.Set(start.AddDate(0, 0, 20).Add(-time.Minute))
		if n, err := e.svc.ExpireUnvalidated(e.ctx(), 10); err != nil || n != 0 {
			t.Fatalf("expired %d before the capture date (%v)", n, err)
		}
		wantStatus(t, e.get(tx.UUID), WaitingAuthorisationToValidate)

		e.clk.Set(start.AddDate(0, 0, 20))
		if n, err := e.svc.ExpireUnvalidated(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("expired %d at the capture date (%v)", n, err)
		}
		got := e.get(tx.UUID)
		wantStatus(t, got, Expired)
		if got.Status != StatusUnpaid {
			t.Fatalf("status %s", got.Status)
		}
		if ev := e.events(p.ID); len(ev) != 2 || ev[1] != "payment.expired" {
			t.Fatalf("IPN events %v", ev)
		}
		_, _, err := e.svc.Validate(e.ctx(), e.shop.ID, tx.UUID)
		wantCode(t, err, errs.TxBadStatus)
		e.authorizeDue()
		if a, _ := acq.counts(); a != 0 {
			t.Fatalf("%d authorizations of an expired debit", a)
		}
	})
}

// retryState reads the failure count and retry time of transaction uuid's
// pending operation.
func (e *env) retryState(uuid string) (failures int, retryAt *int64) {
	e.t.Helper()
	if err := e.db.Reader().QueryRow(`SELECT capture_failures, capture_retry_at FROM transactions WHERE uuid = $1`, uuid).
		Scan(&failures, &retryAt); err != nil {
		e.t.Fatal(err)
	}
	return failures, retryAt
}

// A D-1 authorization the acquirer cannot take is retried with a growing
// delay, as a capture is, not at every run of the job; an approval clears
// the failures. If it still cannot be sent on the capture date, the debit
// ends ERROR and the merchant is told (IPN and email).
func TestDeferredAuthorizationBacksOffThenErrsAtCaptureDate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := deferredEnv(t, db)
		start := e.clk.Now()
		p, tx := e.payDeferred(cardOK, 20, "")
		_, tx2 := e.payDeferred(cardOK, 20, "")
		before := len(e.merchantEmails(p.ID))

		e.clk.Set(start.AddDate(0, 0, 19))
		e.sim.InjectFault(tx.UUID+"-authorise", simulator.FaultUnavailable)
		e.sim.InjectFault(tx2.UUID+"-authorise", simulator.FaultUnavailable)
		e.authorizeDue()
		if a, _ := acq.counts(); a != 2 {
			t.Fatalf("%d authorizations sent, want 2", a)
		}
		got := e.get(tx.UUID)
		wantStatus(t, got, WaitingAuthorisation)
		if got.PendingOp != "" {
			t.Fatalf("the failed authorization is still claimed: %q", got.PendingOp)
		}
		if n, at := e.retryState(tx.UUID); n != 1 || at == nil {
			t.Fatalf("failures %d, retry at %v", n, at)
		}
		// The next run, a second later, leaves them for their retry time.
		e.clk.Advance(time.Second)
		e.authorizeDue()
		if a, _ := acq.counts(); a != 2 {
			t.Fatalf("%d authorizations sent: retried at once", a)
		}
		// After the first wait (30 s and its jitter) they are sent again:
		// tx2 is authorized, and its failures are forgotten.
		e.clk.Advance(time.Minute)
		e.sim.InjectFault(tx.UUID+"-authorise", simulator.FaultUnavailable)
		if n := e.authorizeDue(); n != 1 {
			t.Fatalf("authorized %d on retry", n)
		}
		wantStatus(t, e.get(tx2.UUID), Authorised)
		if n, at := e.retryState(tx2.UUID); n != 0 || at != nil {
			t.Fatalf("authorized with failures %d, retry at %v", n, at)
		}
		if n, _ := e.retryState(tx.UUID); n != 2 {
			t.Fatalf("failures %d, want 2", n)
		}

		// The acquirer is still down on the capture date: the debit
		// cannot be authorized in time.
		capture := start.AddDate(0, 0, 20)
		e.clk.Set(capture.Add(-10 * time.Minute))
		e.sim.InjectFault(tx.UUID+"-authorise", simulator.FaultUnavailable)
		e.authorizeDue()
		wantStatus(t, e.get(tx.UUID), WaitingAuthorisation)
		if _, at := e.retryState(tx.UUID); at == nil || *at > store.Micros(capture) {
			t.Fatalf("next try at %v, after the capture date %d", at, store.Micros(capture))
		}
		e.clk.Set(capture)
		e.sim.InjectFault(tx.UUID+"-authorise", simulator.FaultUnavailable)
		e.authorizeDue()
		got = e.get(tx.UUID)
		wantStatus(t, got, Error)
		if got.Status != StatusUnpaid || got.PendingOp != "" || got.ErrorCode == "" {
			t.Fatalf("given up as %+v", got)
		}
		if ev := e.events(p.ID); len(ev) != 2 || ev[1] != "payment.refused" {
			t.Fatalf("IPN events %v", ev)
		}
		if n := len(e.merchantEmails(p.ID)); n != before+1 {
			t.Fatalf("merchant emails %d, then %d", before, n)
		}
		e.clk.Advance(time.Hour)
		e.authorizeDue()
		wantStatus(t, e.get(tx.UUID), Error)
	})
}

// A D-1 refusal learned by recovery (the job's answer was lost) is
// settled as the job settles it: the IPN only when the shop wants the
// IPN of batch authorizations, and the merchant's email.
func TestDeferredAuthorizationRefusalRecoveredLikeTheJobs(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, _ := deferredEnv(t, db)
		e.shop.Settings.IPNOnBatchAuthorization = false
		if err := e.db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		start := e.clk.Now()
		p, tx := e.payDeferred(cardInsufficient, 20, "")
		before := len(e.merchantEmails(p.ID))
		e.sim.InjectFault(tx.UUID+"-authorise", simulator.FaultTimeout)
		e.clk.Set(start.AddDate(0, 0, 19))
		e.authorizeDue()
		if got := e.get(tx.UUID); got.PendingOp == "" {
			t.Fatal("the timed-out authorization is not left claimed")
		}
		e.clk.Advance(2 * time.Minute)
		if _, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 100); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.get(tx.UUID), Refused)
		if ev := e.events(p.ID); len(ev) != 1 {
			t.Fatalf("IPN events %v, want the payment's only", ev)
		}
		if n := len(e.merchantEmails(p.ID)); n != before+1 {
			t.Fatalf("merchant emails %d, then %d", before, n)
		}
	})
}

// A D-1 authorization claimed by a copy that died before sending it is
// unknown to the acquirer: recovery releases it with the job's backoff,
// not for an immediate resend.
func TestDeferredAuthorizationNeverSentRecoveredWithBackoff(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := deferredEnv(t, db)
		start := e.clk.Now()
		_, tx := e.payDeferred(cardOK, 20, "")
		e.clk.Set(start.AddDate(0, 0, 19))
		if c, err := e.db.ClaimAuthorizations(e.ctx(), e.clk.Now(), 10); err != nil || len(c) != 1 {
			t.Fatalf("claim %d %v", len(c), err)
		}
		e.clk.Advance(2 * time.Minute)
		if _, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 100); err != nil {
			t.Fatal(err)
		}
		got := e.get(tx.UUID)
		wantStatus(t, got, WaitingAuthorisation)
		if n, at := e.retryState(tx.UUID); got.PendingOp != "" || n != 1 || at == nil {
			t.Fatalf("pending %q, failures %d, retry at %v", got.PendingOp, n, at)
		}
		e.authorizeDue()
		if a, _ := acq.counts(); a != 0 {
			t.Fatalf("%d authorizations sent before the retry time", a)
		}
		e.clk.Advance(time.Minute)
		e.authorizeDue()
		wantStatus(t, e.get(tx.UUID), Authorised)
	})
}
