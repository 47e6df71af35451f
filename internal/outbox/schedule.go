package outbox

import (
	"fmt"
	"strings"
	"time"
)

// Schedule is the wait after each failed attempt: after the n-th failure the
// message waits Schedule[n-1] (with jitter); once every step is used the
// next failure makes it DEAD. len(Schedule)+1 attempts in all.
type Schedule []time.Duration

// DefaultSchedule retries for about 33 hours (at least 26 hours with the
// jitter's -20%): long enough to ride out a merchant's weekend outage of a
// day, short enough that a dead message is still worth re-driving.
var DefaultSchedule = Schedule{
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour, 8 * time.Hour,
}

// DefaultJitter spreads retries by ±20% so that messages that failed
// together (an endpoint went down) do not all come back in the same second.
const DefaultJitter = 0.2

// Total is the sum of the waits: how long a message is retried before DEAD
// (without jitter).
func (s Schedule) Total() time.Duration {
	var t time.Duration
	for _, d := range s {
		t += d
	}
	return t
}

// String writes the schedule in the form ParseSchedule reads.
func (s Schedule) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// ParseSchedule reads a comma-separated list of Go durations ("1m,5m,1h").
func ParseSchedule(v string) (Schedule, error) {
	var s Schedule
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		d, err := time.ParseDuration(p)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("outbox: schedule step %q is not a positive duration", p)
		}
		s = append(s, d)
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("outbox: empty schedule")
	}
	return s, nil
}

// delay returns the wait after the failures-th failure (1-based) with
// jitter applied (r in [0,1)), and false when the schedule is exhausted.
func (s Schedule) delay(failures int, jitter, r float64) (time.Duration, bool) {
	if failures < 1 || failures > len(s) {
		return 0, false
	}
	base := s[failures-1]
	f := 1 + jitter*(2*r-1)
	return time.Duration(float64(base) * f), true
}

// Wait is delay for work retried without end (a capture, which the
// authorization's expiry bounds): past the schedule's end it repeats the
// last step. It is 0 for an empty schedule or failures below 1.
func (s Schedule) Wait(failures int, jitter, r float64) time.Duration {
	d, _ := s.delay(min(failures, len(s)), jitter, r)
	return d
}
