package payment

import (
	"testing"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// markOf reads cardDetails.markAuthorizationResponse and the number of
// authorizationResponse of transaction uuid of p as the V4 answer shows
// them.
func markOf(t *testing.T, p Payment, uuid string) (mark map[string]any, authNumber any) {
	t.Helper()
	b, err := Answer(p, p.UpdatedAt)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range decode(t, b)["transactions"].([]any) {
		tx := x.(map[string]any)
		if tx["uuid"] != uuid {
			continue
		}
		card := tx["transactionDetails"].(map[string]any)["cardDetails"].(map[string]any)
		return card["markAuthorizationResponse"].(map[string]any), card["authorizationResponse"].(map[string]any)["authorizationNumber"]
	}
	t.Fatalf("no transaction %s in %s", uuid, b)
	return nil, nil
}

// The card check of a deferred debit is reported as Lyra reports it, in
// markAuthorizationResponse (amount 0: nothing reserved), in the payment's
// answer and in every later reading; authorizationResponse stays empty
// until the D-1 authorization, which fills it while the check is kept.
func TestDeferredAuthorizationMarkResponse(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, _ := deferredEnv(t, db)
		start := e.clk.Now()
		p, tx := e.payDeferred(cardOK, 20, "")
		wantStatus(t, tx, WaitingAuthorisation)

		wantMark := func(p Payment, when string) map[string]any {
			t.Helper()
			mark, _ := markOf(t, p, tx.UUID)
			num, _ := mark["authorizationNumber"].(string)
			if mark["amount"] != float64(0) || mark["currency"] != "EUR" || num == "" ||
				mark["authorizationResult"] != "0" || mark["authorizationDate"] != Date(start) ||
				mark["_type"] != "V4/PaymentMethod/Details/Cards/MarkAuthorizationResponse" {
				t.Fatalf("%s: markAuthorizationResponse %v", when, mark)
			}
			return mark
		}
		first := wantMark(p, "payment answer")
		if _, auth := markOf(t, p, tx.UUID); auth != nil {
			t.Fatalf("authorizationResponse.authorizationNumber %v before the authorization", auth)
		}
		stored, _, err := e.svc.Get(e.ctx(), e.shop.ID, tx.UUID)
		if err != nil {
			t.Fatal(err)
		}
		wantMark(stored, "Transaction/Get")

		// D-1: authorized; the check stays as it was.
		e.clk.Set(start.AddDate(0, 0, 19))
		if n := e.authorizeDue(); n != 1 {
			t.Fatalf("authorized %d at D-1", n)
		}
		authorized, got, err := e.svc.Get(e.ctx(), e.shop.ID, tx.UUID)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, got, Authorised)
		mark := wantMark(authorized, "after the authorization")
		if mark["authorizationNumber"] != first["authorizationNumber"] {
			t.Fatalf("check number %v became %v", first["authorizationNumber"], mark["authorizationNumber"])
		}
		if _, auth := markOf(t, authorized, tx.UUID); auth != got.AuthNumber || got.AuthNumber == "" {
			t.Fatalf("authorizationResponse.authorizationNumber %v, want %q", auth, got.AuthNumber)
		}

		// An immediate debit has no card check to report.
		now, ntx := e.payDeferred(cardOK, 0, "")
		if m, _ := markOf(t, now, ntx.UUID); m["authorizationNumber"] != nil || m["amount"] != nil {
			t.Fatalf("markAuthorizationResponse of an immediate debit %v", m)
		}
	})
}
