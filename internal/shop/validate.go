package shop

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/contact"
	"github.com/openpsp/openpsp/internal/langpref"
	"github.com/openpsp/openpsp/internal/money"
)

// maxURL is the length limit of a URL setting (notification-url, logo-url).
const maxURL = 2048

// validate refuses settings that messages could never be sent to or that
// could do harm on a buyer's page, naming the setting as `openpsp shops
// set` calls it. Create and Update call it, so every writer of settings
// (CLI, back office, seeding) gets the same rules. Empty values are
// allowed: they clear the setting (except the language).
func (sh Shop) validate(production bool) error {
	var errs []error
	for _, p := range sh.problems(production) {
		errs = append(errs, p.err)
	}
	return errors.Join(errs...)
}

// problem is one setting that fails validate's rules.
type problem struct {
	name, value string
	err         error
}

// problems returns every setting of sh that fails the rules, in the order
// `openpsp shops set` lists them.
func (sh Shop) problems(production bool) []problem {
	var out []problem
	add := func(name string, err error) {
		if err != nil && !slices.ContainsFunc(out, func(p problem) bool { return p.name == name }) {
			out = append(out, problem{name, sh.setting(name), err})
		}
	}
	// Text that is not UTF-8 first (bytes of another encoding, such as a
	// Latin-1 terminal sends): PostgreSQL refuses it with its driver's
	// error, SQLite would store it and the JSON of the settings turn it
	// into U+FFFD. That setting's other rules are then not applied: one
	// clear error per field.
	for _, name := range textSettings {
		add(name, checkText(name, sh.setting(name)))
	}
	if !supportedLanguage(sh.Language) {
		add("language", fmt.Errorf("language must be one of %s, not %q", strings.Join(langpref.Spoken, ", "), sh.Language))
	}
	for _, name := range []string{"email", "merchant-email"} {
		if v := sh.setting(name); v != "" && !contact.ValidEmail(v) {
			add(name, fmt.Errorf("%s must be a plain email address (name@example.com), not %q", name, v))
		}
	}
	for _, name := range []string{"phone", "merchant-phone"} {
		if v := sh.setting(name); v != "" && !contact.ValidPhone(v) {
			add(name, fmt.Errorf("%s must be an E.164 number (+33612345678), not %q", name, v))
		}
	}
	add("notification-url", checkNotificationURL("notification-url", sh.NotificationURL))
	if _, ok := money.Lookup(sh.Currency); sh.Currency != "" && !ok {
		add("currency", fmt.Errorf("currency must be an ISO 4217 code in capitals (EUR), not %q", sh.Currency))
	}
	if c := sh.Settings.PrimaryColor; c != "" && !ValidPrimaryColor(c) {
		add("primary-color", fmt.Errorf("primary-color must be a colour written #RRGGBB or #RGB, not %q", c))
	}
	add("logo-url", checkLogoURL("logo-url", sh.LogoURL, production))
	add("return-origins", checkReturnOrigins("return-origins", sh.Settings.ReturnOrigins))
	add("time-zone", checkTimeZone("time-zone", sh.Settings.TimeZone))
	return out
}

// textSettings are the text fields of a shop, by the names `openpsp shops
// set` gives them, in its order: each must be UTF-8 text on one line
// (checkText): the name goes into emails, SMS and the buyer's pages.
var textSettings = []string{"name", "language", "email", "merchant-email", "phone", "merchant-phone",
	"notification-url", "currency", "primary-color", "logo-url", "return-origins", "time-zone", "token-deletion"}

// checkText refuses a setting's value that is not UTF-8 text on one line:
// bytes of another encoding or a control character (a line
// break, a tab, an escape), which none of a shop's or a PSPID's settings
// has and which would cut an email's subject or an SMS in two, or reach a
// header or a log as they are.
func checkText(name, v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s must be UTF-8 text, not %q (bytes of another encoding: set your terminal or client to UTF-8)", name, v)
	}
	if strings.ContainsFunc(v, unicode.IsControl) {
		return fmt.Errorf("%s must be text without control characters (line breaks, tabs…), not %q", name, v)
	}
	return nil
}

// check refuses a PSPID's settings that hold text no setting can take:
// bytes that are not UTF-8 (the JSON the settings are stored in would turn
// them into U+FFFD, silently) or control characters (none of these
// identifiers and URLs has one; they would go as they are into the
// Content-Security-Policy of FlexCheckout or a post-sale request). Each setting is named as
// `openpsp ogone settings set` calls it. The rules of each setting's
// values are the ogone package's (ogone.Admin.UpdateSettings), which
// imports this one.
func (set OgoneSettings) check() error {
	for _, f := range []struct {
		name   string
		values []string
	}{
		{"frame-ancestors", set.FrameAncestors}, {"return-fields", set.ReturnFields},
		{"mode", []string{set.Mode}}, {"default-eci", []string{set.DefaultECI}},
		{"default-operation", []string{set.DefaultOperation}}, {"charset", []string{set.Charset}},
		{"postsale-url", []string{set.PostSaleURL}}, {"postsale-method", []string{set.PostSaleMethod}},
	} {
		name := "ogone setting " + f.name
		for _, v := range f.values {
			if err := checkText(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// setting returns the value of a setting validate checks, by the name
// `openpsp shops set` gives it.
func (sh Shop) setting(name string) string {
	switch name {
	case "name":
		return sh.Name
	case "token-deletion":
		return sh.Settings.TokenDeletion
	case "language":
		return sh.Language
	case "email":
		return sh.PrimaryEmail
	case "merchant-email":
		return sh.Settings.Notifications.MerchantEmail
	case "phone":
		return sh.PrimaryPhone
	case "merchant-phone":
		return sh.Settings.Notifications.MerchantPhone
	case "notification-url":
		return sh.NotificationURL
	case "currency":
		return sh.Currency
	case "primary-color":
		return sh.Settings.PrimaryColor
	case "logo-url":
		return sh.LogoURL
	case "return-origins":
		return strings.Join(sh.Settings.ReturnOrigins, ",")
	case "time-zone":
		return sh.Settings.TimeZone
	}
	return ""
}

// fixExample is how an operator sets a valid value of a setting, and
// whether an empty value (clearing it) is allowed.
func fixExample(name string) (string, bool) {
	switch name {
	case "name":
		return `name="Example shop"`, false
	case "token-deletion":
		return "token-deletion=automatic", true
	case "language":
		return "language=en", false
	case "email", "merchant-email":
		return name + "=name@example.com", true
	case "phone", "merchant-phone":
		return name + "=+33612345678", true
	case "notification-url":
		return "notification-url=https://merchant.example/ipn", true
	case "currency":
		return "currency=EUR", true
	case "primary-color":
		return "primary-color=#0b5a3c", true
	case "logo-url":
		return "logo-url=https://cdn.example/logo.png", true
	case "return-origins":
		return "return-origins=https://shop.example", true
	case "time-zone":
		return "time-zone=Europe/Paris", true
	}
	return name + "=…", true
}

// StoredSettingsError is Update's answer when the shop as stored already
// holds values today's rules refuse (saved by an older version, or outside
// production): an update saves every setting again, so it goes through
// only once those are set right or cleared in the same change. It names
// each of them, with how to fix it, and any invalid value of the change
// itself.
type StoredSettingsError struct {
	ShopID string
	// stored are the invalid values the shop already held and the change
	// leaves as they are; changed, those the change itself brings.
	stored, changed []problem
}

func (e *StoredSettingsError) Error() string {
	var lines, fixes []string
	for _, p := range e.stored {
		ex, clear := fixExample(p.name)
		how := "set " + ex
		if clear {
			how += ", or clear it with " + p.name + "="
		}
		lines = append(lines, fmt.Sprintf("stored %s %q: %v; %s", p.name, p.value, p.err, how))
		fixes = append(fixes, ex)
	}
	for _, p := range e.changed {
		lines = append(lines, fmt.Sprintf("in this change: %v", p.err))
	}
	return fmt.Sprintf("shop %s holds values today's checks refuse (saved by an older version, or outside production) and any change saves them again: "+
		"set or clear them in the same command, e.g. `openpsp shops set %s %s …`\n  - %s",
		e.ShopID, e.ShopID, strings.Join(fixes, " "), strings.Join(lines, "\n  - "))
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
// OpenPSP's address ("/brand/logo.png", which the reverse proxy in front
// of OpenPSP serves: OpenPSP serves no merchant images) is allowed: the
// hosted page shows it.
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
		return fmt.Errorf("%s must be an https:// URL of an image (or a path on OpenPSP's address that your reverse proxy serves, such as /brand/logo.png), not %q", k, v)
	}
	if u.User != nil {
		return fmt.Errorf("%s must not carry a user name or password: every buyer's browser would see them", k)
	}
	if production && u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("%s must be https:// in production (a plain-HTTP image on the payment page): %q", k, v)
	}
	return nil
}

// checkReturnOrigins refuses an allowed return origin that is not one:
// each must be scheme://host[:port] with nothing after it, https, or http
// on a loopback host only (a merchant developing on their machine, as for
// return URLs), with no credentials.
func checkReturnOrigins(k string, origins []string) error {
	for _, o := range origins {
		if len(o) > maxURL {
			return fmt.Errorf("%s: each origin must be at most %d characters, not %d", k, maxURL, len(o))
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.User != nil ||
			u.Opaque != "" || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(o, "#") {
			return fmt.Errorf("%s must be origins such as https://shop.example (scheme, host and port only, no path), separated by commas, not %q", k, o)
		}
		if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("%s must be https:// origins (http:// only for localhost or a loopback address), not %q", k, o)
		}
	}
	return nil
}

// isLocalPath reports whether v is a path on OpenPSP's address, not a
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
