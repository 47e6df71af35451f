// Package contact checks the email addresses and phone numbers OpenPSP
// sends messages to. It is a leaf package so that both the notifications
// (which send) and the shop settings (which store the merchant's contacts)
// apply the same rule: an address accepted as a setting can be sent to.
package contact

import (
	"net/mail"
	"net/url"
	"regexp"
	"strings"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ValidPhone reports whether s is an E.164 number: "+", a country code
// that does not start with 0, 7 to 15 digits in all.
func ValidPhone(s string) bool { return e164.MatchString(s) }

// ValidEmail reports whether s is a single plain address (no display name).
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == "" && strings.Contains(s, "@")
}

// ValidSMSGateway reports whether s is the URL of an HTTP SMS gateway: an
// absolute http(s) URL with a host. The SMS adapter and the configuration
// check (which refuses it before anything is created) apply this one rule.
func ValidSMSGateway(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
