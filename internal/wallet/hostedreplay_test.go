package wallet_test

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A wallet's saved card posted again once its payment ended the form (the
// back button and "resend", a double click, a second tab) read "already
// processed": the post naming the card paid with shows the payment's
// outcome, its kr-answer as the first post returned it, and writes
// nothing. The other card of the wallet still reads that the form is over.
// The card is known by its token (Service.HostedFinalOutcome maps the
// attempt's token to the id the page names it by).
func TestSavedCardReplayedAfterEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		e.post(e.formToken(walletPayment(1500, "r-1", "cust-r")), "", newCard(cardOK, true)).answer(t)
		e.post(e.formToken(walletPayment(1500, "r-2", "cust-r")), "", newCard(cardMC, true)).answer(t)
		ft := e.formToken(walletPayment(2500, "r-3", "cust-r"))
		ids := e.savedCards(ft)
		if len(ids) != 2 {
			t.Fatalf("saved cards on the form: %v", ids)
		}
		first := e.post(ft, "", url.Values{"saved": {ids[1]}, "saved_csc": {"123"}})
		first.answer(t)
		replay := e.post(ft, "", url.Values{"saved": {ids[1]}, "saved_csc": {"123"}})
		if replay.Step != "done" || !replay.Accepted || replay.Message != first.Message || !reflect.DeepEqual(replay.Return, first.Return) {
			t.Errorf("the saved card posted again answered %+v; the first post answered %+v", replay, first)
		}
		if other := e.post(ft, "", url.Values{"saved": {ids[0]}, "saved_csc": {"123"}}); other.Accepted || other.Error == nil || other.Error.ErrorCode != "CLIENT_502" {
			t.Errorf("the wallet's other card posted to the paid form answered %+v", other)
		}
		if n := e.count(`SELECT COUNT(*) FROM transactions WHERE order_id = $1`, "r-3"); n != 1 {
			t.Errorf("paid then replayed: %d transactions, want 1", n)
		}
	})
}
