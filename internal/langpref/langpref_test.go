package langpref

import (
	"strings"
	"testing"
)

var five = Set{"en", "fr", "es", "it", "de"}

func TestPreferred(t *testing.T) {
	for h, want := range map[string]string{
		"":                          "",
		"de-CH, fr;q=0.9":           "de",
		"ja, it;q=0.1":              "it",
		"fr;q=0, es;q=0.5":          "es",
		"en-GB;q=0.8, fr-CA;q=0.81": "fr",
		"*":                         "",
		"fr-FR":                     "fr",
		"de_CH":                     "de",
		"de;q=0.1, fr;q=0.9":        "fr",
		"fr;q=0":                    "",
		"es;q=0.5, it;q=0.5":        "es", // a tie keeps the header's order
		// The weight's name is case-insensitive; a weight outside the
		// qvalue grammar (0 to 1, three decimals) discards its entry.
		"fr;Q=0, de;q=0.5":                     "de",
		"fr;q=inf, de;q=0.5":                   "de",
		"fr;q=2, de;q=0.001":                   "de",
		"fr;q=nan, it":                         "it",
		"fr;q=0.5000, es; q=0.4":               "es",
		"fr ; Q = 1.000":                       "fr",
		strings.Repeat(",", maxEntries) + "fr": "", // past the entries read
	} {
		got, ok := five.Preferred(h)
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q %v, want %q", h, got, ok, want)
		}
	}
}

func TestBase(t *testing.T) {
	for tag, want := range map[string]string{"fr-FR": "fr", "de_CH": "de", "IT": "it", " es ": "es", "pt-BR": "", "fr;q=0": ""} {
		got, ok := five.Base(tag)
		if ok != (want != "") || ok && got != want {
			t.Errorf("Base(%q) = %q %v, want %q", tag, got, ok, want)
		}
	}
}
