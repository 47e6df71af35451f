package ogone_test

import (
	"context"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// TestDirectLinkSALRetriedWhileItsPartIsPending: a merchant whose SAL for
// part of an order got no answer in time on its side sends the same SAL
// again while that part's capture is still under way: the acquirer did
// not answer in time (the part pending until recovery asks it) or could
// not be reached (the part waiting for the capture job). The order is 91:
// the SAL, and SAS or DES, must answer 40001011 "in progress", as any
// operation on an order whose capture is pending does, not capture a
// second part for the same shipment (or delete the rest). Once the part
// is settled (9, told by one post-sale request), the SAS captures the rest: the acquirer holds the 10.00
// authorised, captured once. Both engines.
func TestDirectLinkSALRetriedWhileItsPartIsPending(t *testing.T) {
	for _, eng := range storetest.Engines() {
		for _, c := range []struct {
			name   string
			fault  simulator.Fault
			settle func(e *env) (int, error)
		}{
			{"no answer in time", simulator.FaultTimeout, func(e *env) (int, error) {
				return e.payments.RecoverRunning(context.Background(), time.Minute, 100)
			}},
			{"unreachable", simulator.FaultUnavailable, func(e *env) (int, error) {
				return e.payments.CaptureAllDue(context.Background(), 100)
			}},
		} {
			t.Run(eng.Name+"/"+c.name, func(t *testing.T) {
				e := partsEnv(t, eng)
				recv := newPostSaleReceiver(t)
				e.setPostSale(t, recv.srv.URL+"/ogone/postsale", "")
				payid, uuid := e.authorised("PRETRY-" + eng.Name)
				m := e.maintainFaulted(payid, c.fault, map[string]string{"OPERATION": "SAL", "AMOUNT": "400"})
				if m["STATUS"] != "91" || m["PAYIDSUB"] != "1" {
					t.Fatalf("SAL the acquirer did not take at once: %v, want 91", m)
				}
				for _, op := range []map[string]string{
					{"OPERATION": "SAL", "AMOUNT": "400"}, // the merchant's retry
					{"OPERATION": "SAS"},
					{"OPERATION": "DES"},
				} {
					if r := e.maintain(payid, op); r["NCERROR"] != "40001011" {
						t.Errorf("%v while the part's capture is under way: %v, want 40001011 (in progress)", op, r)
					}
				}
				e.clock.Advance(time.Hour)
				if _, err := c.settle(e); err != nil {
					t.Fatal(err)
				}
				e.acquirerHas("once the part is settled", uuid, 400)
				if q := e.query(payid, "1"); q["STATUS"] != "9" || q["amount"] != "4" {
					t.Fatalf("query of the SAL once settled: %v, want 9 for 4", q)
				}
				// Answered 91, the merchant learns the outcome by one
				// post-sale request, for that PAYIDSUB.
				e.onePostSale(t, recv, map[string]string{"STATUS": "9", "PAYIDSUB": "1", "amount": "4", "PAYID": payid})
				if r := e.maintain(payid, map[string]string{"OPERATION": "SAS"}); r["STATUS"] != "9" || r["amount"] != "6" {
					t.Fatalf("SAS once the part is settled: %v, want 9 for the 6 left", r)
				}
				e.acquirerHas("once closed", uuid, 1000)
			})
		}
	}
}

// TestDirectLinkQueryOfAnOrderClosedAfterParts: querydirect of an order
// captured in parts, once closed, answers what the order captured: after
// SAL 4.00 and DES, 9 for the 4.00 of the part (the post-sale request of
// such an order says 4, TestPostSaleOfARestCancelledAfterParts), not for
// the 6.00 deleted; after SAL 4.00, SAL 3.00 and SAS, 9 for the 10.00 of
// the three captures, not for the 3.00 of the last. Both engines.
func TestDirectLinkQueryOfAnOrderClosedAfterParts(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := partsEnv(t, eng)
			for _, c := range []struct {
				name string
				ops  []map[string]string
				want string
			}{
				{"SAL then DES", []map[string]string{{"OPERATION": "SAL", "AMOUNT": "400"}, {"OPERATION": "DES"}}, "4"},
				{"SAL, SAL then SAS", []map[string]string{{"OPERATION": "SAL", "AMOUNT": "400"}, {"OPERATION": "SAL", "AMOUNT": "300"},
					{"OPERATION": "SAS"}}, "10"},
			} {
				payid, _ := e.authorised("PQ-" + eng.Name + "-" + c.name)
				for _, op := range c.ops {
					if m := e.maintain(payid, op); m["NCERROR"] != "0" {
						t.Fatalf("%s: %v: %v", c.name, op, m)
					}
				}
				if q := e.query(payid, ""); q["STATUS"] != "9" || q["amount"] != c.want {
					t.Errorf("%s: the order: %v, want 9 for the %s captured", c.name, q, c.want)
				}
			}
		})
	}
}

// TestDirectLinkRefundAcrossPartsPartlyRefused: an RFD of 5.00 on an order
// captured in parts (4.00, 3.00, 3.00) is made as two refunds, 4.00 of the
// first capture and 1.00 of the second; the acquirer refuses the first and
// makes the second. The answer must say what went to the buyer: 81 for
// the 1.00 refunded (as querydirect of its PAYIDSUB then does), not 83 for
// 5.00, which tells the merchant nothing was refunded: sending the RFD of
// 5.00 again would refund 6.00 in all. The merchant then refunds the 4.00
// still due, and the buyer got 5.00. Both engines.
func TestDirectLinkRefundAcrossPartsPartlyRefused(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := partsEnv(t, eng)
			payid, uuid := e.authorised("PRFD-" + eng.Name)
			for _, op := range []map[string]string{{"OPERATION": "SAL", "AMOUNT": "400"}, {"OPERATION": "SAL", "AMOUNT": "300"},
				{"OPERATION": "SAS"}} {
				if m := e.maintain(payid, op); m["STATUS"] != "9" {
					t.Fatalf("%v: %v", op, m)
				}
			}
			e.acq.Connector.(*simulator.Simulator).InjectNextFault(simulator.KindRefund, simulator.FaultRefused)
			m := e.maintain(payid, map[string]string{"OPERATION": "RFD", "AMOUNT": "500"})
			if m["STATUS"] != "81" || m["amount"] != "1" || m["NCERROR"] != "0" {
				t.Errorf("RFD 5.00, the refund of 4.00 refused, that of 1.00 made: %v, want 81 for the 1 refunded", m)
			}
			if q := e.query(payid, m["PAYIDSUB"]); q["STATUS"] != "81" || q["amount"] != "1" {
				t.Errorf("query of that RFD: %v, want 81 for 1", q)
			}
			if r := e.maintain(payid, map[string]string{"OPERATION": "RFD", "AMOUNT": "400"}); r["STATUS"] != "81" || r["amount"] != "4" {
				t.Fatalf("RFD of the 4.00 still due: %v", r)
			}
			p, _, err := e.payments.Get(context.Background(), shop.DemoShopID, uuid)
			if err != nil {
				t.Fatal(err)
			}
			var refunded int64
			for _, c := range p.Transactions {
				if c.OperationType == payment.Credit && c.DetailedStatus == payment.Authorised {
					refunded += c.Amount
				}
			}
			if refunded != 500 {
				t.Fatalf("refunds made: %d, want the 500 asked", refunded)
			}
		})
	}
}
