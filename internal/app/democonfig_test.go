package app

import (
	"testing"

	"github.com/openpsp/openpsp/internal/config"
)

// demoConfig is the configuration of a demo copy of the app on dir's SQLite
// file, or on dbURL when it is set, listening on a free loopback port; extra
// settings (OPENPSP_* names) are added to these or replace them.
func demoConfig(tb testing.TB, dir, dbURL string, extra map[string]string) config.Config {
	tb.Helper()
	env := map[string]string{"OPENPSP_DATA_DIR": dir, "OPENPSP_DATABASE_URL": dbURL, "OPENPSP_ADDR": "127.0.0.1:0", "OPENPSP_DEMO": "true"}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}
