package obs

import (
	"context"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/clock"
)

// FailedLogins logs rejected API credentials at WARN: the API surface, the
// login as sent (clipped), the remote address, never the password. A flood
// of bad logins is limited to LoginLogBurst lines a minute, the next line
// telling how many were held back. One is shared by every surface of an
// app.
type FailedLogins struct {
	log   *slog.Logger
	clock clock.Clock
	lim   LogLimiter
	guard loginGuard // the whole view of this copy; with a store, a cache of it

	store LoginStore // nil: counts in this copy's memory only
	dbLim LogLimiter // the store's errors

	mu          sync.Mutex
	refreshedAt time.Time // when the view was last read from the store; zero: never
	refreshing  bool
}

// LoginRecord is the count of one surface, login and address as the
// store holds it. LockedUntil is zero when not locked.
type LoginRecord struct {
	Surface, Login, Remote   string
	Failures                 int
	LastFailure, LockedUntil time.Time
}

// LoginStore holds the counts shared by every copy (store.DB).
type LoginStore interface {
	// LoginFailed counts a failure at now (a count whose last failure is
	// forget old starts again) and returns the count; while locked it
	// changes nothing and returns the lock.
	LoginFailed(ctx context.Context, surface, login, remote string, now time.Time, forget time.Duration) (LoginRecord, error)
	// LoginSucceeded deletes the count.
	LoginSucceeded(ctx context.Context, surface, login, remote string) error
	// LoginFailuresSince returns up to limit counts whose last failure
	// is at or after since.
	LoginFailuresSince(ctx context.Context, since time.Time, limit int) ([]LoginRecord, error)
	// PurgeLoginFailures deletes up to limit counts whose last failure
	// is before cutoff.
	PurgeLoginFailures(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

const (
	// LoginRefresh is how often a copy reads the failures the other
	// copies recorded: the most a lock decided elsewhere goes unseen.
	LoginRefresh = time.Second
	// loginRefreshOverlap is how far back before the last refresh a
	// refresh reads again: failures committed late (a batch of the group
	// commit) or stamped by a copy whose clock is behind.
	loginRefreshOverlap = 10 * time.Second
	// loginRefreshTimeout bounds the refresh a request waits for when the
	// database does not answer.
	loginRefreshTimeout = time.Second
)

// Share makes f keep its counts in st, shared by every copy over the same
// database: call it before f is used.
func (f *FailedLogins) Share(st LoginStore) { f.store = st }

// LoginLogBurst is how many failed logins a minute are logged one by one.
const LoginLogBurst = 20

// NewFailedLogins returns a FailedLogins logging to log (nil: slog.Default)
// on clk (nil: the wall clock).
func NewFailedLogins(log *slog.Logger, clk clock.Clock) *FailedLogins {
	if log == nil {
		log = slog.Default()
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &FailedLogins{log: log, clock: clk, lim: LogLimiter{Burst: LoginLogBurst}}
}

// Failed logs one rejected login on surface ("v4", "directlink" …) by
// login from remote; reason says what was wrong ("no credentials",
// "wrong login or password"), never with the password. A nil
// FailedLogins logs nothing.
func (f *FailedLogins) Failed(ctx context.Context, surface, login, remote, reason string) {
	if f == nil {
		return
	}
	f.log1(ctx, surface, login, remote, reason)
}

func (f *FailedLogins) log1(ctx context.Context, surface, login, remote, reason string, extra ...any) {
	ok, held, _ := f.lim.Allow(f.clock.Now())
	if !ok {
		return
	}
	attrs := []any{"surface", surface, "login", clip(login, 64), "remote", remote, "reason", reason}
	attrs = append(attrs, extra...)
	if held > 0 {
		attrs = append(attrs, "held_back", held)
	}
	f.log.WarnContext(ctx, "API login failed", attrs...)
}

// Locked reports whether login may not be tried from remote on surface now
// (see LoginFailuresBeforeLock), and how long until it may: the caller
// refuses the attempt without checking its password, and calls Refused. A
// nil FailedLogins locks nothing.
func (f *FailedLogins) Locked(ctx context.Context, surface, login, remote string) (retryAfter time.Duration, locked bool) {
	if f == nil {
		return 0, false
	}
	now := f.clock.Now()
	f.refresh(ctx, now)
	until, ok := f.guard.locked(loginKey{surface, clip(login, 64), remote}, now)
	if !ok {
		return 0, false
	}
	return until.Sub(now), true
}

// Refused logs an attempt refused because its login is locked, under the
// same limit on log lines as Failed.
func (f *FailedLogins) Refused(ctx context.Context, surface, login, remote string, retryAfter time.Duration) {
	if f == nil {
		return
	}
	f.log1(ctx, surface, login, remote, "locked after repeated failures", "retry_after_s", int(retryAfter.Round(time.Second)/time.Second))
}

// WrongPassword counts a wrong password of login (the account: shop id,
// PSPID) from remote towards its lock, then logs it as Failed does with
// who as the login shown (which may add the user: "PSPID/USERID").
func (f *FailedLogins) WrongPassword(ctx context.Context, surface, login, who, remote, reason string) {
	if f == nil {
		return
	}
	k := loginKey{surface, clip(login, 64), remote}
	now := f.clock.Now()
	var until time.Time
	if f.store != nil {
		r, err := f.store.LoginFailed(ctx, k.surface, k.login, k.remote, now, loginForget)
		if err == nil {
			f.guard.set(k, r.Failures, r.LastFailure, r.LockedUntil, now)
			until = r.LockedUntil
		} else {
			f.storeError(ctx, "count a failed login", err)
			until = f.guard.fail(k, now)
		}
	} else {
		until = f.guard.fail(k, now)
	}
	if until.After(now) {
		f.log1(ctx, surface, who, remote, reason, "locked_until", until)
		return
	}
	f.log1(ctx, surface, who, remote, reason)
}

// Succeeded forgets the failures of login from remote: a merchant who
// mistyped its password a few times starts again from zero.
func (f *FailedLogins) Succeeded(ctx context.Context, surface, login, remote string) {
	if f == nil {
		return
	}
	k := loginKey{surface, clip(login, 64), remote}
	// The common path: no failure known, nothing to write.
	if !f.guard.has(k, f.clock.Now()) {
		return
	}
	if f.store != nil {
		if err := f.store.LoginSucceeded(ctx, k.surface, k.login, k.remote); err != nil {
			f.storeError(ctx, "forget failed logins", err)
		}
	}
	f.guard.succeed(k)
}

// refresh reads into f's view the failures recorded since the last refresh
// by every copy, at most once per LoginRefresh: one request of the copy
// a second makes the query, the others go on with the view as it is.
func (f *FailedLogins) refresh(ctx context.Context, now time.Time) {
	if f.store == nil {
		return
	}
	f.mu.Lock()
	last := f.refreshedAt
	if d := now.Sub(last); f.refreshing || (!last.IsZero() && d >= 0 && d < LoginRefresh) {
		f.mu.Unlock()
		return
	}
	f.refreshing = true
	// Set before the query: a database that does not answer is asked
	// again one period later, not by every request.
	f.refreshedAt = now
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.refreshing = false
		f.mu.Unlock()
	}()
	since := now.Add(-loginForget)
	if !last.IsZero() && last.Add(-loginRefreshOverlap).After(since) {
		since = last.Add(-loginRefreshOverlap)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loginRefreshTimeout)
	defer cancel()
	rs, err := f.store.LoginFailuresSince(ctx, since, f.guard.limit())
	if err != nil {
		f.storeError(ctx, "read failed logins", err)
		return
	}
	for _, r := range rs {
		f.guard.set(loginKey{r.Surface, r.Login, r.Remote}, r.Failures, r.LastFailure, r.LockedUntil, now)
	}
}

// Forget deletes from the store the counts whose last failure is older
// than the forget period, in batches until none is left.
func (f *FailedLogins) Forget(ctx context.Context) (int, error) { return f.ForgetUntil(ctx, nil) }

// ForgetUntil is Forget that also ends when stop closes (nil: never), as
// payment.CaptureAllDueUntil does: the batch in progress is deleted, then
// no batch starts (the next run takes the rest). The periodic job runs it
// and stops so at the app's shutdown.
func (f *FailedLogins) ForgetUntil(ctx context.Context, stop <-chan struct{}) (int, error) {
	if f == nil || f.store == nil {
		return 0, nil
	}
	cutoff := f.clock.Now().Add(-loginForget)
	done := 0
	for {
		select {
		case <-stop:
			return done, nil
		default:
		}
		n, err := f.store.PurgeLoginFailures(ctx, cutoff, 5000)
		done += n
		if err != nil || n == 0 {
			return done, err
		}
	}
}

// storeError logs an error of the store, at most a few a minute: the guard
// then works on this copy's own view (see the package doc).
func (f *FailedLogins) storeError(ctx context.Context, what string, err error) {
	ok, held, _ := f.dbLim.Allow(f.clock.Now())
	if !ok {
		return
	}
	attrs := []any{"err", err}
	if held > 0 {
		attrs = append(attrs, "held_back", held)
	}
	f.log.ErrorContext(ctx, "API logins: could not "+what+"; counting in this copy only", attrs...)
}

// clip shortens s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
