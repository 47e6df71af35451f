package hosted

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// pageParams are what the merchant passes to a page in its query string and
// what every later request of the same page carries forward in its form
// action, so that no copy of openpsp needs to remember them.
//
// Hosted page (docs/hosted-form.md): kr-post-url-success, kr-get-url-success,
// kr-post-url-refused, kr-get-url-refused, kr-language.
// Iframe document (set by the JS client): origin (the merchant page's
// origin, the only target of postMessage), kr-public-key, kr-language,
// kr-popin, kr-hide-debug-toolbar, kr-placeholder-*, kr-label-*.
type pageParams struct {
	embedded  bool
	lang      string
	success   *returnURL
	refused   *returnURL
	origin    string
	publicKey string
	popin     bool
	hideTest  bool
	texts     map[string]string // kr-placeholder-* and kr-label-* by attribute name
}

// returnURL is where the browser goes at the end, and how.
type returnURL struct {
	URL    string
	Method string // "post" or "get"
}

// customTexts are the Lyra attributes that override a field's placeholder or
// label.
var customTexts = []string{
	"kr-placeholder-pan", "kr-placeholder-expiry", "kr-placeholder-security-code",
	"kr-placeholder-card-holder-name", "kr-label-pan", "kr-label-expiry",
	"kr-label-security-code", "kr-label-card-holder-name", "kr-label-do-register",
}

var (
	errBadReturnURL = errors.New("hosted: invalid return URL")
	errBadOrigin    = errors.New("hosted: invalid origin")
)

const maxURL = 2048

// parseParams reads the page parameters of r. Invalid return URLs or
// origins are errors (a merchant integration mistake, shown as such); the
// other parameters are ignored when malformed.
func parseParams(q url.Values, embedded bool) (pageParams, error) {
	p := pageParams{embedded: embedded, lang: clip(q.Get("kr-language"), 35)}
	if embedded {
		p.publicKey = clip(q.Get("kr-public-key"), 200)
		p.popin = truthy(q.Get("kr-popin"))
		p.hideTest = truthy(q.Get("kr-hide-debug-toolbar"))
		for _, k := range customTexts {
			// Trimmed after the cut too: a cut that ends on a space
			// would lose it on the next request, which reads the
			// carried-forward text again (pageParams.query).
			if v := strings.TrimSpace(clip(strings.TrimSpace(q.Get(k)), 100)); v != "" {
				if p.texts == nil {
					p.texts = map[string]string{}
				}
				p.texts[k] = v
			}
		}
		o, err := parseOrigin(q.Get("origin"))
		if err != nil {
			return p, err
		}
		p.origin = o
		return p, nil
	}
	var err error
	if p.success, err = pickReturn(q, "success"); err != nil {
		return p, err
	}
	if p.refused, err = pickReturn(q, "refused"); err != nil {
		return p, err
	}
	return p, nil
}

// pickReturn returns kr-post-url-{kind}, else kr-get-url-{kind}, else nil.
func pickReturn(q url.Values, kind string) (*returnURL, error) {
	for _, m := range []string{"post", "get"} {
		v := q.Get("kr-" + m + "-url-" + kind)
		if v == "" {
			continue
		}
		u, err := checkReturnURL(v)
		if err != nil {
			return nil, err
		}
		return &returnURL{URL: u, Method: m}, nil
	}
	return nil, nil
}

// checkReturnURL accepts an absolute http or https URL without user info.
// Whether plain http is acceptable in PRODUCTION is decided by the caller,
// which knows the mode.
func checkReturnURL(s string) (string, error) {
	if len(s) > maxURL {
		return "", errBadReturnURL
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", errBadReturnURL
	}
	return u.String(), nil
}

// parseOrigin accepts a serialized origin: scheme://host[:port], http or
// https, nothing else (it becomes a postMessage targetOrigin and must never
// be "*").
func parseOrigin(s string) (string, error) {
	if s == "" || len(s) > 300 {
		return "", errBadOrigin
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errBadOrigin
	}
	if strings.ContainsAny(u.Host, "*' ;,") {
		return "", errBadOrigin
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// originOf returns the origin of an absolute URL, for CSP source lists.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + strings.ToLower(u.Host)
}

// insecureForMode reports whether a return URL is plain http where the mode
// requires https: PRODUCTION forms only return over https, except to
// loopback addresses (a merchant developing on their machine).
func insecureForMode(r *returnURL, mode string) bool {
	if r == nil || mode != "PRODUCTION" {
		return false
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return true
	}
	if u.Scheme == "https" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// allowedReturn reports whether r may be returned to when the shop allows
// only the origins of allowed: with none, any address (PayZen's rule);
// otherwise the scheme, host and port of r must be one of them (a default
// port written or not, the host in any case).
func allowedReturn(r *returnURL, allowed []string) bool {
	return r == nil || allowedOrigin(r.URL, allowed)
}

// allowedOrigin reports whether the origin of raw (a URL or an origin) is
// one of allowed, compared as canonicalOrigin; with none, any.
func allowedOrigin(raw string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	o := canonicalOrigin(raw)
	if o == "" {
		return false
	}
	for _, a := range allowed {
		if canonicalOrigin(a) == o {
			return true
		}
	}
	return false
}

// frameAncestors are the origins that may frame the embedded form of a
// shop that lists its return origins; nil (any page) for one that does not.
func frameAncestors(allowed []string) []string {
	var out []string
	for _, a := range allowed {
		if o := canonicalOrigin(a); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// canonicalOrigin returns scheme://host[:port] of an absolute http(s) URL,
// lower case, without the scheme's default port; "" when raw has none.
func canonicalOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && !(u.Scheme == "https" && p == "443") && !(u.Scheme == "http" && p == "80") {
		host += ":" + p
	}
	return strings.ToLower(u.Scheme) + "://" + host
}

// query returns the parameters to carry forward on the page's own requests.
func (p pageParams) query() url.Values {
	q := url.Values{}
	if p.lang != "" {
		q.Set("kr-language", p.lang)
	}
	if p.embedded {
		q.Set("origin", p.origin)
		if p.publicKey != "" {
			q.Set("kr-public-key", p.publicKey)
		}
		if p.popin {
			q.Set("kr-popin", "true")
		}
		if p.hideTest {
			q.Set("kr-hide-debug-toolbar", "true")
		}
		for k, v := range p.texts {
			q.Set(k, v)
		}
		return q
	}
	if p.success != nil {
		q.Set("kr-"+p.success.Method+"-url-success", p.success.URL)
	}
	if p.refused != nil {
		q.Set("kr-"+p.refused.Method+"-url-refused", p.refused.URL)
	}
	return q
}

// returnOrigins are the origins the page may submit a form to.
func (p pageParams) returnOrigins() []string {
	var out []string
	for _, r := range []*returnURL{p.success, p.refused} {
		if r != nil {
			if o := originOf(r.URL); o != "" {
				out = append(out, o)
			}
		}
	}
	return out
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "0", "no", "off":
		return false
	}
	return true
}

func clip(s string, n int) string {
	if len(s) > n {
		// Cut on bytes, then drop a rune the cut may have split.
		return strings.ToValidUTF8(s[:n], "")
	}
	return s
}
