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

// buyerEmails counts the buyer's emails of a payment by event.
func (e *env) buyerEmails(paymentID string) map[string]int {
	got := map[string]int{}
	for _, ev := range e.emailEvents(paymentID, "buyer") {
		got[ev]++
	}
	return got
}

// A buyer who tries again on the form after a refusal is told of the
// refusal once, not at every refused attempt; the merchant's notice and
// the IPN still go out at each attempt, and a payment accepted at a later
// attempt is confirmed.
func TestRefusalNoticeOncePerPayment(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, _ := deferredEnv(t, db)
		e.shop.Settings.OrderConfirmationEmails = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		email := "buyer@example.com"
		p, ft := e.create(CreateInput{Amount: 500, OrderID: "retry-1", Customer: Customer{Email: &email}})
		for i, pan := range []string{cardUnavailable, cardRefused, cardInsufficient} {
			if _, _, err := e.svc.PayCard(e.ctx(), ft, cardIn(pan)); err != nil {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		if got := e.buyerEmails(p.ID); got["payment.refused"] != 1 || len(got) != 1 {
			t.Errorf("buyer emails %v after a technical error and two refusals, want one refusal notice", got)
		}
		if got := e.merchantEmails(p.ID); len(got) != 3 {
			t.Errorf("merchant notices %v, want one per attempt", got)
		}
		if got := e.events(p.ID); len(got) != 3 {
			t.Errorf("IPN events %v, want one per attempt", got)
		}

		p, ft = e.create(CreateInput{Amount: 500, OrderID: "retry-2", Customer: Customer{Email: &email}})
		for _, pan := range []string{cardRefused, cardOK} {
			if _, _, err := e.svc.PayCard(e.ctx(), ft, cardIn(pan)); err != nil {
				t.Fatal(err)
			}
		}
		if got := e.buyerEmails(p.ID); got["payment.refused"] != 1 || got["payment.accepted"] != 1 {
			t.Errorf("buyer emails %v after a refusal then an acceptance", got)
		}

		// A deferred debit accepted on a card check and refused by the D-1
		// authorization: the buyer, told it was accepted, hears that it
		// was not, even after an earlier refused attempt.
		start := e.clk.Now()
		delay := 20
		p, ft = e.create(CreateInput{Amount: 2500, OrderID: "retry-3", CaptureDelay: &delay, Customer: Customer{Email: &email}})
		for _, pan := range []string{cardRefused, cardInsufficient} {
			if _, _, err := e.svc.PayCard(e.ctx(), ft, cardIn(pan)); err != nil {
				t.Fatal(err)
			}
		}
		e.clk.Set(start.AddDate(0, 0, 19))
		e.authorizeDue()
		if got := e.buyerEmails(p.ID); got["payment.refused"] != 2 || got["payment.accepted"] != 1 {
			t.Errorf("buyer emails %v after a refusal, a card check accepted and the D-1 authorization refused", got)
		}
	})
}
