package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// badShopsArgs are `openpsp shops` commands with a mistyped flag or value,
// and what their refusal says.
var badShopsArgs = []struct {
	args []string
	want string
}{
	{[]string{"shops", "webhook-secret", shop.DemoShopID, "-overlap", "bogus"}, `invalid value "bogus" for flag -overlap`},
	{[]string{"shops", "webhook-secret", shop.DemoShopID, "-rotate", "-overlap", "-24h"}, "-overlap must be 0 or more"},
	{[]string{"shops", "keys", shop.DemoShopID, "-mdoe", "TEST"}, "flag provided but not defined: -mdoe"},
	{[]string{"shops", "keys", shop.DemoShopID, "-mode", "TSET"}, `mode must be TEST or PRODUCTION, not "TSET"`},
	{[]string{"shops", "rotate-keys", shop.DemoShopID}, `mode must be TEST or PRODUCTION, not ""`},
	{[]string{"shops", "show", "6987635"}, `shop id must be 8 digits, not "6987635"`},
	{[]string{"shops", "create", "-name", "X", "-language", "fx"}, `language must be one of en, fr, es, it, de, not "fx"`},
	{[]string{"shops", "create", "-name", "X", "-currency", "eur"}, `currency must be an ISO 4217 code in capitals (EUR), not "eur"`},
	{[]string{"shops", "create", "-id", "123", "-name", "X"}, `shop id must be 8 digits, not "123"`},
	{[]string{"shops", "create", "-language", "fr"}, "shop name is required"},
	{[]string{"shops", "create", "-name", "X", "-email", "not-an-email"}, "email must be a plain email address"},
	{[]string{"shops", "template", shop.DemoShopID, notify.TplPaymentAcceptedBuyer, "fr", "-subjekt", "x"}, "flag provided but not defined: -subjekt"},
	{[]string{"shops", "template", shop.DemoShopID, "payment.acepted.buyer", "fr"}, `unknown template "payment.acepted.buyer"`},
	{[]string{"shops", "template", shop.DemoShopID, notify.TplPaymentAcceptedBuyer, "pt"}, `unknown language "pt"`},
	{[]string{"shops", "template", shop.DemoShopID, notify.TplPaymentAcceptedBuyer, "fr", "-subject", "{{.Nope"}, "template not saved"},
	{[]string{"shops", "set", shop.DemoShopID, "langauge=fr"}, `unknown setting "langauge"`},
	{[]string{"shops", "set", shop.DemoShopID, "language=fx"}, `language must be one of en, fr, es, it, de, not "fx"`},
	{[]string{"shops", "set", shop.DemoShopID, "max-attempts=0"}, "max-attempts must be a whole number of 1 or more"},
	{[]string{"shops", "set", shop.DemoShopID, "ogone-default-eci=8"}, "ogone-default-eci"},
	{[]string{"shops", "set", shop.DemoShopID, "primary-color=blue"}, "primary-color must be a colour"},
	{[]string{"shops", "set", shop.DemoShopID, "language"}, `"language" is not name=value`},
	{[]string{"shops", "set", shop.DemoShopID, "time-zone=Europe/Pariss"}, `time-zone must be an IANA time zone name such as Europe/Paris or UTC, not "Europe/Pariss"`},
	{[]string{"shops", "set", shop.DemoShopID, "time-zone=Local"}, `time-zone must be an IANA time zone name`},
	{[]string{"shops", "set", shop.DemoShopID, "time-zone=+01:00"}, `time-zone must be an IANA time zone name`},
}

// `openpsp shops` parsed and checked its flags and values only once the
// database was open: a mistyped one was refused after opening had
// migrated the database (an empty PostgreSQL database got the whole
// schema; an older one, this binary's migrations), or, with no database,
// the operator read "no OpenPSP database" instead of the mistake. The
// arguments are now checked first: each mistake is named with nothing
// opened.
func TestShopsCheckArgumentsBeforeOpeningTheDatabase(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("OPENPSP_DATA_DIR", "")
	t.Setenv("OPENPSP_DATABASE_URL", "")
	t.Setenv("OPENPSP_KEYRING_FILE", "")
	t.Setenv("OPENPSP_MASTER_KEYS", "")
	for _, c := range badShopsArgs {
		out, err := helpText(t, c.args...)
		if err == nil {
			t.Errorf("%q: no error\n%s", c.args, out)
			continue
		}
		said := out + err.Error()
		if !strings.Contains(said, c.want) || strings.Contains(said, "no OpenPSP database") {
			t.Errorf("%q: %v, want %q before any database is looked for:\n%s", c.args, err, c.want, out)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Fatalf("the commands created %v in the folder they ran in", left[0].Name())
	}

	// An empty PostgreSQL database is opened without a check (the URL
	// names it): a refused command leaves it empty.
	url := storetest.NewPostgresDatabase(t)
	t.Setenv("OPENPSP_DATABASE_URL", url)
	t.Setenv("OPENPSP_MASTER_KEYS", "k1:"+strings.Repeat("A", 43)+"=")
	for _, c := range badShopsArgs[:3] {
		if _, err := helpText(t, c.args...); err == nil {
			t.Fatalf("%q: no error", c.args)
		}
	}
	if _, err := helpText(t, "shops", "create", "-name", "X", "-language", "fx"); err == nil || errors.Is(err, errUsage) {
		t.Fatalf("create with -language fx: %v, want the value's refusal", err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(context.Background(),
		"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("the refused commands made %d tables in the empty database", tables)
	}
}
