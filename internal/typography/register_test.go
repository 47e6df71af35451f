package typography

import "testing"

// RegisterProblems finds the informal words among formal texts, whole
// words only, a capitalised marker only as written, and never in markup.
func TestRegisterProblems(t *testing.T) {
	for lang, texts := range map[string][]string{
		"fr": {"Saisissez votre numéro de carte.", "Vérifiez-le et réessayez.", "Il vous reste 1 tentative.", "Votre commande {ta}"},
		"de": {"Geben Sie Ihre Kartennummer ein.", "Sie können danach nicht mehr mit ihr bezahlen.", "Sie haben noch 3 Versuche.", "Prüfen Sie die Adresse."},
		"es": {"Introduzca el número de su tarjeta.", "Le queda 1 intento.", "El comprador introduce su tarjeta.", "Tuvo éxito."},
		"it": {"Inserisca il numero della carta.", "La Sua banca non ha potuto autenticarLa.", "Il negozio Le confermerà l’esito.", "Torna al negozio", "Carte verificate dal negozio.", "il suo addebito", `<a href="{tua}">Vai</a>`},
		"nl": {"Uw gegevens worden verzonden.", "Voer het kaartnummer in."},
		"en": {"Enter your card number. You have 1 attempt left."},
		"pt": {"Introduz o teu número."},
	} {
		for _, s := range texts {
			if p := RegisterProblems(lang, s); len(p) != 0 {
				t.Errorf("%s %q: %v, want none", lang, s, p)
			}
		}
	}
	for lang, texts := range map[string]map[string]int{
		"fr": {"Saisis ton numéro de carte.": 2, "Vérifie-le et réessaie.": 2, "Il te reste 1 tentative.": 1, "Pour ta sécurité": 1, "TU": 1},
		"de": {"Gib deine Kartennummer ein.": 2, "Wir senden dir das Ergebnis.": 1, "Prüfe die Adresse.": 1, "Ihr könnt euch anmelden.": 1},
		"es": {"Introduce el número de tu tarjeta.": 2, "Te queda 1 intento.": 1, "Compruébalo e inténtalo de nuevo.": 2, "¿Tú?": 1},
		"it": {"Inserisci il numero della carta.": 1, "La tua banca non ha potuto autenticarti.": 2, "Ti resta 1 tentativo.": 1, "Contatta la banca.": 1, "Prova un’altra carta.": 1, "Una prova di acquisto": 0, "Verificate la carta e ricevete la vostra conferma.": 3, "torna al negozio e riprova": 1, "controlla l’indirizzo o torna al negozio": 1, "Torna al negozio e ricomincia.": 1},
		"nl": {"Voer je kaartnummer in.": 1, "Jouw gegevens": 1},
	} {
		for s, n := range texts {
			if p := RegisterProblems(lang, s); len(p) != n {
				t.Errorf("%s %q: %d problems %v, want %d", lang, s, len(p), p, n)
			}
		}
	}
}

// WordingProblems finds Spanish phrasings of "póngase en contacto con"
// other than it, whole words, in any case, never in markup.
func TestWordingProblems(t *testing.T) {
	for s, n := range map[string]int{
		"Póngase en contacto con la tienda.":                             0,
		"Puede volver a intentarlo o ponerse en contacto con la tienda.": 0,
		"No se ha podido contactar con el banco.":                        0,
		"No se contacta con ningún banco.":                               0,
		`<a href="{contacte}">Tienda</a>`:                                0,
		"Contacte con la tienda.":                                        1,
		"Pruebe con otra tarjeta o contacte con su banco.":               1,
		"Para eliminarla, comuníquese con el comercio.":                  1,
		"COMUNÍQUESE CON EL COMERCIO":                                    1,
	} {
		if p := WordingProblems("es", s); len(p) != n {
			t.Errorf("%q: %d problems %v, want %d", s, len(p), p, n)
		}
	}
	if p := WordingProblems("fr", "Contactez la boutique."); len(p) != 0 {
		t.Errorf("French: %v, want none", p)
	}
}
