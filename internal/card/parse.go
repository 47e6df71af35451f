package card

import (
	"errors"
	"fmt"
)

// Errors of ParsePAN, told apart with errors.Is. At the API edge all of them
// mean "invalid card number" (PayZen PSP_026). Their messages never contain
// the number or any part of it.
var (
	ErrInvalidNumber = errors.New("card: invalid card number")
	ErrLength        = errors.New("card: card number has the wrong length")
	ErrLuhn          = errors.New("card: card number fails the Luhn check")
)

// maxInput bounds what ParsePAN reads: 19 digits with a separator between
// each pair is 37 bytes; anything far longer is not a card number.
const maxInput = 64

// ParsePAN validates a card number typed by a person or sent by a merchant.
// It accepts ASCII digits with spaces or dashes anywhere ("4970 1000 0000
// 0055", "4970-1000-0000-0055") and refuses any other character
// (ErrInvalidNumber), fewer than 12 or more than 19 digits (ErrLength), a
// wrong check digit (ErrLuhn), and a length its network brand does not issue
// (ErrLength: AMEX 15, MASTERCARD 16, VISA 13/16/19, …).
//
// A Luhn-valid number of 12–19 digits whose brand is unknown is accepted:
// whether a brand is accepted depends on the merchant's contracts, which
// is for the payment layer to decide (PayZen answers PSP_022 "unknown card
// type" there, not "invalid number"). Check PAN.Brand() == "" for it.
func ParsePAN(s string) (PAN, error) {
	if len(s) > maxInput {
		return PAN{}, fmt.Errorf("%w: too long", ErrInvalidNumber)
	}
	buf := make([]byte, 0, 19)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			buf = append(buf, c)
		case c == ' ' || c == '-':
		default:
			return PAN{}, fmt.Errorf("%w: only digits, spaces and dashes are allowed", ErrInvalidNumber)
		}
	}
	n := len(buf)
	if n == 0 {
		return PAN{}, fmt.Errorf("%w: no digits", ErrInvalidNumber)
	}
	if !unknownLengths.has(n) {
		return PAN{}, fmt.Errorf("%w: card numbers have 12 to 19 digits, got %d", ErrLength, n)
	}
	digits := string(buf)
	if !luhnValid(digits) {
		return PAN{}, ErrLuhn
	}
	if r := network(digits); r != nil && !r.lengths.has(n) {
		return PAN{}, fmt.Errorf("%w: %s numbers have %s digits, got %d", ErrLength, r.brand, r.lengths, n)
	}
	return newPAN(digits), nil
}

// luhnValid reports whether the last digit of digits is its Luhn (mod 10)
// check digit. digits holds only ASCII digits.
func luhnValid(digits string) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
