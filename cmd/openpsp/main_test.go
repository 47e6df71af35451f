package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A mistyped flag must not run the destructive command it was meant to
// soften: `openpsp purge dry-run` (no dash) destroyed card data, the stray
// word being ignored.
func TestPurgeRefusesStrayArguments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("OPENPSP_DATA_DIR", dir)
	for _, args := range [][]string{{"dry-run"}, {"-months", "15", "dry-run"}} {
		err := run(context.Background(), append([]string{"purge"}, args...))
		if !errors.Is(err, errUsage) {
			t.Errorf("purge %q: %v, want a usage error", args, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("purge with a stray argument opened the database (%s: %v)", dir, err)
	}
}
