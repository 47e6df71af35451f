package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/jsonstr"
	"github.com/openpsp/openpsp/internal/outbox"
)

// DemoMessage is an email or SMS kept for the TEST-mode /demo/mail page:
// the outbox's copy, which a delivery's result carries (outbox.Outcome.Keep).
type DemoMessage = outbox.DemoCopy

// DemoKeep bounds the kept messages: a demo machine left running for months
// must not grow without end.
const DemoKeep = 1000

// DemoPruneEvery is how many kept messages of one open database share one
// pruning: the prune walks the newest DemoKeep rows, too much to do on
// every email under load. Between prunes a copy adds at most
// DemoPruneEvery-1 messages, so at most DemoKeep+DemoPruneEvery-1 are kept
// (per copy writing to the database).
const DemoPruneEvery = 100

// KeepDemoMessage stores m once per outbox message (a redelivery is a no-op)
// and, once every DemoPruneEvery messages, drops the oldest copies beyond
// the newest DemoKeep. The deliverers' copies are written with their
// results instead (FinishOutboxBatch).
func (db *DB) KeepDemoMessage(ctx context.Context, m DemoMessage) error {
	ins, err := db.demoInserts([]DemoMessage{m})
	if err != nil {
		return err
	}
	prune := db.demoPruneDue(1)
	return db.Write(ctx, func(tx *sql.Tx) error {
		if err := db.execGroup(tx, ins); err != nil {
			return err
		}
		if err := pruneDemo(tx, prune); err != nil {
			return fmt.Errorf("store: prune demo messages: %w", err)
		}
		return nil
	})
}

const demoInsertColumns = `id, outbox_id, shop_id, channel, event, mode, recipient, sender, subject, text_body, html_body, headers, created_at`

// demoInserts are the statements that keep ms, each unless its message
// has a copy already. On PostgreSQL they are one statement whatever their
// number (one array per column): a delivery results' group (finishMany)
// then has one statement text per number of results and not one per
// pattern of which carry a copy, each text being prepared once per
// connection. SQLite gets one statement per message.
func (db *DB) demoInserts(ms []DemoMessage) ([]groupStmt, error) {
	var out []groupStmt
	cols := make([][]string, 12)
	var created []int64
	for _, m := range ms {
		if m.ID == "" {
			m.ID = ids.New()
		}
		headers, err := jsonstr.Marshal(m.Headers)
		if err != nil {
			return nil, fmt.Errorf("store: demo message headers: %w", err)
		}
		if m.Headers == nil {
			headers = "{}"
		}
		vals := []string{m.ID, m.OutboxID, m.ShopID, m.Channel, m.Event, m.Mode, m.Recipient, m.Sender, m.Subject, m.Text, m.HTML, headers}
		if db.dialect == Postgres {
			for i, v := range vals {
				cols[i] = append(cols[i], v)
			}
			created = append(created, Micros(m.CreatedAt))
			continue
		}
		args := make([]any, 0, 13)
		for _, v := range vals {
			args = append(args, v)
		}
		out = append(out, groupStmt{what: "keep demo message",
			query: `INSERT INTO demo_messages (` + demoInsertColumns + `)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (outbox_id) DO NOTHING`,
			args: append(args, Micros(m.CreatedAt))})
	}
	if db.dialect == Postgres && len(ms) > 0 {
		args := make([]any, 0, 13)
		for _, c := range cols {
			args = append(args, c)
		}
		out = append(out, groupStmt{what: "keep demo messages",
			query: `INSERT INTO demo_messages (` + demoInsertColumns + `)
				SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
					$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[])
				ON CONFLICT (outbox_id) DO NOTHING`,
			args: append(args, created)})
	}
	return out, nil
}

// demoPruneDue counts n more kept messages and reports whether their write
// prunes: the first message of this open database does, then every
// DemoPruneEvery-th.
func (db *DB) demoPruneDue(n int) bool {
	if n <= 0 {
		return false
	}
	after := db.demoKept.Add(int64(n))
	before := after - int64(n)
	return before%DemoPruneEvery == 0 || before/DemoPruneEvery != (after-1)/DemoPruneEvery
}

// pruneDemo drops the copies below the DemoKeep-th newest (nothing while
// there are fewer), when prune is set.
func pruneDemo(tx *sql.Tx, prune bool) error {
	if !prune {
		return nil
	}
	_, err := tx.Exec(`DELETE FROM demo_messages WHERE created_at < (
		SELECT created_at FROM demo_messages ORDER BY created_at DESC LIMIT 1 OFFSET $1)`, DemoKeep-1)
	return err
}

const demoColumns = `id, outbox_id, shop_id, channel, event, mode, recipient, sender, subject, text_body, html_body, headers, created_at`

func scanDemo(row interface{ Scan(...any) error }) (DemoMessage, error) {
	var m DemoMessage
	var headers string
	var created int64
	if err := row.Scan(&m.ID, &m.OutboxID, &m.ShopID, &m.Channel, &m.Event, &m.Mode, &m.Recipient, &m.Sender, &m.Subject,
		&m.Text, &m.HTML, &headers, &created); err != nil {
		return m, err
	}
	m.CreatedAt = FromMicros(created)
	_ = json.Unmarshal([]byte(headers), &m.Headers)
	return m, nil
}

// DemoMessages returns the newest kept messages first.
func (db *DB) DemoMessages(ctx context.Context, limit int) ([]DemoMessage, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+demoColumns+` FROM demo_messages ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: demo messages: %w", err)
	}
	defer rows.Close()
	var out []DemoMessage
	for rows.Next() {
		m, err := scanDemo(rows)
		if err != nil {
			return nil, fmt.Errorf("store: demo messages: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// DemoMessage returns one kept message, or ErrNotFound.
func (db *DB) DemoMessage(ctx context.Context, id string) (DemoMessage, error) {
	m, err := scanDemo(db.read.QueryRowContext(ctx, `SELECT `+demoColumns+` FROM demo_messages WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return m, ErrNotFound
	}
	if err != nil {
		return m, fmt.Errorf("store: demo message: %w", err)
	}
	return m, nil
}

// NotifyTemplate is a shop's own wording of one notification in one
// language. Empty parts fall back to the built-in template.
type NotifyTemplate struct {
	ShopID    string
	Template  string // e.g. "payment.accepted.buyer"
	Lang      string
	Subject   string
	HTML      string
	Text      string
	UpdatedAt time.Time
}

// NotifyTemplate returns a shop's override, or ErrNotFound.
func (db *DB) NotifyTemplate(ctx context.Context, shopID, template, lang string) (NotifyTemplate, error) {
	return db.shopReads.templates.get([3]string{shopID, template, lang}, func() (NotifyTemplate, error) {
		return db.notifyTemplate(ctx, shopID, template, lang)
	})
}

func (db *DB) notifyTemplate(ctx context.Context, shopID, template, lang string) (NotifyTemplate, error) {
	t := NotifyTemplate{ShopID: shopID, Template: template, Lang: lang}
	var updated int64
	err := db.read.QueryRowContext(ctx, `SELECT subject, html_body, text_body, updated_at FROM notify_templates
		WHERE shop_id = $1 AND template = $2 AND lang = $3`, shopID, template, lang).Scan(&t.Subject, &t.HTML, &t.Text, &updated)
	if err == sql.ErrNoRows {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("store: notify template: %w", err)
	}
	t.UpdatedAt = FromMicros(updated)
	return t, nil
}

// PutNotifyTemplate creates or replaces a shop's override.
func (db *DB) PutNotifyTemplate(ctx context.Context, t NotifyTemplate) error {
	defer db.invalidateShops()
	err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO notify_templates (shop_id, template, lang, subject, html_body, text_body, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (shop_id, template, lang) DO UPDATE SET subject = excluded.subject, html_body = excluded.html_body,
				text_body = excluded.text_body, updated_at = excluded.updated_at`,
			t.ShopID, t.Template, t.Lang, t.Subject, t.HTML, t.Text, Micros(t.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: put notify template: %w", err)
	}
	return nil
}

// DeleteNotifyTemplate removes a shop's override (back to the built-in one).
func (db *DB) DeleteNotifyTemplate(ctx context.Context, shopID, template, lang string) error {
	defer db.invalidateShops()
	err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM notify_templates WHERE shop_id = $1 AND template = $2 AND lang = $3`, shopID, template, lang)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete notify template: %w", err)
	}
	return nil
}
