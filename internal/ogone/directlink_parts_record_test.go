package ogone_test

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// failOrderOps makes every write (event INSERT or UPDATE) of a maintenance
// operation's record (ogone_order_ops) fail in the database itself,
// whichever write makes it, as a process stopped or a database failing
// between two writes would leave it; the returned func lifts it.
func (e *env) failOrderOps(t *testing.T, event string) func() {
	t.Helper()
	create := []string{`CREATE TRIGGER fail_order_ops BEFORE ` + event + ` ON ogone_order_ops
		BEGIN SELECT RAISE(ABORT, 'order op record write fails'); END`}
	drop := []string{`DROP TRIGGER fail_order_ops`}
	if e.db.Dialect() == store.Postgres {
		create = []string{`CREATE FUNCTION fail_order_ops() RETURNS trigger LANGUAGE plpgsql AS
			'BEGIN RAISE EXCEPTION ''order op record write fails''; END'`,
			`CREATE TRIGGER fail_order_ops BEFORE ` + event + ` ON ogone_order_ops FOR EACH ROW EXECUTE FUNCTION fail_order_ops()`}
		drop = []string{`DROP TRIGGER fail_order_ops ON ogone_order_ops`, `DROP FUNCTION fail_order_ops()`}
	}
	run := func(stmts []string) {
		t.Helper()
		if err := e.db.Write(context.Background(), func(tx *sql.Tx) error {
			for _, s := range stmts {
				if _, err := tx.Exec(s); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	run(create)
	return func() { run(drop) }
}

// TestDirectLinkSALPartAndItsRecordInOneWrite: a SAL's part and the
// maintenance operation's record (its PAYIDSUB) are written together:
// when the record cannot be written (here the database refuses it; a
// process stopped between two writes leaves the same), no part is made or
// captured either, and the merchant, answered an error, sends the SAL
// again, which captures the part once, under a PAYIDSUB querydirect
// answers. Written apart, the part was captured with no record: querydirect
// knew no operation for it, and the SAL sent again captured a second part.
// Both engines.
func TestDirectLinkSALPartAndItsRecordInOneWrite(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := partsEnv(t, eng)
			payid, uuid := e.authorised("PRECORD-" + eng.Name)
			o, err := e.db.OrdersByOrderID(context.Background(), shop.DemoShopID, "TEST", "PRECORD-"+eng.Name)
			if err != nil {
				t.Fatal(err)
			}
			lift := e.failOrderOps(t, "INSERT")
			m := e.maintain(payid, map[string]string{"OPERATION": "SAL", "AMOUNT": "400"})
			if n := e.recorded(t, "SAL with its record failing", o[0].PAYID, uuid); n != 0 {
				t.Fatalf("SAL with its record failing: %d parts, want none", n)
			}
			if m["NCERROR"] == "0" || m["STATUS"] == "9" {
				t.Fatalf("SAL with its record failing: %v, want an error, nothing captured", m)
			}
			e.acquirerHas("SAL with its record failing", uuid, 0)
			lift()
			m = e.maintain(payid, map[string]string{"OPERATION": "SAL", "AMOUNT": "400"})
			if m["STATUS"] != "9" || m["PAYIDSUB"] != "1" || m["amount"] != "4" {
				t.Fatalf("SAL sent again: %v, want 9 for 4, PAYIDSUB 1", m)
			}
			if n := e.recorded(t, "SAL sent again", o[0].PAYID, uuid); n != 1 {
				t.Fatalf("SAL sent again: %d parts, want 1", n)
			}
			if q := e.query(payid, "1"); q["STATUS"] != "9" || q["amount"] != "4" {
				t.Fatalf("query of the SAL: %v, want 9 for 4", q)
			}
			e.acquirerHas("SAL sent again", uuid, 400)
		})
	}
}

// TestDirectLinkCaptureRecordWrittenWithItsClaim: a capture's record is
// written with its claim, answered pending (91), and its answer after the
// acquirer's: when that last write fails (as when the server stops before
// it), querydirect of the PAYIDSUB answered still tells the capture's
// status from its transaction: 9 for a SAL's part captured, then for the
// SAS that closes the order. Both engines.
func TestDirectLinkCaptureRecordWrittenWithItsClaim(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := partsEnv(t, eng)
			payid, uuid := e.authorised("PCLAIM-" + eng.Name)
			lift := e.failOrderOps(t, "UPDATE")
			defer lift()
			for i, c := range []map[string]string{{"OPERATION": "SAL", "AMOUNT": "400"}, {"OPERATION": "SAS"}} {
				sub, amount := strconv.Itoa(i+1), []string{"4", "6"}[i]
				if m := e.maintain(payid, c); m["STATUS"] != "9" || m["PAYIDSUB"] != sub || m["amount"] != amount {
					t.Fatalf("%v: %v, want 9 for %s, PAYIDSUB %s", c, m, amount, sub)
				}
				if q := e.query(payid, sub); q["STATUS"] != "9" || q["amount"] != amount {
					t.Fatalf("query of %v, its answer not recorded: %v, want 9 for %s", c, q, amount)
				}
			}
			e.acquirerHas("once closed", uuid, 1000)
		})
	}
}

// TestDirectLinkMaintenanceAndItsRecordInOneWrite: a refund (RFD, across
// the captures of an order captured in parts or of one capture) and a
// partial deletion (DEL with an AMOUNT) are made in the write that stores
// their record: when the record cannot be written, nothing is refunded or
// deleted, and the operation sent again is made once, under its PAYIDSUB.
// Written apart, the refund was made with no record, and sent again made
// a second one. Both engines.
func TestDirectLinkMaintenanceAndItsRecordInOneWrite(t *testing.T) {
	for _, eng := range storetest.Engines() {
		for _, c := range []struct {
			name   string
			before []map[string]string
			op     map[string]string
			sub    string
		}{
			{"RFD across parts", []map[string]string{{"OPERATION": "SAL", "AMOUNT": "400"}, {"OPERATION": "SAS"}},
				map[string]string{"OPERATION": "RFD", "AMOUNT": "500"}, "3"},
			{"RFD", []map[string]string{{"OPERATION": "SAS"}}, map[string]string{"OPERATION": "RFD", "AMOUNT": "500"}, "2"},
			{"DEL part", nil, map[string]string{"OPERATION": "DEL", "AMOUNT": "300"}, "1"},
		} {
			t.Run(eng.Name+"/"+c.name, func(t *testing.T) {
				e := partsEnv(t, eng)
				ctx := context.Background()
				orderID := "PMAINT-" + eng.Name + "-" + strings.ReplaceAll(c.name, " ", "-")
				payid, uuid := e.authorised(orderID)
				o, err := e.db.OrdersByOrderID(ctx, shop.DemoShopID, "TEST", orderID)
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range c.before {
					if m := e.maintain(payid, b); m["NCERROR"] != "0" {
						t.Fatalf("%v: %v", b, m)
					}
				}
				snapshot := func() string {
					p, _, err := e.payments.Get(ctx, shop.DemoShopID, uuid)
					if err != nil {
						t.Fatal(err)
					}
					var s []string
					for _, d := range p.Transactions {
						s = append(s, d.UUID+" "+strconv.FormatInt(d.Amount, 10)+" "+strconv.FormatInt(d.RefundedAmount, 10))
					}
					return strings.Join(s, ", ")
				}
				was := snapshot()
				lift := e.failOrderOps(t, "INSERT")
				m := e.maintain(payid, c.op)
				e.recorded(t, c.name+" with its record failing", o[0].PAYID, uuid)
				if now := snapshot(); now != was || m["NCERROR"] == "0" {
					t.Fatalf("%v with its record failing: answered %v; transactions %s, were %s: want an error, nothing changed",
						c.op, m, now, was)
				}
				lift()
				if m = e.maintain(payid, c.op); m["NCERROR"] != "0" || m["PAYIDSUB"] != c.sub {
					t.Fatalf("%v sent again: %v, want done, PAYIDSUB %s", c.op, m, c.sub)
				}
				e.recorded(t, c.name+" sent again", o[0].PAYID, uuid)
				if q := e.query(payid, c.sub); q["STATUS"] != m["STATUS"] || q["amount"] != m["amount"] {
					t.Fatalf("query of %v: %v, want as answered %v", c.op, q, m)
				}
			})
		}
	}
}

// recorded checks that each transaction made from debit uuid's payment by
// a maintenance operation (a part, a refund) is named by an operation of
// order payid, and returns how many parts were taken from the debit.
func (e *env) recorded(t *testing.T, when string, payid int64, uuid string) int {
	t.Helper()
	ctx := context.Background()
	p, _, err := e.payments.Get(ctx, shop.DemoShopID, uuid)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := e.db.OrderOps(ctx, payid)
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, op := range ops {
		named = append(named, strings.Fields(op.TransactionUUID)...)
	}
	parts := 0
	for _, d := range p.Transactions {
		if d.UUID != uuid && !slices.Contains(named, d.UUID) {
			t.Fatalf("%s: %s %s (%s, %d) exists with no operation record naming it (records %+v): "+
				"the merchant has no PAYIDSUB for it and the operation sent again is made twice",
				when, d.OperationType, d.UUID, d.DetailedStatus, d.Amount, ops)
		}
		if d.IsPart() && d.ParentUUID == uuid {
			parts++
		}
	}
	return parts
}
