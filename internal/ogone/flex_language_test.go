package ogone_test

import (
	"strings"
	"testing"
)

// TestFlexLongLanguage: LAYOUT.LANGUAGE is documented as AN 5 ("en_GB"),
// but integrations send the shop's locale as it is: the Ingenico Magento 2
// module passes Magento's locale resolver value (zh_Hans_CN, sr_Latn_RS),
// WordPress plugins get_locale() (de_DE_formal, de_CH_informal; Worldline's
// own WooCommerce plugin trims it, its newer platform not supporting it).
// A language is no reason to refuse the buyer the page: it shows in the
// language of the value's first two letters, else in English, as a short
// value does; an absent one shows English.
func TestFlexLongLanguage(t *testing.T) {
	e := newEnv(t)
	for lang, want := range map[string]string{
		"de_DE_formal":   `lang="de"`,
		"de_CH_informal": `lang="de"`,
		"nl_NL_formal":   `lang="nl"`,
		"zh_Hans_CN":     `lang="en"`,
		"fr-BE":          `lang="fr"`,
		"":               `lang="en"`,
	} {
		resp, page := e.get(e.flexURL(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": lang})))
		if resp.StatusCode != 200 || !actionRE.MatchString(page) || !strings.Contains(page, want) {
			t.Errorf("LAYOUT.LANGUAGE %q: HTTP %d, want the form with %s", lang, resp.StatusCode, want)
		}
	}
}
