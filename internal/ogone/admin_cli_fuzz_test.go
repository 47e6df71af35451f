package ogone_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/shop"
)

// adminTables are the tables `openpsp ogone` writes (a settings change
// reseals the shop's Ogone account under a new data key).
var adminTables = []string{"shop_ogone", "ogone_templates", "data_keys", "shops"}

// dumpTables is every row of tables, in a stable order, as text.
func dumpTables(t *testing.T, e *env, tables []string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range tables {
		rows, err := e.db.Reader().Query("SELECT * FROM " + table)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%v", vals))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(lines)
		fmt.Fprintf(&b, "%s:\n%s\n", table, strings.Join(lines, "\n"))
	}
	return b.String()
}

// FuzzAdminCLI runs `openpsp ogone ARGS…` (the words after "ogone", one a
// line, and what stdin holds) on the demo shop's SQLite database. Whatever
// an operator types, the command ends with its output or an error that
// says what is wrong (not empty, not a database driver's message), never a
// panic; a refused command leaves the shop's Ogone account, its templates
// and the data keys as they were. A settings change that went through is
// what `settings show` prints next, and an uploaded template is what
// `templates show` gives back.
func FuzzAdminCLI(f *testing.F) {
	e := newEnv(f)
	id := shop.DemoShopID
	for _, s := range []struct{ args, stdin string }{
		{"", ""}, {"bogus", ""}, {"templates", ""}, {"templates\nlist\n" + id, ""}, {"templates\nlist\nnope", ""},
		{"templates\nupload\n" + id + "\nt.html\n-", "<h1>Shop</h1>$$$PAYMENT ZONE$$$"},
		{"templates\nupload\n" + id + "\nt.html\n-", "<p>no zone</p>"},
		{"templates\nupload\n" + id + "\n../x.html\n-", "$$$PAYMENT ZONE$$$"},
		{"templates\nupload\n" + id + "\nt.html\nno-such-file", ""},
		{"templates\nupload\nnope\nt.html\n-", "$$$PAYMENT ZONE$$$"},
		{"templates\nshow\n" + id + "\nt.html", ""}, {"templates\ndelete\n" + id + "\nt.html", ""},
		{"templates\ndelete\n" + id + "\nnone.html", ""}, {"templates\nshow\n" + id, ""},
		{"settings\nshow\n" + id, ""}, {"settings\nshow\nnope", ""}, {"settings\nshow\n" + id + "\nx", ""},
		{"settings\nset\n" + id + "\n-frame-ancestors\nhttps://shop.example http://127.0.0.1:8080\n-alias-opt-in\ntrue\n-return-fields\nalias.aliasid,ALIAS.STATUS", ""},
		{"settings\nset\n" + id + "\n-frame-ancestors\nnone\n-return-fields\nall", ""},
		{"settings\nset\n" + id + "\n-frame-ancestors\nreturn-urls", ""},
		{"settings\nset\n" + id + "\n-frame-ancestors\nhttps://*.shop.example/", ""},
		{"settings\nset\n" + id + "\n-frame-ancestors\nhttps://a.example/path", ""},
		{"settings\nset\n" + id + "\n-mode\nproduction\n-default-eci\n9\n-default-operation\nsal\n-charset\nutf8", ""},
		{"settings\nset\n" + id + "\n-mode\nLIVE", ""}, {"settings\nset\n" + id + "\n-default-eci\n5", ""},
		{"settings\nset\n" + id + "\n-postsale-url\nhttps://shop.example/postsale\n-postsale-method\nget", ""},
		{"settings\nset\n" + id + "\n-postsale-url\nnone", ""}, {"settings\nset\n" + id + "\n-postsale-url\njavascript:alert(1)", ""},
		{"settings\nset\n" + id + "\n-return-fields\nNOPE\n-mode\nTEST", ""},
		{"settings\nset\n" + id + "\n-alias-opt-in\nmaybe", ""}, {"settings\nset\n" + id + "\n-frame-ancestor\nnone", ""},
		{"settings\nset\n" + id + "\nnone", ""}, {"settings\nset\nnope\n-mode\nTEST", ""},
		{"errors", ""}, {"errors\n" + id, ""}, {"errors\n" + id + "\n-limit\n3", ""}, {"errors\n-limit\n-1", ""},
		{"errors\n" + id + "\n-limit\nx", ""}, {"errors\n" + id + "\nextra", ""}, {"errors\n-limit\n99999999999999999999", ""},
	} {
		f.Add(s.args, []byte(s.stdin))
	}
	ctx := context.Background()
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, rawArgs string, stdin []byte) {
		if len(rawArgs) > 4096 {
			return
		}
		var args []string
		if rawArgs != "" {
			args = strings.Split(rawArgs, "\n")
		}
		// A template file named on the command line is stdin's bytes in a
		// file: the fuzzer must not read the machine's files (a device
		// would block); a name that is not there stays, for its error.
		if len(args) == 5 && args[0] == "templates" && args[1] == "upload" && args[4] != "-" {
			if _, err := os.Lstat(args[4]); err == nil || strings.ContainsRune(args[4], 0) {
				args[4] = filepath.Join(dir, "template.html")
				if err := os.WriteFile(args[4], stdin, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		before := dumpTables(t, e, adminTables)
		var out strings.Builder
		err := e.admin.RunCLI(ctx, args, strings.NewReader(string(stdin)), &out)
		// PostgreSQL refuses text that is not UTF-8 with its driver's
		// error: the command must refuse it first, saying so.
		if !utf8.ValidString(rawArgs) && (err == nil || !strings.Contains(err.Error(), "UTF-8")) {
			t.Fatalf("%q: a word that is not UTF-8 reached the database: %v", args, err)
		}
		if err != nil {
			msg := err.Error()
			if strings.TrimSpace(msg) == "" {
				t.Fatalf("%q: an empty error", args)
			}
			for _, leak := range []string{"sqlite", "SQL", "constraint", "%!"} {
				if strings.Contains(msg, leak) {
					t.Fatalf("%q: the error %q is not written for an operator", args, msg)
				}
			}
			if after := dumpTables(t, e, adminTables); after != before {
				t.Fatalf("%q refused (%v), yet the database changed:\nbefore %s\nafter %s", args, err, before, after)
			}
			return
		}
		switch {
		case len(args) >= 3 && args[0] == "settings" && args[1] == "set":
			var show strings.Builder
			if err := e.admin.RunCLI(ctx, []string{"settings", "show", args[2]}, strings.NewReader(""), &show); err != nil {
				t.Fatalf("%q went through, then settings show: %v", args, err)
			}
			if show.String() != out.String() {
				t.Fatalf("%q printed\n%s\nbut settings show prints\n%s", args, out.String(), show.String())
			}
		case len(args) == 5 && args[0] == "templates" && args[1] == "upload":
			var show strings.Builder
			if err := e.admin.RunCLI(ctx, []string{"templates", "show", args[2], args[3]}, strings.NewReader(""), &show); err != nil {
				t.Fatalf("%q went through, then templates show: %v", args, err)
			}
			if !strings.Contains(out.String(), fmt.Sprintf("(%d bytes after sanitising)", show.Len())) {
				t.Fatalf("%q printed %q, yet the stored template has %d bytes", args, out.String(), show.Len())
			}
		case len(args) < 2 || args[1] != "delete":
			// templates list and show, settings show, errors: they only read.
			if after := dumpTables(t, e, adminTables); after != before {
				t.Fatalf("%q only reads, yet the database changed", args)
			}
		}
	})
}
