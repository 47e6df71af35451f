package ogone_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
)

// TestDirectLinkCaptureAfterPartialCapture: Ingenico's SAL on an order is
// a partial capture that leaves the rest open for another SAL or a last
// SAS (DirectLink guide, "Maintenance request"; the Ingenico e-commerce
// modules' DirectLink::createCapture sends SAL while an amount is left to
// capture, then SAS). OpenPSP's payment captures once and releases the
// rest, so the next capture cannot be made: it must answer the same
// NCERROR whatever its amount, and say why, rather than 50001126
// "overflow" for an amount within the authorisation and 50001127 for a
// smaller one.
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
	for _, next := range []map[string]string{
		{"OPERATION": "SAS", "AMOUNT": "850"}, // the rest, as the Ingenico modules send it
		{"OPERATION": "SAL", "AMOUNT": "100"},
		{"OPERATION": "SAS"},
	} {
		next["PAYID"] = r["PAYID"]
		m := e.direct("maintenancedirect.asp", next)
		if m["NCERROR"] != "50001127" || m["NCSTATUS"] != "5" || m["STATUS"] != "9" ||
			!strings.Contains(m["NCERRORPLUS"], "released") || !strings.Contains(m["NCERRORPLUS"], "PAYIDSUB 1") {
			t.Errorf("%s %s after a partial capture: %v, want NCERROR 50001127 saying the rest was released by PAYIDSUB 1",
				next["OPERATION"], next["AMOUNT"], m)
		}
	}
	// A sale is captured by its order, a full capture by its PAYIDSUB.
	s := e.order(map[string]string{"ORDERID": "PC-2", "OPERATION": "SAL", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
	if m := e.direct("maintenancedirect.asp", map[string]string{"PAYID": s["PAYID"], "OPERATION": "SAS"}); m["NCERROR"] != "50001127" ||
		m["NCERRORPLUS"] != "the order was captured by its sale (OPERATION SAL): an order is captured once" {
		t.Errorf("capture of a sale: %v", m)
	}
	f := e.order(map[string]string{"ORDERID": "PC-3", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
	if m := e.direct("maintenancedirect.asp", map[string]string{"PAYID": f["PAYID"], "OPERATION": "SAS"}); m["STATUS"] != "9" {
		t.Fatalf("full capture: %v", m)
	}
	if m := e.direct("maintenancedirect.asp", map[string]string{"PAYID": f["PAYID"], "OPERATION": "SAS"}); m["NCERROR"] != "50001127" ||
		m["NCERRORPLUS"] != "the order was captured by PAYIDSUB 1: an order is captured once" {
		t.Errorf("second capture of a full capture: %v", m)
	}
	o, err := e.db.OrdersByOrderID(ctx, shop.DemoShopID, "TEST", "PC-1")
	if err != nil || len(o) != 1 {
		t.Fatal(o, err)
	}
	if _, tx, err := e.payments.Get(ctx, shop.DemoShopID, o[0].TransactionUUID); err != nil || tx.DetailedStatus != "CAPTURED" || tx.Amount != 400 {
		t.Fatalf("V4 view: %+v %v", tx, err)
	}
}
