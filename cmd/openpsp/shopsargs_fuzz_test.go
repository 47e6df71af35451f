package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/shop"
)

// fuzzShopsSubcommands are the words after `openpsp shops`, and one it does
// not know.
var fuzzShopsSubcommands = []string{"create", "list", "show", "keys", "rotate-keys", "webhook-secret", "directlink-password", "template", "set", "nope"}

// FuzzShopsArgs: `openpsp shops` checks an operator's arguments (flags,
// name=value settings, a password read from stdin) before it opens the
// database. Whatever they are, the check ends with a command to run or an
// error that says what is wrong, never a panic; a command is given only
// for a well-formed shop id. The table badShopsArgs holds the mistakes
// whose wording matters.
func FuzzShopsArgs(f *testing.F) {
	for _, s := range badShopsArgs {
		for i, sub := range fuzzShopsSubcommands {
			if sub == s.args[1] {
				f.Add(uint8(i), strings.Join(s.args[2:], "\n"), "", false)
			}
		}
	}
	for _, s := range []struct {
		sub        uint8
		args, pass string
	}{
		{0, "-name\nMy shop\n-currency\nJPY\n-language\nde\n-email\na@example.com", ""},
		{2, shop.DemoShopID, ""}, {3, shop.DemoShopID + "\n-mode\nPRODUCTION", ""},
		{5, shop.DemoShopID + "\n-rotate\n-overlap\n24h", ""},
		{6, shop.DemoShopID, "a-new-directlink-password-1\n"}, {6, shop.DemoShopID, "\xff\x00\n"}, {6, shop.DemoShopID + "\n-generate", ""},
		{6, shop.DemoShopID, strings.Repeat("p", 5000)},
		{7, shop.DemoShopID + "\n" + notify.TplPaymentAcceptedBuyer + "\nfr\n-subject\n{{.Shop.Name}}", ""},
		{8, shop.DemoShopID + "\nlanguage=fr\nmax-attempts=3\nprimary-color=#112233\nreturn-origins=https://a.example,https://b.example", ""},
		{8, shop.DemoShopID + "\nogone-default-eci=7\nogone-default-operation=SAL\npayment-by-token=false", ""},
		{8, shop.DemoShopID + "\nmax-attempts=99999999999999999999\nlogo-url=javascript:x", ""},
		{8, shop.DemoShopID + "\n=\n==\nname=", ""}, {9, "", ""},
	} {
		f.Add(s.sub, s.args, s.pass, false)
		f.Add(s.sub, s.args, s.pass, true)
	}
	// The refusals are written for the operator on stderr: not here.
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		f.Fatal(err)
	}
	stderr, stdin := os.Stderr, os.Stdin
	f.Cleanup(func() { devnull.Close() })
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, which uint8, rawArgs, password string, production bool) {
		sub := fuzzShopsSubcommands[int(which)%len(fuzzShopsSubcommands)]
		args := []string{sub}
		if rawArgs != "" {
			args = append(args, strings.Split(rawArgs, "\n")...)
		}
		in := filepath.Join(dir, "stdin")
		if err := os.WriteFile(in, []byte(password), 0o600); err != nil {
			t.Fatal(err)
		}
		fin, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		defer fin.Close()
		// Only for the call: the fuzzer reports its progress on stderr.
		os.Stdin, os.Stderr = fin, devnull
		do, err := shopsCommand(args, production)
		os.Stdin, os.Stderr = stdin, stderr
		// PostgreSQL refuses text that is not UTF-8 (a Latin-1 terminal's
		// "Café") with its driver's error: the command must refuse it
		// before the database.
		if !utf8.ValidString(rawArgs) && err == nil {
			t.Fatalf("%q: a word that is not UTF-8 accepted", args)
		}
		if err != nil {
			if do != nil {
				t.Fatalf("%q: both a command and the error %v", args, err)
			}
			if err.Error() == "" {
				t.Fatalf("%q: an empty error", args)
			}
			return
		}
		if do == nil {
			t.Fatalf("%q: neither a command nor an error", args)
		}
		if sub != "create" && sub != "list" && (len(args) < 2 || checkShopID(args[1]) != nil) {
			t.Fatalf("%q: a command for shop id %q", args, args[1:])
		}
	})
}
