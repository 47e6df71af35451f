package shop

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/openpsp/openpsp/internal/contact"
	"github.com/openpsp/openpsp/internal/money"
)

// maxURL is the length limit of a URL setting (notification-url, logo-url).
const maxURL = 2048

// validate refuses settings that messages could never be sent to or that
// could do harm on a buyer's page, naming the setting as `openpsp shops
// set` calls it. Create and Update call it, so every writer of settings
// (CLI, back office, seeding) gets the same rules. Empty values are
// allowed: they clear the setting.
func (sh Shop) validate(production bool) error {
	n := sh.Settings.Notifications
	for _, c := range []struct{ name, value string }{
		{"email", sh.PrimaryEmail},
		{"merchant-email", n.MerchantEmail},
	} {
		if c.value != "" && !contact.ValidEmail(c.value) {
			return fmt.Errorf("%s must be a plain email address (name@example.com), not %q", c.name, c.value)
		}
	}
	for _, c := range []struct{ name, value string }{
		{"phone", sh.PrimaryPhone},
		{"merchant-phone", n.MerchantPhone},
	} {
		if c.value != "" && !contact.ValidPhone(c.value) {
			return fmt.Errorf("%s must be an E.164 number (+33612345678), not %q", c.name, c.value)
		}
	}
	if err := checkNotificationURL("notification-url", sh.NotificationURL); err != nil {
		return err
	}
	if _, ok := money.Lookup(sh.Currency); sh.Currency != "" && !ok {
		return fmt.Errorf("currency must be an ISO 4217 code in capitals (EUR), not %q", sh.Currency)
	}
	if c := sh.Settings.PrimaryColor; c != "" && !ValidPrimaryColor(c) {
		return fmt.Errorf("primary-color must be a colour written #RRGGBB or #RGB, not %q", c)
	}
	return checkLogoURL("logo-url", sh.LogoURL, production)
}

// colorPattern is a CSS hex colour: what the emails take as a shop's colour.
var colorPattern = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// ValidPrimaryColor reports whether s is a shop colour ("#0b5a3c" or
// "#0b5"), the rule the settings and the emails share.
func ValidPrimaryColor(s string) bool { return colorPattern.MatchString(s) }

// checkNotificationURL applies the rule of the V4 API's ipnTargetUrl: an
// http(s) URL with a host, at most maxURL.
func checkNotificationURL(k, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(v) > maxURL {
		return fmt.Errorf("%s must be an http:// or https:// URL, not %q", k, v)
	}
	return nil
}

// checkLogoURL refuses a logo the hosted page and the emails could not show
// or that could do harm as an <img src>: only http(s) with a host (no
// javascript: or data:), no credentials, no characters that need escaping
// in an attribute, at most maxURL; in production https, except on loopback
// (a merchant developing on their machine, as for return URLs). A path on
// OpenPSP ("/static/…") is allowed: the hosted page shows it.
func checkLogoURL(k, v string, production bool) error {
	if v == "" {
		return nil
	}
	if len(v) > maxURL {
		return fmt.Errorf("%s must be at most %d characters, not %d", k, maxURL, len(v))
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("\"'<>`\\", r) }) {
		return fmt.Errorf("%s must not contain spaces, quotes, <, > or backslashes (percent-encode them): %q", k, v)
	}
	if isLocalPath(v) {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%s must be an https:// URL of an image (or a path on OpenPSP such as /static/logo.png), not %q", k, v)
	}
	if u.User != nil {
		return fmt.Errorf("%s must not carry a user name or password: every buyer's browser would see them", k)
	}
	if production && u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("%s must be https:// in production (a plain-HTTP image on the payment page): %q", k, v)
	}
	return nil
}

// isLocalPath reports whether v is a path on OpenPSP ("/static/…"), not a
// scheme-relative URL ("//host/…") that would load from another site.
func isLocalPath(v string) bool {
	return strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//")
}

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DisplayLogoURL returns the logo as a buyer may be shown it: an https URL
// with a host and no credentials, or a path on OpenPSP; anything else
// (a logo stored before logo-url was checked, an http:// one allowed
// outside production) gives "". The hosted page and the emails both use it,
// so a buyer never sees a logo on one that the other leaves out.
func DisplayLogoURL(s string) string {
	if s == "" {
		return ""
	}
	if isLocalPath(s) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return ""
	}
	return u.String()
}
