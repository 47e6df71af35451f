package payment

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// PayCard's OnAccepted runs only for an accepted authorization, inside the
// write that records it: a refusal never runs it; its token becomes the
// transaction's; its error undoes its own writes and leaves the accepted
// payment standing, without a token.
func TestPayCardOnAccepted(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		shops := func() int {
			var n int
			if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM shops WHERE id = 'hook0001'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		runs := 0
		pay := func(orderID, pan string, hook func(tx *sql.Tx, t Transaction) (string, error)) Transaction {
			t.Helper()
			_, form := e.create(CreateInput{Amount: 700, Currency: "EUR", OrderID: orderID})
			c := cardIn(pan)
			c.OnAccepted = func(tx *sql.Tx, t Transaction) (string, error) { runs++; return hook(tx, t) }
			_, tx, err := e.svc.PayCard(e.ctx(), form, c)
			if err != nil {
				t.Fatal(err)
			}
			return tx
		}
		write := func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO shops (id, name, currency, language, created_at, updated_at) VALUES ('hook0001', 'h', 'EUR', 'fr', 1, 1)`)
			return err
		}

		tx := pay("oa-1", cardRefused, func(tx *sql.Tx, _ Transaction) (string, error) { return "", write(tx) })
		wantStatus(t, tx, Refused)
		if runs != 0 || shops() != 0 {
			t.Fatalf("a refusal ran the hook (%d runs, %d rows)", runs, shops())
		}

		failed := errors.New("alias cannot take the card")
		tx = pay("oa-2", cardOK, func(tx *sql.Tx, _ Transaction) (string, error) {
			if err := write(tx); err != nil {
				return "", err
			}
			return "tok-never", failed
		})
		wantStatus(t, tx, Authorised)
		if got := e.get(tx.UUID); runs != 1 || shops() != 0 || got.Token != "" || got.DetailedStatus != Authorised {
			t.Fatalf("failed hook: %d runs, %d rows, token %q, %s", runs, shops(), got.Token, got.DetailedStatus)
		}

		var seen string
		tx = pay("oa-3", cardOK, func(tx *sql.Tx, t Transaction) (string, error) {
			seen = t.UUID
			return "tok-1", write(tx)
		})
		wantStatus(t, tx, Authorised)
		if got := e.get(tx.UUID); runs != 2 || shops() != 1 || got.Token != "tok-1" || seen != tx.UUID {
			t.Fatalf("hook: %d runs, %d rows, token %q, saw %s of %s", runs, shops(), got.Token, seen, tx.UUID)
		}
	})
}
