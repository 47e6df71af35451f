package notify

import "strings"

// GSM 03.38 (3GPP TS 23.038) default alphabet. An SMS whose every
// character is in it is sent in 7-bit septets, 160 to a part; a single
// character outside it makes the gateway send the whole message as UCS-2,
// 70 characters to a part.

// gsm7Basic is the basic character set, in table order (0x00-0x7F; 0x1B,
// the escape to the extension table, is left out).
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7Extension is the extension table: each of these characters takes two
// septets (the escape and the character).
const gsm7Extension = "\f^{}\\[~]|€"

var gsm7Septets = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsm7Basic {
		m[r] = 1
	}
	for _, r := range gsm7Extension {
		m[r] = 2
	}
	return m
}()

// GSM7Length reports whether s can be sent in the GSM 7-bit default
// alphabet and how many septets it takes (extension characters count two).
func GSM7Length(s string) (septets int, ok bool) {
	ok = true
	for _, r := range s {
		n, in := gsm7Septets[r]
		if !in {
			ok = false
			n = 1
		}
		septets += n
	}
	return septets, ok
}

// gsm7Fold maps characters outside the GSM alphabet that texts commonly
// hold to their GSM equivalents: the typography of the catalogs (French
// no-break spaces, the typographic apostrophe) and of merchants' texts, and
// the accented letters the alphabet lacks (Spanish ó, French ê or ç), which
// lose their accent rather than turn the whole SMS into UCS-2. Letters the
// alphabet has (é è à ù ì ò Ç ä ö ü ñ ß …) are not in this table.
var gsm7Fold = strings.NewReplacer(
	// Spaces: no-break, narrow no-break, the typographic spaces, tab.
	"\u00a0", " ", "\u202f", " ", "\u2000", " ", "\u2001", " ", "\u2002", " ", "\u2003", " ", "\u2004", " ",
	"\u2005", " ", "\u2006", " ", "\u2007", " ", "\u2008", " ", "\u2009", " ", "\u200a", " ", "\u205f", " ",
	"\u3000", " ", "\t", " ", "\u2028", "\n", "\u2029", "\n",
	// Invisible characters: zero-width spaces and joiners, soft hyphen, BOM.
	"\u200b", "", "\u200c", "", "\u200d", "", "\u2060", "", "\u00ad", "", "\ufeff", "",
	// Quotes and apostrophes.
	"\u2019", "'", "\u2018", "'", "\u201a", "'", "\u201b", "'", "\u2032", "'", "`", "'", "\u00b4", "'",
	"\u2039", "'", "\u203a", "'",
	"\u201c", `"`, "\u201d", `"`, "\u201e", `"`, "\u201f", `"`, "\u2033", `"`, "\u00ab", `"`, "\u00bb", `"`,
	// Dashes, minus, ellipsis, bullet.
	"\u2010", "-", "\u2011", "-", "\u2012", "-", "\u2013", "-", "\u2014", "-", "\u2015", "-", "\u2212", "-",
	"\u2026", "...", "\u2022", "*",
	// Accented letters outside the alphabet.
	"á", "a", "â", "a", "ã", "a", "í", "i", "î", "i", "ï", "i", "ó", "o", "ô", "o", "õ", "o",
	"ú", "u", "û", "u", "ê", "e", "ë", "e", "ý", "y", "ÿ", "y", "ç", "c", "œ", "oe",
	"À", "A", "Á", "A", "Â", "A", "Ã", "A", "È", "E", "Ê", "E", "Ë", "E", "Ì", "I", "Í", "I", "Î", "I", "Ï", "I",
	"Ò", "O", "Ó", "O", "Ô", "O", "Õ", "O", "Ù", "U", "Ú", "U", "Û", "U", "Ý", "Y", "Œ", "OE",
)

// ToGSM7 returns s with the characters of gsm7Fold replaced. Characters
// with no GSM equivalent (other scripts, emoji) are kept: the gateway then
// sends the SMS as UCS-2, and the text is still right.
func ToGSM7(s string) string {
	if _, ok := GSM7Length(s); ok {
		return s
	}
	return gsm7Fold.Replace(s)
}
