package obs

import (
	"fmt"
	"testing"
	"time"
)

// The lock starts at LoginLockFirst on the LoginFailuresBeforeLock-th
// failure, doubles with each failure after it ends, stops at LoginLockMax,
// is forgotten an hour after the last failure, and belongs to one login
// from one address.
func TestLoginGuardLocks(t *testing.T) {
	var g loginGuard
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	k := loginKey{"v4", "12345678", "198.51.100.7"}
	for i := 1; i < LoginFailuresBeforeLock; i++ {
		if until := g.fail(k, now); !until.IsZero() {
			t.Fatalf("locked after %d failures", i)
		}
	}
	want := LoginLockFirst
	for range 8 {
		until := g.fail(k, now)
		if got := until.Sub(now); got != want {
			t.Fatalf("lock of %v, want %v", got, want)
		}
		if _, ok := g.locked(k, now); !ok {
			t.Fatal("not locked")
		}
		if _, ok := g.locked(loginKey{"v4", "12345678", "203.0.113.9"}, now); ok {
			t.Fatal("another address is locked")
		}
		if _, ok := g.locked(loginKey{"directlink", "12345678", "198.51.100.7"}, now); ok {
			t.Fatal("another surface is locked")
		}
		now = until
		if _, ok := g.locked(k, now); ok {
			t.Fatal("still locked when the lock ends")
		}
		want = min(2*want, LoginLockMax)
	}
	if want != LoginLockMax {
		t.Fatalf("the lock grew to %v only", want)
	}
	now = now.Add(loginForget)
	if until := g.fail(k, now); !until.IsZero() {
		t.Fatal("an hour without failures did not forget the count")
	}
	g.succeed(k)
	if g.size() != 0 {
		t.Fatal("success kept the count")
	}
}

// A flood of logins and addresses cannot grow the counts without bound.
func TestLoginGuardIsBounded(t *testing.T) {
	g := loginGuard{max: 100}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		g.fail(loginKey{"v4", fmt.Sprint(i), "198.51.100.7"}, now)
		if g.size() > 100 {
			t.Fatalf("%d counts kept", g.size())
		}
	}
}
