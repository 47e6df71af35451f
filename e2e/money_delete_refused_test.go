package e2e

import (
	"testing"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
)

// TestDirectLinkWholeDeletionWithAmountTheAcquirerRefuses: the Ingenico
// modules delete an authorisation with DEL and its AMOUNT, the whole of it
// for a full void. The acquirer refusing that cancellation deleted
// nothing: the answer is STATUS 63 (deletion refused) with the refusal's
// NCERROR, as for a DES or a DEL without AMOUNT, and the debit is still
// authorised for all of it; never 6, which tells the merchant the money
// is released while the authorisation stands (and, once validated, is
// captured). Both engines, the fault injected in the server's simulator.
func TestDirectLinkWholeDeletionWithAmountTheAcquirerRefuses(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, serverOpts{engine: engine})
			o, err := directLinkCall(s, "orderdirect", demoAccount, map[string]string{"ORDERID": "del-whole-refused", "AMOUNT": "1000",
				"CURRENCY": "EUR", "CARDNO": "4970100000000055", "ED": futureExpiry(), "CVC": "123", "OPERATION": "RES", "ECI": "7"})
			if err != nil || o["STATUS"] != "5" {
				t.Fatalf("order: %v %v", o, err)
			}
			ord := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "del-whole-refused"}))
			uuid := ord["transactions"].([]any)[0].(map[string]any)["uuid"].(string)

			s.Sim.InjectFault(uuid+"-cancel", simulator.FaultRefused)
			d, err := directLinkCall(s, "maintenancedirect", demoAccount, map[string]string{"PAYID": o["PAYID"], "OPERATION": "DEL", "AMOUNT": "1000"})
			if err != nil || d["STATUS"] != "63" || d["NCERROR"] != "30001001" {
				t.Errorf("DEL of the whole 10.00 the acquirer refused: %v %v, want STATUS 63 NCERROR 30001001", d, err)
			}
			debit := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))
			if debit["detailedStatus"] != "AUTHORISED_TO_VALIDATE" || debit["amount"] != 1000.0 {
				t.Fatalf("the debit after the refused deletion: %v for %v", debit["detailedStatus"], debit["amount"])
			}
			if q, err := directLinkCall(s, "querydirect", demoAccount, map[string]string{"PAYID": o["PAYID"], "PAYIDSUB": d["PAYIDSUB"]}); err != nil ||
				q["STATUS"] == "6" {
				t.Errorf("the refused deletion queried: %v %v", q, err)
			}
			if q, err := directLinkCall(s, "querydirect", demoAccount, map[string]string{"PAYID": o["PAYID"]}); err != nil ||
				q["STATUS"] != "5" || q["amount"] != "10" {
				t.Errorf("the order after the refused deletion: %v %v, want STATUS 5 for 10", q, err)
			}
		})
	}
}
