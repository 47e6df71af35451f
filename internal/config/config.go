// Package config is OpenPSP's typed configuration: defaults, environment
// variables and flags, and the checks that refuse an unsafe setup before the
// server starts.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/clientip"
	"github.com/openpsp/openpsp/internal/contact"
)

// Environments.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// DefaultNotificationRetentionMonths is how long an ended notification
// (delivered, or dead after its retries) is kept, with its delivery log:
// 13 months, a year of history and a month to spare. That covers what the
// history is for: re-driving a dead IPN once the merchant's server is fixed
// (days), answering "was the IPN of this order sent?" during the card
// schemes' dispute window (120 days) and a merchant's yearly reconciliation.
// Its payload holds the buyer's email address, name or phone number, which
// the payment itself keeps for the merchant's records: the copy in the
// outbox goes before the vault's 15-month purge, not after.
const DefaultNotificationRetentionMonths = 13

// Config is everything the server needs to start.
type Config struct {
	Env             string         // development (default) or production
	Addr            string         // listen address
	PublicURL       string         // how buyers and merchants reach this server (links, JS client, return pages)
	DataDir         string         // SQLite file, keyring file (development)
	DatabaseURL     string         // postgres://…; empty: SQLite in DataDir
	SQLiteSync      string         // FULL (default) or EXTRA; NORMAL only with AllowUnsafeSync
	AllowUnsafeSync bool           // accept synchronous=NORMAL (benchmarks only: acknowledged payments may be lost on power failure)
	MasterKeys      string         // "kid:base64,kid:base64" (last = primary); overrides the keyring file
	KeyringFile     string         // JSON keyring; default DataDir/keyring.json
	Demo            bool           // seed the demo shop and serve /demo (TEST mode pages)
	LogFormat       string         // text or json
	LogLevel        string         // debug, info, warn, error
	AccessLog       bool           // one log line per HTTP request (at info; the probes at debug)
	Jobs            bool           // run background jobs (capture, expiry, recovery, notifications, purge) in this process
	AcquirerTimeout time.Duration  // deadline of one acquirer call
	ShutdownTimeout time.Duration  // grace period for in-flight requests, deliveries and job runs on SIGTERM
	ShutdownDrain   time.Duration  // on SIGTERM, how long /readyz says "draining" while requests are still served
	SMTPURL         string         // smtp://user:pass@host:587 (STARTTLS) or smtps://…:465; empty: mails kept for /demo/mail
	MailFrom        string         // sender address of emails
	SMSURL          string         // SMS gateway endpoint; empty: SMS kept for /demo/mail
	SMSFormat       string         // json or form
	SMSToken        string         // bearer token for the SMS gateway
	TrustedProxies  []netip.Prefix // reverse proxies whose X-Forwarded-For names the client; none by default
	MetricsToken    string         // bearer token /metrics asks for; empty: /metrics is open
	// ForwardedHeader is the header the trusted proxies write the
	// client's address in: X-Forwarded-For (default) or RFC 7239
	// Forwarded; the other is never read.
	ForwardedHeader clientip.Header
	// NotificationRetentionMonths is how many calendar months an ended
	// notification (delivered or dead) is kept after it ended; 0 keeps all.
	NotificationRetentionMonths int

	keyringDefault bool // KeyringFile is the default, OPENPSP_KEYRING_FILE was not given
}

// Var documents one setting for the README table and -help.
type Var struct {
	Env, Flag, Default, Help string
}

// Vars lists every setting: one source for flags, env and documentation.
var Vars = []Var{
	{"OPENPSP_ENV", "env", EnvDevelopment, "development or production; production refuses auto-generated keys, the demo shop and plain-HTTP public URLs"},
	{"OPENPSP_ADDR", "addr", "127.0.0.1:8080", "address the HTTP server listens on"},
	{"OPENPSP_PUBLIC_URL", "public-url", "http://{addr}", "external base URL of this server (payment pages, JS client, links in emails)"},
	{"OPENPSP_DATA_DIR", "data-dir", "./data", "folder for the SQLite database and the development keyring"},
	{"OPENPSP_DATABASE_URL", "database-url", "", "postgres://user:pass@host:5432/db to use PostgreSQL (shared by any number of openpsp copies); empty: SQLite"},
	{"OPENPSP_SQLITE_SYNCHRONOUS", "sqlite-synchronous", "FULL", "SQLite synchronous pragma: FULL or EXTRA (NORMAL needs OPENPSP_ALLOW_UNSAFE_SYNC=true)"},
	{"OPENPSP_ALLOW_UNSAFE_SYNC", "allow-unsafe-sync", "false", "allow synchronous=NORMAL (acknowledged payments may be lost on power failure; never in production)"},
	{"OPENPSP_MASTER_KEYS", "master-keys", "", "master keys \"kid:base64,kid:base64\" (last is primary); required in production unless OPENPSP_KEYRING_FILE names an existing keyring"},
	{"OPENPSP_KEYRING_FILE", "keyring-file", "{data-dir}/keyring.json", "JSON keyring of master keys and the fingerprint key (created in development)"},
	{"OPENPSP_DEMO", "demo", "true (false in production)", "seed the demo shop 69876357 and serve the TEST-mode demo pages (/demo, /demo/mail)"},
	{"OPENPSP_LOG_FORMAT", "log-format", "text", "text or json"},
	{"OPENPSP_LOG_LEVEL", "log-level", "info", "debug, info, warn or error"},
	{"OPENPSP_ACCESS_LOG", "access-log", "on", "on: one log line per HTTP request at info (method, path without the query string, status, duration, bytes, request id, client address; /healthz, /readyz and /metrics at debug only); off: none"},
	{"OPENPSP_JOBS", "jobs", "true", "run background jobs (captures, expiries, recovery, notifications, retention) in this process"},
	{"OPENPSP_ACQUIRER_TIMEOUT", "acquirer-timeout", "10s", "deadline of one call to the acquirer"},
	{"OPENPSP_SHUTDOWN_TIMEOUT", "shutdown-timeout", "20s", "after SIGTERM and the drain, how long in-flight requests, notification deliveries and background job runs may finish; what is still running then is cut (an undelivered notification is retried)"},
	{"OPENPSP_SHUTDOWN_DRAIN", "shutdown-drain", "5s (0 in development)", "after SIGTERM, how long /readyz answers 503 \"draining\" while requests are still served (so that load balancers stop sending new ones) before the listener closes"},
	{"OPENPSP_SMTP_URL", "smtp-url", "", "smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465; empty: emails are kept and shown at /demo/mail"},
	{"OPENPSP_MAIL_FROM", "mail-from", "OpenPSP <no-reply@openpsp.localhost>", "sender of emails"},
	{"OPENPSP_SMS_URL", "sms-url", "", "SMS gateway endpoint (generic HTTP POST); empty: SMS are kept and shown at /demo/mail"},
	{"OPENPSP_SMS_FORMAT", "sms-format", "json", "json or form body for the SMS gateway"},
	{"OPENPSP_SMS_TOKEN", "sms-token", "", "bearer token sent to the SMS gateway"},
	{"OPENPSP_METRICS_TOKEN", "metrics-token", "", "bearer token that GET /metrics asks for (header 'Authorization: Bearer' and the token; 401 otherwise); empty: /metrics is open to anyone who reaches the listener, so set it in production unless /metrics is only reachable from a private network (/healthz and /readyz stay open)"},
	{"OPENPSP_NOTIFICATION_RETENTION_MONTHS", "notification-retention-months", strconv.Itoa(DefaultNotificationRetentionMonths), "calendar months a delivered or dead notification (IPN, webhook, email, SMS: their payloads hold buyers' email addresses, names and phone numbers) is kept after it ended, with its delivery log, before the retention job deletes it (at most 1200); 0 or off keeps them all. Pending and failing ones are never deleted; `openpsp notifications retry` re-drives or resends a message only while it is kept"},
	{"OPENPSP_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated CIDRs of the reverse proxies in front of OpenPSP (e.g. 10.0.0.0/8); only from these is X-Forwarded-For (or Forwarded, OPENPSP_FORWARDED_HEADER) read, right to left, to find the client's address (failed-login logs, the buyer's customer.extraDetails.ipAddress); empty: the connection's address is the client's"},
	{"OPENPSP_FORWARDED_HEADER", "forwarded-header", "x-forwarded-for", "the header the trusted proxies write the client's address in: x-forwarded-for, or forwarded (RFC 7239 `for=` nodes: quoted, IPv6 in brackets, ports; an obfuscated or unknown node stops the walk); only that one is read, the other is the client's to write"},
}

// Load reads the environment (through getenv) and then flags from args, the
// flags of `openpsp serve`. Flags win over the environment.
func Load(args []string, getenv func(string) string) (Config, error) {
	return LoadCommand("openpsp serve", args, getenv)
}

// LoadCommand is Load for a command that takes the server's flags under its
// own name (`openpsp migrate`): its -help says "Usage of " + name.
func LoadCommand(name string, args []string, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	raw := map[string]string{}
	for _, v := range Vars {
		raw[v.Flag] = getenv(v.Env)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if usageOutput != nil {
		fs.SetOutput(usageOutput)
	} else {
		fs.SetOutput(os.Stderr) // read now: a caller may have replaced os.Stderr
	}
	for _, v := range Vars {
		v := v
		fs.Func(v.Flag, flagUsage(v), func(s string) error { raw[v.Flag] = s; return nil })
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, argsError{err}
	}
	if fs.NArg() > 0 {
		return Config{}, argsError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	return fromRaw(raw)
}

// ErrArgs marks an error of LoadCommand in the command line itself (an
// unknown flag, a flag without its value, a stray word), not in the
// configuration's values: the command exits as for a usage error.
var ErrArgs = errors.New("wrong command line")

type argsError struct{ error }

func (e argsError) Unwrap() error        { return e.error }
func (e argsError) Is(target error) bool { return target == ErrArgs }

// usageOutput is where -help prints the flags when set (tests); nil is the
// process's os.Stderr at the time of the call.
var usageOutput io.Writer

// flagUsage is a flag's line in -help: its meaning, its variable and its
// default (flag.Func prints none of its own, and the operator reading -help
// has no README at hand).
func flagUsage(v Var) string {
	// The README's backticks out: the flag package would name the flag's
	// value after the first back-quoted word.
	help := strings.ReplaceAll(v.Help, "`", "")
	if v.Default == "" {
		return help + " (env " + v.Env + ")"
	}
	return help + " (env " + v.Env + ", default " + v.Default + ")"
}

func fromRaw(raw map[string]string) (Config, error) {
	var problems []string
	str := func(k, def string) string {
		if s := strings.TrimSpace(raw[k]); s != "" {
			return s
		}
		return def
	}
	boolean := func(k string, def bool) bool {
		s := strings.TrimSpace(raw[k])
		if s == "" {
			return def
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s must be true or false, not %q", envName(k), s))
			return def
		}
		return b
	}
	duration := func(k string, def time.Duration) time.Duration {
		s := strings.TrimSpace(raw[k])
		if s == "" {
			return def
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("%s must be a positive duration like 10s, not %q", envName(k), s))
			return def
		}
		return d
	}
	// zeroOK is duration for a setting where 0 means "none".
	zeroOK := func(k string, def time.Duration) time.Duration {
		s := strings.TrimSpace(raw[k])
		if s == "" {
			return def
		}
		d, err := time.ParseDuration(s)
		if s == "0" {
			d, err = 0, nil
		}
		if err != nil || d < 0 {
			problems = append(problems, fmt.Sprintf("%s must be a duration like 5s, or 0, not %q", envName(k), s))
			return def
		}
		return d
	}
	c := Config{
		Env:             strings.ToLower(str("env", EnvDevelopment)),
		Addr:            str("addr", "127.0.0.1:8080"),
		PublicURL:       str("public-url", ""),
		DataDir:         str("data-dir", "./data"),
		DatabaseURL:     str("database-url", ""),
		SQLiteSync:      strings.ToUpper(str("sqlite-synchronous", "FULL")),
		AllowUnsafeSync: boolean("allow-unsafe-sync", false),
		MasterKeys:      str("master-keys", ""),
		KeyringFile:     str("keyring-file", ""),
		LogFormat:       strings.ToLower(str("log-format", "text")),
		LogLevel:        strings.ToLower(str("log-level", "info")),
		Jobs:            boolean("jobs", true),
		AcquirerTimeout: duration("acquirer-timeout", 10*time.Second),
		ShutdownTimeout: duration("shutdown-timeout", 20*time.Second),
		SMTPURL:         str("smtp-url", ""),
		MailFrom:        str("mail-from", "OpenPSP <no-reply@openpsp.localhost>"),
		SMSURL:          str("sms-url", ""),
		SMSFormat:       strings.ToLower(str("sms-format", "json")),
		SMSToken:        str("sms-token", ""),
		MetricsToken:    str("metrics-token", ""),
	}
	c.Demo = boolean("demo", c.Env != EnvProduction)
	switch s := strings.TrimSpace(raw["access-log"]); strings.ToLower(s) {
	case "", "on", "true":
		c.AccessLog = true
	case "off", "false":
	default:
		problems = append(problems, fmt.Sprintf("OPENPSP_ACCESS_LOG must be on or off, not %q", s))
	}
	c.NotificationRetentionMonths = DefaultNotificationRetentionMonths
	if s := strings.TrimSpace(raw["notification-retention-months"]); s != "" {
		if n, err := ParseRetentionMonths(s); err != nil {
			problems = append(problems, fmt.Sprintf("OPENPSP_NOTIFICATION_RETENTION_MONTHS must be %v, not %q", err, s))
		} else {
			c.NotificationRetentionMonths = n
		}
	}
	if tp, err := clientip.ParseTrusted(raw["trusted-proxies"]); err != nil {
		problems = append(problems, "OPENPSP_TRUSTED_PROXIES: "+err.Error())
	} else {
		c.TrustedProxies = tp
	}
	if h, err := clientip.ParseHeader(raw["forwarded-header"]); err != nil {
		problems = append(problems, "OPENPSP_FORWARDED_HEADER: "+err.Error())
	} else {
		c.ForwardedHeader = h
	}
	// Development stops at once (tests, Ctrl-C); production gives the load
	// balancer's health checks time to see /readyz fail.
	drain := time.Duration(0)
	if c.Env == EnvProduction {
		drain = 5 * time.Second
	}
	c.ShutdownDrain = zeroOK("shutdown-drain", drain)
	if c.KeyringFile == "" {
		c.KeyringFile = filepath.Join(c.DataDir, "keyring.json")
		c.keyringDefault = true
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if len(problems) > 0 {
		return c, errors.New(strings.Join(problems, "; "))
	}
	return c, c.Validate()
}

func envName(flagName string) string {
	for _, v := range Vars {
		if v.Flag == flagName {
			return v.Env
		}
	}
	return flagName
}

// Validate refuses configurations that are invalid or unsafe, saying what to fix.
func (c Config) Validate() error {
	var p []string
	if c.Env != EnvDevelopment && c.Env != EnvProduction {
		p = append(p, fmt.Sprintf("OPENPSP_ENV must be development or production, not %q", c.Env))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		p = append(p, fmt.Sprintf("OPENPSP_ADDR %q is not host:port (%v)", c.Addr, err))
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p = append(p, fmt.Sprintf("OPENPSP_PUBLIC_URL %q must be an absolute http(s) URL", c.PublicURL))
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			p = append(p, "OPENPSP_DATABASE_URL must be a postgres:// URL")
		}
	} else if c.DataDir == "" {
		p = append(p, "OPENPSP_DATA_DIR must not be empty when SQLite is used")
	}
	switch c.SQLiteSync {
	case "FULL", "EXTRA":
	case "NORMAL":
		if !c.AllowUnsafeSync {
			p = append(p, "OPENPSP_SQLITE_SYNCHRONOUS=NORMAL can lose acknowledged payments on power failure; set OPENPSP_ALLOW_UNSAFE_SYNC=true to accept that (never in production)")
		}
	default:
		p = append(p, fmt.Sprintf("OPENPSP_SQLITE_SYNCHRONOUS must be FULL or EXTRA, not %q", c.SQLiteSync))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p = append(p, fmt.Sprintf("OPENPSP_LOG_FORMAT must be text or json, not %q", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("OPENPSP_LOG_LEVEL must be debug, info, warn or error, not %q", c.LogLevel))
	}
	if c.SMSFormat != "json" && c.SMSFormat != "form" {
		p = append(p, fmt.Sprintf("OPENPSP_SMS_FORMAT must be json or form, not %q", c.SMSFormat))
	}
	// The email and SMS adapters refuse the same values, but only once the
	// database and the keyring exist. The SMS URL is not repeated: it may
	// hold a password.
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		p = append(p, fmt.Sprintf("OPENPSP_MAIL_FROM must be an email address such as %q or no-reply@shop.example, not %q", "Shop <no-reply@shop.example>", c.MailFrom))
	}
	if c.SMSURL != "" && !contact.ValidSMSGateway(c.SMSURL) {
		p = append(p, "OPENPSP_SMS_URL must be an http(s) URL with a host, such as https://sms.example/send")
	}
	if c.SMTPURL != "" {
		if u, err := url.Parse(c.SMTPURL); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
			p = append(p, "OPENPSP_SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")
		}
	}
	if c.Env == EnvProduction {
		if c.MasterKeys == "" {
			if _, err := os.Stat(c.KeyringFile); err != nil {
				p = append(p, "production needs master keys: set OPENPSP_MASTER_KEYS (generate one with `openpsp keys generate`) or point OPENPSP_KEYRING_FILE at an existing keyring; OpenPSP will not invent keys in production")
			} else if c.keyringDefault {
				// {data-dir}/keyring.json is where development runs
				// generate theirs (older ones carry no mark of it).
				p = append(p, fmt.Sprintf("production needs master keys: set OPENPSP_MASTER_KEYS (generate one with `openpsp keys generate`) or point OPENPSP_KEYRING_FILE at a keyring made for production; %s is where development runs generate their keyring, and production uses it only when OPENPSP_KEYRING_FILE names it", c.KeyringFile))
			}
		}
		if c.Demo {
			p = append(p, "OPENPSP_DEMO=true is not allowed in production: the demo shop's keys are public")
		}
		if c.AllowUnsafeSync || c.SQLiteSync == "NORMAL" {
			p = append(p, "production requires durable commits: remove OPENPSP_ALLOW_UNSAFE_SYNC and use OPENPSP_SQLITE_SYNCHRONOUS=FULL")
		}
		// url.Parse lowers the scheme: HTTP://… is plain HTTP too.
		if u, err := url.Parse(c.PublicURL); err == nil && u.Scheme == "http" {
			p = append(p, "production needs an https:// OPENPSP_PUBLIC_URL (card data must not cross plain HTTP)")
		}
	}
	if len(p) > 0 {
		return errors.New("invalid configuration:\n  - " + strings.Join(p, "\n  - "))
	}
	return nil
}

// MaxRetentionMonths bounds a notification retention: a century is longer
// than any legal retention, and beyond a few billion months the calendar
// arithmetic of the cutoff (vault.Months.Before) overflows into a date in
// the future, which would delete every ended notification.
const MaxRetentionMonths = 1200

// ParseRetentionMonths reads a notification retention in months, as
// OPENPSP_NOTIFICATION_RETENTION_MONTHS and `openpsp purge
// -notification-months` take it: a whole number up to MaxRetentionMonths,
// 0 or "off" keeping every notification. Its error says what to give.
func ParseRetentionMonths(s string) (int, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > MaxRetentionMonths {
		return 0, fmt.Errorf("a whole number of months like 13 (at most %d), or 0 or off to keep every notification", MaxRetentionMonths)
	}
	return n, nil
}
