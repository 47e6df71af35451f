package card

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidExpiry is returned by ParseExpiry for anything but a month 1–12
// and a year YY or YYYY (2000–2099).
var ErrInvalidExpiry = errors.New("card: invalid expiry date")

// Expiry is a card's expiry month. Year has four digits.
type Expiry struct {
	Month int
	Year  int
}

// ParseExpiry parses a month ("1"–"12", "01"–"12") and a year ("30" or
// "2030"). Two-digit years are 20YY: cards are issued for at most a few
// years, so there is no century to guess. Four-digit years outside
// 2000–2099 are refused, which keeps MMYY unambiguous.
func ParseExpiry(month, year string) (Expiry, error) {
	m, ok := atoiDigits(month, 1, 2)
	if !ok || m < 1 || m > 12 {
		return Expiry{}, fmt.Errorf("%w: month must be 1 to 12", ErrInvalidExpiry)
	}
	y, ok := atoiDigits(year, 2, 2)
	if ok {
		y += 2000
	} else if y, ok = atoiDigits(year, 4, 4); !ok || y < 2000 || y > 2099 {
		return Expiry{}, fmt.Errorf("%w: year must be YY or YYYY (2000–2099)", ErrInvalidExpiry)
	}
	return Expiry{Month: m, Year: y}, nil
}

// atoiDigits parses between min and max ASCII digits.
func atoiDigits(s string, min, max int) (int, bool) {
	if len(s) < min || len(s) > max {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

// Expired reports whether the card has expired at now. A card is valid
// through the last day of its expiry month, in now's location: with the UTC
// times of clock.Clock, a 03/2030 card expires at 2030-04-01T00:00:00Z.
func (e Expiry) Expired(now time.Time) bool {
	y, m := now.Year(), int(now.Month())
	return y > e.Year || (y == e.Year && m > e.Month)
}

// MMYY returns the expiry as four digits, "0330" for March 2030 (ISO 8583
// field 14 wants YYMM instead: build it from the fields).
func (e Expiry) MMYY() string { return fmt.Sprintf("%02d%02d", e.Month, e.Year%100) }

// IsZero reports whether e holds no date.
func (e Expiry) IsZero() bool { return e == Expiry{} }
