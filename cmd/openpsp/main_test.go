package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// A mistyped flag must not run the destructive command it was meant to
// soften: `openpsp purge dry-run` (no dash) destroyed card data, the stray
// word being ignored.
func TestPurgeRefusesStrayArguments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	for _, args := range [][]string{{"dry-run"}, {"-months", "15", "dry-run"}} {
		err := run(context.Background(), append([]string{"purge"}, args...))
		if !errors.Is(err, errUsage) {
			t.Errorf("purge %q: %v, want a usage error", args, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("purge with a stray argument opened the database (%s: %v)", dir, err)
	}
}

// A database a development run seeded holds the demo shop, whose keys the
// README publishes: production must not serve it, even with OPENPSP_DEMO
// off (which only stops the seeding).
func TestServeRefusesTheDemoShopInProduction(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	t.Setenv("OPENPSP_ADDR", "127.0.0.1:0")
	dev, err := app.New(context.Background(), mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	dev.Close()

	t.Setenv("OPENPSP_ENV", "production")
	t.Setenv("OPENPSP_PUBLIC_URL", "https://pay.example.com")
	// Production keys of its own: the development keyring is refused first.
	t.Setenv("OPENPSP_MASTER_KEYS", "k1:"+strings.Repeat("A", 43)+"=")
	t.Setenv("OPENPSP_KEYRING_FILE", filepath.Join(t.TempDir(), "keyring.json"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = run(ctx, []string{"serve"})
	if err == nil || !strings.Contains(err.Error(), shop.DemoShopID) {
		t.Fatalf("production served a database holding the demo shop: %v", err)
	}
}

func mustConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load(nil, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Asking for help answers without touching a database: run in the wrong
// folder, `openpsp shops --help` created ./data with a new keyring, and
// `openpsp --help` listed the server's flags instead of the commands.
func TestHelpOpensNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"shops", "--help"}, {"shops", "-h"}, {"shops"},
		{"notifications", "--help"}, {"notifications"}, {"ogone", "-h"}, {"ogone"}, {"keys", "-h"}} {
		err := run(context.Background(), args)
		if err != nil && !errors.Is(err, errUsage) {
			t.Errorf("%q: %v", args, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a help request opened the database (%s: %v)", dir, err)
	}
}

// docs/notifications.md says a shop can reword any message per language;
// the operator does it with `openpsp shops template`, which refuses a
// template that does not render and reaches the emails the server sends.
func TestShopTemplateCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	dev, err := app.New(context.Background(), mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	dev.Close()
	ctx := context.Background()
	base := []string{"shops", "template", shop.DemoShopID, notify.TplPaymentAcceptedBuyer, "fr"}
	if err := run(ctx, append(base, "-subject", "Merci {{.Nope}}")); err == nil {
		t.Fatal("a template naming an unknown field was saved")
	}
	if err := run(ctx, append(base, "-subject", "Merci pour la commande {{.Payment.OrderID}}")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{
		{"shops", "template", shop.DemoShopID, "payment.nope", "fr", "-subject", "x"},
		{"shops", "template", shop.DemoShopID, notify.TplPaymentAcceptedBuyer, "pt", "-subject", "x"},
		{"shops", "template", "00000000", notify.TplPaymentAcceptedBuyer, "fr", "-subject", "x"},
	} {
		if err := run(ctx, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}

	a, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := notify.SampleContent(notify.TplPaymentAcceptedBuyer)
	c.Shop.ID, c.Lang = shop.DemoShopID, "fr"
	r, err := notify.NewRenderer(a.DB, nil).Email(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "[TEST] Merci pour la commande order-1001" {
		t.Fatalf("subject %q: the shop's wording was not used", r.Subject)
	}
	a.Close()
	if err := run(ctx, append(base, "-delete")); err != nil {
		t.Fatal(err)
	}
}

// `openpsp shops set` and `shops create` saved any text as an email, a
// phone number or a notification URL (email=notanemail,
// notification-url=ftp://x): the messages sent to them then failed, later
// and elsewhere. They are refused with what is expected, and nothing is
// saved.
func TestShopsValidatesContacts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	dev, err := app.New(context.Background(), mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	dev.Close()
	ctx := context.Background()
	for _, c := range []struct{ arg, want string }{
		{"email=notanemail", "email"},
		{"merchant-email=Jane <jane@example.com>", "merchant-email"},
		{"notification-url=ftp://x", "notification-url"},
		{"notification-url=merchant.example/ipn", "notification-url"},
		{"phone=0612345678", "phone"},
		{"merchant-phone=+33 6", "merchant-phone"},
	} {
		err := run(ctx, []string{"shops", "set", shop.DemoShopID, "name=Changed", c.arg})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("shops set %q: %v, want an error about %s", c.arg, err, c.want)
		}
	}
	for _, args := range [][]string{
		{"-name", "Bad", "-email", "notanemail"},
		{"-name", "Bad", "-notification-url", "ftp://x"},
	} {
		if err := run(ctx, append([]string{"shops", "create"}, args...)); err == nil {
			t.Errorf("shops create %q accepted", args)
		}
	}
	if err := run(ctx, []string{"shops", "set", shop.DemoShopID, "email=ops@example.com",
		"notification-url=https://merchant.example/ipn", "phone=+33612345678", "merchant-email="}); err != nil {
		t.Fatalf("valid values refused: %v", err)
	}

	a, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, err := a.Shops.Get(ctx, shop.DemoShopID)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name == "Changed" || s.PrimaryEmail != "ops@example.com" || s.NotificationURL != "https://merchant.example/ipn" {
		t.Fatalf("shop after the commands: name %q, email %q, URL %q", s.Name, s.PrimaryEmail, s.NotificationURL)
	}
	list, err := a.Shops.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d shops: a create with an invalid contact was saved", len(list))
	}
}

// A development run creates {data-dir}/keyring.json on its own; production
// pointed at that folder used it, so card data was sealed under keys that
// were never meant to guard it (and that sit beside the database). It is
// refused, wherever the file is; a keyring the operator made still works.
func TestProductionRefusesADevelopmentKeyring(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	t.Setenv("OPENPSP_DEMO", "false")
	dev, err := app.New(context.Background(), mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	dev.Close()
	devKeyring := filepath.Join(dir, "keyring.json")

	t.Setenv("OPENPSP_ENV", "production")
	t.Setenv("OPENPSP_PUBLIC_URL", "https://pay.example.com")
	open := func() error {
		cfg, err := config.Load(nil, os.Getenv)
		if err != nil {
			return err
		}
		a, err := app.New(context.Background(), cfg, app.Options{LogOutput: io.Discard})
		if err != nil {
			return err
		}
		return a.Close()
	}
	if err := open(); err == nil || !strings.Contains(err.Error(), "OPENPSP_MASTER_KEYS") || !strings.Contains(err.Error(), "development") {
		t.Fatalf("production with the development keyring of its data folder: %v", err)
	}
	moved := filepath.Join(root, "elsewhere", "keyring.json")
	b, err := os.ReadFile(devKeyring)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(moved), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(moved, b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENPSP_KEYRING_FILE", moved)
	if err := open(); err == nil || !strings.Contains(err.Error(), "OPENPSP_MASTER_KEYS") {
		t.Fatalf("production with a development keyring named by OPENPSP_KEYRING_FILE: %v", err)
	}

	// An operator's keyring, made by hand from `openpsp keys generate`.
	own := filepath.Join(root, "secrets", "keyring.json")
	if err := os.MkdirAll(filepath.Dir(own), 0o700); err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("A", 43) + "="
	if err := os.WriteFile(own, []byte(`{"primary":"k1","keys":{"k1":"`+key+`"},"fingerprint_key":"`+strings.Repeat("B", 43)+`="}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENPSP_KEYRING_FILE", own)
	if err := open(); err != nil {
		t.Fatalf("production with the operator's keyring: %v", err)
	}
	t.Setenv("OPENPSP_KEYRING_FILE", "")
	t.Setenv("OPENPSP_MASTER_KEYS", "k2:"+key)
	if err := os.Remove(devKeyring); err != nil {
		t.Fatal(err)
	}
	if err := open(); err != nil {
		t.Fatalf("production with OPENPSP_MASTER_KEYS: %v", err)
	}
}

// Stray words were ignored (`openpsp version extra`, `shops create -name X
// extra` created the shop), and an unknown `shops` subcommand opened (and
// so created) the database before printing the usage.
func TestCommandsRefuseStrayWords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	ctx := context.Background()
	for _, args := range [][]string{{"version", "extra"}, {"shops", "bogus"}, {"shops", "bogus", "1"}} {
		if err := run(ctx, args); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an unknown subcommand opened the database (%s: %v)", dir, err)
	}
	if err := run(ctx, []string{"migrate"}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"shops", "create", "-name", "Stray", "extra"},
		{"shops", "list", "extra"},
		{"shops", "keys", shop.DemoShopID, "-mode", "TEST", "extra"},
	} {
		if err := run(ctx, args); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	a, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	list, err := a.Shops.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Name == "Stray" {
			t.Fatal("shops create with a stray word created the shop")
		}
	}
}

// A master key removed from the keyring while data keys still need it (the
// operator retired it before `openpsp keys rewrap` finished, or restarted a
// copy with an old OPENPSP_MASTER_KEYS) left a server that started as if
// all was well, then answered INT_999 to every payment by token and
// DirectLink call of the shops whose secrets it sealed. It must refuse to
// start and name the key.
func TestServeRefusesAMissingMasterKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	t.Setenv("OPENPSP_ADDR", "127.0.0.1:0")
	key := func(c string) string { return strings.Repeat(c, 43) + "=" }
	t.Setenv("OPENPSP_KEYRING_FILE", filepath.Join(t.TempDir(), "keyring.json"))
	t.Setenv("OPENPSP_MASTER_KEYS", "kold:"+key("A"))
	a, err := app.New(context.Background(), mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	a.Close() // the demo shop's secrets are sealed under kold

	t.Setenv("OPENPSP_MASTER_KEYS", "knew:"+key("B"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = run(ctx, []string{"serve"})
	if err == nil || !strings.Contains(err.Error(), "kold") {
		t.Fatalf("served without the master key its data keys need: %v", err)
	}

	// Both keys: it starts (and stops with ctx).
	t.Setenv("OPENPSP_MASTER_KEYS", "kold:"+key("A")+",knew:"+key("B"))
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := run(ctx2, []string{"serve"}); err != nil && strings.Contains(err.Error(), "kold") {
		t.Fatalf("refused a keyring that has every key: %v", err)
	}
}

// A keyring file of an older development run (no development_only mark) in
// the data folder was merged with OPENPSP_MASTER_KEYS and its primary won:
// production sealed new card data under the key that sits beside the
// database. The operator's OPENPSP_MASTER_KEYS decides the primary.
func TestProductionMasterKeysWinOverAnOldKeyringFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := func(c string) string { return strings.Repeat(c, 43) + "=" }
	old := `{"primary":"kdev","keys":{"kdev":"` + key("A") + `"},"fingerprint_key":"` + key("B") + `"}`
	if err := os.WriteFile(filepath.Join(dir, "keyring.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENPSP_DATA_DIR", dir)
	t.Setenv("OPENPSP_DEMO", "false")
	t.Setenv("OPENPSP_ENV", "production")
	t.Setenv("OPENPSP_PUBLIC_URL", "https://pay.example.com")
	t.Setenv("OPENPSP_MASTER_KEYS", "kprod:"+key("C"))
	a, err := app.New(context.Background(), mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	dk, _, err := a.Keys.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	if a.Keys.PrimaryID() != "kprod" || dk.MasterKeyID != "kprod" {
		t.Fatalf("primary %q, a new data key wrapped by %q: want OPENPSP_MASTER_KEYS's kprod", a.Keys.PrimaryID(), dk.MasterKeyID)
	}
}

// `openpsp shops set ID logo-url=…` saved any text: the logo becomes the
// hosted page's <img src> and the emails' logo. The shop service checks it
// (internal/shop tests the rules); the command shows its error, saves a
// valid logo, and in production refuses a plain-HTTP one.
func TestShopsValidatesLogoURL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	ctx := context.Background()
	dev, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	dev.Close()
	if err := run(ctx, []string{"shops", "set", shop.DemoShopID, "logo-url=javascript:alert(1)"}); err == nil || !strings.Contains(err.Error(), "logo-url") {
		t.Fatalf("shops set logo-url=javascript:…: %v", err)
	}
	if err := run(ctx, []string{"shops", "set", shop.DemoShopID, "logo-url=https://cdn.example/logo.png"}); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if s, err := a.Shops.Get(ctx, shop.DemoShopID); err != nil || s.LogoURL != "https://cdn.example/logo.png" {
		t.Fatalf("logo after the commands: %q, %v", s.LogoURL, err)
	}

	// Production: a plain-HTTP logo off loopback is refused.
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "prod"))
	t.Setenv("OPENPSP_DEMO", "false")
	t.Setenv("OPENPSP_ENV", "production")
	t.Setenv("OPENPSP_PUBLIC_URL", "https://pay.example.com")
	t.Setenv("OPENPSP_MASTER_KEYS", "kprod:"+strings.Repeat("C", 43)+"=")
	if err := run(ctx, []string{"migrate"}); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"shops", "create", "-name", "Prod", "-id", "12345678"}); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"shops", "set", "12345678", "logo-url=http://cdn.example/logo.png"}); err == nil || !strings.Contains(err.Error(), "logo-url must be https") {
		t.Fatalf("production shops set logo-url=http://…: %v", err)
	}
	if err := run(ctx, []string{"shops", "set", "12345678", "logo-url=http://localhost:8000/logo.png"}); err != nil {
		t.Fatalf("production shops set logo-url on loopback: %v", err)
	}
}

// A shop saved before today's checks (an http:// logo in production, an
// email an older version took) blocked every `openpsp shops set` of that
// shop, even of an unrelated field, and the error named only the first bad
// value, as if the operator had just typed it. The command must name every
// invalid stored value and how to set it, and a command that sets them
// (or clears them) along with the change must go through.
func TestShopsSetRepairsInvalidStoredValues(t *testing.T) {
	ctx := context.Background()
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "prod"))
	t.Setenv("OPENPSP_DEMO", "false")
	t.Setenv("OPENPSP_ENV", "production")
	t.Setenv("OPENPSP_PUBLIC_URL", "https://pay.example.com")
	t.Setenv("OPENPSP_MASTER_KEYS", "kprod:"+strings.Repeat("C", 43)+"=")
	const id = "12345678"
	if err := run(ctx, []string{"migrate"}); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"shops", "create", "-name", "Old", "-id", id}); err != nil {
		t.Fatal(err)
	}
	// What an older version saved: written past the shop service's checks.
	a, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	old, err := a.Shops.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	old.LogoURL, old.PrimaryEmail = "http://cdn.example/logo.png", "notanemail"
	if err := a.DB.UpdateShop(ctx, old, time.Now()); err != nil {
		t.Fatal(err)
	}
	a.Close()

	err = run(ctx, []string{"shops", "set", id, "name=New"})
	if err == nil {
		t.Fatal("shops set saved a shop whose stored values fail today's checks")
	}
	for _, want := range []string{"logo-url", `"http://cdn.example/logo.png"`, "email", `"notanemail"`, "logo-url=https://", "email=name@example.com", "stored"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("shops set name=New: error does not say %s:\n%v", want, err)
		}
	}
	// Fixing one of them: the error still names the other, no longer the fixed one.
	err = run(ctx, []string{"shops", "set", id, "name=New", "logo-url=https://cdn.example/logo.png"})
	if err == nil || !strings.Contains(err.Error(), `"notanemail"`) || strings.Contains(err.Error(), "http://cdn.example") {
		t.Fatalf("shops set with the logo fixed, the email not: %v", err)
	}
	// A bad value typed now is refused first, before the database is
	// opened (TestShopsCheckArgumentsBeforeOpeningTheDatabase): the
	// stored ones are told once the command's own values are good.
	err = run(ctx, []string{"shops", "set", id, "phone=0612", "logo-url=https://cdn.example/logo.png"})
	if err == nil || !strings.Contains(err.Error(), `"0612"`) || strings.Contains(err.Error(), `"notanemail"`) {
		t.Fatalf("shops set with a bad phone and the stored bad email: %v", err)
	}
	if err := run(ctx, []string{"shops", "set", id, "name=New", "logo-url=https://cdn.example/logo.png", "email="}); err != nil {
		t.Fatalf("shops set fixing every stored value: %v", err)
	}
	a, err = app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, err := a.Shops.Get(ctx, id)
	if err != nil || s.Name != "New" || s.LogoURL != "https://cdn.example/logo.png" || s.PrimaryEmail != "" {
		t.Fatalf("shop after the repair: %+v, %v", s, err)
	}
}

// OPENPSP_MASTER_KEYS without a "fingerprint:" entry derives the
// card-fingerprint key from its first master key: retiring that key (the
// README's rotation: append a key, rewrap, remove the old one) silently
// gave every card a new fingerprint, so no stored card was recognised
// again. Production refuses to start then, naming both keys' origins, and
// starts again once the fingerprint key is the stored fingerprints' one.
func TestProductionRefusesAChangedFingerprintKey(t *testing.T) {
	ctx := context.Background()
	key := func(c string) string { return strings.Repeat(c, 43) + "=" }
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "prod"))
	t.Setenv("OPENPSP_KEYRING_FILE", filepath.Join(t.TempDir(), "keyring.json"))
	t.Setenv("OPENPSP_DEMO", "false")
	t.Setenv("OPENPSP_ENV", "production")
	t.Setenv("OPENPSP_PUBLIC_URL", "https://pay.example.com")
	t.Setenv("OPENPSP_MASTER_KEYS", "kold:"+key("A"))
	if err := run(ctx, []string{"migrate"}); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"shops", "create", "-name", "Prod", "-id", "12345678"}); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	pan, err := card.ParsePAN("4970100000000055")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: "12345678", Mode: shop.ModeProduction, PAN: pan,
		Expiry: card.Expiry{Month: 12, Year: 2031}}); err != nil {
		t.Fatal(err)
	}
	a.Close()

	// Rotation: a new key appended; then, rewrapped, the old one removed.
	t.Setenv("OPENPSP_MASTER_KEYS", "kold:"+key("A")+",knew:"+key("B"))
	if err := run(ctx, []string{"keys", "rewrap"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENPSP_MASTER_KEYS", "knew:"+key("B"))
	_, err = app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "fingerprint") || !strings.Contains(err.Error(), `"kold"`) || !strings.Contains(err.Error(), `"knew"`) {
		t.Fatalf("production started with another fingerprint key than the stored fingerprints': %v", err)
	}
	// The old key back at the head: the fingerprint key is the same again.
	t.Setenv("OPENPSP_MASTER_KEYS", "kold:"+key("A")+",knew:"+key("B"))
	a, err = app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatalf("production with the fingerprint key of the stored fingerprints: %v", err)
	}
	a.Close()
}

// `openpsp shops set ID ogone-default-eci=N` sets the ECI DirectLink applies
// to the shop's orders that send none (Ingenico's "Default ECI value" of the
// PSPID). A value Ingenico does not offer is refused and nothing is saved,
// not even the other settings of the same command.
func TestShopsSetOgoneDefaultECI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	dev, err := app.New(context.Background(), mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	dev.Close()
	ctx := context.Background()
	for _, bad := range []string{"8", "5", "seven", ""} {
		err := run(ctx, []string{"shops", "set", shop.DemoShopID, "name=Changed", "ogone-default-eci=" + bad})
		if err == nil || !strings.Contains(err.Error(), "ECI") {
			t.Errorf("ogone-default-eci=%q: %v, want an error about the ECI", bad, err)
		}
	}
	if err := run(ctx, []string{"shops", "set", shop.DemoShopID, "ogone-default-operation=RFD"}); err == nil || !strings.Contains(err.Error(), "operation") {
		t.Errorf("ogone-default-operation=RFD: %v, want an error about the operation", err)
	}
	if err := run(ctx, []string{"shops", "set", shop.DemoShopID, "ogone-default-eci=9", "ogone-default-operation=sal"}); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	og, err := a.Shops.OgoneForShop(ctx, shop.DemoShopID)
	if err != nil || og.Settings.DefaultECI != "9" || og.Settings.DefaultOperation != "SAL" {
		t.Fatalf("default ECI after shops set: %+v %v", og.Settings, err)
	}
	if s, err := a.Shops.Get(ctx, shop.DemoShopID); err != nil || s.Name == "Changed" {
		t.Fatalf("a refused command saved the shop: %q %v", s.Name, err)
	}
}

// `openpsp shops set ID return-origins=…` takes a comma-separated list of
// origins, refuses anything that is not an https origin (http only on
// loopback) with nothing after the host, saves nothing then, lists the
// origins in `shops show`, and clears them with an empty value.
func TestShopsSetReturnOrigins(t *testing.T) {
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	ctx := context.Background()
	dev, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	dev.Close()
	stored := func() []string {
		t.Helper()
		a, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		s, err := a.Shops.Get(ctx, shop.DemoShopID)
		if err != nil {
			t.Fatal(err)
		}
		return s.Settings.ReturnOrigins
	}
	for _, bad := range []string{
		"https://shop.example/return", "http://shop.example", "https://shop.example,ftp://x", "shop.example",
		"https://u:p@shop.example", "https://shop.example?x=1", "https://shop.example#f", "https://",
	} {
		if err := run(ctx, []string{"shops", "set", shop.DemoShopID, "return-origins=" + bad}); err == nil || !strings.Contains(err.Error(), "return-origins must") {
			t.Errorf("shops set return-origins=%s: %v, want an error naming return-origins", bad, err)
		}
	}
	if got := stored(); got != nil {
		t.Fatalf("refused values were saved: %q", got)
	}
	if err := run(ctx, []string{"shops", "set", shop.DemoShopID, "return-origins=https://a.example, https://b.example:8443,http://127.0.0.1:8080,http://localhost"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"https://a.example", "https://b.example:8443", "http://127.0.0.1:8080", "http://localhost"}
	if got := stored(); !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	out, err := helpText(t, "shops", "show", shop.DemoShopID)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^return-origins +` + regexp.QuoteMeta(strings.Join(want, ",")) + `$`).MatchString(out) {
		t.Errorf("shops show does not list the origins:\n%s", out)
	}
	if err := run(ctx, []string{"shops", "set", shop.DemoShopID, "return-origins="}); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got != nil {
		t.Fatalf("after return-origins=: %q", got)
	}
	if out, _ := helpText(t, "shops", "show", shop.DemoShopID); !regexp.MustCompile(`(?m)^return-origins +\(any\)$`).MatchString(out) {
		t.Errorf("shops show after clearing:\n%s", out)
	}
}

// `openpsp shops webhook-secret ID -overlap bogus` printed Go's bare
// "Usage of shops webhook-secret:" with the flag's defaults, not the shops
// usage, and a stray word got the usage without being named. A shops
// subcommand names the wrong input, then prints the usage, as keys,
// notifications and ogone do.
func TestShopsNameABadFlag(t *testing.T) {
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	if err := run(context.Background(), []string{"migrate"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"shops", "webhook-secret", "12345678", "-overlap", "bogus"}, `openpsp shops webhook-secret: invalid value "bogus" for flag -overlap`},
		{[]string{"shops", "keys", "12345678", "-mdoe", "TEST"}, `openpsp shops keys: flag provided but not defined: -mdoe`},
		{[]string{"shops", "rotate-keys", "12345678", "-mode"}, `openpsp shops rotate-keys: flag needs an argument: -mode`},
		{[]string{"shops", "create", "-name", "X", "extra"}, `openpsp shops create: unexpected arguments ["extra"]`},
		{[]string{"shops", "template", "12345678", notify.TplPaymentAcceptedBuyer, "fr", "-subjekt", "x"}, `openpsp shops template: flag provided but not defined: -subjekt`},
	} {
		out, err := helpText(t, c.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(out, c.want) || !strings.Contains(out, "usage:\n  openpsp shops create") || strings.Contains(out, "Usage of") {
			t.Errorf("%q: %v, want %q then the shops usage:\n%s", c.args, err, c.want, out)
		}
	}
}

// `openpsp keys rotate` printed its progress and stopped: the operator had
// to run `keys status` to learn the new primary key. It ends with a line
// naming it (its id, never the key).
func TestKeysRotateNamesTheNewPrimaryKey(t *testing.T) {
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	if err := run(context.Background(), []string{"migrate"}); err != nil {
		t.Fatal(err)
	}
	primary := regexp.MustCompile(`primary master key: (\S+)`)
	status := func() string {
		t.Helper()
		out, err := helpText(t, "keys", "status")
		m := primary.FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("keys status: %v\n%s", err, out)
		}
		return m[1]
	}
	before := status()
	out, err := helpText(t, "keys", "rotate")
	if err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	after := status()
	if after == before {
		t.Fatalf("keys rotate left the primary key %s", before)
	}
	if !strings.Contains(out, "new primary master key: "+after+"\n") {
		t.Errorf("keys rotate does not name the new primary key %s:\n%s", after, out)
	}
	kr, err := os.ReadFile(mustConfig(t).KeyringFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.FieldsFunc(string(kr), func(r rune) bool { return strings.ContainsRune(" \t\n\":,{}[]", r) }) {
		if len(f) >= 32 && strings.Contains(out, f) {
			t.Errorf("keys rotate printed key material %q", f)
		}
	}
}

// `openpsp serve` on a port another program holds created the data folder,
// its database and keyring, and seeded the demo shop, before it found the
// port taken. The port is bound first: a taken one leaves nothing behind.
func TestServeOnATakenPortCreatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	t.Setenv("OPENPSP_ADDR", ln.Addr().String())
	err = run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "listen on "+ln.Addr().String()) || !strings.Contains(err.Error(), "OPENPSP_ADDR") {
		t.Fatalf("serve on a taken port: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve on a taken port created its data folder (%s: %v)", dir, err)
	}
}

// `openpsp keys rewrap` ended on its progress line alone: the operator
// could not tell how many data keys it rewrapped, from which master keys,
// and how many were already under the primary. It ends with that summary,
// naming key ids only, never key material.
func TestKeysRewrapSummary(t *testing.T) {
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	t.Setenv("OPENPSP_KEYRING_FILE", filepath.Join(t.TempDir(), "keyring.json"))
	key := func(c string) string { return strings.Repeat(c, 43) + "=" }
	t.Setenv("OPENPSP_MASTER_KEYS", "kold:"+key("A"))
	a, err := app.New(context.Background(), mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := a.DB.DataKeyCounts(context.Background())
	a.Close() // the demo shop's secrets are sealed under kold
	if err != nil || counts["kold"] == 0 {
		t.Fatalf("data keys under kold: %v, %v", counts, err)
	}
	n := counts["kold"]

	t.Setenv("OPENPSP_MASTER_KEYS", "kold:"+key("A")+",knew:"+key("B"))
	out, err := helpText(t, "keys", "rewrap")
	if err != nil {
		t.Fatalf("keys rewrap: %v\n%s", err, out)
	}
	want := fmt.Sprintf("rewrapped %d data keys (from kold) under the primary master key knew; 0 already under it were skipped\n", n)
	if !strings.HasSuffix(out, want) {
		t.Errorf("keys rewrap ends with\n%s\nwant %q", out, want)
	}
	out, err = helpText(t, "keys", "rewrap")
	if err != nil {
		t.Fatalf("keys rewrap again: %v\n%s", err, out)
	}
	want = fmt.Sprintf("rewrapped 0 data keys under the primary master key knew; %d already under it were skipped\n", n)
	if !strings.HasSuffix(out, want) {
		t.Errorf("keys rewrap run again ends with\n%s\nwant %q", out, want)
	}
	for _, k := range []string{key("A"), key("B")} {
		if strings.Contains(out, k) {
			t.Errorf("keys rewrap printed key material")
		}
	}
}
