// Package typography checks texts shown to people against the typography
// of their language and the register they address their reader in. The
// payment pages, FlexCheckout and the notifications keep their French and
// Italian catalogues to the typography (Problems), and every catalogue to
// its language's register (RegisterProblems), checked by their tests.
package typography

import (
	"fmt"
	"strings"
)

// FrenchProblems lists what breaks French typography in s: a straight
// apostrophe where French writes ’ (U+2019), and a plain space (or none)
// where a no-break space (U+00A0, or the narrow U+202F) belongs, before
// : ; ! ? » and after «, so that the sign never starts a line on a narrow
// screen. It is empty for a text that follows the rule.
func FrenchProblems(s string) []string {
	problems := apostropheProblems(s)
	noBreak := func(r rune) bool { return r == '\u00a0' || r == '\u202f' }
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case strings.ContainsRune(":;!?»", r) && (i == 0 || !noBreak(rs[i-1])):
			problems = append(problems, fmt.Sprintf("no no-break space before %q in %q", r, string(rs[max(0, i-8):i+1])))
		case r == '«' && (i+1 == len(rs) || !noBreak(rs[i+1])):
			problems = append(problems, "no no-break space after «")
		}
	}
	return problems
}

// ItalianProblems lists what breaks Italian typography in s: a straight
// apostrophe where Italian writes ’ (U+2019): "l’ordine", "un’altra".
func ItalianProblems(s string) []string {
	return apostropheProblems(s)
}

// Problems is the check of lang's typography (FrenchProblems,
// ItalianProblems); nil for a language without one.
func Problems(lang, s string) []string {
	switch lang {
	case "fr":
		return FrenchProblems(s)
	case "it":
		return ItalianProblems(s)
	}
	return nil
}

// apostropheProblems reports a straight apostrophe in the prose of s: one
// inside an HTML tag (an attribute's quotes) or a {placeholder} is markup,
// not text, and is left alone.
func apostropheProblems(s string) []string {
	if strings.ContainsRune(prose(s), '\'') {
		return []string{"straight apostrophe, want ’ (U+2019)"}
	}
	return nil
}
