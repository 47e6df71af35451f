package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
)

// endedOutbox selects the messages that ended (DELIVERED or DEAD) before $1.
// An ended message's next_attempt_at is when it ended (finishOne), its last
// activity. created_at is never later than that, so the condition on it
// lets both engines read outbox_listing (status, created_at) for the two
// statuses, up to the cutoff, instead of scanning the table: no index of its
// own, which every delivery would pay for. The rows that range reads and
// next_attempt_at throws away are those created before the cutoff that
// ended after it (a day of retries, a re-drive): few.
const endedOutbox = `status IN ('DELIVERED', 'DEAD') AND created_at < $1 AND next_attempt_at < $1`

// deleteEndedPostgres is DeleteEndedOutbox's statement on PostgreSQL.
const deleteEndedPostgres = `WITH victims AS (
		SELECT id FROM outbox WHERE ` + endedOutbox + ` LIMIT $2 FOR UPDATE SKIP LOCKED),
	log AS (DELETE FROM outbox_attempts WHERE outbox_id IN (SELECT id FROM victims)),
	copies AS (DELETE FROM demo_messages WHERE outbox_id IN (SELECT id FROM victims)),
	gone AS (DELETE FROM outbox o USING victims v WHERE o.id = v.id RETURNING 1)
	SELECT COUNT(*) FROM gone`

// deleteEndedSQLite deletes the delivery log and the /demo/mail copy of the
// messages chosen in temp.outbox_purge, before the messages themselves.
var deleteEndedSQLite = []string{
	`DELETE FROM outbox_attempts WHERE outbox_id IN (SELECT id FROM temp.outbox_purge)`,
	`DELETE FROM demo_messages WHERE outbox_id IN (SELECT id FROM temp.outbox_purge)`,
}

// CountEndedOutbox counts the messages DeleteEndedOutbox would delete.
func (db *DB) CountEndedOutbox(ctx context.Context, cutoff time.Time) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE `+endedOutbox, Micros(cutoff)).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count ended outbox messages: %w", err)
	}
	return n, nil
}

// DeleteEndedOutbox deletes up to limit messages that ended (DELIVERED or
// DEAD) before cutoff, with their delivery log and their /demo/mail copy,
// in one write transaction, and returns how many it deleted. A PENDING
// message is never touched.
//
// On PostgreSQL one statement does it: the chosen rows are locked, skipping
// those another copy's batch (or a re-drive) holds, and under READ
// COMMITTED the lock re-checks the condition on the newest row version, so
// a message re-driven meanwhile is PENDING and left alone. On SQLite the
// transaction is the only writer; the chosen ids go to a temporary table so
// that the log, the copy and the message are deleted for the same messages.
func (db *DB) DeleteEndedOutbox(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, errors.New("store: outbox purge batch size must be positive")
	}
	at := Micros(cutoff)
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		if db.dialect == Postgres {
			return tx.QueryRow(deleteEndedPostgres, at, limit).Scan(&n)
		}
		if _, err := tx.Exec(`CREATE TEMP TABLE IF NOT EXISTS outbox_purge (id TEXT PRIMARY KEY)`); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM temp.outbox_purge`); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO temp.outbox_purge (id) SELECT id FROM outbox WHERE `+endedOutbox+` LIMIT $2`, at, limit); err != nil {
			return err
		}
		for _, q := range deleteEndedSQLite {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
		res, err := tx.Exec(`DELETE FROM outbox WHERE id IN (SELECT id FROM temp.outbox_purge)`)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.Exec(`DELETE FROM temp.outbox_purge`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete ended outbox messages: %w", err)
	}
	return int(n), nil
}

var _ outbox.Pruner = (*DB)(nil)
