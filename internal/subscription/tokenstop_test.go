package subscription

import (
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/wallet"
)

// Token/Cancel stops a subscription whose termination date has passed but
// whose last instalment waits for a retry: Token/Reactivate must not let
// that retry charge the card. Before the fix, CancelForToken skipped such
// a subscription (its cancelDate had passed, its status stayed ACTIVE),
// the instalment stayed DUE, and once the token was reactivated the retry
// charged it.
func TestTokenCancelStopsRetriesAfterTermination(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		sub := e.create(CreateInput{Amount: 700, PaymentMethodToken: tok, RRule: "FREQ=MONTHLY"})
		end := t0.Add(30 * time.Minute)
		if _, err := e.svc.Cancel(e.ctx(), e.shop.ID, shop.ModeTest, sub.ID, tok, end); err != nil {
			t.Fatal(err)
		}
		// The acquirer cannot be reached: the instalment, due before the
		// termination date, waits for its technical retry an hour later.
		e.sim.InjectNextFault(simulator.KindAuthorization, simulator.FaultUnavailable)
		e.run(1)
		if is := e.instalments(sub); len(is) != 1 || is[0].Status != store.InstalmentDue {
			t.Fatalf("instalments %+v", is)
		}
		e.clk.Set(t0.Add(45 * time.Minute)) // past the termination date
		w := wallet.New(wallet.Options{DB: db, Vault: e.vault, Payments: e.pay, Subscriptions: e.svc.ForWallet(), Clock: e.clk})
		if _, err := w.Cancel(e.ctx(), e.shop.ID, shop.ModeTest, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Reactivate(e.ctx(), e.shop.ID, shop.ModeTest, tok); err != nil {
			t.Fatal(err)
		}
		e.clk.Set(t0.Add(3 * time.Hour))
		e.run(0)
		if n := e.sim.Authorizations(); n != 0 {
			t.Fatalf("%d authorizations after Token/Cancel", n)
		}
		is := e.instalments(sub)
		if len(is) != 1 || is[0].Status != store.InstalmentCancelled {
			t.Fatalf("instalments after Token/Cancel %+v", is)
		}
		// The termination date the merchant gave stays the cancelDate.
		if got := e.get(sub); !got.CancelDate.Equal(end) {
			t.Fatalf("cancelDate %s, want %s", got.CancelDate, end)
		}
	})
}

// A second Subscription/Cancel with a later termination date than the
// first brings back the instalments due up to it. Before the fix, the
// first termination date, before the next instalment, had cleared the
// schedule: the later date was shown as cancelDate but the instalments
// before it were never charged.
func TestLaterTerminationDateChargesUpToIt(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		sub := e.create(CreateInput{Amount: 800, PaymentMethodToken: tok, RRule: "FREQ=MONTHLY;COUNT=12"})
		e.run(1) // March 10
		if _, err := e.svc.Cancel(e.ctx(), e.shop.ID, shop.ModeTest, sub.ID, tok, date("2030-04-05")); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Cancel(e.ctx(), e.shop.ID, shop.ModeTest, sub.ID, tok, date("2030-05-15"))
		if err != nil || !got.CancelDate.Equal(date("2030-05-15")) {
			t.Fatalf("second Cancel = %+v, %v", got, err)
		}
		e.clk.Set(date("2030-04-10").Add(9 * time.Hour))
		e.run(1)
		e.clk.Set(date("2030-07-01"))
		e.run(1)
		if got := dueDates(e.instalments(sub)); got != "2030-03-10 2030-04-10 2030-05-10" {
			t.Fatalf("due dates %s", got)
		}
	})
}
