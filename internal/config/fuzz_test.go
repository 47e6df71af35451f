package config

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/vault"
)

// FuzzRetentionMonths reads any OPENPSP_NOTIFICATION_RETENTION_MONTHS (and
// `openpsp purge -notification-months`) value. An accepted number must mean
// what the operator asked for: the retention job deletes the notifications
// that ended before vault.Months(n).Before(now) (app.NotificationCutoff), so
// that cutoff must lie in the past, earlier for more months; a cutoff in the
// future would delete every ended notification. Its decimal spelling must
// read back the same; a refusal names the setting through Load.
func FuzzRetentionMonths(f *testing.F) {
	for _, s := range []string{"13", "0", "off", " OFF ", "-1", "1200", "1201", "99999", "1.5", "+13", "013", "9223372036854775807", "1e3", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseRetentionMonths(s)
		_, loadErr := Load(nil, env(map[string]string{"OPENPSP_NOTIFICATION_RETENTION_MONTHS": s}))
		if err != nil {
			if strings.TrimSpace(s) != "" && (loadErr == nil || !strings.Contains(loadErr.Error(), "OPENPSP_NOTIFICATION_RETENTION_MONTHS")) {
				t.Fatalf("%q refused by the parser but Load says %v", s, loadErr)
			}
			return
		}
		if loadErr != nil {
			t.Fatalf("%q accepted (%d) but Load refuses it: %v", s, n, loadErr)
		}
		if n < 0 || n > MaxRetentionMonths {
			t.Fatalf("%q accepted as %d months", s, n)
		}
		if back, err := ParseRetentionMonths(strconv.Itoa(n)); err != nil || back != n {
			t.Fatalf("%q: %d reads back as %d, %v", s, n, back, err)
		}
		if n == 0 {
			return
		}
		cut := vault.Months(n).Before(now)
		if !cut.Before(now) {
			t.Fatalf("%q: %d months before %v is %v, not in the past: every ended notification would be deleted", s, n, now, cut)
		}
		if prev := vault.Months(n - 1).Before(now); n > 1 && cut.After(prev) {
			t.Fatalf("%q: %d months before is %v, after %d months before (%v)", s, n, cut, n-1, prev)
		}
	})
}

// FuzzLoadEnv sets any value on each environment variable OpenPSP reads:
// Load either refuses it with an error that names an OPENPSP_ setting (what
// to fix), or returns a configuration that passes its own Validate, whose
// public URL has no trailing slash (URLs are built by appending "/path").
func FuzzLoadEnv(f *testing.F) {
	for i, v := range Vars {
		for _, s := range []string{"", " ", "0", "true", "x", "10s", "-1s", "production", "https://psp.example/", "postgres://u@h/db", "::1:80", "\x00", "1e99h"} {
			f.Add(uint8(i), s, uint8(0), "")
		}
		f.Add(uint8(i), v.Default, uint8(0), "production")
	}
	f.Fuzz(func(t *testing.T, which uint8, value string, which2 uint8, value2 string) {
		vars := map[string]string{Vars[int(which)%len(Vars)].Env: value}
		if k := Vars[int(which2)%len(Vars)].Env; vars[k] == "" {
			vars[k] = value2
		}
		c, err := Load(nil, env(vars))
		if err != nil {
			if !strings.Contains(err.Error(), "OPENPSP_") {
				t.Fatalf("%q: error %q names no setting", vars, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%q: Load accepted a configuration Validate refuses: %v", vars, err)
		}
		if strings.HasSuffix(c.PublicURL, "/") {
			t.Fatalf("%q: public URL %q ends with a slash", vars, c.PublicURL)
		}
		for _, d := range []time.Duration{c.AcquirerTimeout, c.ShutdownTimeout} {
			if d <= 0 {
				t.Fatalf("%q: timeout %v", vars, d)
			}
		}
		if c.ShutdownDrain < 0 || c.NotificationRetentionMonths < 0 {
			t.Fatalf("%q: drain %v, retention %d", vars, c.ShutdownDrain, c.NotificationRetentionMonths)
		}
	})
}
