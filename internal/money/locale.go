package money

import "strings"

const (
	nbsp  = "\u00a0" // no-break space: between amount and symbol, never wrapped apart
	nnbsp = "\u202f" // narrow no-break space: the French thousands separator
)

// locale is how one language writes an amount, after CLDR (the data behind
// every browser's Intl.NumberFormat): separators, where the symbol goes, and
// the few symbols that are unambiguous in that language. Other currencies
// show their ISO code, which reads correctly everywhere.
type locale struct {
	decimal, group string
	minGrouping    int  // integer digits needed before grouping starts: es and it write 1234,56 but 12.345,67
	symbolFirst    bool // en: €12.50; the others: 12,50 €
	symbols        map[string]string
}

var locales = map[string]locale{
	"en": {".", ",", 4, true, map[string]string{"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}},
	"fr": {",", nnbsp, 4, false, map[string]string{"EUR": "€", "USD": "$US", "GBP": "£GB"}},
	"de": {",", ".", 4, false, map[string]string{"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}},
	"es": {",", ".", 5, false, map[string]string{"EUR": "€", "USD": "US$"}},
	"it": {",", ".", 5, false, map[string]string{"EUR": "€", "GBP": "£"}},
}

// FormatLocale writes amount (minor units of c) for display to a person
// reading lang: en "€1,234.50", fr "1 234,50 €", de "1.234,50 €",
// es and it "1234,50 €" but "12.345,50 €"; "CHF 12.50" in en and
// "12,50 CHF" elsewhere. lang is a language tag ("fr", "fr-FR", "fr_CA");
// unknown languages get en.
//
// The spaces are the ones CLDR and browsers use, not ASCII spaces: a no-break
// space (U+00A0) between number and symbol, a narrow no-break space (U+202F)
// between French thousands. Tests that look for "12,50 €" must write
// "12,50\u00a0€". Never parse this output back: use FormatMinor for data.
func FormatLocale(amount int64, c Currency, lang string) string {
	loc, ok := locales[baseLanguage(lang)]
	if !ok {
		loc = locales["en"]
	}
	plain := FormatMinor(amount, c)
	neg := strings.HasPrefix(plain, "-")
	plain = strings.TrimPrefix(plain, "-")
	intPart, frac, _ := strings.Cut(plain, ".")

	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	sym, ok := loc.symbols[c.Code]
	if !ok {
		sym = c.Code
	}
	if loc.symbolFirst {
		b.WriteString(sym)
		if isAlpha(sym) { // "CHF 12.50", not "CHF12.50"
			b.WriteString(nbsp)
		}
	}
	writeGrouped(&b, intPart, loc)
	if frac != "" {
		b.WriteString(loc.decimal)
		b.WriteString(frac)
	}
	if !loc.symbolFirst && sym != "" {
		b.WriteString(nbsp)
		b.WriteString(sym)
	}
	return b.String()
}

func writeGrouped(b *strings.Builder, digits string, loc locale) {
	if len(digits) < loc.minGrouping {
		b.WriteString(digits)
		return
	}
	first := len(digits) % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(digits[:first])
	for i := first; i < len(digits); i += 3 {
		b.WriteString(loc.group)
		b.WriteString(digits[i : i+3])
	}
}

func baseLanguage(tag string) string {
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return strings.ToLower(tag)
}

func isAlpha(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < 'A' || s[i] > 'Z') && (s[i] < 'a' || s[i] > 'z') {
			return false
		}
	}
	return true
}
