package obs

import (
	"sync"
	"time"
)

// Brute-force protection of the API logins (V4 Basic auth, DirectLink
// USERID/PSWD).
//
// One login (a shop id, a PSPID) tried from one address with a wrong
// password LoginFailuresBeforeLock times in a row is refused from that
// address, without its password being checked, for LoginLockFirst; each
// further failure after the lock ends doubles the lock, up to
// LoginLockMax. A right password resets the count. The count is by login
// and address together, never by login alone: someone who knows a
// merchant's shop id cannot lock the merchant out by sending wrong
// passwords from elsewhere, only himself. The price is that an attacker
// with many addresses gets LoginFailuresBeforeLock guesses per address and
// lock period, which is nothing against the generated API passwords (24 or
// more random letters and digits): the lock is there to make a guessing
// run slow and loud (every refusal is logged), not to be the only defence.
// Behind a reverse proxy the address is the client's only when
// OPENPSP_TRUSTED_PROXIES names the proxy; otherwise every client shares
// the proxy's address and a login can be locked by anyone for
// LoginLockMax at most.
//
// Shared counts. OpenPSP runs as any number of copies over one database,
// often behind a round-robin balancer: counts kept in each copy's memory
// gave N copies N times the guesses, let a copy miss most failures of a
// run, and were lost at a restart. With a store (FailedLogins.Share; the
// app always shares through its database, table login_failures) the counts
// and locks are the database's:
//
//   - A wrong password is one write (store.LoginFailed): one statement
//     that counts, starts again after loginForget, and decides the lock,
//     so concurrent failures on several copies count exactly. While the
//     key is locked the statement changes nothing and returns the lock.
//   - Each copy keeps a view in memory (the loginGuard) and reads into it,
//     at most once per LoginRefresh (a second), the counts changed since
//     its last read (with loginRefreshOverlap for late commits and clocks
//     a little apart): one read a second per copy whatever the traffic,
//     made by the request that finds the view stale; the others do not
//     wait. Locked answers from the view and never goes to the database.
//     A restarted copy reads the last loginForget at its first login.
//   - A right password writes only when the view knows a failure of that
//     login and address (then it deletes the row): the common path, a
//     payment from a merchant who never mistyped, costs no write and no
//     round trip. A refused attempt writes nothing.
//   - The trade-off is staleness: a lock decided by one copy is unseen by
//     another for up to LoginRefresh. In that time the other copy checks
//     passwords; its first wrong one is written, changes nothing, and
//     brings the lock back, so an attacker gains at most one guess per
//     copy (and per request in flight) per lock. A right password from a
//     copy that has not yet seen a failure of the last second does not
//     reset that failure; a right password seen after it does.
//   - The rows of counts whose last failure is older than loginForget are
//     deleted by the logins.forget job (FailedLogins.Forget, in batches),
//     so the table holds at most an hour of failures; a copy's view stays
//     bounded by maxLoginEntries as before, and a refresh reads at most
//     that many rows.
//   - When the database fails (a write or a read), the guard neither
//     locks everyone out nor opens the door: the copy logs the error
//     (once a minute), keeps the locks its view holds, and counts wrong
//     passwords in its own memory as it did before the counts were
//     shared, until the database answers again.
const (
	LoginFailuresBeforeLock = 10
	LoginLockFirst          = time.Minute
	LoginLockMax            = 15 * time.Minute
	// loginForget is how long a count is kept after its last failure.
	loginForget = time.Hour
	// maxLoginEntries bounds the memory a flood of logins and addresses
	// can take; past it, expired counts are dropped, then arbitrary ones.
	maxLoginEntries = 100000
)

type loginKey struct{ surface, login, remote string }

type loginCount struct {
	failures    int
	lastFailure time.Time
	lockedUntil time.Time
}

// loginGuard counts failed logins by (surface, login, address). Safe for
// concurrent use.
type loginGuard struct {
	mu      sync.Mutex
	entries map[loginKey]*loginCount
	max     int // 0: maxLoginEntries
}

// locked reports whether the key is locked at now, and until when.
func (g *loginGuard) locked(k loginKey, now time.Time) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.entries[k]
	if c == nil || !now.Before(c.lockedUntil) {
		return time.Time{}, false
	}
	return c.lockedUntil, true
}

// fail records a failure at now and returns until when the key is locked
// (zero: not locked).
func (g *loginGuard) fail(k loginKey, now time.Time) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.entries == nil {
		g.entries = map[loginKey]*loginCount{}
	}
	c := g.entries[k]
	if c != nil && now.Sub(c.lastFailure) >= loginForget {
		c = nil
	}
	if c == nil {
		if len(g.entries) >= g.limit() {
			g.prune(now)
		}
		c = &loginCount{}
		g.entries[k] = c
	}
	c.failures++
	c.lastFailure = now
	if d := LoginLockFor(c.failures); d > 0 {
		c.lockedUntil = now.Add(d)
	}
	return c.lockedUntil
}

// LoginLockFor is how long a login is locked at its failures-th failure in
// a row: 0 before LoginFailuresBeforeLock, then LoginLockFirst doubling up
// to LoginLockMax. The store computes the same in SQL (login_failures).
func LoginLockFor(failures int) time.Duration {
	over := failures - LoginFailuresBeforeLock
	if over < 0 {
		return 0
	}
	if over < 10 && LoginLockFirst<<over < LoginLockMax {
		return LoginLockFirst << over
	}
	return LoginLockMax
}

// set replaces the key's count by what the database holds.
func (g *loginGuard) set(k loginKey, failures int, lastFailure, lockedUntil time.Time, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.entries == nil {
		g.entries = map[loginKey]*loginCount{}
	}
	c := g.entries[k]
	if c == nil {
		if len(g.entries) >= g.limit() {
			g.prune(now)
		}
		c = &loginCount{}
		g.entries[k] = c
	}
	c.failures, c.lastFailure, c.lockedUntil = failures, lastFailure, lockedUntil
}

// has reports whether the key has a count not yet forgotten at now.
func (g *loginGuard) has(k loginKey, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.entries[k]
	return c != nil && now.Sub(c.lastFailure) < loginForget
}

// succeed forgets the key's failures.
func (g *loginGuard) succeed(k loginKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.entries, k)
}

// prune drops forgotten counts, then, if that was not enough, any until a
// tenth of the room is free. Called with mu held.
func (g *loginGuard) prune(now time.Time) {
	for k, c := range g.entries {
		if now.Sub(c.lastFailure) >= loginForget {
			delete(g.entries, k)
		}
	}
	for k := range g.entries {
		if len(g.entries) < g.limit()*9/10 {
			break
		}
		delete(g.entries, k)
	}
}

func (g *loginGuard) limit() int {
	if g.max > 0 {
		return g.max
	}
	return maxLoginEntries
}

func (g *loginGuard) size() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.entries)
}
