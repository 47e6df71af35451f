package card

import (
	"errors"
	"testing"
	"time"
)

func TestParseExpiry(t *testing.T) {
	good := []struct {
		m, y string
		want Expiry
		mmyy string
	}{
		{"03", "30", Expiry{3, 2030}, "0330"},
		{"3", "2030", Expiry{3, 2030}, "0330"},
		{"12", "99", Expiry{12, 2099}, "1299"},
		{"01", "00", Expiry{1, 2000}, "0100"},
		{"11", "2025", Expiry{11, 2025}, "1125"},
	}
	for _, tt := range good {
		e, err := ParseExpiry(tt.m, tt.y)
		if err != nil || e != tt.want || e.MMYY() != tt.mmyy {
			t.Errorf("ParseExpiry(%q, %q) = %+v %v %s", tt.m, tt.y, e, err, e.MMYY())
		}
	}
	bad := [][2]string{
		{"0", "30"}, {"00", "30"}, {"13", "30"}, {"012", "30"}, {"", "30"}, {"1a", "30"}, {"-1", "30"}, {" 1", "30"},
		{"03", ""}, {"03", "3"}, {"03", "030"}, {"03", "1999"}, {"03", "2100"}, {"03", "+030"}, {"03", "20 3"}, {"03", "２０"},
	}
	for _, b := range bad {
		if e, err := ParseExpiry(b[0], b[1]); !errors.Is(err, ErrInvalidExpiry) {
			t.Errorf("ParseExpiry(%q, %q) = %+v, %v", b[0], b[1], e, err)
		}
	}
	if !(Expiry{}).IsZero() || (Expiry{3, 2030}).IsZero() {
		t.Error("IsZero")
	}
}

func TestExpiryExpired(t *testing.T) {
	e := Expiry{Month: 3, Year: 2030}
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tt := range []struct {
		now     time.Time
		expired bool
	}{
		{utc("2029-12-31T23:59:59Z"), false},
		{utc("2030-03-01T00:00:00Z"), false},
		{utc("2030-03-31T23:59:59.999999999Z"), false}, // valid through the last day
		{utc("2030-04-01T00:00:00Z"), true},
		{utc("2031-01-01T00:00:00Z"), true},
		{utc("2031-02-01T00:00:00Z"), true}, // later year, earlier month
	} {
		if got := e.Expired(tt.now); got != tt.expired {
			t.Errorf("Expired(%s) = %v", tt.now, got)
		}
	}
	// Compared in now's location: at 2030-04-01T01:00+02:00 it is still March in UTC,
	// but April where the caller stands.
	paris := time.FixedZone("CEST", 2*3600)
	if !e.Expired(time.Date(2030, 4, 1, 1, 0, 0, 0, paris)) || e.Expired(time.Date(2030, 4, 1, 1, 0, 0, 0, paris).UTC()) {
		t.Error("location handling")
	}
	// December rolls into the next year.
	dec := Expiry{Month: 12, Year: 2030}
	if dec.Expired(utc("2030-12-31T23:59:59Z")) || !dec.Expired(utc("2031-01-01T00:00:00Z")) {
		t.Error("december")
	}
}
