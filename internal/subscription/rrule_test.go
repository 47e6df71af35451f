package subscription

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func date(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func dates(ts []time.Time) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.Format("2006-01-02")
	}
	return strings.Join(s, " ")
}

func TestRuleDates(t *testing.T) {
	for _, c := range []struct {
		rule, start string
		max         int
		want        string
	}{
		// PayZen's documented examples (docs.lyra.com/en/rest/V4.0/api/kb/rrules.html).
		{"RRULE:FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1;COUNT=12", "2030-01-15", 20,
			"2030-01-31 2030-02-28 2030-03-31 2030-04-30 2030-05-31 2030-06-30 2030-07-31 2030-08-31 2030-09-30 2030-10-31 2030-11-30 2030-12-31"},
		{"RRULE:FREQ=MONTHLY;COUNT=5;BYMONTHDAY=-1", "2032-01-31", 20,
			"2032-01-31 2032-02-29 2032-03-31 2032-04-30 2032-05-31"},
		{"RRULE:FREQ=MONTHLY;COUNT=12;BYMONTHDAY=10", "2030-01-11", 3, "2030-02-10 2030-03-10 2030-04-10"},
		{"RRULE:FREQ=YEARLY;BYMONTHDAY=-1;BYMONTH=1,4,7,10;UNTIL=20311231", "2030-05-01", 20,
			"2030-07-31 2030-10-31 2031-01-31 2031-04-30 2031-07-31 2031-10-31"},
		{"RRULE:FREQ=WEEKLY;BYDAY=MO", "2030-01-02", 3, "2030-01-07 2030-01-14 2030-01-21"}, // the 2nd is a Wednesday
		{"RRULE:FREQ=WEEKLY", "2030-01-02", 3, "2030-01-02 2030-01-09 2030-01-16"},
		{"RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=MO", "2030-01-02", 10, "2030-01-14 2030-01-28 2030-02-11 2030-02-25"},
		{"RRULE:FREQ=WEEKLY;INTERVAL=2;", "2030-01-02", 3, "2030-01-02 2030-01-16 2030-01-30"},
		// The plain monthly rule keeps the day of effectDate and, as RFC 5545
		// says, skips the months too short for it.
		{"FREQ=MONTHLY", "2030-01-31", 4, "2030-01-31 2030-03-31 2030-05-31 2030-07-31"},
		{"FREQ=MONTHLY;BYMONTHDAY=31", "2030-01-01", 3, "2030-01-31 2030-03-31 2030-05-31"},
		{"FREQ=MONTHLY;BYMONTHDAY=30", "2030-01-30", 3, "2030-01-30 2030-03-30 2030-04-30"},
		{"FREQ=MONTHLY;BYMONTHDAY=-1", "2030-01-31", 3, "2030-01-31 2030-02-28 2030-03-31"},
		{"FREQ=MONTHLY;BYMONTHDAY=-3", "2030-01-01", 3, "2030-01-29 2030-02-26 2030-03-29"},
		{"FREQ=MONTHLY;BYMONTHDAY=1,15", "2030-01-10", 4, "2030-01-15 2030-02-01 2030-02-15 2030-03-01"},
		{"FREQ=MONTHLY;INTERVAL=3", "2030-01-05", 3, "2030-01-05 2030-04-05 2030-07-05"},
		{"FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=5", "2030-01-06", 3, "2030-03-05 2030-05-05 2030-07-05"},
		{"FREQ=MONTHLY;BYDAY=1MO", "2030-01-01", 3, "2030-01-07 2030-02-04 2030-03-04"},
		{"FREQ=MONTHLY;BYDAY=-1FR", "2030-01-01", 3, "2030-01-25 2030-02-22 2030-03-29"},
		{"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "2030-01-01", 3, "2030-01-31 2030-02-28 2030-03-29"},
		{"FREQ=MONTHLY;BYMONTH=6,12", "2030-01-10", 3, "2030-06-10 2030-12-10 2031-06-10"},
		{"FREQ=DAILY", "2030-02-27", 3, "2030-02-27 2030-02-28 2030-03-01"},
		{"FREQ=DAILY;INTERVAL=10;COUNT=3", "2030-01-01", 9, "2030-01-01 2030-01-11 2030-01-21"},
		{"FREQ=DAILY;BYDAY=SA,SU", "2030-01-01", 3, "2030-01-05 2030-01-06 2030-01-12"},
		{"FREQ=DAILY;UNTIL=20300103", "2030-01-01", 9, "2030-01-01 2030-01-02 2030-01-03"},
		{"FREQ=DAILY;UNTIL=20300103T235959Z", "2030-01-01", 9, "2030-01-01 2030-01-02 2030-01-03"},
		{"FREQ=YEARLY", "2032-02-29", 3, "2032-02-29 2036-02-29 2040-02-29"},
		{"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "2096-03-01", 1, "2104-02-29"}, // 2100 is not a leap year
		{"FREQ=YEARLY;INTERVAL=100", "2030-06-01", 2, "2030-06-01 2130-06-01"},
		{"FREQ=YEARLY;BYMONTHDAY=1;COUNT=3", "2030-11-20", 5, "2030-12-01 2031-01-01 2031-02-01"},
		{"FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "2030-01-01", 2, "2030-03-31 2031-03-30"},
		{"FREQ=WEEKLY;WKST=SU;INTERVAL=2;BYDAY=SU,TU", "2030-01-01", 4, "2030-01-01 2030-01-13 2030-01-15 2030-01-27"},
		{"freq=monthly;count=2", "2030-01-05", 5, "2030-01-05 2030-02-05"},
		// Rules that never give a date end instead of looping.
		{"FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30", "2030-01-01", 3, ""},
		{"FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31", "2030-01-01", 3, ""},
		{"FREQ=DAILY;UNTIL=20291231", "2030-01-01", 3, ""},
	} {
		r, err := ParseRule(c.rule)
		if err != nil {
			t.Errorf("%s: %v", c.rule, err)
			continue
		}
		if got := dates(r.All(date(c.start), c.max)); got != c.want {
			t.Errorf("%s from %s:\n got %s\nwant %s", c.rule, c.start, got, c.want)
		}
	}
}

func TestRuleNextAfterEveryDate(t *testing.T) {
	// Next from any date gives the same sequence as iterating from the start.
	for _, s := range []string{"FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1", "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR",
		"FREQ=DAILY;INTERVAL=4", "FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=-1", "FREQ=MONTHLY;INTERVAL=5;BYDAY=2TU"} {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatal(err)
		}
		start := date("2030-01-09")
		all := r.All(start, 60)
		for i := 1; i < len(all); i++ {
			for d := all[i-1]; d.Before(all[i]); d = d.AddDate(0, 0, 1) {
				if got, ok := r.Next(start, d, i); !ok || !got.Equal(all[i]) {
					t.Fatalf("%s: Next after %s = %s, want %s", s, d.Format("2006-01-02"), got.Format("2006-01-02"), all[i].Format("2006-01-02"))
				}
			}
		}
	}
}

func TestRuleTotal(t *testing.T) {
	for _, c := range []struct {
		rule string
		want int
	}{
		{"FREQ=MONTHLY;COUNT=12", 12},
		{"FREQ=MONTHLY;UNTIL=20301231", 12},
		{"FREQ=WEEKLY", 0},
		{"FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20300630", 3},
	} {
		r, _ := ParseRule(c.rule)
		if got := r.Total(date("2030-01-01")); got != c.want {
			t.Errorf("%s: total %d, want %d", c.rule, got, c.want)
		}
	}
}

func TestRuleErrors(t *testing.T) {
	for _, c := range []struct{ rule, part, msg string }{
		{"", "", "empty rule"},
		{"RRULE:", "", "FREQ is required"},
		{"COUNT=3", "FREQ", "required"},
		{"FREQ=HOURLY", "FREQ", "at most daily"},
		{"FREQ=SECONDLY", "FREQ", "at most daily"},
		{"FREQ=FORTNIGHTLY", "FREQ", "is not DAILY"},
		{"FREQ=MONTHLY;FREQ=DAILY", "FREQ", "given twice"},
		{"FREQ=MONTHLY;INTERVAL=0", "INTERVAL", "whole number from 1"},
		{"FREQ=MONTHLY;INTERVAL=-2", "INTERVAL", "whole number"},
		{"FREQ=MONTHLY;INTERVAL=x", "INTERVAL", "whole number"},
		{"FREQ=MONTHLY;COUNT=0", "COUNT", "whole number from 1"},
		{"FREQ=MONTHLY;COUNT=3;UNTIL=20301231", "", "COUNT and UNTIL"},
		{"FREQ=MONTHLY;UNTIL=2030-12-31", "UNTIL", "is not a date"},
		{"FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY", "day of the month"},
		{"FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY", "day of the month"},
		{"FREQ=MONTHLY;BYMONTHDAY=-32", "BYMONTHDAY", "day of the month"},
		{"FREQ=MONTHLY;BYMONTHDAY=1,,2", "BYMONTHDAY", "day of the month"},
		{"FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY", "WEEKLY"},
		{"FREQ=MONTHLY;BYMONTH=13", "BYMONTH", "a month"},
		{"FREQ=MONTHLY;BYMONTH=-1", "BYMONTH", "a month"},
		{"FREQ=MONTHLY;BYDAY=XX", "BYDAY", "weekday"},
		{"FREQ=WEEKLY;BYDAY=1MO", "BYDAY", "MONTHLY or YEARLY"},
		{"FREQ=MONTHLY;BYDAY=6MO", "BYDAY", "at most 5"},
		{"FREQ=YEARLY;BYDAY=MO", "BYDAY", "needs BYMONTH"},
		{"FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS", "needs"},
		{"FREQ=MONTHLY;BYSETPOS=0;BYMONTHDAY=1", "BYSETPOS", "position"},
		{"FREQ=DAILY;BYHOUR=10", "BYHOUR", "not supported"},
		{"FREQ=YEARLY;BYWEEKNO=20", "BYWEEKNO", "not supported"},
		{"FREQ=MONTHLY;WKST=XY", "WKST", "weekday"},
		{"FREQ=MONTHLY;FOO=1", "", "unknown part"},
		{"FREQ=MONTHLY;COUNT", "", "NAME=VALUE"},
		{"FREQ=MONTHLY;COUNT=", "COUNT", "empty value"},
		{"DTSTART:20300101\nRRULE:FREQ=DAILY", "", "effectDate"},
		{"FREQ=MONTHLY;" + strings.Repeat("X", 300), "", "longer than"},
	} {
		_, err := ParseRule(c.rule)
		var re *RuleError
		if !errors.As(err, &re) || re.Part != c.part || !strings.Contains(re.Msg, c.msg) {
			t.Errorf("%q: error %v, want part %q with %q", c.rule, err, c.part, c.msg)
		}
	}
}

func TestRuleStringRoundTrip(t *testing.T) {
	for _, s := range []string{"RRULE:FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1;COUNT=12",
		"freq=monthly;interval=2;byday=mo,+1fr;wkst=su", "FREQ=YEARLY;BYMONTH=1,4,7,10;BYMONTHDAY=-1;UNTIL=20301231T120000Z"} {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		back, err := ParseRule(r.String())
		if err != nil || back.String() != r.String() {
			t.Fatalf("%s → %s → %s, %v", s, r, back, err)
		}
	}
}

// FuzzParseRule: a rule either is refused with a RuleError or gives dates
// that are increasing, on or after the start, within UNTIL and COUNT, and
// are the same after a String round trip. Nothing panics or loops.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"RRULE:FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1;COUNT=12",
		"RRULE:FREQ=MONTHLY;COUNT=5;BYMONTHDAY=-1", "RRULE:FREQ=YEARLY;BYMONTHDAY=-1;BYMONTH=1,4,7,10;UNTIL=20221231",
		"RRULE:FREQ=WEEKLY;BYDAY=MO", "RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=MO", "FREQ=DAILY;INTERVAL=3",
		"FREQ=MONTHLY;BYDAY=-1FR", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=20301231T000000Z",
		"FREQ=HOURLY", "FREQ=MONTHLY;;;", "FREQ=MONTHLY;BYSETPOS=-366;BYDAY=MO", "freq=daily;wkst=tu;byday=su",
		"FREQ=MONTHLY;INTERVAL=1000;BYMONTH=2;BYMONTHDAY=29"} {
		f.Add(s, int64(0))
		f.Add(s, int64(800))
	}
	f.Fuzz(func(t *testing.T, s string, offsetDays int64) {
		r, err := ParseRule(s)
		if err != nil {
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("%q: error %v is not a RuleError", s, err)
			}
			return
		}
		back, err := ParseRule(r.String())
		if err != nil || back.String() != r.String() {
			t.Fatalf("%q: round trip %q → %v", s, r.String(), err)
		}
		start := date("2030-01-01").AddDate(0, 0, int(offsetDays%5000))
		all := r.All(start, 40)
		if r.Count > 0 && len(all) > r.Count {
			t.Fatalf("%q: %d dates beyond COUNT", s, len(all))
		}
		for i, d := range all {
			if d.Before(start) || (!r.Until.IsZero() && d.After(r.Until)) || (i > 0 && !d.After(all[i-1])) {
				t.Fatalf("%q from %s: bad dates %s", s, start.Format("2006-01-02"), dates(all))
			}
			if !d.Equal(Day(d)) {
				t.Fatalf("%q: %s is not a date", s, d)
			}
		}
		if got := dates(back.All(start, 40)); got != dates(all) {
			t.Fatalf("%q: round trip changes the dates", s)
		}
	})
}

// A rule that runs to year 9999 is counted quickly: day and week counts
// went through time.Duration, which saturates after 292 years, so every
// Next scanned from the 24th century on and Total of such a rule (one
// Charge/CreateSubscription) took minutes of CPU.
func TestRuleFarUntil(t *testing.T) {
	start := date("2030-03-10")
	far := date("2400-03-10")
	for _, f := range []Freq{Daily, Weekly} {
		r := Rule{Freq: f, Interval: 1, WeekStart: time.Monday}
		want := 135140 // days from 2030-03-10 to 2400-03-10
		if f == Weekly {
			want = 19306 // weeks from that of 2030-03-10 to that of 2400-03-10
		}
		if got := r.periodIndex(start, far); got != want {
			t.Errorf("%s periodIndex to 2400 = %d, want %d", f, got, want)
		}
	}
	r, err := ParseRule("FREQ=DAILY;BYDAY=MO;BYMONTHDAY=13;BYMONTH=2;UNTIL=99991231")
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if n := r.Total(start); n != 1156 {
		t.Errorf("Total = %d, want 1156", n)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("Total took %s", d)
	}
}
