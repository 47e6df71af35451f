package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// addCaptures inserts n AUTHORISED debits whose capture date has come,
// waiting for a retry until retryAt when retryAt is not zero.
func addCaptures(t *testing.T, db *store.DB, prefix string, n int, now, retryAt time.Time) {
	t.Helper()
	ctx := context.Background()
	err := db.Write(ctx, func(tx *sql.Tx) error {
		for i := range n {
			id := fmt.Sprintf("%s-%04d", prefix, i)
			p := store.PaymentRecord{ID: "p-" + id, ShopID: "11111111", Mode: "TEST", Amount: 50, Currency: "EUR",
				FormAction: "SILENT", OrderStatus: "PAID", OrderCycle: "CLOSED", Customer: "{}", Options: "{}",
				CreatedAt: now, UpdatedAt: now, Version: 1}
			if err := store.InsertPayment(tx, p); err != nil {
				return err
			}
			if err := store.InsertTransaction(tx, store.TransactionRecord{UUID: id, ShopID: "11111111", PaymentID: p.ID,
				Mode: "TEST", OperationType: "DEBIT", Amount: 50, Currency: "EUR", Status: "PAID", DetailedStatus: "AUTHORISED",
				ExpectedCaptureAt: now.Add(-time.Hour), Metadata: "{}", SequenceNumber: 1, Version: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
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

func captureShop(t *testing.T, db *store.DB, now time.Time) {
	t.Helper()
	if err := db.InsertShop(context.Background(), shop.Shop{ID: "11111111", Name: "s", Currency: "EUR", Language: "en"}, nil, nil, now); err != nil {
		t.Fatal(err)
	}
}

// The capture claim finds the captures due through its index without
// stepping over those waiting for their retry time: with hundreds waiting
// (an acquirer down for an hour), each run of the job (once a second)
// read them all before reaching one that is due.
func TestCaptureClaimSkipsRetriesThroughItsIndex(t *testing.T) {
	forEachCaptureDB(t, func(t *testing.T, ctx context.Context, db *store.DB, now time.Time) {
		addCaptures(t, db, "waiting", 300, now, now.Add(30*time.Minute))
		addCaptures(t, db, "due", 1, now, time.Time{})

		plan := store.QueryPlan(t, db, store.CaptureClaimSelect, store.Micros(now), 10)
		if db.Dialect() == store.SQLite {
			// The index's key must be the due time, retry included: a
			// range on it (<expr><?) reaches the due rows only.
			if !strings.Contains(plan, "USING INDEX transactions_capture_ready (<expr><?)") {
				t.Fatalf("capture claim plan:\n%s", plan)
			}
		} else if regexp.MustCompile(`Rows Removed by Filter: [1-9]`).MatchString(plan) || !strings.Contains(plan, "transactions_capture_ready") {
			t.Fatalf("capture claim plan steps over waiting rows:\n%s", plan)
		}

		got, err := db.ClaimCaptures(ctx, now, 10)
		if err != nil || len(got) != 1 || got[0].UUID != "due-0000" {
			t.Fatalf("claimed %d (%v)", len(got), err)
		}
	})
}

// The backlog counts the captures actually due (or in flight), not those
// waiting for their retry time.
func TestBacklogCountsCapturesDueOnly(t *testing.T) {
	forEachCaptureDB(t, func(t *testing.T, ctx context.Context, db *store.DB, now time.Time) {
		addCaptures(t, db, "waiting", 4, now, now.Add(30*time.Minute))
		addCaptures(t, db, "due", 2, now, time.Time{})
		addCaptures(t, db, "retried", 1, now, now.Add(-time.Minute))
		b, err := db.Backlog(ctx, now)
		if err != nil || b.CapturesDue != 3 {
			t.Fatalf("backlog %+v %v, want 3 captures due", b, err)
		}
		if _, err := db.ClaimCaptures(ctx, now, 1); err != nil {
			t.Fatal(err)
		}
		if b, err := db.Backlog(ctx, now); err != nil || b.CapturesDue != 3 {
			t.Fatalf("backlog with one in flight %+v %v, want 3", b, err)
		}
		if b, err := db.Backlog(ctx, now.Add(time.Hour)); err != nil || b.CapturesDue != 7 {
			t.Fatalf("backlog an hour later %+v %v, want 7", b, err)
		}
	})
}
