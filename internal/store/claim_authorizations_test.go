package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// ClaimAuthorizations claims the WAITING_AUTHORISATION debits due by the
// given time, once each whatever number of copies claim at once, with the
// operation id the acquirer deduplicates on; other statuses, later dates
// and claimed rows are left alone.
func TestClaimAuthorizations(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
		if err := db.InsertShop(ctx, shop.Shop{ID: "11111111", Name: "s", Currency: "EUR", Language: "en"}, nil, nil, now); err != nil {
			t.Fatal(err)
		}
		add := func(uuid, detailed string, capture time.Time) {
			p := store.PaymentRecord{ID: "p-" + uuid, ShopID: "11111111", Mode: "TEST", Amount: 50, Currency: "EUR",
				FormAction: "SILENT", OrderStatus: "RUNNING", OrderCycle: "CLOSED", Customer: "{}", Options: "{}",
				CreatedAt: now, UpdatedAt: now, Version: 1}
			err := db.Write(ctx, func(tx *sql.Tx) error {
				if err := store.InsertPayment(tx, p); err != nil {
					return err
				}
				return store.InsertTransaction(tx, store.TransactionRecord{UUID: uuid, ShopID: "11111111", PaymentID: p.ID,
					Mode: "TEST", OperationType: "DEBIT", Amount: 50, Currency: "EUR", Status: "RUNNING",
					DetailedStatus: detailed, Token: "tok", PaymentMethodSource: "TOKEN", ExpectedCaptureAt: capture,
					Metadata: "{}", SequenceNumber: 1, Version: 1, CreatedAt: now, UpdatedAt: now})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		dueBy := now.Add(store.AuthorizeAhead)
		add("due", "WAITING_AUTHORISATION", dueBy)
		add("late", "WAITING_AUTHORISATION", dueBy.Add(time.Second))
		add("tovalidate", "WAITING_AUTHORISATION_TO_VALIDATE", now)
		add("authorised", "AUTHORISED", now)

		var mu sync.Mutex
		var got []store.TransactionRecord
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				c, err := db.ClaimAuthorizations(ctx, now, 10)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				got = append(got, c...)
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(got) != 1 || got[0].UUID != "due" || got[0].PendingOp != "AUTHORISE" || got[0].PendingOpID != "due-authorise" ||
			!got[0].PendingSince.Equal(now) {
			t.Fatalf("claimed %+v", got)
		}
		if again, err := db.ClaimAuthorizations(ctx, now.Add(time.Hour), 10); err != nil || len(again) != 1 || again[0].UUID != "late" {
			t.Fatalf("second claim %+v %v", again, err)
		}
	})
}

// addWaitingAuthorizations inserts n WAITING_AUTHORISATION debits whose
// capture date is capture, waiting for a retry of their authorization
// until retryAt when retryAt is not zero.
func addWaitingAuthorizations(t *testing.T, db *store.DB, prefix string, n int, now, capture, retryAt time.Time) {
	t.Helper()
	err := db.Write(context.Background(), func(tx *sql.Tx) error {
		for i := range n {
			id := fmt.Sprintf("%s-%04d", prefix, i)
			p := store.PaymentRecord{ID: "p-" + id, ShopID: "11111111", Mode: "TEST", Amount: 50, Currency: "EUR",
				FormAction: "SILENT", OrderStatus: "RUNNING", OrderCycle: "CLOSED", Customer: "{}", Options: "{}",
				CreatedAt: now, UpdatedAt: now, Version: 1}
			if err := store.InsertPayment(tx, p); err != nil {
				return err
			}
			if err := store.InsertTransaction(tx, store.TransactionRecord{UUID: id, ShopID: "11111111", PaymentID: p.ID,
				Mode: "TEST", OperationType: "DEBIT", Amount: 50, Currency: "EUR", Status: "RUNNING",
				DetailedStatus: "WAITING_AUTHORISATION", Token: "tok", PaymentMethodSource: "TOKEN", ExpectedCaptureAt: capture,
				Metadata: "{}", SequenceNumber: 1, Version: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			if !retryAt.IsZero() {
				if _, err := tx.Exec(`UPDATE transactions SET capture_failures = 3, capture_retry_at = $2 WHERE uuid = $1`,
					id, store.Micros(retryAt)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A deferred authorization the acquirer could not take waits for its
// retry time like a capture: the claim leaves it alone until then, and
// reaches the due ones through its index without stepping over those
// waiting (an acquirer down for an hour at D-1 of hundreds of them).
func TestAuthorizationClaimSkipsRetriesThroughItsIndex(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
		captureShop(t, db, now)
		capture := now.Add(12 * time.Hour) // within a day: due
		addWaitingAuthorizations(t, db, "waiting", 300, now, capture, now.Add(30*time.Minute))
		addWaitingAuthorizations(t, db, "retried", 1, now, capture, now.Add(-time.Minute))
		addWaitingAuthorizations(t, db, "due", 1, now, capture, time.Time{})
		addWaitingAuthorizations(t, db, "later", 1, now, now.Add(25*time.Hour), time.Time{})

		plan := store.QueryPlan(t, db, store.AuthorizationClaimSelect, store.Micros(now), 10)
		if db.Dialect() == store.SQLite {
			if !strings.Contains(plan, "USING INDEX transactions_authorization_ready (<expr><?)") {
				t.Fatalf("authorization claim plan:\n%s", plan)
			}
		} else if regexp.MustCompile(`Rows Removed by Filter: [1-9]`).MatchString(plan) || !strings.Contains(plan, "transactions_authorization_ready") {
			t.Fatalf("authorization claim plan steps over waiting rows:\n%s", plan)
		}

		got, err := db.ClaimAuthorizations(ctx, now, 10)
		claimed := map[string]bool{}
		for _, r := range got {
			claimed[r.UUID] = true
		}
		if err != nil || len(got) != 2 || !claimed["retried-0000"] || !claimed["due-0000"] {
			t.Fatalf("claimed %v (%v), want the retried and the due one", claimed, err)
		}
		got, err = db.ClaimAuthorizations(ctx, now.Add(30*time.Minute), 1000)
		if err != nil || len(got) != 300 {
			t.Fatalf("claimed %d at the retry time (%v), want the 300 waiting", len(got), err)
		}
	})
}

// PendingOpFailed counts the failures of the pending operation, whichever
// it is, and sets its retry time; an operation no longer pending (settled,
// or another one) is left alone.
func TestPendingOpFailedCountsAuthorizations(t *testing.T) {
	if want := fmt.Sprint(store.AuthorizeAhead.Microseconds()); !strings.Contains(store.AuthorizationClaimSelect, want) {
		t.Fatalf("the claim does not spell AuthorizeAhead (%s micros)", want)
	}
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
		captureShop(t, db, now)
		addWaitingAuthorizations(t, db, "w", 1, now, now.Add(time.Hour), time.Time{})
		if c, err := db.ClaimAuthorizations(ctx, now, 10); err != nil || len(c) != 1 {
			t.Fatalf("claim %d %v", len(c), err)
		}
		retry := func(n int) time.Time { return now.Add(time.Duration(n) * time.Minute) }
		if n, err := db.PendingOpFailed(ctx, "w-0000", "w-0000-capture", retry); err != nil || n != 0 {
			t.Fatalf("another operation's failure counted: %d %v", n, err)
		}
		if n, err := db.PendingOpFailed(ctx, "w-0000", "w-0000-authorise", retry); err != nil || n != 1 {
			t.Fatalf("failures %d %v, want 1", n, err)
		}
		var at int64
		if err := db.Reader().QueryRow(`SELECT capture_retry_at FROM transactions WHERE uuid = 'w-0000'`).Scan(&at); err != nil || at != store.Micros(retry(1)) {
			t.Fatalf("retry at %d %v", at, err)
		}
	})
}
