package ogone_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// partsEnv is newEnvOn with the acquirer over the database's journal, so
// that what it holds can be read back; set before any operation is sent.
func partsEnv(t *testing.T, eng storetest.Engine) *env {
	e := newEnvOn(t, eng.Open)
	e.acq.Connector = simulator.New(simulator.Config{Clock: e.clock, TimeoutHold: 50 * time.Millisecond, Journal: e.db})
	return e
}

// authorised orders AMOUNT 10.00 (RES) under orderID and returns its PAYID
// and its debit's uuid.
func (e *env) authorised(orderID string) (string, string) {
	e.t.Helper()
	r := e.order(map[string]string{"ORDERID": orderID, "AMOUNT": "1000", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
	if r["STATUS"] != "5" {
		e.t.Fatalf("%s: authorisation: %v", orderID, r)
	}
	orders, err := e.db.OrdersByOrderID(context.Background(), shop.DemoShopID, "TEST", orderID)
	if err != nil || len(orders) != 1 {
		e.t.Fatal(orders, err)
	}
	return r["PAYID"], orders[0].TransactionUUID
}

// acquirerHas checks what the acquirer's journal holds of the authorization
// of debit uuid: captured, and never cancelled.
func (e *env) acquirerHas(when, uuid string, captured int64) {
	e.t.Helper()
	a, found, err := e.db.LookupOperation(context.Background(), uuid)
	if err != nil || !found || a.Amount != 1000 || a.Cancelled || a.Captured != captured {
		e.t.Fatalf("%s: the acquirer's authorisation %v %v: %d, cancelled %v, %d captured; want 1000, not cancelled, %d captured",
			when, found, err, a.Amount, a.Cancelled, a.Captured, captured)
	}
}

// onePostSale delivers the one post-sale request queued, checking that it
// is the only one sent and says want.
func (e *env) onePostSale(t *testing.T, recv *postSaleReceiver, want map[string]string) {
	t.Helper()
	l := e.postSales(t)
	if len(l) != 1 {
		t.Fatalf("post-sale requests queued: %+v, want 1", l)
	}
	e.deliverPostSales(t, l)
	if _, got := recv.requests(); len(got) != 1 {
		t.Fatalf("post-sale requests received: %v, want 1", got)
	} else {
		checkPostSale(t, got[0], want)
	}
}

func (e *env) maintain(payid string, op map[string]string) map[string]string {
	e.t.Helper()
	op["PAYID"] = payid
	return e.direct("maintenancedirect.asp", op)
}

// maintainFaulted is maintain with fault injected into the captures the
// acquirer is sent meanwhile.
func (e *env) maintainFaulted(payid string, fault simulator.Fault, op map[string]string) map[string]string {
	e.t.Helper()
	e.acq.mu.Lock()
	e.acq.captureFault = fault
	e.acq.mu.Unlock()
	defer func() {
		e.acq.mu.Lock()
		e.acq.captureFault = 0
		e.acq.mu.Unlock()
	}()
	return e.maintain(payid, op)
}

func (e *env) query(payid, payidsub string) map[string]string {
	e.t.Helper()
	return e.direct("querydirect_utf8.asp", map[string]string{"PAYID": payid, "PAYIDSUB": payidsub})
}

// TestDirectLinkCaptureInParts: an order shipped in parts, captured as the
// Ingenico modules capture it (DirectLink::createCapture): SAL while an
// amount is left, then SAS. Each SAL captures its part (9, its PAYIDSUB)
// and leaves the rest open (the order 5); a SAL above what is left is an
// overflow; the last SAS captures the rest and closes the order (9), after
// which a capture is refused (50001127). The acquirer captured 10.00 of
// its 10.00 authorisation in three captures, as V4 shows three captured
// debits. RFD 5.00 then takes from the first two captures, RFS the rest
// from the last two, none above its capture; querydirect says 81 then 8
// once the refunds are remitted. Both engines.
func TestDirectLinkCaptureInParts(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := partsEnv(t, eng)
			ctx := context.Background()
			payid, uuid := e.authorised("PARTS-" + eng.Name)
			for i, c := range []struct {
				amount, answered, left string
			}{{"400", "4", "6"}, {"300", "3", "3"}} {
				m := e.maintain(payid, map[string]string{"OPERATION": "SAL", "AMOUNT": c.amount})
				sub := strconv.Itoa(i + 1)
				if m["STATUS"] != "9" || m["NCERROR"] != "0" || m["amount"] != c.answered || m["PAYIDSUB"] != sub {
					t.Fatalf("SAL %s: %v, want STATUS 9 for %s, PAYIDSUB %s", c.amount, m, c.answered, sub)
				}
				if q := e.query(payid, ""); q["STATUS"] != "5" || q["amount"] != c.left {
					t.Fatalf("the order after SAL %s: %v, want 5 (authorised for the %s left)", c.amount, q, c.left)
				}
				if q := e.query(payid, sub); q["STATUS"] != "9" || q["amount"] != c.answered {
					t.Fatalf("query of SAL %s: %v, want 9 for %s", c.amount, q, c.answered)
				}
			}
			e.acquirerHas("after two SAL", uuid, 700)
			if m := e.maintain(payid, map[string]string{"OPERATION": "SAL", "AMOUNT": "400"}); m["NCERROR"] != "50001126" {
				t.Fatalf("SAL 4.00 with 3.00 left: %v, want the overflow 50001126", m)
			}
			if m := e.maintain(payid, map[string]string{"OPERATION": "SAS"}); m["STATUS"] != "9" || m["amount"] != "3" || m["PAYIDSUB"] != "3" {
				t.Fatalf("the last SAS: %v, want 9 for the 3 left", m)
			}
			if q := e.query(payid, ""); q["STATUS"] != "9" {
				t.Fatalf("the order once closed: %v, want 9", q)
			}
			if m := e.maintain(payid, map[string]string{"OPERATION": "SAL", "AMOUNT": "100"}); m["NCERROR"] != "50001127" ||
				m["NCERRORPLUS"] != "the order was closed by PAYIDSUB 3: nothing is left to capture" {
				t.Fatalf("SAL after the last SAS: %v", m)
			}
			e.acquirerHas("once closed", uuid, 1000)
			p, _, err := e.payments.Get(ctx, shop.DemoShopID, uuid)
			if err != nil {
				t.Fatal(err)
			}
			var captured int64
			debits := 0
			for _, d := range p.Transactions {
				if d.OperationType == payment.Debit {
					debits++
					captured += d.CapturedAmount
					if d.DetailedStatus != payment.Captured || (d.UUID != uuid && d.ParentUUID != uuid) {
						t.Errorf("V4 debit %+v: want CAPTURED, the order's debit or a part of it", d)
					}
				}
			}
			if debits != 3 || captured != 1000 {
				t.Fatalf("V4: %d debits capturing %d, want 3 capturing the 1000 the acquirer captured", debits, captured)
			}

			// Refunds: 5.00 of 4.00 + 3.00 + 3.00 captured, then the rest.
			if m := e.maintain(payid, map[string]string{"OPERATION": "RFD", "AMOUNT": "500"}); m["STATUS"] != "81" || m["amount"] != "5" {
				t.Fatalf("RFD 5.00: %v, want 81 for 5", m)
			}
			if m := e.maintain(payid, map[string]string{"OPERATION": "RFS"}); m["STATUS"] != "81" || m["amount"] != "5" || m["PAYIDSUB"] != "5" {
				t.Fatalf("RFS: %v, want 81 for the 5 left", m)
			}
			if m := e.maintain(payid, map[string]string{"OPERATION": "RFD", "AMOUNT": "1"}); m["NCERROR"] != "50001129" {
				t.Fatalf("RFD once all is refunded: %v, want the overflow 50001129", m)
			}
			p, _, _ = e.payments.Get(ctx, shop.DemoShopID, uuid)
			credits := map[string]int64{}
			for _, c := range p.Transactions {
				if c.OperationType == payment.Credit {
					credits[c.ParentUUID] += c.Amount
				}
			}
			for _, d := range p.Transactions {
				if d.OperationType == payment.Debit && (credits[d.UUID] != d.CapturedAmount || d.RefundedAmount != d.CapturedAmount) {
					t.Errorf("debit %s captured %d: refunded %d by its credits (%d recorded), want all of it", d.UUID, d.CapturedAmount,
						credits[d.UUID], d.RefundedAmount)
				}
			}
			if len(credits) != 3 {
				t.Errorf("credits of %d debits, want one per capture: %v", len(credits), credits)
			}
			if _, err := e.payments.CaptureAllDue(ctx, 100); err != nil {
				t.Fatal(err)
			}
			for _, sub := range []string{"4", "5"} {
				if q := e.query(payid, sub); q["STATUS"] != "8" || q["amount"] != "5" {
					t.Errorf("query of refund %s once remitted: %v, want 8 for 5", sub, q)
				}
			}
			if q := e.query(payid, ""); q["STATUS"] != "8" {
				t.Errorf("the order once refunded: %v, want 8", q)
			}
		})
	}
}

// TestDirectLinkDeletionAfterPartialCapture: DES after a SAL for part of
// the order deletes only the rest: answered 6 for it, nothing sent to the
// acquirer (which would cancel, or refuse to cancel, an authorisation
// partly captured), the 4.00 captured stays captured and the order reads 9
// for it; no capture is then possible, and RFS refunds the 4.00. A partial
// DEL after a partial SAL lowers the rest, which the SAS then captures.
// Both engines.
func TestDirectLinkDeletionAfterPartialCapture(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := partsEnv(t, eng)
			payid, uuid := e.authorised("PDES-" + eng.Name)
			if m := e.maintain(payid, map[string]string{"OPERATION": "SAL", "AMOUNT": "400"}); m["STATUS"] != "9" {
				t.Fatalf("SAL: %v", m)
			}
			if m := e.maintain(payid, map[string]string{"OPERATION": "DES"}); m["STATUS"] != "6" || m["amount"] != "6" {
				t.Fatalf("DES after SAL 4.00: %v, want 6 for the 6 left", m)
			}
			e.acq.mu.Lock()
			cancels := e.acq.cancels
			e.acq.mu.Unlock()
			if cancels != 0 {
				t.Fatalf("%d cancellations sent to the acquirer, want none", cancels)
			}
			e.acquirerHas("after DES", uuid, 400)
			if q := e.query(payid, ""); q["STATUS"] != "9" {
				t.Fatalf("the order after DES: %v, want 9 (captured for the part)", q)
			}
			if m := e.maintain(payid, map[string]string{"OPERATION": "SAS"}); m["NCERROR"] != "50001127" {
				t.Fatalf("SAS after DES: %v, want 50001127", m)
			}
			if m := e.maintain(payid, map[string]string{"OPERATION": "RFS"}); m["STATUS"] != "81" || m["amount"] != "4" {
				t.Fatalf("RFS: %v, want 81 for the 4 captured", m)
			}

			payid, uuid = e.authorised("PDEL-" + eng.Name)
			for _, op := range []map[string]string{
				{"OPERATION": "SAL", "AMOUNT": "400"},
				{"OPERATION": "DEL", "AMOUNT": "200"},
				{"OPERATION": "SAS"},
			} {
				if m := e.maintain(payid, op); m["NCERROR"] != "0" {
					t.Fatalf("%v: %v", op, m)
				}
			}
			e.acquirerHas("SAL 4, DEL 2, SAS", uuid, 800)
		})
	}
}

// TestDirectLinkConcurrentPartialCaptures: SALs of 3.00 sent together on a
// 10.00 authorisation capture at most 9.00 (three are answered 9, the
// others the overflow 50001126), never more than the authorisation, and
// the SAS after them captures the 1.00 left: the acquirer holds 10.00
// captured: the same SAL sent several times captures again only within
// what is left. Both engines.
func TestDirectLinkConcurrentPartialCaptures(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := partsEnv(t, eng)
			payid, uuid := e.authorised("PCONC-" + eng.Name)
			const n = 6
			got := make([]map[string]string, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for k := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					got[k], errs[k] = e.directTry("maintenancedirect.asp", map[string]string{"PAYID": payid, "OPERATION": "SAL", "AMOUNT": "300"})
				}()
			}
			close(start)
			wg.Wait()
			done := 0
			for k := range n {
				switch {
				case errs[k] != nil:
					t.Fatal(errs[k])
				case got[k]["STATUS"] == "9":
					done++
				case got[k]["NCERROR"] != "50001126" && got[k]["NCERROR"] != "40001011":
					t.Fatalf("SAL #%d: %v, want 9, the overflow or a retry", k, got[k])
				}
			}
			if done > 3 || done == 0 {
				t.Fatalf("%d SAL of 3.00 captured on 10.00", done)
			}
			e.acquirerHas("after the SALs", uuid, int64(done)*300)
			if m := e.maintain(payid, map[string]string{"OPERATION": "SAS"}); m["STATUS"] != "9" || m["amount"] != fmt.Sprint(10-3*done) {
				t.Fatalf("SAS after %d SAL: %v", done, m)
			}
			e.acquirerHas("after the SAS", uuid, 1000)
		})
	}
}

// TestDirectLinkPartialCaptureTheAcquirerCannotTake: a SAL whose capture
// the acquirer cannot be reached for is answered 91, its part left for the
// capture job, which makes it (querydirect of its PAYIDSUB: 9; the
// post-sale request says 9 for that PAYIDSUB and amount); one the
// acquirer refuses is answered 93 and gives its amount back to the order,
// still authorised for all of it (5, 10.00), which the SAS captures.
// Both engines.
func TestDirectLinkPartialCaptureTheAcquirerCannotTake(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := partsEnv(t, eng)
			ctx := context.Background()
			recv := newPostSaleReceiver(t)
			e.setPostSale(t, recv.srv.URL+"/ogone/postsale", "")
			payid, uuid := e.authorised("PUNR-" + eng.Name)
			m := e.maintainFaulted(payid, simulator.FaultUnavailable, map[string]string{"OPERATION": "SAL", "AMOUNT": "400"})
			if m["STATUS"] != "91" || m["PAYIDSUB"] != "1" || m["amount"] != "4" {
				t.Fatalf("SAL the acquirer could not take: %v, want 91", m)
			}
			if q := e.query(payid, "1"); q["STATUS"] != "91" {
				t.Fatalf("query of the pending SAL: %v", q)
			}
			if q := e.query(payid, ""); q["STATUS"] != "5" || q["amount"] != "6" {
				t.Fatalf("the order while the part waits: %v, want 5 for 6", q)
			}
			e.clock.Advance(24 * time.Hour)
			if _, err := e.payments.CaptureAllDue(ctx, 100); err != nil {
				t.Fatal(err)
			}
			if q := e.query(payid, "1"); q["STATUS"] != "9" {
				t.Fatalf("query of the SAL once the job captured it: %v, want 9", q)
			}
			e.acquirerHas("the part captured by the job", uuid, 400)
			// The merchant, answered 91, is told by the post-sale request.
			e.onePostSale(t, recv, map[string]string{"STATUS": "9", "PAYIDSUB": "1", "amount": "4", "PAYID": payid})

			payid, uuid = e.authorised("PREF-" + eng.Name)
			m = e.maintainFaulted(payid, simulator.FaultRefused, map[string]string{"OPERATION": "SAL", "AMOUNT": "400"})
			if m["STATUS"] != "93" {
				t.Fatalf("SAL the acquirer refused: %v, want 93", m)
			}
			if q := e.query(payid, ""); q["STATUS"] != "5" || q["amount"] != "10" {
				t.Fatalf("the order after the refused SAL: %v, want 5 for all 10", q)
			}
			if m := e.maintain(payid, map[string]string{"OPERATION": "SAS"}); m["STATUS"] != "9" || m["amount"] != "10" {
				t.Fatalf("SAS after the refused SAL: %v, want 9 for 10", m)
			}
			e.acquirerHas("SAS after the refused SAL", uuid, 1000)
		})
	}
}

// TestPostSaleOfARestCancelledAfterParts: the rest of an order captured in
// part, cancelled by V4 Transaction/CancelOrRefund (no DirectLink answer
// tells it), sends a post-sale request saying what querydirect says: 9,
// captured for the 4.00 of its part, not 6. Both engines.
func TestPostSaleOfARestCancelledAfterParts(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := partsEnv(t, eng)
			recv := newPostSaleReceiver(t)
			e.setPostSale(t, recv.srv.URL+"/ogone/postsale", "")
			payid, uuid := e.authorised("PSREST-" + eng.Name)
			if m := e.maintain(payid, map[string]string{"OPERATION": "SAL", "AMOUNT": "400"}); m["STATUS"] != "9" {
				t.Fatalf("SAL: %v", m)
			}
			if _, _, err := e.payments.CancelOrRefund(context.Background(), shop.DemoShopID, uuid, payment.CancelInput{}); err != nil {
				t.Fatal(err)
			}
			if q := e.query(payid, ""); q["STATUS"] != "9" {
				t.Fatalf("the order once its rest is cancelled: %v, want 9", q)
			}
			e.onePostSale(t, recv, map[string]string{"STATUS": "9", "amount": "4", "PAYID": payid})
		})
	}
}
