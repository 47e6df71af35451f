package obs

import (
	"context"
	"log/slog"
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
	ok, held, _ := f.lim.Allow(f.clock.Now())
	if !ok {
		return
	}
	attrs := []any{"surface", surface, "login", clip(login, 64), "remote", remote, "reason", reason}
	if held > 0 {
		attrs = append(attrs, "held_back", held)
	}
	f.log.WarnContext(ctx, "API login failed", attrs...)
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
