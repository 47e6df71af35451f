package main

import (
	"runtime/debug"
	"testing"
)

// serve sets its collector's defaults only where the operator's GOGC and
// GOMEMLIMIT do not already decide.
func TestTuneGC(t *testing.T) {
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	})
	env := map[string]string{"GOGC": "150", "GOMEMLIMIT": "1GiB"}
	if p, l := tuneGC(func(k string) string { return env[k] }); p != -1 || l != -1 {
		t.Fatalf("with GOGC and GOMEMLIMIT set, tuneGC set %d and %d", p, l)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent changed to %d despite GOGC", got)
	}
	p, l := tuneGC(func(string) string { return "" })
	if p != serveGCPercent || l != serveMemoryLimit {
		t.Fatalf("tuneGC set %d and %d", p, l)
	}
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Fatalf("GC percent is %d, want %d", got, serveGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != serveMemoryLimit {
		t.Fatalf("memory limit is %d, want %d", got, serveMemoryLimit)
	}
}
