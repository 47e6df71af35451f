package ogone_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// TestDirectLinkAliasDeadlockVictimRunsAgain: a CARDNO+ALIAS order stores
// its card under the alias in the write that records the acceptance, in a
// savepoint whose failure leaves the payment accepted without the alias
// (TestDirectLinkAliasWriteFails). A deadlock is no such failure: PostgreSQL
// aborted the statement to break a cycle of locks, and the write must run
// again (store.Write), not commit the payment without the alias the
// merchant named. Here the alias's insert meets a deadlock once (a trigger
// raising SQLSTATE 40P01 the first time; a sequence counts, as it is not
// undone with the transaction): the answer and the vault have the alias.
func TestDirectLinkAliasDeadlockVictimRunsAgain(t *testing.T) {
	e := newEnvOn(t, storetest.Postgres)
	ctx := context.Background()
	if err := e.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`CREATE SEQUENCE deadlock_once;
			CREATE FUNCTION deadlock_once() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.token = 'al-dead' AND nextval('deadlock_once') = 1 THEN
					RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';
				END IF;
				RETURN NEW;
			END $$;
			CREATE TRIGGER deadlock_once BEFORE INSERT ON tokens FOR EACH ROW EXECUTE FUNCTION deadlock_once()`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r := e.order(map[string]string{"CARDNO": mastercard, "ED": "0633", "CVC": "123", "ECI": "7",
		"ORDERID": "DEAD-1", "ALIAS": "al-dead"})
	if r["STATUS"] != "5" || r["ALIAS"] != "al-dead" {
		t.Fatalf("order whose alias's insert met a deadlock once: %v, want STATUS 5 with ALIAS al-dead", r)
	}
	if _, err := e.vault.Get(ctx, shop.DemoShopID, "TEST", "al-dead"); err != nil {
		t.Fatalf("alias after the deadlock: %v", err)
	}
	var fired int64
	if err := e.db.Write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRow(`SELECT last_value FROM deadlock_once`).Scan(&fired)
	}); err != nil || fired < 2 {
		t.Fatalf("the trigger ran %d times (%v): the deadlock was not met, the test proves nothing", fired, err)
	}
}
