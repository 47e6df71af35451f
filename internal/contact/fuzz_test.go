package contact_test

import (
	"strings"
	"testing"

	"github.com/wneessen/go-mail"

	"github.com/openpsp/openpsp/internal/contact"
)

// FuzzValidEmail: an address ValidEmail accepts (as a shop setting, as a
// buyer's email) can be sent to: the mailer (go-mail, as notify's SMTP
// sender uses it) takes it as To and Reply-To, it carries no control
// character (CR LF would start a header of the buyer's choosing) and no
// list or display-name syntax.
func FuzzValidEmail(f *testing.F) {
	for _, s := range []string{"jane@example.com", "a.b+c@shop.example", `"a b"@example.com`, `"a\"b"@example.com`, "jane@[127.0.0.1]",
		"jané@exämple.com", "Jane <jane@example.com>", "a@b@c", "jane@example.com\r\nBcc: x@example.com", `"a\` + "\r\n" + `b"@example.com`,
		"(comment)jane@example.com", "jane@example.com (Jane)", "=?utf-8?q?x?=@example.com", "a@b", "@example.com", "\x00@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !contact.ValidEmail(s) {
			return
		}
		if i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
			t.Fatalf("%q accepted with a control character at %d", s, i)
		}
		if strings.ContainsAny(s, "<>,;") && !strings.HasPrefix(s, `"`) {
			t.Fatalf("%q accepted with address-list syntax", s)
		}
		m := mail.NewMsg()
		if err := m.To(s); err != nil {
			t.Fatalf("%q accepted, but the mailer refuses it as To: %v", s, err)
		}
		if err := m.ReplyTo(s); err != nil {
			t.Fatalf("%q accepted, but the mailer refuses it as Reply-To: %v", s, err)
		}
	})
}

// FuzzValidPhone: a number ValidPhone accepts is E.164 as the SMS gateway
// takes it: "+", a country code not starting with 0, 7 to 15 ASCII digits
// in all, nothing else (no space, no trailing newline, no other script's
// digits).
func FuzzValidPhone(f *testing.F) {
	for _, s := range []string{"+33612345678", "+0612345678", "+33 6 12 34 56 78", "+1234", "+1234567890123456", "+33612345678\n", "+٣٣٦١٢٣٤٥٦٧٨", "++33612345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !contact.ValidPhone(s) {
			return
		}
		if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' || strings.Trim(s[1:], "0123456789") != "" {
			t.Fatalf("%q accepted", s)
		}
	})
}
