package payment

import (
	"errors"
	"testing"
)

// TestStateMachine checks every (operation type, from, to) triple against
// the table of allowed moves written out here independently of the code.
func TestStateMachine(t *testing.T) {
	allowed := map[[3]string]bool{
		{Debit, Initial, Authorised}:              true,
		{Debit, Initial, AuthorisedToValidate}:    true,
		{Debit, Initial, Refused}:                 true,
		{Debit, Initial, Error}:                   true,
		{Debit, Authorised, Captured}:             true,
		{Debit, Authorised, CaptureFailed}:        true,
		{Debit, Authorised, Cancelled}:            true,
		{Debit, AuthorisedToValidate, Authorised}: true,
		{Debit, AuthorisedToValidate, Cancelled}:  true,
		{Debit, AuthorisedToValidate, Expired}:    true,
		// Deferred authorization (capture date beyond the validity).
		{Debit, Initial, WaitingAuthorisation}:                        true,
		{Debit, Initial, WaitingAuthorisationToValidate}:              true,
		{Debit, WaitingAuthorisation, Authorised}:                     true,
		{Debit, WaitingAuthorisation, Refused}:                        true,
		{Debit, WaitingAuthorisation, Cancelled}:                      true,
		{Debit, WaitingAuthorisation, Error}:                          true,
		{Debit, WaitingAuthorisationToValidate, WaitingAuthorisation}: true,
		{Debit, WaitingAuthorisationToValidate, Cancelled}:            true,
		{Debit, WaitingAuthorisationToValidate, Expired}:              true,
		{Debit, WaitingAuthorisationToValidate, Authorised}:           false,
		{Verification, Initial, WaitingAuthorisation}:                 false,
		{Verification, Initial, Accepted}:                             true,
		{Verification, Initial, Refused}:                              true,
		{Verification, Initial, Error}:                                true,
		{Credit, Initial, Authorised}:                                 true,
		{Credit, Authorised, Captured}:                                true,
		{Credit, Authorised, Cancelled}:                               true, // cancelled before its capture
		{Credit, Initial, Captured}:                                   false,
		{Credit, Initial, Refused}:                                    true,
		{Credit, Initial, Error}:                                      true,
		{"UNKNOWN_OPERATION", Initial, Authorised}:                    false,
		{Debit, "UNKNOWN_STATUS", Authorised}:                         false,
		{Debit, Authorised, "UNKNOWN_STATUS"}:                         false,
		{Verification, Initial, AuthorisedToValidate}:                 false,
	}
	ops := append(OperationTypes(), "UNKNOWN_OPERATION")
	states := append(DetailedStatuses(), "UNKNOWN_STATUS")
	checked := 0
	for _, op := range ops {
		for _, from := range states {
			for _, to := range states {
				want := allowed[[3]string{op, from, to}]
				if got := CanTransition(op, from, to); got != want {
					t.Errorf("CanTransition(%s, %s, %s) = %v, want %v", op, from, to, got, want)
				}
				tx := Transaction{OperationType: op, DetailedStatus: from, Status: StatusOf(from)}
				err := tx.transition(to)
				if want {
					if err != nil || tx.DetailedStatus != to || tx.Status != StatusOf(to) {
						t.Errorf("transition %s %s→%s: err %v, now %s/%s", op, from, to, err, tx.DetailedStatus, tx.Status)
					}
				} else {
					var ie *ErrIllegalTransition
					if !errors.As(err, &ie) || tx.DetailedStatus != from {
						t.Errorf("transition %s %s→%s: err %v, now %s; want refused and unchanged", op, from, to, err, tx.DetailedStatus)
					}
				}
				checked++
			}
		}
	}
	if checked != len(ops)*len(states)*len(states) {
		t.Fatalf("checked %d triples", checked)
	}
	// Final states have no way out, whatever the operation.
	for _, final := range []string{Captured, Cancelled, Expired, Refused, Accepted, Error, CaptureFailed} {
		for _, op := range OperationTypes() {
			if len(transitions[op][final]) != 0 {
				t.Errorf("%s %s is final but has transitions %v", op, final, transitions[op][final])
			}
		}
	}
}

func TestStatusOf(t *testing.T) {
	want := map[string]string{
		Initial: StatusRunning, Authorised: StatusPaid, AuthorisedToValidate: StatusRunning, Captured: StatusPaid,
		CaptureFailed: StatusUnpaid, Cancelled: StatusUnpaid, Expired: StatusUnpaid, Refused: StatusUnpaid,
		Accepted: StatusPaid, Error: StatusUnpaid,
		WaitingAuthorisation: StatusRunning, WaitingAuthorisationToValidate: StatusRunning,
	}
	for _, d := range DetailedStatuses() {
		if got := StatusOf(d); got != want[d] {
			t.Errorf("StatusOf(%s) = %s, want %s", d, got, want[d])
		}
	}
}

func TestDeriveOrder(t *testing.T) {
	tx := func(op, d string) Transaction {
		return Transaction{OperationType: op, DetailedStatus: d, Status: StatusOf(d)}
	}
	cases := []struct {
		name        string
		txs         []Transaction
		attempts    int
		silent      bool
		status      string
		cycle       string
		formExpired bool
	}{
		{"no attempt yet", nil, 0, false, StatusUnpaid, CycleOpen, false},
		{"form expired without attempt", nil, 0, false, StatusAbandoned, CycleClosed, true},
		{"running", []Transaction{tx(Debit, Initial)}, 1, false, StatusRunning, CycleOpen, false},
		{"authorised", []Transaction{tx(Debit, Authorised)}, 1, false, StatusPaid, CycleClosed, false},
		{"to validate", []Transaction{tx(Debit, AuthorisedToValidate)}, 1, false, StatusRunning, CycleClosed, false},
		{"waiting authorisation", []Transaction{tx(Debit, WaitingAuthorisation)}, 1, false, StatusRunning, CycleClosed, false},
		{"waiting authorisation to validate", []Transaction{tx(Debit, WaitingAuthorisationToValidate)}, 1, false, StatusRunning, CycleClosed, false},
		{"refused, attempts left", []Transaction{tx(Debit, Refused)}, 1, false, StatusUnpaid, CycleOpen, false},
		{"refused, no attempt left", []Transaction{tx(Debit, Refused), tx(Debit, Refused), tx(Debit, Refused)}, 3, false, StatusUnpaid, CycleClosed, false},
		{"refused then paid", []Transaction{tx(Debit, Refused), tx(Debit, Captured)}, 2, false, StatusPaid, CycleClosed, false},
		{"captured and refunded", []Transaction{tx(Debit, Captured), tx(Credit, Captured)}, 1, false, StatusPaid, CycleClosed, false},
		{"silent refused", []Transaction{tx(Debit, Refused)}, 1, true, StatusUnpaid, CycleClosed, false},
		{"cancelled", []Transaction{tx(Debit, Cancelled)}, 1, false, StatusUnpaid, CycleOpen, false},
		{"verification accepted", []Transaction{tx(Verification, Accepted)}, 1, false, StatusPaid, CycleClosed, false},
	}
	now := mustTime("2030-01-01T10:00:00Z")
	for _, c := range cases {
		p := Payment{Transactions: c.txs, Attempts: c.attempts, Options: Options{MaxAttempts: 3}, FormAction: ActionPayment,
			FormExpiresAt: now.Add(time1min)}
		if c.silent {
			p.FormAction, p.FormExpiresAt = ActionSilent, now.Add(-time1min)
		}
		if c.formExpired {
			p.FormExpiresAt = now.Add(-time1min)
		}
		p.deriveOrder(now)
		if p.OrderStatus != c.status || p.OrderCycle != c.cycle {
			t.Errorf("%s: %s/%s, want %s/%s", c.name, p.OrderStatus, p.OrderCycle, c.status, c.cycle)
		}
	}
}
