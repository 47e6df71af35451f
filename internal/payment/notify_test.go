package payment

import (
	"testing"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A technical error (the acquirer could not be reached) charged nothing and
// the buyer may try again: the buyer gets no "payment refused" email, while
// the merchant's IPN (UNPAID, as PayZen sends it) and a refusal's buyer
// email stay as they are.
func TestTechnicalErrorSendsNoRefusalToTheBuyer(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.Settings.OrderConfirmationEmails = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		email := "buyer@example.com"
		outbox := func(paymentID string) map[string]int {
			t.Helper()
			rows, err := db.Reader().Query(`SELECT channel, event FROM outbox WHERE ordering_key = $1 OR ordering_key LIKE $2`,
				paymentID, "payment:"+paymentID+"/%")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			got := map[string]int{}
			for rows.Next() {
				var ch, ev string
				if err := rows.Scan(&ch, &ev); err != nil {
					t.Fatal(err)
				}
				got[ch+" "+ev]++
			}
			return got
		}

		p, tx := e.pay(CreateInput{Amount: 500, Customer: Customer{Email: &email}}, cardUnavailable)
		wantStatus(t, tx, Error)
		if got := outbox(p.ID); got["email payment.refused"] != 0 || got["ipn payment.refused"] != 1 {
			t.Errorf("technical error: outbox %v, want the IPN and no buyer email", got)
		}

		p, tx = e.pay(CreateInput{Amount: 500, Customer: Customer{Email: &email}}, cardRefused)
		wantStatus(t, tx, Refused)
		if got := outbox(p.ID); got["email payment.refused"] != 1 || got["ipn payment.refused"] != 1 {
			t.Errorf("refusal: outbox %v, want the IPN and the buyer's email", got)
		}
	})
}
