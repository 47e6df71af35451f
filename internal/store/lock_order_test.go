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

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// lockOrderRounds is how many times each lock-order test races its two
// writers on one payment.
const lockOrderRounds = 200

// raceOnPayment runs a and b, after before, each in a transaction of its own on the raw
// write pool (two openpsp copies: the group commit would put them in one
// transaction), started together, lockOrderRounds times, and fails t with
// the number of rounds PostgreSQL broke with a deadlock. Any other error
// (a version conflict: the other writer went first) is a normal outcome.
func raceOnPayment(t *testing.T, db *store.DB, before func(), a, b func(tx *sql.Tx) error) {
	t.Helper()
	ctx := context.Background()
	deadlocks := 0
	var first error
	for range lockOrderRounds {
		before()
		start := make(chan struct{})
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, fn := range []func(tx *sql.Tx) error{a, b} {
			tx, err := db.Writer().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if errs[i] = fn(tx); errs[i] != nil {
					_ = tx.Rollback()
					return
				}
				errs[i] = tx.Commit()
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if store.IsDeadlock(err) {
				deadlocks++
				if first == nil {
					first = err
				}
			} else if err != nil && !errors.Is(err, store.ErrConflict) {
				t.Fatalf("unexpected error: %v", err)
			}
		}
	}
	if deadlocks > 0 {
		t.Fatalf("%d deadlocks in %d rounds; the first: %v", deadlocks, lockOrderRounds, first)
	}
}

// The capture job's settlement write (WriteSettlement, one statement of
// WITH clauses on PostgreSQL) and a merchant operation (payment.Service.apply:
// LockPayment, then LockTransaction) on the same payment must take the
// rows' locks in the same order, payment first: the settlement updated the
// transaction first, so each could hold the lock the other waited for, and
// PostgreSQL aborted one (SQLSTATE 40P01).
func TestSettlementLocksThePaymentBeforeItsTransaction(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
	captureShop(t, db, now)
	addCaptures(t, db, "lock", 1, now, time.Time{})
	const shopID, uuid, pid = "11111111", "lock-0000", "p-lock-0000"
	d := db.Dialect()

	merchant := func(tx *sql.Tx) error {
		id, err := store.PaymentIDOf(tx, shopID, uuid)
		if err != nil {
			return err
		}
		p, err := store.LockPayment(tx, d, id)
		if err != nil {
			return err
		}
		tr, err := store.LockTransaction(tx, d, shopID, uuid)
		if err != nil {
			return err
		}
		tr.UpdatedAt = now
		if err := store.UpdateTransaction(tx, &tr); err != nil {
			return err
		}
		return store.UpdatePaymentState(tx, &p)
	}
	// The settlement writes from copies read before its transaction, as
	// the capture job does (settleKnown).
	var p store.PaymentRecord
	var tr store.TransactionRecord
	settle := func(tx *sql.Tx) error {
		_, err := db.WriteSettlement(tx, &tr, &p, nil, nil, nil, now)
		return err
	}
	read := func() {
		var err error
		if p, err = store.GetPayment(ctx, db.Reader(), shopID, pid); err != nil {
			t.Fatal(err)
		}
		if tr, err = store.GetTransaction(ctx, db.Reader(), shopID, uuid); err != nil {
			t.Fatal(err)
		}
	}
	raceOnPayment(t, db, read, merchant, settle)
}

// The group commit runs concurrent writes in one transaction, which holds
// every lock of its writes until its commit: two such transactions on
// PostgreSQL (two batching workers, or two copies) each holding one
// payment and waiting for the other's deadlock, however well each write
// keeps the lock order. PostgreSQL aborts one; the write it hit must not
// fail for its caller, who did nothing wrong.
func TestSharedWritesDoNotFailWithADeadlock(t *testing.T) {
	ctx := context.Background()
	u := storetest.NewMigratedPostgresDatabase(t)
	// PostgreSQL looks for a deadlock after a second's wait
	// (deadlock_timeout): shorter, the test takes a second instead of a
	// minute. A superuser setting: without the right, the test is slow.
	if admin, err := sql.Open("pgx", storetest.AdminURL()); err == nil {
		name := u[strings.LastIndex(u, "/")+1:]
		if i := strings.IndexByte(name, '?'); i >= 0 {
			name = name[:i]
		}
		if _, err := admin.Exec("ALTER DATABASE " + name + " SET deadlock_timeout = '20ms'"); err != nil {
			t.Logf("deadlock_timeout left as it is: %v", err)
		}
		admin.Close()
	}
	db, err := store.Open(ctx, store.Options{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
	captureShop(t, db, now)
	const payments, writers, writes = 4, 16, 100
	addCaptures(t, db, "shared", payments, now, time.Time{})
	d := db.Dialect()
	var mu sync.Mutex
	var failed []error
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range writes {
				uuid := fmt.Sprintf("shared-%04d", (w+i)%payments)
				err := db.Write(ctx, func(tx *sql.Tx) error {
					// As payment.Service.apply: the payment, then the
					// transaction.
					p, err := store.LockPayment(tx, d, "p-"+uuid)
					if err != nil {
						return err
					}
					tr, err := store.LockTransaction(tx, d, "", uuid)
					if err != nil {
						return err
					}
					if err := store.UpdateTransaction(tx, &tr); err != nil {
						return err
					}
					return store.UpdatePaymentState(tx, &p)
				})
				if err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d writes failed; the first: %v", len(failed), writers*writes, failed[0])
	}
}
