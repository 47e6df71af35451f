package store

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// walSyncer makes SQLite commits durable off the writer. SQLite in WAL mode
// with synchronous=FULL fsyncs the WAL inside every COMMIT, and the single
// writer can do nothing else meanwhile: on this project's machines half of
// its time went to waiting for the disk. The writer connection runs with
// synchronous=NORMAL instead (a commit writes its WAL frames, no fsync) and
// hands the batch here; one fdatasync of the WAL file makes every frame
// written before it durable, so the syncer drains the batches waiting, syncs
// once and only then answers their requests, while the writer already runs
// the next batch. Nothing is acknowledged before it is on disk, as with FULL.
//
// What differs from FULL: another connection may read a commit in the
// fsync's window (a millisecond or two) before it is durable, and a power
// cut then would take it back. No answer, acquirer call or notification
// depends on such a read: each waits for its own write's sync, and a sync
// covers every earlier commit. The state a reader could have seen is the
// outcome of an acquirer operation whose start was durable before the call,
// which recovery asks the acquirer about again (RecoverRunning, pending
// operations), or a new record whose key nobody was told yet.
type walSyncer struct {
	path   string // the "-wal" file
	jobs   chan syncJob
	done   chan struct{}
	mu     sync.Mutex // guards f: the syncer and SyncWAL both sync
	f      *os.File
	synced atomic.Int64 // fsyncs that succeeded
	// syncing is set by the writer when it hands over a commit and
	// cleared by the syncer when it has none left; idle then wakes a
	// writer waiting for that (see extendWhileSyncing).
	syncing atomic.Bool
	idle    chan struct{}
}

// busy reports whether a commit handed over is not yet synced.
func (w *walSyncer) busy() bool { return w.syncing.Load() }

type syncJob struct {
	reqs    []*writeReq
	results []error
}

func newWALSyncer(dbPath string) *walSyncer {
	return &walSyncer{path: dbPath + "-wal", jobs: make(chan syncJob, 256), done: make(chan struct{}), idle: make(chan struct{}, 1)}
}

func (w *walSyncer) run(observe func(error)) {
	defer close(w.done)
	for first := range w.jobs {
		batch := []syncJob{first}
	drain:
		for {
			select {
			case j, ok := <-w.jobs:
				if !ok {
					break drain
				}
				batch = append(batch, j)
			default:
				break drain
			}
		}
		err := w.sync()
		if err == nil {
			w.synced.Add(1)
		}
		if len(w.jobs) == 0 {
			w.syncing.Store(false)
			select {
			case w.idle <- struct{}{}:
			default:
			}
		}
		committed := false
		for _, j := range batch {
			for _, res := range j.results {
				committed = committed || res == nil
			}
		}
		// A sync proves the storage works only when it made a commit
		// durable (a batch whose writes all failed, e.g. on a full disk,
		// leaves nothing to sync).
		if err != nil || committed {
			observe(err)
		}
		for _, j := range batch {
			for i, r := range j.reqs {
				res := j.results[i]
				if res == nil && err != nil {
					// Committed, but not known to be on disk: the
					// request is told it failed, as a failed COMMIT.
					res = err
				}
				r.done <- res
			}
		}
	}
}

// sync makes the WAL durable. The file exists once the first commit wrote
// to it and normally stays while the writer connection is open; but SQLite
// deletes it when the last connection to the database closes (a connection
// the pool replaced, say), and a new one is then another file: an fsync of
// the old one would say nothing about the new. So the open file is checked
// to still be the one at the path (one stat) before each sync.
func (w *walSyncer) sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		cur, err := os.Stat(w.path)
		open, ferr := w.f.Stat()
		if err != nil || ferr != nil || !os.SameFile(cur, open) {
			_ = w.f.Close()
			w.f = nil
		}
	}
	if w.f == nil {
		f, err := os.OpenFile(w.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("store: sync the WAL: disk I/O error: %w", err)
		}
		w.f = f
	}
	for {
		err := unix.Fdatasync(int(w.f.Fd()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: sync the WAL: disk I/O error: %w", err)
		}
		return nil
	}
}

// SyncWAL makes durable what was committed on Writer() outside the
// group-commit queue (migrations, the bench's commit ceiling): on SQLite the
// writer connection commits without fsync and the WAL syncer only covers
// queued writes. Elsewhere a commit is durable by itself and it does nothing.
func (db *DB) SyncWAL() error {
	if db.batch == nil || db.batch.wal == nil {
		return nil
	}
	return db.batch.wal.sync()
}

// close stops the syncer once every queued batch is answered.
func (w *walSyncer) close() {
	close(w.jobs)
	<-w.done
	if w.f != nil {
		_ = w.f.Close()
	}
}
