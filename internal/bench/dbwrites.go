package bench

import (
	"bufio"
	"context"
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
	requests, commits, syncs float64
}

// readDBCounters reads the write counters; !ok when the server has none
// (an older version as -target) or did not answer.
func readDBCounters(ctx context.Context, c *http.Client, base string) dbCounters {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return dbCounters{}
	}
	resp, err := c.Do(req)
	if err != nil {
		return dbCounters{}
	}
	defer resp.Body.Close()
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
