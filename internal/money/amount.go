package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Errors of ParseDecimal, told apart with errors.Is.
var (
	ErrSyntax    = errors.New("money: not a decimal amount")
	ErrPrecision = errors.New("money: more decimals than the currency has")
	ErrRange     = errors.New("money: amount out of range")
)

// FormatMinor writes amount (in minor units) as a plain decimal with a point
// and exactly the currency's number of decimals: 1250 EUR → "12.50",
// -5 EUR → "-0.05", 1250 JPY → "1250", 1250 TND → "1.250".
func FormatMinor(amount int64, c Currency) string {
	neg := amount < 0
	u := uint64(amount)
	if neg {
		u = -u // wraps correctly for math.MinInt64
	}
	s := strconv.FormatUint(u, 10)
	if e := c.Exponent; e > 0 {
		if len(s) <= e {
			s = strings.Repeat("0", e-len(s)+1) + s
		}
		s = s[:len(s)-e] + "." + s[len(s)-e:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// maxInput bounds what ParseDecimal reads: int64 has 19 digits, so an
// optional sign, 19 digits and a point leave room to spare.
const maxInput = 48

// ParseDecimal reads a decimal amount and returns it in minor units of c:
// "12.5" EUR → 1250, "12" EUR → 1200, "1250" JPY → 1250. It is strict:
// ASCII digits, an optional leading "-", an optional point followed by at
// least one and at most c.Exponent digits (a point is an error for JPY);
// no "+", no exponent, no spaces, no thousands separators, no ".5" or "5.".
// Leading zeros are allowed. Errors: ErrSyntax, ErrPrecision ("12.505" EUR,
// even "12.500"), ErrRange (beyond int64 once scaled).
func ParseDecimal(s string, c Currency) (int64, error) {
	if s == "" || len(s) > maxInput {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, clip(s))
	}
	neg := s[0] == '-'
	body := s
	if neg {
		body = s[1:]
	}
	intPart, frac, hasPoint := strings.Cut(body, ".")
	if !digitsOnly(intPart) || (hasPoint && !digitsOnly(frac)) {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, clip(s))
	}
	e := c.Exponent
	if e < 0 {
		e = 0
	}
	if len(frac) > e {
		return 0, fmt.Errorf("%w: %q has %d decimals, %s has %d", ErrPrecision, clip(s), len(frac), c.Code, e)
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // math.MinInt64 has one more unit than math.MaxInt64
	}
	var v uint64
	digits := intPart + frac + strings.Repeat("0", e-len(frac))
	for i := 0; i < len(digits); i++ {
		d := uint64(digits[i] - '0')
		if v > (limit-d)/10 {
			return 0, fmt.Errorf("%w: %q", ErrRange, clip(s))
		}
		v = v*10 + d
	}
	if neg {
		return int64(-v), nil // -v wraps to math.MinInt64 for limit
	}
	return int64(v), nil
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clip keeps error messages short whatever the caller sent.
func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}
