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
// LoginLockMax at most. Counts live in each copy's memory: N copies give
// N times the guesses, and a restart forgets them.
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
	if over := c.failures - LoginFailuresBeforeLock; over >= 0 {
		d := LoginLockMax
		if over < 10 && LoginLockFirst<<over < LoginLockMax {
			d = LoginLockFirst << over
		}
		c.lockedUntil = now.Add(d)
	}
	return c.lockedUntil
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
