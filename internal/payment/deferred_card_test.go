package payment

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// payTypedDeferred pays a hosted-form payment whose capture date is delay
// days away with a card the buyer typed and did not save.
func (e *env) payTypedDeferred(pan string, delay int) (Payment, Transaction) {
	e.t.Helper()
	e.orders++
	return e.pay(CreateInput{Amount: 2500, OrderID: fmt.Sprintf("typed-%d", e.orders), CaptureDelay: &delay}, pan)
}

// sealedCard is what the database holds of a transaction's internal card.
type sealedCard struct {
	ref        string // transactions.deferred_card_token
	status     string
	ciphertext bool // still has sealed card data
	dataKey    string
	keyRows    int // rows of its data key left in data_keys
}

func (e *env) sealedCard(uuid, ref string) sealedCard {
	e.t.Helper()
	var c sealedCard
	if err := e.db.Reader().QueryRow(`SELECT deferred_card_token FROM transactions WHERE uuid = $1`, uuid).Scan(&c.ref); err != nil {
		e.t.Fatalf("deferred card of %s: %v", uuid, err)
	}
	if ref == "" {
		return c
	}
	var dk sql.NullString
	var ct []byte
	if err := e.db.Reader().QueryRow(`SELECT status, ciphertext, data_key_id FROM tokens WHERE shop_id = $1 AND token = $2`,
		e.shop.ID, ref).Scan(&c.status, &ct, &dk); err != nil {
		e.t.Fatalf("token %s: %v", ref, err)
	}
	c.ciphertext, c.dataKey = len(ct) > 0, dk.String
	return c
}

func (e *env) dataKeyRows(id string) int {
	e.t.Helper()
	var n int
	if err := e.db.Reader().QueryRow(`SELECT COUNT(*) FROM data_keys WHERE id = $1`, id).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// wantErased checks that the internal card ref of transaction uuid is gone
// as the purge leaves a token: no reference on the transaction, status
// PURGED, no sealed data, its data key deleted.
func (e *env) wantErased(uuid, ref, dataKey string) {
	e.t.Helper()
	if c := e.sealedCard(uuid, ""); c.ref != "" {
		e.t.Fatalf("transaction %s still refers to its card %q", uuid, c.ref)
	}
	c := e.sealedCard(uuid, ref)
	if c.status != string(vault.StatusPurged) || c.ciphertext || c.dataKey != "" || e.dataKeyRows(dataKey) != 0 {
		e.t.Fatalf("internal card after the outcome: %+v, data key rows %d", c, e.dataKeyRows(dataKey))
	}
}

// A card typed on the form (not saved) for a payment captured beyond the
// authorization's validity is verified at payment time and kept in the
// vault, internal to the transaction, for the D-1 authorization; it is
// erased once that authorization is done.
func TestDeferredAuthorizationTypedCard(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, acq := deferredEnv(t, db)
		start := e.clk.Now()
		p, tx := e.payTypedDeferred(cardOK, 20)
		wantStatus(t, tx, WaitingAuthorisation)
		if !tx.Accepted() || p.OrderStatus != StatusRunning {
			t.Fatalf("order %s, accepted %v", p.OrderStatus, tx.Accepted())
		}
		if a, v := acq.counts(); a != 0 || v != 1 {
			t.Fatalf("at payment time: %d authorizations, %d verifications; want a verification only", a, v)
		}
		sealed := e.sealedCard(tx.UUID, "")
		if sealed.ref == "" {
			t.Fatal("the typed card is not kept for the D-1 authorization")
		}
		sealed = e.sealedCard(tx.UUID, sealed.ref)
		if sealed.status != string(vault.StatusActive) || !sealed.ciphertext || sealed.dataKey == "" {
			t.Fatalf("sealed card %+v", sealed)
		}
		// Internal to the transaction: no token in the answer, unknown to
		// Token/Get and unusable for a payment by the merchant.
		if tx.Token != "" || bytesContain(t, p, sealed.ref) {
			t.Fatalf("the internal card %s shows in the answer (token %q)", sealed.ref, tx.Token)
		}
		if _, err := e.vault.Get(e.ctx(), e.shop.ID, "TEST", sealed.ref); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("vault.Get of the internal card: %v, want not found", err)
		}
		if _, _, _, err := e.vault.Card(e.ctx(), e.shop.ID, "TEST", sealed.ref); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("vault.Card of the internal card: %v, want not found", err)
		}
		_, _, err := e.svc.PayToken(e.ctx(), e.shop, e.creds, CreateInput{Amount: 100, Currency: "EUR", PaymentMethodToken: sealed.ref})
		wantCode(t, err, "PSP_030")

		e.clk.Set(start.AddDate(0, 0, 19))
		if n := e.authorizeDue(); n != 1 {
			t.Fatalf("authorized %d at D-1", n)
		}
		got := e.get(tx.UUID)
		wantStatus(t, got, Authorised)
		req := acq.auths[0]
		if req.PAN.Reveal() != cardOK || req.Initiator != acquirer.InitiatorMIT || !req.SecurityCode.IsZero() || req.Amount != 2500 {
			t.Fatalf("D-1 authorization request %+v", req)
		}
		e.wantErased(tx.UUID, sealed.ref, sealed.dataKey)

		e.clk.Set(start.AddDate(0, 0, 20))
		if _, err := e.svc.CaptureAllDue(e.ctx(), 10); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.get(tx.UUID), Captured)
	})
}

// The internal card is erased with every other end of the deferred debit:
// refused at the verification, refused at D-1, cancelled by the merchant.
func TestDeferredTypedCardErasedOnEveryOutcome(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, _ := deferredEnv(t, db)
		start := e.clk.Now()

		_, refused := e.payTypedDeferred(cardRefused, 20)
		wantStatus(t, refused, Refused)
		if c := e.sealedCard(refused.UUID, ""); c.ref != "" {
			t.Fatalf("a card refused at the verification is kept: %+v", c)
		}
		var kept int
		if err := e.db.Reader().QueryRow(`SELECT COUNT(*) FROM tokens WHERE shop_id = $1 AND status <> 'PURGED'`, e.shop.ID).Scan(&kept); err != nil {
			t.Fatal(err)
		}
		if kept != 0 {
			t.Fatalf("%d cards kept after a refused verification", kept)
		}

		_, cancelled := e.payTypedDeferred(cardOK, 20)
		wantStatus(t, cancelled, WaitingAuthorisation)
		cref := e.sealedCard(cancelled.UUID, "").ref
		c := e.sealedCard(cancelled.UUID, cref)
		if _, ct, err := e.svc.CancelOrRefund(e.ctx(), e.shop.ID, cancelled.UUID, CancelInput{}); err != nil {
			t.Fatalf("cancel: %v", err)
		} else {
			wantStatus(t, ct, Cancelled)
		}
		e.wantErased(cancelled.UUID, cref, c.dataKey)

		_, late := e.payTypedDeferred(cardInsufficient, 20)
		wantStatus(t, late, WaitingAuthorisation)
		l := e.sealedCard(late.UUID, "")
		ref := l.ref
		l = e.sealedCard(late.UUID, ref)
		e.clk.Set(start.AddDate(0, 0, 19))
		e.authorizeDue()
		wantStatus(t, e.get(late.UUID), Refused)
		e.wantErased(late.UUID, ref, l.dataKey)
	})
}

// bytesContain reports whether the V4 answer of p mentions s.
func bytesContain(t *testing.T, p Payment, s string) bool {
	t.Helper()
	b, err := Answer(p, p.UpdatedAt)
	if err != nil {
		t.Fatal(err)
	}
	return len(s) > 0 && strings.Contains(string(b), s)
}

// A verification whose answer was lost is settled by recovery to the same
// decision as the answer would have given: WAITING_AUTHORISATION, with
// the card the start write kept.
func TestDeferredTypedCardRecovered(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, _ := deferredEnv(t, db)
		_, tx := e.payTypedDeferred(cardTimeout, 20)
		wantStatus(t, tx, Initial)
		ref := e.sealedCard(tx.UUID, "").ref
		if ref == "" {
			t.Fatal("no card kept by the start write")
		}
		e.clk.Advance(2 * time.Minute)
		if _, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 100); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.get(tx.UUID), WaitingAuthorisation)
		if c := e.sealedCard(tx.UUID, ref); c.ref != ref || c.status != string(vault.StatusActive) || !c.ciphertext {
			t.Fatalf("card after recovery %+v", c)
		}
	})
}

// The card typed for a deferred debit is erased too when the debit ends
// without an authorization: never validated (EXPIRED at its capture date),
// or never sent because the acquirer stayed down (ERROR at its capture
// date).
func TestDeferredTypedCardErasedWhenExpiredOrGivenUp(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, _ := deferredEnv(t, db)
		start := e.clk.Now()
		delay := 20
		e.orders++
		_, manual := e.pay(CreateInput{Amount: 2500, OrderID: fmt.Sprintf("typed-%d", e.orders), CaptureDelay: &delay,
			ManualValidation: "YES"}, cardOK)
		wantStatus(t, manual, WaitingAuthorisationToValidate)
		mref := e.sealedCard(manual.UUID, "").ref
		mcard := e.sealedCard(manual.UUID, mref)

		_, down := e.payTypedDeferred(cardOK, 20)
		wantStatus(t, down, WaitingAuthorisation)
		dref := e.sealedCard(down.UUID, "").ref
		dcard := e.sealedCard(down.UUID, dref)

		capture := start.AddDate(0, 0, 20)
		e.clk.Set(capture)
		if n, err := e.svc.ExpireUnvalidated(e.ctx(), 10); err != nil || n != 1 {
			t.Fatalf("expired %d at the capture date (%v)", n, err)
		}
		wantStatus(t, e.get(manual.UUID), Expired)
		e.wantErased(manual.UUID, mref, mcard.dataKey)

		e.sim.InjectFault(down.UUID+"-authorise", simulator.FaultUnavailable)
		e.authorizeDue()
		wantStatus(t, e.get(down.UUID), Error)
		e.wantErased(down.UUID, dref, dcard.dataKey)
	})
}
