package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/store"
)

// fuzzCommands are the operator commands FuzzCommandArgs runs whole (serve
// and bench run servers, migrate takes the server's flags: FuzzLoadEnv),
// and one that does not exist.
var fuzzCommands = []string{"ogone", "notifications", "keys", "purge", "version", "nope"}

// fuzzShopID is the shop of FuzzCommandArgs's database.
const fuzzShopID = "12345678"

// dataDump is every row of every table of the SQLite database in dir,
// and the keyring file, as text.
func dataDump(t testing.TB, dir string) string {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(dir, "openpsp.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rows, err := db.Reader().Query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	var b strings.Builder
	for _, table := range tables {
		lines, err := tableRows(db.Reader(), table)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:\n%s\n", table, strings.Join(lines, "\n"))
	}
	keyring, err := os.ReadFile(filepath.Join(dir, "keyring.json"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "keyring.json:\n%s", keyring)
	return b.String()
}

func tableRows(db *sql.DB, table string) ([]string, error) {
	rows, err := db.Query(`SELECT * FROM "` + table + `"`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		lines = append(lines, fmt.Sprintf("%v", vals))
	}
	slices.Sort(lines)
	return lines, rows.Err()
}

// copyDir copies the files of src (no folders) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		body, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzCommandArgs runs `openpsp COMMAND ARGS…` as the binary does (run),
// in a copy of a data folder (SQLite database and development keyring)
// that holds a shop with a PSPID, for the commands of fuzzCommands, with
// any arguments (one a line) and stdin. Whatever an operator types, the
// command ends with its output, its help or an error that says what is
// wrong, never a panic; a refused command changes no row of the database
// and not the keyring file. FuzzShopsArgs checks `openpsp shops`'s
// arguments, FuzzAdminCLI and FuzzNotificationsCLI the ogone and
// notifications commands behind these words.
func FuzzCommandArgs(f *testing.F) {
	ctx := context.Background()
	template := filepath.Join(f.TempDir(), "data")
	f.Setenv("OPENPSP_DATA_DIR", template)
	for _, k := range []string{"OPENPSP_ENV", "OPENPSP_DATABASE_URL", "OPENPSP_MASTER_KEYS", "OPENPSP_KEYRING_FILE"} {
		f.Setenv(k, "")
		os.Unsetenv(k)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { devnull.Close() })
	stdin, stdout, stderr := os.Stdin, os.Stdout, os.Stderr
	os.Stdout, os.Stderr = devnull, devnull
	err = run(ctx, []string{"migrate"})
	if err == nil {
		err = run(ctx, []string{"shops", "create", "-name", "Fuzz shop", "-id", fuzzShopID, "-pspid", "fuzzpspid", "-email", "shop@example.com"})
	}
	os.Stdout, os.Stderr = stdout, stderr
	if err != nil {
		f.Fatal(err)
	}
	before := dataDump(f, template)

	for _, s := range []struct {
		which       uint8
		args, stdin string
	}{
		{0, "", ""}, {0, "-h", ""}, {0, "bogus", ""}, {0, "templates\nlist\n" + fuzzShopID, ""},
		{0, "templates\nupload\n" + fuzzShopID + "\nt.html\n-", "<h1>Shop</h1>$$$PAYMENT ZONE$$$"},
		{0, "templates\nupload\n" + fuzzShopID + "\nt.html\n-", "<p>no zone</p>"},
		{0, "templates\nupload\n" + fuzzShopID + "\nt.html\nno-such-file", ""},
		{0, "settings\nset\n" + fuzzShopID + "\n-mode\nLIVE", ""}, {0, "settings\nset\n" + fuzzShopID + "\n-charset\nutf8", ""},
		{0, "settings\nshow\nnope", ""}, {0, "errors\n" + fuzzShopID + "\n-limit\nx", ""}, {0, "errors\n-h", ""}, {0, "settings\nhelp", ""},
		{1, "", ""}, {1, "list", ""}, {1, "list\nDEAD", ""}, {1, "retry", ""}, {1, "retry\n--all", ""}, {1, "show\nnope", ""}, {1, "list\n--since\n2x", ""},
		{2, "", ""}, {2, "generate", ""}, {2, "status", ""}, {2, "status\nextra", ""}, {2, "rotate", ""}, {2, "rewrap", ""}, {2, "frob", ""},
		{3, "", ""}, {3, "-dry-run", ""}, {3, "dry-run", ""}, {3, "-months\n0", ""}, {3, "-months\n15\n-batch\n0", ""},
		{3, "-notification-months\noff\n-dry-run", ""}, {3, "-notification-months\n-1", ""}, {3, "-h", ""},
		{4, "", ""}, {4, "extra", ""}, {4, "-h", ""}, {5, "", ""},
	} {
		f.Add(s.which, s.args, []byte(s.stdin))
	}
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, which uint8, rawArgs string, input []byte) {
		// What a shell can pass: no NUL in an argument.
		if len(rawArgs) > 1024 || len(input) > 1<<16 || strings.ContainsRune(rawArgs, 0) {
			return
		}
		cmd := fuzzCommands[int(which)%len(fuzzCommands)]
		args := []string{cmd}
		if rawArgs != "" {
			args = append(args, strings.Split(rawArgs, "\n")...)
		}
		n++
		data := filepath.Join(dir, fmt.Sprint(n))
		if err := os.MkdirAll(data, 0o700); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(data)
		copyDir(t, template, data)
		t.Setenv("OPENPSP_DATA_DIR", data)
		// A template file named on the command line is stdin's bytes in
		// a file: the fuzzer must not read the machine's files (a device
		// would block); a name that is not there stays, for its error.
		if len(args) == 6 && args[1] == "templates" && args[2] == "upload" && args[5] != "-" {
			if _, err := os.Lstat(args[5]); err == nil {
				args[5] = filepath.Join(data, "template.html")
				if err := os.WriteFile(args[5], input, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		in := filepath.Join(data, "stdin")
		if err := os.WriteFile(in, input, 0o600); err != nil {
			t.Fatal(err)
		}
		fin, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		defer fin.Close()
		os.Stdin, os.Stdout, os.Stderr = fin, devnull, devnull
		err = run(ctx, args)
		os.Stdin, os.Stdout, os.Stderr = stdin, stdout, stderr
		if err == nil || exitCode(err) == 0 {
			return // done, or the help asked for
		}
		// A usage error has said what is wrong on stderr; any other is
		// printed as "openpsp: ERROR".
		if msg := err.Error(); !errors.Is(err, errUsage) && (strings.TrimSpace(msg) == "" || strings.Contains(msg, "%!")) {
			t.Fatalf("%q: the error %q", args, msg)
		}
		if after := dataDump(t, data); after != before {
			t.Fatalf("%q refused (%v), yet the data folder changed:\nbefore %s\nafter %s", args, err, before, after)
		}
	})
}
