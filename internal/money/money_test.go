package money

import (
	"errors"
	"math"
	"strconv"
	"testing"
)

func mustLookup(t testing.TB, code string) Currency {
	t.Helper()
	c, ok := Lookup(code)
	if !ok {
		t.Fatalf("Lookup(%s) failed", code)
	}
	return c
}

func TestCurrencyTable(t *testing.T) {
	want := map[string]int{
		"EUR": 2, "USD": 2, "JPY": 0, "KRW": 0, "CHF": 2, "GBP": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2,
		"CZK": 2, "HUF": 2, "RON": 2, "BGN": 2, "ISK": 0, "TND": 3, "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3,
		"CNY": 2, "HKD": 2, "SGD": 2, "AUD": 2, "CAD": 2, "NZD": 2, "MAD": 2, "XOF": 0, "XPF": 0, "BRL": 2,
		"MXN": 2, "PEN": 2, "COP": 2, "ARS": 2, "CLP": 0, "INR": 2, "THB": 2, "MYR": 2, "IDR": 2, "PHP": 2,
		"AED": 2, "SAR": 2, "ILS": 2, "TRY": 2, "ZAR": 2,
		// the rest of Europe
		"ALL": 2, "BAM": 2, "MKD": 2, "RSD": 2, "MDL": 2, "UAH": 2, "BYN": 2, "RUB": 2, "GEL": 2, "AMD": 2,
		"AZN": 2, "KZT": 2, "GIP": 2,
	}
	for code, exp := range want {
		c := mustLookup(t, code)
		if c.Code != code || c.Exponent != exp {
			t.Errorf("%s: %+v, want exponent %d", code, c, exp)
		}
		if n, ok := LookupNumeric(c.Numeric); !ok || n != c {
			t.Errorf("LookupNumeric(%s) = %+v", c.Numeric, n)
		}
	}
	for code, num := range map[string]string{"EUR": "978", "USD": "840", "JPY": "392", "GBP": "826", "CHF": "756", "XOF": "952", "XPF": "953", "TND": "788", "ALL": "008", "BHD": "048"} {
		if c := mustLookup(t, code); c.Numeric != num {
			t.Errorf("%s numeric %s, want %s", code, c.Numeric, num)
		}
	}
	seenCode, seenNum := map[string]bool{}, map[string]bool{}
	for _, c := range Currencies() {
		if len(c.Code) != 3 || len(c.Numeric) != 3 || !digitsOnly(c.Numeric) || c.Exponent < 0 || c.Exponent > 3 {
			t.Errorf("malformed %+v", c)
		}
		for i := 0; i < 3; i++ {
			if c.Code[i] < 'A' || c.Code[i] > 'Z' {
				t.Errorf("code %q not upper case", c.Code)
			}
		}
		if seenCode[c.Code] || seenNum[c.Numeric] {
			t.Errorf("duplicate %+v", c)
		}
		seenCode[c.Code], seenNum[c.Numeric] = true, true
	}
	for _, bad := range []string{"", "eur", "Eur", "EURO", "EU", "XXX", "HRK"} {
		if _, ok := Lookup(bad); ok {
			t.Errorf("Lookup(%q) succeeded", bad)
		}
	}
	for _, bad := range []string{"", "97", "0978", "978 ", "999"} {
		if _, ok := LookupNumeric(bad); ok {
			t.Errorf("LookupNumeric(%q) succeeded", bad)
		}
	}
}

func TestFormatMinor(t *testing.T) {
	eur, jpy, tnd := mustLookup(t, "EUR"), mustLookup(t, "JPY"), mustLookup(t, "TND")
	for _, tt := range []struct {
		amount int64
		c      Currency
		want   string
	}{
		{1250, eur, "12.50"},
		{5, eur, "0.05"},
		{0, eur, "0.00"},
		{-5, eur, "-0.05"},
		{-1250, eur, "-12.50"},
		{100, eur, "1.00"},
		{1250, jpy, "1250"},
		{-1, jpy, "-1"},
		{0, jpy, "0"},
		{1250, tnd, "1.250"},
		{1, tnd, "0.001"},
		{math.MaxInt64, eur, "92233720368547758.07"},
		{math.MinInt64, eur, "-92233720368547758.08"},
		{math.MinInt64, jpy, "-9223372036854775808"},
		{1250, Currency{}, "1250"},
	} {
		if got := FormatMinor(tt.amount, tt.c); got != tt.want {
			t.Errorf("FormatMinor(%d, %s) = %s, want %s", tt.amount, tt.c.Code, got, tt.want)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	eur, jpy, tnd := mustLookup(t, "EUR"), mustLookup(t, "JPY"), mustLookup(t, "TND")
	good := []struct {
		s    string
		c    Currency
		want int64
	}{
		{"12.5", eur, 1250},
		{"12.50", eur, 1250},
		{"12", eur, 1200},
		{"0.05", eur, 5},
		{"-0.05", eur, -5},
		{"-12.5", eur, -1250},
		{"-0", eur, 0},
		{"0012.50", eur, 1250},
		{"1250", jpy, 1250},
		{"-1250", jpy, -1250},
		{"1.25", tnd, 1250},
		{"0.001", tnd, 1},
		{"92233720368547758.07", eur, math.MaxInt64},
		{"-92233720368547758.08", eur, math.MinInt64},
		{"9223372036854775807", jpy, math.MaxInt64},
		{"-9223372036854775808", jpy, math.MinInt64},
	}
	for _, tt := range good {
		got, err := ParseDecimal(tt.s, tt.c)
		if err != nil || got != tt.want {
			t.Errorf("ParseDecimal(%q, %s) = %d, %v; want %d", tt.s, tt.c.Code, got, err, tt.want)
		}
	}
	bad := []struct {
		s    string
		c    Currency
		want error
	}{
		{"", eur, ErrSyntax},
		{"-", eur, ErrSyntax},
		{"+12.50", eur, ErrSyntax},
		{"1e3", eur, ErrSyntax},
		{"1E3", eur, ErrSyntax},
		{"12,50", eur, ErrSyntax},
		{"1,250.00", eur, ErrSyntax},
		{" 12.50", eur, ErrSyntax},
		{"12.50 ", eur, ErrSyntax},
		{".5", eur, ErrSyntax},
		{"5.", eur, ErrSyntax},
		{"1.2.3", eur, ErrSyntax},
		{"--5", eur, ErrSyntax},
		{"-.5", eur, ErrSyntax},
		{"0x10", eur, ErrSyntax},
		{"NaN", eur, ErrSyntax},
		{"Inf", eur, ErrSyntax},
		{"１２", eur, ErrSyntax},
		{"12.505", eur, ErrPrecision},
		{"12.500", eur, ErrPrecision},
		{"12.5", jpy, ErrPrecision},
		{"12.0", jpy, ErrPrecision},
		{"1.2345", tnd, ErrPrecision},
		{"92233720368547758.08", eur, ErrRange},
		{"-92233720368547758.09", eur, ErrRange},
		{"9223372036854775808", jpy, ErrRange},
		{"-9223372036854775809", jpy, ErrRange},
		{"99999999999999999999", jpy, ErrRange},
		{"100000000000000000", eur, ErrRange},
		{"1" + string(make([]byte, 60)), eur, ErrSyntax},
	}
	for _, tt := range bad {
		got, err := ParseDecimal(tt.s, tt.c)
		if !errors.Is(err, tt.want) || got != 0 {
			t.Errorf("ParseDecimal(%q, %s) = %d, %v; want %v", tt.s, tt.c.Code, got, err, tt.want)
		}
	}
}

// The expected strings are what ICU/CLDR answers (Node's Intl.NumberFormat
// with style "currency"), spaces included: U+00A0 before the symbol, U+202F
// between French thousands.
func TestFormatLocale(t *testing.T) {
	for _, tt := range []struct {
		amount     int64
		code, lang string
		want       string
	}{
		{1250, "EUR", "en", "€12.50"},
		{123450, "EUR", "en", "€1,234.50"},
		{1234567, "EUR", "en", "€12,345.67"},
		{-1234567, "EUR", "en", "-€12,345.67"},
		{5, "EUR", "en", "€0.05"},
		{0, "EUR", "en", "€0.00"},
		{1250, "USD", "en", "$12.50"},
		{1250, "GBP", "en", "£12.50"},
		{1250, "JPY", "en", "¥1,250"},
		{12, "JPY", "en", "¥12"},
		{-1250, "CHF", "en", "-CHF\u00a012.50"},
		{1250, "TND", "en", "TND\u00a01.250"},
		{123456789, "KWD", "en", "KWD\u00a0123,456.789"},
		{99999999, "EUR", "en", "€999,999.99"},
		{1250, "EUR", "fr", "12,50\u00a0€"},
		{123450, "EUR", "fr", "1\u202f234,50\u00a0€"},
		{1234567, "EUR", "fr", "12\u202f345,67\u00a0€"},
		{-1234567, "EUR", "fr", "-12\u202f345,67\u00a0€"},
		{5, "EUR", "fr", "0,05\u00a0€"},
		{0, "EUR", "fr", "0,00\u00a0€"},
		{1250, "USD", "fr", "12,50\u00a0$US"},
		{1250, "GBP", "fr", "12,50\u00a0£GB"},
		{1250, "JPY", "fr", "1\u202f250\u00a0JPY"},
		{12, "JPY", "fr", "12\u00a0JPY"},
		{-1250, "CHF", "fr", "-12,50\u00a0CHF"},
		{1250, "TND", "fr", "1,250\u00a0TND"},
		{123456789, "KWD", "fr", "123\u202f456,789\u00a0KWD"},
		{99999999, "EUR", "fr", "999\u202f999,99\u00a0€"},
		{1250, "EUR", "de", "12,50\u00a0€"},
		{123450, "EUR", "de", "1.234,50\u00a0€"},
		{1234567, "EUR", "de", "12.345,67\u00a0€"},
		{-1234567, "EUR", "de", "-12.345,67\u00a0€"},
		{5, "EUR", "de", "0,05\u00a0€"},
		{0, "EUR", "de", "0,00\u00a0€"},
		{1250, "USD", "de", "12,50\u00a0$"},
		{1250, "GBP", "de", "12,50\u00a0£"},
		{1250, "JPY", "de", "1.250\u00a0¥"},
		{12, "JPY", "de", "12\u00a0¥"},
		{-1250, "CHF", "de", "-12,50\u00a0CHF"},
		{1250, "TND", "de", "1,250\u00a0TND"},
		{123456789, "KWD", "de", "123.456,789\u00a0KWD"},
		{99999999, "EUR", "de", "999.999,99\u00a0€"},
		{1250, "EUR", "es", "12,50\u00a0€"},
		{123450, "EUR", "es", "1234,50\u00a0€"},
		{1234567, "EUR", "es", "12.345,67\u00a0€"},
		{-1234567, "EUR", "es", "-12.345,67\u00a0€"},
		{5, "EUR", "es", "0,05\u00a0€"},
		{0, "EUR", "es", "0,00\u00a0€"},
		{1250, "USD", "es", "12,50\u00a0US$"},
		{1250, "GBP", "es", "12,50\u00a0GBP"},
		{1250, "JPY", "es", "1250\u00a0JPY"},
		{12, "JPY", "es", "12\u00a0JPY"},
		{-1250, "CHF", "es", "-12,50\u00a0CHF"},
		{1250, "TND", "es", "1,250\u00a0TND"},
		{123456789, "KWD", "es", "123.456,789\u00a0KWD"},
		{99999999, "EUR", "es", "999.999,99\u00a0€"},
		{1250, "EUR", "it", "12,50\u00a0€"},
		{123450, "EUR", "it", "1234,50\u00a0€"},
		{1234567, "EUR", "it", "12.345,67\u00a0€"},
		{-1234567, "EUR", "it", "-12.345,67\u00a0€"},
		{5, "EUR", "it", "0,05\u00a0€"},
		{0, "EUR", "it", "0,00\u00a0€"},
		{1250, "USD", "it", "12,50\u00a0USD"},
		{1250, "GBP", "it", "12,50\u00a0£"},
		{1250, "JPY", "it", "1250\u00a0JPY"},
		{12, "JPY", "it", "12\u00a0JPY"},
		{-1250, "CHF", "it", "-12,50\u00a0CHF"},
		{1250, "TND", "it", "1,250\u00a0TND"},
		{123456789, "KWD", "it", "123.456,789\u00a0KWD"},
		{99999999, "EUR", "it", "999.999,99\u00a0€"},
		// Tags and fallbacks.
		{1250, "EUR", "fr-FR", "12,50\u00a0€"},
		{1250, "EUR", "FR_ca", "12,50\u00a0€"},
		{1250, "EUR", "", "€12.50"},
		{1250, "EUR", "nl", "€12.50"},
		{math.MinInt64, "EUR", "de", "-92.233.720.368.547.758,08\u00a0€"},
	} {
		if got := FormatLocale(tt.amount, mustLookup(t, tt.code), tt.lang); got != tt.want {
			t.Errorf("FormatLocale(%d, %s, %s) = %q, want %q", tt.amount, tt.code, tt.lang, got, tt.want)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"12.5", "12.50", "-0.05", "0", "-0", "1250", "1.250", "12.505", "+1", "1e3", "", "-",
		"92233720368547758.07", "-92233720368547758.08", "9223372036854775808", "00000000000000000000000001", ".5", "5."} {
		for _, exp := range []uint8{0, 2, 3} {
			f.Add(s, exp)
		}
	}
	f.Fuzz(func(t *testing.T, s string, exp uint8) {
		c := Currency{Code: "T" + strconv.Itoa(int(exp%5)), Exponent: int(exp % 5)}
		v, err := ParseDecimal(s, c)
		if err != nil {
			if v != 0 || !(errors.Is(err, ErrSyntax) || errors.Is(err, ErrPrecision) || errors.Is(err, ErrRange)) {
				t.Fatalf("ParseDecimal(%q) = %d, %v", s, v, err)
			}
			return
		}
		out := FormatMinor(v, c)
		v2, err := ParseDecimal(out, c)
		if err != nil || v2 != v {
			t.Fatalf("%q → %d → %q → %d, %v", s, v, out, v2, err)
		}
		for _, lang := range []string{"en", "fr", "es"} {
			if FormatLocale(v, c, lang) == "" {
				t.Fatal("empty FormatLocale")
			}
		}
	})
}
