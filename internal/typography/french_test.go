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

// Italian writes the typographic apostrophe (l’ordine, un’altra) in its
// prose; the quotes of an HTML attribute or a placeholder are markup.
func TestItalianProblems(t *testing.T) {
	for _, ok := range []string{"", "l’ordine", "Prova un’altra carta.", `<a href='{url}'>l’ordine</a>`, "{name's}", "Importo: %s"} {
		if p := ItalianProblems(ok); len(p) != 0 {
			t.Errorf("%q: %v, want none", ok, p)
		}
		if p := Problems("it", ok); len(p) != 0 {
			t.Errorf("Problems(it, %q): %v, want none", ok, p)
		}
	}
	for _, bad := range []string{"l'ordine", "Prova un'altra carta.", `<b>L'IBAN</b>`, "{order} dell'abbonamento"} {
		if p := ItalianProblems(bad); len(p) != 1 {
			t.Errorf("%q: %v, want the straight apostrophe", bad, p)
		}
		if p := Problems("it", bad); len(p) != 1 {
			t.Errorf("Problems(it, %q): %v, want the straight apostrophe", bad, p)
		}
	}
	if p := Problems("fr", "n'est"); len(p) != 1 {
		t.Errorf("Problems(fr, n'est): %v", p)
	}
	if p := Problems("en", "isn't"); len(p) != 0 {
		t.Errorf("Problems(en, isn't): %v", p)
	}
}
