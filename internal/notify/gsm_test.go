package notify

import (
	"context"
	"fmt"
	"testing"
)

func TestGSM7Length(t *testing.T) {
	for s, want := range map[string]int{
		"":                     0,
		"Zoé: carte ****0055.": 20,
		"èéùìòÇØøÅåÄÖÑÜ§¿äöñüàÉß¡": 24,
		"1234,50 €":   10, // € is in the extension table
		"[x]{y}^~|\\": 18,
	} {
		if n, ok := GSM7Length(s); !ok || n != want {
			t.Errorf("GSM7Length(%q) = %d, %v; want %d, true", s, n, ok, want)
		}
	}
	for _, s := range []string{"a\u00a0:", "l’ami", "«x»", "a–b", "…", "ó", "ç", "ê", "•", "😀"} {
		if _, ok := GSM7Length(s); ok {
			t.Errorf("GSM7Length(%q): ok, want not GSM-7", s)
		}
	}
}

// Every built-in SMS, in every language, is sent in the GSM 7-bit
// alphabet: one character outside it (the no-break space of French
// typography, a typographic apostrophe) makes the gateway send the whole
// text as UCS-2, 70 characters a part instead of 160. Merchant-provided
// text (shop name, the shop's own SMS template) goes through the same
// mapping. A text that fits one part in English fits one in every language.
func TestSMSIsGSM7(t *testing.T) {
	ovr := goldenOverrides{"own": {Text: "{{.Shop.Name}} – «\u00a0{{.Token.Card}}\u00a0» : c’est “fait”…"}}
	r := NewRenderer(ovr, nil)
	shops := map[string]string{
		"":      "Boulangerie Zoé",          // typical
		"quote": "L’Atelier « Zoé » — Café", // merchant typography
	}
	for _, id := range []string{TplTokenSMSBuyer, TplTokenSMSMerchant} {
		for _, kind := range []string{"created", "updated", "cancelled"} {
			for variant, shopName := range shops {
				for _, mode := range []string{"TEST", "PRODUCTION"} {
					enParts := 0
					for _, lang := range Languages {
						c := SampleContent(id)
						c.Lang, c.Mode, c.Token.Kind, c.Shop.Name = lang, mode, kind, shopName
						s, err := r.SMS(context.Background(), c)
						if err != nil {
							t.Fatal(err)
						}
						n, ok := GSM7Length(s)
						if !ok {
							var bad []string
							for _, r := range s {
								if _, in := gsm7Septets[r]; !in {
									bad = append(bad, fmt.Sprintf("%U", r))
								}
							}
							t.Errorf("%s %s %s shop=%q %s: not GSM-7 (%q): %q", id, kind, lang, variant, mode, bad, s)
							continue
						}
						parts := 1
						if n > 160 {
							parts = (n + 152) / 153
						}
						if lang == "en" {
							enParts = parts
						} else if parts > enParts {
							t.Errorf("%s %s %s shop=%q %s: %d parts (%d septets), English takes %d: %q", id, kind, lang, variant, mode, parts, n, enParts, s)
						}
						if testing.Verbose() && variant == "" && mode == "TEST" {
							t.Logf("%-18s %-9s %s %3d septets: %s", id, kind, lang, n, s)
						}
					}
				}
			}
		}
	}
	// The shop's own SMS template.
	c := SampleContent(TplTokenSMSBuyer)
	c.Shop.ID, c.Shop.Name, c.Lang = "own", "L’Atelier", "fr"
	s, err := r.SMS(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `L'Atelier - " Visa ****0055 " : c'est "fait"...`; s != want {
		t.Errorf("own template: %q, want %q", s, want)
	}
}
