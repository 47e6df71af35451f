package hosted

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path"
	"strings"

	"github.com/openpsp/openpsp/internal/webstatic"
)

// serveClient serves the JS client merchant pages load. Its URL is fixed
// (merchants copy it into their pages), so it is cached briefly.
func serveClient(w http.ResponseWriter, r *http.Request) {
	writeStatic(w, "text/javascript; charset=utf-8", "public, max-age=300", clientJS)
}

// labelsMark is where the client's table of pop-in labels goes.
const labelsMark = "{} /* openpsp:popin-labels */"

// clientJS is the JS client with the pop-in labels of every language
// written in (popinKeys), so that a French page shows French before the
// frame has loaded.
var clientJS = func() []byte {
	b, err := staticFS.ReadFile("static/kr-payment-form.js")
	if err != nil {
		panic(err)
	}
	labels := map[string]map[string]string{}
	for _, l := range languages {
		labels[l] = map[string]string{}
		for _, k := range popinKeys {
			labels[l][k] = messages[l][k]
		}
	}
	j, err := json.Marshal(labels)
	if err != nil || !bytes.Contains(b, []byte(labelsMark)) {
		panic("hosted: the JS client has no pop-in labels table")
	}
	return bytes.Replace(b, []byte(labelsMark), j, 1)
}()

// serveThemeStub answers the Lyra theme files merchant pages include
// (classic-reset.css, classic.js, neon-reset.min.css, neon.js, …) with an
// empty file of the right type: the form's look is our own, but a page
// written for Lyra must not break on a 404 or a blocked MIME type.
func serveThemeStub(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	var ctype, body string
	switch {
	case strings.HasSuffix(name, ".css"):
		ctype, body = "text/css; charset=utf-8", "/* OpenPSP: Lyra theme files are not needed; the form is styled inside its frame. */\n"
	case strings.HasSuffix(name, ".js"):
		ctype, body = "text/javascript; charset=utf-8", "/* OpenPSP: Lyra theme files are not needed; the form is styled inside its frame. */\n"
	default:
		http.NotFound(w, r)
		return
	}
	writeStatic(w, ctype, "public, max-age=86400", []byte(body))
}

// serveAsset serves the pages' own script and style sheet. Pages link them
// with ?v=<content hash>, so they can be cached long.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.PathValue("file"))
	var ctype string
	switch path.Ext(name) {
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	default:
		http.NotFound(w, r)
		return
	}
	if name == "kr-payment-form.js" { // served at the Lyra path only
		http.NotFound(w, r)
		return
	}
	b, err := staticFS.ReadFile("static/" + name)
	if name == "tokens.css" { // shared with FlexCheckout's page
		b, err = webstatic.TokensCSS, nil
	}
	if err != nil {
		http.NotFound(w, r)
		return
	}
	writeStatic(w, ctype, "public, max-age=86400", b)
}

func writeStatic(w http.ResponseWriter, ctype, cache string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	// Merchant pages on other origins load these files.
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(b)
}
