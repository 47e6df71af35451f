package shop

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README and the refusal gave /static/logo.png as the example of a
// path on OpenPSP: /static/ is OpenPSP's own (it answers 404 there) and it
// serves no merchant images. The example is a path the reverse proxy can
// serve, and it is accepted.
func TestLogoPathExampleIsOneAProxyCanServe(t *testing.T) {
	err := checkLogoURL("logo-url", "ftp://x/logo.png", true)
	if err == nil {
		t.Fatal("ftp logo accepted")
	}
	m := regexp.MustCompile(`such as (/\S+?)\)`).FindStringSubmatch(err.Error())
	if m == nil || strings.HasPrefix(m[1], "/static/") || !strings.Contains(err.Error(), "reverse proxy") {
		t.Fatalf("refusal's example path: %q", err)
	}
	if err := checkLogoURL("logo-url", m[1], true); err != nil {
		t.Fatalf("the example %s is refused: %v", m[1], err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "`"+m[1]+"`") || strings.Contains(string(readme), "/static/logo") {
		t.Errorf("README does not give %s as the logo path example", m[1])
	}
}
