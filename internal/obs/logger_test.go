package obs

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// With OPENPSP_LOG_FORMAT=json the shutdown line read "timeout":20000000000
// (slog writes a time.Duration as nanoseconds) where the text format says
// timeout=20s: a duration is written as Go writes it, with its unit.
func TestJSONLogWritesDurationsWithTheirUnit(t *testing.T) {
	var b bytes.Buffer
	NewLogger(&b, "json", "info").Info("shutting down", "timeout", 20*time.Second, "count", 3)
	if !strings.Contains(b.String(), `"timeout":"20s"`) || !strings.Contains(b.String(), `"count":3`) {
		t.Fatalf("json line: %s", b.String())
	}
}
