package obs

import (
	"context"
	"log/slog"
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
	guard loginGuard
}

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
func (f *FailedLogins) Locked(surface, login, remote string) (retryAfter time.Duration, locked bool) {
	if f == nil {
		return 0, false
	}
	now := f.clock.Now()
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
	until := f.guard.fail(loginKey{surface, clip(login, 64), remote}, f.clock.Now())
	if !until.IsZero() {
		f.log1(ctx, surface, who, remote, reason, "locked_until", until)
		return
	}
	f.log1(ctx, surface, who, remote, reason)
}

// Succeeded forgets the failures of login from remote: a merchant who
// mistyped its password a few times starts again from zero.
func (f *FailedLogins) Succeeded(surface, login, remote string) {
	if f == nil {
		return
	}
	f.guard.succeed(loginKey{surface, clip(login, 64), remote})
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
