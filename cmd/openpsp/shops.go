package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/cliargs"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// openForCommand opens the app for an operator command: no jobs, no demo
// seeding, no listening socket.
func openForCommand(ctx context.Context, args []string) (*app.App, []string, error) {
	return openForCommandWith(ctx, args, app.Options{})
}

// openForCommandWith is openForCommand with app options (the keys
// commands' KeyMaintenance).
func openForCommandWith(ctx context.Context, args []string, opts app.Options) (*app.App, []string, error) {
	cfg, err := commandConfig()
	if err != nil {
		return nil, nil, err
	}
	a, err := openConfigured(ctx, cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	return a, args, nil
}

// commandConfig is an operator command's configuration: the environment
// only (the command takes its own arguments), no jobs, no demo seeding.
func commandConfig() (config.Config, error) {
	cfg, err := config.Load(nil, os.Getenv)
	if err != nil {
		return config.Config{}, err
	}
	cfg.Jobs = false
	cfg.Demo = false
	return cfg, nil
}

// openConfigured opens the app of commandConfig's cfg, on an existing
// database only (requireDatabase).
func openConfigured(ctx context.Context, cfg config.Config, opts app.Options) (*app.App, error) {
	if err := requireDatabase(cfg); err != nil {
		return nil, err
	}
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	// A keyring that is not the server's (one `openpsp migrate` made in
	// another folder) would wrap the data keys a command creates under a
	// master key the server lacks: refused as serve refuses it. The keys
	// commands (KeyMaintenance) are how such a keyring is seen and repaired.
	if !opts.KeyMaintenance {
		if err := refuseMissingMasterKeys(ctx, a); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// requireDatabase refuses an operator command a SQLite database that does
// not exist: opening it would create an empty one (and a keyring) in
// whatever folder the command was run from, and the command would then
// answer about that. Only serve and migrate create a database. It also
// refuses a keyring file that does not exist when the environment gives
// no master key: on PostgreSQL the URL finds the server's database from
// any folder, and opening would generate a development keyring there,
// whose new master key would then wrap data keys (a new shop's secrets)
// that the server cannot unwrap.
func requireDatabase(cfg config.Config) error {
	if err := requireDatabaseAt(cfg, "Run the command in the folder the server runs in, or point it at the server's database: "+
		"OPENPSP_DATA_DIR=FOLDER (the server's data folder, its OPENPSP_DATA_DIR or -data-dir) "+
		"or OPENPSP_DATABASE_URL=postgres://… (PostgreSQL)"); err != nil {
		return err
	}
	return requireKeyring(cfg)
}

// requireKeyring refuses a keyring file that does not exist when
// OPENPSP_MASTER_KEYS gives no key (see requireDatabase).
func requireKeyring(cfg config.Config) error {
	if strings.TrimSpace(cfg.MasterKeys) != "" || cfg.KeyringFile == "" {
		return nil
	}
	if _, err := os.Stat(cfg.KeyringFile); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	path := cfg.KeyringFile
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return fmt.Errorf("no keyring at %s: nothing was created.\nRun the command in the folder the server runs in, or give it the server's keys: "+
		"OPENPSP_DATA_DIR=FOLDER (the server's data folder), OPENPSP_KEYRING_FILE=FILE or OPENPSP_MASTER_KEYS (as the server has them). "+
		"`openpsp migrate` creates a new database and, in development, its keyring", path)
}

// requireDatabaseAt is requireDatabase with how the command is pointed at
// the server's database (bench takes other flags than the environment).
func requireDatabaseAt(cfg config.Config, how string) error {
	if cfg.DatabaseURL != "" {
		return nil
	}
	if err := store.RequireSQLite(cfg.DataDir); err != nil {
		return fmt.Errorf("%w.\n%s. `openpsp migrate` creates a new database", err, how)
	}
	return nil
}

// shopsSubcommands are the subcommands of `openpsp shops`.
var shopsSubcommands = []string{"create", "list", "show", "keys", "rotate-keys", "directlink-password", "webhook-secret", "template", "set"}

const shopsUsage = `usage:
  openpsp shops create -name NAME [-id 8DIGITS] [-currency EUR] [-language en|fr|es|it|de] [-email ADDR] [-notification-url URL] [-pspid PSPID]
  openpsp shops list
  openpsp shops show SHOP_ID
  openpsp shops keys SHOP_ID [-mode TEST|PRODUCTION]          show a key set in clear
  openpsp shops rotate-keys SHOP_ID -mode TEST|PRODUCTION     replace a key set (the old one stops working)
  openpsp shops directlink-password SHOP_ID [-generate] < FILE
                                                               replace the DirectLink API password (the old one stops
                                                               working): read from stdin, one line, 12-128 printable
                                                               ASCII characters; or -generate one and print it once
  openpsp shops webhook-secret SHOP_ID [-rotate] [-overlap 24h]  show (or rotate) the webhook signing secrets
  openpsp shops template SHOP_ID TEMPLATE LANG [-subject S] [-html FILE] [-text FILE] [-delete]
                                                               show, set or remove the shop's wording of an email or SMS
  openpsp shops set SHOP_ID name=value ...                     change profile and settings, e.g.
      payment-by-token=true  token-deletion=manual  order-confirmation-emails=false
      notification-url=https://…  email=…  phone=+33…  language=fr  currency=EUR  name=…  logo-url=…
      max-attempts=3  authorization-validity-days=7  allow-duplicate-paid-order=false
      ipn-on-batch-change=false  ipn-on-batch-authorization=false
      merchant-payment-notice=true  token-url=true  token-email-buyer=true  token-email-merchant=true
      token-sms-merchant=true  token-sms-buyer=true  primary-color=#0b5
      return-origins=https://shop.example,https://b.example   the only origins the hosted page returns to (empty: any)
      merchant-email=…  merchant-phone=+33…   where the merchant's notices go (default: email, phone)
      time-zone=Europe/Paris   the IANA zone the emails and payment pages tell times in (empty: UTC, the default)
      ogone-default-eci=7   the ECI of a DirectLink order that sends none: 1, 2, 3, 4, 7 (default) or 9
      ogone-default-operation=RES   the OPERATION of a DirectLink order that sends none: RES (default) or SAL`

func shops(ctx context.Context, args []string) error {
	if ok, err := helpOnly(args, shopsUsage); ok {
		return err
	}
	if err := unknownSubcommand("shops", args, shopsSubcommands, shopsUsage); err != nil {
		return err
	}
	if asksHelp(args[1:]) {
		_, err := helpOnly([]string{"-h"}, shopsUsage)
		return err
	}
	cfg, err := commandConfig()
	if err != nil {
		return err
	}
	// Every argument is checked before the database is opened: opening
	// migrates it (an empty PostgreSQL database gets the schema), and a
	// mistake should change nothing.
	do, err := shopsCommand(args, cfg.Env == config.EnvProduction)
	if err != nil {
		return err
	}
	a, err := openConfigured(ctx, cfg, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	return do(ctx, a)
}

// shopsCommand parses and checks the arguments of `openpsp shops` (args[0]
// is the subcommand) without the database, and returns what the command
// does with the app once they are known good.
func shopsCommand(args []string, production bool) (func(context.Context, *app.App) error, error) {
	sub, rest := args[0], args[1:]
	if err := cliargs.CheckUTF8("shops "+sub, rest); err != nil {
		return nil, err
	}
	switch sub {
	case "create":
		fs := flag.NewFlagSet("shops create", flag.ContinueOnError)
		var in shop.CreateInput
		fs.StringVar(&in.Name, "name", "", "shop name (required)")
		fs.StringVar(&in.ID, "id", "", "8-digit shop id (default: generated)")
		fs.StringVar(&in.Currency, "currency", "EUR", "default currency")
		fs.StringVar(&in.Language, "language", "en", "default language")
		fs.StringVar(&in.PrimaryEmail, "email", "", "primary email of the merchant")
		fs.StringVar(&in.NotificationURL, "notification-url", "", "IPN URL when a payment names none")
		fs.StringVar(&in.PSPID, "pspid", "", "Ogone PSPID (default: openpsp<shop id>)")
		if err := parseShopsFlags(fs, rest); err != nil {
			return nil, err
		}
		in.Settings.PaymentByToken = true
		if err := in.Check(production); err != nil {
			return nil, err
		}
		return func(ctx context.Context, a *app.App) error {
			c, err := a.Shops.Create(ctx, in)
			if err != nil {
				return err
			}
			fmt.Printf("Shop %s %q created.\n\n", c.Shop.ID, c.Shop.Name)
			printCredentials(c.Test)
			printCredentials(c.Prod)
			fmt.Printf("(`openpsp shops keys %s [-mode PRODUCTION]` shows these API keys again.)\n\n", c.Shop.ID)
			fmt.Printf("Ogone PSPID %s: SHA-IN %s, SHA-OUT %s (%s), DirectLink user %s password %s\n",
				c.PSPID, c.SHAIn, c.SHAOut, c.SHAAlgo, c.APIUser, c.APIPassword)
			fmt.Printf("Keep the Ogone SHA passphrases and the DirectLink password now: no command shows them again "+
				"(`openpsp shops directlink-password %s` replaces the password).\n", c.Shop.ID)
			return nil
		}, nil
	case "list":
		if len(rest) > 0 {
			return nil, usageErr(sub, fmt.Sprintf("unexpected arguments %q", rest))
		}
		return func(ctx context.Context, a *app.App) error {
			list, err := a.Shops.List(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SHOP ID\tNAME\tCURRENCY\tLANGUAGE\tEMAIL")
			for _, s := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Name, s.Currency, s.Language, s.PrimaryEmail)
			}
			return tw.Flush()
		}, nil
	case "show":
		if len(rest) == 0 {
			return nil, usageErr(sub, "give the shop id")
		}
		if len(rest) > 1 {
			return nil, usageErr(sub, fmt.Sprintf("unexpected arguments %q", rest[1:]))
		}
		id := rest[0]
		if err := checkShopID(id); err != nil {
			return nil, err
		}
		return func(ctx context.Context, a *app.App) error {
			s, err := a.Shops.Get(ctx, id)
			if err != nil {
				return fmt.Errorf("shop %s: %w", id, err)
			}
			return showShop(ctx, a, os.Stdout, s)
		}, nil
	case "keys", "rotate-keys":
		fs := flag.NewFlagSet("shops "+sub, flag.ContinueOnError)
		def, usage := shop.ModeTest, "TEST or PRODUCTION"
		if sub == "rotate-keys" {
			def, usage = "", "TEST or PRODUCTION (required)"
		}
		modeFlag := fs.String("mode", def, usage)
		if len(rest) < 1 {
			return nil, usageErr(sub, "give the shop id")
		}
		if err := parseShopsFlags(fs, rest[1:]); err != nil {
			return nil, err
		}
		id, mode := rest[0], strings.ToUpper(*modeFlag)
		if err := checkShopID(id); err != nil {
			return nil, err
		}
		if err := shop.CheckMode(mode); err != nil {
			return nil, err
		}
		if sub == "keys" {
			return func(ctx context.Context, a *app.App) error {
				c, err := a.Shops.Credentials(ctx, id, mode)
				if err != nil {
					return fmt.Errorf("shop %s keys: %w", id, err)
				}
				printCredentials(c)
				return nil
			}, nil
		}
		return func(ctx context.Context, a *app.App) error {
			c, err := a.Shops.RotateAPIKeys(ctx, id, mode)
			if err != nil {
				return err
			}
			fmt.Println("New key set (the previous one no longer works):")
			printCredentials(c)
			return nil
		}, nil
	case "webhook-secret":
		fs := flag.NewFlagSet("shops webhook-secret", flag.ContinueOnError)
		rotate := fs.Bool("rotate", false, "make a new secret; the previous one stays valid for -overlap")
		overlap := fs.Duration("overlap", shop.DefaultWebhookOverlap, "how long the previous secret keeps signing after a rotation")
		if len(rest) < 1 {
			return nil, usageErr(sub, "give the shop id")
		}
		if err := parseShopsFlags(fs, rest[1:]); err != nil {
			return nil, err
		}
		id := rest[0]
		if err := checkShopID(id); err != nil {
			return nil, err
		}
		if *overlap < 0 {
			return nil, fmt.Errorf("-overlap must be 0 or more, not %s", *overlap)
		}
		return func(ctx context.Context, a *app.App) error {
			if *rotate {
				sec, err := a.Shops.RotateWebhookSecret(ctx, id, *overlap)
				if err != nil {
					return err
				}
				fmt.Printf("new webhook secret of shop %s: %s\n(the previous one keeps signing for %s: webhooks carry both signatures meanwhile)\n", id, sec, *overlap)
				return nil
			}
			secrets, err := a.Shops.WebhookSecrets(ctx, id)
			if err != nil {
				return err
			}
			for i, s := range secrets {
				label := "current"
				if i > 0 {
					label = "previous (still valid)"
				}
				fmt.Printf("%-22s %s\n", label, s)
			}
			return nil
		}, nil
	case "directlink-password":
		return shopsDirectLinkPassword(rest)
	case "template":
		return shopTemplate(rest)
	case "set":
		return shopsSet(rest, production)
	}
	return nil, usageErr(sub, "unknown command")
}

// shopsDirectLinkPassword checks the arguments of `openpsp shops
// directlink-password` (args follow it) and reads the new password from
// stdin, unless -generate, before the database is opened; it returns the
// change. The password is never an argument (`ps` and the shell's history
// would show it) and is never printed, except a generated one, once.
func shopsDirectLinkPassword(args []string) (func(context.Context, *app.App) error, error) {
	if len(args) < 1 {
		return nil, usageErr("directlink-password", "give the shop id")
	}
	if isHelp(args[0]) {
		fmt.Fprintln(os.Stderr, shopsUsage)
		return nil, flag.ErrHelp
	}
	fs := flag.NewFlagSet("shops directlink-password", flag.ContinueOnError)
	generate := fs.Bool("generate", false, "make a random password and print it once, instead of reading one from stdin")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, shopsUsage)
			return nil, err
		}
		return nil, wrongInput(fs.Name(), err, shopsUsage)
	}
	if fs.NArg() > 0 {
		// Not parseShopsFlags: its message repeats the stray words, and
		// here they are most likely the password.
		return nil, wrongInput(fs.Name(), errors.New("takes no password as an argument (`ps` and the shell's history would show it): "+
			"give it on stdin, or use -generate"), shopsUsage)
	}
	id := args[0]
	if err := checkShopID(id); err != nil {
		return nil, err
	}
	password := ""
	if *generate {
		password = shop.NewDirectLinkPassword()
	} else {
		p, err := readPasswordLine(os.Stdin)
		if err != nil {
			return nil, err
		}
		password = p
	}
	return func(ctx context.Context, a *app.App) error {
		pspid, user, err := a.Shops.SetDirectLinkPassword(ctx, id, password)
		if err != nil {
			return fmt.Errorf("shop %s: DirectLink password: %w", id, err)
		}
		if !*generate {
			fmt.Printf("DirectLink password of shop %s replaced (PSPID %s, USERID %s): the previous one no longer works.\n", id, pspid, user)
			return nil
		}
		fmt.Printf("New DirectLink password of shop %s (PSPID %s, USERID %s); the previous one no longer works:\n  password  %s\n"+
			"Keep it now: no command shows it again.\n", id, pspid, user, password)
		return nil
	}, nil
}

// readPasswordLine reads a password from f (stdin): one line, its line
// ending dropped, checked by shop.CheckDirectLinkPassword. A terminal is
// refused: what is typed there shows on the screen.
func readPasswordLine(f *os.File) (string, error) {
	if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return "", errors.New("the new DirectLink password is read from stdin, and stdin is a terminal, which would show it: " +
			"pipe it in (`read -rs PW && printf '%s\\n' \"$PW\" | openpsp shops directlink-password SHOP_ID`, " +
			"or `< FILE`), or use -generate")
	}
	// A password is at most MaxDirectLinkPassword bytes: reading a little
	// more tells a longer one (or a file given by mistake) without
	// reading all of it.
	b, err := io.ReadAll(io.LimitReader(f, shop.MaxDirectLinkPassword+3))
	if err != nil {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	if len(b) > shop.MaxDirectLinkPassword+2 {
		return "", fmt.Errorf("stdin holds more than a password: a DirectLink password must have at most %d characters", shop.MaxDirectLinkPassword)
	}
	p := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	switch {
	case p == "":
		return "", errors.New("no password on stdin: give the new DirectLink password there, alone on one line, or use -generate")
	case strings.ContainsAny(p, "\r\n"):
		return "", errors.New("stdin must hold the password alone on one line")
	}
	return p, shop.CheckDirectLinkPassword(p)
}

// checkShopID refuses, before the database is opened, a shop id that no
// shop can have.
func checkShopID(id string) error {
	if !shop.ValidID(id) {
		return fmt.Errorf("shop id must be 8 digits, not %q", id)
	}
	return nil
}

// shopsSet checks the name=value pairs of `openpsp shops set` (args follow
// "set") and returns the change they make.
func shopsSet(args []string, production bool) (func(context.Context, *app.App) error, error) {
	if len(args) < 2 {
		return nil, usageErr("set", "give the shop id and one or more name=value settings")
	}
	id := args[0]
	if err := checkShopID(id); err != nil {
		return nil, err
	}
	// The PSPID's settings are the Ogone account's, saved apart:
	// checked with the others before anything is saved.
	var og ogone.SettingsChange
	var settings [][2]string
	var scratch shop.Shop // the values alone, checked as Update will
	var names []string
	for _, kv := range args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not name=value", kv)
		}
		switch k {
		case "ogone-default-eci":
			if err := ogone.ValidDefaultECI(v); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			og.DefaultECI = &v
			continue
		case "ogone-default-operation":
			v = strings.ToUpper(v)
			if err := ogone.ValidDefaultOperation(v); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			og.DefaultOperation = &v
			continue
		}
		if err := applySetting(&scratch, k, v); err != nil {
			return nil, err
		}
		settings = append(settings, [2]string{k, v})
		names = append(names, k)
	}
	if err := shop.CheckSettings(scratch, production, names...); err != nil {
		return nil, err
	}
	return func(ctx context.Context, a *app.App) error {
		s, err := a.Shops.Get(ctx, id)
		if err != nil {
			return fmt.Errorf("shop %s: %w", id, err)
		}
		for _, kv := range settings {
			if err := applySetting(&s, kv[0], kv[1]); err != nil {
				return err
			}
		}
		if len(settings) > 0 {
			if err := a.Shops.Update(ctx, s); err != nil {
				return err
			}
		}
		if og != (ogone.SettingsChange{}) {
			if _, err := ogone.NewAdmin(a.Shops, a.DB, a.Clock).UpdateSettings(ctx, s.ID, og); err != nil {
				return err
			}
		}
		fmt.Printf("shop %s updated\n", s.ID)
		return nil
	}, nil
}

// parseShopsFlags parses the flags of a shops subcommand (fs is named
// "shops SUBCOMMAND"): a mistake (a flag's value, an unknown flag, a stray
// word) is named before the shops usage, not Go's "Usage of …" defaults.
func parseShopsFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, shopsUsage)
			return err
		}
		return wrongInput(fs.Name(), err, shopsUsage)
	}
	if fs.NArg() > 0 {
		return wrongInput(fs.Name(), fmt.Errorf("unexpected arguments %q (flags start with -)", fs.Args()), shopsUsage)
	}
	return nil
}

// usageErr names what is wrong with the words of `openpsp shops sub`,
// then shows the usage.
func usageErr(sub, mistake string) error {
	return wrongInput("shops "+sub, errors.New(mistake), shopsUsage)
}

func printCredentials(c shop.Credentials) {
	fmt.Printf("%s keys of shop %s:\n  password         %s\n  public key       %s\n  HMAC-SHA-256 key %s\n\n", c.Mode, c.ShopID, c.Password, c.PublicKey, c.HMACKey)
}

// applySetting parses one name=value; the shop service checks the values
// (emails, phones, URLs) when the shop is saved.
func applySetting(s *shop.Shop, k, v string) error {
	b := func() (bool, error) {
		x, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s must be true or false", k)
		}
		return x, nil
	}
	n := func() (int, error) {
		// 0 would be taken for "not set" and become the default,
		// while the command said the shop was updated.
		x, err := strconv.Atoi(v)
		if err != nil || x < 1 {
			return 0, fmt.Errorf("%s must be a whole number of 1 or more, not %q", k, v)
		}
		return x, nil
	}
	var err error
	set := &s.Settings
	switch k {
	case "name":
		s.Name = v
	case "email":
		s.PrimaryEmail = v
	case "phone":
		s.PrimaryPhone = v
	case "language":
		s.Language = v
	case "currency":
		s.Currency = v
	case "notification-url":
		s.NotificationURL = v
	case "logo-url":
		s.LogoURL = v
	case "primary-color":
		set.PrimaryColor = v
	case "return-origins":
		set.ReturnOrigins = nil
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				set.ReturnOrigins = append(set.ReturnOrigins, o)
			}
		}
	case "payment-by-token":
		set.PaymentByToken, err = b()
	case "token-deletion":
		switch strings.ToUpper(v) {
		case shop.DeletionAutomatic, shop.DeletionManual:
			set.TokenDeletion = strings.ToUpper(v)
		default:
			return fmt.Errorf("token-deletion must be automatic or manual")
		}
	case "order-confirmation-emails":
		set.OrderConfirmationEmails, err = b()
	case "allow-duplicate-paid-order":
		set.AllowDuplicatePaidOrder, err = b()
	case "ipn-on-batch-change":
		set.IPNOnBatchChange, err = b()
	case "ipn-on-batch-authorization":
		set.IPNOnBatchAuthorization, err = b()
	case "max-attempts":
		set.MaxAttempts, err = n()
	case "authorization-validity-days":
		set.AuthorizationValidityDays, err = n()
	case "merchant-payment-notice":
		set.Notifications.MerchantPaymentNotice, err = b()
	case "token-url":
		set.Notifications.TokenURL, err = b()
	case "token-email-buyer":
		set.Notifications.TokenEmailBuyer, err = b()
	case "token-email-merchant":
		set.Notifications.TokenEmailMerchant, err = b()
	case "token-sms-merchant":
		set.Notifications.TokenSMSMerchant, err = b()
	case "token-sms-buyer":
		set.Notifications.TokenSMSBuyer, err = b()
	case "merchant-email":
		set.Notifications.MerchantEmail = v
	case "merchant-phone":
		set.Notifications.MerchantPhone = v
	case "time-zone":
		set.TimeZone = v
	default:
		return fmt.Errorf("unknown setting %q (see `openpsp shops` for the list)", k)
	}
	return err
}
