package v4

import (
	"strings"
	"testing"
)

// FuzzDateFields: the two readers of V4 dates (effectDate,
// cardUpdate.expectedCaptureDate) refuse what is not a date with the field
// named (INT_902), and take what is one as the day written there: the
// merchant's calendar date, whatever the offset.
func FuzzDateFields(f *testing.F) {
	for _, s := range []string{"2030-04-01", "2030-04-01T00:00:00+02:00", "2030-04-01T23:59:59-11:00", "2030-04-01T12:00:00",
		"2030-04-01T00:00:00Z", "2030-04-01T00:00:00.123456789Z", "2030-02-30", "2030-13-01", "0000-01-01", "9999-12-31T23:59:59-23:59",
		"2030-4-1", "20300401", "", "null", "2030-04-01t00:00:00z", "2030-04-01 00:00:00", "2030-04-01T24:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := dateField("effectDate", &s)
		if err != nil {
			if !strings.Contains(err.Error(), "effectDate") {
				t.Fatalf("%q: error %v does not name the field", s, err)
			}
		} else if len(s) < 10 || d.Format("2006-01-02") != s[:10] {
			t.Fatalf("%q read as %s", s, d.Format("2006-01-02"))
		}
		p, ok := parseDate(s)
		if ok != (err == nil) {
			t.Fatalf("%q: effectDate %v, expectedCaptureDate %v", s, err, ok)
		}
		if ok && (p.Location().String() != "UTC" || !p.Equal(d)) {
			t.Fatalf("%q: expectedCaptureDate %s, effectDate %s", s, p, d)
		}
	})
}
