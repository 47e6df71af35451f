package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// settlementBatch is how many settlements one commit holds, about what the
// SQLite writer's commits held under the silent bench (README: about 50
// writes per commit).
const settlementBatch = 50

// settlementPrefill is how many settled payments the tables hold before the
// timed settlements, so that every index has some depth.
const settlementPrefill = 10000

// BenchmarkWriteSettlement measures the settle write of a SILENT payment as
// the payment package makes it: the RUNNING debit becomes AUTHORISED (the
// columns decideAuthorization sets), the payment PAID, with three outbox
// messages (the IPN, the buyer's and the merchant's emails) inserted claimed
// under a reservation; settlementBatch settlements per commit, as the
// group-commit writer runs them. One op is one settlement; the inserts of
// the RUNNING payments are not timed.
func BenchmarkWriteSettlement(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			db := e.Open(b)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			if err := db.InsertShop(ctx, shop.Shop{ID: "69876357", Name: "Bench", Currency: "EUR", Language: "en"}, nil, nil, now); err != nil {
				b.Fatal(err)
			}
			seq := 0
			running := func() (store.PaymentRecord, store.TransactionRecord) {
				seq++
				id := fmt.Sprintf("p%09d", seq)
				p := store.PaymentRecord{ID: id, ShopID: "69876357", Mode: "TEST", OrderID: "o" + id, Amount: 1990, Currency: "EUR",
					FormAction: "SILENT", OrderStatus: "RUNNING", OrderCycle: "OPEN", Customer: `{"email":"buyer@example.com"}`,
					Options: `{"ipnTargetUrl":"http://127.0.0.1/ipn"}`, Attempts: 1, CreatedAt: now, UpdatedAt: now, Version: 1}
				t := store.TransactionRecord{UUID: fmt.Sprintf("%032d", seq), ShopID: "69876357", PaymentID: id, Mode: "TEST",
					OrderID: "o" + id, OperationType: "DEBIT", Amount: 1990, Currency: "EUR", Status: "RUNNING",
					DetailedStatus: "INITIAL", Token: fmt.Sprintf("%032x", seq), PaymentMethodSource: "TOKEN", Brand: "VISA",
					PANMasked: "497010XXXXXX0055", ExpiryMonth: 12, ExpiryYear: 2032, Metadata: "{}", SequenceNumber: 1,
					OrderGuard: "TEST:o" + id, Version: 1, CreatedAt: now, UpdatedAt: now}
				return p, t
			}
			settle := func(p *store.PaymentRecord, t *store.TransactionRecord, at time.Time) {
				t.AuthNumber, t.AuthResult, t.AuthAt = "3fc116", "00", at
				t.AuthAmount, t.AcquirerRef = t.Amount, "sim-"+t.UUID
				t.Status, t.DetailedStatus = "PAID", "AUTHORISED"
				t.ExpectedCaptureAt, t.AuthExpiresAt = at, at.AddDate(0, 0, 7)
				t.UpdatedAt = at
				p.OrderStatus, p.OrderCycle, p.UpdatedAt = "PAID", "CLOSED", at
			}
			messages := func(p store.PaymentRecord) []outbox.Message {
				return []outbox.Message{
					{ShopID: p.ShopID, Channel: "ipn", Event: "payment.accepted", OrderingKey: p.ID, Target: "http://127.0.0.1/ipn", Payload: `{"kr-answer":"…","orderStatus":"PAID"}`},
					{ShopID: p.ShopID, Channel: "email", Event: "payment.buyer", OrderingKey: p.ID, Target: "buyer@example.com", Payload: `{"template":"payment_accepted","lang":"en"}`},
					{ShopID: p.ShopID, Channel: "email", Event: "payment.merchant", OrderingKey: p.ID, Target: "shop@example.com", Payload: `{"template":"merchant_accepted","lang":"en"}`},
				}
			}
			// Prefill: settled payments, written as the settle path leaves them.
			for done := 0; done < settlementPrefill; done += 500 {
				if err := db.Write(ctx, func(tx *sql.Tx) error {
					for i := 0; i < 500; i++ {
						p, t := running()
						settle(&p, &t, now)
						if err := db.InsertPaymentWithTransaction(tx, p, t); err != nil {
							return err
						}
						if _, err := db.InsertOutboxClaimed(tx, messages(p), nil, now); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			r := &outbox.Reservation{By: "bench", Until: now.Add(time.Minute)}
			ps := make([]store.PaymentRecord, settlementBatch)
			ts := make([]store.TransactionRecord, settlementBatch)
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(settlementBatch, b.N-done)
				b.StopTimer()
				if err := db.Write(ctx, func(tx *sql.Tx) error {
					for i := 0; i < n; i++ {
						ps[i], ts[i] = running()
						if err := db.InsertPaymentWithTransaction(tx, ps[i], ts[i]); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				at := time.Now().UTC()
				for i := 0; i < n; i++ {
					settle(&ps[i], &ts[i], at)
				}
				b.StartTimer()
				if err := db.Write(ctx, func(tx *sql.Tx) error {
					for i := 0; i < n; i++ {
						t, p := ts[i], ps[i]
						if _, err := db.WriteSettlement(tx, &t, &p, messages(p), nil, r, at); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				done += n
			}
		})
	}
}
