package ogone_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// failOrderOps makes every write of a maintenance operation's record
// (ogone_order_ops) fail in the database itself, whichever write makes it,
// as a process stopped or a database failing between two writes would
// leave it; the returned func lifts it.
func (e *env) failOrderOps(t *testing.T) func() {
	t.Helper()
	create := []string{`CREATE TRIGGER fail_order_ops BEFORE INSERT ON ogone_order_ops
		BEGIN SELECT RAISE(ABORT, 'order op record write fails'); END`}
	drop := []string{`DROP TRIGGER fail_order_ops`}
	if e.db.Dialect() == store.Postgres {
		create = []string{`CREATE FUNCTION fail_order_ops() RETURNS trigger LANGUAGE plpgsql AS
			'BEGIN RAISE EXCEPTION ''order op record write fails''; END'`,
			`CREATE TRIGGER fail_order_ops BEFORE INSERT ON ogone_order_ops FOR EACH ROW EXECUTE FUNCTION fail_order_ops()`}
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

// partsRecorded checks that each part taken from debit uuid is named by a
// maintenance operation of order payid, and returns how many parts there
// are.
func (e *env) partsRecorded(t *testing.T, when string, payid int64, uuid string) int {
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
	n := 0
	for _, d := range p.Transactions {
		if d.IsPart() && d.ParentUUID == uuid {
			n++
			if !slices.Contains(named, d.UUID) {
				t.Fatalf("%s: part %s (%s, %d) exists with no operation record naming it (records %+v): "+
					"the merchant has no PAYIDSUB for it and a SAL sent again captures another part",
					when, d.UUID, d.DetailedStatus, d.Amount, ops)
			}
		}
	}
	return n
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
			lift := e.failOrderOps(t)
			m := e.maintain(payid, map[string]string{"OPERATION": "SAL", "AMOUNT": "400"})
			if n := e.partsRecorded(t, "SAL with its record failing", o[0].PAYID, uuid); n != 0 {
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
			if n := e.partsRecorded(t, "SAL sent again", o[0].PAYID, uuid); n != 1 {
				t.Fatalf("SAL sent again: %d parts, want 1", n)
			}
			if q := e.query(payid, "1"); q["STATUS"] != "9" || q["amount"] != "4" {
				t.Fatalf("query of the SAL: %v, want 9 for 4", q)
			}
			e.acquirerHas("SAL sent again", uuid, 400)
		})
	}
}
