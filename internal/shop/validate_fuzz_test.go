package shop

import (
	"slices"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/contact"
	"github.com/openpsp/openpsp/internal/money"
)

// FuzzValidate: a shop's settings as `openpsp shops set` or any other
// writer gives them are either refused with an error naming the setting,
// or usable as written: a known currency, a colour the emails take, an
// email that messages can reach, and in production a logo that buyers are
// shown (unless it is plain http on loopback, allowed for development).
func FuzzValidate(f *testing.F) {
	for _, s := range [][4]string{
		{"EUR", "#0b5a3c", "https://cdn.example/logo.png", "ops@example.com"}, {"ZZZ", "red", "javascript:x", "x"},
		{"", "", "", ""}, {"ZZZ", "", "", ""}, {"EUR", "red", "", ""}, {"JPY", "#0b5", "/static/logo.png", ""}, {"eur", "#12345", "https://:80/x", "a@b"},
		{"KWD", "#ABCDEF", "https://user@cdn.example/l.png", ""}, {"EUR", "", "http://localhost/l.png", ""},
		{"EUR", "", "https://cdn.example/a b.png", ""}, {"EUR", "", "//evil.example/l.png", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], true)
		f.Add(s[0], s[1], s[2], s[3], false)
	}
	f.Fuzz(func(t *testing.T, currency, color, logo, email string, production bool) {
		sh := Shop{Language: "en", Currency: currency, LogoURL: logo, PrimaryEmail: email, Settings: Settings{PrimaryColor: color}}
		if err := sh.validate(production); err != nil {
			name, _, _ := strings.Cut(err.Error(), " ")
			if !slices.Contains([]string{"currency", "primary-color", "logo-url", "email"}, name) {
				t.Fatalf("error %q does not start with the setting's name", err)
			}
			return
		}
		if _, ok := money.Lookup(currency); currency != "" && !ok {
			t.Fatalf("currency %q accepted", currency)
		}
		if color != "" && !ValidPrimaryColor(color) {
			t.Fatalf("primary-color %q accepted", color)
		}
		if email != "" && !contact.ValidEmail(email) {
			t.Fatalf("email %q accepted", email)
		}
		if production && logo != "" && DisplayLogoURL(logo) == "" && !strings.HasPrefix(logo, "http://") {
			t.Fatalf("logo-url %q accepted in production, but buyers are not shown it", logo)
		}
	})
}
