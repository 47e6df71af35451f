package ogone_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// stoppingStore is the real store; the first batch of expired sessions
// closes stop, as the app's shutdown may while a batch is in progress.
type stoppingStore struct {
	*store.DB
	stop                    chan struct{}
	sessionBatches, errLogs atomic.Int64
}

func (s *stoppingStore) DeleteSessions(ctx context.Context, before time.Time, limit int) (int, error) {
	if s.sessionBatches.Add(1) == 1 {
		close(s.stop)
	}
	return s.DB.DeleteSessions(ctx, before, limit)
}

func (s *stoppingStore) DeleteErrorLog(ctx context.Context, source string, before time.Time, limit int) (int, error) {
	s.errLogs.Add(1)
	return s.DB.DeleteErrorLog(ctx, source, before, limit)
}

// The cleanup job ignored the app's shutdown: it deleted batch after batch
// of expired FlexCheckout sessions, then of old error log entries, until
// none was left. With stop closed during a batch it finishes that batch and
// claims no other, without an error; the rest goes at the next run.
func TestCleanupStopsAfterTheBatchInProgress(t *testing.T) {
	st := &stoppingStore{stop: make(chan struct{})}
	e := newEnv(t, func(o *ogone.Options) {
		st.DB = o.Store.(*store.DB)
		o.Store = st
	})
	ctx := context.Background()
	// Two and a half batches (1,000 sessions each) of expired sessions.
	const backlog = 2500
	if _, err := e.db.Writer().Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
		INSERT INTO ogone_flex_sessions (id, shop_id, mode, request, state, created_at, expires_at)
		SELECT 's' || i, $2, 'TEST', '{}', 'OPEN', $3, $3 FROM n`, backlog, shop.DemoShopID, store.Micros(e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	count := func() int {
		t.Helper()
		var n int
		if err := e.db.Writer().QueryRow(`SELECT COUNT(*) FROM ogone_flex_sessions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := e.h.CleanupUntil(ctx, st.stop); err != nil {
		t.Fatal(err)
	}
	if b, left, logs := st.sessionBatches.Load(), count(), st.errLogs.Load(); b != 1 || left != backlog-1000 || logs != 0 {
		t.Fatalf("cleanup with stop closed in its first batch: %d session batches, %d sessions left, %d error log batches; want 1, %d, 0",
			b, left, logs, backlog-1000)
	}
	if err := e.h.Cleanup(ctx); err != nil || count() != 0 || st.errLogs.Load() == 0 {
		t.Fatalf("the next run: %v, %d sessions left, %d error log batches", err, count(), st.errLogs.Load())
	}
}
