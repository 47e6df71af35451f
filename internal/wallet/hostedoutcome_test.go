package wallet_test

import (
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/wallet"
)

// A deferred debit accepted on a card check alone (WAITING_AUTHORISATION,
// with or without manual validation) gives the buyer's pages its expected
// capture date, the day the amount is debited, both when the attempt ends
// (HostedOutcome) and when the final page is shown again (the 3-D Secure
// replay, HostedFinalOutcome); an authorized debit gives none.
func TestHostedOutcomeDebitOn(t *testing.T) {
	now := time.Date(2030, 2, 1, 10, 0, 0, 0, time.UTC)
	capture := time.Date(2030, 3, 5, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		status string
		want   time.Time
	}{
		{payment.WaitingAuthorisation, capture},
		{payment.WaitingAuthorisationToValidate, capture},
		{payment.Authorised, time.Time{}},
	} {
		tx := payment.Transaction{UUID: "t1", OperationType: payment.Debit, DetailedStatus: c.status, Status: payment.StatusRunning,
			Amount: 1250, Currency: "EUR", ExpectedCaptureAt: capture}
		p := payment.Payment{ID: "p1", ShopID: "69876357", Mode: "TEST", Amount: 1250, Currency: "EUR",
			OrderCycle: payment.CycleClosed, Transactions: []payment.Transaction{tx}}
		out, err := wallet.HostedOutcome(p, tx, now)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Accepted || !out.DebitOn.Equal(c.want) {
			t.Errorf("%s: accepted %v, DebitOn %v, want %v", c.status, out.Accepted, out.DebitOn, c.want)
		}
		final, err := wallet.HostedFinalOutcome(p, now)
		if err != nil {
			t.Fatal(err)
		}
		if !final.DebitOn.Equal(c.want) {
			t.Errorf("%s: final outcome DebitOn %v, want %v", c.status, final.DebitOn, c.want)
		}
	}
}
