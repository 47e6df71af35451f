package contact_test

import (
	"testing"

	"github.com/openpsp/openpsp/internal/contact"
)

func TestValidPhone(t *testing.T) {
	for _, ok := range []string{"+33612345678", "+14155552671", "+491511234567", "+8613800138000"} {
		if !contact.ValidPhone(ok) {
			t.Errorf("%s refused", ok)
		}
	}
	for _, bad := range []string{"0612345678", "+0612345678", "+33 6 12 34 56 78", "+1234", "+1234567890123456", "33612345678", "+33612345678\n"} {
		if contact.ValidPhone(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestValidEmail(t *testing.T) {
	for _, ok := range []string{"jane@example.com", "a.b+c@shop.example"} {
		if !contact.ValidEmail(ok) {
			t.Errorf("%s refused", ok)
		}
	}
	for _, bad := range []string{"", "notanemail", "Jane <jane@example.com>", "a@b@c", " jane@example.com", "jane@example.com, x@example.com"} {
		if contact.ValidEmail(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
