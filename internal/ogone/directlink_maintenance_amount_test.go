package ogone_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
)

// TestDirectLinkMaintenanceAmounts: every maintenance OPERATION with an
// AMOUNT the order cannot take — above what is left (authorised less what
// was deleted, captured less what was refunded), zero, negative, not a
// whole number of cents, too large for any order — is refused with an
// NCERROR of the 500xxxxx family (NCSTATUS 5) and the order's STATUS, and
// nothing is written (no operation, the debit as it was) and the acquirer
// is not called. Ingenico: "Our system will check that the maintenance
// transaction amount is not higher than the authorisation/payment amount"
// (DirectLink guide, "Direct Maintenance", AMOUNT). An amount it can take
// is performed exactly once: one operation, one acquirer call.
//
// Codes: 50001126 (capture overflow), 50001129 (refund overflow) and
// 50001127 (order not in a correct status) from the Ogone catalogue; no
// public code for a deletion above the authorisation was found, so DEL
// and DES answer 50001111 "invalid amount", as DEL already did.
func TestDirectLinkMaintenanceAmounts(t *testing.T) {
	type step struct{ op, amount string }
	type debit struct {
		ds                        string
		amount, captured, refunds int64
	}
	authorised := debit{"AUTHORISED_TO_VALIDATE", 1250, 0, 0}
	captured := debit{"CAPTURED", 1250, 1250, 0}
	const (
		capOverflow    = "50001126"
		refundOverflow = "50001129"
		badStatus      = "50001127"
		notNumber      = "50001006"
		invalid        = "50001111"
	)
	cases := []struct {
		name   string
		cur    string // the order's CURRENCY and AMOUNT: EUR 1250 if empty
		auth   string
		before []step // each must be accepted
		op     step
		nc     string // NCERROR; "0": performed
		status string
		amount string // the answer's amount when performed
		after  debit
	}{
		// Captures of an authorisation of 12.50.
		{name: "SAL above", op: step{"SAL", "1251"}, nc: capOverflow, status: "5", after: authorised},
		{name: "SAS above", op: step{"SAS", "1251"}, nc: capOverflow, status: "5", after: authorised},
		{name: "SAL equal", op: step{"SAL", "1250"}, nc: "0", status: "9", amount: "12.5", after: captured},
		{name: "SAS equal", op: step{"SAS", "1250"}, nc: "0", status: "9", amount: "12.5", after: captured},
		// A SAL for part of it captures that part apart (a debit of its
		// own) and leaves the order's debit authorised for the rest; a
		// SAS for part of it captures the order's debit, releasing the
		// rest.
		{name: "SAL part", op: step{"SAL", "400"}, nc: "0", status: "9", amount: "4", after: debit{"AUTHORISED_TO_VALIDATE", 850, 0, 0}},
		{name: "SAS part", op: step{"SAS", "400"}, nc: "0", status: "9", amount: "4", after: debit{"CAPTURED", 400, 400, 0}},
		{name: "SAL zero", op: step{"SAL", "0"}, nc: invalid, status: "5", after: authorised},
		{name: "SAS zeros", op: step{"SAS", "000"}, nc: invalid, status: "5", after: authorised},
		{name: "SAL negative", op: step{"SAL", "-100"}, nc: notNumber, status: "5", after: authorised},
		{name: "SAL decimals", op: step{"SAL", "12.50"}, nc: notNumber, status: "5", after: authorised},
		{name: "SAL comma", op: step{"SAL", "12,50"}, nc: notNumber, status: "5", after: authorised},
		{name: "SAL letters", op: step{"SAL", "12a"}, nc: notNumber, status: "5", after: authorised},
		{name: "SAL inner space", op: step{"SAL", "12 50"}, nc: notNumber, status: "5", after: authorised},
		{name: "SAL plus", op: step{"SAL", "+1250"}, nc: notNumber, status: "5", after: authorised},
		{name: "SAL exponent", op: step{"SAL", "1e3"}, nc: notNumber, status: "5", after: authorised},
		{name: "SAL 15 digits", op: step{"SAL", "999999999999999"}, nc: capOverflow, status: "5", after: authorised},
		{name: "SAS int64 overflow", op: step{"SAS", "9223372036854775808"}, nc: notNumber, status: "5", after: authorised},
		{name: "SAL after partial DEL above", before: []step{{"DEL", "400"}}, op: step{"SAL", "851"}, nc: capOverflow, status: "5",
			after: debit{"AUTHORISED_TO_VALIDATE", 850, 0, 0}},
		{name: "SAS after partial DEL rest", before: []step{{"DEL", "400"}}, op: step{"SAS", "850"}, nc: "0", status: "9", amount: "8.5",
			after: debit{"CAPTURED", 850, 850, 0}},
		{name: "SAL after partial SAL above", before: []step{{"SAL", "400"}}, op: step{"SAL", "851"}, nc: capOverflow, status: "5",
			after: debit{"AUTHORISED_TO_VALIDATE", 850, 0, 0}},
		{name: "SAL after partial SAS", before: []step{{"SAS", "400"}}, op: step{"SAL", "100"}, nc: badStatus, status: "9",
			after: debit{"CAPTURED", 400, 400, 0}},

		// Deletions of an authorisation of 12.50.
		{name: "DEL above", op: step{"DEL", "1251"}, nc: invalid, status: "5", after: authorised},
		{name: "DES above", op: step{"DES", "1251"}, nc: invalid, status: "5", after: authorised},
		{name: "DES far above", op: step{"DES", "999999999999999"}, nc: invalid, status: "5", after: authorised},
		{name: "DEL equal", op: step{"DEL", "1250"}, nc: "0", status: "6", amount: "12.5", after: debit{"CANCELLED", 1250, 0, 0}},
		{name: "DES equal", op: step{"DES", "1250"}, nc: "0", status: "6", amount: "12.5", after: debit{"CANCELLED", 1250, 0, 0}},
		{name: "DEL part", op: step{"DEL", "400"}, nc: "0", status: "6", amount: "4", after: debit{"AUTHORISED_TO_VALIDATE", 850, 0, 0}},
		{name: "DEL zero", op: step{"DEL", "0"}, nc: invalid, status: "5", after: authorised},
		{name: "DES zero", op: step{"DES", "0"}, nc: invalid, status: "5", after: authorised},
		{name: "DES negative", op: step{"DES", "-1250"}, nc: notNumber, status: "5", after: authorised},
		{name: "DES decimals", op: step{"DES", "12.50"}, nc: notNumber, status: "5", after: authorised},
		{name: "DES plus", op: step{"DES", "+1250"}, nc: notNumber, status: "5", after: authorised},
		{name: "DES int64 overflow", op: step{"DES", "99999999999999999999"}, nc: notNumber, status: "5", after: authorised},
		{name: "DEL after partial DEL above", before: []step{{"DEL", "400"}}, op: step{"DEL", "851"}, nc: invalid, status: "5",
			after: debit{"AUTHORISED_TO_VALIDATE", 850, 0, 0}},
		{name: "DES after partial DEL above", before: []step{{"DEL", "400"}}, op: step{"DES", "1250"}, nc: invalid, status: "5",
			after: debit{"AUTHORISED_TO_VALIDATE", 850, 0, 0}},
		{name: "DES after partial DEL rest", before: []step{{"DEL", "400"}}, op: step{"DES", "850"}, nc: "0", status: "6", amount: "8.5",
			after: debit{"CANCELLED", 850, 0, 0}},
		{name: "DES part closes the order", op: step{"DES", "400"}, nc: "0", status: "6", amount: "12.5", after: debit{"CANCELLED", 1250, 0, 0}},
		{name: "DES above after capture", before: []step{{"SAS", ""}}, op: step{"DES", "1251"}, nc: badStatus, status: "9", after: captured},
		{name: "DES after DES", before: []step{{"DES", ""}}, op: step{"DES", "1250"}, nc: badStatus, status: "6", after: debit{"CANCELLED", 1250, 0, 0}},
		{name: "DES after capture", before: []step{{"SAS", ""}}, op: step{"DES", "1250"}, nc: badStatus, status: "9", after: captured},

		// Refunds of a capture of 12.50.
		{name: "RFD above", before: []step{{"SAS", ""}}, op: step{"RFD", "1251"}, nc: refundOverflow, status: "9", after: captured},
		{name: "RFS above", before: []step{{"SAS", ""}}, op: step{"RFS", "1251"}, nc: refundOverflow, status: "9", after: captured},
		{name: "RFS equal", before: []step{{"SAS", ""}}, op: step{"RFS", "1250"}, nc: "0", status: "81", amount: "12.5",
			after: debit{"CAPTURED", 1250, 1250, 1250}},
		{name: "RFD zero", before: []step{{"SAS", ""}}, op: step{"RFD", "0"}, nc: invalid, status: "9", after: captured},
		{name: "RFD negative", before: []step{{"SAS", ""}}, op: step{"RFD", "-1"}, nc: notNumber, status: "9", after: captured},
		{name: "RFD decimals", before: []step{{"SAS", ""}}, op: step{"RFD", "1.5"}, nc: notNumber, status: "9", after: captured},
		{name: "RFS letters", before: []step{{"SAS", ""}}, op: step{"RFS", "ten"}, nc: notNumber, status: "9", after: captured},
		{name: "RFD plus", before: []step{{"SAS", ""}}, op: step{"RFD", "+100"}, nc: notNumber, status: "9", after: captured},
		{name: "RFD 15 digits", before: []step{{"SAS", ""}}, op: step{"RFD", "999999999999999"}, nc: refundOverflow, status: "9", after: captured},
		{name: "RFS int64 overflow", before: []step{{"SAS", ""}}, op: step{"RFS", "18446744073709551616"}, nc: notNumber, status: "9", after: captured},
		{name: "RFS after partial RFD above", before: []step{{"SAS", ""}, {"RFD", "500"}}, op: step{"RFS", "751"}, nc: refundOverflow,
			status: "81", after: debit{"CAPTURED", 1250, 1250, 500}},
		{name: "RFS after partial RFD rest", before: []step{{"SAS", ""}, {"RFD", "500"}}, op: step{"RFS", "750"}, nc: "0",
			status: "81", amount: "7.5", after: debit{"CAPTURED", 1250, 1250, 1250}},
		{name: "RFD of a partial capture above", before: []step{{"SAS", "400"}}, op: step{"RFD", "401"}, nc: refundOverflow,
			status: "9", after: debit{"CAPTURED", 400, 400, 0}},
		{name: "RFD of a partial SAL above", before: []step{{"SAL", "400"}}, op: step{"RFD", "401"}, nc: refundOverflow,
			status: "5", after: debit{"AUTHORISED_TO_VALIDATE", 850, 0, 0}},
		{name: "RFD after full refund", before: []step{{"SAS", ""}, {"RFS", ""}}, op: step{"RFD", "1"}, nc: refundOverflow,
			status: "81", after: debit{"CAPTURED", 1250, 1250, 1250}},
		// Other exponents: AMOUNT is always the amount x 100.
		{name: "JPY DES above", cur: "JPY", auth: "125000", op: step{"DES", "125100"}, nc: invalid, status: "5",
			after: debit{"AUTHORISED_TO_VALIDATE", 1250, 0, 0}},
		{name: "JPY SAL fraction of a yen", cur: "JPY", auth: "125000", op: step{"SAL", "125050"}, nc: "50001121", status: "5",
			after: debit{"AUTHORISED_TO_VALIDATE", 1250, 0, 0}},
		{name: "JPY RFD above", cur: "JPY", auth: "125000", before: []step{{"SAS", ""}}, op: step{"RFD", "125100"}, nc: refundOverflow,
			status: "9", after: debit{"CAPTURED", 1250, 1250, 0}},
		{name: "KWD DES above", cur: "KWD", auth: "1250", op: step{"DES", "1251"}, nc: invalid, status: "5",
			after: debit{"AUTHORISED_TO_VALIDATE", 12500, 0, 0}},
		{name: "KWD SAS 15 digits", cur: "KWD", auth: "1250", op: step{"SAS", "999999999999999"}, nc: capOverflow, status: "5",
			after: debit{"AUTHORISED_TO_VALIDATE", 12500, 0, 0}},
		{name: "KWD RFS equal", cur: "KWD", auth: "1250", before: []step{{"SAS", ""}}, op: step{"RFS", "1250"}, nc: "0", status: "81",
			amount: "12.5", after: debit{"CAPTURED", 12500, 12500, 12500}},
		{name: "RFD before capture", op: step{"RFD", "100"}, nc: badStatus, status: "5", after: authorised},
	}
	e := newEnv(t)
	ctx := context.Background()
	maint := func(payid string, s step) map[string]string {
		return e.direct("maintenancedirect.asp", map[string]string{"PAYID": payid, "OPERATION": s.op, "AMOUNT": s.amount})
	}
	calls := func() [3]int {
		e.acq.mu.Lock()
		defer e.acq.mu.Unlock()
		return [3]int{e.acq.captures, e.acq.cancels, e.acq.refunds}
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			orderID := fmt.Sprintf("MA-%d", i)
			p := map[string]string{"ORDERID": orderID, "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"}
			if c.cur != "" {
				p["CURRENCY"], p["AMOUNT"] = c.cur, c.auth
			}
			r := e.order(p)
			if r["STATUS"] != "5" {
				t.Fatalf("authorisation: %v", r)
			}
			for _, s := range c.before {
				if m := maint(r["PAYID"], s); m["NCERROR"] != "0" {
					t.Fatalf("%s %s before: %v", s.op, s.amount, m)
				}
			}
			orders, err := e.db.OrdersByOrderID(ctx, shop.DemoShopID, "TEST", orderID)
			if err != nil || len(orders) != 1 {
				t.Fatal(orders, err)
			}
			payid := mustPAYID(t, r["PAYID"])
			opsBefore, err := e.db.OrderOps(ctx, payid)
			if err != nil {
				t.Fatal(err)
			}
			callsBefore := calls()

			m := maint(r["PAYID"], c.op)

			if m["NCERROR"] != c.nc || m["NCSTATUS"] != c.nc[:1] || m["STATUS"] != c.status {
				t.Errorf("%s AMOUNT %q: NCERROR %s NCSTATUS %s STATUS %s (%s), want NCERROR %s STATUS %s",
					c.op.op, c.op.amount, m["NCERROR"], m["NCSTATUS"], m["STATUS"], m["NCERRORPLUS"], c.nc, c.status)
			}
			if c.nc == "0" && m["amount"] != c.amount {
				t.Errorf("%s AMOUNT %q: amount %q, want %q", c.op.op, c.op.amount, m["amount"], c.amount)
			}
			if c.nc != "0" && (m["NCERRORPLUS"] == "" || m["NCERRORPLUS"] == "!") {
				t.Errorf("%s AMOUNT %q: refusal without NCERRORPLUS: %v", c.op.op, c.op.amount, m)
			}
			_, d, err := e.payments.Get(ctx, shop.DemoShopID, orders[0].TransactionUUID)
			if err != nil {
				t.Fatal(err)
			}
			if got := (debit{d.DetailedStatus, d.Amount, d.CapturedAmount, d.RefundedAmount}); got != c.after {
				t.Errorf("%s AMOUNT %q: debit %+v, want %+v", c.op.op, c.op.amount, got, c.after)
			}
			ops, err := e.db.OrderOps(ctx, payid)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if c.nc == "0" {
				want = 1
			}
			if len(ops)-len(opsBefore) != want {
				t.Errorf("%s AMOUNT %q: %d operations written, want %d", c.op.op, c.op.amount, len(ops)-len(opsBefore), want)
			}
			after := calls()
			wantCalls := [3]int{}
			if c.nc == "0" {
				switch c.op.op {
				case "SAL", "SAS":
					wantCalls[0] = 1
				case "DEL", "DES":
					if c.after.ds == "CANCELLED" {
						wantCalls[1] = 1
					}
				case "RFD", "RFS":
					wantCalls[2] = 1
				}
			}
			for k := range after {
				if after[k]-callsBefore[k] != wantCalls[k] {
					t.Errorf("%s AMOUNT %q: acquirer calls (capture, cancel, refund) %v, want %v",
						c.op.op, c.op.amount, [3]int{after[0] - callsBefore[0], after[1] - callsBefore[1], after[2] - callsBefore[2]}, wantCalls)
					break
				}
			}
		})
	}
}
