package subscription

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// An instalment that fails because OpenPSP itself could not read what it
// needs (here the shop's settings) records the stable V4 technical error,
// never the Go error text: the error detail reaches the merchant in the
// subscription.instalment_failed webhook and email and the operator's
// instalment list. The text goes to the log only.
func TestInstalmentTechnicalFailureKeepsInternalTextOut(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sub := e.create(CreateInput{Amount: 990, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=2"})
		// UpdateShop empties the shop cache; the settings written behind
		// its back then fail to parse at the next read.
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		err := db.Write(e.ctx(), func(tx *sql.Tx) error {
			_, err := tx.Exec(`UPDATE shops SET settings = '[]' WHERE id = $1`, e.shop.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		e.run(0)
		is := e.instalments(sub)
		if len(is) != 1 || is[0].Status != store.InstalmentDue {
			t.Fatalf("instalments %+v, want one DUE for a retry", is)
		}
		if is[0].ErrorCode != errs.Internal || is[0].ErrorDetail != "internal error" ||
			strings.Contains(is[0].ErrorDetail, "json") || strings.Contains(is[0].ErrorDetail, "store:") {
			t.Errorf("error %q %q, want %s and a generic message", is[0].ErrorCode, is[0].ErrorDetail, errs.Internal)
		}
	})
}
