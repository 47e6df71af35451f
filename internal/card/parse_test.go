package card

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParsePANBrands(t *testing.T) {
	tests := []struct {
		pan    string
		brands []Brand
	}{
		{"4970100000000055", []Brand{CB, Visa}}, // PayZen test card (compat.md §1.10)
		{"4970101000001002", []Brand{CB, Visa}}, // PayZen token test card
		{"4970110000000005", []Brand{CB, Visa}},
		{"4111111111111111", []Brand{Visa}},
		{"4111111111119", []Brand{Visa}},       // 13 digits
		{"4111111111111111110", []Brand{Visa}}, // 19 digits
		{"4175000000000001", []Brand{VisaElectron}},
		{"4026000000000002", []Brand{VisaElectron}},
		{"4508000000000009", []Brand{VisaElectron}},
		{"4844000000000002", []Brand{VisaElectron}},
		{"4913000000000008", []Brand{VisaElectron}},
		{"4917000000000004", []Brand{VisaElectron}},
		{"5555555555554444", []Brand{Mastercard}},
		{"2221000000000009", []Brand{Mastercard}},
		{"2720999999999996", []Brand{Mastercard}},
		{"378282246310005", []Brand{Amex}},
		{"340000000000009", []Brand{Amex}},
		{"30569309025904", []Brand{Diners}},
		{"3056930902590004", []Brand{Diners}},
		{"36000000000008", []Brand{Diners}},
		{"38000000000006", []Brand{Diners}},
		{"3530111333300000", []Brand{JCB}},
		{"358900000000000003", []Brand{JCB}},
		{"6011000000000004", []Brand{Discover}},
		{"6440000000000005", []Brand{Discover}},
		{"6500000000000002", []Brand{Discover}},
		{"6200000000000005", []Brand{UnionPay}},
		{"8100000000000002", []Brand{UnionPay}},
		{"500000000009", []Brand{Maestro}}, // 12 digits
		{"5600000000000003", []Brand{Maestro}},
		{"6012000000000003", []Brand{Maestro}}, // 60 but not 6011
		{"6400000000000003", []Brand{Maestro}}, // 640–643 is not Discover
		{"6767700000000005", []Brand{Maestro}},
		{"6311111111111111114", []Brand{Maestro}}, // 19 digits
		{"690000000008", []Brand{Maestro}},
		{"4970990000000000", []Brand{CONECS, Visa}},       // OpenPSP test range
		{"5555990000000000", []Brand{CONECS, Mastercard}}, // OpenPSP test range
		{"9000000000000001", nil},                         // unknown brand: accepted
		{"2200000000000004", nil},                         // 2200 is below Mastercard's 2221
	}
	for _, tt := range tests {
		p, err := ParsePAN(tt.pan)
		if err != nil {
			t.Errorf("ParsePAN(%s): %v", tt.pan, err)
			continue
		}
		if got := p.Brands(); !slices.Equal(got, tt.brands) {
			t.Errorf("%s: brands %v, want %v", tt.pan, got, tt.brands)
		}
		if p.Reveal() != tt.pan {
			t.Errorf("%s: Reveal %s", tt.pan, p.Reveal())
		}
	}
}

func TestParsePANCoBadgedCB(t *testing.T) {
	p, err := ParsePAN("4970100000000055")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Brands(); !slices.Equal(got, []Brand{CB, Visa}) {
		t.Errorf("brands %v", got)
	}
	if p.Brand() != CB {
		t.Errorf("effective brand %s", p.Brand())
	}
	if p.Masked() != "497010XXXXXX0055" || p.String() != "497010XXXXXX0055" {
		t.Errorf("masked %s", p.Masked())
	}
}

func TestParsePANErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrInvalidNumber},
		{"   ", ErrInvalidNumber},
		{"- -", ErrInvalidNumber},
		{"4970100000000055\n", ErrInvalidNumber},
		{"4970\t1000 0000 0055", ErrInvalidNumber},
		{"4970.1000.0000.0055", ErrInvalidNumber},
		{"+4970100000000055", ErrInvalidNumber},
		{"497010000000005５", ErrInvalidNumber}, // full-width digit
		{"4970x00000000055", ErrInvalidNumber},
		{strings.Repeat(" ", 60) + "4970100000000055", ErrInvalidNumber}, // longer than any real input
		{"4970100000000056", ErrLuhn},
		{"4970100000000054", ErrLuhn},
		{"5555555555554445", ErrLuhn},
		{"378282246310006", ErrLuhn},
		{"49701000006", ErrLength},              // 11 digits
		{"41111111111111111111", ErrLength},     // 20 digits
		{"40260000000002", ErrLength},           // VISA_ELECTRON: 16 only
		{"41111111111111", ErrLength},           // VISA, 14 digits (Luhn-valid? checked below)
		{"3782822463100053", ErrLength},         // AMEX, 16 digits
		{"37828224631004", ErrLength},           // AMEX, 14 digits
		{"55555555555544", ErrLength},           // MASTERCARD, 14 digits
		{"35280000000007", ErrLength},           // JCB 14
		{"6011000000004", ErrLength},            // DISCOVER 13
		{"620000000000000", ErrLength},          // UNION_PAY 15
		{"3600000000008", ErrLength},            // DINERS 13
		{"49701000000006", ErrLength},           // CB+VISA, 14 digits
		{"497011000000007", ErrLength},          // CB+VISA, 15 digits
		{"1234-5678-9012-3456-7890", ErrLength}, // 20 digits
	}
	for _, tt := range tests {
		in := fixLuhn(t, tt.in, tt.want)
		_, err := ParsePAN(in)
		if !errors.Is(err, tt.want) {
			t.Errorf("ParsePAN(%q) = %v, want %v", in, err, tt.want)
		}
		for _, other := range []error{ErrInvalidNumber, ErrLuhn, ErrLength} {
			if other != tt.want && errors.Is(err, other) {
				t.Errorf("ParsePAN(%q) = %v, also matches %v", in, err, other)
			}
		}
	}
}

// fixLuhn makes a length-error case Luhn-valid, so it fails on its length and
// not on its check digit; other cases are returned unchanged.
func fixLuhn(t *testing.T, s string, want error) string {
	t.Helper()
	if want != ErrLength {
		return s
	}
	d := strings.ReplaceAll(s, "-", "")
	if len(d) < 12 || len(d) > 19 || luhnValid(d) {
		return s
	}
	for c := byte('0'); c <= '9'; c++ {
		cand := d[:len(d)-1] + string(c)
		if luhnValid(cand) {
			return cand
		}
	}
	t.Fatalf("no check digit for %s", s)
	return ""
}

func TestParsePANMaestroLengths(t *testing.T) {
	// Maestro issues every length from 12 to 19.
	for n := 12; n <= 19; n++ {
		d := fixLuhn(t, "6"+strings.Repeat("3", n-1), ErrLength)
		if _, err := ParsePAN(d); err != nil {
			t.Errorf("%d digits: %v", n, err)
		}
	}
}

func TestParsePANSeparators(t *testing.T) {
	for _, s := range []string{"4970 1000 0000 0055", "4970-1000-0000-0055", " 4970100000000055 ", "4970 - 1000 - 0000 - 0055", "49 70 10 00 00 00 00 55"} {
		p, err := ParsePAN(s)
		if err != nil || p.Reveal() != "4970100000000055" {
			t.Errorf("ParsePAN(%q) = %v", s, err)
		}
	}
}

func TestDetectBrandsPrecedence(t *testing.T) {
	tests := []struct {
		digits string
		want   []Brand
	}{
		{"4", []Brand{Visa}},
		{"4026", []Brand{VisaElectron}},
		{"402", []Brand{Visa}}, // not enough digits for 4026 yet
		{"417500", []Brand{VisaElectron}},
		{"417501", []Brand{Visa}},
		{"6011", []Brand{Discover}},
		{"6010", []Brand{Maestro}},
		{"644", []Brand{Discover}},
		{"643", []Brand{Maestro}},
		{"65", []Brand{Discover}},
		{"62", []Brand{UnionPay}},
		{"622126", []Brand{UnionPay}}, // Discover-processed UnionPay range
		{"6759", []Brand{Maestro}},
		{"50", []Brand{Maestro}},
		{"51", []Brand{Mastercard}},
		{"55", []Brand{Mastercard}},
		{"2220", nil},
		{"2221", []Brand{Mastercard}},
		{"2720", []Brand{Mastercard}},
		{"2721", nil},
		{"305", []Brand{Diners}},
		{"306", nil},
		{"3527", nil},
		{"3528", []Brand{JCB}},
		{"3589", []Brand{JCB}},
		{"3590", nil},
		{"35", nil},
		{"497010", []Brand{CB, Visa}},
		{"497012", []Brand{Visa}},
		{"4970", []Brand{Visa}}, // too short for the CB BIN
		{"", nil},
		{"4970 1000", nil}, // digits only
		{"x", nil},
		{"１", nil},
	}
	for _, tt := range tests {
		if got := DetectBrands(tt.digits); !slices.Equal(got, tt.want) {
			t.Errorf("DetectBrands(%q) = %v, want %v", tt.digits, got, tt.want)
		}
	}
}

// TestIINTableNoSameLengthOverlap keeps precedence well defined: with the
// longest prefix winning, two rows of equal prefix length must not overlap,
// and every row must be a well-formed range.
func TestIINTableNoSameLengthOverlap(t *testing.T) {
	for i, a := range iinTable {
		if len(a.lo) != len(a.hi) || !allDigits(a.lo) || !allDigits(a.hi) || a.lo > a.hi || a.lengths == 0 {
			t.Errorf("malformed row %+v", a)
		}
		for _, b := range iinTable[i+1:] {
			if len(a.lo) == len(b.lo) && a.lo <= b.hi && b.lo <= a.hi {
				t.Errorf("rows %s-%s %s and %s-%s %s overlap", a.lo, a.hi, a.brand, b.lo, b.hi, b.brand)
			}
		}
		if _, ok := ParseBrand(string(a.brand)); !ok {
			t.Errorf("row brand %s unknown to ParseBrand", a.brand)
		}
	}
}

// withBins runs f and then restores the BIN registries.
func withBins(f func()) {
	cb, conecs := cbBins.Load(), conecsBins.Load()
	defer func() { cbBins.Store(cb); conecsBins.Store(conecs) }()
	f()
}

func TestRegisterBins(t *testing.T) {
	withBins(func() {
		mc2 := fixLuhn(t, "5132000000000000", ErrLength) // a Luhn-valid Mastercard
		if got := DetectBrands(mc2); !slices.Equal(got, []Brand{Mastercard}) {
			t.Fatalf("before: %v", got)
		}
		if err := RegisterCBBins("513200", "4111"); err != nil {
			t.Fatal(err)
		}
		if got := DetectBrands(mc2); !slices.Equal(got, []Brand{CB, Mastercard}) {
			t.Errorf("after: %v", got)
		}
		if got := DetectBrands("4111111111111111"); !slices.Equal(got, []Brand{CB, Visa}) {
			t.Errorf("4-digit BIN: %v", got)
		}
		if got := DetectBrands("4970100000000055"); !slices.Equal(got, []Brand{CB, Visa}) {
			t.Errorf("defaults lost: %v", got)
		}
		// CONECS and CB together: CONECS first.
		if err := RegisterCONECSBins("51320000"); err != nil {
			t.Fatal(err)
		}
		if got := DetectBrands(mc2); !slices.Equal(got, []Brand{CONECS, CB, Mastercard}) {
			t.Errorf("conecs+cb: %v", got)
		}
		// Invalid input registers nothing.
		for _, bad := range [][]string{{"123"}, {"123456789"}, {"41a1"}, {"517000", ""}, {"4970100000000055"}} {
			err := RegisterCBBins(bad...)
			if err == nil {
				t.Errorf("RegisterCBBins(%q) accepted", bad)
			} else if strings.Contains(err.Error(), "4970100000000055") {
				t.Errorf("error echoes input: %v", err)
			}
		}
		if got := DetectBrands("5170000000000000"); slices.Contains(got, CB) {
			t.Errorf("partial registration: %v", got)
		}
	})
	// Restored.
	if got := DetectBrands("4111111111111111"); !slices.Equal(got, []Brand{Visa}) {
		t.Errorf("restore: %v", got)
	}
}

func TestRegisterBinsConcurrent(t *testing.T) {
	withBins(func() {
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			go func(i int) {
				errs <- RegisterCBBins("51" + string(rune('0'+i)) + "000")
			}(i)
		}
		for i := 0; i < 8; i++ {
			if err := <-errs; err != nil {
				t.Error(err)
			}
			DetectBrands("5100000000000008")
		}
		for i := 0; i < 8; i++ {
			d := "51" + string(rune('0'+i)) + "000"
			if !slices.Contains(DetectBrands(d), CB) {
				t.Errorf("lost registration %s", d)
			}
		}
	})
}

func TestParseBrandAndFamily(t *testing.T) {
	for _, s := range []string{"VISA", "VISA_ELECTRON", "MASTERCARD", "MAESTRO", "AMEX", "CB", "CONECS", "DISCOVER", "DINERS", "JCB", "UNION_PAY", "EDENRED", "SODEXO", "APETIZ", "CHQ_DEJ"} {
		if b, ok := ParseBrand(s); !ok || string(b) != s {
			t.Errorf("ParseBrand(%s)", s)
		}
	}
	for _, s := range []string{"", "visa", "UNIONPAY", "E-CARTEBLEUE"} {
		if _, ok := ParseBrand(s); ok {
			t.Errorf("ParseBrand(%q) accepted", s)
		}
	}
	for _, b := range []Brand{Edenred, Sodexo, Apetiz, ChqDej, CONECS} {
		if b.Family() != CONECS {
			t.Errorf("%s family %s", b, b.Family())
		}
	}
	if Visa.Family() != Visa || CB.Family() != CB {
		t.Error("family of a network brand")
	}
}
