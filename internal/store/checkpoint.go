package store

import (
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// checkpointEvery is how often the checkpointer copies the WAL's committed
// pages into the database file.
const checkpointEvery = 200 * time.Millisecond

// checkpointer runs SQLite's WAL checkpoints on a connection of its own.
// By default the connection that commits runs them (every 1,000 pages): the
// single writer then copied pages into the database file and fsynced it
// inside a COMMIT every request was waiting for (measured: a third of the
// writer's COMMIT time under load). A PASSIVE checkpoint from another
// connection runs beside the writer and readers and never blocks them. It
// fsyncs the WAL before copying, so it never moves a frame that is not
// durable into the database file. A failing checkpoint is retried at the
// next tick; the writer's own health reports a broken disk.
type checkpointer struct {
	db   *sql.DB
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func startCheckpointer(dsn string) (*checkpointer, error) {
	db, err := sql.Open(sqliteDriverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
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
			var busy, logFrames, moved int
			_ = c.db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &moved)
		}
	}
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
