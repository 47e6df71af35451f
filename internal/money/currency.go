// Package money handles amounts as int64 counts of a currency's minor unit
// (cents for EUR, yen for JPY, fils for KWD) and the ISO 4217 facts needed to
// read, write and show them.
package money

import "sort"

// Currency is an ISO 4217 currency.
type Currency struct {
	Code     string // alphabetic code, "EUR"
	Numeric  string // numeric code, three digits, "978"
	Exponent int    // digits of the minor unit: 2 for EUR, 0 for JPY, 3 for KWD
}

// currencies is the ISO 4217 table (list one, exponents as ISO publishes
// them): every currency in use in Europe, the ones PayZen lists, and the
// usual world currencies. Where a PSP differs from ISO we follow ISO and the
// adapter converts: PayZen's plugin table gives CNY an exponent of 1 (ISO: 2).
var currencies = []Currency{
	// Europe
	{"EUR", "978", 2},
	{"GBP", "826", 2},
	{"CHF", "756", 2},
	{"SEK", "752", 2},
	{"NOK", "578", 2},
	{"DKK", "208", 2},
	{"ISK", "352", 0},
	{"PLN", "985", 2},
	{"CZK", "203", 2},
	{"HUF", "348", 2},
	{"RON", "946", 2},
	{"BGN", "975", 2},
	{"ALL", "008", 2},
	{"BAM", "977", 2},
	{"MKD", "807", 2},
	{"RSD", "941", 2},
	{"MDL", "498", 2},
	{"UAH", "980", 2},
	{"BYN", "933", 2},
	{"RUB", "643", 2},
	{"TRY", "949", 2},
	{"GEL", "981", 2},
	{"AMD", "051", 2},
	{"AZN", "944", 2},
	{"KZT", "398", 2},
	{"GIP", "292", 2},

	// Americas
	{"USD", "840", 2},
	{"CAD", "124", 2},
	{"MXN", "484", 2},
	{"BRL", "986", 2},
	{"ARS", "032", 2},
	{"CLP", "152", 0},
	{"COP", "170", 2},
	{"PEN", "604", 2},
	{"UYU", "858", 2},
	{"PYG", "600", 0},
	{"BOB", "068", 2},

	// Asia and Pacific
	{"JPY", "392", 0},
	{"KRW", "410", 0},
	{"CNY", "156", 2},
	{"HKD", "344", 2},
	{"TWD", "901", 2},
	{"SGD", "702", 2},
	{"AUD", "036", 2},
	{"NZD", "554", 2},
	{"INR", "356", 2},
	{"PKR", "586", 2},
	{"THB", "764", 2},
	{"MYR", "458", 2},
	{"IDR", "360", 2},
	{"PHP", "608", 2},
	{"VND", "704", 0},
	{"XPF", "953", 0},
	{"VUV", "548", 0},

	// Middle East and Africa
	{"AED", "784", 2},
	{"SAR", "682", 2},
	{"QAR", "634", 2},
	{"ILS", "376", 2},
	{"KWD", "414", 3},
	{"BHD", "048", 3},
	{"JOD", "400", 3},
	{"OMR", "512", 3},
	{"IQD", "368", 3},
	{"LYD", "434", 3},
	{"TND", "788", 3},
	{"MAD", "504", 2},
	{"DZD", "012", 2},
	{"EGP", "818", 2},
	{"ZAR", "710", 2},
	{"NGN", "566", 2},
	{"KES", "404", 2},
	{"MUR", "480", 2},
	{"XOF", "952", 0},
	{"XAF", "950", 0},
	{"GNF", "324", 0},
	{"KMF", "174", 0},
	{"DJF", "262", 0},
	{"RWF", "646", 0},
	{"UGX", "800", 0},
}

var byCode, byNumeric = func() (map[string]Currency, map[string]Currency) {
	a := make(map[string]Currency, len(currencies))
	n := make(map[string]Currency, len(currencies))
	for _, c := range currencies {
		a[c.Code] = c
		n[c.Numeric] = c
	}
	return a, n
}()

// Lookup returns the currency with alphabetic code code ("EUR"; upper case
// only, as ISO 4217 and every wire format OpenPSP speaks write it).
func Lookup(code string) (Currency, bool) {
	c, ok := byCode[code]
	return c, ok
}

// LookupNumeric returns the currency with numeric code code, given as the
// three digits ISO 8583 and PayZen's vads_currency use ("978", "008").
func LookupNumeric(code string) (Currency, bool) {
	c, ok := byNumeric[code]
	return c, ok
}

// Currencies returns every known currency, sorted by code.
func Currencies() []Currency {
	out := append([]Currency(nil), currencies...)
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
