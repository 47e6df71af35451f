package store

import (
	"database/sql"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/outbox"
)

// InsertOutbox writes a message in the caller's transaction, so that it
// commits or rolls back with the change it announces. It fills m.ID when
// empty and returns the stored message.
func InsertOutbox(tx *sql.Tx, m outbox.Message, now time.Time) (outbox.Message, error) {
	m, st := insertOutboxStmt(m, now)
	return m, execGroupStmt(tx, st)
}

func insertOutboxStmt(m outbox.Message, now time.Time) (outbox.Message, groupStmt) {
	if m.ID == "" {
		m.ID = ids.New()
	}
	next := m.NotBefore
	if next.IsZero() {
		next = now
	}
	return m, groupStmt{what: "insert outbox message",
		query: `INSERT INTO outbox (id, shop_id, channel, event, ordering_key, target, payload, status, attempts, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING', 0, $8, $9)`,
		args: []any{m.ID, m.ShopID, m.Channel, m.Event, m.OrderingKey, m.Target, m.Payload, Micros(next), Micros(now)}}
}
