package ogone

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/openpsp/openpsp/internal/cliargs"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/shop"
)

// ShopAdmin reads and changes a shop's Ogone account; *shop.Service
// implements it.
type ShopAdmin interface {
	OgoneForShop(ctx context.Context, shopID string) (shop.Ogone, error)
	UpdateOgone(ctx context.Context, shopID string, set shop.OgoneSettings, shaIn, shaOut, algo, apiPassword string) error
}

// AdminStore is the part of Store the administration uses.
type AdminStore interface {
	TemplateStore
	ErrorLog(ctx context.Context, shopID string, limit int) ([]ErrorLogEntry, error)
}

// Admin manages FlexCheckout templates and PSPID settings: the functions
// behind `openpsp ogone …` now, the back office later.
type Admin struct {
	shops ShopAdmin
	store AdminStore
	clock clock.Clock
}

// NewAdmin returns the administration functions.
func NewAdmin(shops ShopAdmin, st AdminStore, clk clock.Clock) *Admin {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Admin{shops: shops, store: st, clock: clk}
}

// UploadTemplate sanitises and stores (or replaces) a template.
func (a *Admin) UploadTemplate(ctx context.Context, shopID, name string, src []byte) (Template, error) {
	if !ValidTemplateName(name) {
		return Template{}, ErrTemplateName
	}
	if _, err := a.shops.OgoneForShop(ctx, shopID); err != nil {
		return Template{}, err
	}
	clean, err := SanitizeTemplate(src)
	if err != nil {
		return Template{}, err
	}
	t := Template{ShopID: shopID, Name: name, HTML: clean, UpdatedAt: a.clock.Now()}
	return t, a.store.PutTemplate(ctx, t)
}

// Templates lists a shop's templates.
func (a *Admin) Templates(ctx context.Context, shopID string) ([]Template, error) {
	return a.store.Templates(ctx, shopID)
}

// DeleteTemplate deletes a template (ErrTemplateNotFound if there is none).
func (a *Admin) DeleteTemplate(ctx context.Context, shopID, name string) error {
	return a.store.DeleteTemplate(ctx, shopID, name)
}

// Settings returns a shop's Ogone settings.
func (a *Admin) Settings(ctx context.Context, shopID string) (shop.OgoneSettings, error) {
	og, err := a.shops.OgoneForShop(ctx, shopID)
	return og.Settings, err
}

// SettingsChange lists the settings to change; nil fields stay.
type SettingsChange struct {
	// Origins allowed to frame FlexCheckout, besides OpenPSP's own pages:
	// empty, those of each request's return URLs; FrameAncestorsSelf
	// alone, no other site.
	FrameAncestors *[]string
	AliasOptIn     *bool     // the Alias Manager's save/don't-save box
	ReturnFields   *[]string // FlexCheckout output fields (empty: all)
	Mode           *string   // TEST or PRODUCTION
	DefaultECI     *string   // DirectLink's ECI when an order sends none ("": 7)
	// DirectLink's OPERATION when an order sends none: RES or SAL.
	DefaultOperation *string
	// The encoding of DirectLink's pages without _utf8: ISO-8859-1 or UTF-8.
	Charset *string
	// The post-sale request's URL ("": none) and method (POST or GET).
	PostSaleURL    *string
	PostSaleMethod *string
}

// UpdateSettings validates and saves a change of settings.
func (a *Admin) UpdateSettings(ctx context.Context, shopID string, ch SettingsChange) (shop.OgoneSettings, error) {
	og, err := a.shops.OgoneForShop(ctx, shopID)
	if err != nil {
		return shop.OgoneSettings{}, err
	}
	set := og.Settings
	if ch.FrameAncestors != nil {
		var list []string
		for _, o := range *ch.FrameAncestors {
			o = strings.TrimSpace(o)
			if o == "" {
				continue
			}
			if o == FrameAncestorsSelf {
				list = append(list, o)
				continue
			}
			if err := ValidFrameAncestor(o); err != nil {
				return shop.OgoneSettings{}, err
			}
			list = append(list, strings.TrimSuffix(o, "/"))
		}
		set.FrameAncestors = list
	}
	if ch.AliasOptIn != nil {
		set.AliasOptIn = *ch.AliasOptIn
	}
	if ch.ReturnFields != nil {
		f, err := NormalizeReturnFields(*ch.ReturnFields)
		if err != nil {
			return shop.OgoneSettings{}, err
		}
		set.ReturnFields = f
	}
	if ch.Mode != nil {
		m := strings.ToUpper(strings.TrimSpace(*ch.Mode))
		if m != shop.ModeTest && m != shop.ModeProduction {
			return shop.OgoneSettings{}, fmt.Errorf("ogone: mode must be TEST or PRODUCTION, not %q", *ch.Mode)
		}
		set.Mode = m
	}
	if ch.DefaultECI != nil {
		v := strings.TrimSpace(*ch.DefaultECI)
		if err := ValidDefaultECI(v); err != nil {
			return shop.OgoneSettings{}, err
		}
		set.DefaultECI = v
	}
	if ch.DefaultOperation != nil {
		v := strings.ToUpper(strings.TrimSpace(*ch.DefaultOperation))
		if err := ValidDefaultOperation(v); err != nil {
			return shop.OgoneSettings{}, err
		}
		set.DefaultOperation = v
	}
	if ch.Charset != nil {
		v, err := NormalizeCharset(*ch.Charset)
		if err != nil {
			return shop.OgoneSettings{}, err
		}
		set.Charset = v
	}
	if ch.PostSaleURL != nil {
		v := strings.TrimSpace(*ch.PostSaleURL)
		if v != "" {
			if err := ValidPostSaleURL(v); err != nil {
				return shop.OgoneSettings{}, err
			}
		}
		set.PostSaleURL = v
	}
	if ch.PostSaleMethod != nil {
		v := strings.ToUpper(strings.TrimSpace(*ch.PostSaleMethod))
		if v != "POST" && v != "GET" {
			return shop.OgoneSettings{}, fmt.Errorf("ogone: post-sale method must be POST or GET, not %q", *ch.PostSaleMethod)
		}
		set.PostSaleMethod = v
	}
	if err := a.shops.UpdateOgone(ctx, shopID, set, "", "", "", ""); err != nil {
		return shop.OgoneSettings{}, err
	}
	return set, nil
}

// Character encodings a PSPID's DirectLink pages without _utf8 may read
// (shop.OgoneSettings.Charset), as Ingenico's account setting offers them.
const (
	CharsetISO88591 = "ISO-8859-1"
	CharsetUTF8     = "UTF-8"
)

// NormalizeCharset checks a PSPID's character encoding and writes it as
// Ingenico names it: ISO-8859-1 or UTF-8 (case and the dash ignored).
func NormalizeCharset(v string) (string, error) {
	switch strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(v)), "-", "") {
	case "ISO88591", "LATIN1":
		return CharsetISO88591, nil
	case "UTF8":
		return CharsetUTF8, nil
	}
	return "", fmt.Errorf("ogone: the character encoding must be ISO-8859-1 or UTF-8, not %q", v)
}

// FrameAncestorsSelf, alone in a PSPID's frame-ancestors, lets no site but
// OpenPSP's own pages frame FlexCheckout (the CLI's "none").
const FrameAncestorsSelf = "'self'"

// ValidFrameAncestor checks one frame-ancestors entry: an http(s) origin,
// optionally with a leading "*." wildcard host ("https://*.shop.example").
func ValidFrameAncestor(o string) error {
	bad := fmt.Errorf("ogone: %q is not an origin such as https://shop.example", o)
	if strings.ContainsAny(o, " ;,'\"\t\n") {
		return bad
	}
	u, err := url.Parse(strings.Replace(strings.TrimSuffix(o, "/"), "://*.", "://wildcard.", 1))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return bad
	}
	return nil
}

// ErrorLog lists the error log of a shop (all shops for ""), newest first.
func (a *Admin) ErrorLog(ctx context.Context, shopID string, limit int) ([]ErrorLogEntry, error) {
	return a.store.ErrorLog(ctx, shopID, limit)
}

// CLIUsage documents RunCLI, with what each flag does.
var CLIUsage = cliUsage()

func cliUsage() string {
	var b strings.Builder
	b.WriteString(`usage:
  openpsp ogone templates list   SHOPID
  openpsp ogone templates upload SHOPID NAME FILE   (FILE "-" reads stdin)
  openpsp ogone templates show   SHOPID NAME
  openpsp ogone templates delete SHOPID NAME
  openpsp ogone settings show SHOPID
  openpsp ogone settings set  SHOPID [-frame-ancestors "https://a.example https://b.example"|none|return-urls]
                                     [-alias-opt-in true|false] [-return-fields "ALIAS.ALIASID,CARD.BRAND"|all]
                                     [-mode TEST|PRODUCTION] [-default-eci 1|2|3|4|7|9]
                                     [-default-operation RES|SAL] [-charset ISO-8859-1|UTF-8]
                                     [-postsale-url URL|none] [-postsale-method POST|GET]
  openpsp ogone errors [SHOPID] [-limit N]
`)
	for _, fs := range CLIFlags() {
		fmt.Fprintf(&b, "\nflags of openpsp ogone %s:\n", fs.Name())
		fs.SetOutput(&b)
		fs.PrintDefaults()
	}
	return b.String()
}

// CLIFlags returns the flag sets of the subcommands that take flags, for
// their help.
func CLIFlags() []*flag.FlagSet {
	set, _ := settingsSetFlags()
	errs, _ := errorsFlags()
	return []*flag.FlagSet{set, errs}
}

type settingsFlagValues struct {
	frameAncestors, aliasOptIn, returnFields, mode, defaultECI, defaultOperation, charset *string
	postSaleURL, postSaleMethod                                                           *string
}

// settingsSetFlags parses `settings set`; only the flags given change
// (fs.Visit tells which).
func settingsSetFlags() (*flag.FlagSet, settingsFlagValues) {
	fs := flag.NewFlagSet("settings set", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, settingsFlagValues{
		frameAncestors:   fs.String("frame-ancestors", "", "origins allowed to show FlexCheckout in a frame, separated by spaces or commas, instead of those of each request's return URLs; none: no other site (OpenPSP's own pages may always frame it); return-urls: the origins of each request's ACCEPTURL, EXCEPTIONURL and DECLINEURL (the default)"),
		aliasOptIn:       fs.String("alias-opt-in", "", "true: the buyer chooses on the page whether the card is saved (the Alias Manager's opt-in, over ALIAS.STOREPERMANENTLY)"),
		returnFields:     fs.String("return-fields", "", "the output fields FlexCheckout returns, comma-separated; all: every field"),
		mode:             fs.String("mode", "", "TEST or PRODUCTION: the platform of the PSPID's aliases and DirectLink orders (/ncol/test/ or /ncol/prod/)"),
		defaultECI:       fs.String("default-eci", "", "the ECI of DirectLink orders that send none: 1, 2, 3, 4, 7 or 9 (7, e-commerce, when unset)"),
		defaultOperation: fs.String("default-operation", "", "the OPERATION of DirectLink orders that send none: RES (authorisation, when unset) or SAL (sale)"),
		charset:          fs.String("charset", "", "the character encoding DirectLink's pages without _utf8 read and answer: ISO-8859-1 (when unset) or UTF-8, as the account's \"Global security parameters\""),
		postSaleURL:      fs.String("postsale-url", "", "the URL of the post-sale request (Ingenico's \"HTTP request for status changes\"): the SHA-OUT-signed status of a DirectLink order that changed after its answer; none: no request"),
		postSaleMethod:   fs.String("postsale-method", "", "the post-sale request's method: POST (when unset) or GET"),
	}
}

// errorsFlags parses `errors`.
func errorsFlags() (*flag.FlagSet, *int) {
	fs := flag.NewFlagSet("errors", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, fs.Int("limit", 50, "how many entries to list, newest first (at least 1)")
}

// badFlags names what did not parse in fs (a flag's value, an unknown
// flag, a stray word when err is nil).
func badFlags(fs *flag.FlagSet, err error) error {
	if err == nil {
		err = fmt.Errorf("unexpected arguments %q (flags start with -)", fs.Args())
	}
	return cliargs.Usage("ogone "+fs.Name(), err)
}

// errorsArgs splits the words after `errors`: an optional shop id, then
// the flags.
func errorsArgs(rest []string) (shopID string, flags []string) {
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		return rest[0], rest[1:]
	}
	return "", rest
}

// cliWords are the words each `templates` subcommand takes after it.
var cliWords = map[string]string{"list": "SHOPID", "upload": "SHOPID NAME FILE", "show": "SHOPID NAME", "delete": "SHOPID NAME"}

// CheckCLI checks the words and flags of `openpsp ogone ARGS…` (args
// without "ogone") without a database, so that a mistyped command line is
// named (errors.Is cliargs.ErrUsage) before the database is looked for.
func CheckCLI(args []string) error {
	if len(args) == 0 {
		return cliargs.Usage("ogone", errors.New("give templates, settings or errors"))
	}
	if err := cliargs.CheckUTF8("ogone", args); err != nil {
		return err
	}
	switch args[0] {
	case "templates":
		if len(args) < 3 {
			return cliargs.Usage("ogone templates", errors.New("give list, upload, show or delete and the shop id"))
		}
		words, ok := cliWords[args[1]]
		if !ok {
			return cliargs.Usage("ogone templates", fmt.Errorf("unknown command %q", args[1]))
		}
		if len(args)-2 != len(strings.Fields(words)) {
			return cliargs.Usage("ogone templates "+args[1], errors.New("give "+words))
		}
	case "settings":
		if len(args) < 3 {
			return cliargs.Usage("ogone settings", errors.New("give show or set and the shop id"))
		}
		switch args[1] {
		case "show":
			if len(args) > 3 {
				return cliargs.Usage("ogone settings show", fmt.Errorf("unexpected arguments %q", args[3:]))
			}
		case "set":
			fs, _ := settingsSetFlags()
			if err := fs.Parse(args[3:]); err != nil || fs.NArg() != 0 {
				return badFlags(fs, err)
			}
		default:
			return cliargs.Usage("ogone settings", fmt.Errorf("unknown command %q", args[1]))
		}
	case "errors":
		fs, limit := errorsFlags()
		_, rest := errorsArgs(args[1:])
		if err := fs.Parse(rest); err != nil || fs.NArg() != 0 {
			return badFlags(fs, err)
		}
		// The store reads 0 or less as its default, 100, which the
		// command line did not ask for.
		if *limit < 1 {
			return cliargs.Usage("ogone errors", fmt.Errorf("-limit must be at least 1, not %d", *limit))
		}
	default:
		return cliargs.Usage("ogone", fmt.Errorf("unknown command %q", args[0]))
	}
	return nil
}

// RunCLI runs `openpsp ogone ARGS…` (args without "ogone"), writing to out.
// A wrong command line (CheckCLI) is named, then the usage follows.
func (a *Admin) RunCLI(ctx context.Context, args []string, stdin io.Reader, out io.Writer) error {
	if err := CheckCLI(args); err != nil {
		if errors.Is(err, cliargs.ErrUsage) {
			return fmt.Errorf("%w\n\n%s", err, strings.TrimSpace(CLIUsage))
		}
		return err
	}
	// CheckCLI has checked the words: what follows reads them.
	usage := cliargs.Usage("ogone "+args[0], errors.New("unexpected command line"))
	switch args[0] {
	case "templates":
		shopID := args[2]
		switch {
		case args[1] == "list" && len(args) == 3:
			list, err := a.Templates(ctx, shopID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tBYTES\tUPDATED")
			for _, t := range list {
				fmt.Fprintf(tw, "%s\t%d\t%s\n", t.Name, len(t.HTML), t.UpdatedAt.Format("2006-01-02 15:04:05Z"))
			}
			return tw.Flush()
		case args[1] == "upload" && len(args) == 5:
			var src []byte
			var err error
			if args[4] == "-" {
				src, err = io.ReadAll(io.LimitReader(stdin, MaxTemplateSize+1))
			} else {
				src, err = readFileLimited(args[4])
			}
			if err != nil {
				return err
			}
			t, err := a.UploadTemplate(ctx, shopID, args[3], src)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "template %s stored (%d bytes after sanitising); use it with LAYOUT.TEMPLATENAME=%s\n", t.Name, len(t.HTML), t.Name)
			return err
		case args[1] == "show" && len(args) == 4:
			t, err := a.store.Template(ctx, shopID, args[3])
			if err != nil {
				return err
			}
			_, err = io.WriteString(out, t.HTML)
			return err
		case args[1] == "delete" && len(args) == 4:
			if err := a.DeleteTemplate(ctx, shopID, args[3]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(out, "template %s deleted\n", args[3])
			return err
		}
		return usage
	case "settings":
		shopID := args[2]
		switch args[1] {
		case "show":
		case "set":
			fs, f := settingsSetFlags()
			fa, optIn, rf, mode, eci, op, cs := f.frameAncestors, f.aliasOptIn, f.returnFields, f.mode, f.defaultECI, f.defaultOperation, f.charset
			if err := fs.Parse(args[3:]); err != nil || fs.NArg() != 0 {
				return badFlags(fs, err)
			}
			given := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
			var ch SettingsChange
			if given["frame-ancestors"] {
				list := strings.Fields(strings.ReplaceAll(*fa, ",", " "))
				switch *fa {
				case "none":
					list = []string{FrameAncestorsSelf}
				case "return-urls":
					list = []string{}
				}
				ch.FrameAncestors = &list
			}
			if *optIn != "" {
				b, err := strconv.ParseBool(*optIn)
				if err != nil {
					return fmt.Errorf("-alias-opt-in must be true or false")
				}
				ch.AliasOptIn = &b
			}
			if given["return-fields"] {
				list := strings.FieldsFunc(*rf, func(r rune) bool { return r == ',' || r == ' ' })
				if *rf == "all" {
					list = nil
				}
				ch.ReturnFields = &list
			}
			if *mode != "" {
				ch.Mode = mode
			}
			if *eci != "" {
				ch.DefaultECI = eci
			}
			if *op != "" {
				ch.DefaultOperation = op
			}
			if *cs != "" {
				ch.Charset = cs
			}
			if given["postsale-url"] {
				v := *f.postSaleURL
				if v == "none" {
					v = ""
				}
				ch.PostSaleURL = &v
			}
			if *f.postSaleMethod != "" {
				ch.PostSaleMethod = f.postSaleMethod
			}
			if _, err := a.UpdateSettings(ctx, shopID, ch); err != nil {
				return err
			}
		default:
			return usage
		}
		s, err := a.Settings(ctx, shopID)
		if err != nil {
			return err
		}
		return printSettings(out, s)
	case "errors":
		fs, limit := errorsFlags()
		shopID, rest := errorsArgs(args[1:])
		if err := fs.Parse(rest); err != nil || fs.NArg() != 0 {
			return badFlags(fs, err)
		}
		list, err := a.ErrorLog(ctx, shopID, *limit)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tSHOP\tSOURCE\tCODE\tMESSAGE\tDETAILS")
		for _, e := range list {
			var d []string
			for k, v := range e.Details {
				d = append(d, k+"="+v)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.CreatedAt.Format("2006-01-02 15:04:05Z"), e.ShopID, e.Source, e.Code, e.Message, strings.Join(sorted(d), " "))
		}
		return tw.Flush()
	}
	return usage
}

func printSettings(out io.Writer, s shop.OgoneSettings) error {
	for _, f := range SettingsFields(s) {
		if _, err := fmt.Fprintf(out, "%s: %s\n", f[0], f[1]); err != nil {
			return err
		}
	}
	return nil
}

// SettingsFields are a PSPID's settings as `ogone settings show` lists
// them: each name (as `ogone settings set` takes it, without its dash)
// and its value, defaults applied.
func SettingsFields(s shop.OgoneSettings) [][2]string {
	mode := s.Mode
	if mode == "" {
		mode = shop.ModeTest
	}
	fa := strings.Join(s.FrameAncestors, " ")
	switch fa {
	case "":
		fa = "return-urls (the origins of each request's ACCEPTURL, EXCEPTIONURL and DECLINEURL, and OpenPSP's own pages, may frame FlexCheckout)"
	case FrameAncestorsSelf:
		fa = "none (only OpenPSP's own pages may frame FlexCheckout)"
	}
	rf := strings.Join(s.ReturnFields, ",")
	if rf == "" {
		rf = "all"
	}
	eci := s.DefaultECI
	if eci == "" {
		eci = DefaultECI
	}
	op := s.DefaultOperation
	if op == "" {
		op = "RES"
	}
	cs := s.Charset
	if cs == "" {
		cs = CharsetISO88591
	}
	ps := s.PostSaleURL
	if ps == "" {
		ps = "none (no post-sale request)"
	}
	pm := s.PostSaleMethod
	if pm == "" {
		pm = "POST"
	}
	return [][2]string{{"mode", mode}, {"frame-ancestors", fa}, {"alias-opt-in", strconv.FormatBool(s.AliasOptIn)},
		{"return-fields", rf}, {"default-eci", eci}, {"default-operation", op}, {"charset", cs},
		{"postsale-url", ps}, {"postsale-method", pm}}
}

func readFileLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxTemplateSize+1))
}

func sorted(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
