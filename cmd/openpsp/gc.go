package main

import "runtime/debug"

// The garbage collector's settings for `openpsp serve`, unless the
// operator sets Go's own GOGC or GOMEMLIMIT. A payment allocates a few
// hundred kilobytes that die at once (JSON, templates, SQL rows) over a
// live heap of some tens of megabytes; at Go's default (GOGC=100) the
// collector ran every few milliseconds under load. GOGC=400 lets the heap
// grow to five times the live data between collections, and the soft limit
// keeps the process under the 300 MB the project sets itself (peak RSS
// 165 MB in the silent benchmark): as the heap nears it, the collector
// runs sooner. A deployment whose live heap approaches the limit (many
// thousands of connections) should raise GOMEMLIMIT. Measured with
// `openpsp bench -scenario silent` on SQLite, alternating runs of the
// server with and without: 858–961 → 907–1,110 payments/s.
const (
	serveGCPercent   = 400
	serveMemoryLimit = 256 << 20
)

// tuneGC applies the settings above where getenv has no GOGC or GOMEMLIMIT
// (the Go runtime already read those), and returns what it set.
func tuneGC(getenv func(string) string) (gcPercent int, memoryLimit int64) {
	gcPercent, memoryLimit = -1, -1
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
		gcPercent = serveGCPercent
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
		memoryLimit = serveMemoryLimit
	}
	return gcPercent, memoryLimit
}
