package notify

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// overrideIDs are the templates a shop may reword (`openpsp shops template
// SHOPID ID LANG -subject … -html FILE -text FILE`), and one that is none.
var overrideIDs = []string{TplPaymentAcceptedBuyer, TplPaymentRefusedBuyer, TplPaymentMerchant, TplTokenBuyer,
	TplTokenMerchant, TplTokenSMSBuyer, TplTokenSMSMerchant, TplInstalmentMerchant, "nope"}

// FuzzValidateOverride checks a shop's wording as `openpsp shops template`
// does before it saves the files an operator gives (ValidateOverride):
// whatever their content, it answers without a panic, a refusal names the
// part at fault, and what it accepts is text the database stores as it
// is (UTF-8: PostgreSQL refuses other bytes with its driver's error).
func FuzzValidateOverride(f *testing.F) {
	for _, s := range []struct {
		id                  uint8
		subject, html, text string
	}{
		{0, "", "", ""}, {0, "Merci {{.Buyer.Name}}", `<p>{{.Payment.Amount}}</p>`, "Merci {{.Payment.Amount}}\n{{template \"footer\" .}}"},
		{0, "{{.Broken", "", ""}, {0, "", "{{.Nope}}", ""}, {0, "", "", "{{template \"nope\" .}}"},
		{5, "", "", "{{.Token.Brand}} {{.Token.PANMasked}}"}, {5, "", "<p>x</p>", ""}, {7, "{{.Instalment.OrderID}}", "", ""},
		{8, "", "", ""}, {2, "", `{{define "x"}}{{template "x" .}}{{end}}{{template "x" .}}`, ""},
		{3, "", "<script>{{.Buyer.Name}}</script>", "{{range .}}{{end}}"}, {1, "a\r\nBcc: x@example.com", "", ""},
	} {
		f.Add(s.id, s.subject, s.html, s.text)
	}
	f.Fuzz(func(t *testing.T, which uint8, subject, htmlSrc, textSrc string) {
		if len(subject)+len(htmlSrc)+len(textSrc) > 4096 {
			return
		}
		id := overrideIDs[int(which)%len(overrideIDs)]
		err := ValidateOverride(id, subject, htmlSrc, textSrc)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "subject: ") && !strings.HasPrefix(msg, "HTML: ") && !strings.HasPrefix(msg, "text: ") &&
				!strings.HasPrefix(msg, "notify: ") {
				t.Fatalf("%s %q %q %q: the error %q names no part", id, subject, htmlSrc, textSrc, msg)
			}
			return
		}
		for name, part := range map[string]string{"subject": subject, "HTML": htmlSrc, "text": textSrc} {
			if !utf8.ValidString(part) {
				t.Fatalf("%s: the %s %q accepted, yet it is not UTF-8", id, name, part)
			}
		}
	})
}
