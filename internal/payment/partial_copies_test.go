package payment

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/errs"
)

// Two openpsp copies on one PostgreSQL database (one acquirer, its journal
// in the database) race captures in parts, a whole capture, a cancellation
// and refunds across the captures on one debit. Whatever wins, the
// acquirer captured what the debits say they captured, never more than
// the authorization; the debit and its parts share the authorization
// (their authorised amounts sum to it) and orderEffectiveAmount is never
// above it; no debit is refunded above its
// capture, and its refunds reserved what its credits hold; no call fails
// with an internal error (a deadlock between the copies would) other than
// "retry later" while a cancellation is at the acquirer.
func TestCapturePartsOnTwoCopies(t *testing.T) {
	ctx := context.Background()
	db, other := twoCopies(t)
	e := newEnv(t, db)
	sim := simulator.New(simulator.Config{Clock: e.clk, TimeoutHold: 50 * time.Millisecond, Journal: db})
	cfg := Config{AcquirerTimeout: 2 * time.Second}
	a := New(db, e.clk, sim, CardVault(e.vault), cfg)
	b := New(other, e.clk, sim, CardVault(e.vault), cfg)
	e.svc = a

	for round := range 12 {
		_, d := e.pay(CreateInput{Amount: 1000}, cardOK)
		calls := []func() error{
			func() error { _, _, err := a.CaptureAmount(ctx, e.shop.ID, d.UUID, 300, true, nil); return err },
			func() error { _, _, err := b.CaptureAmount(ctx, e.shop.ID, d.UUID, 200, true, nil); return err },
			func() error { _, _, err := a.CaptureAmount(ctx, e.shop.ID, d.UUID, 100, true, nil); return err },
			func() error { _, _, err := b.RefundCaptures(ctx, e.shop.ID, d.UUID, 50, nil); return err },
		}
		switch round % 3 {
		case 0:
			calls = append(calls, func() error { _, _, err := b.CancelOrRefund(ctx, e.shop.ID, d.UUID, CancelInput{}); return err })
		case 1:
			calls = append(calls, func() error { _, _, err := b.Capture(ctx, e.shop.ID, d.UUID); return err })
		case 2:
			calls = append(calls, func() error { _, _, err := a.CaptureAmount(ctx, e.shop.ID, d.UUID, 0, false, nil); return err })
		}
		var wg sync.WaitGroup
		errsOf := make([]error, len(calls))
		for k, call := range calls {
			wg.Add(1)
			go func() { defer wg.Done(); errsOf[k] = call() }()
		}
		wg.Wait()
		for k, err := range errsOf {
			if ee, ok := errs.As(err); err != nil && (!ok || ee.Code == errs.Internal && !errors.Is(err, errs.ErrRetryLater)) {
				t.Fatalf("round %d, call %d: %v", round, k, err)
			}
		}
		if _, _, err := b.RefundCaptures(ctx, e.shop.ID, d.UUID, 0, nil); err != nil {
			if ee, ok := errs.As(err); !ok || ee.Code == errs.Internal && !errors.Is(err, errs.ErrRetryLater) {
				t.Fatalf("round %d, the last refund: %v", round, err)
			}
		}

		p, _, err := a.Get(ctx, e.shop.ID, d.UUID)
		if err != nil {
			t.Fatal(err)
		}
		var captured, authorised int64
		refunds := map[string]int64{}
		for _, c := range p.Transactions {
			if c.OperationType == Credit && c.DetailedStatus != Refused && c.DetailedStatus != Error && c.DetailedStatus != Cancelled {
				refunds[c.ParentUUID] += c.Amount
			}
		}
		for _, x := range p.Transactions {
			if x.OperationType != Debit {
				continue
			}
			captured += x.CapturedAmount
			authorised += x.AuthAmount
			if x.RefundedAmount > x.CapturedAmount || refunds[x.UUID] != x.RefundedAmount {
				t.Errorf("round %d: debit %s captured %d, refunded %d, its credits %d", round, x.UUID, x.CapturedAmount,
					x.RefundedAmount, refunds[x.UUID])
			}
		}
		auth, found, err := db.LookupOperation(ctx, d.UUID)
		if err != nil || !found {
			t.Fatal(found, err)
		}
		if captured > 1000 || auth.Captured != captured || authorised != 1000 || effectiveAmount(p) > 1000 {
			t.Fatalf("round %d: the debits captured %d (the acquirer %d) of 1000, authorised %d in all, effective amount %d",
				round, captured, auth.Captured, authorised, effectiveAmount(p))
		}
	}
}
