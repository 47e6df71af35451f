package typography

import (
	"fmt"
	"strings"
	"unicode"
)

// The register each language's texts use to address their reader, buyer or
// merchant, in every catalogue (payment pages, FlexCheckout, emails and
// SMS): the formal one, as European PSPs do (PayZen/Lyra, Ingenico).
//
//   - fr: vous (Saisissez, votre).
//   - de: Sie (Geben Sie … ein, Ihr).
//   - es: usted (Introduzca, su). Every Spanish text already used it, and so
//     do the product documents among the seeds (Lyra's wallet guide,
//     Ingenico's FlexCheckout guide, whose buyer-facing error "Inténtelo de
//     nuevo más tarde o póngase en contacto con el comerciante" FlexCheckout
//     shows, with "la tienda" for the merchant: see wording); only
//     PayXpert's newsletter to merchants says tú.
//   - it: Lei, with the courtesy capitals (Inserisca, Sua, Le). It was the
//     register of most Italian texts (the emails, SMS, wallet), against the
//     tu of the card form's messages and the plural voi of the instalment
//     notices to merchants, which mixed with the Lei of the same emails'
//     footer; the only Italian seed, PayXpert's newsletter, is marketing in
//     tu, not a payment page. FlexCheckout's impersonal infinitives
//     ("Inserire il numero della carta") address no one and fit Lei.
//     Buttons and links keep the imperative every Italian interface puts on
//     them ("Paga", "Annulla", "Torna al negozio", "Vai a …"): they are
//     not in the word list.
//   - nl (FlexCheckout only): u (Uw gegevens).
//
// informal lists, per language, words of the other register(s): pronouns,
// possessives and verb forms that only address the reader informally. A
// word with a capital matches only as written, at the start of a sentence
// (an imperative that is also a third person or a noun elsewhere); a word
// in lower case matches in any case. German lower-case "ihr", "sie" are
// not listed: they also mean her, it and they ("mit ihr bezahlen"). The
// Italian (and Spanish) imperative of tu is also the third person ("il
// negozio contatta"): it is listed capitalised, but for "riprova",
// "controlla", "ricomincia", which these texts only say to the reader.
var informal = map[string]struct {
	register string
	words    []string
}{
	"fr": {"vous", []string{
		"tu", "te", "toi", "ton", "ta", "tes", "tien", "tienne",
		"saisis", "choisis", "réessaie", "Essaie", "Vérifie", "Contacte", "Retourne", "Clique",
	}},
	"de": {"Sie", []string{
		"du", "dich", "dir", "dein", "deine", "deinen", "deinem", "deiner", "deines",
		"euch", "euer", "eure", "euren", "eurem", "eurer", "eures",
		"gib", "hast", "bist", "kannst", "musst", "willst", "wirst", "Prüfe", "Wähle", "Kehre",
	}},
	"es": {"usted", []string{
		"tú", "tu", "tus", "te", "ti", "contigo", "tuyo", "tuya", "tuyos", "tuyas",
		"puedes", "tienes", "quieres", "debes", "has", "eres", "estás", "inténtalo", "compruébalo", "ponte",
		"Introduce", "Comprueba", "Vuelve", "Elige", "Contacta", "Escribe", "Responde", "Corrige",
	}},
	"it": {"Lei", []string{
		// tu
		"tu", "ti", "te", "tuo", "tua", "tuoi", "tue", "hai", "puoi", "devi", "vuoi",
		"inserisci", "scegli", "correggi", "controllalo", "autenticarti",
		"riprova", "controlla", "ricomincia", "Prova", "Contatta", "Clicca",
		// voi
		"voi", "vi", "vostro", "vostra", "vostri", "vostre",
		"avete", "siete", "potete", "dovete", "volete", "ricevete", "chiedetene", "Verificate", "Contattate",
	}},
	"nl": {"u", []string{"je", "jij", "jou", "jouw", "jouwe", "jullie"}},
}

// RegisterProblems lists the words of s that address the reader in
// another register than lang's texts use (informal): "tua" in Italian,
// "du" in German. Words inside an HTML tag or a {placeholder} are markup
// and are not read. It is empty for a language without a list (English).
func RegisterProblems(lang, s string) []string {
	r, ok := informal[lang]
	if !ok {
		return nil
	}
	var problems []string
	for _, w := range matches(s, r.words) {
		problems = append(problems, fmt.Sprintf("%q is not the register of %s texts (%s)", w, lang, r.register))
	}
	return problems
}

// wording lists, per language, the words of other phrasings of what every
// catalogue (payment pages and their wallet, FlexCheckout, emails and SMS)
// says one way. Words match as in informal; an entry of several words
// matches them in a row ("code de sécurité").
//
//   - Spanish "póngase en contacto con": the pages said "Contacte con la
//     tienda" and "comuníquese con el comercio" where the emails and
//     FlexCheckout say "póngase en contacto con", the phrase of Ingenico's
//     FlexCheckout guide (see the register above) and of Spanish banks and
//     PSPs with usted. The infinitive "ponerse en contacto" ("Puede …
//     ponerse en contacto con la tienda") is the same phrase.
//   - The merchant, to the buyer and in the merchant's own notices: the
//     shop, as the pages' "Return to the shop" and every email call it:
//     la boutique, la tienda, il negozio, der Shop. The wallet's texts,
//     FlexCheckout's and the 3-D Secure page's "Merchant" label said
//     marchand, comercio, comerciante, esercente, commerciante, Händler
//     (FlexCheckout's generic error thus departs from the guide's
//     "póngase en contacto con el comerciante"). "site" and "sito" are
//     not listed: they also name a bank's site. English says shop, as the
//     pages' and the emails' other texts did, where the 3-D Secure page's
//     label, FlexCheckout's generic error and its secure-connection note
//     said merchant; "store" is not listed: it is also a verb ("we
//     store your card").
//   - The card security code: fr cryptogramme visuel, es código de
//     seguridad, it codice di sicurezza, de Sicherheitscode (FlexCheckout
//     said Prüfnummer).
//   - The card expiry date: fr date d’expiration, es fecha de caducidad,
//     it data di scadenza, de Ablaufdatum (a card's "gültig bis", as
//     printed on it, is the same). Spanish "vencimiento" is not listed: it
//     is an instalment's due date.
var wording = map[string][]struct {
	use   string
	words []string
}{
	"es": {
		{"póngase en contacto con", []string{"contacte", "contacten", "contáctenos", "contáctese", "comuníquese", "comuníquense"}},
		{"tienda", []string{"comercio", "comercios", "comerciante", "comerciantes", "vendedor", "vendedores"}},
		{"código de seguridad", []string{"código de verificación", "código de control", "código CVV", "código CVC"}},
		{"fecha de caducidad", []string{"expiración", "fecha de validez"}},
	},
	"fr": {
		{"boutique", []string{"marchand", "marchands", "commerçant", "commerçants", "magasin", "vendeur"}},
		{"cryptogramme visuel", []string{"code de sécurité", "code de vérification", "code de contrôle", "code CVV", "code CVC"}},
		{"date d’expiration", []string{"date de validité", "fin de validité", "date d’échéance de la carte"}},
	},
	"it": {
		{"negozio", []string{"esercente", "esercenti", "commerciante", "commercianti", "venditore"}},
		{"codice di sicurezza", []string{"codice di verifica", "codice di controllo", "codice CVV", "codice CVC"}},
		{"data di scadenza", []string{"data di validità"}},
	},
	"en": {
		{"shop", []string{"merchant", "merchants", "seller", "sellers", "vendor", "vendors", "retailer", "retailers"}},
	},
	"de": {
		{"Shop", []string{"händler", "händlers", "händlern", "geschäft", "verkäufer"}},
		{"Sicherheitscode", []string{"prüfnummer", "kartenprüfnummer", "prüfziffer", "kartenprüfziffer", "sicherheitsnummer"}},
		{"Ablaufdatum", []string{"verfallsdatum", "verfalldatum", "gültigkeitsdatum"}},
	},
}

// WordingProblems lists the words of s that phrase in another way what
// lang's texts always say one way (wording): "Contacte con" in Spanish,
// where every catalogue says "póngase en contacto con"; "marchand" in
// French, where they say "boutique". Markup is not read.
func WordingProblems(lang, s string) []string {
	var problems []string
	for _, r := range wording[lang] {
		for _, w := range matches(s, r.words) {
			problems = append(problems, fmt.Sprintf("%q: %s texts say %q", w, lang, r.use))
		}
	}
	return problems
}

// matches returns the words of s's prose that are among words: as
// written, or in any case for a word of words in lower case. An entry of
// several words matches them in a row, each as a single word does
// ("código CVV": "Código CVV" too, not "código cvv").
func matches(s string, words []string) []string {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(c rune) bool { return !unicode.IsLetter(c) })
	}
	tokens := split(prose(s))
	var out []string
	for i := range tokens {
		for _, m := range words {
			parts := split(m)
			if len(parts) == 0 || i+len(parts) > len(tokens) {
				continue
			}
			ok := true
			for j, p := range parts {
				if w := tokens[i+j]; w != p && (p != strings.ToLower(p) || strings.ToLower(w) != p) {
					ok = false
					break
				}
			}
			if ok {
				out = append(out, strings.Join(tokens[i:i+len(parts)], " "))
				break
			}
		}
	}
	return out
}

// prose returns s with its markup, the inside of HTML tags and of
// {placeholders}, turned into spaces: what is left is the text a person
// reads.
func prose(s string) string {
	depth := map[rune]int{}
	closes := map[rune]rune{'>': '<', '}': '{'}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<', '{':
			depth[r]++
			r = ' '
		case '>', '}':
			if o := closes[r]; depth[o] > 0 {
				depth[o]--
				r = ' '
			}
		default:
			if depth['<'] > 0 || depth['{'] > 0 {
				r = ' '
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}
