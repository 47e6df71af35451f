package ogone

import (
	"strings"

	"github.com/openpsp/openpsp/internal/card"
)

// Payment methods of CARD.PAYMENTMETHOD.
const (
	PMCreditCard = "CreditCard"
	// PMDirectDebit is the generic SEPA direct debit method; the country
	// variants Ogone lists ("Direct Debits DE/NL/AT") are accepted too and
	// returned as sent.
	PMDirectDebit = "Direct Debits"
)

// ogoneBrands spells the card brands as Ogone does in BRAND, CARD.BRAND and
// EXCLUDEDPAYMENTMETHODS, in the order the page lists them.
var ogoneBrands = []struct {
	name  string
	brand card.Brand
}{
	{"VISA", card.Visa},
	{"MasterCard", card.Mastercard},
	{"American Express", card.Amex},
	{"Maestro", card.Maestro},
	{"CB", card.CB},
	{"Diners Club", card.Diners},
	{"JCB", card.JCB},
	{"Discover", card.Discover},
	{"UnionPay", card.UnionPay},
}

// directDebitMethods are the SEPA direct debit payment methods, by their
// normalised name (lowercase, no spaces).
var directDebitMethods = map[string]string{
	"directdebits":    PMDirectDebit,
	"directdebit":     PMDirectDebit,
	"sepadirectdebit": PMDirectDebit,
	"directdebitsde":  "Direct Debits DE",
	"directdebitsnl":  "Direct Debits NL",
	"directdebitsat":  "Direct Debits AT",
}

func normName(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), ""))
}

// BrandName returns Ogone's spelling of a card brand ("" if Ogone has none).
// VISA Electron is reported as VISA, the Titre-Restaurant brands not at all.
func BrandName(b card.Brand) string {
	if b == card.VisaElectron {
		b = card.Visa
	}
	for _, e := range ogoneBrands {
		if e.brand == b {
			return e.name
		}
	}
	return ""
}

// ParseBrand reads an Ogone brand name, ignoring case and spaces
// ("MasterCard", "MASTERCARD", "american express").
func ParseBrand(s string) (card.Brand, string, bool) {
	n := normName(s)
	if n == "" {
		return "", "", false
	}
	for _, e := range ogoneBrands {
		if normName(e.name) == n || strings.ToLower(string(e.brand)) == n {
			return e.brand, e.name, true
		}
	}
	if n == "amex" {
		return card.Amex, "American Express", true
	}
	if n == "diners" {
		return card.Diners, "Diners Club", true
	}
	return "", "", false
}

// directDebit returns the canonical name of a direct debit method.
func directDebit(s string) (string, bool) {
	m, ok := directDebitMethods[normName(s)]
	return m, ok
}

// cardBrandFor picks the brand a card is recorded under: the first of the
// card's brands (co-badged cards have several) that is allowed.
func cardBrandFor(pan card.PAN, allowed func(card.Brand) bool) (card.Brand, bool) {
	for _, b := range pan.Brands() {
		if b == card.VisaElectron {
			b = card.Visa
		}
		if allowed(b) {
			return b, true
		}
	}
	return "", false
}
