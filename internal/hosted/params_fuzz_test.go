package hosted

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// FuzzPageParams reads any query string a merchant page (or anyone editing
// the link) gives a hosted page or the iframe document. A refusal is one of
// the two integration errors the page shows; what is accepted is carried
// forward by the page's own requests (pageParams.query) and must read back
// the same there, or the second request of a payment would see other
// return URLs, texts or origin than the first. The origin is canonical and
// never "*" (it is postMessage's target), and the page's
// Content-Security-Policy keeps its ten directives whatever the return URLs.
func FuzzPageParams(f *testing.F) {
	for _, s := range []string{
		"kr-post-url-success=https://shop.example/ok&kr-get-url-refused=http://127.0.0.1:8080/ko&kr-language=fr-FR",
		"origin=https://Shop.Example:8443&kr-public-key=69876357:testpublickey_x&kr-popin=true&kr-label-pan=Numéro",
		"origin=*", "origin=https://a;b", "origin=https://a/x", "kr-post-url-success=javascript:alert(1)",
		"kr-post-url-success=https://a;script-src/", "kr-post-url-success=https://u:p@a/", "kr-get-url-success=https:opaque",
		"kr-label-pan=" + strings.Repeat("a", 99) + "%20b&origin=https://a", "kr-language=" + strings.Repeat("é", 20),
		"kr-post-url-success=https://a/%zz", "kr-post-url-success=https://[::1%25eth0]/", "origin=https://[::1]:443",
		"kr-hide-debug-toolbar=off&origin=http://localhost", "kr-post-url-success=HTTPS://A.EXAMPLE/x?y=1#z",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	directives := []string{"default-src", "script-src", "style-src", "img-src", "connect-src", "form-action", "frame-ancestors", "base-uri", "require-trusted-types-for", "trusted-types"}
	f.Fuzz(func(t *testing.T, raw string, embedded bool) {
		q, _ := url.ParseQuery(raw)
		p, err := parseParams(q, embedded)
		if err != nil {
			if !errors.Is(err, errBadReturnURL) && !errors.Is(err, errBadOrigin) {
				t.Fatalf("%q: error %v", raw, err)
			}
			return
		}
		back, err := parseParams(p.query(), embedded)
		if err != nil || !reflect.DeepEqual(back, p) {
			t.Fatalf("%q: %+v carried forward as %q reads back as %+v, %v", raw, p, p.query().Encode(), back, err)
		}
		if embedded {
			if o, err := parseOrigin(p.origin); err != nil || o != p.origin || strings.Contains(o, "*") {
				t.Fatalf("%q: origin %q is not canonical (%q, %v)", raw, p.origin, o, err)
			}
		}
		origins := p.returnOrigins()
		pol := pagePolicy{nonce: "n", embedded: embedded, formAction: origins, imgSrc: origins, frameAncestors: frameAncestors(origins)}
		parts := strings.Split(pol.header(), "; ")
		if len(parts) != len(directives) {
			t.Fatalf("%q: policy %q", raw, pol.header())
		}
		for i, d := range parts {
			if name, _, _ := strings.Cut(d, " "); name != directives[i] || strings.ContainsAny(d, ";,\r\n") {
				t.Fatalf("%q: directive %q in policy %q", raw, d, pol.header())
			}
		}
	})
}
