package main

import (
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/shop"
)

// `openpsp shops show` printed the Go structure as JSON ("PrimaryEmail",
// "Settings": {"paymentByToken" …}). It lists each field under the name
// `shops set` takes, aligned, and masks the secrets that `shops keys`
// shows in clear.
func TestShopsShowListsSettingNames(t *testing.T) {
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	dev, err := app.New(context.Background(), mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := dev.Shops.Credentials(context.Background(), shop.DemoShopID, shop.ModeTest)
	dev.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := helpText(t, "shops", "set", shop.DemoShopID, "max-attempts=5", "logo-url=https://cdn.example.com/l.png", "ogone-default-eci=9"); err != nil {
		t.Fatal(err)
	}
	out, err := helpText(t, "shops", "show", shop.DemoShopID)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	col := -1
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" || strings.HasPrefix(line, "Secrets are masked") {
			continue
		}
		i := strings.Index(line, "  ")
		if i < 0 {
			t.Fatalf("line without a value: %q", line)
		}
		j := i + len(line[i:]) - len(strings.TrimLeft(line[i:], " "))
		if col >= 0 && j != col {
			t.Errorf("values not aligned: %q starts at column %d, others at %d", line, j, col)
		}
		col = j
		values[line[:i]] = line[j:]
	}
	for k, v := range map[string]string{
		"name": "OpenPSP Demo Shop", "max-attempts": "5", "logo-url": "https://cdn.example.com/l.png",
		"token-deletion": "automatic", "payment-by-token": "true", "ogone-default-eci": "9", "ogone-pspid": "openpspdemo",
		"test public key": creds.PublicKey,
		// The seeded demo shop is in Paris, as its default country (FR).
		"time-zone": "Europe/Paris",
	} {
		if values[k] != v {
			t.Errorf("%s: %q, want %q", k, values[k], v)
		}
	}
	// Every setting `shops set` takes is listed under that name.
	_, settings, _ := strings.Cut(shopsUsage, "change profile and settings")
	for _, m := range regexp.MustCompile(`([a-z-]+)=`).FindAllStringSubmatch(settings, -1) {
		if _, ok := values[m[1]]; !ok {
			t.Errorf("shops show does not list %s", m[1])
		}
	}
	for _, goName := range []string{"PrimaryEmail", "Settings", "ID", "{"} {
		if strings.Contains(out, goName) {
			t.Errorf("shops show prints %q:\n%s", goName, out)
		}
	}
	for _, secret := range []string{creds.Password, creds.HMACKey, "Mysecretsig1875!?"} {
		if strings.Contains(out, secret) {
			t.Errorf("shops show prints a secret in full:\n%s", out)
		}
	}
	if got := values["test password"]; got != "testpassword_…"+creds.Password[len(creds.Password)-4:] {
		t.Errorf("test password shown as %q", got)
	}
}

// `openpsp shops set ID max-attempts=0` answered "shop … updated" and left
// 3: the shop's defaults take a zero for "not set". A count of 0 is refused
// as -1 is, saying what to give, and nothing is saved.
func TestShopsSetRefusesZeroCounts(t *testing.T) {
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	dev, err := app.New(context.Background(), mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	dev.Close()
	for _, kv := range []string{"max-attempts=0", "authorization-validity-days=0", "max-attempts=-1"} {
		out, err := helpText(t, "shops", "set", shop.DemoShopID, kv)
		k, _, _ := strings.Cut(kv, "=")
		if err == nil || !strings.Contains(err.Error(), k+" must be a whole number of 1 or more") {
			t.Errorf("%s: %v %q", kv, err, out)
		}
	}
}

// `shops create` said of all its secrets "they are not shown again in this
// form", yet `shops keys` shows the API keys in clear whenever asked; only
// the Ogone SHA passphrases and DirectLink password are never shown again
// (`shops show` masks them). The message says which is which.
func TestShopsCreateSaysWhichSecretsAreShownAgain(t *testing.T) {
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	t.Setenv("OPENPSP_DEMO", "false")
	if _, err := helpText(t, "migrate"); err != nil {
		t.Fatal(err)
	}
	out, err := helpText(t, "shops", "create", "-name", "Boulangerie", "-id", "12345678")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "not shown again in this form") || !strings.Contains(out, "openpsp shops keys 12345678") ||
		!strings.Contains(out, "no command shows them again") {
		t.Errorf("shops create:\n%s", out)
	}
}

// Shops had no time zone: every email told times in UTC. `shops set
// time-zone=` takes an IANA name, `shops show` lists it, a shop that set
// none is in UTC (as before), an unknown name is refused naming the
// setting and saves nothing (nor the other settings of the command), and
// an empty value goes back to UTC.
func TestShopsSetTimeZone(t *testing.T) {
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	t.Setenv("OPENPSP_DEMO", "false")
	if _, err := helpText(t, "migrate"); err != nil {
		t.Fatal(err)
	}
	if _, err := helpText(t, "shops", "create", "-name", "Boulangerie", "-id", "12345678"); err != nil {
		t.Fatal(err)
	}
	shown := func() (zone, attempts string) {
		t.Helper()
		out, err := helpText(t, "shops", "show", "12345678")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(out, "\n") {
			k, v, _ := strings.Cut(line, "  ")
			switch k {
			case "time-zone":
				zone = strings.TrimSpace(v)
			case "max-attempts":
				attempts = strings.TrimSpace(v)
			}
		}
		return zone, attempts
	}
	if z, _ := shown(); z != "UTC (default)" {
		t.Errorf("a new shop's time-zone: %q, want UTC (default)", z)
	}
	if out, err := helpText(t, "shops", "set", "12345678", "time-zone=Europe/Paris"); err != nil || !strings.Contains(out, "updated") {
		t.Fatalf("set Europe/Paris: %v %q", err, out)
	}
	if z, _ := shown(); z != "Europe/Paris" {
		t.Errorf("time-zone %q, want Europe/Paris", z)
	}
	for _, bad := range []string{"Europe/Pariss", "europe/paris ", "Local", "../../../etc/passwd", "CET+1"} {
		out, err := helpText(t, "shops", "set", "12345678", "max-attempts=5", "time-zone="+bad)
		if err == nil || !strings.Contains(err.Error(), "time-zone must be an IANA time zone name such as Europe/Paris or UTC") {
			t.Errorf("time-zone=%s: %v %q", bad, err, out)
		}
		if z, n := shown(); z != "Europe/Paris" || n != "3" {
			t.Errorf("after the refused time-zone=%s: time-zone %q, max-attempts %q: something was saved", bad, z, n)
		}
	}
	if _, err := helpText(t, "shops", "set", "12345678", "time-zone=America/New_York"); err != nil {
		t.Fatal(err)
	}
	if z, _ := shown(); z != "America/New_York" {
		t.Errorf("time-zone %q, want America/New_York", z)
	}
	if _, err := helpText(t, "shops", "set", "12345678", "time-zone="); err != nil {
		t.Fatal(err)
	}
	if z, _ := shown(); z != "UTC (default)" {
		t.Errorf("after time-zone= the time-zone is %q, want UTC (default)", z)
	}
}
