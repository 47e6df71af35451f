package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/outbox"
)

// helpText runs `openpsp args…` and returns what it wrote to stdout and
// stderr, and its error.
func helpText(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return helpTextCtx(t, context.Background(), args...)
}

// helpTextCtx is helpText under ctx (serve runs until ctx ends).
func helpTextCtx(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	runErr := run(ctx, args)
	os.Stdout, os.Stderr = oldOut, oldErr
	w.Close()
	return <-done, runErr
}

// flagNames lists the flags of fs.
func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// listsFlag reports whether a help text lists -name.
func listsFlag(help, name string) bool {
	for _, end := range []string{" ", "\t", "\n", "]"} {
		if strings.Contains(help, "-"+name+end) {
			return true
		}
	}
	return false
}

// Every command's help names that command and lists its flags: `openpsp
// migrate --help` printed "Usage of openpsp serve".
func TestEveryCommandHelpNamesItself(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	var serveFlags []string
	for _, v := range config.Vars {
		serveFlags = append(serveFlags, v.Flag)
	}
	purgeFS, _ := purgeFlags()
	benchFS, _ := benchFlags()
	var benchVisible []string
	benchFS.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Usage, "internal:") {
			benchVisible = append(benchVisible, f.Name)
		}
	})
	flags := map[string][]string{"serve": serveFlags, "migrate": serveFlags, "purge": flagNames(purgeFS), "bench": benchVisible}
	for _, c := range commands() {
		out, err := helpText(t, c.name, "--help")
		if err != nil && !errors.Is(err, errUsage) && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s --help: %v", c.name, err)
		}
		if !strings.Contains(out, "openpsp "+c.name) {
			t.Errorf("%s --help does not name openpsp %s:\n%s", c.name, c.name, out)
		}
		for _, other := range commands() {
			if other.name != c.name && strings.Contains(out, "Usage of openpsp "+other.name) {
				t.Errorf("%s --help says it is openpsp %s:\n%s", c.name, other.name, out)
			}
		}
		for _, f := range flags[c.name] {
			if !listsFlag(out, f) {
				t.Errorf("%s --help does not list -%s", c.name, f)
			}
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a help request opened the database (%s: %v)", dir, err)
	}
}

// `openpsp bench -h` listed -serve-echo and -serve-profiled, the flags the
// bench gives the child processes it starts: help hides them, and they
// still parse.
func TestBenchHelpHidesInternalFlags(t *testing.T) {
	out, _ := helpText(t, "bench", "-h")
	fs, f := benchFlags()
	for _, name := range flagNames(fs) {
		internal := name == "serve-echo" || name == "serve-profiled"
		if listed := listsFlag(out, name); listed == internal {
			t.Errorf("bench -h lists -%s: %v", name, listed)
		}
	}
	if err := fs.Parse([]string{"-serve-echo", "-serve-profiled"}); err != nil || !*f.serveEcho || !*f.serveProfiled {
		t.Fatalf("the internal flags no longer parse: %v", err)
	}
}

// `openpsp --help` lists the commands with their summaries in one column
// (the notifications line was pushed right), and the shops summary names
// every shops subcommand (webhook-secret and template were missing).
func TestCommandListIsAlignedAndComplete(t *testing.T) {
	out, _ := helpText(t, "--help")
	col := -1
	for _, c := range commands() {
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "  "+c.name+" ") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("--help does not list %s:\n%s", c.name, out)
			continue
		}
		at := strings.Index(line, c.summary)
		if col == -1 {
			col = at
		}
		if at != col {
			t.Errorf("--help: the summary of %s starts at column %d, not %d:\n%s", c.name, at, col, out)
		}
		if c.name == "shops" {
			for _, sub := range shopsSubcommands {
				if !strings.Contains(line, sub) {
					t.Errorf("--help: the shops summary leaves out %s: %s", sub, line)
				}
			}
		}
	}
}

// `openpsp shops --help` lists every setting `shops set` takes (currency,
// merchant-email and merchant-phone were missing): the keys are read from
// applySetting's switch in shops.go.
func TestShopsHelpListsEverySetting(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "shops.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "applySetting" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			sw, ok := n.(*ast.SwitchStmt)
			if !ok {
				return true
			}
			if id, ok := sw.Tag.(*ast.Ident); !ok || id.Name != "k" {
				return true
			}
			for _, st := range sw.Body.List {
				for _, e := range st.(*ast.CaseClause).List {
					if lit, ok := e.(*ast.BasicLit); ok {
						keys = append(keys, strings.Trim(lit.Value, `"`))
					}
				}
			}
			return false
		})
		return false
	})
	if len(keys) < 20 {
		t.Fatalf("found %d keys in applySetting: %v", len(keys), keys)
	}
	out, _ := helpText(t, "shops", "--help")
	for _, k := range keys {
		if !strings.Contains(out, " "+k+"=") {
			t.Errorf("shops --help does not list %s=", k)
		}
	}
}

// `openpsp purge --help` did not say that the tokens an active subscription
// will still charge are kept, however long unused (the store's
// noSubscriptionToCome).
func TestPurgeHelpSaysSubscriptionTokensAreKept(t *testing.T) {
	out, _ := helpText(t, "purge", "--help")
	if !strings.Contains(out, "active subscription") {
		t.Errorf("purge --help does not say the tokens of an active subscription are kept:\n%s", out)
	}
	fs, _ := purgeFlags()
	for _, f := range flagNames(fs) {
		if !listsFlag(out, f) {
			t.Errorf("purge --help does not list -%s", f)
		}
	}
}

// namesCommand reports whether text has a line naming `openpsp name` (or
// `openpsp [name]`, the default command), and returns that line.
func namesCommand(text, name string) (string, bool) {
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "//"))
		if strings.HasPrefix(l, "openpsp "+name+" ") || l == "openpsp "+name || strings.HasPrefix(l, "openpsp ["+name+"]") {
			return l, true
		}
	}
	return "", false
}

// The package comment listed neither ogone, notifications, purge nor bench.
func TestPackageCommentListsEveryCommand(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	for _, c := range commands() {
		if _, ok := namesCommand(doc, c.name); !ok {
			t.Errorf("the package comment of main.go does not list openpsp %s", c.name)
		}
	}
}

// README's "Operator commands" lists every command, and purge with each of
// its flags (-batch was missing).
func TestREADMEListsEveryCommand(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Operator commands")
	if !ok {
		t.Fatal("README has no Operator commands section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, c := range commands() {
		if _, ok := namesCommand(section, c.name); !ok {
			t.Errorf("README's Operator commands does not list openpsp %s", c.name)
		}
	}
	line, _ := namesCommand(section, "purge")
	fs, _ := purgeFlags()
	for _, f := range flagNames(fs) {
		if !listsFlag(line, f) {
			t.Errorf("README's purge line does not list -%s: %s", f, line)
		}
	}
	for _, sub := range shopsSubcommands {
		if !strings.Contains(section, "openpsp shops "+sub) && !strings.Contains(section, "| "+sub+" ") {
			t.Errorf("README's Operator commands does not list openpsp shops %s", sub)
		}
	}
	// The channels `notifications --channel` takes, as its help lists them.
	channels := "--channel " + strings.Join(outbox.Channels, "|")
	if line, _ := namesCommand(section, "notifications"); !strings.Contains(line, channels) || !strings.Contains(outbox.CLIUsage, channels) {
		t.Errorf("README's notifications line and its help must both list %s: %s", channels, line)
	}
}

// Every command's -help exits 0, as "openpsp --help" does; a usage error
// exits 2 and a failure 1.
func TestHelpExitsZero(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{{"--help"}, {"serve", "-help"}, {"migrate", "-h"}, {"purge", "-help"}, {"bench", "-h"}, {"version", "--help"}} {
		err := run(context.Background(), args)
		if code := exitCode(err); code != 0 {
			t.Errorf("openpsp %s: exit %d (%v), want 0", strings.Join(args, " "), code, err)
		}
	}
	if code := exitCode(fmt.Errorf("shops: %w", errUsage)); code != 2 {
		t.Errorf("a usage error exits %d, want 2", code)
	}
	if code := exitCode(errors.New("database unreachable")); code != 1 {
		t.Errorf("a failure exits %d, want 1", code)
	}
}

// `openpsp ogone --help` showed -limit (and the settings flags) without a
// word of what they do: their flag sets had empty usage strings, and
// `openpsp ogone errors -h` opened the database and answered with a usage
// error. Every flag of the ogone subcommands is described in the help, and
// asking for it anywhere on the line exits 0 without opening a database.
func TestOgoneHelpDescribesEveryFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	for _, args := range [][]string{{"ogone", "--help"}, {"ogone", "errors", "-h"}, {"ogone", "errors", "12345678", "-help"}, {"ogone", "settings", "set", "12345678", "-h"}} {
		out, err := helpText(t, args...)
		if code := exitCode(err); code != 0 {
			t.Errorf("openpsp %s: exit %d (%v)", strings.Join(args, " "), code, err)
		}
		for _, fs := range ogone.CLIFlags() {
			fs.VisitAll(func(f *flag.Flag) {
				if strings.TrimSpace(f.Usage) == "" {
					t.Errorf("ogone %s -%s has an empty usage string", fs.Name(), f.Name)
				} else if !strings.Contains(out, f.Usage) {
					t.Errorf("openpsp %s does not describe -%s (%q):\n%s", strings.Join(args, " "), f.Name, f.Usage, out)
				}
			})
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a help request opened the database (%s: %v)", dir, err)
	}
}

// `openpsp keys frob` in a folder without a database said "no OpenPSP
// database at …" (it opened the database before looking at the word), and
// with one printed the usage without naming the mistake. An unknown
// subcommand or a stray word is named, before any database is looked for.
func TestCommandsNameAWrongWord(t *testing.T) {
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "none"))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "frob"}, `openpsp keys: unknown command "frob"`},
		{[]string{"keys", "status", "extra"}, `openpsp keys status: unexpected arguments ["extra"]`},
		{[]string{"keys", "generate", "extra"}, `openpsp keys generate: unexpected arguments ["extra"]`},
		// The same for notifications and ogone.
		{[]string{"notifications", "frob"}, `openpsp notifications: unknown command "frob"`},
		{[]string{"ogone", "frob"}, `openpsp ogone: unknown command "frob"`},
		// shops printed its usage alone (exit 2); ogone printed
		// "openpsp: usage: …" after looking for the database, exit 1.
		{[]string{"shops", "frob"}, `openpsp shops: unknown command "frob"`},
		{[]string{"shops", "list", "extra"}, `openpsp shops list: unexpected arguments ["extra"]`},
		{[]string{"shops", "show", "12345678", "extra"}, `openpsp shops show: unexpected arguments ["extra"]`},
		{[]string{"shops", "show"}, `openpsp shops show: give the shop id`},
		{[]string{"ogone", "templates"}, `openpsp ogone templates: give list, upload, show or delete and the shop id`},
		{[]string{"ogone", "templates", "frob", "12345678"}, `openpsp ogone templates: unknown command "frob"`},
		{[]string{"ogone", "templates", "show", "12345678"}, `openpsp ogone templates show: give SHOPID NAME`},
		{[]string{"ogone", "settings", "show"}, `openpsp ogone settings: give show or set and the shop id`},
		{[]string{"ogone", "settings", "show", "12345678", "extra"}, `openpsp ogone settings show: unexpected arguments ["extra"]`},
		{[]string{"ogone", "errors", "-limit", "x"}, `openpsp ogone errors: invalid value "x" for flag -limit`},
		// notifications looked for the database first, then exited 1.
		{[]string{"notifications", "list", "--since", "xx"}, `openpsp notifications list: invalid value "xx" for flag -since`},
		{[]string{"notifications", "list", "DEAD"}, `openpsp notifications list: unexpected arguments ["DEAD"]`},
		{[]string{"notifications", "list", "--status", "BOGUS"}, `openpsp notifications list: unknown status "BOGUS"`},
		// An unknown channel listed nothing, and a limit of 0 or less
		// listed 100, both silently.
		{[]string{"notifications", "list", "--channel", "zz"}, `openpsp notifications list: unknown channel "zz" (give ipn, webhook, email, sms or ogone-postsale)`},
		{[]string{"notifications", "retry", "--channel", "zz"}, `openpsp notifications retry: unknown channel "zz"`},
		{[]string{"notifications", "list", "--limit", "0"}, `openpsp notifications list: --limit must be at least 1, not 0`},
		{[]string{"notifications", "list", "--limit", "-1"}, `openpsp notifications list: --limit must be at least 1, not -1`},
		{[]string{"ogone", "errors", "-limit", "0"}, `openpsp ogone errors: -limit must be at least 1, not 0`},
		{[]string{"ogone", "errors", "12345678", "-limit", "-1"}, `openpsp ogone errors: -limit must be at least 1, not -1`},
		{[]string{"notifications", "show"}, `openpsp notifications show: give one message id`},
		{[]string{"notifications", "retry"}, `openpsp notifications retry: give message ids, a filter, or --all`},
		{[]string{"notifications", "retry", "--status", "DELIVERED"}, `openpsp notifications retry: sending delivered messages again needs their ids`},
	} {
		out, err := helpText(t, c.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(out, c.want) || !strings.Contains(out, "usage:") || strings.Contains(out, "no OpenPSP database") {
			t.Errorf("%v: %v\n%s", c.args, err, out)
		}
	}
}
