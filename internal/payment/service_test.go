package payment

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

func TestAcceptedThenCaptured(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		p, tx := e.pay(CreateInput{Amount: 990, OrderID: "order-1"}, cardOK)
		wantStatus(t, tx, Authorised)
		if p.OrderStatus != StatusPaid || p.OrderCycle != CycleClosed {
			t.Fatalf("order %s/%s", p.OrderStatus, p.OrderCycle)
		}
		if tx.PANMasked != "497010XXXXXX0055" || tx.AuthNumber == "" || tx.AuthResult != acquirer.CodeApproved || tx.Brand == "" {
			t.Fatalf("transaction details %+v", tx)
		}
		if !tx.ExpectedCaptureAt.Equal(e.clk.Now()) {
			t.Fatalf("expected capture %v, want now", tx.ExpectedCaptureAt)
		}
		n, err := e.svc.CaptureDue(e.ctx(), 10)
		if err != nil || n != 1 {
			t.Fatalf("CaptureDue = %d, %v", n, err)
		}
		got := e.get(tx.UUID)
		wantStatus(t, got, Captured)
		if got.CapturedAmount != 990 || got.CaptureRef == "" {
			t.Fatalf("capture %+v", got)
		}
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 0 {
			t.Fatalf("second CaptureDue captured %d", n)
		}
		// By default the job's capture sends no IPN (Lyra's "IPN on batch
		// change" rule is off by default); with the setting on it does.
		if ev := e.events(p.ID); len(ev) != 1 || ev[0] != "payment.accepted" {
			t.Fatalf("IPNs %v without IPN on batch change", ev)
		}
		e.ipnOnBatchChange(true)
		p, tx = e.pay(CreateInput{Amount: 990, OrderID: "order-2"}, cardOK)
		if n, err := e.svc.CaptureDue(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("CaptureDue = %d, %v", n, err)
		}
		msgs := e.ipns(p.ID)
		if len(msgs) != 2 || msgs[0].Event != "payment.accepted" || msgs[1].Event != "payment.captured" {
			t.Fatalf("IPNs %v", e.events(p.ID))
		}
		for _, m := range msgs {
			if m.Channel != "ipn" || m.Target != "https://merchant.example/ipn" || m.ShopID != e.shop.ID {
				t.Fatalf("IPN %+v", m)
			}
		}
		ans := decode(t, []byte(msgs[1].Payload))
		txs := ans["transactions"].([]any)
		if ans["orderStatus"] != "PAID" || txs[0].(map[string]any)["detailedStatus"] != "CAPTURED" {
			t.Fatalf("IPN payload %s", msgs[1].Payload)
		}
		if e.sim.Authorizations() != 2 {
			t.Fatalf("authorizations %d", e.sim.Authorizations())
		}
	})
}

func TestRefusals(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ft := e.create(CreateInput{Amount: 1500, OrderID: "order-r"})
		p, tx, err := e.svc.PayCard(e.ctx(), ft, cardIn(cardRefused))
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Refused)
		if tx.ErrorCode != CodeRefused || tx.DetailedErrorCode != acquirer.CodeDoNotHonour {
			t.Fatalf("refusal codes %s/%s", tx.ErrorCode, tx.DetailedErrorCode)
		}
		if p.OrderStatus != StatusUnpaid || p.OrderCycle != CycleOpen || p.AttemptsLeft() != 2 {
			t.Fatalf("order %s/%s, %d left", p.OrderStatus, p.OrderCycle, p.AttemptsLeft())
		}
		_, tx, err = e.svc.PayCard(e.ctx(), ft, cardIn(cardInsufficient))
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Refused)
		if tx.DetailedErrorCode != acquirer.CodeInsufficientFunds {
			t.Fatalf("insufficient funds: %s", tx.DetailedErrorCode)
		}
		_, tx, err = e.svc.PayCard(e.ctx(), ft, cardIn(cardUnavailable))
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Error)
		if tx.ErrorCode != CodeAcquirerError {
			t.Fatalf("technical error code %s", tx.ErrorCode)
		}
		// Three attempts made: the form is closed.
		_, _, err = e.svc.PayCard(e.ctx(), ft, cardIn(cardOK))
		wantCode(t, err, errs.Unauthorized)
		fp, err := e.svc.PaymentForToken(e.ctx(), ft)
		if err != nil {
			t.Fatal(err)
		}
		if fp.OrderStatus != StatusUnpaid || fp.OrderCycle != CycleClosed || len(fp.Transactions) != 3 {
			t.Fatalf("order after three refusals %s/%s, %d transactions", fp.OrderStatus, fp.OrderCycle, len(fp.Transactions))
		}
		if ev := e.events(fp.ID); len(ev) != 3 || ev[0] != "payment.refused" || ev[2] != "payment.refused" {
			t.Fatalf("IPN events %v", ev)
		}
		if e.sim.Authorizations() != 0 {
			t.Fatalf("authorizations %d", e.sim.Authorizations())
		}
	})
}

func TestRefusedThenAccepted(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ft := e.create(CreateInput{Amount: 1500, OrderID: "order-2"})
		if _, tx, err := e.svc.PayCard(e.ctx(), ft, cardIn(cardRefused)); err != nil || tx.DetailedStatus != Refused {
			t.Fatalf("first attempt %v %v", tx.DetailedStatus, err)
		}
		p, tx, err := e.svc.PayCard(e.ctx(), ft, cardIn(cardOK))
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Authorised)
		if p.OrderStatus != StatusPaid || len(p.Transactions) != 2 || tx.SequenceNumber != 2 {
			t.Fatalf("order %s with %d transactions, seq %d", p.OrderStatus, len(p.Transactions), tx.SequenceNumber)
		}
		// Paid: no further attempt on this form.
		_, _, err = e.svc.PayCard(e.ctx(), ft, cardIn(cardOK))
		wantCode(t, err, errs.DupForbidden)
	})
}

func TestFormTokenExpiry(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ft := e.create(CreateInput{Amount: 100})
		fp, err := e.svc.PaymentForToken(e.ctx(), ft)
		if err != nil || fp.AttemptsLeft() != 3 || !fp.FormExpiresAt.Equal(e.clk.Now().Add(15*time.Minute)) {
			t.Fatalf("form %+v, %v", fp, err)
		}
		e.clk.Advance(15 * time.Minute)
		fp, err = e.svc.PaymentForToken(e.ctx(), ft)
		if err != nil || !fp.FormExpired(e.clk.Now()) || fp.OrderStatus != StatusAbandoned || !fp.Completed() {
			t.Fatalf("expired form %+v, %v", fp, err)
		}
		_, err = e.svc.PaymentForToken(e.ctx(), "ft-unknown")
		wantCode(t, err, CodeFormToken)
		_, _, err = e.svc.PayCard(e.ctx(), ft, cardIn(cardOK))
		wantCode(t, err, CodeFormToken)
		_, _, err = e.svc.PayCard(e.ctx(), "ft-unknown", cardIn(cardOK))
		wantCode(t, err, CodeFormToken)
	})
}

func TestTimeoutThenRecovery(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		p, tx := e.pay(CreateInput{Amount: 2000, OrderID: "order-t"}, cardTimeout)
		wantStatus(t, tx, Initial)
		if p.OrderStatus != StatusRunning {
			t.Fatalf("order %s", p.OrderStatus)
		}
		// A second payment of the same order is refused while the first is in flight.
		_, ft2 := e.create(CreateInput{Amount: 2000, OrderID: "order-t"})
		_, _, err := e.svc.PayCard(e.ctx(), ft2, cardIn(cardOK))
		wantCode(t, err, errs.DupForbidden)
		// Too recent: recovery leaves it alone.
		if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); err != nil || n != 0 {
			t.Fatalf("early recovery %d %v", n, err)
		}
		e.clk.Advance(2 * time.Minute)
		n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10)
		if err != nil || n != 1 {
			t.Fatalf("recovery %d %v", n, err)
		}
		got := e.get(tx.UUID)
		wantStatus(t, got, Authorised)
		if e.sim.Authorizations() != 1 {
			t.Fatalf("authorizations %d", e.sim.Authorizations())
		}
		if n, _ := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); n != 0 {
			t.Fatalf("second recovery settled %d", n)
		}
		if ev := e.events(p.ID); len(ev) != 1 || ev[0] != "payment.accepted" {
			t.Fatalf("IPN events %v", ev)
		}
	})
}

func TestRecoveryOfUnsentOperation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		// A transaction committed RUNNING whose process died before the
		// acquirer call: the acquirer never saw it.
		_, ft := e.create(CreateInput{Amount: 500, OrderID: "order-lost"})
		var started Transaction
		err := db.Write(e.ctx(), func(tx *sql.Tx) error {
			var err error
			_, started, err = e.svc.startCard(e.ctx(), tx, ft, cardIn(cardOK))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(2 * time.Minute)
		if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); err != nil || n != 1 {
			t.Fatalf("recovery %d %v", n, err)
		}
		got := e.get(started.UUID)
		wantStatus(t, got, Error)
		if e.sim.Authorizations() != 0 {
			t.Fatalf("authorizations %d", e.sim.Authorizations())
		}
		// The order is free again: another attempt may pay it.
		_, tx, err := e.svc.PayCard(e.ctx(), ft, cardIn(cardOK))
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Authorised)
	})
}

func TestCaptureDelay(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		delay := 3
		_, tx := e.pay(CreateInput{Amount: 4200, CaptureDelay: &delay}, cardOK)
		wantStatus(t, tx, Authorised)
		if !tx.ExpectedCaptureAt.Equal(e.clk.Now().AddDate(0, 0, 3)) {
			t.Fatalf("expected capture %v", tx.ExpectedCaptureAt)
		}
		e.clk.Advance(3*24*time.Hour - time.Second)
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 0 {
			t.Fatalf("captured %d before the date", n)
		}
		e.clk.Advance(time.Second)
		if n, err := e.svc.CaptureDue(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("captured %d, %v", n, err)
		}
		wantStatus(t, e.get(tx.UUID), Captured)
	})
}

func TestManualValidationAndExpiry(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.ipnOnBatchChange(true) // the IPN events below include the job's captures
		p1, tx1 := e.pay(CreateInput{Amount: 100, ManualValidation: "YES"}, cardOK)
		_, tx2 := e.pay(CreateInput{Amount: 200, ManualValidation: "YES"}, cardOK)
		wantStatus(t, tx1, AuthorisedToValidate)
		if p1.OrderStatus != StatusRunning || p1.OrderCycle != CycleClosed {
			t.Fatalf("order to validate: %s/%s", p1.OrderStatus, p1.OrderCycle)
		}
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 0 {
			t.Fatalf("captured %d transactions to validate", n)
		}
		_, v, err := e.svc.Validate(e.ctx(), e.shop.ID, tx1.UUID)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, v, Authorised)
		_, _, err = e.svc.Validate(e.ctx(), e.shop.ID, tx1.UUID)
		wantCode(t, err, errs.TxBadStatus)
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 1 {
			t.Fatalf("captured %d after validation", n)
		}
		wantStatus(t, e.get(tx1.UUID), Captured)
		if ev := e.events(p1.ID); len(ev) != 3 || ev[1] != "payment.validated" {
			t.Fatalf("IPN events %v", ev)
		}
		// The other one is never validated: 7 days later it expires.
		e.clk.Advance(7*24*time.Hour - time.Minute)
		if n, _ := e.svc.ExpireUnvalidated(e.ctx(), 10); n != 0 {
			t.Fatalf("expired %d early", n)
		}
		e.clk.Advance(time.Minute)
		if n, err := e.svc.ExpireUnvalidated(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("expired %d, %v", n, err)
		}
		wantStatus(t, e.get(tx2.UUID), Expired)
		_, _, err = e.svc.Validate(e.ctx(), e.shop.ID, tx2.UUID)
		wantCode(t, err, errs.TxBadStatus)
		_, _, err = e.svc.Validate(e.ctx(), e.shop.ID, "0123456789abcdef0123456789abcdef")
		wantCode(t, err, errs.TxNotFound)
	})
}

func TestRefunds(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.ipnOnBatchChange(true) // the IPN events below include the job's captures
		p, tx := e.pay(CreateInput{Amount: 1000, OrderID: "order-refund"}, cardOK)
		refund := func(amount int64) (Transaction, error) {
			_, c, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{Amount: &amount, Currency: "EUR"})
			return c, err
		}
		// Not captured yet: REFUND_ONLY is refused, the platform suggests a cancellation.
		_, _, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{ResolutionMode: ResolutionRefund})
		wantCode(t, err, errs.RefundToCancel)
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 1 {
			t.Fatal("not captured")
		}
		// Captured: CANCELLATION_ONLY is refused, the platform suggests a refund.
		_, _, err = e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{ResolutionMode: ResolutionCancellation})
		wantCode(t, err, errs.CancelToRefund)
		c1, err := refund(300)
		if err != nil {
			t.Fatal(err)
		}
		// Accepted, a refund is AUTHORISED (PAID) and due for capture at
		// once, as Lyra answers it; the capture job makes it CAPTURED.
		wantStatus(t, c1, Authorised)
		if c1.OperationType != Credit || c1.ParentUUID != tx.UUID || c1.Amount != 300 || c1.SequenceNumber != 2 ||
			!c1.CapturedAt.IsZero() || !c1.ExpectedCaptureAt.Equal(c1.CreatedAt) {
			t.Fatalf("credit %+v", c1)
		}
		_, err = refund(701)
		wantCode(t, err, errs.BadAmount)
		if _, err := refund(300); err != nil {
			t.Fatal(err)
		}
		_, c3, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{ResolutionMode: ResolutionRefund})
		if err != nil || c3.Amount != 400 {
			t.Fatalf("refund of the rest: %+v %v", c3, err)
		}
		_, err = refund(1)
		wantCode(t, err, errs.BadAmount)
		debit := e.get(tx.UUID)
		if debit.RefundedAmount != 1000 || debit.DetailedStatus != Captured {
			t.Fatalf("debit after refunds %+v", debit)
		}
		if n, err := e.svc.CaptureDue(e.ctx(), 10); err != nil || n != 3 {
			t.Fatalf("refunds captured: %d %v", n, err)
		}
		// Captured, a refund can no longer be cancelled
		// (TestCancelRefundBeforeItsCapture: before, it can).
		_, _, err = e.svc.CancelOrRefund(e.ctx(), e.shop.ID, c1.UUID, CancelInput{})
		wantCode(t, err, errs.TxBadStatus)
		if c := e.get(c1.UUID); c.DetailedStatus != Captured || c.Status != StatusPaid || c.CapturedAmount != 300 || c.CapturedAt.IsZero() {
			t.Fatalf("captured refund %+v", c)
		}
		ev := e.events(p.ID)
		if len(ev) != 8 || ev[2] != "transaction.refunded" || ev[4] != "transaction.refunded" || ev[7] != "transaction.refund_captured" {
			t.Fatalf("IPN events %v", ev)
		}
		fp, err := e.svc.GetPayment(e.ctx(), e.shop.ID, p.ID)
		if err != nil || len(fp.Transactions) != 4 || fp.OrderStatus != StatusPaid {
			t.Fatalf("payment after refunds: %d transactions, %s, %v", len(fp.Transactions), fp.OrderStatus, err)
		}
	})
}

func TestConcurrentRefundsNeverExceedTheCapture(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, tx := e.pay(CreateInput{Amount: 1000}, cardOK)
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 1 {
			t.Fatal("not captured")
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				amount := int64(300)
				_, _, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{Amount: &amount})
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				} else if ee, isErr := errs.As(err); !isErr || ee.Code != errs.BadAmount {
					t.Errorf("refund: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 3 || e.get(tx.UUID).RefundedAmount != 900 {
			t.Fatalf("%d refunds accepted, %d refunded", ok, e.get(tx.UUID).RefundedAmount)
		}
	})
}

func TestCancel(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		p, tx := e.pay(CreateInput{Amount: 1000, OrderID: "order-c"}, cardOK)
		// Partial: the amount to capture is lowered.
		part := int64(250)
		_, low, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{Amount: &part, ResolutionMode: ResolutionCancellation})
		if err != nil || low.Amount != 750 || low.DetailedStatus != Authorised {
			t.Fatalf("partial cancellation %+v %v", low, err)
		}
		_, _, err = e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{Currency: "USD"})
		wantCode(t, err, errs.InputInvalid)
		cp, c, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, c, Cancelled)
		if cp.OrderStatus != StatusUnpaid {
			t.Fatalf("order after cancellation %s", cp.OrderStatus)
		}
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 0 {
			t.Fatal("captured a cancelled transaction")
		}
		_, _, err = e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{})
		wantCode(t, err, errs.TxBadStatus)
		if ev := e.events(p.ID); len(ev) != 2 || ev[1] != "payment.cancelled" {
			t.Fatalf("IPN events %v", ev)
		}
		// Cancelled: the order may be paid again.
		_, tx2 := e.pay(CreateInput{Amount: 1000, OrderID: "order-c"}, cardOK)
		wantStatus(t, tx2, Authorised)
	})
}

func TestUpdate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, tx := e.pay(CreateInput{Amount: 1000, ManualValidation: "YES"}, cardOK)
		amount := int64(700)
		later := e.clk.Now().Add(48 * time.Hour)
		_, u, err := e.svc.Update(e.ctx(), e.shop.ID, tx.UUID, UpdateInput{Amount: &amount, Currency: "EUR", ExpectedCaptureDate: &later})
		if err != nil {
			t.Fatal(err)
		}
		if u.Amount != 700 || !u.ExpectedCaptureAt.Equal(later) || u.DetailedStatus != AuthorisedToValidate {
			t.Fatalf("updated %+v", u)
		}
		more := int64(1001)
		_, _, err = e.svc.Update(e.ctx(), e.shop.ID, tx.UUID, UpdateInput{Amount: &more})
		wantCode(t, err, errs.AmountNotAuth)
		zero := int64(0)
		_, _, err = e.svc.Update(e.ctx(), e.shop.ID, tx.UUID, UpdateInput{Amount: &zero})
		wantCode(t, err, errs.BadAmount)
		tooFar := e.clk.Now().Add(30 * 24 * time.Hour)
		_, _, err = e.svc.Update(e.ctx(), e.shop.ID, tx.UUID, UpdateInput{ExpectedCaptureDate: &tooFar})
		wantCode(t, err, "PSP_013")
		_, u, err = e.svc.Update(e.ctx(), e.shop.ID, tx.UUID, UpdateInput{ManualValidation: "NO"})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, u, Authorised)
		_, _, err = e.svc.Update(e.ctx(), e.shop.ID, tx.UUID, UpdateInput{ManualValidation: "YES"})
		wantCode(t, err, errs.TxBadStatus)
		e.clk.Advance(48 * time.Hour)
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 1 {
			t.Fatal("not captured")
		}
		c := e.get(tx.UUID)
		if c.CapturedAmount != 700 {
			t.Fatalf("captured %d, want the lowered 700", c.CapturedAmount)
		}
		_, _, err = e.svc.Update(e.ctx(), e.shop.ID, tx.UUID, UpdateInput{Amount: &amount})
		wantCode(t, err, errs.TxBadStatus)
	})
}

func TestDuplicateOrder(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.pay(CreateInput{Amount: 100, OrderID: "order-d"}, cardOK)
		_, ft := e.create(CreateInput{Amount: 100, OrderID: "order-d"})
		_, _, err := e.svc.PayCard(e.ctx(), ft, cardIn(cardOK))
		wantCode(t, err, errs.DupForbidden)
		// The refused duplicate did not use up an attempt.
		if fp, _ := e.svc.PaymentForToken(e.ctx(), ft); fp.AttemptsLeft() != 3 {
			t.Fatalf("attempts left %d", fp.AttemptsLeft())
		}
		// Another order id is another order.
		e.pay(CreateInput{Amount: 100, OrderID: "order-e"}, cardOK)
		// A shop that allows it may be paid twice.
		e.shop.Settings.AllowDuplicatePaidOrder = true
		_, tx := e.pay(CreateInput{Amount: 100, OrderID: "order-d"}, cardOK)
		wantStatus(t, tx, Authorised)
		if e.sim.Authorizations() != 3 {
			t.Fatalf("authorizations %d", e.sim.Authorizations())
		}
	})
}

func TestSilentPayments(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		p, tx, err := e.svc.PayToken(e.ctx(), e.shop, e.creds, CreateInput{Amount: 3000, Currency: "EUR", OrderID: "s-1",
			PaymentMethodToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Authorised)
		if tx.Token != tok || tx.PaymentMethodSource != "TOKEN" || p.FormToken != "" || p.OrderCycle != CycleClosed {
			t.Fatalf("silent payment %+v / %+v", tx, p)
		}
		_, tx, err = e.svc.PayToken(e.ctx(), e.shop, e.creds, CreateInput{Amount: 3000, Currency: "EUR", PaymentMethodToken: e.token(cardRefused)})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Refused)
		_, _, err = e.svc.PayToken(e.ctx(), e.shop, e.creds, CreateInput{Amount: 3000, Currency: "EUR", PaymentMethodToken: "ffffffffffffffffffffffffffffffff"})
		wantCode(t, err, errs.TokenNotFound)
		if _, err := e.vault.Cancel(e.ctx(), e.shop.ID, "TEST", tok); err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.PayToken(e.ctx(), e.shop, e.creds, CreateInput{Amount: 3000, Currency: "EUR", PaymentMethodToken: tok})
		wantCode(t, err, errs.TokenInvalid)
		noTokens := e.shop
		noTokens.Settings.PaymentByToken = false
		_, _, err = e.svc.PayToken(e.ctx(), noTokens, e.creds, CreateInput{Amount: 3000, Currency: "EUR", PaymentMethodToken: tok})
		wantCode(t, err, errs.Unauthorized)
	})
}

func TestSaveCardAndVerification(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		email := "buyer@example.com"
		_, tx := e.pay(CreateInput{Amount: 500, FormAction: ActionRegisterPay, Customer: Customer{Email: &email}}, cardOK)
		wantStatus(t, tx, Authorised)
		if tx.Token == "" {
			t.Fatal("REGISTER_PAY saved no token")
		}
		if _, err := e.vault.Get(e.ctx(), e.shop.ID, "TEST", tx.Token); err != nil {
			t.Fatalf("token not in the vault: %v", err)
		}
		_, tx = e.pay(CreateInput{Amount: 500, FormAction: ActionAskRegisterPay}, cardOK)
		if tx.Token != "" {
			t.Fatal("ASK_REGISTER_PAY saved a card the buyer did not ask to save")
		}
		// Charge/CreateToken: a zero-amount verification.
		p, vtx := e.pay(CreateInput{Amount: 0, FormAction: ActionRegister, OrderID: "tok-1"}, cardInsufficient)
		wantStatus(t, vtx, Accepted)
		if vtx.OperationType != Verification || vtx.Amount != 0 || vtx.Token == "" || p.OrderStatus != StatusPaid {
			t.Fatalf("verification %+v, order %s", vtx, p.OrderStatus)
		}
		// The saved card pays SILENT (and is refused: insufficient funds).
		_, s, err := e.svc.PayToken(e.ctx(), e.shop, e.creds, CreateInput{Amount: 100, Currency: "EUR", PaymentMethodToken: vtx.Token})
		if err != nil || s.DetailedStatus != Refused {
			t.Fatalf("payment with the new token: %+v %v", s, err)
		}
		_, _, err = e.svc.CreatePayment(e.ctx(), e.shop, e.creds, CreateInput{Amount: 100, Currency: "EUR", FormAction: ActionRegister})
		wantCode(t, err, errs.BadAmount)
	})
}

func TestThreeDSFailedIsNotAuthorized(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ft := e.create(CreateInput{Amount: 100})
		in := cardIn(cardOK)
		in.ThreeDS = &acquirer.ThreeDSResult{Status: acquirer.ThreeDSFailed, Version: acquirer.ThreeDSVersion}
		_, tx, err := e.svc.PayCard(e.ctx(), ft, in)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Refused)
		if tx.DetailedErrorCode != "3DS_FAILED" || e.sim.Authorizations() != 0 {
			t.Fatalf("3DS failure: %s, %d authorizations", tx.DetailedErrorCode, e.sim.Authorizations())
		}
		in.ThreeDS = &acquirer.ThreeDSResult{Status: acquirer.ThreeDSAuthenticated, ECI: "05", LiabilityShift: true}
		p, tx, err := e.svc.PayCard(e.ctx(), ft, in)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, tx, Authorised)
		j := decode(t, mustAnswer(t, p, e.clk.Now()))
		td := j["transactions"].([]any)[1].(map[string]any)
		if td["effectiveStrongAuthentication"] != "ENABLED" || td["transactionDetails"].(map[string]any)["liabilityShift"] != "YES" {
			t.Fatalf("3DS in the answer: %v", td)
		}
	})
}

func TestCreateValidation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		bad := "not-an-email"
		neg := -1
		cases := []struct {
			in    CreateInput
			code  string
			field string
		}{
			{CreateInput{Amount: 0, Currency: "EUR"}, errs.BadAmount, "amount"},
			{CreateInput{Amount: -5, Currency: "EUR"}, errs.BadAmount, "amount"},
			{CreateInput{Amount: 100}, errs.InputInvalid, "currency"},
			{CreateInput{Amount: 100, Currency: "XXX"}, errs.BadCurrency, "currency"},
			{CreateInput{Amount: 100, Currency: "EUR", FormAction: "NOPE"}, errs.InputInvalid, "formAction"},
			{CreateInput{Amount: 100, Currency: "EUR", Customer: Customer{Email: &bad}}, codeInvalidEmail, "customer.email"},
			{CreateInput{Amount: 100, Currency: "EUR", IPNTargetURL: "ftp://x"}, errs.InputInvalid, "ipnTargetUrl"},
			{CreateInput{Amount: 100, Currency: "EUR", CaptureDelay: &neg}, errs.InputInvalid, "transactionOptions.cardOptions.captureDelay"},
			{CreateInput{Amount: 100, Currency: "EUR", ManualValidation: "MAYBE"}, errs.InputInvalid, "transactionOptions.cardOptions.manualValidation"},
			{CreateInput{Amount: 100, Currency: "EUR", PaymentSource: "XX"}, errs.InputInvalid, "transactionOptions.cardOptions.paymentSource"},
			{CreateInput{Amount: 100, Currency: "EUR", StrongAuthentication: "SOMETIMES"}, errs.InputInvalid, "strongAuthentication"},
			{CreateInput{Amount: 100, Currency: "EUR", OrderID: string(make([]byte, 65))}, errs.InputInvalid, "orderId"},
			{CreateInput{Amount: 100, Currency: "EUR", FormAction: ActionCustomerWallet}, CodeWalletNoReference, "customer.reference"},
			{CreateInput{Amount: 100, Currency: "EUR", FormAction: ActionRegisterPay, PaymentMethodToken: "abc"}, errs.InputInvalid, "paymentMethodToken"},
			{CreateInput{Amount: 100, Currency: "EUR", FormAction: ActionSilent}, errs.InputInvalid, "paymentMethodToken"},
		}
		for _, c := range cases {
			_, _, err := e.svc.CreatePayment(e.ctx(), e.shop, e.creds, c.in)
			ee := wantCode(t, err, c.code)
			if ee.Field != c.field {
				t.Errorf("%+v: field %q, want %q", c.in, ee.Field, c.field)
			}
		}
	})
}

func TestConcurrentCaptureRunners(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.ipnOnBatchChange(true) // the IPN events below include the job's captures
		const n = 30
		var payments []Payment
		for i := 0; i < n; i++ {
			p, _ := e.pay(CreateInput{Amount: int64(100 + i)}, cardOK)
			payments = append(payments, p)
		}
		// Two copies of the service (two openpsp processes) on one database.
		other := New(db, e.clk, e.sim, CardVault(e.vault), Config{AcquirerTimeout: time.Second})
		var wg sync.WaitGroup
		counts := make([]int, 2)
		for i, svc := range []*Service{e.svc, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					c, err := svc.CaptureDue(context.Background(), 4)
					if err != nil {
						t.Errorf("CaptureDue: %v", err)
						return
					}
					if c == 0 {
						return
					}
					counts[i] += c
				}
			}()
		}
		wg.Wait()
		if counts[0]+counts[1] != n {
			t.Fatalf("captured %d + %d, want %d", counts[0], counts[1], n)
		}
		for _, p := range payments {
			captured := 0
			for _, ev := range e.events(p.ID) {
				if ev == "payment.captured" {
					captured++
				}
			}
			if captured != 1 {
				t.Fatalf("payment %s captured %d times", p.ID, captured)
			}
			wantStatus(t, e.get(p.Transactions[0].UUID), Captured)
		}
	})
}

func TestConcurrentSilentWithoutKey(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		const n = 200
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, dup := 0, 0
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, tx, err := e.svc.PayToken(context.Background(), e.shop, e.creds, CreateInput{Amount: 1234, Currency: "EUR",
					OrderID: "same-order", PaymentMethodToken: tok})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && tx.DetailedStatus == Authorised:
					ok++
				case err != nil:
					if ee, is := errs.As(err); is && ee.Code == errs.DupForbidden {
						dup++
						return
					}
					t.Errorf("PayToken: %v", err)
				default:
					t.Errorf("PayToken: transaction %s", tx.DetailedStatus)
				}
			}()
		}
		wg.Wait()
		if ok != 1 || dup != n-1 || e.sim.Authorizations() != 1 {
			t.Fatalf("%d paid, %d refused as duplicates, %d authorizations", ok, dup, e.sim.Authorizations())
		}
	})
}

func mustAnswer(t *testing.T, p Payment, now time.Time) []byte {
	t.Helper()
	b, err := Answer(p, now)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuyerNotifications(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.Settings.OrderConfirmationEmails = true
		e.shop.Settings.Notifications.TokenEmailBuyer = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		email, lang := "buyer@example.com", "fr"
		p, tx := e.pay(CreateInput{Amount: 500, FormAction: ActionRegisterPay,
			Customer: Customer{Email: &email, BillingDetails: BillingDetails{Language: &lang}}}, cardOK)
		wantStatus(t, tx, Authorised)
		rows, err := db.Reader().Query(`SELECT channel, event, target FROM outbox WHERE shop_id = $1 ORDER BY created_at, id`, e.shop.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]bool{}
		for rows.Next() {
			var ch, ev, target string
			if err := rows.Scan(&ch, &ev, &target); err != nil {
				t.Fatal(err)
			}
			got[ch+" "+ev+" "+target] = true
		}
		for _, want := range []string{
			"ipn payment.accepted https://merchant.example/ipn",
			"email payment.accepted buyer@example.com",
			"email token.created buyer@example.com",
		} {
			if !got[want] {
				t.Errorf("no %q in the outbox of payment %s: %v", want, p.ID, got)
			}
		}
	})
}

func TestCaptureAndRefundRecovery(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		p, tx := e.pay(CreateInput{Amount: 800}, cardOK)
		// The acquirer cannot be reached: nothing happened, the next run retries.
		e.sim.InjectFault(tx.UUID+"-capture", simulator.FaultUnavailable)
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 0 {
			t.Fatalf("captured %d through an unavailable acquirer", n)
		}
		if got := e.get(tx.UUID); got.DetailedStatus != Authorised || got.PendingOp != "" {
			t.Fatalf("after an unavailable acquirer: %s, pending %q", got.DetailedStatus, got.PendingOp)
		}
		// The answer is lost: the capture stays pending, CaptureDue leaves it
		// alone, recovery finds it performed. (The next try waits for
		// captureRetry's first step.)
		e.sim.InjectFault(tx.UUID+"-capture", simulator.FaultTimeout)
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 0 || e.get(tx.UUID).PendingOp != "" {
			t.Fatal("a failed capture was sent again at once")
		}
		e.clk.Advance(time.Minute)
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 0 {
			t.Fatalf("captured %d without an answer", n)
		}
		if got := e.get(tx.UUID); got.PendingOp != opCapture {
			t.Fatalf("pending %q after a lost answer", got.PendingOp)
		}
		if n, _ := e.svc.CaptureDue(e.ctx(), 10); n != 0 {
			t.Fatal("a pending capture was claimed again")
		}
		e.clk.Advance(2 * time.Minute)
		if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); err != nil || n != 1 {
			t.Fatalf("recovery %d %v", n, err)
		}
		got := e.get(tx.UUID)
		wantStatus(t, got, Captured)
		if got.PendingOp != "" || got.CapturedAmount != 800 {
			t.Fatalf("recovered capture %+v", got)
		}
		// A refund whose answer is lost stays RUNNING (its amount reserved),
		// then recovery settles it.
		lossy := New(db, e.clk, lostRefunds{e.sim}, CardVault(e.vault), Config{AcquirerTimeout: 100 * time.Millisecond})
		amount := int64(500)
		_, credit, err := lossy.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{Amount: &amount})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, credit, Initial)
		over := int64(301)
		_, _, err = e.svc.CancelOrRefund(e.ctx(), e.shop.ID, tx.UUID, CancelInput{Amount: &over})
		wantCode(t, err, errs.BadAmount)
		e.clk.Advance(2 * time.Minute)
		if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); err != nil || n != 1 {
			t.Fatalf("refund recovery %d %v", n, err)
		}
		wantStatus(t, e.get(credit.UUID), Authorised)
		if got := e.get(tx.UUID); got.RefundedAmount != 500 {
			t.Fatalf("refunded %d", got.RefundedAmount)
		}
		// The refund's capture is claimed, then its write is lost (the
		// copy died): recovery captures it (it asks the acquirer nothing).
		if claimed, err := db.ClaimCaptures(e.ctx(), e.clk.Now(), 10); err != nil || len(claimed) != 1 || claimed[0].UUID != credit.UUID {
			t.Fatalf("claimed %v %v", claimed, err)
		}
		e.clk.Advance(2 * time.Minute)
		if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); err != nil || n != 1 {
			t.Fatalf("refund capture recovery %d %v", n, err)
		}
		if c := e.get(credit.UUID); c.DetailedStatus != Captured || c.PendingOp != "" || c.CapturedAmount != 500 {
			t.Fatalf("recovered refund capture %+v", c)
		}
		ev := e.events(p.ID)
		if len(ev) != 3 || ev[1] != "payment.captured" || ev[2] != "transaction.refunded" {
			t.Fatalf("IPN events %v", ev)
		}
	})
}

// lostRefunds is the simulator, except that the answer of every refund is
// lost (the refund is performed all the same).
type lostRefunds struct{ *simulator.Simulator }

func (l lostRefunds) Refund(ctx context.Context, opID, ref string, amount int64, currency string) (acquirer.Result, error) {
	l.InjectFault(opID, simulator.FaultTimeout)
	return l.Simulator.Refund(ctx, opID, ref, amount, currency)
}

// A completed 3-D Secure challenge pays one attempt: PayCard again with
// the same authentication (the buyer's page posting the completion again)
// makes no attempt and answers with the first one.
func TestChallengeAuthenticationUsedOnce(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, ft := e.create(CreateInput{Amount: 100})
		in := cardIn(cardRefused)
		in.ThreeDS = &acquirer.ThreeDSResult{Status: acquirer.ThreeDSAuthenticated, ECI: "05", LiabilityShift: true,
			Challenged: true, DSTransID: "c1b2c3d4-0000-4000-8000-000000000001", AuthenticationValue: "AAAA"}
		_, first, err := e.svc.PayCard(e.ctx(), ft, in)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, first, Refused)
		p, again, err := e.svc.PayCard(e.ctx(), ft, in)
		if err != nil {
			t.Fatal(err)
		}
		if again.UUID != first.UUID || len(p.Transactions) != 1 || p.Attempts != 1 || e.sim.Authorizations() != 0 {
			t.Fatalf("replay: transaction %s (first %s), %d transactions, %d attempts, %d approved authorizations",
				again.UUID, first.UUID, len(p.Transactions), p.Attempts, e.sim.Authorizations())
		}
		// Another challenge of the same form is another attempt.
		in.ThreeDS.DSTransID = "c1b2c3d4-0000-4000-8000-000000000002"
		if p, _, err = e.svc.PayCard(e.ctx(), ft, in); err != nil || len(p.Transactions) != 2 {
			t.Fatalf("second challenge: %d transactions, %v", len(p.Transactions), err)
		}
	})
}
