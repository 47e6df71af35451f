package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DBWrites is how the server's group commit behaved during the window,
// read from its /metrics (openpsp_db_*): how many writes share a commit,
// and on SQLite how many commits share an fsync.
type DBWrites struct {
	RequestsPerS    float64 `json:"requests_per_s"`
	CommitsPerS     float64 `json:"commits_per_s"`
	WALSyncsPerS    float64 `json:"wal_syncs_per_s"` // 0 on PostgreSQL
	WritesPerCommit float64 `json:"writes_per_commit"`
}

type dbCounters struct {
	ok                       bool
	refused                  int // the status of a 401 or 403 answer
	requests, commits, syncs float64
}

// readDBCounters reads the write counters, with token as the bearer token
// when set; !ok when the server has none (an older version as -target), did
// not answer, or refused the token (refused then holds the status).
func readDBCounters(ctx context.Context, c *http.Client, base, token string) dbCounters {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return dbCounters{}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return dbCounters{}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return dbCounters{refused: resp.StatusCode}
	}
	var out dbCounters
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "openpsp_db_write_requests_total":
			dst = &out.requests
		case "openpsp_db_commits_total":
			dst = &out.commits
		case "openpsp_db_wal_syncs_total":
			dst = &out.syncs
		default:
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			*dst = v
			found++
		}
	}
	out.ok = found == 3 && resp.StatusCode == http.StatusOK
	return out
}

func writesBetween(a, b dbCounters, d time.Duration) *DBWrites {
	if !a.ok || !b.ok || d <= 0 {
		return nil
	}
	s := d.Seconds()
	w := &DBWrites{
		RequestsPerS: round1((b.requests - a.requests) / s),
		CommitsPerS:  round1((b.commits - a.commits) / s),
		WALSyncsPerS: round1((b.syncs - a.syncs) / s),
	}
	if b.commits > a.commits {
		w.WritesPerCommit = round1((b.requests - a.requests) / (b.commits - a.commits))
	}
	return w
}

// refusedNote is the report's line when /metrics refused the bench, so
// that a missing "db writes" line says what to set; "" otherwise.
func refusedNote(a, b dbCounters) string {
	status := max(a.refused, b.refused)
	if status == 0 {
		return ""
	}
	return fmt.Sprintf("not read: GET /metrics answered %d %s; set OPENPSP_METRICS_TOKEN (or -metrics-token) to the server's metrics token",
		status, http.StatusText(status))
}
