package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"
)

// writeHealth remembers whether the last writes reached the disk, so that
// readiness tells the truth when reads still work but writes do not (a full
// disk, a read-only file system, a database that refuses commits).
type writeHealth struct {
	mu        sync.Mutex
	lastErr   error
	failedAt  time.Time
	lastProbe time.Time
}

func (h *writeHealth) record(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.lastErr = nil
		return
	}
	h.lastErr, h.failedAt = err, time.Now()
}

// isStorageFailure tells an error of the storage itself (disk, I/O,
// connection) from a business error returned by a write function.
func isStorageFailure(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	s := strings.ToLower(err.Error())
	for _, p := range []string{
		"disk is full", "database or disk is full", "sqlite_full", "disk i/o error", "sqlite_ioerr",
		"file too large", "no space left", "read-only file system", "readonly database",
		"sqlstate 53100", "sqlstate 53", "sqlstate 08", "sqlstate 57p", "conn closed", "connection refused",
		"broken pipe", "connection reset", "failed to connect", "unexpected eof", "bad connection",
	} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// IsUnavailable reports whether err says the database cannot be used for
// a moment (connection refused or cut, disk full or failing), not that an
// operation failed for a reason of its own: the buyer's pages then tell
// the buyer the service is temporarily unavailable.
func IsUnavailable(err error) bool { return isStorageFailure(err) }

// WriteHealth returns nil when writes reach the database, or the storage
// error of the last failed write. When writes failed, it first probes with a
// one-row write (at most once a second), so that the answer turns healthy by
// itself once the storage is back.
func (db *DB) WriteHealth(ctx context.Context) error {
	h := &db.health
	h.mu.Lock()
	err := h.lastErr
	probe := err != nil && time.Since(h.lastProbe) >= time.Second
	if probe {
		h.lastProbe = time.Now()
	}
	h.mu.Unlock()
	if !probe {
		return err
	}
	perr := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE health_probe SET probed_at = $1 WHERE id = 1`, time.Now().UnixMicro())
		return err
	})
	if perr != nil {
		if !isStorageFailure(perr) {
			// A probe that fails for another reason says nothing new.
			return err
		}
		return perr
	}
	return nil
}
