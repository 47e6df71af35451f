package payment

import (
	"testing"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A payment's state written by a settlement (its authorization, then its
// capture) is what its whole record says, the customer and options kept:
// the settlement writes the payment's stateRecord, not its record.
func TestSettlementWritesThePaymentsState(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		email, ref, name := "buyer@example.com", "customer-7", "Zoé"
		p, tx := e.pay(CreateInput{Amount: 1250, OrderID: "order-state",
			Customer: Customer{Email: &email, Reference: &ref, BillingDetails: BillingDetails{FirstName: &name}}}, cardOK)
		check := func(when string, p Payment) {
			t.Helper()
			got, err := store.GetPayment(e.ctx(), db.Reader(), p.ShopID, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := p.record()
			got.CreatedAt, want.CreatedAt = got.CreatedAt.UTC(), want.CreatedAt.UTC()
			got.UpdatedAt, want.UpdatedAt = got.UpdatedAt.UTC(), want.UpdatedAt.UTC()
			got.FormExpiresAt, want.FormExpiresAt = got.FormExpiresAt.UTC(), want.FormExpiresAt.UTC()
			if got != want {
				t.Errorf("%s: stored\n%+v\nwant\n%+v", when, got, want)
			}
		}
		check("authorized", p)
		e.clk.Advance(time1min)
		if n, err := e.svc.CaptureDue(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("CaptureDue = %d, %v", n, err)
		}
		got := e.get(tx.UUID)
		wantStatus(t, got, Captured)
		rec, err := store.GetPayment(e.ctx(), db.Reader(), p.ShopID, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		after := paymentFromRecord(rec)
		if after.version != p.version+1 || !after.UpdatedAt.After(p.UpdatedAt) || after.Customer.BillingDetails.FirstName == nil ||
			*after.Customer.BillingDetails.FirstName != name || after.OrderStatus != StatusPaid {
			t.Errorf("after the capture: version %d (was %d), updated %v (was %v), customer %+v, status %s",
				after.version, p.version, after.UpdatedAt, p.UpdatedAt, after.Customer, after.OrderStatus)
		}
		after.Transactions = []Transaction{got}
		check("captured", after)
	})
}
