package vault

import (
	"testing"
	"time"
)

// FuzzMonthsBefore moves any time back by any number of months, as `openpsp
// purge -months` and the notification retention do with an operator's
// number: the cutoff is never after the time (a cutoff in the future would
// purge the card data of every token), more months never give a later
// cutoff, and a cutoff within ten thousand years lands in the month m
// calendar months back, on the same day or, in a shorter month, its last.
func FuzzMonthsBefore(f *testing.F) {
	for _, s := range []struct {
		m    int64
		unix int64
	}{{15, 1780000000}, {0, 0}, {1, 1772236800}, {1200, -62135596800}, {1 << 31, 1780000000}, {1 << 60, 1780000000}, {9223372036854775807, 1780000000}, {9223372036854775800, 1780000000}} {
		f.Add(s.m, s.unix)
	}
	f.Fuzz(func(t *testing.T, m, unix int64) {
		if m < 0 {
			m = -(m + 1)
		}
		// Years 1 to 9999, as the database stores them.
		const lo, hi = -62135596800, 253402300799
		if unix < lo || unix > hi {
			unix = lo + int64(uint64(unix)%uint64(hi-lo+1))
		}
		now := time.Unix(unix, 0).UTC()
		cut := Months(m).Before(now)
		if cut.After(now) {
			t.Fatalf("%d months before %v is %v, in the future", m, now, cut)
		}
		if m > 0 {
			if less := Months(m - 1).Before(now); cut.After(less) {
				t.Fatalf("%d months before %v is %v, after %d months before (%v)", m, now, cut, m-1, less)
			}
		}
		if m > 12*10000 {
			return
		}
		// Floor division: the month index may be negative (years before 1).
		total := int64(now.Year())*12 + int64(now.Month()) - 1 - m
		wantY := total / 12
		if total%12 < 0 {
			wantY--
		}
		wantM := time.Month(total - wantY*12 + 1)
		want := time.Date(int(wantY), wantM, now.Day(), now.Hour(), now.Minute(), now.Second(), now.Nanosecond(), time.UTC)
		if daysIn := time.Date(int(wantY), wantM+1, 0, 0, 0, 0, 0, time.UTC).Day(); now.Day() > daysIn {
			// Too short a month: its end, the next one's first instant.
			want = time.Date(int(wantY), wantM+1, 1, 0, 0, 0, 0, time.UTC)
		}
		if !cut.Equal(want) {
			t.Fatalf("%d months before %v is %v, want %v", m, now, cut, want)
		}
	})
}
