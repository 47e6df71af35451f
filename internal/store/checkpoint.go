package store

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointEvery is how often the checkpointer copies the WAL's committed
// pages into the database file.
const checkpointEvery = 200 * time.Millisecond

// walRestartFrames is the WAL's size, in frames (4 KB pages), from which
// the checkpointer makes the writer start it over (about 16 MB). SQLite
// writes the WAL from its start again only in a write transaction that
// begins with every frame already copied into the database file (and no
// reader on an older snapshot); the single writer begins its next
// transaction as soon as it commits, before a checkpoint beside it can
// catch up, so under steady load the WAL grew for as long as the load
// lasted (25 MB a second in the silent bench), filling the disk and
// lengthening crash recovery. Lower means more frequent writer pauses
// (see restartWAL); higher, a larger file. The tests set smaller limits on
// their database (Options.walLimits).
const walRestartFrames = 4096

// walSizeLimit is the writer's journal_size_limit: at the first commit
// after the WAL starts over, SQLite truncates the file to this size if it
// is larger (a burst, or a reader that held an old snapshot, made it grow
// past walRestartFrames). It is above what the WAL reaches under steady
// load (walRestartFrames plus a few checkpoint periods of writes), so that
// the writer overwrites frames rather than growing the file again at each
// restart.
const walSizeLimit int64 = 32 << 20

// walLimits are a SQLite database's WAL thresholds: walRestartFrames and
// walSizeLimit unless a test sets smaller ones, so that a small workload
// crosses them.
type walLimits struct {
	restartFrames int
	sizeLimit     int64
}

// restartStall bounds how long the writer waits for a restart's last
// checkpoint: past it the driver interrupts the checkpoint (safe at any
// point: the frames copied so far are only recorded after the database
// file's fsync) and the writer goes on, the WAL starting over at a later
// step. SQLite checks for the interrupt between pages, so an fsync under
// way still runs to its end.
const restartStall = 50 * time.Millisecond

// restartCatchUp bounds the passes beside the writer before a restart,
// restartTail is the count of new frames a pass may find for the writer to
// be held for the next one.
const restartCatchUp, restartTail = 6, 64

// checkpointer runs SQLite's WAL checkpoints on a connection of its own.
// By default the connection that commits runs them (every 1,000 pages): the
// single writer then copied pages into the database file and fsynced it
// inside a COMMIT every request was waiting for (measured: a third of the
// writer's COMMIT time under load). A PASSIVE checkpoint from another
// connection runs beside the writer and readers and never blocks them. It
// fsyncs the WAL before copying, and the database file before it records
// the frames as copied, so it never moves a frame that is not durable into
// the database file and the WAL is never overwritten before what it held
// is durable in the database file. A failing checkpoint is retried at the
// next tick; the writer's own health reports a broken disk.
type checkpointer struct {
	db *sql.DB
	// restartFrames is the WAL size (in frames) from which a step
	// makes the writer start the WAL over (walRestartFrames).
	restartFrames int
	// gate is held by the writer for each transaction of the group
	// commit (batcher.gate): the checkpointer takes it to keep the writer
	// from beginning one while it copies the last frames (restartWAL).
	gate *sync.Mutex
	mu   sync.Mutex // one step at a time (the ticker and the tests)
	stop chan struct{}
	done chan struct{}
	once sync.Once
	// restarts counts the steps that held the writer for a restart;
	// stalled is the total time they held it.
	restarts atomic.Int64
	stalled  atomic.Int64 // nanoseconds
}

func startCheckpointer(dsn string, gate *sync.Mutex, restartFrames int) (*checkpointer, error) {
	db, err := sql.Open(sqliteDriverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	c := &checkpointer{db: db, restartFrames: restartFrames, gate: gate, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.step()
		}
	}
}

// passive runs a PASSIVE checkpoint: frames is the WAL's size in frames,
// copied how many of them are in the database file now.
func (c *checkpointer) passive(ctx context.Context) (frames, copied int, err error) {
	var busy int
	err = c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	return frames, copied, err
}

// step is one tick: a PASSIVE checkpoint, and when it finds the WAL at
// restartFrames or more, a restart (restartWAL).
func (c *checkpointer) step() {
	c.mu.Lock()
	defer c.mu.Unlock()
	frames, copied, err := c.passive(context.Background())
	if err != nil || frames < c.restartFrames {
		return
	}
	// More passes beside the writer copy what it committed during the
	// previous one, until a pass finds few new frames: the writer then
	// waits only for the frames committed during the last pass (a pass
	// costs two fsyncs, so a few milliseconds of commits). A pass may
	// stop short of the last commit, at the snapshot of a reader that
	// began before it (reads are single statements).
	first := frames
	for i := 0; i < restartCatchUp; i++ {
		before, had := frames, copied
		if frames, copied, err = c.passive(context.Background()); err != nil {
			return
		}
		if copied == had && copied < frames {
			// Nothing copied at all: a reader holds a snapshot
			// older than the previous pass (a long read). No
			// restart is possible before it ends.
			return
		}
		if frames-before <= restartTail {
			break
		}
	}
	if frames == first && copied == frames {
		// Nothing committed during the passes: the writer is idle (its
		// next transaction starts the WAL over by itself) or in a long
		// transaction (holding it now gains nothing).
		return
	}
	c.restartWAL()
}

// restartWAL makes the writer's next transaction write the WAL from its
// start: it keeps the writer from beginning one (the gate) while a last
// PASSIVE checkpoint copies the frames committed since the previous pass,
// so that the transaction begins with every frame in the database file.
// The writer waits for that checkpoint only: the copy of the last pass's
// frames and two fsyncs (the WAL's, the database file's), 3.5-7 ms in the
// write benchmark, once 46 ms when the disk was slow; restartStall at
// most, but for an fsync under way. Its first commit then also fsyncs the
// WAL's new header (SQLite's rule, so that no frame is written before it).
// A reader that began before the last commit and still reads keeps the
// checkpoint from copying that commit: the checkpoint is run again until
// it copies every frame, within restartStall (reads are single statements,
// so it ends soon; with the writer held, reads that begin meanwhile see
// every frame). Going on at once instead failed most holds whenever reads
// ran all along, the more so on a busy machine where a read lasts longer
// (TestWALStaysBoundedUnderSteadyWrites under CPU load: 29-44 holds, 1-4
// with every frame copied, WAL up to 9.3 MB for a 1 MB threshold). Past
// restartStall, or with a reader still reading when the writer writes,
// SQLite appends as before and a later step tries again (a FULL or RESTART
// checkpoint would wait for readers without that bound: tried, not kept).
func (c *checkpointer) restartWAL() {
	c.gate.Lock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), restartStall)
	frames, copied, err := c.passive(ctx)
	for err == nil && copied < frames {
		// A read that began before the last commit keeps the copy
		// short of it; with the writer held no commit follows, reads
		// that begin now see every frame, and a read is a single
		// statement: the next pass after it ends copies the rest.
		runtime.Gosched()
		frames, copied, err = c.passive(ctx)
	}
	cancel()
	c.stalled.Add(int64(time.Since(start)))
	c.restarts.Add(1)
	c.gate.Unlock()
}

// shut stops the checkpointer; a DB may be closed more than once.
func (c *checkpointer) shut() (err error) {
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		err = c.db.Close()
	})
	return err
}
