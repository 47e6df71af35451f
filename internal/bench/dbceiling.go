package bench

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/store"
)

// CommitCeiling is the durable commit rate of the database on this machine,
// measured through the store package with the settings OpenPSP uses
// (SQLite: WAL, synchronous=FULL; PostgreSQL: fsync on, synchronous_commit on).
type CommitCeiling struct {
	// Engine is the engine measured: the server's, or against a -target
	// whose database is not named, -engine's (Note says so).
	Engine string `json:"engine"`
	Note   string `json:"note,omitempty"`
	// OneRowCommitsPerS: one writer, one row per transaction.
	OneRowCommitsPerS float64 `json:"one_row_commits_per_s"`
	// BatchRowsPerS: one writer, 100 rows per transaction (rows per second).
	BatchRowsPerS float64 `json:"batch100_rows_per_s"`
	// GroupRowsPerS: `concurrency` goroutines each writing one row through
	// store.DB.Write, the group-commit queue requests use (rows per second).
	GroupRowsPerS float64 `json:"group_commit_rows_per_s"`
}

const ceilingPayload = `{"amount":1000,"currency":"EUR","orderId":"ceiling-0000000000","detailedStatus":"AUTHORISED","pan":"497010XXXXXX0055","padding":"................................................................................................"}`

// measureCommitCeiling opens a scratch database (SQLite file in dir, or the
// PostgreSQL database at pgURL) and measures each commit mode for d.
func measureCommitCeiling(ctx context.Context, dir, pgURL string, concurrency int, d time.Duration) (CommitCeiling, error) {
	opts := store.Options{SQLitePath: filepath.Join(dir, "ceiling.db")}
	if pgURL != "" {
		opts = store.Options{URL: pgURL, PostgresConns: 16}
	}
	db, err := store.Open(ctx, opts)
	if err != nil {
		return CommitCeiling{}, err
	}
	defer db.Close()
	if _, err := db.Writer().ExecContext(ctx, `CREATE TABLE bench_commit (id TEXT PRIMARY KEY, payload TEXT NOT NULL, created_at BIGINT NOT NULL)`); err != nil {
		return CommitCeiling{}, fmt.Errorf("bench: create ceiling table: %w", err)
	}
	insert := `INSERT INTO bench_commit (id, payload, created_at) VALUES ($1, $2, $3)`
	var c CommitCeiling

	rows := func(perTx int) (float64, error) {
		n := 0
		start := time.Now()
		for time.Since(start) < d {
			tx, err := db.Writer().BeginTx(ctx, nil)
			if err != nil {
				return 0, err
			}
			for i := 0; i < perTx; i++ {
				if _, err := tx.Exec(insert, ids.New(), ceilingPayload, time.Now().UnixMicro()); err != nil {
					_ = tx.Rollback()
					return 0, err
				}
			}
			if err := tx.Commit(); err != nil {
				return 0, err
			}
			// Durable like a payment's commit: on SQLite the fsync
			// follows the commit (store.walSyncer).
			if err := db.SyncWAL(); err != nil {
				return 0, err
			}
			n += perTx
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	if c.OneRowCommitsPerS, err = rows(1); err != nil {
		return c, fmt.Errorf("bench: one row per commit: %w", err)
	}
	if c.BatchRowsPerS, err = rows(100); err != nil {
		return c, fmt.Errorf("bench: 100 rows per commit: %w", err)
	}

	var n atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d {
				err := db.Write(ctx, func(tx *sql.Tx) error {
					_, err := tx.Exec(insert, ids.New(), ceilingPayload, time.Now().UnixMicro())
					return err
				})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return c, fmt.Errorf("bench: group commit: %w", e)
	}
	c.GroupRowsPerS = float64(n.Load()) / time.Since(start).Seconds()
	c.OneRowCommitsPerS, c.BatchRowsPerS, c.GroupRowsPerS = round1(c.OneRowCommitsPerS), round1(c.BatchRowsPerS), round1(c.GroupRowsPerS)
	return c, nil
}

// sqliteSyncOf is documentation for the report.
func engineSettings(engine string) string {
	if strings.HasPrefix(engine, "postgres") {
		return "fsync=on, synchronous_commit=on (server defaults checked at start)"
	}
	return "WAL, synchronous=FULL"
}
