package store_test

import (
	"context"
	"database/sql"
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
		dueBy := now.Add(24 * time.Hour)
		add("due", "WAITING_AUTHORISATION", dueBy)
		add("late", "WAITING_AUTHORISATION", dueBy.Add(time.Second))
		add("tovalidate", "WAITING_AUTHORISATION_TO_VALIDATE", now)
		add("authorised", "AUTHORISED", now)

		var mu sync.Mutex
		var got []store.TransactionRecord
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				c, err := db.ClaimAuthorizations(ctx, dueBy, now, 10)
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
		if again, err := db.ClaimAuthorizations(ctx, dueBy.Add(time.Hour), now, 10); err != nil || len(again) != 1 || again[0].UUID != "late" {
			t.Fatalf("second claim %+v %v", again, err)
		}
	})
}
