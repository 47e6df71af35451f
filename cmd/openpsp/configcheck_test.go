package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `OPENPSP_SMS_URL=gateway.example/send openpsp serve` (no scheme) created
// the database and the keyring and seeded the demo shop, then stopped with
// "notifications: notify: SMS gateway URL must be an http(s) URL": the
// configuration's check did not look at the SMS URL, nor at OPENPSP_MAIL_FROM.
// A wrong one is refused with the others, before anything is created.
func TestServeRefusesABadNotifierSettingBeforeCreatingAnything(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	t.Setenv("OPENPSP_ADDR", "127.0.0.1:0")
	for _, c := range [][2]string{
		{"OPENPSP_SMS_URL", "gateway.example/send"}, {"OPENPSP_SMS_URL", "ftp://gateway.example/send"}, {"OPENPSP_SMS_URL", "https://"},
		// The same with the email adapter's "sender address …: mail:
		// no angle-addr".
		{"OPENPSP_MAIL_FROM", "not an address"}, {"OPENPSP_MAIL_FROM", "Shop <no-reply>"},
	} {
		t.Run(c[0]+"="+c[1], func(t *testing.T) {
			t.Setenv(c[0], c[1])
			for _, cmd := range []string{"serve", "migrate"} {
				out, err := helpTextCtx(t, context.Background(), cmd)
				if err == nil || !strings.Contains(err.Error(), "invalid configuration") || !strings.Contains(err.Error(), c[0]) {
					t.Errorf("%s: %v\n%s", cmd, err, out)
				}
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s created %s (%v)", cmd, dir, err)
				}
			}
		})
	}
}
