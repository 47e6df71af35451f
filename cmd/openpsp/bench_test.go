package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `bench -target … -target-data-dir FOLDER` with no database in FOLDER
// created an empty one (and a keyring) there, put its tokens in that new
// vault and ran against the server anyway. It refuses, as the other
// operator commands do, before any load, and creates nothing.
func TestBenchRefusesATargetDataDirWithoutDatabase(t *testing.T) {
	dir := t.TempDir()
	// A target nobody listens on: the refusal comes before any request.
	out, err := helpText(t, "bench", "-q", "-scenario", "sdktest", "-target", "http://127.0.0.1:1",
		"-target-data-dir", dir, "-duration", "1s", "-no-ceilings")
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d (%v), want 1\n%s", code, err, out)
	}
	want := "-target-data-dir: no OpenPSP database at " + filepath.Join(dir, "openpsp.db")
	if msg := err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, "nothing was created") {
		t.Errorf("error %q does not say %q", msg, want)
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Fatalf("bench created %v in the target data folder", left[0].Name())
	}
}

// The bench reads the target's /metrics with the token of
// -metrics-token, or of OPENPSP_METRICS_TOKEN like the server; help says so.
func TestBenchMetricsTokenFlag(t *testing.T) {
	t.Setenv("OPENPSP_METRICS_TOKEN", "from-env")
	_, v := benchFlags()
	if got := v.metricsToken(); got != "from-env" {
		t.Errorf("from the environment: %q", got)
	}
	fs, v := benchFlags()
	if err := fs.Parse([]string{"-metrics-token", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	if got := v.metricsToken(); got != "from-flag" {
		t.Errorf("from the flag: %q", got)
	}
	out, _ := helpText(t, "bench", "-help")
	if !strings.Contains(out, "-metrics-token") || !strings.Contains(out, "OPENPSP_METRICS_TOKEN") {
		t.Errorf("bench -help does not document -metrics-token:\n%s", out)
	}
	if strings.Contains(out, "from-env") {
		t.Errorf("bench -help shows the token:\n%s", out)
	}
}

// -engine has a default (sqlite) for the server the bench starts: against
// -target that default is not an -engine given, and the target's engine
// (here PostgreSQL, named by -target-database-url) is taken without a
// refusal; an -engine given that is not the target's is refused.
func TestBenchEngineWithTarget(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("OPENPSP_MASTER_KEYS", "")
	t.Setenv("OPENPSP_KEYRING_FILE", "")
	args := []string{"bench", "-q", "-scenario", "sdktest", "-target", "http://127.0.0.1:1",
		"-target-database-url", "postgres://bench@127.0.0.1:1/none?sslmode=disable", "-duration", "1s", "-no-ceilings"}
	// Without -engine it goes on to the target's keys, which it lacks here.
	if _, err := helpText(t, args...); err == nil || strings.Contains(err.Error(), "-engine") ||
		!strings.Contains(err.Error(), "OPENPSP_MASTER_KEYS") {
		t.Errorf("without -engine: err %v, want the refusal for the missing keys, not -engine", err)
	}
	if _, err := helpText(t, append(args, "-engine", "sqlite")...); err == nil || !strings.Contains(err.Error(), "-engine sqlite") ||
		!strings.Contains(err.Error(), "postgres") {
		t.Errorf("-engine sqlite against a PostgreSQL target: err %v, want a refusal naming both", err)
	}
}
