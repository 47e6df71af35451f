package hosted

import (
	"slices"
	"testing"
)

// FuzzPageLanguage: whatever kr-language / ?lang= tag and Accept-Language
// header a buyer's browser sends, the pages pick one of the languages they
// speak; a tag they speak wins; the choice does not depend on letter case
// (RFC 9110 §12.5.4 and BCP 47: tags and the "q" parameter are
// case-insensitive); and an entry of weight 0 ("not acceptable") added to
// the header never changes the choice.
func FuzzPageLanguage(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"fr-FR", ""}, {"de_DE", "fr"}, {"IT", ""}, {"zz", "de-CH, fr;q=0.9"},
		{"", "ja, it;q=0.1"}, {"", "fr;q=0, es;q=0.5"}, {"", "en-GB;q=0.8, fr-CA;q=0.81"},
		{"", "*"}, {"", "fr;Q=0, de;q=0.5"}, {"", "de;q=nan, fr;q=inf"}, {"", "es;q=1e400,it;q=0x1p-2"},
		{"", ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,fr"}, {"\xff", "\xff-FR"}, {"", "fr;level=1;q=0.3, de;q=0.5"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, tag, accept string) {
		got := PageLanguage(tag, accept)
		if !slices.Contains(languages, got) {
			t.Fatalf("PageLanguage(%q, %q) = %q, not a language of the pages", tag, accept, got)
		}
		if l, ok := supported(tag); ok && got != l {
			t.Fatalf("PageLanguage(%q, %q) = %q, not the tag's %q", tag, accept, got, l)
		}
		if up := PageLanguage(asciiUpper(tag), asciiUpper(accept)); up != got {
			t.Fatalf("PageLanguage(%q, %q) = %q but %q in upper case", tag, accept, got, up)
		}
		if low := PageLanguage(asciiLower(tag), asciiLower(accept)); low != got {
			t.Fatalf("PageLanguage(%q, %q) = %q but %q in lower case", tag, accept, got, low)
		}
		for _, l := range languages {
			if refused := PageLanguage(tag, accept+", "+l+";q=0"); refused != got {
				t.Fatalf("PageLanguage(%q, %q) = %q but %q once %s;q=0 is added", tag, accept, got, refused, l)
			}
		}
	})
}

func asciiUpper(s string) string { return asciiMap(s, 'a', 'z', 'A'-'a') }
func asciiLower(s string) string { return asciiMap(s, 'A', 'Z', 'a'-'A') }

// asciiMap changes only ASCII letters: strings.ToUpper would also turn a
// non-ASCII letter into an ASCII one ("ı" into "I").
func asciiMap(s string, lo, hi byte, delta int) string {
	b := []byte(s)
	for i, c := range b {
		if c >= lo && c <= hi {
			b[i] = byte(int(c) + delta)
		}
	}
	return string(b)
}
