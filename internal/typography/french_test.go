package typography

import "testing"

func TestFrenchProblems(t *testing.T) {
	for _, ok := range []string{"", "Paiement accepté.", "Montant\u00a0: 12,00\u00a0€", "Carte n’est pas valide\u202f!", "«\u00a0Zoé\u00a0»"} {
		if p := FrenchProblems(ok); len(p) != 0 {
			t.Errorf("%q: %v, want none", ok, p)
		}
	}
	for s, n := range map[string]int{"n'est": 1, "Montant : 12": 1, "Merci!": 1, "?": 1, "« Zoé »": 2, "l'a : oui ; non": 3} {
		if p := FrenchProblems(s); len(p) != n {
			t.Errorf("%q: %d problems %v, want %d", s, len(p), p, n)
		}
	}
}
