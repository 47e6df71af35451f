package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

func TestOgoneStore(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
		if err := db.InsertShop(ctx, shop.Shop{ID: "12345678", Name: "S", Currency: "EUR", Language: "en"}, nil, nil, now); err != nil {
			t.Fatal(err)
		}

		// Sessions: one-shot, attempts counted only while OPEN.
		s := ogone.Session{ID: "s1", ShopID: "12345678", Mode: "TEST", State: ogone.SessionOpen, CreatedAt: now,
			ExpiresAt: now.Add(time.Hour), Request: ogone.FlexRequest{PSPID: "p", AcceptURL: "https://a", Excluded: []string{"VISA"}}}
		if err := db.InsertSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := db.Session(ctx, "s1")
		if err != nil || got.Request.PSPID != "p" || len(got.Request.Excluded) != 1 || !got.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("session %+v %v", got, err)
		}
		if _, err := db.Session(ctx, "nope"); !errors.Is(err, ogone.ErrNotFound) {
			t.Fatalf("unknown session: %v", err)
		}
		if n, err := db.CountAttempt(ctx, "s1"); err != nil || n != 1 {
			t.Fatalf("attempt %d %v", n, err)
		}
		var first, second bool
		if err := db.Write(ctx, func(tx *sql.Tx) (err error) { first, err = db.FinishSession(tx, "s1", now); return }); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(ctx, func(tx *sql.Tx) (err error) { second, err = db.FinishSession(tx, "s1", now); return }); err != nil {
			t.Fatal(err)
		}
		if !first || second {
			t.Fatalf("finish twice: %v %v", first, second)
		}
		if _, err := db.CountAttempt(ctx, "s1"); !errors.Is(err, ogone.ErrNotFound) {
			t.Fatalf("attempt on a finished session: %v", err)
		}
		if n, err := db.DeleteSessions(ctx, now.Add(2*time.Hour), 10); err != nil || n != 1 {
			t.Fatalf("delete sessions %d %v", n, err)
		}

		// Alias orders: the first record stands.
		err = db.Write(ctx, func(tx *sql.Tx) error {
			if _, err := db.AliasOrder(tx, "12345678", "TEST", "O1"); !errors.Is(err, ogone.ErrNotFound) {
				t.Errorf("unknown alias order: %v", err)
			}
			for _, a := range []string{"A1", "A2"} {
				if err := db.InsertAliasOrder(tx, ogone.AliasOrder{ShopID: "12345678", Mode: "TEST", OrderID: "O1", AliasID: a, CreatedAt: now}); err != nil {
					return err
				}
			}
			o, err := db.AliasOrder(tx, "12345678", "TEST", "O1")
			if err != nil || o.AliasID != "A1" {
				t.Errorf("alias order %+v %v", o, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// Templates.
		tpl := ogone.Template{ShopID: "12345678", Name: "a.html", HTML: "<p>x</p>", UpdatedAt: now}
		if err := db.PutTemplate(ctx, tpl); err != nil {
			t.Fatal(err)
		}
		tpl.HTML = "<p>y</p>"
		if err := db.PutTemplate(ctx, tpl); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Template(ctx, "12345678", "a.html"); err != nil || got.HTML != "<p>y</p>" {
			t.Fatalf("template %+v %v", got, err)
		}
		if list, err := db.Templates(ctx, "12345678"); err != nil || len(list) != 1 {
			t.Fatalf("templates %v %v", list, err)
		}
		if err := db.DeleteTemplate(ctx, "12345678", "a.html"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteTemplate(ctx, "12345678", "a.html"); !errors.Is(err, ogone.ErrTemplateNotFound) {
			t.Fatalf("delete twice: %v", err)
		}

		// Error log.
		for i, code := range []string{"A", "B"} {
			if err := db.InsertErrorLog(ctx, ogone.ErrorLogEntry{ShopID: "12345678", Source: "flexcheckout", Code: code,
				Message: "m", Details: map[string]string{"k": code}, CreatedAt: now.Add(time.Duration(i) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		log, err := db.ErrorLog(ctx, "12345678", 10)
		if err != nil || len(log) != 2 || log[0].Code != "B" || log[0].Details["k"] != "B" {
			t.Fatalf("error log %+v %v", log, err)
		}
		if n, err := db.DeleteErrorLog(ctx, "flexcheckout", now.Add(30*time.Second), 10); err != nil || n != 1 {
			t.Fatalf("delete error log %d %v", n, err)
		}

		// Orders and their PAYIDSUB numbering.
		o := ogone.Order{PAYID: 3000000001, ShopID: "12345678", Mode: "TEST", OrderID: "ORD", Operation: "RES", Status: 5,
			CreatedAt: now, UpdatedAt: now}
		if err := db.InsertOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
		if err := db.InsertOrder(ctx, o); !errors.Is(err, ogone.ErrConflict) {
			t.Fatalf("duplicate PAYID: %v", err)
		}
		// An order without a transaction can be deleted, once; one with a
		// transaction cannot.
		gone := ogone.Order{PAYID: 3000000002, ShopID: "12345678", Mode: "TEST", OrderID: "GONE", Operation: "RES",
			CreatedAt: now, UpdatedAt: now}
		if err := db.InsertOrder(ctx, gone); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteOrder(ctx, "87654321", gone.PAYID); !errors.Is(err, ogone.ErrNotFound) {
			t.Fatalf("delete of another shop's order: %v", err)
		}
		if err := db.DeleteOrder(ctx, "12345678", gone.PAYID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Order(ctx, "12345678", gone.PAYID); !errors.Is(err, ogone.ErrNotFound) {
			t.Fatalf("deleted order still there: %v", err)
		}
		if err := db.DeleteOrder(ctx, "12345678", gone.PAYID); !errors.Is(err, ogone.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		o.Status, o.TransactionUUID = 9, "abc"
		if err := db.UpdateOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Order(ctx, "12345678", o.PAYID); err != nil || got.Status != 9 || got.TransactionUUID != "abc" {
			t.Fatalf("order %+v %v", got, err)
		}
		if err := db.DeleteOrder(ctx, "12345678", o.PAYID); !errors.Is(err, ogone.ErrNotFound) {
			t.Fatalf("delete of an order with a transaction: %v", err)
		}
		if _, err := db.Order(ctx, "87654321", o.PAYID); !errors.Is(err, ogone.ErrNotFound) {
			t.Fatalf("another shop's order: %v", err)
		}
		if list, err := db.OrdersByOrderID(ctx, "12345678", "TEST", "ORD"); err != nil || len(list) != 1 {
			t.Fatalf("orders by id %v %v", list, err)
		}
		for want := 1; want <= 2; want++ {
			op, err := db.InsertOrderOp(ctx, ogone.OrderOp{PAYID: o.PAYID, Operation: "SAL", Amount: 100, Status: 9, NCError: "0", CreatedAt: now})
			if err != nil || op.PAYIDSUB != want {
				t.Fatalf("op %+v %v", op, err)
			}
		}
		if ops, err := db.OrderOps(ctx, o.PAYID); err != nil || len(ops) != 2 || ops[1].PAYIDSUB != 2 {
			t.Fatalf("ops %+v %v", ops, err)
		}
	})
}
