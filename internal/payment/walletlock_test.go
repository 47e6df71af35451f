package payment

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// PostgreSQL breaks a deadlock on a wallet's lock (store.WalletCardTx) by
// aborting one side: when that side is a payment saving a card already in
// the wallet, its write must run again (store.Write retries a deadlock),
// not commit the approved payment without the token the buyer asked for.
// The deadlock is made here by another transaction that holds the
// wallet's lock and then waits for the payment row the saving write holds;
// its deadlock_timeout is long so that PostgreSQL aborts the payment's
// side, which waited first.
func TestWalletSaveDeadlockVictimRunsAgain(t *testing.T) {
	u := storetest.NewMigratedPostgresDatabase(t)
	db, err := store.Open(context.Background(), store.Options{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	e := newEnv(t, db)
	email, ref := "buyer@example.com", "buyer-deadlock"
	cust := Customer{Email: &email, Reference: &ref}
	pay := func(ft string) (Transaction, error) {
		in := cardIn(cardOK)
		in.Expiry, in.SaveCard = card.Expiry{Month: 12, Year: 2032}, true
		_, tx, err := e.svc.PayCard(e.ctx(), ft, in)
		return tx, err
	}
	_, ft := e.create(CreateInput{Amount: 500, FormAction: ActionCustomerWallet, Customer: cust})
	first, err := pay(ft)
	if err != nil || first.Token == "" {
		t.Fatalf("first save: token %q, %v", first.Token, err)
	}

	// One attempt: true when PostgreSQL aborted the payment's side (what
	// this test is about), false when the check of the other side found
	// the cycle first (the payment's check ran before the other side
	// waited, a slow machine): then the payment went through unharmed and
	// the test tries again.
	attempt := func() bool {
		t.Helper()
		p, ft := e.create(CreateInput{Amount: 700, FormAction: ActionCustomerWallet, Customer: cust})
		other, err := raw.BeginTx(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Rollback()
		if _, err := other.Exec(`SET LOCAL deadlock_timeout = '5s'`); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Exec(`SELECT pg_advisory_xact_lock(30561, hashtext($1))`, e.shop.ID+"|TEST|"+ref); err != nil {
			t.Fatal(err)
		}
		type result struct {
			tx  Transaction
			err error
		}
		done := make(chan result, 1)
		go func() {
			tx, err := pay(ft)
			done <- result{tx, err}
		}()
		// The payment's write holds its payment row and waits for the wallet.
		for {
			var n int
			if err := raw.QueryRow(`SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		// The cycle: the other transaction waits for that payment row.
		_, err = other.Exec(`SELECT id FROM payments WHERE id = $1 FOR UPDATE`, p.ID)
		otherAborted := store.IsDeadlock(err)
		if err != nil && !otherAborted {
			t.Fatal(err)
		}
		if err := other.Rollback(); err != nil && !otherAborted {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		wantStatus(t, r.tx, Authorised)
		if r.tx.Token != first.Token {
			t.Fatalf("the payment that lost the deadlock names token %q, want the wallet's %s", r.tx.Token, first.Token)
		}
		return !otherAborted
	}
	for n := 1; !attempt(); n++ {
		if n == 5 {
			t.Fatal("PostgreSQL aborted the other side of the deadlock 5 times: the payment's side never lost")
		}
	}
}
