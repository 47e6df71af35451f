package config

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clientip"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.SQLiteSync != "FULL" || !c.Demo || c.Env != EnvDevelopment {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.PublicURL != "http://127.0.0.1:8080" {
		t.Fatalf("public URL = %q", c.PublicURL)
	}
}

func TestFlagsOverrideEnv(t *testing.T) {
	c, err := Load([]string{"-addr", "127.0.0.1:9999"}, env(map[string]string{"OPENPSP_ADDR": "127.0.0.1:7000"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" {
		t.Fatalf("addr = %q", c.Addr)
	}
}

func TestProductionRefusesUnsafeSetups(t *testing.T) {
	_, err := Load(nil, env(map[string]string{"OPENPSP_ENV": "production", "OPENPSP_KEYRING_FILE": "/nonexistent/keyring.json"}))
	if err == nil {
		t.Fatal("production without master keys must refuse to start")
	}
	for _, want := range []string{"OPENPSP_MASTER_KEYS", "https://"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say how to fix %s: %v", want, err)
		}
	}
	_, err = Load(nil, env(map[string]string{"OPENPSP_ENV": "production", "OPENPSP_MASTER_KEYS": "k1:AAAA", "OPENPSP_PUBLIC_URL": "https://pay.example.com", "OPENPSP_DEMO": "true"}))
	if err == nil || !strings.Contains(err.Error(), "OPENPSP_DEMO") {
		t.Fatalf("demo in production must be refused, got %v", err)
	}
	if _, err := Load(nil, env(map[string]string{"OPENPSP_ENV": "production", "OPENPSP_MASTER_KEYS": "k1:AAAA", "OPENPSP_PUBLIC_URL": "https://pay.example.com"})); err != nil {
		t.Fatalf("a safe production setup was refused: %v", err)
	}
	// URL schemes are case-insensitive: HTTP:// is plain HTTP too.
	_, err = Load(nil, env(map[string]string{"OPENPSP_ENV": "production", "OPENPSP_MASTER_KEYS": "k1:AAAA", "OPENPSP_PUBLIC_URL": "HTTP://pay.example.com"}))
	if err == nil || !strings.Contains(err.Error(), "https://") {
		t.Fatalf("a plain-HTTP public URL in capitals must be refused in production, got %v", err)
	}
	if _, err := Load(nil, env(map[string]string{"OPENPSP_ENV": "production", "OPENPSP_MASTER_KEYS": "k1:AAAA", "OPENPSP_PUBLIC_URL": "HTTPS://pay.example.com"})); err != nil {
		t.Fatalf("an https public URL in capitals was refused: %v", err)
	}
}

func TestInvalidValuesAreNamed(t *testing.T) {
	cases := map[string]map[string]string{
		"OPENPSP_SQLITE_SYNCHRONOUS": {"OPENPSP_SQLITE_SYNCHRONOUS": "NORMAL"},
		"OPENPSP_ADDR":               {"OPENPSP_ADDR": "nope"},
		"OPENPSP_JOBS":               {"OPENPSP_JOBS": "maybe"},
		"OPENPSP_DATABASE_URL":       {"OPENPSP_DATABASE_URL": "mysql://x"},
		"OPENPSP_ACQUIRER_TIMEOUT":   {"OPENPSP_ACQUIRER_TIMEOUT": "-1s"},
		"OPENPSP_SHUTDOWN_DRAIN":     {"OPENPSP_SHUTDOWN_DRAIN": "-1s"},
		// Refused by the SMS and email adapters only, once the database
		// was made.
		"OPENPSP_SMS_URL":   {"OPENPSP_SMS_URL": "gateway.example/send"},
		"OPENPSP_MAIL_FROM": {"OPENPSP_MAIL_FROM": "not an address"},
	}
	for name, e := range cases {
		_, err := Load(nil, env(e))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v does not name the setting", name, err)
		}
	}
}

// The drain delay is 0 in development (tests and Ctrl-C stop at once) and
// a few seconds in production; 0 turns it off there too.
func TestShutdownDrainDefaults(t *testing.T) {
	prod := map[string]string{"OPENPSP_ENV": "production", "OPENPSP_MASTER_KEYS": "k1:AAAA", "OPENPSP_PUBLIC_URL": "https://pay.example.com"}
	for _, c := range []struct {
		env  map[string]string
		want time.Duration
	}{
		{nil, 0},
		{map[string]string{"OPENPSP_SHUTDOWN_DRAIN": "2s"}, 2 * time.Second},
		{prod, 5 * time.Second},
		{merge(prod, map[string]string{"OPENPSP_SHUTDOWN_DRAIN": "0"}), 0},
		{merge(prod, map[string]string{"OPENPSP_SHUTDOWN_DRAIN": "15s"}), 15 * time.Second},
	} {
		cfg, err := Load(nil, env(c.env))
		if err != nil {
			t.Fatalf("%v: %v", c.env, err)
		}
		if cfg.ShutdownDrain != c.want {
			t.Errorf("%v: drain %s, want %s", c.env, cfg.ShutdownDrain, c.want)
		}
	}
}

func merge(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// OPENPSP_TRUSTED_PROXIES is empty by default (X-Forwarded-For ignored);
// a mistyped range refuses to start, naming the setting and the entry.
func TestTrustedProxies(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil || len(c.TrustedProxies) != 0 {
		t.Fatalf("default trusted proxies %v, %v", c.TrustedProxies, err)
	}
	c, err = Load([]string{"-trusted-proxies", "10.0.0.0/8, 192.0.2.1"}, env(nil))
	if err != nil || len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.0.2.1/32" {
		t.Fatalf("trusted proxies %v, %v", c.TrustedProxies, err)
	}
	for _, bad := range []string{"10.0.0/8", "0.0.0.0/0"} {
		_, err := Load(nil, env(map[string]string{"OPENPSP_TRUSTED_PROXIES": "10.0.0.0/8," + bad}))
		if err == nil || !strings.Contains(err.Error(), "OPENPSP_TRUSTED_PROXIES") || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// OPENPSP_FORWARDED_HEADER names the one header the trusted proxies write:
// X-Forwarded-For by default, or RFC 7239 Forwarded; another value refuses
// to start, naming the setting and the value.
func TestForwardedHeader(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil || c.ForwardedHeader != clientip.XForwardedFor {
		t.Fatalf("default forwarded header %v, %v", c.ForwardedHeader, err)
	}
	c, err = Load([]string{"-forwarded-header", "Forwarded"}, env(nil))
	if err != nil || c.ForwardedHeader != clientip.Forwarded {
		t.Fatalf("-forwarded-header Forwarded: %v, %v", c.ForwardedHeader, err)
	}
	_, err = Load(nil, env(map[string]string{"OPENPSP_FORWARDED_HEADER": "x-real-ip"}))
	if err == nil || !strings.Contains(err.Error(), "OPENPSP_FORWARDED_HEADER") || !strings.Contains(err.Error(), "x-real-ip") {
		t.Errorf("x-real-ip: %v", err)
	}
}

// `openpsp serve -help` gives each flag's default, as the README's table
// does: an operator on a server has the binary, not the README.
func TestHelpGivesDefaults(t *testing.T) {
	var out strings.Builder
	usageOutput = &out
	t.Cleanup(func() { usageOutput = nil })
	if _, err := Load([]string{"-help"}, env(nil)); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-help: %v", err)
	}
	help := out.String()
	for _, v := range Vars {
		if !strings.Contains(help, "-"+v.Flag+" ") {
			t.Errorf("-help lacks -%s:\n%s", v.Flag, help)
		}
		// The flag package names a flag's value after the first
		// back-quoted word of its usage: a README backtick in the
		// help showed "-notification-retention-months openpsp
		// notifications retry" as if that were what to give.
		if !strings.Contains(help, "  -"+v.Flag+" value\n") {
			t.Errorf("-help names the value of -%s after a word of its help:\n%s", v.Flag, help)
		}
		if v.Default != "" && !strings.Contains(help, "(env "+v.Env+", default "+v.Default+")") {
			t.Errorf("-help does not give the default of -%s (%s)", v.Flag, v.Default)
		}
	}
}

// OPENPSP_METRICS_TOKEN and -metrics-token set the bearer token /metrics
// asks for; unset, there is none (metrics open, as before).
func TestMetricsToken(t *testing.T) {
	env := func(k string) string {
		if k == "OPENPSP_METRICS_TOKEN" {
			return " from-env "
		}
		return ""
	}
	if c, err := Load(nil, env); err != nil || c.MetricsToken != "from-env" {
		t.Fatalf("from the environment: %q, %v", c.MetricsToken, err)
	}
	if c, err := Load([]string{"-metrics-token", "from-flag"}, env); err != nil || c.MetricsToken != "from-flag" {
		t.Fatalf("from the flag: %q, %v", c.MetricsToken, err)
	}
	if c, err := Load(nil, func(string) string { return "" }); err != nil || c.MetricsToken != "" {
		t.Fatalf("unset: %q, %v", c.MetricsToken, err)
	}
}

// Ended notifications are kept 13 months by default; 0 or off keeps them
// all, and anything but a whole number of months refuses to start, naming
// the setting.
func TestNotificationRetention(t *testing.T) {
	for _, c := range []struct {
		env, flag string
		want      int
	}{
		{"", "", 13},
		{"6", "", 6},
		{" 24 ", "", 24},
		{"0", "", 0},
		{"off", "", 0},
		{"OFF", "", 0},
		{"6", "1", 1},
	} {
		var args []string
		if c.flag != "" {
			args = []string{"-notification-retention-months", c.flag}
		}
		cfg, err := Load(args, env(map[string]string{"OPENPSP_NOTIFICATION_RETENTION_MONTHS": c.env}))
		if err != nil || cfg.NotificationRetentionMonths != c.want {
			t.Errorf("%q (flag %q): %d months, %v; want %d", c.env, c.flag, cfg.NotificationRetentionMonths, err, c.want)
		}
	}
	for _, bad := range []string{"-1", "13m", "1.5", "forever", "390d"} {
		_, err := Load(nil, env(map[string]string{"OPENPSP_NOTIFICATION_RETENTION_MONTHS": bad}))
		if err == nil || !strings.Contains(err.Error(), "OPENPSP_NOTIFICATION_RETENTION_MONTHS") {
			t.Errorf("%q: error %v does not name the setting", bad, err)
		}
	}
}
