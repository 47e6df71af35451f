package subscription

import (
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

func dueDates(is []Instalment) string {
	s := make([]string, len(is))
	for i, x := range is {
		s[i] = x.DueAt.Format("2006-01-02")
	}
	return strings.Join(s, " ")
}

// A monthly subscription under a clock that jumps a month, then two at
// once, then past its end: each instalment is charged once, with
// initialAmount for the first ones, an IPN each, and COUNT honoured.
func TestMonthlyInstalmentsUnderJumpingClock(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		sub := e.create(CreateInput{Amount: 1000, PaymentMethodToken: tok, RRule: "RRULE:FREQ=MONTHLY;COUNT=4",
			OrderID: "sub-order-1", InitialAmount: ptr(int64(500)), InitialAmountNumber: 2,
			Metadata: map[string]string{"plan": "gold"}, Description: "Gold plan"})
		if sub.TotalPayments != 4 || !sub.NextDueAt.Equal(date("2030-03-10")) {
			t.Fatalf("created %+v", sub)
		}
		e.run(1) // effectDate is today: the first instalment is due at once
		e.run(0)
		e.clk.Set(t0.AddDate(0, 1, 0))
		e.run(1)
		e.run(0)
		e.clk.Set(t0.AddDate(0, 3, 0)) // two months at once: May and June
		e.run(2)
		e.clk.Set(t0.AddDate(1, 0, 0))
		e.run(0) // COUNT=4 reached

		is := e.instalments(sub)
		if got := dueDates(is); got != "2030-03-10 2030-04-10 2030-05-10 2030-06-10" {
			t.Fatalf("due dates %s", got)
		}
		for i, x := range is {
			want := int64(1000)
			if i < 2 {
				want = 500
			}
			if x.Sequence != i+1 || x.Status != store.InstalmentPaid || x.Amount != want || x.Attempts != 1 || x.PaymentID == "" {
				t.Fatalf("instalment %d: %+v", i+1, x)
			}
			p, tx, err := e.pay.Get(e.ctx(), e.shop.ID, x.TransactionUUID)
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != x.PaymentID || tx.Amount != want || tx.DetailedStatus != payment.Authorised || p.OrderID != "sub-order-1" ||
				p.FormAction != payment.ActionSilent || tx.Token != tok || tx.Metadata["plan"] != "gold" || p.Options.SubscriptionID != sub.ID {
				t.Fatalf("payment of instalment %d: %+v %+v", i+1, p, tx)
			}
			ipns := e.ipns(p.ID)
			if len(ipns) != 1 || ipns[0].Event != "payment.accepted" || ipns[0].Target != "https://merchant.example/ipn" {
				t.Fatalf("IPNs of instalment %d: %+v", i+1, ipns)
			}
			var ans map[string]any
			if err := json.Unmarshal([]byte(ipns[0].Payload), &ans); err != nil || ans["_type"] != "V4/Payment" {
				t.Fatalf("IPN payload %s", ipns[0].Payload)
			}
		}
		if as := e.attempts(sub); len(as) != 4 {
			t.Fatalf("%d payments for 4 instalments", len(as))
		}
		if e.sim.Authorizations() != 4 {
			t.Fatalf("%d authorizations", e.sim.Authorizations())
		}
		got := e.get(sub)
		if got.PastPayments != 4 || got.PaidPayments != 4 || got.TotalPayments != 4 || !got.NextDueAt.IsZero() {
			t.Fatalf("subscription %+v", got)
		}
		if ok, err := e.svc.ActiveOnToken(e.ctx(), e.shop.ID, "TEST", tok); err != nil || ok {
			t.Fatalf("a finished subscription is active on its token: %v %v", ok, err)
		}
	})
}

// UNTIL ends the schedule; BYMONTHDAY=-1 keeps to month ends; a clock that
// jumps past everything catches up each instalment once.
func TestUntilAndMonthEnds(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sub := e.create(CreateInput{Amount: 700, PaymentMethodToken: e.token(cardOK),
			RRule: "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1;UNTIL=20300630"})
		if sub.TotalPayments != 4 {
			t.Fatalf("total %d", sub.TotalPayments)
		}
		e.run(0) // March 31 has not come
		e.clk.Set(time.Date(2030, 12, 1, 0, 0, 0, 0, time.UTC))
		e.run(4)
		e.run(0)
		if got := dueDates(e.instalments(sub)); got != "2030-03-31 2030-04-30 2030-05-31 2030-06-30" {
			t.Fatalf("due dates %s", got)
		}
		if e.sim.Authorizations() != 4 || e.get(sub).PastPayments != 4 {
			t.Fatal("not every instalment was charged once")
		}
	})
}

// A refused instalment is tried again 1, 3 and 7 days after its due date,
// then FAILED; the subscription goes on with the next instalment.
func TestRefusedInstalmentRetryPolicy(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sub := e.create(CreateInput{Amount: 990, PaymentMethodToken: e.token(cardSubRefused), RRule: "FREQ=MONTHLY;COUNT=2"})
		// The first attempt is made at 09:00 on the due date; the retries
		// keep that rhythm: 1, 3 and 7 days later.
		steps := []struct {
			at      time.Time
			charged int
		}{
			{t0, 1},                        // due date: refused
			{t0.Add(24*time.Hour - 1), 0},  // not yet
			{t0.Add(24 * time.Hour), 1},    // +1 day
			{t0.Add(72*time.Hour - 1), 0},  // not yet
			{t0.Add(72 * time.Hour), 1},    // +3 days
			{t0.Add(168*time.Hour - 1), 0}, // not yet
			{t0.Add(168 * time.Hour), 1},   // +7 days: the last one
			{t0.Add(600 * time.Hour), 0},   // FAILED: no more
		}
		for _, st := range steps {
			e.clk.Set(st.at)
			e.run(st.charged)
		}
		is := e.instalments(sub)
		if len(is) != 1 || is[0].Status != store.InstalmentFailed || is[0].Attempts != 4 || is[0].Refusals != 4 ||
			is[0].ErrorCode != payment.CodeRefused || !strings.HasPrefix(is[0].ErrorDetail, "61") {
			t.Fatalf("instalments %+v", is)
		}
		as := e.attempts(sub)
		if len(as) != 4 {
			t.Fatalf("%d attempts", len(as))
		}
		for _, a := range as {
			ipns := e.ipns(a.PaymentID)
			if len(ipns) != 1 || ipns[0].Event != "payment.refused" {
				t.Fatalf("IPNs of attempt %d: %+v", a.Attempt, ipns)
			}
		}
		if e.sim.Authorizations() != 0 {
			t.Fatal("a refused card was authorized")
		}
		got := e.get(sub)
		if got.PastPayments != 1 || got.PaidPayments != 0 {
			t.Fatalf("subscription %+v", got)
		}
		// The next instalment comes on its date, late attempts keep their
		// spacing: after a stop, retries are not all made at once.
		e.clk.Set(date("2030-04-20"))
		e.run(1)
		e.run(0)
		is = e.instalments(sub)
		if len(is) != 2 || is[1].Status != store.InstalmentDue || !is[1].NextAttemptAt.Equal(date("2030-04-21")) {
			t.Fatalf("second instalment %+v", is[1])
		}
	})
}

// Technical failures (the acquirer cannot be reached) are tried again an
// hour later, up to MaxTechnical; an unknown outcome (timeout) is settled
// from the payment once recovery has asked the acquirer.
func TestTechnicalFailuresAndUnknownOutcome(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, _, e.svc = e.copyOn(db, Config{Retry: RetryPolicy{Refused: []time.Duration{24 * time.Hour}, Technical: time.Hour, MaxTechnical: 2}})
		down := e.create(CreateInput{Amount: 100, PaymentMethodToken: e.token(cardUnavailable), RRule: "FREQ=MONTHLY;COUNT=1"})
		e.run(1)
		is := e.instalments(down)
		if is[0].Status != store.InstalmentDue || !is[0].NextAttemptAt.Equal(t0.Add(time.Hour)) || is[0].ErrorCode != payment.CodeAcquirerError {
			t.Fatalf("after a technical failure %+v", is[0])
		}
		e.clk.Set(t0.Add(time.Hour))
		e.run(1)
		if is = e.instalments(down); is[0].Status != store.InstalmentFailed || is[0].Attempts != 2 || is[0].Refusals != 0 {
			t.Fatalf("after MaxTechnical failures %+v", is[0])
		}

		slow := e.create(CreateInput{Amount: 200, PaymentMethodToken: e.token(cardTimeout), RRule: "FREQ=MONTHLY;COUNT=1"})
		e.run(1)
		is = e.instalments(slow)
		if is[0].Status != store.InstalmentCharging || is[0].PaymentID == "" {
			t.Fatalf("unknown outcome %+v", is[0])
		}
		e.run(0) // the claim holds: nothing is charged again
		e.clk.Advance(2 * time.Minute)
		e.run(0) // the payment is still RUNNING: the claim is renewed
		if is = e.instalments(slow); is[0].Status != store.InstalmentCharging {
			t.Fatalf("settled before recovery %+v", is[0])
		}
		if n, err := e.pay.RecoverRunning(e.ctx(), 0, 10); err != nil || n != 1 {
			t.Fatalf("RecoverRunning = %d, %v", n, err)
		}
		e.clk.Advance(2 * time.Minute)
		e.run(0)
		if is = e.instalments(slow); is[0].Status != store.InstalmentPaid || is[0].Attempts != 1 {
			t.Fatalf("after recovery %+v", is[0])
		}
		if len(e.attempts(slow)) != 1 || e.sim.Authorizations() != 1 {
			t.Fatal("the slow instalment was charged more than once")
		}
	})
}

// A run at shutdown (stop closed while it settles the stale instalments it
// claimed) settles them all, then claims no instalment due for an attempt:
// no charge starts after SIGTERM, the next run makes it. Stop is closed
// before the run: the run cannot tell that from a stop closed after its
// first claim.
func TestChargeDueUntilStopClaimsNoDueInstalment(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		slow := e.create(CreateInput{Amount: 200, PaymentMethodToken: e.token(cardTimeout), RRule: "FREQ=MONTHLY;COUNT=1"})
		e.run(1)
		if is := e.instalments(slow); is[0].Status != store.InstalmentCharging {
			t.Fatalf("unknown outcome %+v, want CHARGING", is[0])
		}
		e.clk.Advance(2 * time.Minute) // its claim has expired: stale
		due := e.create(CreateInput{Amount: 300, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=1"})

		stop := make(chan struct{})
		close(stop)
		if n, err := e.svc.ChargeDueUntil(e.ctx(), stop, 100); err != nil || n != 0 {
			t.Fatalf("stopped ChargeDueUntil = %d, %v; want 0, nil", n, err)
		}
		// The stale instalment was claimed (its claim renewed while its
		// payment is RUNNING): none is stale now.
		if stale, err := db.ClaimStaleCharging(e.ctx(), e.clk.Now(), time.Minute, 100); err != nil || len(stale) != 0 {
			t.Fatalf("stale instalments after the stopped run: %d (%v), want 0: the run did not claim it", len(stale), err)
		}
		is := e.instalments(due)
		if len(is) != 1 || is[0].Status != store.InstalmentDue || is[0].Attempts != 0 || e.sim.Authorizations() != 1 {
			t.Fatalf("after the stopped run the due instalment is %+v (%d authorizations): charged after stop, want left DUE",
				is, e.sim.Authorizations())
		}
		e.run(1)
		if is := e.instalments(due); is[0].Status != store.InstalmentPaid || is[0].Attempts != 1 {
			t.Fatalf("after the next run %+v, want PAID", is[0])
		}
	})
}

// Cancellation stops future instalments and pending retries; a termination
// date lets the instalments before it go on; Token/Cancel stops every
// subscription on the token.
func TestCancelStops(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		sub := e.create(CreateInput{Amount: 300, PaymentMethodToken: tok, RRule: "FREQ=MONTHLY"})
		e.run(1)
		if ok, _ := e.svc.ActiveOnToken(e.ctx(), e.shop.ID, "TEST", tok); !ok {
			t.Fatal("no active subscription on the token")
		}
		got, err := e.svc.Cancel(e.ctx(), e.shop.ID, "TEST", sub.ID, tok, time.Time{})
		if err != nil || !got.CancelDate.Equal(t0) || got.PastPayments != 1 {
			t.Fatalf("Cancel = %+v, %v", got, err)
		}
		_, err = e.svc.Cancel(e.ctx(), e.shop.ID, "TEST", sub.ID, tok, time.Time{})
		wantCode(t, err, "PSP_033")
		e.clk.Set(t0.AddDate(0, 3, 0))
		e.run(0)
		if n := len(e.instalments(sub)); n != 1 {
			t.Fatalf("%d instalments after cancellation", n)
		}
		if ok, _ := e.svc.ActiveOnToken(e.ctx(), e.shop.ID, "TEST", tok); ok {
			t.Fatal("a cancelled subscription is active on its token")
		}

		// A refused instalment waiting for its retry is cancelled too.
		e.clk.Set(t0)
		bad := e.create(CreateInput{Amount: 300, PaymentMethodToken: e.token(cardSubRefused), RRule: "FREQ=MONTHLY"})
		e.run(1)
		if _, err := e.svc.Cancel(e.ctx(), e.shop.ID, "TEST", bad.ID, bad.Token, time.Time{}); err != nil {
			t.Fatal(err)
		}
		e.clk.Set(t0.AddDate(0, 0, 10))
		e.run(0)
		if is := e.instalments(bad); len(is) != 1 || is[0].Status != store.InstalmentCancelled || is[0].Attempts != 1 {
			t.Fatalf("instalments of the cancelled subscription %+v", is)
		}

		// With a termination date, what is due before it is charged.
		e.clk.Set(t0)
		later := e.create(CreateInput{Amount: 400, PaymentMethodToken: tok, RRule: "FREQ=MONTHLY"})
		end := t0.AddDate(0, 1, 15)
		got, err = e.svc.Cancel(e.ctx(), e.shop.ID, "TEST", later.ID, tok, end)
		if err != nil || !got.CancelDate.Equal(end) || got.Cancelled(e.clk.Now()) {
			t.Fatalf("Cancel with termination date = %+v, %v", got, err)
		}
		e.run(1)
		e.clk.Set(t0.AddDate(0, 4, 0))
		e.run(1) // April 10 only
		if n := len(e.instalments(later)); n != 2 {
			t.Fatalf("%d instalments before the termination date", n)
		}

		// Token/Cancel: every subscription of the token stops.
		now := e.clk.Now()
		a := e.create(CreateInput{Amount: 500, PaymentMethodToken: tok, RRule: "FREQ=WEEKLY", EffectDate: now.AddDate(0, 0, 1)})
		b := e.create(CreateInput{Amount: 600, PaymentMethodToken: tok, RRule: "FREQ=DAILY", EffectDate: now.AddDate(0, 0, 2)})
		if n, err := e.svc.CancelForToken(e.ctx(), e.shop.ID, "TEST", tok); err != nil || n != 2 {
			t.Fatalf("CancelForToken = %d, %v", n, err)
		}
		if n, err := e.svc.CancelForToken(e.ctx(), e.shop.ID, "TEST", tok); err != nil || n != 0 {
			t.Fatalf("second CancelForToken = %d, %v", n, err)
		}
		e.clk.Set(now.AddDate(0, 1, 0))
		e.run(0)
		if len(e.instalments(a))+len(e.instalments(b)) != 0 {
			t.Fatal("a subscription of a cancelled token was charged")
		}
		if ok, _ := e.svc.ActiveOnToken(e.ctx(), e.shop.ID, "TEST", tok); ok {
			t.Fatal("a token with only cancelled subscriptions is active")
		}
	})
}

// The 15-month retention purge leaves the card of a subscription that has
// instalments to come, however long since its last use (a subscription
// every two years, or one starting more than 15 months ahead): purged, it
// failed every later instalment with PSP_036. Once the subscription is
// over, the card is purged as any other.
func TestRetentionKeepsSubscriptionCards(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		biennial := e.create(CreateInput{Amount: 100, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=YEARLY;INTERVAL=2;COUNT=2"})
		later := e.create(CreateInput{Amount: 200, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=1",
			EffectDate: t0.AddDate(0, 20, 0)})
		unused := e.token(cardOK)
		e.run(1)
		for m := 1; m <= 25; m++ {
			e.clk.Set(t0.AddDate(0, m, 0))
			if _, err := e.vault.PurgeRetention(e.ctx(), vault.PurgeOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.ChargeDue(e.ctx(), 10); err != nil {
				t.Fatal(err)
			}
		}
		for _, sub := range []Subscription{biennial, later} {
			for _, x := range e.instalments(sub) {
				if x.Status != store.InstalmentPaid {
					t.Fatalf("instalment %d of %s: %+v", x.Sequence, sub.RRule, x)
				}
			}
		}
		if n := len(e.instalments(biennial)) + len(e.instalments(later)); n != 3 {
			t.Fatalf("%d instalments, want 3", n)
		}
		if tk, _ := e.vault.Get(e.ctx(), e.shop.ID, "TEST", unused); tk.StatusAt(e.clk.Now()) != vault.StatusPurged {
			t.Fatalf("a token without subscription was kept: %s", tk.Status)
		}
		e.clk.Set(t0.AddDate(0, 20+16, 0))
		if n, err := e.vault.PurgeRetention(e.ctx(), vault.PurgeOptions{}); err != nil || n != 1 {
			t.Fatalf("PurgeRetention after the subscriptions ended = %d, %v; want the card of the finished one", n, err)
		}
	})
}

// A refusal the issuer will never turn into an approval (lost or stolen
// card, expired card: the saved expiry does not change) fails the
// instalment at once: retrying such codes is what the card schemes forbid
// and charge for. A refusal that may pass later (insufficient funds) keeps
// its retries.
func TestHardDeclineIsNotRetried(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		hard := map[string]string{"4970109900000032": "41", "4970109900000040": "43", "4970109900000024": "54"}
		var subs []Subscription
		for pan := range hard {
			subs = append(subs, e.create(CreateInput{Amount: 100, PaymentMethodToken: e.token(pan), RRule: "FREQ=MONTHLY;COUNT=1"}))
		}
		soft := e.create(CreateInput{Amount: 100, PaymentMethodToken: e.token("4970109900000016"), RRule: "FREQ=MONTHLY;COUNT=1"})
		e.run(4)
		retries := 0
		for d := 1; d <= 10; d++ {
			e.clk.Set(t0.AddDate(0, 0, d))
			n, err := e.svc.ChargeDue(e.ctx(), 100)
			if err != nil {
				t.Fatal(err)
			}
			retries += n
		}
		if retries != 3 { // those of the insufficient funds only
			t.Fatalf("%d retries, want 3", retries)
		}
		for _, sub := range subs {
			is := e.instalments(sub)
			if len(is) != 1 || is[0].Status != store.InstalmentFailed || is[0].Attempts != 1 || is[0].Refusals != 1 {
				t.Fatalf("hard decline: %+v", is)
			}
		}
		if is := e.instalments(soft); is[0].Attempts != 4 || is[0].Status != store.InstalmentFailed {
			t.Fatalf("insufficient funds: %+v", is)
		}
	})
}

// An instalment whose date has come is owed even when the scheduler has
// not created it yet (it was stopped): an Update that replaces the
// schedule then first creates it under the rule it fell under, instead of
// dropping it with the old schedule.
func TestUpdateKeepsInstalmentsAlreadyDue(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tok := e.token(cardOK)
		sub := e.create(CreateInput{Amount: 1000, PaymentMethodToken: tok, RRule: "FREQ=MONTHLY;COUNT=3"})
		e.run(1)
		e.clk.Set(date("2030-04-12").Add(9 * time.Hour)) // April 10 has come; the scheduler was stopped
		got, err := e.svc.Update(e.ctx(), e.shop, e.creds, UpdateInput{SubscriptionID: sub.ID, PaymentMethodToken: tok,
			Amount: 1200, Currency: "EUR", EffectDate: e.clk.Now(), RRule: "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=2"})
		if err != nil {
			t.Fatal(err)
		}
		if got.TotalPayments != 4 {
			t.Fatalf("totalPaymentsNumber %d, want 4 (2 of the first rule, 2 of the new one)", got.TotalPayments)
		}
		e.clk.Set(date("2030-05-20"))
		e.run(3)
		is := e.instalments(sub)
		if d := dueDates(is); d != "2030-03-10 2030-04-10 2030-04-15 2030-05-15" {
			t.Fatalf("due dates %s", d)
		}
		if is[1].Amount != 1000 || is[2].Amount != 1200 {
			t.Fatalf("amounts %d %d: the instalment due before the update keeps the amount of its time", is[1].Amount, is[2].Amount)
		}
	})
}

// A technical failure before any payment (the shop cannot be read) counts
// toward MaxTechnical like one after a payment: the instalment fails in
// the end instead of being charged again every hour forever. Its failure
// commits with the merchant's notice: while the shop cannot be read, the
// failure waits (no payment is tried), and is recorded with its notice
// once it can.
func TestTechnicalFailuresBeforePaymentCount(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		_, _, e.svc = e.copyOn(db, Config{Retry: RetryPolicy{Refused: []time.Duration{24 * time.Hour}, Technical: time.Hour, MaxTechnical: 2}})
		sub := e.create(CreateInput{Amount: 100, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=1"})
		if err := db.Write(e.ctx(), func(tx *sql.Tx) error {
			_, err := tx.Exec(`UPDATE shops SET settings = 'not json' WHERE id = $1`, e.shop.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		e.run(0)
		if is := e.instalments(sub); is[0].Status != store.InstalmentDue || !is[0].NextAttemptAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("after a technical failure %+v", is[0])
		}
		for i := 1; i <= 5; i++ {
			e.clk.Set(t0.Add(time.Duration(i) * time.Hour))
			e.run(0)
		}
		if is := e.instalments(sub); is[0].Status != store.InstalmentDue || is[0].Attempts != 0 || countNotices(t, db, sub) != 0 {
			t.Fatalf("after MaxTechnical failures before payment, the shop unreadable %+v", is[0])
		}
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		e.clk.Set(t0.Add(6 * time.Hour))
		e.run(0) // the failure, not a payment
		if is := e.instalments(sub); is[0].Status != store.InstalmentFailed || is[0].Attempts != 0 ||
			is[0].ErrorCode != errs.Internal || countNotices(t, db, sub) != 1 {
			t.Fatalf("after MaxTechnical failures before payment %+v", is[0])
		}
	})
}
