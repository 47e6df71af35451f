package store_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/obs"
	"github.com/openpsp/openpsp/internal/store"
)

// countingLogins is the real store, counting the calls a FailedLogins makes.
type countingLogins struct {
	*store.DB
	writes, reads atomic.Int64
}

func (c *countingLogins) LoginFailed(ctx context.Context, surface, login, remote string, now time.Time, forget time.Duration) (obs.LoginRecord, error) {
	c.writes.Add(1)
	return c.DB.LoginFailed(ctx, surface, login, remote, now, forget)
}

func (c *countingLogins) LoginSucceeded(ctx context.Context, surface, login, remote string) error {
	c.writes.Add(1)
	return c.DB.LoginSucceeded(ctx, surface, login, remote)
}

func (c *countingLogins) LoginFailuresSince(ctx context.Context, since time.Time, limit int) ([]obs.LoginRecord, error) {
	c.reads.Add(1)
	return c.DB.LoginFailuresSince(ctx, since, limit)
}

// loginCopy is the login guard of one openpsp copy over db.
func loginCopy(db *store.DB, clk clock.Clock) (*obs.FailedLogins, *countingLogins) {
	f := obs.NewFailedLogins(slog.New(slog.NewTextHandler(io.Discard, nil)), clk)
	c := &countingLogins{DB: db}
	f.Share(c)
	return f, c
}

const (
	loginShop = "12345678"
	attacker  = "198.51.100.7"
	merchant  = "203.0.113.9"
)

func failLogin(f *obs.FailedLogins, n int) {
	for range n {
		f.WrongPassword(context.Background(), "v4", loginShop, loginShop, attacker, "wrong password")
	}
}

func isLocked(f *obs.FailedLogins, remote string) bool {
	_, locked := f.Locked(context.Background(), "v4", loginShop, remote)
	return locked
}

// Two copies over one database share the count and the lock: failures
// spread over both (a round-robin balancer) lock the login from that
// address on both, within one refresh period, and the merchant's address
// stays free.
func TestLoginLockSharedByTwoCopies(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func() *store.DB) {
		clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		a, _ := loginCopy(open(), clk)
		b, _ := loginCopy(open(), clk)
		if isLocked(a, attacker) || isLocked(b, attacker) {
			t.Fatal("locked before any failure")
		}
		half := obs.LoginFailuresBeforeLock / 2
		failLogin(a, half)
		failLogin(b, obs.LoginFailuresBeforeLock-half-1)
		if isLocked(a, attacker) || isLocked(b, attacker) {
			t.Fatal("locked before the last failure")
		}
		failLogin(b, 1) // the LoginFailuresBeforeLock-th, counted with a's
		if !isLocked(b, attacker) {
			t.Fatalf("the %d-th failure over two copies did not lock", obs.LoginFailuresBeforeLock)
		}
		clk.Advance(obs.LoginRefresh)
		if !isLocked(a, attacker) {
			t.Fatal("the other copy does not honour the lock after a refresh period")
		}
		if isLocked(a, merchant) || isLocked(b, merchant) {
			t.Fatal("the merchant's address is locked")
		}
		clk.Advance(obs.LoginLockFirst)
		if isLocked(a, attacker) || isLocked(b, attacker) {
			t.Fatal("still locked after the lock")
		}
	})
}

// A restarted copy (a new guard over the same database) keeps the lock.
func TestLoginLockSurvivesRestart(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func() *store.DB) {
		clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		a, _ := loginCopy(open(), clk)
		failLogin(a, obs.LoginFailuresBeforeLock)
		if !isLocked(a, attacker) {
			t.Fatal("not locked")
		}
		restarted, _ := loginCopy(open(), clk)
		if !isLocked(restarted, attacker) {
			t.Fatal("a restart forgot the lock")
		}
	})
}

// A right password with no failure behind it, and a refused attempt while
// locked, write nothing; the view is read once per refresh period, not per
// login.
func TestLoginCommonPathWritesNothing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func() *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		f, c := loginCopy(open(), clk)
		for range 100 {
			if isLocked(f, merchant) {
				t.Fatal("locked")
			}
			f.Succeeded(ctx, "v4", loginShop, merchant)
		}
		if w, r := c.writes.Load(), c.reads.Load(); w != 0 || r != 1 {
			t.Fatalf("100 right logins: %d writes and %d reads, want 0 and 1", w, r)
		}
		failLogin(f, obs.LoginFailuresBeforeLock)
		before := c.writes.Load()
		for range 100 {
			if !isLocked(f, attacker) {
				t.Fatal("not locked")
			}
		}
		if w := c.writes.Load() - before; w != 0 {
			t.Fatalf("100 refusals while locked: %d writes", w)
		}
		// A right password after failures does reset them, once.
		f.WrongPassword(ctx, "v4", loginShop, loginShop, merchant, "typo")
		before = c.writes.Load()
		f.Succeeded(ctx, "v4", loginShop, merchant)
		f.Succeeded(ctx, "v4", loginShop, merchant)
		if w := c.writes.Load() - before; w != 1 {
			t.Fatalf("right password after a failure: %d writes, want 1", w)
		}
		rs, err := c.DB.LoginFailuresSince(ctx, time.Time{}, 100)
		if err != nil || len(rs) != 1 || rs[0].Remote != attacker {
			t.Fatalf("rows %+v %v, want the attacker's only", rs, err)
		}
	})
}

// The forget job deletes the counts an hour after their last failure, and
// keeps the others.
func TestLoginFailuresForgotten(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func() *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		db := open()
		f, _ := loginCopy(db, clk)
		failLogin(f, 3)
		clk.Advance(30 * time.Minute)
		f.WrongPassword(ctx, "v4", loginShop, loginShop, merchant, "typo")
		clk.Advance(31 * time.Minute)
		n, err := f.Forget(ctx)
		if err != nil || n != 1 {
			t.Fatalf("forgot %d (%v), want 1", n, err)
		}
		rs, err := db.LoginFailuresSince(ctx, time.Time{}, 100)
		if err != nil || len(rs) != 1 || rs[0].Remote != merchant {
			t.Fatalf("rows %+v %v, want the merchant's only", rs, err)
		}
	})
}

// With the database gone, a copy neither locks everyone out nor opens the
// door: a lock it knows holds, and failures are counted in its memory and
// lock the login from that address as before the counts were shared.
func TestLoginGuardDatabaseDown(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func() *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		db := open()
		f, _ := loginCopy(db, clk)
		f.WrongPassword(ctx, "v4", loginShop, loginShop, "192.0.2.1", "wrong password")
		failLogin(f, obs.LoginFailuresBeforeLock)
		db.Close()
		clk.Advance(obs.LoginRefresh)
		if !isLocked(f, attacker) {
			t.Fatal("a known lock is lost when the database is down")
		}
		if isLocked(f, merchant) {
			t.Fatal("the merchant is locked out when the database is down")
		}
		for range obs.LoginFailuresBeforeLock - 2 {
			f.WrongPassword(ctx, "v4", loginShop, loginShop, "192.0.2.1", "wrong password")
		}
		if isLocked(f, "192.0.2.1") {
			t.Fatal("locked before the threshold")
		}
		f.WrongPassword(ctx, "v4", loginShop, loginShop, "192.0.2.1", "wrong password")
		if !isLocked(f, "192.0.2.1") {
			t.Fatal("failures are not counted when the database is down")
		}
		f.Succeeded(ctx, "v4", loginShop, merchant)
	})
}

// The count and lock the database keeps follow the policy of the
// in-memory guard: a lock of LoginLockFirst at the LoginFailuresBeforeLock-th
// failure, doubling with each failure after it ends up to LoginLockMax;
// a failure while locked changes nothing; the count starts again after
// the forget period.
func TestLoginFailedLocksLikeTheGuard(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func() *store.DB) {
		ctx := context.Background()
		db := open()
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		fail := func() obs.LoginRecord {
			t.Helper()
			r, err := db.LoginFailed(ctx, "directlink", "PSPID1", attacker, now, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		for i := 1; i < obs.LoginFailuresBeforeLock; i++ {
			if r := fail(); r.Failures != i || !r.LockedUntil.IsZero() {
				t.Fatalf("failure %d: %+v", i, r)
			}
		}
		want := obs.LoginLockFirst
		for range 8 {
			r := fail()
			if got := r.LockedUntil.Sub(now); got != want {
				t.Fatalf("lock of %v at %d failures, want %v", got, r.Failures, want)
			}
			now = now.Add(want / 2)
			if again := fail(); again != r {
				t.Fatalf("a failure while locked changed %+v into %+v", r, again)
			}
			now = r.LockedUntil
			want = min(2*want, obs.LoginLockMax)
		}
		if want != obs.LoginLockMax {
			t.Fatalf("the lock grew to %v only", want)
		}
		now = now.Add(time.Hour)
		if r := fail(); r.Failures != 1 || !r.LockedUntil.IsZero() {
			t.Fatalf("an hour without failures did not forget the count: %+v", r)
		}
	})
}

// Failures sent at once to two copies are all counted: the count is one
// statement, not a read then a write.
func TestLoginFailuresCountedConcurrently(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func() *store.DB) {
		clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		a, _ := loginCopy(open(), clk)
		b, _ := loginCopy(open(), clk)
		copies := []*obs.FailedLogins{a, b}
		var wg sync.WaitGroup
		for i := range obs.LoginFailuresBeforeLock - 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				isLocked(copies[i%2], attacker)
				failLogin(copies[i%2], 1)
			}()
		}
		wg.Wait()
		if isLocked(a, attacker) || isLocked(b, attacker) {
			t.Fatal("locked before the threshold")
		}
		failLogin(a, 1)
		if !isLocked(a, attacker) {
			t.Fatalf("%d concurrent failures and one more did not lock", obs.LoginFailuresBeforeLock-1)
		}
	})
}

// stoppingLogins is the real store; the first purge batch closes stop,
// as the app's shutdown may while a batch is in progress.
type stoppingLogins struct {
	*countingLogins
	stop    chan struct{}
	batches atomic.Int64
}

func (s *stoppingLogins) PurgeLoginFailures(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if s.batches.Add(1) == 1 {
		close(s.stop)
	}
	return s.countingLogins.PurgeLoginFailures(ctx, cutoff, limit)
}

// The forget job ignored the app's shutdown: it deleted batch after batch
// until the backlog was gone. With stop closed during a batch it finishes
// that batch and claims no other, without an error; the rest goes at the
// next run.
func TestLoginFailuresForgetStopsAfterTheBatchInProgress(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func() *store.DB) {
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		db := open()
		// More than two batches (5,000 rows each) of counts an hour old.
		const backlog = 10_003
		if _, err := db.Writer().Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
			INSERT INTO login_failures (surface, login, remote, failures, last_failure)
			SELECT 'v4', 'shop', 'r' || i, 1, $2 FROM n`, backlog, store.Micros(clk.Now())); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Hour)
		f, c := loginCopy(db, clk)
		s := &stoppingLogins{countingLogins: c, stop: make(chan struct{})}
		f.Share(s)
		n, err := f.ForgetUntil(ctx, s.stop)
		if err != nil || n != 5000 || s.batches.Load() != 1 {
			t.Fatalf("forget with stop closed in its first batch: %d forgotten in %d batches (%v), want 5000 in 1", n, s.batches.Load(), err)
		}
		if n, err := f.Forget(ctx); err != nil || n != backlog-5000 {
			t.Fatalf("the next run: %d %v, want %d", n, err, backlog-5000)
		}
	})
}
