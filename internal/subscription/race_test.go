package subscription

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// twoHandles opens two handles on one database: two openpsp copies. On
// SQLite they share the file, on PostgreSQL the server.
func twoHandles(t *testing.T, engine string) (*store.DB, *store.DB) {
	t.Helper()
	opts := store.Options{SQLitePath: filepath.Join(t.TempDir(), "openpsp.db")}
	if engine == "postgres" {
		opts = store.Options{URL: storetest.NewPostgresDatabase(t), PostgresConns: 6}
	}
	var dbs [2]*store.DB
	for i := range dbs {
		db, err := store.Open(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		dbs[i] = db
	}
	return dbs[0], dbs[1]
}

// Schedulers race: two goroutines on each of two copies (two database
// handles, two payment and subscription services) run ChargeDue at once,
// month after month. Every instalment is charged exactly once.
func TestRacingSchedulers(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			db1, db2 := twoHandles(t, engine)
			e := newEnv(t, db1)
			_, _, other := e.copyOn(db2, Config{})
			const subs, months = 6, 3
			var all []Subscription
			for i := 0; i < subs; i++ {
				all = append(all, e.create(CreateInput{Amount: int64(100 + i), PaymentMethodToken: e.token(cardOK),
					RRule: "FREQ=MONTHLY;COUNT=3", InitialAmount: ptr(int64(50)), InitialAmountNumber: 1}))
			}
			var charged atomic.Int64
			for m := 0; m < months; m++ {
				e.clk.Set(t0.AddDate(0, m, 0))
				var wg sync.WaitGroup
				for _, svc := range []*Service{e.svc, e.svc, other, other} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < 4; i++ {
							n, err := svc.ChargeDue(context.Background(), 2)
							if err != nil {
								t.Error(err)
								return
							}
							charged.Add(int64(n))
						}
					}()
				}
				wg.Wait()
				for { // whatever the race left
					n, err := e.svc.ChargeDue(context.Background(), 100)
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						break
					}
					charged.Add(int64(n))
				}
			}
			if got := charged.Load(); got != subs*months {
				t.Fatalf("%d payments made, want %d", got, subs*months)
			}
			for i, sub := range all {
				is := e.instalments(sub)
				if len(is) != months {
					t.Fatalf("subscription %d: %d instalments", i, len(is))
				}
				for _, x := range is {
					want := sub.Amount
					if x.Sequence == 1 {
						want = 50
					}
					if x.Status != store.InstalmentPaid || x.Attempts != 1 || x.Amount != want {
						t.Fatalf("subscription %d: instalment %+v", i, x)
					}
				}
				if as := e.attempts(sub); len(as) != months {
					t.Fatalf("subscription %d: %d payments", i, len(as))
				}
			}
			var payments int
			if err := db1.Reader().QueryRow(`SELECT COUNT(*) FROM payments`).Scan(&payments); err != nil || payments != subs*months {
				t.Fatalf("%d payments stored (%v)", payments, err)
			}
			if e.sim.Authorizations() != subs*months {
				t.Fatalf("%d authorizations, want %d", e.sim.Authorizations(), subs*months)
			}
		})
	}
}

// A copy whose claim expired (it was stalled) finds, when it finally
// charges, that another copy took the instalment over: it makes no
// payment.
func TestExpiredClaimIsNotCharged(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sub := e.create(CreateInput{Amount: 800, PaymentMethodToken: e.token(cardOK), RRule: "FREQ=MONTHLY;COUNT=1"})
		if err := e.svc.createDue(e.ctx(), e.clk.Now(), 10); err != nil {
			t.Fatal(err)
		}
		stalled, err := db.ClaimInstalments(e.ctx(), e.clk.Now(), time.Minute, 10)
		if err != nil || len(stalled) != 1 {
			t.Fatalf("claim: %v, %d", err, len(stalled))
		}
		e.run(0) // the claim holds
		e.clk.Advance(2 * time.Minute)
		taken, err := db.ClaimInstalments(e.ctx(), e.clk.Now(), time.Minute, 10)
		if err != nil || len(taken) != 1 || taken[0].ClaimID == stalled[0].ClaimID {
			t.Fatalf("claim after expiry: %v, %+v", err, taken)
		}
		if e.svc.charge(e.ctx(), stalled[0]) {
			t.Fatal("the stalled copy charged with an expired claim")
		}
		if !e.svc.charge(e.ctx(), taken[0]) {
			t.Fatal("the copy holding the claim did not charge")
		}
		if e.svc.charge(e.ctx(), stalled[0]) || e.svc.charge(e.ctx(), taken[0]) {
			t.Fatal("an instalment was charged again")
		}
		if is := e.instalments(sub); len(is) != 1 || is[0].Status != store.InstalmentPaid || is[0].Attempts != 1 {
			t.Fatalf("instalments %+v", is)
		}
		if len(e.attempts(sub)) != 1 || e.sim.Authorizations() != 1 {
			t.Fatal("charged twice")
		}
	})
}
