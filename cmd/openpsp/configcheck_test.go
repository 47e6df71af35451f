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
// configuration's check did not look at the SMS URL. A wrong one is refused
// with the others, before anything is created.
func TestServeRefusesABadSMSURLBeforeCreatingAnything(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	t.Setenv("OPENPSP_ADDR", "127.0.0.1:0")
	for _, u := range []string{"gateway.example/send", "ftp://gateway.example/send", "https://"} {
		t.Setenv("OPENPSP_SMS_URL", u)
		for _, cmd := range []string{"serve", "migrate"} {
			out, err := helpTextCtx(t, context.Background(), cmd)
			if err == nil || !strings.Contains(err.Error(), "invalid configuration") || !strings.Contains(err.Error(), "OPENPSP_SMS_URL") {
				t.Errorf("%s with OPENPSP_SMS_URL=%s: %v\n%s", cmd, u, err, out)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s with OPENPSP_SMS_URL=%s created %s (%v)", cmd, u, dir, err)
			}
		}
	}
}
