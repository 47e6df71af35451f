package payment

import (
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A transaction to validate whose deadline has passed is expired, even
// when the expiry job has not reached it yet: Validate refuses it
// (PSP_011) and expires it in the same write, with the IPN the job sends,
// so that the answer and the stored state agree and nothing is captured on
// an expired authorization or authorized after the capture date.
func TestValidateAfterDeadlineExpires(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := deferredEnv(t, db)
		start := e.clk.Now()

		// AUTHORISED_TO_VALIDATE past its authorization's validity.
		p1, tx1 := e.pay(CreateInput{Amount: 1000, ManualValidation: "YES"}, cardOK)
		wantStatus(t, tx1, AuthorisedToValidate)
		// WAITING_AUTHORISATION_TO_VALIDATE past its capture date.
		p2, tx2 := e.payDeferred(cardOK, 20, "YES")
		wantStatus(t, tx2, WaitingAuthorisationToValidate)

		e.clk.Set(tx1.AuthExpiresAt)
		_, _, err := e.svc.Validate(e.ctx(), e.shop.ID, tx1.UUID)
		wantCode(t, err, errs.TxBadStatus)
		wantStatus(t, e.get(tx1.UUID), Expired)
		if ev := e.events(p1.ID); len(ev) == 0 || ev[len(ev)-1] != "payment.expired" {
			t.Fatalf("IPN events %v", ev)
		}
		if n, err := e.svc.CaptureDue(e.ctx(), 100); err != nil || n != 0 {
			t.Fatalf("captured %d after the expiry (%v)", n, err)
		}

		e.clk.Set(start.AddDate(0, 0, 20))
		_, _, err = e.svc.Validate(e.ctx(), e.shop.ID, tx2.UUID)
		wantCode(t, err, errs.TxBadStatus)
		wantStatus(t, e.get(tx2.UUID), Expired)
		if ev := e.events(p2.ID); len(ev) == 0 || ev[len(ev)-1] != "payment.expired" {
			t.Fatalf("IPN events %v", ev)
		}
		before, _ := acq.counts()
		e.authorizeDue()
		if a, _ := acq.counts(); a != before {
			t.Fatalf("%d authorizations of an expired debit", a-before)
		}
		// The job finds nothing left to expire.
		if n, err := e.svc.ExpireUnvalidated(e.ctx(), 10); err != nil || n != 0 {
			t.Fatalf("the job expired %d more (%v)", n, err)
		}

		// Before the deadline, validation still works.
		_, tx3 := e.pay(CreateInput{Amount: 1000, ManualValidation: "YES"}, cardOK)
		e.clk.Set(tx3.AuthExpiresAt.Add(-time.Minute))
		if _, vt, err := e.svc.Validate(e.ctx(), e.shop.ID, tx3.UUID); err != nil || vt.DetailedStatus != Authorised {
			t.Fatalf("validate before the deadline: %v %v", vt.DetailedStatus, err)
		}
	})
}

// Transaction/Update finds a transaction to validate past its deadline
// expired as Validate does, whether it validates (manualValidation NO) or
// changes something else: nothing is captured on an expired authorization
// or authorized after the capture date.
func TestUpdateAfterDeadlineExpires(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := deferredEnv(t, db)
		start := e.clk.Now()
		p1, tx1 := e.pay(CreateInput{Amount: 1000, ManualValidation: "YES"}, cardOK)
		_, tx2 := e.payDeferred(cardOK, 20, "YES")

		e.clk.Set(tx1.AuthExpiresAt)
		_, _, err := e.svc.Update(e.ctx(), e.shop.ID, tx1.UUID, UpdateInput{ManualValidation: "NO"})
		wantCode(t, err, errs.TxBadStatus)
		wantStatus(t, e.get(tx1.UUID), Expired)
		if ev := e.events(p1.ID); len(ev) == 0 || ev[len(ev)-1] != "payment.expired" {
			t.Fatalf("IPN events %v", ev)
		}
		if n, err := e.svc.CaptureDue(e.ctx(), 100); err != nil || n != 0 {
			t.Fatalf("captured %d after the expiry (%v)", n, err)
		}

		e.clk.Set(start.AddDate(0, 0, 20))
		lower := int64(500)
		_, _, err = e.svc.Update(e.ctx(), e.shop.ID, tx2.UUID, UpdateInput{Amount: &lower})
		wantCode(t, err, errs.TxBadStatus)
		got := e.get(tx2.UUID)
		wantStatus(t, got, Expired)
		if got.Amount != tx2.Amount {
			t.Fatalf("the expired debit's amount changed to %d", got.Amount)
		}
		before, _ := acq.counts()
		e.authorizeDue()
		if a, _ := acq.counts(); a != before {
			t.Fatalf("%d authorizations of an expired debit", a-before)
		}
	})
}
