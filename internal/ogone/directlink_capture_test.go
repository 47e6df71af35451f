package ogone_test

import (
	"context"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/shop"
)

// TestDirectLinkCaptureAfterPartialCapture: Ingenico's SAL on an order is
// a partial capture that leaves the rest open for another SAL or a last
// SAS (DirectLink guide, "Maintenance request"; the Ingenico e-commerce
// modules' DirectLink::createCapture sends SAL while an amount is left to
// capture, then SAS). The SAS of the rest, as the modules send it,
// captures it; the order is then closed, and any capture after it answers
// the same NCERROR whatever its amount, saying which operation closed it,
// rather than 50001126 "overflow" for an amount within the authorisation
// and 50001127 for a smaller one. A partial SAS closes the order too,
// releasing the rest.
func TestDirectLinkCaptureAfterPartialCapture(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.order(map[string]string{"ORDERID": "PC-1", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
	if r["STATUS"] != "5" {
		t.Fatalf("authorisation: %v", r)
	}
	c := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "SAL", "AMOUNT": "400"})
	if c["STATUS"] != "9" || c["NCERROR"] != "0" || c["amount"] != "4" || c["PAYIDSUB"] != "1" {
		t.Fatalf("partial capture: %v", c)
	}
	// The rest, as the Ingenico modules send it.
	c = e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "SAS", "AMOUNT": "850"})
	if c["STATUS"] != "9" || c["NCERROR"] != "0" || c["amount"] != "8.5" || c["PAYIDSUB"] != "2" {
		t.Fatalf("last capture of the rest: %v", c)
	}
	for _, next := range []map[string]string{
		{"OPERATION": "SAS", "AMOUNT": "850"},
		{"OPERATION": "SAL", "AMOUNT": "100"},
		{"OPERATION": "SAS"},
	} {
		next["PAYID"] = r["PAYID"]
		m := e.direct("maintenancedirect.asp", next)
		if m["NCERROR"] != "50001127" || m["NCSTATUS"] != "5" || m["STATUS"] != "9" ||
			m["NCERRORPLUS"] != "the order was closed by PAYIDSUB 2: nothing is left to capture" {
			t.Errorf("%s %s after the last capture: %v, want NCERROR 50001127 saying PAYIDSUB 2 closed the order",
				next["OPERATION"], next["AMOUNT"], m)
		}
	}
	// A partial SAS releases the rest.
	ps := e.order(map[string]string{"ORDERID": "PC-4", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
	if m := e.direct("maintenancedirect.asp", map[string]string{"PAYID": ps["PAYID"], "OPERATION": "SAS", "AMOUNT": "400"}); m["STATUS"] != "9" {
		t.Fatalf("partial SAS: %v", m)
	}
	if m := e.direct("maintenancedirect.asp", map[string]string{"PAYID": ps["PAYID"], "OPERATION": "SAL", "AMOUNT": "100"}); m["NCERROR"] != "50001127" ||
		m["NCERRORPLUS"] != "the order was closed by PAYIDSUB 1 (4 EUR) and the rest of the authorisation released: nothing is left to capture" {
		t.Errorf("SAL after a partial SAS: %v", m)
	}
	// A sale is captured by its order, a full capture by its PAYIDSUB.
	s := e.order(map[string]string{"ORDERID": "PC-2", "OPERATION": "SAL", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
	if m := e.direct("maintenancedirect.asp", map[string]string{"PAYID": s["PAYID"], "OPERATION": "SAS"}); m["NCERROR"] != "50001127" ||
		m["NCERRORPLUS"] != "the order was closed by its sale (OPERATION SAL): nothing is left to capture" {
		t.Errorf("capture of a sale: %v", m)
	}
	f := e.order(map[string]string{"ORDERID": "PC-3", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
	if m := e.direct("maintenancedirect.asp", map[string]string{"PAYID": f["PAYID"], "OPERATION": "SAS"}); m["STATUS"] != "9" {
		t.Fatalf("full capture: %v", m)
	}
	if m := e.direct("maintenancedirect.asp", map[string]string{"PAYID": f["PAYID"], "OPERATION": "SAS"}); m["NCERROR"] != "50001127" ||
		m["NCERRORPLUS"] != "the order was closed by PAYIDSUB 1: nothing is left to capture" {
		t.Errorf("second capture of a full capture: %v", m)
	}
	o, err := e.db.OrdersByOrderID(ctx, shop.DemoShopID, "TEST", "PC-1")
	if err != nil || len(o) != 1 {
		t.Fatal(o, err)
	}
	p, tx, err := e.payments.Get(ctx, shop.DemoShopID, o[0].TransactionUUID)
	if err != nil || tx.DetailedStatus != "CAPTURED" || tx.Amount != 850 || len(p.Transactions) != 2 ||
		p.Transactions[1].ParentUUID != tx.UUID || p.Transactions[1].CapturedAmount != 400 {
		t.Fatalf("V4 view: %+v %+v %v", tx, p.Transactions, err)
	}
}

// TestDirectLinkQueryOfAPendingCapture: a maintenance capture the acquirer
// could not take answers 91 (payment processing), as Ingenico answers a
// capture it has queued, and the capture job makes it later. querydirect
// of that operation (PAYIDSUB) then says 9, as the order does, not the 91
// it was answered: the Ingenico modules' library maps 91 to "capture
// processing" and 9 to captured.
func TestDirectLinkQueryOfAPendingCapture(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.order(map[string]string{"ORDERID": "PQ-1", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
	if r["STATUS"] != "5" {
		t.Fatalf("authorisation: %v", r)
	}
	e.acq.mu.Lock()
	e.acq.captureFault = simulator.FaultUnavailable
	e.acq.mu.Unlock()
	c := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "SAS"})
	e.acq.mu.Lock()
	e.acq.captureFault = 0
	e.acq.mu.Unlock()
	if c["STATUS"] != "91" || c["NCERROR"] != "0" || c["PAYIDSUB"] != "1" {
		t.Fatalf("capture the acquirer could not take: %v, want STATUS 91", c)
	}
	sub := map[string]string{"PAYID": r["PAYID"], "PAYIDSUB": "1"}
	if q := e.direct("querydirect_utf8.asp", sub); q["STATUS"] != "91" {
		t.Fatalf("query of the pending capture: %v, want 91", q)
	}
	e.clock.Advance(24 * time.Hour)
	if _, err := e.payments.CaptureAllDue(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "9" {
		t.Fatalf("query of the order once captured: %v, want 9", q)
	}
	if q := e.direct("querydirect_utf8.asp", sub); q["STATUS"] != "9" || q["NCERROR"] != "0" || q["PAYIDSUB"] != "1" {
		t.Errorf("query of the capture once made: %v, want STATUS 9", q)
	}
}

// TestDirectLinkQueryOfAPendingDeletion: a deletion (DES) whose answer the
// acquirer lost answers 61 (author. deletion waiting); once recovery
// learns it was made, querydirect of that operation says 6, as the order.
func TestDirectLinkQueryOfAPendingDeletion(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.order(map[string]string{"ORDERID": "PD-1", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
	if r["STATUS"] != "5" {
		t.Fatalf("authorisation: %v", r)
	}
	e.acq.mu.Lock()
	e.acq.cancelFault = simulator.FaultTimeout
	e.acq.mu.Unlock()
	d := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "DES"})
	e.acq.mu.Lock()
	e.acq.cancelFault = 0
	e.acq.mu.Unlock()
	if d["STATUS"] != "61" || d["NCERROR"] != "0" || d["PAYIDSUB"] != "1" {
		t.Fatalf("deletion whose answer was lost: %v, want STATUS 61", d)
	}
	sub := map[string]string{"PAYID": r["PAYID"], "PAYIDSUB": "1"}
	if q := e.direct("querydirect_utf8.asp", sub); q["STATUS"] != "61" {
		t.Fatalf("query of the pending deletion: %v, want 61", q)
	}
	e.clock.Advance(time.Hour)
	if _, err := e.payments.RecoverRunning(ctx, time.Minute, 100); err != nil {
		t.Fatal(err)
	}
	if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "6" {
		t.Fatalf("query of the order once deleted: %v, want 6", q)
	}
	if q := e.direct("querydirect_utf8.asp", sub); q["STATUS"] != "6" || q["NCERROR"] != "0" {
		t.Errorf("query of the deletion once made: %v, want STATUS 6", q)
	}
}

// TestDirectLinkDeletionTheAcquirerRefuses: a deletion (DES) the acquirer
// refuses deleted nothing: STATUS 63 (author. deletion refused) with
// NCERROR 30001001, the order still authorised (query: 5), never 6.
func TestDirectLinkDeletionTheAcquirerRefuses(t *testing.T) {
	e := newEnv(t)
	r := e.order(map[string]string{"ORDERID": "RD-1", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
	if r["STATUS"] != "5" {
		t.Fatalf("authorisation: %v", r)
	}
	e.acq.mu.Lock()
	e.acq.cancelFault = simulator.FaultRefused
	e.acq.mu.Unlock()
	d := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "DES"})
	e.acq.mu.Lock()
	e.acq.cancelFault = 0
	e.acq.mu.Unlock()
	if d["STATUS"] != "63" || d["NCERROR"] != "30001001" {
		t.Fatalf("deletion the acquirer refused: %v, want STATUS 63 NCERROR 30001001", d)
	}
	if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "5" {
		t.Fatalf("query of the order after the refused deletion: %v, want 5", q)
	}
}
