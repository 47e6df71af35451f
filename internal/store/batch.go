package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("store: closed")

// TxFunc is one unit of work inside a write transaction. It must only touch
// the database (no network calls, no sleeps): it runs inside a transaction it
// shares with other requests, and may run again, alone, if the shared
// transaction fails as a whole or PostgreSQL aborts it to break a deadlock.
type TxFunc func(tx *sql.Tx) error

type writeReq struct {
	ctx  context.Context
	fn   TxFunc
	done chan error
}

// batcher is the group-commit queue. Each worker takes whatever requests are
// waiting (up to max; on SQLite also those arriving while the previous
// commit is being synced), runs them in one transaction and commits once: N
// concurrent payments cost one fsync instead of N. A request whose function
// fails is undone alone (see shared); if the shared transaction itself fails
// (commit error, deadlock), every request in it is retried in a transaction
// of its own so one bad neighbour never fails others.
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
	// gate is held by a SQLite writer for each batch's transactions: the
	// checkpointer takes it to start the WAL over (checkpointer.restartWAL).
	gate sync.Mutex
	// requests and commits count what ran through the queue (WriteStats).
	requests, commits atomic.Int64
}

// WriteStats count the writes of one open database since it was opened.
type WriteStats struct {
	Requests int64 // Write calls run (whatever their outcome)
	Commits  int64 // transactions committed for them
	WALSyncs int64 // fsyncs of the SQLite WAL that made them durable (0 on PostgreSQL)
}

// WriteStats reports the group commit's counters: Requests/Commits is how
// many writes share a commit.
func (db *DB) WriteStats() WriteStats {
	st := WriteStats{Requests: db.batch.requests.Load(), Commits: db.batch.commits.Load()}
	if db.batch.wal != nil {
		st.WALSyncs = db.batch.wal.synced.Load()
	}
	return st
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
	if b.db.dialect == SQLite {
		b.gate.Lock()
		defer b.gate.Unlock()
	}
	live := b.started(batch[:0:0], batch...)
	if len(live) == 0 {
		return
	}
	if len(live) == 1 && b.wal == nil {
		b.answer(live, []error{b.alone(live[0])})
		return
	}
	live, results, err := b.shared(live)
	if err != nil {
		// The shared transaction failed as a whole: nothing of it was
		// committed, so each request gets a transaction of its own.
		results = make([]error, len(live))
		for i, r := range live {
			results[i] = b.alone(r)
		}
	}
	for i, e := range results {
		if IsDeadlock(e) {
			// Undone alone (its savepoint), nothing of it written:
			// it runs again, alone (see alone).
			results[i] = b.alone(live[i])
		}
	}
	b.answer(live, results)
}

// writeOwn is Write for a background job's claim of transactions
// (db.claim, hundreds of rows): on PostgreSQL it runs fn in a transaction
// of its own on the caller's goroutine, outside the group-commit queue, so
// that no request shares its transaction and waits for it (a capture claim
// took 2 s and more under load, and the requests of its batch with it: the
// silent bench's slowest payments). Its commit is durable as any other. On
// SQLite the single writer runs everything in turn: it is Write.
func (db *DB) writeOwn(ctx context.Context, fn TxFunc) error {
	b := db.batch
	if db.dialect != Postgres || b.wal != nil {
		return db.Write(ctx, fn)
	}
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := b.alone(&writeReq{ctx: ctx, fn: fn})
	b.requests.Add(1)
	return err
}

// deadlockRetries is how many times alone runs a request again that
// PostgreSQL aborted to break a deadlock.
const deadlockRetries = 3

// alone runs one request in its own transaction (single), again when
// PostgreSQL aborted it to break a deadlock (SQLSTATE 40P01), up to
// deadlockRetries times. Writes keep the store's lock order (see the
// package doc), yet a shared transaction holds the locks of all its
// requests until its commit, taken in no common order: two of them (two
// workers, two copies) can each hold a payment the other waits for. A
// request waiting for a row is part of the cycle too, queued before
// others for that row, even alone. The aborted request wrote nothing;
// the caller did nothing wrong and must not see the error.
func (b *batcher) alone(r *writeReq) error {
	err := b.single(r)
	for n := 0; n < deadlockRetries && IsDeadlock(err); n++ {
		err = b.single(r)
	}
	return err
}

// IsDeadlock reports whether err is PostgreSQL's deadlock_detected: the
// write that met it wrote nothing and runs again (see alone); a savepoint
// that met it must hand it on, not take it for its own failure.
func IsDeadlock(err error) bool {
	return err != nil && strings.Contains(err.Error(), "SQLSTATE 40P01")
}

// started appends to live the requests whose callers still wait and
// answers the others: they never started, nothing was written.
func (b *batcher) started(live []*writeReq, reqs ...*writeReq) []*writeReq {
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	return live
}

// answer gives each request its result once what it wrote is durable: at
// once when the commit was, else after the WAL syncer's next fsync.
func (b *batcher) answer(reqs []*writeReq, results []error) {
	b.requests.Add(int64(len(reqs)))
	if b.wal == nil {
		for i, r := range reqs {
			r.done <- results[i]
		}
		return
	}
	// Whatever idle said so far is about commits already synced.
	select {
	case <-b.wal.idle:
	default:
	}
	b.wal.syncing.Store(true)
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
	b.commits.Add(1)
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
func (b *batcher) shared(live []*writeReq) ([]*writeReq, []error, error) {
	if b.savepointBatches.Load() <= 0 {
		ran, results, failed, err := b.sharedTx(live, false, true)
		if !failed {
			return ran, results, err
		}
		live = ran // all again, those it took in included
		b.savepointBatches.Store(savepointBatchesAfterFailure)
	} else {
		b.savepointBatches.Add(-1)
	}
	ran, results, _, err := b.sharedTx(live, true, false)
	return ran, results, err
}

// savepointBatchesAfterFailure is how many batches run with savepoints from
// the start after a batch had a failing request.
const savepointBatchesAfterFailure = 64

// sharedTx runs live in one transaction, each request in a savepoint if
// savepoints is set. Without savepoints, a failing request rolls everything
// back and sharedTx reports failed (nothing was written). With extend, on
// SQLite, the transaction takes in the requests that arrive while the WAL
// syncer is still busy with the previous commit (see extendWhileSyncing);
// it returns every request it ran, live and those.
func (b *batcher) sharedTx(live []*writeReq, savepoints, extend bool) (ran []*writeReq, results []error, failed bool, err error) {
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
		return live, nil, false, fmt.Errorf("store: begin: %w", err)
	}
	results = make([]error, 0, len(live))
	// run runs one request; false: the transaction is rolled back.
	run := func(r *writeReq) (ok bool, err error) {
		first := len(results) == 0
		results = append(results, nil)
		if savepoints {
			// The commit releases the last savepoint.
			if err := openNextSavepoint(tx, "w", first); err != nil {
				return false, err
			}
		}
		ferr := call(r.fn, tx)
		if ferr == nil {
			return true, nil
		}
		if !savepoints {
			failed = true
			return false, nil
		}
		results[len(results)-1] = ferr
		if _, err := tx.Exec("ROLLBACK TO SAVEPOINT w"); err != nil {
			return false, fmt.Errorf("store: rollback to savepoint: %w", err)
		}
		return true, nil
	}
	for _, r := range live {
		if ok, err := run(r); !ok {
			_ = tx.Rollback()
			return live, nil, failed, err
		}
	}
	if extend && b.wal != nil {
		var ok bool
		if live, ok, err = b.extendWhileSyncing(live, run); !ok {
			_ = tx.Rollback()
			return live, nil, failed, err
		}
	}
	if err := tx.Commit(); err != nil {
		return live, nil, false, fmt.Errorf("store: commit: %w", err)
	}
	b.commits.Add(1)
	return live, results, false, nil
}

// extendWhileSyncing runs, in the open transaction, the requests that
// arrive while the WAL syncer still works on the previous commit, up to
// max: they would wait for the next fsync anyway, and one commit for them
// all writes the pages they share (the ends of the tables and indexes they
// append to) once instead of once per commit. Before this, the writer
// committed about three times per fsync, each commit writing those pages
// again. It stops when the syncer is idle, so the commit goes to it at once.
func (b *batcher) extendWhileSyncing(live []*writeReq, run func(*writeReq) (bool, error)) ([]*writeReq, bool, error) {
	for len(live) < b.max && b.wal.busy() {
		var r *writeReq
		select {
		case q, open := <-b.queue:
			if !open {
				return live, true, nil
			}
			r = q
		case <-b.wal.idle:
			return live, true, nil
		}
		n := len(live)
		if live = b.started(live, r); len(live) == n {
			continue
		}
		if ok, err := run(r); !ok {
			return live, false, err
		}
	}
	return live, true, nil
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
