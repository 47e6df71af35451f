// Package formfocus puts the buyer on the first mistake of a payment form
// sent back by the server (a form posted without its script: FlexCheckout
// has none, the hosted page's may not have run), with no script: the
// autofocus attribute on that field and, in a frame, a refresh to its
// fragment.
package formfocus

import (
	"html/template"
	"net/http"
	"regexp"
)

// First returns the first of fields (in the page's order) that has an
// error, "" when none has.
func First(fields []string, hasError func(field string) bool) string {
	for _, f := range fields {
		if hasError(f) {
			return f
		}
	}
	return ""
}

// Framed tells whether r, the form's submission, came from a frame
// (Sec-Fetch-Dest), where the page that answers may need Refresh.
func Framed(r *http.Request) bool {
	dest := r.Header.Get("Sec-Fetch-Dest")
	return dest == "iframe" || dest == "frame"
}

var idPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// Refresh is, for a form sent back with mistakes into a frame, a refresh
// to the fragment of the first invalid field's element (id): Chromium
// ignores autofocus in a frame of another origin than the top page's
// (the merchant's checkout), but focuses the element a fragment names,
// and a refresh needs no script (the pages' CSP allows none of their
// own inline; CSP has no directive for a refresh). Measured in the
// browser tests of FlexCheckout (TestBrowserFlexFocusInCrossOriginFrame)
// and of the hosted form. It costs a history entry (Chromium keeps the
// page without the fragment under it), so a page shown in full, where
// autofocus works, has none: "" unless framed, and for an id that is
// not a plain one.
func Refresh(framed bool, id string) template.HTML {
	if !framed || !idPattern.MatchString(id) {
		return ""
	}
	return template.HTML(`<meta http-equiv="refresh" content="0;url=#` + id + `">`) //nolint:gosec // id checked above
}
