package subscription

import (
	"database/sql"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// An instalment that fails before any payment while its shop cannot be
// read (here the last technical failure allowed, caused by that very
// read) does not fail without its notice: the failure and the merchant's
// notice commit together, so the failure waits and is tried again. Once
// the shop reads again, the instalment that still cannot be charged (its
// token was cancelled meanwhile) fails with its notice.
func TestInstalmentFailureWaitsForItsNotice(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.PrimaryEmail = "merchant@example.com"
		_, e.pay, e.svc = e.copyOn(db, Config{Retry: RetryPolicy{Refused: []time.Duration{24 * time.Hour},
			Technical: time.Hour, MaxTechnical: 1}})
		tok := e.token(cardOK)
		sub := e.create(CreateInput{Amount: 990, PaymentMethodToken: tok, RRule: "FREQ=MONTHLY;COUNT=2"})
		// UpdateShop empties the shop cache; the settings written behind
		// its back then fail to parse at every read.
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(e.ctx(), func(tx *sql.Tx) error {
			_, err := tx.Exec(`UPDATE shops SET settings = '[]' WHERE id = $1`, e.shop.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		e.run(0)
		is := e.instalments(sub)
		if len(is) != 1 {
			t.Fatalf("instalments %+v, want one", is)
		}
		if n := countNotices(t, db, sub); is[0].Status == store.InstalmentFailed && n == 0 {
			t.Fatalf("instalment %+v FAILED without its notice", is[0])
		}

		// The shop reads again; the token cannot pay any more.
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vault.Cancel(e.ctx(), e.shop.ID, "TEST", tok); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(2 * time.Hour) // past the claim and the technical delay
		e.run(0)
		if is = e.instalments(sub); is[0].Status != store.InstalmentFailed || is[0].Attempts != 0 {
			t.Fatalf("instalment %+v, want FAILED before any payment", is[0])
		}
		if n := countNotices(t, db, sub); n != 1 {
			t.Fatalf("%d instalment_failed webhooks, want 1", n)
		}
	})
}
