package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/version"
)

func serve(ctx context.Context, args []string) error {
	cfg, err := loadCommandLine("openpsp serve", args)
	if err != nil {
		return err
	}
	tuneGC(os.Getenv)
	// The port first (after the configuration's checks, which name a bad
	// address better): one already taken must not leave a new database,
	// keyring and demo shop behind. Connections made meanwhile wait in the
	// socket's backlog until Run serves them.
	if err := cfg.Validate(); err != nil {
		return err
	}
	ln, err := app.OpenListener(cfg.Addr)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, app.Options{Listener: ln})
	if err != nil {
		ln.Close()
		return err
	}
	defer a.Close()
	if err := refuseDemoShop(ctx, a); err != nil {
		return err
	}
	if err := refuseMissingMasterKeys(ctx, a); err != nil {
		return err
	}
	printBanner(a)
	return a.Run(ctx)
}

// refuseDemoShop stops production on a database a development run seeded:
// OPENPSP_DEMO=false only stops the seeding, and the demo shop left there
// would take payments, and send emails and SMS, with keys the README
// publishes.
func refuseDemoShop(ctx context.Context, a *app.App) error {
	if a.Config.Env != config.EnvProduction {
		return nil
	}
	_, err := a.Shops.Get(ctx, shop.DemoShopID)
	if errors.Is(err, shop.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("invalid configuration:\n  - this database holds the demo shop %s (a development run seeded it), whose keys are public: production will not serve it; give production a database of its own", shop.DemoShopID)
}

// refuseMissingMasterKeys stops a server whose keyring lacks a master key
// that data keys are still wrapped by (removed before `openpsp keys rewrap`
// finished, or an old OPENPSP_MASTER_KEYS): it would start, then fail every
// payment by token and every call needing a shop secret sealed under it.
func refuseMissingMasterKeys(ctx context.Context, a *app.App) error {
	counts, err := a.DB.DataKeyCounts(ctx)
	if err != nil {
		return err
	}
	for _, id := range a.Keys.KeyIDs() {
		delete(counts, id)
	}
	if len(counts) == 0 {
		return nil
	}
	missing := make([]string, 0, len(counts))
	for id, n := range counts {
		missing = append(missing, fmt.Sprintf("%s (wraps %d data keys)", id, n))
	}
	slices.Sort(missing)
	return fmt.Errorf("invalid configuration:\n  - master keys missing from the keyring: %s; their card data and shop secrets cannot be decrypted: "+
		"put them back (OPENPSP_MASTER_KEYS or the keyring file) and remove a master key only once `openpsp keys status` shows it wraps 0 data keys",
		strings.Join(missing, ", "))
}

// printBanner tells the person starting the server where it answers and,
// with the demo, the demo shop's keys (public: the PayZen documentation's;
// production refuses the demo, so it never prints a production secret):
// a text block on stdout, or with JSON logs the same facts as two log
// records, since a log shipper reads every line as JSON. Either is shown
// whatever OPENPSP_LOG_LEVEL says.
func printBanner(a *app.App) {
	cfg := a.Config
	base := a.PublicURL()
	engine := "SQLite " + a.DB.Path()
	if a.DB.Path() == "" {
		engine = "PostgreSQL"
	}
	if cfg.LogFormat == "json" {
		logAlways(a.Log, "openpsp started", slog.String("version", version.Version), slog.String("env", cfg.Env),
			slog.String("database", engine), slog.String("url", base), slog.String("api_v4", base+"/api-payment/V4/"),
			slog.String("healthz", base+"/healthz"), slog.String("readyz", base+"/readyz"), slog.String("metrics", base+"/metrics"))
		if cfg.Demo {
			logAlways(a.Log, "demo shop", slog.String("mode", "TEST"), slog.String("keys", "public, from the PayZen documentation"),
				slog.String("demo_merchant", base+"/demo"), slog.String("demo_mailbox", base+"/demo/mail"),
				slog.String("shop_id", shop.DemoShopID), slog.String("password", shop.DemoTestPassword),
				slog.String("public_key", shop.DemoTestPublicKey), slog.String("hmac_sha256_key", shop.DemoTestHMACKey),
				slog.String("ogone_pspid", shop.DemoPSPID), slog.String("ogone_sha_passphrase", shop.DemoSHAPassphrase),
				slog.String("ogone_sha", "SHA-512"), slog.String("directlink_user", shop.DemoAPIUser),
				slog.String("directlink_password", shop.DemoAPIPassword),
				slog.String("test_card", "4970100000000055, any future expiry, any 3-digit code (more in docs/test-cards.md)"))
		}
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nOpenPSP %s is running (%s, %s)\n\n", version.Version, cfg.Env, engine)
	fmt.Fprintf(&b, "  REST API V4      %s/api-payment/V4/\n", base)
	fmt.Fprintf(&b, "  health           %s/healthz   %s/readyz   %s/metrics\n", base, base, base)
	if cfg.Demo {
		fmt.Fprintf(&b, "  demo merchant    %s/demo\n", base)
		fmt.Fprintf(&b, "  demo mailbox     %s/demo/mail\n", base)
		fmt.Fprintf(&b, "\nDemo shop %s (TEST mode, public keys from the PayZen documentation):\n", shop.DemoShopID)
		fmt.Fprintf(&b, "  shop id / user   %s\n", shop.DemoShopID)
		fmt.Fprintf(&b, "  password         %s\n", shop.DemoTestPassword)
		fmt.Fprintf(&b, "  public key       %s\n", shop.DemoTestPublicKey)
		fmt.Fprintf(&b, "  HMAC-SHA-256 key %s\n", shop.DemoTestHMACKey)
		fmt.Fprintf(&b, "  Ogone PSPID      %s  (SHA-IN/SHA-OUT %q, SHA-512; DirectLink %s / %s)\n",
			shop.DemoPSPID, shop.DemoSHAPassphrase, shop.DemoAPIUser, shop.DemoAPIPassword)
		fmt.Fprintf(&b, "\nTry it:\n  curl -u %s:%s -d '{\"value\":\"hi\"}' %s/api-payment/V4/Charge/SDKTest\n",
			shop.DemoShopID, shop.DemoTestPassword, base)
		fmt.Fprintf(&b, "  test card 4970100000000055, any future expiry, any 3-digit code (more in docs/test-cards.md)\n")
	}
	fmt.Fprintln(os.Stdout, b.String())
}

// logAlways writes an info record whatever the logger's level.
func logAlways(log *slog.Logger, msg string, attrs ...slog.Attr) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	_ = log.Handler().Handle(context.Background(), r)
}

func migrate(ctx context.Context, args []string) error {
	cfg, err := loadCommandLine("openpsp migrate", args)
	if err != nil {
		return err
	}
	cfg.Demo = false
	cfg.Jobs = false
	start := time.Now()
	applied, running := 0, false
	a, err := app.New(ctx, cfg, app.Options{MigrationProgress: func(s store.MigrationStep) {
		printMigration(s)
		running = !s.Done
		if s.Done {
			applied++
		}
	}})
	if err != nil {
		if running {
			fmt.Fprintln(os.Stderr, "failed") // ends the "applying …" line before the error
		}
		return err
	}
	defer a.Close()
	if applied > 0 {
		fmt.Printf("applied %d migrations in %s; ", applied, time.Since(start).Round(time.Millisecond))
	}
	fmt.Printf("database schema is up to date (%s)\n", a.DB.Dialect())
	return nil
}

// printMigration shows on stderr, as progressPrinter shows a rewrap or a
// purge, each migration `openpsp migrate` applies: one line each, written
// as it starts and finished once it committed, so that one building an
// index on a large table is seen running rather than stuck.
func printMigration(s store.MigrationStep) {
	if !s.Done {
		fmt.Fprintf(os.Stderr, "applying %s (%d/%d)… ", s.Version, s.N, s.Of)
		return
	}
	fmt.Fprintf(os.Stderr, "done in %s\n", s.Took.Round(time.Millisecond))
}

// loadCommandLine is the configuration of serve or migrate (name) from the
// environment and args. A wrong command line is a usage error, named last:
// an unknown flag's name is otherwise above the whole flag list.
func loadCommandLine(name string, args []string) (config.Config, error) {
	cfg, err := config.LoadCommand(name, args, os.Getenv)
	if errors.Is(err, config.ErrArgs) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return cfg, errUsage
	}
	return cfg, err
}

func printVersion(_ context.Context, args []string) error {
	if len(args) > 0 {
		fmt.Fprintln(os.Stderr, "usage: openpsp version")
		if len(args) == 1 && isHelp(args[0]) {
			return flag.ErrHelp
		}
		return errUsage
	}
	fmt.Println("openpsp", version.Version)
	return nil
}
