package card

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func FuzzParsePAN(f *testing.F) {
	for _, s := range []string{
		"4970100000000055", "4970 1000 0000 0055", "4970-1000-0000-0055", "378282246310005", "5555555555554444",
		"6011000000000004", "500000000009", "4111111111111111110", "9000000000000001", "", " ", "-", "4970100000000056",
		"49701000000000550000", "4970x00000000055", "１２３", "\x00", strings.Repeat("4", 70), "0000000000000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePAN(s)
		if err != nil {
			if !p.IsZero() {
				t.Fatal("error with a non-zero PAN")
			}
			if !errors.Is(err, ErrInvalidNumber) && !errors.Is(err, ErrLength) && !errors.Is(err, ErrLuhn) {
				t.Fatalf("unclassified error %v", err)
			}
			// An error never repeats the input's digits (beyond short runs
			// that could be the lengths it quotes).
			digits := strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, s)
			if len(digits) >= 6 && strings.Contains(err.Error(), digits) {
				t.Fatalf("error %q contains the digits", err)
			}
			return
		}
		d := p.Reveal()
		if len(d) < 12 || len(d) > 19 || !allDigits(d) || !luhnValid(d) {
			t.Fatalf("accepted %q as %q", s, d)
		}
		m := p.Masked()
		if len(m) != len(d) || m[:6] != d[:6] || m[len(m)-4:] != d[len(d)-4:] || m[:6] != p.BIN() || m[len(m)-4:] != p.Last4() {
			t.Fatalf("masked %q does not match", m)
		}
		if strings.Trim(m[6:len(m)-4], "X") != "" || m == d {
			t.Fatalf("masked %q shows digits", m)
		}
		if p.String() != m || p.Masked() == p.Reveal() {
			t.Fatal("String is not masked")
		}
		// Separators do not change the number.
		q, err := ParsePAN(d)
		if err != nil || !q.Equal(p) {
			t.Fatalf("re-parse: %v", err)
		}
		if b := p.Brands(); !slices.Equal(b, DetectBrands(d)) {
			t.Fatal("Brands differs from DetectBrands")
		}
	})
}

func FuzzDetectBrands(f *testing.F) {
	for _, s := range []string{"", "4", "4970100000000055", "6011", "622126", "2720", "35", "x", "4970 1000", "676774", "81", "5555990000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := DetectBrands(s)
		if !allDigits(s) {
			if b != nil {
				t.Fatalf("brands %v for non-digits", b)
			}
			return
		}
		// At most one network brand, last; CB and CONECS only before it.
		for i, x := range b {
			if _, ok := ParseBrand(string(x)); !ok {
				t.Fatalf("unknown brand %s", x)
			}
			if (x == CB || x == CONECS) == (i == len(b)-1 && network(s) != nil) {
				t.Fatalf("bad order %v", b)
			}
		}
		seen := map[Brand]bool{}
		for _, x := range b {
			if seen[x] {
				t.Fatalf("duplicate in %v", b)
			}
			seen[x] = true
		}
		// Detection only looks at a prefix: more digits can only refine it.
		if r := network(s); r != nil {
			if r2 := network(s + "0000000000000000000"); r2 == nil || len(r2.lo) < len(r.lo) {
				t.Fatalf("longer number lost its network")
			}
		}
	})
}

func FuzzParseExpiry(f *testing.F) {
	for _, s := range [][2]string{{"03", "30"}, {"3", "2030"}, {"12", "99"}, {"00", "00"}, {"13", "2100"}, {"", ""}, {"1", "1999"}, {"-1", "+30"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, m, y string) {
		e, err := ParseExpiry(m, y)
		if err != nil {
			if !errors.Is(err, ErrInvalidExpiry) || !e.IsZero() {
				t.Fatalf("error %v with %+v", err, e)
			}
			return
		}
		if e.Month < 1 || e.Month > 12 || e.Year < 2000 || e.Year > 2099 {
			t.Fatalf("accepted %+v", e)
		}
		mmyy := e.MMYY()
		if len(mmyy) != 4 {
			t.Fatalf("MMYY %q", mmyy)
		}
		e2, err := ParseExpiry(mmyy[:2], mmyy[2:])
		if err != nil || e2 != e {
			t.Fatalf("MMYY %q re-parses to %+v, %v", mmyy, e2, err)
		}
	})
}
