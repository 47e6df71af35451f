package langpref

import (
	"slices"
	"testing"
)

// FuzzPreferred: whatever Accept-Language value a browser sends, the choice
// is a language of the set or nothing; it does not depend on ASCII letter
// case (tags and the q parameter are case-insensitive); an entry of weight
// 0 added at the end never changes it; and an entry of weight 1 for a
// language of the set, put first, always wins.
func FuzzPreferred(f *testing.F) {
	for _, s := range []string{"", "fr-FR", "de-CH, fr;q=0.9", "ja, it;q=0.1", "fr;q=0, es;q=0.5",
		"en-GB;q=0.8, fr-CA;q=0.81", "*", "fr;Q=0, de;q=0.5", "de;q=nan, fr;q=inf", "es;q=1e400,it;q=0x1p-2",
		",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,fr", "\xff-FR", "fr;level=1;q=0.3, de;q=0.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got, ok := five.Preferred(h)
		if ok != slices.Contains(five, got) || !ok && got != "" {
			t.Fatalf("Preferred(%q) = %q %v", h, got, ok)
		}
		if up, _ := five.Preferred(asciiMap(h, 'a', 'z', 'A'-'a')); up != got {
			t.Fatalf("Preferred(%q) = %q but %q in upper case", h, got, up)
		}
		if low, _ := five.Preferred(asciiMap(h, 'A', 'Z', 'a'-'A')); low != got {
			t.Fatalf("Preferred(%q) = %q but %q in lower case", h, got, low)
		}
		for _, l := range five {
			if refused, _ := five.Preferred(h + ", " + l + ";q=0"); refused != got {
				t.Fatalf("Preferred(%q) = %q but %q once %s;q=0 is added", h, got, refused, l)
			}
			if first, _ := five.Preferred(l + "," + h); first != l {
				t.Fatalf("Preferred(%q) = %q, not %s put first", l+","+h, first, l)
			}
		}
	})
}

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
