package v4

import (
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/errs"
)

// FuzzDateFields: dateField, the one reader of V4 dates (effectDate,
// terminationDate, cardUpdate.expectedCaptureDate), refuses what is not a
// date with INT_902 naming the field and the value written ("null" when
// nothing is), and takes what is one as the day written there: the
// merchant's calendar date and offset, not the UTC instant's day
// ("2030-04-01T00:00:00+02:00" is April 1, not March 31).
func FuzzDateFields(f *testing.F) {
	for _, s := range []string{"2030-04-01", "2030-04-01T00:00:00+02:00", "2030-04-01T23:59:59-11:00", "2030-04-01T12:00:00",
		"2030-04-01T00:00:00Z", "2030-04-01T00:00:00.123456789Z", "2030-02-30", "2030-13-01", "0000-01-01", "9999-12-31T23:59:59-23:59",
		"2030-4-1", "20300401", "", "null", "2030-04-01t00:00:00z", "2030-04-01 00:00:00", "2030-04-01T24:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, field := range []string{"effectDate", "terminationDate", "cardUpdate.expectedCaptureDate"} {
			d, err := dateField(field, &s)
			if err != nil {
				value := s
				if s == "" {
					value = "null"
				}
				want := invalidField(field, value).(*errs.Error)
				if e, ok := errs.As(err); !ok || *e != *want {
					t.Fatalf("%s=%q: error %#v, want %#v", field, s, err, want)
				}
				continue
			}
			if len(s) < 10 || d.Format("2006-01-02") != s[:10] {
				t.Fatalf("%s=%q read as %s", field, s, d.Format("2006-01-02"))
			}
			// The offset written is kept: the day is the merchant's, and
			// the instant is still the one written.
			if w, perr := time.Parse(time.RFC3339, s); perr == nil {
				_, wantOff := w.Zone()
				if _, off := d.Zone(); off != wantOff || !d.Equal(w) {
					t.Fatalf("%s=%q read as %s", field, s, d)
				}
			}
		}
		if d, err := dateField("effectDate", nil); err == nil || !d.IsZero() {
			t.Fatalf("nil effectDate read as %s, %v", d, err)
		}
	})
}
