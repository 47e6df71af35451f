package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/openpsp/openpsp/internal/app"
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
	// Operator commands take their own arguments; configuration comes from
	// the environment only.
	cfg, err := config.Load(nil, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	cfg.Jobs = false
	cfg.Demo = false
	if err := requireDatabase(cfg); err != nil {
		return nil, nil, err
	}
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	return a, args, nil
}

// requireDatabase refuses an operator command a SQLite database that does
// not exist: opening it would create an empty one (and a keyring) in
// whatever folder the command was run from, and the command would then
// answer about that. Only serve and migrate create a database.
func requireDatabase(cfg config.Config) error {
	return requireDatabaseAt(cfg, "Run the command in the folder the server runs in, or point it at the server's database: "+
		"OPENPSP_DATA_DIR=FOLDER (the server's data folder, its OPENPSP_DATA_DIR or -data-dir) "+
		"or OPENPSP_DATABASE_URL=postgres://… (PostgreSQL)")
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
var shopsSubcommands = []string{"create", "list", "show", "keys", "rotate-keys", "webhook-secret", "template", "set"}

const shopsUsage = `usage:
  openpsp shops create -name NAME [-id 8DIGITS] [-currency EUR] [-language en|fr|es|it|de] [-email ADDR] [-notification-url URL] [-pspid PSPID]
  openpsp shops list
  openpsp shops show SHOP_ID
  openpsp shops keys SHOP_ID [-mode TEST|PRODUCTION]          show a key set in clear
  openpsp shops rotate-keys SHOP_ID -mode TEST|PRODUCTION     replace a key set (the old one stops working)
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
      ogone-default-eci=7   the ECI of a DirectLink order that sends none: 1, 2, 3, 4, 7 (default) or 9
      ogone-default-operation=RES   the OPERATION of a DirectLink order that sends none: RES (default) or SAL`

func shops(ctx context.Context, args []string) error {
	if ok, err := helpOnly(args, shopsUsage); ok {
		return err
	}
	if !slices.Contains(shopsSubcommands, args[0]) {
		// Before opening the database, which would create one.
		return usageErr()
	}
	a, _, err := openForCommand(ctx, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	sub, rest := args[0], args[1:]
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
			return err
		}
		in.Settings.PaymentByToken = true
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
		fmt.Println("Keep the Ogone SHA passphrases and the DirectLink password now: no command shows them again.")
		return nil
	case "list":
		if len(rest) > 0 {
			return usageErr()
		}
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
	case "show":
		if len(rest) != 1 {
			return usageErr()
		}
		s, err := a.Shops.Get(ctx, rest[0])
		if err != nil {
			return fmt.Errorf("shop %s: %w", rest[0], err)
		}
		return showShop(ctx, a, os.Stdout, s)
	case "keys":
		fs := flag.NewFlagSet("shops keys", flag.ContinueOnError)
		mode := fs.String("mode", shop.ModeTest, "TEST or PRODUCTION")
		if len(rest) < 1 {
			return usageErr()
		}
		if err := parseShopsFlags(fs, rest[1:]); err != nil {
			return err
		}
		c, err := a.Shops.Credentials(ctx, rest[0], strings.ToUpper(*mode))
		if err != nil {
			return fmt.Errorf("shop %s keys: %w", rest[0], err)
		}
		printCredentials(c)
		return nil
	case "rotate-keys":
		fs := flag.NewFlagSet("shops rotate-keys", flag.ContinueOnError)
		mode := fs.String("mode", "", "TEST or PRODUCTION (required)")
		if len(rest) < 1 {
			return usageErr()
		}
		if err := parseShopsFlags(fs, rest[1:]); err != nil {
			return err
		}
		c, err := a.Shops.RotateAPIKeys(ctx, rest[0], strings.ToUpper(*mode))
		if err != nil {
			return err
		}
		fmt.Println("New key set (the previous one no longer works):")
		printCredentials(c)
		return nil
	case "webhook-secret":
		fs := flag.NewFlagSet("shops webhook-secret", flag.ContinueOnError)
		rotate := fs.Bool("rotate", false, "make a new secret; the previous one stays valid for -overlap")
		overlap := fs.Duration("overlap", shop.DefaultWebhookOverlap, "how long the previous secret keeps signing after a rotation")
		if len(rest) < 1 {
			return usageErr()
		}
		if err := parseShopsFlags(fs, rest[1:]); err != nil {
			return err
		}
		if *rotate {
			sec, err := a.Shops.RotateWebhookSecret(ctx, rest[0], *overlap)
			if err != nil {
				return err
			}
			fmt.Printf("new webhook secret of shop %s: %s\n(the previous one keeps signing for %s: webhooks carry both signatures meanwhile)\n", rest[0], sec, *overlap)
			return nil
		}
		secrets, err := a.Shops.WebhookSecrets(ctx, rest[0])
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
	case "template":
		return shopTemplate(ctx, a, rest)
	case "set":
		if len(rest) < 2 {
			return usageErr()
		}
		s, err := a.Shops.Get(ctx, rest[0])
		if err != nil {
			return fmt.Errorf("shop %s: %w", rest[0], err)
		}
		// The PSPID's settings are the Ogone account's, saved apart:
		// checked with the others before anything is saved.
		var og ogone.SettingsChange
		shopChanged := false
		for _, kv := range rest[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%q is not name=value", kv)
			}
			switch k {
			case "ogone-default-eci":
				if err := ogone.ValidDefaultECI(v); err != nil {
					return fmt.Errorf("%s: %w", k, err)
				}
				og.DefaultECI = &v
				continue
			case "ogone-default-operation":
				v = strings.ToUpper(v)
				if err := ogone.ValidDefaultOperation(v); err != nil {
					return fmt.Errorf("%s: %w", k, err)
				}
				og.DefaultOperation = &v
				continue
			}
			if err := applySetting(&s, k, v); err != nil {
				return err
			}
			shopChanged = true
		}
		if shopChanged {
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
	}
	return usageErr()
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

func usageErr() error {
	fmt.Fprintln(os.Stderr, shopsUsage)
	return errUsage
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
	default:
		return fmt.Errorf("unknown setting %q (see `openpsp shops` for the list)", k)
	}
	return err
}
