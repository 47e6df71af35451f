// Package card holds card data types that cannot leak: a PAN prints,
// logs and marshals only in its masked form, and a security code never
// prints at all. It also validates numbers (ParsePAN), detects brands from
// the IIN (DetectBrands) and parses expiry dates (ParseExpiry).
package card

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strconv"
)

// PAN is a primary account number. Its zero value is invalid. Every way Go
// has of printing or encoding a value (fmt verbs, slog, JSON, text) yields
// the masked form; the digits come out only through Reveal, which the vault
// and the acquirer connectors call and nothing else should.
//
// The digits sit behind a pointer on purpose: when a PAN is an unexported
// field of some other struct, fmt cannot call its methods and prints the
// struct's fields by reflection instead; a pointer found that way prints as
// an address, where a plain string field would print the digits in clear.
// Because of that pointer, compare PANs with Equal, not ==.
type PAN struct {
	digits *string
}

func newPAN(digits string) PAN { return PAN{digits: &digits} }

func (p PAN) clear() string {
	if p.digits == nil {
		return ""
	}
	return *p.digits
}

// Reveal returns the digits in clear. Callers: the vault (to encrypt and
// fingerprint) and acquirer connectors (to authorize). Never log the result.
func (p PAN) Reveal() string { return p.clear() }

// IsZero reports whether p holds no number.
func (p PAN) IsZero() bool { return p.clear() == "" }

// Equal reports whether p and q hold the same digits, in constant time for
// numbers of equal length.
func (p PAN) Equal(q PAN) bool {
	return subtle.ConstantTimeCompare([]byte(p.clear()), []byte(q.clear())) == 1
}

// BIN returns the first six digits (the issuer identification number).
func (p PAN) BIN() string {
	d := p.clear()
	if len(d) < 6 {
		return ""
	}
	return d[:6]
}

// Last4 returns the last four digits.
func (p PAN) Last4() string {
	d := p.clear()
	if len(d) < 4 {
		return ""
	}
	return d[len(d)-4:]
}

// Masked returns the first six and last four digits with X between them:
// 4970100000000055 → 497010XXXXXX0055 (the PayZen format). Numbers shorter
// than 10 digits (never produced by ParsePAN) mask entirely as "XXXX".
func (p PAN) Masked() string {
	d := p.clear()
	n := len(d)
	if n < 10 {
		return "XXXX"
	}
	b := []byte(d)
	for i := 6; i < n-4; i++ {
		b[i] = 'X'
	}
	return string(b)
}

// String returns the masked form.
func (p PAN) String() string { return p.Masked() }

// GoString returns the masked form, so %#v does not leak the digits.
func (p PAN) GoString() string { return "card.PAN(" + p.Masked() + ")" }

// Format makes every fmt verb print the masked form (%q quoted, %#v as GoString).
func (p PAN) Format(f fmt.State, verb rune) {
	s := p.Masked()
	switch {
	case verb == 'q':
		s = strconv.Quote(s)
	case verb == 'v' && f.Flag('#'):
		s = p.GoString()
	}
	_, _ = f.Write([]byte(s))
}

// LogValue makes slog print the masked form.
func (p PAN) LogValue() slog.Value { return slog.StringValue(p.Masked()) }

// MarshalJSON encodes the masked form.
func (p PAN) MarshalJSON() ([]byte, error) { return []byte(`"` + p.Masked() + `"`), nil }

// MarshalText encodes the masked form.
func (p PAN) MarshalText() ([]byte, error) { return []byte(p.Masked()), nil }

// SecurityCode is a card verification code (CVV2/CVC2/CID). It exists only in
// memory for one authorization: it prints as "XXX" everywhere and has no
// storage path in the vault. Like PAN, it keeps its digits behind a pointer
// so that reflection-based printing of an enclosing struct cannot show them.
type SecurityCode struct {
	digits *string
}

// NewSecurityCode wraps a security code of 3 or 4 digits.
func NewSecurityCode(s string) (SecurityCode, error) {
	if len(s) < 3 || len(s) > 4 {
		return SecurityCode{}, fmt.Errorf("card: security code must have 3 or 4 digits")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return SecurityCode{}, fmt.Errorf("card: security code must be numeric")
		}
	}
	return SecurityCode{digits: &s}, nil
}

// Reveal returns the digits; only acquirer connectors call it.
func (c SecurityCode) Reveal() string {
	if c.digits == nil {
		return ""
	}
	return *c.digits
}

// IsZero reports whether no code was given.
func (c SecurityCode) IsZero() bool { return c.Reveal() == "" }

// String returns "XXX".
func (c SecurityCode) String() string { return "XXX" }

// GoString returns a placeholder without the digits.
func (c SecurityCode) GoString() string { return "card.SecurityCode(XXX)" }

// Format makes every fmt verb print "XXX".
func (c SecurityCode) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("XXX")) }

// LogValue makes slog print "XXX".
func (c SecurityCode) LogValue() slog.Value { return slog.StringValue("XXX") }

// MarshalJSON encodes "XXX".
func (c SecurityCode) MarshalJSON() ([]byte, error) { return []byte(`"XXX"`), nil }

// MarshalText encodes "XXX".
func (c SecurityCode) MarshalText() ([]byte, error) { return []byte("XXX"), nil }
