package payment

import (
	"errors"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// The prepared settle write (settleKnown) must notice that the payment
// changed since the start write, write nothing, and leave the decision to
// the locked path, which sees the change.
func TestSettleKnownDetectsAConcurrentChange(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		// The acquirer times out: the debit stays RUNNING, and recovery
		// settles it (AUTHORISED) while the stale copies are still held.
		stale, tx := e.pay(CreateInput{Amount: 2000, OrderID: "order-stale", IPNTargetURL: "https://merchant.example/ipn"}, cardTimeout)
		wantStatus(t, tx, Initial)
		e.clk.Advance(2 * time.Minute)
		if n, err := e.svc.RecoverRunning(e.ctx(), time.Minute, 10); err != nil || n != 1 {
			t.Fatalf("recovery %d %v", n, err)
		}
		before := e.events(stale.ID)

		refused := outcome{res: acquirer.Result{Approved: false, ResponseCode: "05"}}
		decide := func(p *Payment, t *Transaction, now time.Time) (string, error) {
			return decideAuthorization(p, t, refused, now)
		}
		if _, _, err := e.svc.settleKnown(e.ctx(), stale, tx, decide, true, time.Time{}); !errors.Is(err, errStale) {
			t.Fatalf("settleKnown on a stale copy: %v, want errStale", err)
		}
		wantStatus(t, e.get(tx.UUID), Authorised)

		// The public path falls back to the locked one, which finds the
		// transaction decided already and changes nothing.
		_, got, err := e.svc.settleAuthorization(e.ctx(), stale, tx, refused, onAccept{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, got, Authorised)
		if after := e.events(stale.ID); len(after) != len(before) {
			t.Fatalf("IPNs %v after the stale settle, %v before", after, before)
		}
	})
}

// A token payment records the token's use when the recorded one is older
// than lastUseResolution, not on every payment.
func TestTokenLastUseResolution(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		created := e.clk.Now()
		lastUsed := func() time.Time {
			t.Helper()
			got, err := e.vault.Get(e.ctx(), e.shop.ID, "TEST", tok)
			if err != nil {
				t.Fatal(err)
			}
			return got.LastUsedAt
		}
		pay := func() {
			t.Helper()
			_, tx, err := e.svc.PayToken(e.ctx(), e.shop, e.creds, CreateInput{Amount: 100, Currency: "EUR", PaymentMethodToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, tx, Authorised)
		}
		e.clk.Advance(10 * time.Minute)
		pay()
		if !lastUsed().Equal(created) {
			t.Fatalf("last use %v moved within the resolution (saved %v)", lastUsed(), created)
		}
		e.clk.Advance(lastUseResolution)
		pay()
		if want := e.clk.Now(); !lastUsed().Equal(want) {
			t.Fatalf("last use %v, want %v", lastUsed(), want)
		}
	})
}

// CaptureAllDue captures everything due in rounds, not one batch a tick;
// the store's Backlog sees the captures due before and none after.
func TestCaptureAllDueInRounds(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		for i := 0; i < 5; i++ {
			_, tx, err := e.svc.PayToken(e.ctx(), e.shop, e.creds, CreateInput{Amount: 100 + int64(i), Currency: "EUR", PaymentMethodToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, tx, Authorised)
		}
		b, err := db.Backlog(e.ctx(), e.clk.Now())
		if err != nil || b.CapturesDue != 5 {
			t.Fatalf("backlog before %+v %v, want 5 captures due", b, err)
		}
		n, err := e.svc.CaptureAllDue(e.ctx(), 2)
		if err != nil || n != 5 {
			t.Fatalf("CaptureAllDue in rounds of 2: %d %v, want 5", n, err)
		}
		if b, err := db.Backlog(e.ctx(), e.clk.Now()); err != nil || b.CapturesDue != 0 {
			t.Fatalf("backlog after %+v %v", b, err)
		}
	})
}
