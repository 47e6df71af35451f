package main

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

// withStdin runs fn with os.Stdin reading input (a file, as a shell
// redirection gives it).
func withStdin(t *testing.T, input string, fn func()) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(input); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	fn()
}

// orderDirect sends a DirectLink order for the demo PSPID over HTTP with
// the password given, signed as the merchant's code signs it, and returns
// the ncresponse's attributes.
func orderDirect(t *testing.T, base, password, orderID string) map[string]string {
	t.Helper()
	ps := ogone.Params{{Name: "PSPID", Value: shop.DemoPSPID}, {Name: "USERID", Value: shop.DemoAPIUser},
		{Name: "PSWD", Value: password}, {Name: "ORDERID", Value: orderID}, {Name: "AMOUNT", Value: "1250"},
		{Name: "CURRENCY", Value: "EUR"}, {Name: "OPERATION", Value: "RES"}, {Name: "CARDNO", Value: "4970100000000055"},
		{Name: "ED", Value: "1235"}, {Name: "CVC", Value: "123"}, {Name: "ECI", Value: "7"}}
	sig, err := ogone.Sign("SHA-512", ps, shop.DemoSHAPassphrase, nil)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"SHASIGN": {sig}}
	for _, p := range ps {
		form.Set(p.Name, p.Value)
	}
	resp, err := http.PostForm(base+"/ncol/test/orderdirect_utf8.asp", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var x struct {
		Attrs []xml.Attr `xml:",any,attr"`
	}
	if err := xml.Unmarshal(body, &x); err != nil {
		t.Fatalf("orderdirect: not XML: %s", body)
	}
	out := map[string]string{}
	for _, a := range x.Attrs {
		out[a.Name.Local] = a.Value
	}
	return out
}

// `openpsp shops` could not choose or replace a DirectLink API password:
// only `shops create` made one. `shops directlink-password` sets one read
// from stdin, or -generate makes one and prints it once; a running server
// takes DirectLink calls with the new password at once and refuses the
// previous one with NCERROR 50001119, as any wrong password; the PSPID's
// settings and SHA passphrases stay as they were.
func TestShopsDirectLinkPassword(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	t.Setenv("OPENPSP_ADDR", "127.0.0.1:0")
	t.Setenv("OPENPSP_JOBS", "false")
	srv, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx) }()
	defer func() {
		cancel()
		<-served
	}()
	base := srv.URL()
	if r := orderDirect(t, base, shop.DemoAPIPassword, "PW-0"); r["NCERROR"] != "0" || r["STATUS"] != "5" {
		t.Fatalf("order with the demo password: %v", r)
	}
	if out, err := helpText(t, "shops", "set", shop.DemoShopID, "ogone-default-eci=9"); err != nil {
		t.Fatalf("shops set: %v\n%s", err, out)
	}

	const chosen = "a-chosen-DirectLink-password-1"
	var out string
	withStdin(t, chosen+"\n", func() { out, err = helpText(t, "shops", "directlink-password", shop.DemoShopID) })
	if err != nil {
		t.Fatalf("shops directlink-password: %v\n%s", err, out)
	}
	if strings.Contains(out, chosen) {
		t.Errorf("the command echoed the password it read:\n%s", out)
	}
	if r := orderDirect(t, base, chosen, "PW-1"); r["NCERROR"] != "0" || r["STATUS"] != "5" {
		t.Fatalf("order with the new password: %v", r)
	}
	if r := orderDirect(t, base, shop.DemoAPIPassword, "PW-2"); r["NCERROR"] != "50001119" {
		t.Fatalf("order with the previous password: %v, want NCERROR 50001119", r)
	}

	out, err = helpText(t, "shops", "directlink-password", shop.DemoShopID, "-generate")
	if err != nil {
		t.Fatalf("shops directlink-password -generate: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^  password +([A-Za-z0-9]{24})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("-generate printed no password:\n%s", out)
	}
	if r := orderDirect(t, base, m[1], "PW-3"); r["NCERROR"] != "0" || r["STATUS"] != "5" {
		t.Fatalf("order with the generated password: %v", r)
	}
	if r := orderDirect(t, base, chosen, "PW-4"); r["NCERROR"] != "50001119" {
		t.Fatalf("order with the replaced password: %v, want NCERROR 50001119", r)
	}

	og, err := srv.Shops.OgoneForShop(ctx, shop.DemoShopID)
	if err != nil || og.Settings.DefaultECI != "9" || og.SHAIn != shop.DemoSHAPassphrase || og.APIUser != shop.DemoAPIUser {
		t.Fatalf("the PSPID after the password changes: settings %+v, SHA-IN kept %v, user %q, %v",
			og.Settings, og.SHAIn == shop.DemoSHAPassphrase, og.APIUser, err)
	}
}

// The password is checked before the database is opened, as every other
// argument of `openpsp shops`: an empty or multi-line stdin, a short
// password, a stray word or -generate with stdin too are refused naming
// the mistake, with nothing opened or created.
func TestShopsDirectLinkPasswordChecksItsInputFirst(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("OPENPSP_DATA_DIR", "")
	t.Setenv("OPENPSP_DATABASE_URL", "")
	t.Setenv("OPENPSP_KEYRING_FILE", "")
	t.Setenv("OPENPSP_MASTER_KEYS", "")
	id := shop.DemoShopID
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{id}, "no password on stdin"},
		{"\n", []string{id}, "no password on stdin"},
		{"short\n", []string{id}, "at least 12 characters"},
		{"first-line-password\nsecond line\n", []string{id}, "one line"},
		{" a-padded-password-123\n", []string{id}, "space"},
		{strings.Repeat("x", 300) + "\n", []string{id}, "at most 128"},
		{"a-good-password-123\n", []string{"6987635"}, `shop id must be 8 digits, not "6987635"`},
		{"a-good-password-123\n", []string{id, "a-good-password-123"}, "takes no password as an argument"},
		{"a-good-password-123\n", []string{id, "-generat"}, "flag provided but not defined: -generat"},
		{"a-good-password-123\n", []string{}, "usage"},
	} {
		var out string
		var err error
		withStdin(t, c.stdin, func() { out, err = helpText(t, append([]string{"shops", "directlink-password"}, c.args...)...) })
		if err == nil {
			t.Errorf("%q with stdin %q: no error\n%s", c.args, c.stdin, out)
			continue
		}
		said := out + err.Error()
		if !strings.Contains(said, c.want) || strings.Contains(said, "no OpenPSP database") {
			t.Errorf("%q with stdin %q: %v, want %q before any database is looked for:\n%s", c.args, c.stdin, err, c.want, out)
		}
		if strings.Contains(said, "a-good-password-123") || strings.Contains(said, "first-line-password") {
			t.Errorf("%q: the refusal shows the password:\n%s", c.args, said)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Fatalf("the commands created %v in the folder they ran in", left[0].Name())
	}
}
