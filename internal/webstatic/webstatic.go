// Package webstatic serves the embedded files (stylesheets, scripts,
// images) of the pages OpenPSP shows.
package webstatic

import (
	_ "embed"
	"io/fs"
	"net/http"
	"strings"
)

// Files serves the files of fsys, under a path the caller strips. A
// directory is not found: http.FileServer would list it.
func Files(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// TokensCSS is tokens.css, the design tokens (colours, type, control
// sizes) the buyer pages of every package share.
//
//go:embed tokens.css
var TokensCSS []byte

// Tokens serves TokensCSS, for a package that serves its own files under
// another path.
func Tokens() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(TokensCSS)
	})
}
