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

// WordingProblems finds the other phrasings of what each language's texts
// say one way: whole words, several in a row for a phrase, a lower-case
// word in any case, never in markup.
func TestWordingProblems(t *testing.T) {
	for lang, texts := range map[string]map[string]int{
		"es": {
			"Póngase en contacto con la tienda.":                             0,
			"Puede volver a intentarlo o ponerse en contacto con la tienda.": 0,
			"No se ha podido contactar con el banco.":                        0,
			"No se contacta con ningún banco.":                               0,
			`<a href="{contacte}">Tienda</a>`:                                0,
			"Contacte con la tienda.":                                        1,
			"Pruebe con otra tarjeta o contacte con su banco.":               1,
			"Para eliminarla, comuníquese con el comercio.":                  2,
			"COMUNÍQUESE CON EL COMERCIO":                                    2,
			"Nunca se comunican al comerciante.":                             1,
			"Introduzca el código de seguridad y la fecha de caducidad.":     0,
			"El código de verificación no es válido.":                        1,
			"Código CVV":           1,
			"Fecha de expiración":  1,
			"Fecha de vencimiento": 0,
		},
		"fr": {
			"Contactez la boutique.":                         0,
			"Veuillez contacter le marchand.":                1,
			"Commerçant":                                     1,
			"Saisissez le cryptogramme visuel.":              0,
			"Saisissez le code de sécurité.":                 1,
			"Pour votre sécurité, saisissez le code.":        0,
			"Date de fin de validité":                        1,
			"Saisissez la date d’expiration.":                0,
			`<span class="{marchand}">Boutique</span>`:       0,
			"Le code de vérification et la date de validité": 2,
		},
		"it": {
			"Contatti il negozio.":                0,
			"Contatti l’esercente.":               1,
			"Contattare il commerciante.":         1,
			"Inserisca il codice di sicurezza.":   0,
			"Il codice di verifica non è valido.": 1,
			"La data di scadenza non è valida.":   0,
			"Data di validità":                    1,
		},
		"de": {
			"Bitte wenden Sie sich an den Shop.":    0,
			"Bitte wenden Sie sich an den Händler.": 1,
			"Geschäft":                              1,
			"Geben Sie den Sicherheitscode ein.":    0,
			"Die Prüfnummer ist ungültig.":          1,
			"Das Ablaufdatum ist ungültig.":         0,
			"Verfallsdatum":                         1,
		},
		"en": {
			"Please contact the shop.":                    0,
			"Please contact the merchant.":                1,
			"Never shared with the Merchant or a seller.": 2,
			"We store your card for the shop.":            0,
			`<a href="{merchant}">Shop</a>`:               0,
		},
	} {
		for s, n := range texts {
			if p := WordingProblems(lang, s); len(p) != n {
				t.Errorf("%s %q: %d problems %v, want %d", lang, s, len(p), p, n)
			}
		}
	}
}
