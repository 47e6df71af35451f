package ogone

import (
	"errors"
	"strings"
)

// Errors of ParseIBAN and ValidBIC.
var (
	ErrIBANFormat   = errors.New("ogone: IBAN has an invalid format")
	ErrIBANCountry  = errors.New("ogone: IBAN country is not a SEPA country")
	ErrIBANLength   = errors.New("ogone: IBAN has the wrong length for its country")
	ErrIBANChecksum = errors.New("ogone: IBAN check digits are wrong")
)

// ibanLengths are the IBAN lengths of the SEPA scheme countries and
// territories (EPC409 "SEPA countries"; lengths from the SWIFT IBAN
// registry). Direct debits are SEPA only, so other IBAN countries are
// refused.
var ibanLengths = map[string]int{
	"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
	"ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26,
	"IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
	"PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22,
}

// IBAN is a validated International Bank Account Number in its electronic
// form (no spaces, uppercase). It prints masked.
type IBAN struct{ s string }

// ParseIBAN validates an IBAN typed by a person: spaces are ignored, letters
// may be lowercase. It checks the country, its length and the ISO 7064
// mod-97 check digits.
func ParseIBAN(in string) (IBAN, error) {
	if len(in) > 64 {
		return IBAN{}, ErrIBANFormat
	}
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == ' ' || c == '-':
		case c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			return IBAN{}, ErrIBANFormat
		}
	}
	s := b.String()
	if len(s) < 5 || !isUpper(s[0]) || !isUpper(s[1]) || !isDigit(s[2]) || !isDigit(s[3]) {
		return IBAN{}, ErrIBANFormat
	}
	n, ok := ibanLengths[s[:2]]
	if !ok {
		return IBAN{}, ErrIBANCountry
	}
	if len(s) != n {
		return IBAN{}, ErrIBANLength
	}
	if mod97(s[4:]+s[:4]) != 1 {
		return IBAN{}, ErrIBANChecksum
	}
	return IBAN{s: s}, nil
}

// mod97 computes the ISO 7064 MOD 97-10 remainder, letters counting as
// 10 (A) to 35 (Z), digit by digit so no big integers are needed.
func mod97(s string) int {
	r := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			v := int(c-'A') + 10
			r = (r*100 + v) % 97
		}
	}
	return r
}

// Reveal returns the full IBAN: only for sealing it in the vault.
func (i IBAN) Reveal() string { return i.s }

// Country returns the two-letter country code.
func (i IBAN) Country() string { return i.s[:2] }

// IsZero reports whether i is the zero IBAN.
func (i IBAN) IsZero() bool { return i.s == "" }

// Masked keeps the country, check digits and the last four characters:
// "DE89XXXXXXXXXXXXXX3000".
func (i IBAN) Masked() string { return MaskIBAN(i.s) }

// String prints the masked form, so an IBAN never reaches a log in clear.
func (i IBAN) String() string { return i.Masked() }

// MaskIBAN masks an IBAN as Masked does.
func MaskIBAN(s string) string {
	if len(s) <= 8 {
		return strings.Repeat("X", len(s))
	}
	return s[:4] + strings.Repeat("X", len(s)-8) + s[len(s)-4:]
}

// ValidBIC reports whether s has the ISO 9362 form: 4 letters (bank), 2
// letters (country), 2 letters or digits (location), optionally 3 letters
// or digits (branch).
func ValidBIC(s string) bool {
	if len(s) != 8 && len(s) != 11 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i < 6:
			if !isUpper(c) {
				return false
			}
		default:
			if !isUpper(c) && !isDigit(c) {
				return false
			}
		}
	}
	return true
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
