package shop

import "testing"

// A shop's language is one OpenPSP speaks, spelled as the list spells it,
// and the refusal names them all.
func TestShopLanguage(t *testing.T) {
	for _, c := range []struct{ lang, want string }{
		{"en", ""}, {"fr", ""}, {"es", ""}, {"it", ""}, {"de", ""},
		{"pt", `language must be one of en, fr, es, it, de, not "pt"`},
		{"FR", `language must be one of en, fr, es, it, de, not "FR"`},
		{"fr-FR", `language must be one of en, fr, es, it, de, not "fr-FR"`},
		{"", `language must be one of en, fr, es, it, de, not ""`},
	} {
		got := ""
		for _, p := range (Shop{Language: c.lang}).problems(false) {
			if p.name == "language" {
				got = p.err.Error()
			}
		}
		if got != c.want {
			t.Errorf("language %q: %q, want %q", c.lang, got, c.want)
		}
	}
}
