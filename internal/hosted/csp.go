package hosted

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
)

// pagePolicy is the Content-Security-Policy of one page, computed per
// response: the forms a page may submit and the images it may show depend
// on the merchant's return URLs and logo.
type pagePolicy struct {
	nonce string
	// embedded pages may be framed by any page (the merchant's), or by
	// frameAncestors only when set; the others by none.
	embedded bool
	// frameAncestors, for an embedded page of a shop that lists its
	// return origins, are the only origins that may frame it.
	frameAncestors []string
	// formAction lists origins besides 'self' the page may submit to (the
	// merchant's return URLs, for the auto-submitted browser return).
	formAction []string
	// imgSrc lists origins besides 'self' for images (the shop's logo).
	imgSrc []string
}

// newNonce returns a fresh CSP nonce (128 random bits).
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:]) // "-" and "_": nothing for HTML to escape
}

// header builds the policy. No 'unsafe-inline', no 'unsafe-eval': scripts
// are our own files, allowed by nonce; the only inline style is the shop
// colour block, also by nonce. Trusted Types are required: the scripts
// never write HTML as text.
func (p pagePolicy) header() string {
	frameAncestors := "'none'"
	if p.embedded {
		// The iframe document is framed by whichever page embeds it: for
		// a shop that lists no origins, the merchant origin is only known
		// from what the page says, so it cannot be pinned here
		// (postMessage still goes to that origin only). A shop that lists
		// its origins is framed by those only, whatever the page says.
		frameAncestors = "*"
		if len(p.frameAncestors) > 0 {
			frameAncestors = strings.TrimSpace(sources("", p.frameAncestors))
			if frameAncestors == "" {
				frameAncestors = "'none'" // none survived cspSafe: frame nowhere
			}
		}
	}
	d := []string{
		"default-src 'none'",
		"script-src 'nonce-" + p.nonce + "'",
		"style-src 'self' 'nonce-" + p.nonce + "'",
		"img-src " + sources("'self'", p.imgSrc),
		"connect-src 'self'",
		"form-action " + sources("'self'", p.formAction),
		"frame-ancestors " + frameAncestors,
		"base-uri 'none'",
		"require-trusted-types-for 'script'",
		"trusted-types 'none'",
	}
	return strings.Join(d, "; ")
}

func sources(first string, extra []string) string {
	seen := map[string]bool{}
	out := []string{first}
	for _, o := range extra {
		if o == "" || seen[o] || !cspSafe(o) {
			continue
		}
		seen[o] = true
		out = append(out, o)
	}
	return strings.Join(out, " ")
}

// cspSafe refuses anything that could end a source expression or a
// directive; the origins come from parsed URLs, this is a second guard.
func cspSafe(s string) bool {
	return !strings.ContainsAny(s, " ;,'\"\r\n\t*")
}

// setPageHeaders writes the security headers of an HTML page.
func setPageHeaders(w http.ResponseWriter, p pagePolicy) {
	h := w.Header()
	h.Set("Content-Security-Policy", p.header())
	h.Set("Content-Type", "text/html; charset=utf-8")
	setCommonHeaders(h)
	if !p.embedded {
		h.Set("X-Frame-Options", "DENY")
	}
	// Card pages must not be stored by the browser or any proxy.
	h.Set("Cache-Control", "no-store")
}

// plainError answers a request refused before any page is rendered (a
// cross-site POST) or a page that could not be rendered, with the security
// headers of the pages: http.Error alone sets none but nosniff. A body that
// does not parse gets failUnreadable's answer instead.
func plainError(w http.ResponseWriter, msg string, status int, embedded bool) {
	setPageHeaders(w, pagePolicy{nonce: newNonce(), embedded: embedded})
	http.Error(w, msg, status)
}

// setJSONHeaders writes the headers of the form script's JSON answers.
func setJSONHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	setCommonHeaders(h)
	h.Set("Cache-Control", "no-store")
}

func setCommonHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin: our URLs carry the formToken, which must not leak to the
	// merchant or to the logo's host through Referer.
	h.Set("Referrer-Policy", "same-origin")
}
