package subscription

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is the recurrence rule of a subscription: the subset of RFC 5545
// RRULE that PayZen documents for Charge/CreateSubscription
// (docs.lyra.com/en/rest/V4.0/api/kb/rrules.html) and nothing finer than a
// day. Instalments fall on dates (UTC); the time of day of effectDate is
// not used.

// Freq is the FREQ of a rule.
type Freq int

// The frequencies OpenPSP accepts: an instalment is at most daily.
const (
	Daily Freq = iota + 1
	Weekly
	Monthly
	Yearly
)

var freqNames = map[Freq]string{Daily: "DAILY", Weekly: "WEEKLY", Monthly: "MONTHLY", Yearly: "YEARLY"}

func (f Freq) String() string { return freqNames[f] }

// WeekdayNum is a BYDAY value: a weekday, with an ordinal inside the month
// for MONTHLY and YEARLY rules (1MO the first Monday, -1FR the last Friday;
// 0 every one).
type WeekdayNum struct {
	N   int
	Day time.Weekday
}

var dayNames = [7]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

func (w WeekdayNum) String() string {
	if w.N == 0 {
		return dayNames[w.Day]
	}
	return strconv.Itoa(w.N) + dayNames[w.Day]
}

// Rule is a parsed recurrence rule.
type Rule struct {
	Freq       Freq
	Interval   int       // ≥ 1
	Count      int       // 0: no COUNT
	Until      time.Time // zero: no UNTIL; else a date (midnight UTC), inclusive
	ByMonthDay []int     // 1..31 or -31..-1 (-1 is the last day of the month)
	ByMonth    []int     // 1..12
	ByDay      []WeekdayNum
	BySetPos   []int        // 1..366 or -366..-1, over each period's dates
	WeekStart  time.Weekday // WKST, Monday by default
}

// MaxRuleLength bounds an rrule as PayZen does (255 characters).
const MaxRuleLength = 255

// Bounds of the numeric parts.
const (
	maxInterval = 1000
	maxCount    = 99999
)

// RuleError says what is wrong with an rrule, naming the part at fault.
type RuleError struct {
	Part string // e.g. "BYMONTHDAY"; "" for the rule as a whole
	Msg  string
}

func (e *RuleError) Error() string {
	if e.Part == "" {
		return "rrule: " + e.Msg
	}
	return "rrule: " + e.Part + ": " + e.Msg
}

func ruleErr(part, format string, args ...any) error {
	return &RuleError{Part: part, Msg: fmt.Sprintf(format, args...)}
}

// ParseRule reads an RRULE value, with or without the "RRULE:" prefix PayZen
// shows in its examples. Names are case-insensitive; a trailing ";" is
// accepted. Parts finer than a day (BYHOUR …), BYWEEKNO and BYYEARDAY are
// refused, as are DTSTART and other iCalendar lines: the start is the
// subscription's effectDate.
func ParseRule(s string) (Rule, error) {
	var r Rule
	s = strings.TrimSpace(s)
	if s == "" {
		return r, ruleErr("", "empty rule")
	}
	if len(s) > MaxRuleLength {
		return r, ruleErr("", "longer than %d characters", MaxRuleLength)
	}
	if strings.ContainsAny(s, "\r\n") {
		return r, ruleErr("", "one RRULE only: give the start date in effectDate, not DTSTART")
	}
	if len(s) >= 6 && strings.EqualFold(s[:6], "RRULE:") {
		s = s[6:]
	}
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			if i == 0 {
				return r, ruleErr("", "FREQ is required")
			}
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		name = strings.ToUpper(strings.TrimSpace(name))
		value = strings.ToUpper(strings.TrimSpace(value))
		if !ok || name == "" {
			return r, ruleErr("", "%q is not NAME=VALUE", clip(part))
		}
		if !isToken(name) {
			return r, ruleErr("", "unknown part %q", clip(name))
		}
		if seen[name] {
			return r, ruleErr(name, "given twice")
		}
		seen[name] = true
		if value == "" {
			return r, ruleErr(name, "empty value")
		}
		var err error
		switch name {
		case "FREQ":
			r.Freq, err = parseFreq(value)
		case "INTERVAL":
			r.Interval, err = parseInt(name, value, 1, maxInterval)
		case "COUNT":
			r.Count, err = parseInt(name, value, 1, maxCount)
		case "UNTIL":
			r.Until, err = parseUntil(value)
		case "BYMONTHDAY":
			r.ByMonthDay, err = parseIntList(name, value, 31, "a day of the month (1 to 31, or -31 to -1 counting from the end)")
		case "BYMONTH":
			r.ByMonth, err = parseIntList(name, value, 12, "a month (1 to 12)")
			for _, m := range r.ByMonth {
				if m < 0 && err == nil {
					err = ruleErr(name, "%d is not a month (1 to 12)", m)
				}
			}
		case "BYDAY":
			r.ByDay, err = parseByDay(value)
		case "BYSETPOS":
			r.BySetPos, err = parseIntList(name, value, 366, "a position (1 to 366, or -366 to -1 counting from the end)")
		case "WKST":
			var w WeekdayNum
			w, err = parseWeekday(name, value)
			if err == nil && w.N != 0 {
				err = ruleErr(name, "%q is not a weekday", value)
			}
			r.WeekStart = w.Day
		case "BYSECOND", "BYMINUTE", "BYHOUR":
			err = ruleErr(name, "not supported: instalments fall on dates, at most one a day")
		case "BYWEEKNO", "BYYEARDAY":
			err = ruleErr(name, "not supported")
		case "DTSTART", "EXDATE", "RDATE":
			err = ruleErr(name, "not an RRULE part: give the start date in effectDate")
		default:
			err = ruleErr("", "unknown part %q", clip(name))
		}
		if err != nil {
			return Rule{}, err
		}
	}
	if !seen["WKST"] {
		r.WeekStart = time.Monday
	}
	if r.Interval == 0 {
		r.Interval = 1
	}
	return r, r.check()
}

// check applies the rules between parts (RFC 5545 §3.3.10).
func (r Rule) check() error {
	switch {
	case r.Freq == 0:
		return ruleErr("FREQ", "required")
	case r.Count != 0 && !r.Until.IsZero():
		return ruleErr("", "COUNT and UNTIL cannot both be given")
	case r.Freq == Weekly && len(r.ByMonthDay) > 0:
		return ruleErr("BYMONTHDAY", "not allowed in a WEEKLY rule")
	case len(r.BySetPos) > 0 && len(r.ByMonthDay)+len(r.ByMonth)+len(r.ByDay) == 0:
		return ruleErr("BYSETPOS", "needs BYMONTHDAY, BYDAY or BYMONTH to choose among")
	}
	for _, d := range r.ByDay {
		if d.N == 0 {
			continue
		}
		switch {
		case r.Freq != Monthly && r.Freq != Yearly:
			return ruleErr("BYDAY", "%s: a numbered weekday needs a MONTHLY or YEARLY rule", d)
		case d.N > 5 || d.N < -5:
			return ruleErr("BYDAY", "%s: a month has at most 5 of each weekday", d)
		}
	}
	if r.Freq == Yearly && len(r.ByDay) > 0 && len(r.ByMonth) == 0 {
		return ruleErr("BYDAY", "in a YEARLY rule, BYDAY needs BYMONTH")
	}
	return nil
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

func parseFreq(v string) (Freq, error) {
	for f, name := range freqNames {
		if v == name {
			return f, nil
		}
	}
	switch v {
	case "SECONDLY", "MINUTELY", "HOURLY":
		return 0, ruleErr("FREQ", "%s is not supported: instalments are at most daily", v)
	}
	return 0, ruleErr("FREQ", "%q is not DAILY, WEEKLY, MONTHLY or YEARLY", clip(v))
}

func parseInt(part, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || strings.HasPrefix(v, "+") || n < lo || n > hi {
		return 0, ruleErr(part, "%q is not a whole number from %d to %d", clip(v), lo, hi)
	}
	return n, nil
}

// parseIntList reads a comma-separated list of non-zero integers whose
// absolute value is at most max; the list is sorted and deduplicated.
func parseIntList(part, v string, max int, what string) ([]int, error) {
	var out []int
	for _, item := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimPrefix(item, "+"))
		if err != nil || n == 0 || n > max || n < -max || item == "" {
			return nil, ruleErr(part, "%q is not %s", clip(item), what)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func parseWeekday(part, v string) (WeekdayNum, error) {
	if len(v) < 2 {
		return WeekdayNum{}, ruleErr(part, "%q is not a weekday (MO, TU, WE, TH, FR, SA, SU)", clip(v))
	}
	name := v[len(v)-2:]
	day := -1
	for i, d := range dayNames {
		if d == name {
			day = i
		}
	}
	if day < 0 {
		return WeekdayNum{}, ruleErr(part, "%q is not a weekday (MO, TU, WE, TH, FR, SA, SU)", clip(v))
	}
	w := WeekdayNum{Day: time.Weekday(day)}
	if num := v[:len(v)-2]; num != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(num, "+"))
		if err != nil || n == 0 || n > 53 || n < -53 || num == "+" || num == "-" {
			return WeekdayNum{}, ruleErr(part, "%q: bad weekday number", clip(v))
		}
		w.N = n
	}
	return w, nil
}

func parseByDay(v string) ([]WeekdayNum, error) {
	var out []WeekdayNum
	for _, item := range strings.Split(v, ",") {
		w, err := parseWeekday("BYDAY", item)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out, nil
}

// parseUntil reads a DATE or DATE-TIME (UTC "Z" or floating, both taken as
// UTC). Only its date counts: instalments fall on dates.
func parseUntil(v string) (time.Time, error) {
	for _, layout := range []string{"20060102", "20060102T150405Z", "20060102T150405"} {
		if t, err := time.Parse(layout, v); err == nil {
			return day(t), nil
		}
	}
	return time.Time{}, ruleErr("UNTIL", "%q is not a date (YYYYMMDD) or a UTC date-time (YYYYMMDDTHHMMSSZ)", clip(v))
}

// String writes the rule in a canonical form that ParseRule reads back to
// the same rule.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString("FREQ=" + r.Freq.String())
	if r.Interval > 1 {
		b.WriteString(";INTERVAL=" + strconv.Itoa(r.Interval))
	}
	if r.Count > 0 {
		b.WriteString(";COUNT=" + strconv.Itoa(r.Count))
	}
	if !r.Until.IsZero() {
		b.WriteString(";UNTIL=" + r.Until.Format("20060102"))
	}
	writeInts := func(name string, v []int) {
		if len(v) == 0 {
			return
		}
		s := make([]string, len(v))
		for i, n := range v {
			s[i] = strconv.Itoa(n)
		}
		b.WriteString(";" + name + "=" + strings.Join(s, ","))
	}
	writeInts("BYMONTH", r.ByMonth)
	writeInts("BYMONTHDAY", r.ByMonthDay)
	if len(r.ByDay) > 0 {
		s := make([]string, len(r.ByDay))
		for i, d := range r.ByDay {
			s[i] = d.String()
		}
		b.WriteString(";BYDAY=" + strings.Join(s, ","))
	}
	writeInts("BYSETPOS", r.BySetPos)
	if r.WeekStart != time.Monday {
		b.WriteString(";WKST=" + dayNames[r.WeekStart])
	}
	return b.String()
}

// day returns the date of t as midnight UTC.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Day returns the date of t as midnight UTC: the form of every instalment
// date.
func Day(t time.Time) time.Time { return day(t) }

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// maxYear stops the iteration before dates stop making sense.
const maxYear = 9999

// emptyGap is how long without any date a rule may run before it is taken
// as finished (BYMONTH=2;BYMONTHDAY=30 never gives one). A 29 February
// rule waits at most 8 years.
const emptyGap = 12

// Next returns the first date of the rule that starts on start (a date) and
// is strictly after after (zero: the first date on or after start). done
// is how many dates of the rule came before, so that COUNT is honoured. ok
// is false when the rule has no further date.
func (r Rule) Next(start, after time.Time, done int) (next time.Time, ok bool) {
	if r.Count > 0 && done >= r.Count {
		return time.Time{}, false
	}
	start = day(start)
	from := start
	if !after.IsZero() && !day(after).Before(start) {
		from = day(after).AddDate(0, 0, 1)
	}
	giveUp := from.AddDate(emptyGap, 0, 0)
	for k, n := r.periodIndex(start, from), 0; ; k, n = k+1, n+1 {
		ps := r.periodStart(start, k)
		if ps.Year() > maxYear || (!r.Until.IsZero() && ps.After(r.Until)) {
			return time.Time{}, false
		}
		// Two periods at least, so that INTERVAL=100 yearly still works.
		if n >= 2 && ps.After(giveUp) {
			return time.Time{}, false
		}
		for _, d := range r.period(start, ps) {
			if d.Before(from) {
				continue
			}
			if !r.Until.IsZero() && d.After(r.Until) {
				return time.Time{}, false
			}
			return d, true
		}
	}
}

// All returns the rule's dates from start, at most max of them.
func (r Rule) All(start time.Time, max int) []time.Time {
	var out []time.Time
	var prev time.Time
	for len(out) < max {
		d, ok := r.Next(start, prev, len(out))
		if !ok {
			break
		}
		out = append(out, d)
		prev = d
	}
	return out
}

// Total returns how many dates the rule gives from start: COUNT, or those
// up to UNTIL; 0 for a rule without end. It counts at most maxCount.
func (r Rule) Total(start time.Time) int {
	if r.Count == 0 && r.Until.IsZero() {
		return 0
	}
	n := 0
	for prev := (time.Time{}); n < maxCount; n++ {
		d, ok := r.Next(start, prev, n)
		if !ok {
			break
		}
		prev = d
	}
	return n
}

// periodIndex returns the index of the period of the rule (started on
// start) that contains the date d ≥ start.
func (r Rule) periodIndex(start, d time.Time) int {
	var n int
	switch r.Freq {
	case Daily:
		n = daysBetween(start, d)
	case Weekly:
		n = daysBetween(weekStart(start, r.WeekStart), weekStart(d, r.WeekStart)) / 7
	case Monthly:
		n = (d.Year()-start.Year())*12 + int(d.Month()) - int(start.Month())
	case Yearly:
		n = d.Year() - start.Year()
	}
	if n < 0 {
		return 0
	}
	return n / r.Interval
}

// daysBetween counts the days from the date a to the date b. Not with
// time.Duration: it saturates after 292 years, and an UNTIL up to year 9999
// then made every Next scan from the 24th century onwards (minutes of CPU
// for one Charge/CreateSubscription).
func daysBetween(a, b time.Time) int {
	return int((b.Unix() - a.Unix()) / (24 * 60 * 60))
}

// periodStart returns the first day of period k.
func (r Rule) periodStart(start time.Time, k int) time.Time {
	n := k * r.Interval
	switch r.Freq {
	case Daily:
		return start.AddDate(0, 0, n)
	case Weekly:
		return weekStart(start, r.WeekStart).AddDate(0, 0, 7*n)
	case Monthly:
		return time.Date(start.Year(), start.Month()+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	default:
		return time.Date(start.Year()+n, 1, 1, 0, 0, 0, 0, time.UTC)
	}
}

func weekStart(d time.Time, wkst time.Weekday) time.Time {
	back := (int(d.Weekday()) - int(wkst) + 7) % 7
	return d.AddDate(0, 0, -back)
}

// period returns the sorted dates of the period that begins on ps.
func (r Rule) period(start, ps time.Time) []time.Time {
	var set []time.Time
	switch r.Freq {
	case Daily:
		if r.monthOK(ps.Month()) && r.monthDayOK(ps) && r.weekdayOK(ps) {
			set = append(set, ps)
		}
	case Weekly:
		for i := 0; i < 7; i++ {
			d := ps.AddDate(0, 0, i)
			if !r.monthOK(d.Month()) {
				continue
			}
			if len(r.ByDay) == 0 && d.Weekday() == start.Weekday() || len(r.ByDay) > 0 && r.weekdayOK(d) {
				set = append(set, d)
			}
		}
	case Monthly:
		if r.monthOK(ps.Month()) {
			set = r.monthDates(start, ps.Year(), ps.Month())
		}
	case Yearly:
		months := []time.Month{start.Month()}
		if len(r.ByMonth) > 0 {
			months = months[:0]
			for _, m := range r.ByMonth {
				months = append(months, time.Month(m))
			}
		} else if len(r.ByMonthDay) > 0 {
			months = months[:0]
			for m := time.January; m <= time.December; m++ {
				months = append(months, m)
			}
		}
		for _, m := range months {
			set = append(set, r.monthDates(start, ps.Year(), m)...)
		}
	}
	if len(r.BySetPos) == 0 || len(set) == 0 {
		return set
	}
	var picked []time.Time
	for _, p := range r.BySetPos {
		i := p - 1
		if p < 0 {
			i = len(set) + p
		}
		if i >= 0 && i < len(set) {
			picked = append(picked, set[i])
		}
	}
	slices.SortFunc(picked, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(picked, func(a, b time.Time) bool { return a.Equal(b) })
}

// monthDates returns the sorted dates of one month that BYMONTHDAY and
// BYDAY choose; without either, the day of the month of start (none when
// the month is too short: RFC 5545 skips such dates).
func (r Rule) monthDates(start time.Time, y int, m time.Month) []time.Time {
	dim := daysIn(y, m)
	var days []int
	switch {
	case len(r.ByMonthDay) > 0:
		for _, n := range r.ByMonthDay {
			if d := resolveMonthDay(n, dim); d > 0 {
				days = append(days, d)
			}
		}
		if len(r.ByDay) > 0 {
			days = slices.DeleteFunc(days, func(d int) bool {
				return !slices.Contains(r.byDayOfMonth(y, m, dim), d)
			})
		}
	case len(r.ByDay) > 0:
		days = r.byDayOfMonth(y, m, dim)
	default:
		if d := start.Day(); d <= dim {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	days = slices.Compact(days)
	out := make([]time.Time, len(days))
	for i, d := range days {
		out[i] = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return out
}

// byDayOfMonth expands BYDAY inside one month: every such weekday, or the
// numbered one (1MO, -1FR).
func (r Rule) byDayOfMonth(y int, m time.Month, dim int) []int {
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday()
	var out []int
	for _, w := range r.ByDay {
		d1 := 1 + (int(w.Day)-int(first)+7)%7 // first such weekday
		var all []int
		for d := d1; d <= dim; d += 7 {
			all = append(all, d)
		}
		switch {
		case w.N == 0:
			out = append(out, all...)
		case w.N > 0 && w.N <= len(all):
			out = append(out, all[w.N-1])
		case w.N < 0 && -w.N <= len(all):
			out = append(out, all[len(all)+w.N])
		}
	}
	return out
}

func resolveMonthDay(n, dim int) int {
	if n > 0 {
		if n > dim {
			return 0
		}
		return n
	}
	if d := dim + 1 + n; d >= 1 {
		return d
	}
	return 0
}

func (r Rule) monthOK(m time.Month) bool {
	return len(r.ByMonth) == 0 || slices.Contains(r.ByMonth, int(m))
}

func (r Rule) monthDayOK(d time.Time) bool {
	if len(r.ByMonthDay) == 0 {
		return true
	}
	dim := daysIn(d.Year(), d.Month())
	for _, n := range r.ByMonthDay {
		if resolveMonthDay(n, dim) == d.Day() {
			return true
		}
	}
	return false
}

func (r Rule) weekdayOK(d time.Time) bool {
	if len(r.ByDay) == 0 {
		return true
	}
	for _, w := range r.ByDay {
		if w.Day == d.Weekday() {
			return true
		}
	}
	return false
}
