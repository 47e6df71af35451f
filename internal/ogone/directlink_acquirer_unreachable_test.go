package ogone_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// TestDirectLinkPartialDeletionThenCaptureAtTheAcquirer pins what the
// acquirer learns of a partial DEL: nothing when it is made (the connector
// has no partial reversal; V4's partial Transaction/CancelOrRefund and
// Transaction/Update lower the amount the same way, through the same
// payment.Service.CancelOrRefund), and the amount left when the order is
// captured, which is all the acquirer holds against the authorisation: its
// journal has the authorisation for the 10.00 authorised, neither
// cancelled nor captured after the DEL, then one capture for what the
// order captured, never above what the DEL left. The capture is sent while
// the acquirer is unreachable: answered 91 (its PAYIDSUB too), the debit
// validated and its claim released with a retry time, as V4
// Transaction/Capture leaves it, and the capture job makes it for the
// amount answered, after which querydirect says 9 for the order and for
// the capture's PAYIDSUB. SAS without AMOUNT takes the rest (7.00), SAS
// with one takes that (5.00) and releases the rest (a SAL for part of what
// is left captures a part of its own: TestDirectLinkPartialCaptureTheAcquirerCannotTake).
// Both engines.
func TestDirectLinkPartialDeletionThenCaptureAtTheAcquirer(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnvOn(t, eng.Open)
			// The acquirer over the database's journal, so that what it
			// holds can be read back; set before any operation is sent.
			e.acq.Connector = simulator.New(simulator.Config{Clock: e.clock, TimeoutHold: 50 * time.Millisecond, Journal: e.db})
			ctx := context.Background()
			for _, c := range []struct {
				capture map[string]string
				amount  string // the capture's answered amount
				cents   int64
			}{
				{map[string]string{"OPERATION": "SAS"}, "7", 700},
				{map[string]string{"OPERATION": "SAS", "AMOUNT": "500"}, "5", 500},
			} {
				orderID := fmt.Sprintf("PDEL-%s-%s%s", eng.Name, c.capture["OPERATION"], c.capture["AMOUNT"])
				r := e.order(map[string]string{"ORDERID": orderID, "AMOUNT": "1000", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
				if r["STATUS"] != "5" {
					t.Fatalf("%s: authorisation: %v", orderID, r)
				}
				orders, err := e.db.OrdersByOrderID(ctx, shop.DemoShopID, "TEST", orderID)
				if err != nil || len(orders) != 1 {
					t.Fatal(orders, err)
				}
				uuid := orders[0].TransactionUUID
				acquirerHolds := func(when string, captured int64) {
					t.Helper()
					authz, found, err := e.db.LookupOperation(ctx, uuid)
					if err != nil || !found || authz.Amount != 1000 || authz.Cancelled || authz.Captured != captured {
						t.Fatalf("%s %s: the acquirer's authorisation %v %v: %d, cancelled %v, %d captured; want 1000, not cancelled, %d captured",
							orderID, when, found, err, authz.Amount, authz.Cancelled, authz.Captured, captured)
					}
					if _, found, err := e.db.LookupOperation(ctx, uuid+"-cancel"); err != nil || found {
						t.Fatalf("%s %s: a cancellation at the acquirer: %v %v", orderID, when, found, err)
					}
				}

				d := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "DEL", "AMOUNT": "300"})
				if d["STATUS"] != "6" || d["NCERROR"] != "0" || d["amount"] != "3" || d["PAYIDSUB"] != "1" {
					t.Fatalf("%s: DEL of 3.00: %v", orderID, d)
				}
				acquirerHolds("after the DEL", 0)

				e.acq.mu.Lock()
				e.acq.captureFault = simulator.FaultUnavailable
				e.acq.mu.Unlock()
				c.capture["PAYID"] = r["PAYID"]
				m := e.direct("maintenancedirect.asp", c.capture)
				e.acq.mu.Lock()
				e.acq.captureFault = 0
				e.acq.mu.Unlock()
				if m["STATUS"] != "91" || m["NCERROR"] != "0" || m["amount"] != c.amount || m["PAYIDSUB"] != "2" {
					t.Fatalf("%s: %s the acquirer could not take: %v, want STATUS 91 for %s", orderID, c.capture["OPERATION"], m, c.amount)
				}
				sub := map[string]string{"PAYID": r["PAYID"], "PAYIDSUB": "2"}
				if q := e.direct("querydirect_utf8.asp", sub); q["STATUS"] != "91" {
					t.Fatalf("%s: the capture before it is made: %v, want 91", orderID, q)
				}
				acquirerHolds("before the capture is made", 0)

				e.clock.Advance(time.Hour)
				if _, err := e.payments.CaptureAllDue(ctx, 100); err != nil {
					t.Fatal(err)
				}
				acquirerHolds("once captured", c.cents)
				capt, found, err := e.db.LookupOperation(ctx, uuid+"-capture")
				if err != nil || !found || !capt.Result.Approved || capt.Amount != c.cents {
					t.Fatalf("%s: the acquirer's capture %v %v %+v for %d, want %d", orderID, found, err, capt.Result, capt.Amount, c.cents)
				}
				if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "9" || q["amount"] != c.amount {
					t.Errorf("%s: the order once captured: %v, want 9 for %s", orderID, q, c.amount)
				}
				if q := e.direct("querydirect_utf8.asp", sub); q["STATUS"] != "9" || q["NCERROR"] != "0" || q["amount"] != c.amount {
					t.Errorf("%s: the capture once made: %v, want 9 for %s", orderID, q, c.amount)
				}
				if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"], "PAYIDSUB": "1"}); q["STATUS"] != "6" || q["amount"] != "3" {
					t.Errorf("%s: the DEL after the capture: %v, want 6 for 3", orderID, q)
				}
			}
		})
	}
}

// TestDirectLinkRefundTheAcquirerCannotTake: a refund (RFD) sent while the
// acquirer is unreachable is not answered 91-like "processing" with
// nothing left to make it: it was not made, and says so, STATUS 84
// (refund declined by the acquirer) with NCERROR 40001012 (acquirer
// temporarily unavailable, NCSTATUS 4: try again), the same refund the V4
// Transaction/CancelOrRefund ends in ERROR. Its amount is given back to the
// order, which stays 9, and the RFD sent again refunds (81). Both engines.
func TestDirectLinkRefundTheAcquirerCannotTake(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnvOn(t, eng.Open)
			ctx := context.Background()
			r := e.order(map[string]string{"ORDERID": "RFU-1", "OPERATION": "SAL", "AMOUNT": "1000", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
			if r["STATUS"] != "9" {
				t.Fatalf("sale: %v", r)
			}
			e.acq.Connector.(*simulator.Simulator).InjectNextFault(simulator.KindRefund, simulator.FaultUnavailable)
			f := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "RFD", "AMOUNT": "400"})
			if f["STATUS"] != "84" || f["NCERROR"] != "40001012" || f["NCSTATUS"] != "4" || f["PAYIDSUB"] != "1" {
				t.Fatalf("refund the acquirer could not take: %v, want STATUS 84 NCERROR 40001012", f)
			}
			if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"], "PAYIDSUB": "1"}); q["STATUS"] != "84" {
				t.Errorf("query of the refund not made: %v, want 84", q)
			}
			if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "9" {
				t.Errorf("the order after the refund not made: %v, want 9", q)
			}
			orders, err := e.db.OrdersByOrderID(ctx, shop.DemoShopID, "TEST", "RFU-1")
			if err != nil || len(orders) != 1 {
				t.Fatal(orders, err)
			}
			if _, d, err := e.payments.Get(ctx, shop.DemoShopID, orders[0].TransactionUUID); err != nil || d.RefundedAmount != 0 {
				t.Fatalf("the debit after the refund not made: %d refunded, %v", d.RefundedAmount, err)
			}
			if f := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "RFD", "AMOUNT": "400"}); f["STATUS"] != "81" || f["NCERROR"] != "0" {
				t.Fatalf("the refund sent again: %v, want 81", f)
			}
		})
	}
}
