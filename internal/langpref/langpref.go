// Package langpref chooses a language among those a surface speaks (the
// payment pages, the emails) from a language tag or a browser's
// Accept-Language value. It is the one reader of Accept-Language, and
// Spoken is the one list of the languages OpenPSP speaks.
package langpref

import (
	"slices"
	"strconv"
	"strings"
)

// Set is the base languages a surface speaks, in lower case ("en", "fr").
type Set []string

// Spoken is the languages OpenPSP speaks, the first the fallback: the
// payment pages and the emails and SMS speak all of them (their tests check
// that their catalogues hold exactly these), and a shop's language is one.
var Spoken = Set{"en", "fr", "es", "it", "de"}

// Base returns the base language of a BCP 47 tag in any of its spellings
// ("fr-FR", "fr_CA", "FR", " fr ") and whether s speaks it.
func (s Set) Base(tag string) (string, bool) {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	tag = strings.ToLower(tag)
	return tag, slices.Contains(s, tag)
}

// maxEntries bounds the entries of an Accept-Language value read: a longer
// header is not from a browser.
const maxEntries = 32

// Preferred returns the language of s that an Accept-Language value h
// prefers most (RFC 9110 §12.5.4 weights; ties keep the header's order). An
// entry of weight 0 ("not acceptable"), with a malformed weight or in no
// language of s is passed over; ok is false when none is left. A lone tag
// ("fr-FR") is a value of one entry of weight 1.
func (s Set) Preferred(h string) (lang string, ok bool) {
	best, i := -1.0, 0
	for part := range strings.SplitSeq(h, ",") {
		if i++; i > maxEntries {
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q, ok := weight(params)
		if !ok || q <= 0 || q <= best {
			continue
		}
		if l, ok := s.Base(tag); ok {
			lang, best = l, q
		}
	}
	return lang, best > 0
}

// weight reads the q parameter of an Accept-Language entry's parameters
// ("q=0.8"; none: 1). The name is case-insensitive ("Q=0" refuses the
// language as "q=0" does) and the value is a qvalue of RFC 9110 §12.4.2,
// 0 to 1 with at most three decimals: strconv.ParseFloat alone would take
// "inf", "nan" or "2" and let such an entry outrank every real one. ok is
// false for a malformed weight: the entry is ignored.
func weight(params string) (q float64, ok bool) {
	q = 1
	for p := range strings.SplitSeq(params, ";") {
		name, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		whole, frac, _ := strings.Cut(v, ".")
		if (whole != "0" && whole != "1") || len(frac) > 3 || strings.Trim(frac, "0123456789") != "" ||
			(whole == "1" && strings.Trim(frac, "0") != "") {
			return 0, false
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false
		}
		q = f
	}
	return q, true
}
