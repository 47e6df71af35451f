package obs

import (
	"testing"
	"time"
)

func TestLogLimiter(t *testing.T) {
	t0 := time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)
	var l LogLimiter // one line a minute
	if ok, held, since := l.Allow(t0); !ok || held != 0 || !since.Equal(t0) {
		t.Fatalf("first occurrence: %v, %d held, since %s", ok, held, since)
	}
	for i := 1; i <= 119; i++ { // every 0.5 s for a minute
		if ok, _, _ := l.Allow(t0.Add(time.Duration(i) * 500 * time.Millisecond)); ok {
			t.Fatalf("occurrence %d at +%s logged", i, time.Duration(i)*500*time.Millisecond)
		}
	}
	if ok, held, since := l.Allow(t0.Add(time.Minute)); !ok || held != 119 || !since.Equal(t0) {
		t.Fatalf("a minute later: %v, %d held (want 119), since %s", ok, held, since)
	}
	if n, since := l.End(); n != 121 || !since.Equal(t0) {
		t.Fatalf("End: %d since %s, want 121 since %s", n, since, t0)
	}
	if n, _ := l.End(); n != 0 {
		t.Fatalf("End without occurrences: %d", n)
	}
	t1 := t0.Add(70 * time.Second)
	if ok, held, since := l.Allow(t1); !ok || held != 0 || !since.Equal(t1) {
		t.Fatalf("first occurrence after End: %v, %d held, since %s", ok, held, since)
	}

	b := LogLimiter{Every: time.Minute, Burst: 3}
	logged := 0
	for i := range 100 {
		if ok, _, _ := b.Allow(t0.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			logged++
		}
	}
	if logged != 3 {
		t.Fatalf("burst of 3: %d lines for 100 occurrences in 10 s", logged)
	}
	if ok, held, _ := b.Allow(t0.Add(time.Minute)); !ok || held != 97 {
		t.Fatalf("next window: %v, %d held, want 97", ok, held)
	}
}
