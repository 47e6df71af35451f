package payment

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// PayToken's OnStart runs in the transaction that commits the payment: its
// error undoes the payment before any acquirer call; SubscriptionID lets
// instalments of one subscription share a paid orderId.
func TestPayTokenOnStartAndSubscriptionID(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		stop := errors.New("instalment taken by another copy")
		_, _, err := e.svc.PayToken(e.ctx(), e.shop, e.creds, CreateInput{Amount: 500, Currency: "EUR", OrderID: "sub-1",
			PaymentMethodToken: tok, SubscriptionID: "s1",
			OnStart: func(tx *sql.Tx, paymentID, uuid string) error { return stop }})
		if !errors.Is(err, stop) {
			t.Fatalf("PayToken error %v, want the OnStart error", err)
		}
		var n int
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM payments`).Scan(&n); err != nil || n != 0 || e.sim.Authorizations() != 0 {
			t.Fatalf("%d payments, %d authorizations after a refused start (%v)", n, e.sim.Authorizations(), err)
		}
		for i := 0; i < 2; i++ {
			var gotP, gotT string
			p, tx, err := e.svc.PayToken(e.ctx(), e.shop, e.creds, CreateInput{Amount: 500, Currency: "EUR", OrderID: "sub-1",
				PaymentMethodToken: tok, SubscriptionID: "s1",
				OnStart: func(tx *sql.Tx, paymentID, uuid string) error { gotP, gotT = paymentID, uuid; return nil }})
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, tx, Authorised)
			if gotP != p.ID || gotT != tx.UUID || p.Options.SubscriptionID != "s1" {
				t.Fatalf("OnStart saw %s/%s, payment %s/%s (%+v)", gotP, gotT, p.ID, tx.UUID, p.Options)
			}
		}
		if e.sim.Authorizations() != 2 {
			t.Fatalf("authorizations %d", e.sim.Authorizations())
		}
	})
}
