package obs

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// LogLimiter keeps a failure that repeats from flooding the log (a
// database outage seen by a loop that polls twice a second, a storm of bad
// logins): the first occurrence is logged, then at most Burst lines per
// Every, each telling how many occurrences were held back before it. End
// closes a streak, so that its recovery is logged once and the next
// failure is logged at once. The zero value logs one line a minute; it is
// safe for concurrent use.
type LogLimiter struct {
	Every time.Duration // window (default one minute)
	Burst int           // lines let through per window (default 1)

	mu     sync.Mutex
	window time.Time // start of the current window
	lines  int       // lines let through in it
	held   int       // occurrences held back since the last line let through
	streak int       // occurrences since the last End
	since  time.Time // the first of them
}

// Allow records an occurrence at now and reports whether to log it. When
// it does, held is how many occurrences were not logged since the previous
// line, and since is when the streak began (the first occurrence since the
// last End).
func (l *LogLimiter) Allow(now time.Time) (ok bool, held int, since time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	every, burst := l.Every, l.Burst
	if every <= 0 {
		every = time.Minute
	}
	if burst <= 0 {
		burst = 1
	}
	if l.streak == 0 {
		l.since = now
	}
	l.streak++
	if l.window.IsZero() || now.Sub(l.window) >= every || now.Before(l.window) {
		l.window, l.lines = now, 0
	}
	if l.lines >= burst {
		l.held++
		return false, 0, l.since
	}
	l.lines++
	held, l.held = l.held, 0
	return true, held, l.since
}

// End closes the current streak (the failure is over) and reports how many
// occurrences it had, and since when: n is 0 when there was none, and
// nothing is to be logged. The next occurrence is logged at once.
func (l *LogLimiter) End() (n int, since time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, since = l.streak, l.since
	l.streak, l.held, l.lines, l.window = 0, 0, 0, time.Time{}
	return n, since
}

// Failed logs an occurrence of a failure at level if Allow lets it through:
// msg with args, and, when lines were held back before it, since when the
// streak lasts and how many were held back.
func (l *LogLimiter) Failed(ctx context.Context, log *slog.Logger, level slog.Level, now time.Time, msg string, args ...any) {
	ok, held, since := l.Allow(now)
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "failing_since", since, "held_back", held)
	}
	log.Log(ctx, level, msg, args...)
}

// Recovered ends the streak (End) and, if there was one, logs msg at Info
// with args, how many failures it had and how long it lasted.
func (l *LogLimiter) Recovered(ctx context.Context, log *slog.Logger, now time.Time, msg string, args ...any) {
	n, since := l.End()
	if n == 0 {
		return
	}
	log.Log(ctx, slog.LevelInfo, msg, append(args, "failures", n, "after", now.Sub(since).Round(time.Second))...)
}
