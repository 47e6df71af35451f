package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("store: closed")

// TxFunc is one unit of work inside a write transaction. It must only touch
// the database (no network calls, no sleeps): it runs inside a transaction it
// shares with other requests, and may run a second time, alone, if the shared
// transaction fails as a whole.
type TxFunc func(tx *sql.Tx) error

type writeReq struct {
	ctx  context.Context
	fn   TxFunc
	done chan error
}

// batcher is the group-commit queue. Each worker takes whatever requests are
// waiting (up to max), runs each in its own SAVEPOINT of one transaction and
// commits once: N concurrent payments cost one fsync instead of N. A request
// whose function fails is rolled back to its savepoint alone; if the shared
// transaction itself fails (commit error, deadlock), every request in it is
// retried in a transaction of its own so one bad neighbour never fails others.
type batcher struct {
	db     *DB
	queue  chan *writeReq
	max    int
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool
	// wal, when set (SQLite), makes the batches durable after their commit
	// and answers their requests then; nil: a commit is durable by itself
	// (PostgreSQL, or SQLite with synchronous=NORMAL allowed as unsafe).
	wal *walSyncer
	// savepointBatches counts down the batches that still take a savepoint
	// per request from the start (see shared).
	savepointBatches atomic.Int32
}

func newBatcher(db *DB, workers, max int, wal *walSyncer) *batcher {
	b := &batcher{db: db, queue: make(chan *writeReq, 4*max), max: max, wal: wal}
	if wal != nil {
		go wal.run(b.observeSync)
	}
	for i := 0; i < workers; i++ {
		b.wg.Add(1)
		go b.run()
	}
	return b
}

func (b *batcher) close() {
	b.mu.Lock()
	first := !b.closed
	if first {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.wg.Wait()
	if first && b.wal != nil {
		b.wal.close() // after the workers: they hand it their last batches
	}
}

// Write runs fn in a write transaction and returns once that transaction is
// durably committed (or failed). Concurrent calls are committed together.
// fn must not call Write (it would wait for itself).
func (db *DB) Write(ctx context.Context, fn TxFunc) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	b := db.batch
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.queue <- req:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	// Once queued, wait for the outcome even if ctx ends: the caller must
	// learn whether its write committed, and batches are short.
	return <-req.done
}

func (b *batcher) run() {
	defer b.wg.Done()
	batch := make([]*writeReq, 0, b.max)
	for first := range b.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < b.max {
			select {
			case r, ok := <-b.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.commit(batch)
	}
}

func (b *batcher) commit(batch []*writeReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // never started: nothing was written
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		b.answer(live, []error{b.single(live[0])})
		return
	}
	results, err := b.shared(live)
	if err != nil {
		// The shared transaction failed as a whole: nothing of it was
		// committed, so each request gets a transaction of its own.
		results = make([]error, len(live))
		for i, r := range live {
			results[i] = b.single(r)
		}
	}
	b.answer(live, results)
}

// answer gives each request its result once what it wrote is durable: at
// once when the commit was, else after the WAL syncer's next fsync.
func (b *batcher) answer(reqs []*writeReq, results []error) {
	if b.wal == nil {
		for i, r := range reqs {
			r.done <- results[i]
		}
		return
	}
	b.wal.jobs <- syncJob{reqs: append([]*writeReq(nil), reqs...), results: results}
}

// single runs one request in its own transaction.
func (b *batcher) single(r *writeReq) (err error) {
	defer func() { b.observe(err) }()
	tx, err := b.db.write.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := call(r.fn, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// observe feeds the write-health state: a committed transaction proves the
// storage works; a storage failure (disk, I/O, connection) marks it broken.
// With a WAL syncer, a commit proves nothing until its sync: the syncer
// records the successes.
func (b *batcher) observe(err error) {
	switch {
	case err == nil:
		if b.wal == nil {
			b.db.health.record(nil)
		}
	case isStorageFailure(err):
		b.db.health.record(err)
	}
}

// observeSync feeds the write-health state with a WAL sync's outcome.
func (b *batcher) observeSync(err error) {
	if err == nil || isStorageFailure(err) {
		b.db.health.record(err)
	}
}

// shared runs every request in one transaction and returns each request's
// own error, or an error for the whole transaction. Isolating one request's
// failure takes a savepoint around each request, two statements more per
// request; failures are rare (a uniqueness race, an idempotency storm), so
// a batch first runs without them, and only when one of its requests fails
// is it rolled back and run again with them (functions may run twice, see
// TxFunc). Failures come in bursts: after one, the next batches take
// savepoints from the start.
func (b *batcher) shared(live []*writeReq) ([]error, error) {
	if b.savepointBatches.Load() <= 0 {
		results, failed, err := b.sharedTx(live, false)
		if !failed {
			return results, err
		}
		b.savepointBatches.Store(savepointBatchesAfterFailure)
	} else {
		b.savepointBatches.Add(-1)
	}
	results, _, err := b.sharedTx(live, true)
	return results, err
}

// savepointBatchesAfterFailure is how many batches run with savepoints from
// the start after a batch had a failing request.
const savepointBatchesAfterFailure = 64

// sharedTx runs live in one transaction, each request in a savepoint if
// savepoints is set. Without savepoints, a failing request rolls everything
// back and sharedTx reports failed (nothing was written).
func (b *batcher) sharedTx(live []*writeReq, savepoints bool) (results []error, failed bool, err error) {
	defer func() {
		if failed {
			return // the batch runs again; that run reports
		}
		if err != nil {
			b.observe(err)
			return
		}
		b.observe(nil)
		for _, e := range results {
			if isStorageFailure(e) {
				b.observe(e)
			}
		}
	}()
	tx, err := b.db.write.BeginTx(context.Background(), nil)
	if err != nil {
		return nil, false, fmt.Errorf("store: begin: %w", err)
	}
	results = make([]error, len(live))
	for i, r := range live {
		if savepoints {
			// The commit releases the last savepoint.
			if err := openNextSavepoint(tx, "w", i == 0); err != nil {
				_ = tx.Rollback()
				return nil, false, err
			}
		}
		ferr := call(r.fn, tx)
		if ferr == nil {
			continue
		}
		if !savepoints {
			_ = tx.Rollback()
			return nil, true, nil
		}
		results[i] = ferr
		if _, err := tx.Exec("ROLLBACK TO SAVEPOINT w"); err != nil {
			_ = tx.Rollback()
			return nil, false, fmt.Errorf("store: rollback to savepoint: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("store: commit: %w", err)
	}
	return results, false, nil
}

// call runs fn and turns a panic into an error, so one broken request
// cannot take the writer goroutine (and every waiting request) down.
func call(fn TxFunc, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: write function panicked: %v", p)
		}
	}()
	return fn(tx)
}
