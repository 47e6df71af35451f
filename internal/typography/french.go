// Package typography checks texts shown to people against the typography
// of their language. The payment pages, FlexCheckout and the notifications
// keep their French catalogues to one rule, checked by their tests.
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
	var problems []string
	if strings.ContainsRune(s, '\'') {
		problems = append(problems, "straight apostrophe, want ’ (U+2019)")
	}
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
