package payment

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// cancelCountingAcq is the simulator, counting the cancellations it is
// sent.
type cancelCountingAcq struct {
	acquirer.Connector
	mu      sync.Mutex
	cancels int
}

func (a *cancelCountingAcq) Cancel(ctx context.Context, operationID, authRef string) (acquirer.Result, error) {
	a.mu.Lock()
	a.cancels++
	a.mu.Unlock()
	return a.Connector.Cancel(ctx, operationID, authRef)
}

func (a *cancelCountingAcq) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cancels
}

// CancelInput.AtLeastLeft (DirectLink's DES with an AMOUNT) against what
// is left of a debit after a partial Update or a partial cancellation:
// above it, PSP_020 naming the amount, nothing written (the debit, its
// pending operation and its IPNs as they were) and no acquirer call; equal
// to it or below it, the debit is cancelled, with one cancellation sent.
func TestCancelAtLeastLeft(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		acq := &cancelCountingAcq{Connector: e.sim}
		e.svc = New(db, e.clk, acq, CardVault(e.vault), Config{AcquirerTimeout: 200 * time.Millisecond})
		amount := func(a int64) *int64 { return &a }
		cancel := func(uuid string, in CancelInput) (Transaction, error) {
			_, tx, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, uuid, in)
			return tx, err
		}
		refused := func(p Payment, uuid string, atLeast, left int64) {
			t.Helper()
			before, events, calls := e.get(uuid), e.events(p.ID), acq.count()
			_, err := cancel(uuid, CancelInput{AtLeastLeft: amount(atLeast)})
			if ee := wantCode(t, err, errs.BadAmount); ee.Field != "amount" {
				t.Fatalf("AtLeastLeft %d with %d left: %+v, want PSP_020 on amount", atLeast, left, ee)
			}
			after := e.get(uuid)
			if after.Amount != left || after.DetailedStatus != Authorised || after.PendingOp != "" || after.Amount != before.Amount {
				t.Fatalf("AtLeastLeft %d refused, but the debit changed: %+v, was %+v", atLeast, after, before)
			}
			if got := e.events(p.ID); !slices.Equal(got, events) {
				t.Fatalf("AtLeastLeft %d refused, but IPNs were written: %v, were %v", atLeast, got, events)
			}
			if n := acq.count(); n != calls {
				t.Fatalf("AtLeastLeft %d refused, but %d cancellations were sent to the acquirer", atLeast, n-calls)
			}
		}
		cancelled := func(uuid string, atLeast int64) {
			t.Helper()
			calls := acq.count()
			tx, err := cancel(uuid, CancelInput{AtLeastLeft: amount(atLeast)})
			if err != nil {
				t.Fatalf("AtLeastLeft %d: %v", atLeast, err)
			}
			wantStatus(t, tx, Cancelled)
			wantStatus(t, e.get(uuid), Cancelled)
			if n := acq.count(); n != calls+1 {
				t.Fatalf("AtLeastLeft %d: %d cancellations sent, want 1", atLeast, n-calls)
			}
		}

		// Lowered by Transaction/Update from 1000 to 800.
		p1, d1 := e.pay(CreateInput{Amount: 1000}, cardOK)
		if _, _, err := e.svc.Update(e.ctx(), e.shop.ID, d1.UUID, UpdateInput{Amount: amount(800)}); err != nil {
			t.Fatal(err)
		}
		refused(p1, d1.UUID, 1000, 800)
		refused(p1, d1.UUID, 801, 800)
		cancelled(d1.UUID, 800)

		// Lowered by a partial cancellation of 300 from 1000 to 700.
		p2, d2 := e.pay(CreateInput{Amount: 1000}, cardOK)
		calls := acq.count()
		if tx, err := cancel(d2.UUID, CancelInput{Amount: amount(300)}); err != nil || tx.Amount != 700 {
			t.Fatalf("partial cancellation: %+v %v", tx, err)
		}
		if n := acq.count(); n != calls {
			t.Fatalf("a partial cancellation sent %d cancellations (want none: it lowers the capture)", n-calls)
		}
		refused(p2, d2.UUID, 701, 700)
		cancelled(d2.UUID, 699)

		// Below what is left after an Update.
		_, d3 := e.pay(CreateInput{Amount: 1000}, cardOK)
		if _, _, err := e.svc.Update(e.ctx(), e.shop.ID, d3.UUID, UpdateInput{Amount: amount(900)}); err != nil {
			t.Fatal(err)
		}
		cancelled(d3.UUID, 1)
	})
}
