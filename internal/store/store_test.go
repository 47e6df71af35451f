package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		applied, err := db.Migrate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second migrate applied %v", applied)
		}
	})
}

func TestConcurrentMigrationsOnPostgres(t *testing.T) {
	u := storetest.NewPostgresDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	total := make(chan int, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(context.Background(), store.Options{URL: u})
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			applied, err := db.Migrate(context.Background())
			errs <- err
			total <- len(applied)
		}()
	}
	wg.Wait()
	close(errs)
	close(total)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sum := 0
	for n := range total {
		sum += n
	}
	if sum == 0 {
		t.Fatal("no copy applied the migrations")
	}
	db, err := store.Open(context.Background(), store.Options{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.Reader().QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != sum {
		t.Fatalf("schema_migrations has %d rows, copies applied %d in total: a migration ran twice", n, sum)
	}
}

// Concurrent writes share transactions; a failing write is rolled back alone
// and every successful one is committed exactly once.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 300
		before := db.WriteStats()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = db.Write(ctx, func(tx *sql.Tx) error {
					if _, err := tx.Exec(`INSERT INTO error_log (id, source, code, message, created_at) VALUES ($1, 'test', 'c', 'm', 1)`,
						fmt.Sprintf("id-%03d", i)); err != nil {
						return err
					}
					if i%7 == 0 {
						return errors.New("refused")
					}
					if i%11 == 0 {
						panic("boom")
					}
					return nil
				})
			}(i)
		}
		wg.Wait()
		want := 0
		for i := 0; i < n; i++ {
			bad := i%7 == 0 || i%11 == 0
			if bad && errs[i] == nil {
				t.Fatalf("write %d should have failed", i)
			}
			if !bad {
				if errs[i] != nil {
					t.Fatalf("write %d: %v", i, errs[i])
				}
				want++
			}
		}
		var got int
		if err := db.Reader().QueryRow("SELECT COUNT(*) FROM error_log").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("rows = %d, want %d", got, want)
		}
		st := db.WriteStats()
		if r := st.Requests - before.Requests; r != n {
			t.Fatalf("write requests counted: %d, want %d", r, n)
		}
		if c := st.Commits - before.Commits; c < 1 || c > n {
			t.Fatalf("commits counted: %d for %d writes", c, n)
		}
		if syncs := st.WALSyncs - before.WALSyncs; (db.Dialect() == store.SQLite) != (syncs > 0) {
			t.Fatalf("%s: %d WAL syncs counted", db.Dialect(), syncs)
		}
	})
}

// A uniqueness violation inside a shared transaction fails only its writer.
func TestGroupCommitUniqueViolation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, dup := 0, 0
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.Write(ctx, func(tx *sql.Tx) error {
					_, err := tx.Exec(`INSERT INTO error_log (id, source, code, message, created_at) VALUES ('same', 'test', 'c', 'm', 1)`)
					return err
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case store.IsUniqueViolation(err):
					dup++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 || dup != 49 {
			t.Fatalf("ok=%d dup=%d, want 1 and 49", ok, dup)
		}
	})
}

func TestWriteAfterClose(t *testing.T) {
	db := storetest.SQLite(t)
	db.Close()
	if err := db.Write(context.Background(), func(*sql.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

// Shop reads are cached (readcache.go), but a change made through the same
// database is seen by the next read.
func TestShopReadsSeeTheirOwnWrites(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sh := shop.Shop{ID: "12345678", Name: "Before", Currency: "EUR", Language: "en"}
		if err := db.InsertShop(ctx, sh, nil, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Shop(ctx, sh.ID); err != nil || got.Name != "Before" {
			t.Fatalf("shop = %+v, %v", got, err)
		}
		sh.Name = "After"
		if err := db.UpdateShop(ctx, sh, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Shop(ctx, sh.ID); err != nil || got.Name != "After" {
			t.Fatalf("after the update: %+v, %v", got, err)
		}
		if _, err := db.NotifyTemplate(ctx, sh.ID, "order_confirmation", "en"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		if err := db.PutNotifyTemplate(ctx, store.NotifyTemplate{ShopID: sh.ID, Template: "order_confirmation", Lang: "en", Subject: "S"}); err != nil {
			t.Fatal(err)
		}
		if tpl, err := db.NotifyTemplate(ctx, sh.ID, "order_confirmation", "en"); err != nil || tpl.Subject != "S" {
			t.Fatalf("template after put: %+v, %v", tpl, err)
		}
	})
}

// WriteSettlement (one statement on PostgreSQL) checks both versions: a
// stale one is ErrConflict and nothing of the settlement stays, its outbox
// messages included; a current one writes all and increments both.
func TestWriteSettlementChecksVersions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		if err := db.InsertShop(ctx, shop.Shop{ID: "69876357", Name: "Demo", Currency: "EUR", Language: "en"}, nil, nil, now); err != nil {
			t.Fatal(err)
		}
		p := store.PaymentRecord{ID: "p1", ShopID: "69876357", Mode: "TEST", OrderID: "o1", Amount: 50, Currency: "EUR",
			FormAction: "SILENT", OrderStatus: "RUNNING", OrderCycle: "OPEN", Customer: "{}", Options: "{}",
			CreatedAt: now, UpdatedAt: now, Version: 1}
		tr := store.TransactionRecord{UUID: "t1", ShopID: "69876357", PaymentID: "p1", Mode: "TEST", OrderID: "o1",
			OperationType: "DEBIT", Amount: 50, Currency: "EUR", Status: "RUNNING", DetailedStatus: "INITIAL",
			Metadata: "{}", SequenceNumber: 1, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := db.Write(ctx, func(tx *sql.Tx) error { return db.InsertPaymentWithTransaction(tx, p, tr) }); err != nil {
			t.Fatal(err)
		}
		dup := tr
		dup.UUID = "t2"
		if err := db.Write(ctx, func(tx *sql.Tx) error { return db.InsertPaymentWithTransaction(tx, p, dup) }); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("the same payment again: %v, want ErrConflict", err)
		}
		msg := func(id string) []outbox.Message {
			return []outbox.Message{{ID: id, ShopID: "69876357", Channel: "ipn", Event: "e", OrderingKey: "p1", Target: "http://127.0.0.1/", Payload: "{}"}}
		}
		settle := func(t2 store.TransactionRecord, p2 store.PaymentRecord, id string) (store.TransactionRecord, store.PaymentRecord, error) {
			err := db.Write(ctx, func(tx *sql.Tx) error {
				_, err := db.WriteSettlement(tx, &t2, &p2, msg(id), nil, nil, now)
				return err
			})
			return t2, p2, err
		}
		stale := p
		stale.Version = 7
		tr.Status, tr.DetailedStatus = "AUTHORISED", "AUTHORISED"
		if _, _, err := settle(tr, stale, "m-stale"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale payment version: %v, want ErrConflict", err)
		}
		var n int
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM outbox WHERE id = 'm-stale'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("the failed settlement left %d outbox messages (%v)", n, err)
		}
		got, err := store.GetTransaction(ctx, db.Reader(), "69876357", "t1")
		if err != nil || got.Status != "RUNNING" || got.Version != 1 {
			t.Fatalf("the failed settlement changed the transaction: %+v, %v", got, err)
		}
		t2, p2, err := settle(tr, p, "m-ok")
		if err != nil || t2.Version != 2 || p2.Version != 2 {
			t.Fatalf("settle: %v, versions %d %d", err, t2.Version, p2.Version)
		}
		got, err = store.GetTransaction(ctx, db.Reader(), "69876357", "t1")
		if err != nil || got.Status != "AUTHORISED" || got.Version != 2 {
			t.Fatalf("after the settlement: %+v, %v", got, err)
		}
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM outbox WHERE id = 'm-ok'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("outbox messages of the settlement: %d (%v)", n, err)
		}
		staleTx := tr // version 1, the row is at 2 now
		if _, _, err := settle(staleTx, p2, "m-stale2"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale transaction version: %v, want ErrConflict", err)
		}
	})
}

// PaymentsWithTransactions reads a batch of payments, of any shop, with
// their transactions in sequence order; unknown ids are left out.
func TestPaymentsWithTransactionsReadsABatch(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		for _, id := range []string{"11111111", "22222222"} {
			if err := db.InsertShop(ctx, shop.Shop{ID: id, Name: id, Currency: "EUR", Language: "en"}, nil, nil, now); err != nil {
				t.Fatal(err)
			}
		}
		pay := func(shopID, id string, uuids ...string) {
			p := store.PaymentRecord{ID: id, ShopID: shopID, Mode: "TEST", OrderID: "o-" + id, Amount: 50, Currency: "EUR",
				FormAction: "SILENT", OrderStatus: "PAID", OrderCycle: "CLOSED", Customer: "{}", Options: "{}",
				CreatedAt: now, UpdatedAt: now, Version: 1}
			err := db.Write(ctx, func(tx *sql.Tx) error {
				if err := store.InsertPayment(tx, p); err != nil {
					return err
				}
				// Inserted in reverse: the answer orders by sequence.
				for i := len(uuids) - 1; i >= 0; i-- {
					op := "DEBIT"
					if i > 0 {
						op = "CREDIT" // one live debit per payment
					}
					if err := store.InsertTransaction(tx, store.TransactionRecord{UUID: uuids[i], ShopID: shopID, PaymentID: id,
						Mode: "TEST", OrderID: "o-" + id, OperationType: op, Amount: 50, Currency: "EUR", Status: "PAID",
						DetailedStatus: "AUTHORISED", Metadata: "{}", SequenceNumber: i + 1, Version: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		pay("11111111", "pa", "ta1", "ta2")
		pay("22222222", "pb", "tb1")
		pay("22222222", "pc", "tc1")
		payments, txs, err := db.PaymentsWithTransactions(ctx, []string{"pa", "pb", "nope", "pa"})
		if err != nil {
			t.Fatal(err)
		}
		if len(payments) != 2 || payments["pa"].ShopID != "11111111" || payments["pb"].OrderID != "o-pb" {
			t.Fatalf("payments = %+v", payments)
		}
		var got []string
		for _, id := range []string{"pa", "pb", "pc", "nope"} {
			for _, tr := range txs[id] {
				got = append(got, tr.UUID)
			}
		}
		if strings.Join(got, " ") != "ta1 ta2 tb1" {
			t.Fatalf("transactions = %v, want ta1 ta2 tb1", got)
		}
		if p, tx, err := db.PaymentsWithTransactions(ctx, nil); err != nil || len(p)+len(tx) != 0 {
			t.Fatalf("no ids: %v %v %v", p, tx, err)
		}
	})
}

// Vacuum leaves PostgreSQL's tables vacuumed and analyzed, and names the
// table it could not process; on SQLite it changes nothing (no statistics
// that would change the query plans).
func TestVacuum(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.Vacuum(ctx, "tokens", "data_keys"); err != nil {
			t.Fatal(err)
		}
		if db.Dialect() == store.SQLite {
			var n int
			if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("SQLite statistics written: %d %v", n, err)
			}
			return
		}
		var done bool
		q := `SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'tokens'`
		if err := db.Reader().QueryRow(q).Scan(&done); err != nil || !done {
			t.Fatalf("not vacuumed/analyzed: %v %v", done, err)
		}
		if err := db.Vacuum(ctx, "no_such_table"); err == nil || !strings.Contains(err.Error(), "no_such_table") {
			t.Fatalf("vacuum of a missing table: %v", err)
		}
	})
}
