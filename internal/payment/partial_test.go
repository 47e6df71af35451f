package payment

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// captureFaultAcq is the simulator, whose captures it refuses or cannot
// reach while told to, counting the cancellations it is sent.
type captureFaultAcq struct {
	acquirer.Connector
	mu          sync.Mutex
	refuse, off bool
	cancels     int
}

func (a *captureFaultAcq) Capture(ctx context.Context, opID, authRef string, amount int64, currency string) (acquirer.Result, error) {
	a.mu.Lock()
	refuse, off := a.refuse, a.off
	a.mu.Unlock()
	switch {
	case off:
		return acquirer.Result{}, acquirer.ErrUnavailable
	case refuse:
		return acquirer.Result{ResponseCode: acquirer.CodeInvalidTransaction, Message: "refused"}, nil
	}
	return a.Connector.Capture(ctx, opID, authRef, amount, currency)
}

func (a *captureFaultAcq) Cancel(ctx context.Context, opID, authRef string) (acquirer.Result, error) {
	a.mu.Lock()
	a.cancels++
	a.mu.Unlock()
	return a.Connector.Cancel(ctx, opID, authRef)
}

func (a *captureFaultAcq) set(refuse, off bool) {
	a.mu.Lock()
	a.refuse, a.off = refuse, off
	a.mu.Unlock()
}

func partsEnv(t *testing.T, db *store.DB) (*env, *captureFaultAcq) {
	e := newEnv(t, db)
	acq := &captureFaultAcq{Connector: e.sim}
	e.svc = New(db, e.clk, acq, CardVault(e.vault), Config{AcquirerTimeout: 200 * time.Millisecond})
	return e, acq
}

// debits sums what the debits of payment id captured and are left to
// capture (authorized, not captured).
func (e *env) debits(uuid string) (captured, open int64, p Payment) {
	e.t.Helper()
	p, _, err := e.svc.Get(e.ctx(), e.shop.ID, uuid)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range p.Transactions {
		if d.OperationType != Debit {
			continue
		}
		captured += d.CapturedAmount
		if d.DetailedStatus == Authorised || d.DetailedStatus == AuthorisedToValidate {
			open += d.Amount
		}
	}
	return captured, open, p
}

// Captures in parts (CaptureAmount with keepRest) sent together on a 1000
// authorization never capture more than it: each part is taken off the
// debit in the write that claims it, the others are PSP_020 (or "in
// progress" while another part's capture is at the acquirer); the debit,
// lowered by each part, authorization included, stays to validate, and its
// last capture takes the rest. RefundCaptures then refunds across the
// captures, one credit per capture, none above its capture, and nothing
// once all is refunded. Both engines.
func TestCapturePartsNeverExceedTheAuthorization(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, _ := partsEnv(t, db)
		_, d := e.pay(CreateInput{Amount: 1000, ManualValidation: "YES"}, cardOK)
		wantStatus(t, d, AuthorisedToValidate)
		const n = 6
		var wg sync.WaitGroup
		errsOf := make([]error, n)
		for k := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, part, err := e.svc.CaptureAmount(e.ctx(), e.shop.ID, d.UUID, 300, true, nil)
				if err == nil && (part.ParentUUID != d.UUID || part.DetailedStatus != Captured || part.CapturedAmount != 300) {
					err = errors.New("not a captured part: " + part.DetailedStatus)
				}
				errsOf[k] = err
			}()
		}
		wg.Wait()
		done := 0
		for _, err := range errsOf {
			if err == nil {
				done++
				continue
			}
			if e, ok := errs.As(err); !ok || (e.Code != errs.BadAmount && e.Code != errs.Internal && !errors.Is(err, errs.ErrInProgress)) {
				t.Fatalf("a part refused with %v, want PSP_020 (or a retry, another part being captured)", err)
			}
		}
		captured, open, _ := e.debits(d.UUID)
		now := e.get(d.UUID)
		if done == 0 || done > 3 || captured != int64(done)*300 || open != 1000-captured || now.AuthAmount != now.Amount ||
			now.DetailedStatus != AuthorisedToValidate {
			t.Fatalf("%d parts: %d captured, %d open, debit %+v", done, captured, open, now)
		}
		if _, rest, err := e.svc.CaptureAmount(e.ctx(), e.shop.ID, d.UUID, 0, true, nil); err != nil || rest.UUID != d.UUID ||
			rest.CapturedAmount != 1000-captured {
			t.Fatalf("the last capture: %+v %v", rest, err)
		}
		captured, open, p := e.debits(d.UUID)
		if captured != 1000 || open != 0 || effectiveAmount(p) != 1000 {
			t.Fatalf("all captured: %d captured, %d open, effective %d", captured, open, effectiveAmount(p))
		}

		_, credits, err := e.svc.RefundCaptures(e.ctx(), e.shop.ID, d.UUID, 450, nil)
		if err != nil || len(credits) != 2 || credits[0].Amount+credits[1].Amount != 450 {
			t.Fatalf("refund of 450 over captures of 300: %+v %v, want two credits", credits, err)
		}
		if _, credits, err = e.svc.RefundCaptures(e.ctx(), e.shop.ID, d.UUID, 0, nil); err != nil {
			t.Fatal(err)
		}
		_, _, p = e.debits(d.UUID)
		refunded := map[string]int64{}
		var total int64
		for _, c := range p.Transactions {
			if c.OperationType == Credit {
				wantStatus(t, c, Authorised)
				refunded[c.ParentUUID] += c.Amount
				total += c.Amount
			}
		}
		for _, x := range p.Transactions {
			if x.OperationType == Debit && (refunded[x.UUID] != x.CapturedAmount || x.RefundedAmount != x.CapturedAmount) {
				t.Errorf("debit %s captured %d, refunded %d (%d recorded)", x.UUID, x.CapturedAmount, refunded[x.UUID], x.RefundedAmount)
			}
		}
		if total != 1000 {
			t.Fatalf("refunded %d of the 1000 captured", total)
		}
		_, _, err = e.svc.RefundCaptures(e.ctx(), e.shop.ID, d.UUID, 1, nil)
		wantCode(t, err, errs.BadAmount)
	})
}

// A part whose capture the acquirer refuses gives its amount back to the
// debit (authorization included) in the write that records the refusal:
// the debit is authorized for all of it again. One the acquirer cannot be
// reached for is left to the capture job, the debit lowered, and the job
// captures it. Both engines.
func TestCapturePartTheAcquirerCannotTake(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := partsEnv(t, db)
		_, d := e.pay(CreateInput{Amount: 1000, ManualValidation: "YES"}, cardOK)
		acq.set(true, false)
		_, part, err := e.svc.CaptureAmount(e.ctx(), e.shop.ID, d.UUID, 400, true, nil)
		acq.set(false, false)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, part, CaptureFailed)
		if now := e.get(d.UUID); now.Amount != 1000 || now.AuthAmount != 1000 || now.DetailedStatus != AuthorisedToValidate {
			t.Fatalf("the debit after its refused part: %+v, want 1000 to validate", now)
		}

		acq.set(false, true)
		_, part, err = e.svc.CaptureAmount(e.ctx(), e.shop.ID, d.UUID, 400, true, nil)
		acq.set(false, false)
		if err != nil || part.DetailedStatus != Authorised || part.PendingOp != "" {
			t.Fatalf("a part the acquirer could not take: %+v %v, want AUTHORISED for the job", part, err)
		}
		if now := e.get(d.UUID); now.Amount != 600 {
			t.Fatalf("the debit while its part waits: %+v, want 600", now)
		}
		e.clk.Advance(24 * time.Hour)
		if _, err := e.svc.CaptureAllDue(e.ctx(), 100); err != nil {
			t.Fatal(err)
		}
		if captured, open, _ := e.debits(d.UUID); captured != 400 || open != 600 {
			t.Fatalf("after the job: %d captured, %d open", captured, open)
		}
	})
}

// Cancelling a debit captured in part releases the rest only: nothing is
// sent to the acquirer, which would cancel the authorization its parts
// were captured on (or refuse, part of it captured); the parts stay
// captured. Both engines.
func TestCancelAfterPartsReleasesTheRest(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := partsEnv(t, db)
		_, d := e.pay(CreateInput{Amount: 1000, ManualValidation: "YES"}, cardOK)
		if _, _, err := e.svc.CaptureAmount(e.ctx(), e.shop.ID, d.UUID, 400, true, nil); err != nil {
			t.Fatal(err)
		}
		_, c, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, d.UUID, CancelInput{})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, c, Cancelled)
		if acq.cancels != 0 {
			t.Fatalf("%d cancellations sent, want none", acq.cancels)
		}
		if captured, open, p := e.debits(d.UUID); captured != 400 || open != 0 || effectiveAmount(p) != 400 {
			t.Fatalf("after the cancellation: %d captured, %d open, effective %d", captured, open, effectiveAmount(p))
		}
		// Without parts the acquirer is asked, as ever.
		_, d2 := e.pay(CreateInput{Amount: 1000, ManualValidation: "YES"}, cardOK)
		if _, _, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, d2.UUID, CancelInput{}); err != nil || acq.cancels != 1 {
			t.Fatalf("cancellation without parts: %v, %d sent", err, acq.cancels)
		}
	})
}
