package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/jsonstr"
)

// DemoMessage is an email or SMS kept for the TEST-mode /demo/mail page.
type DemoMessage struct {
	ID        string
	OutboxID  string // one kept copy per outbox message
	ShopID    string
	Channel   string // email | sms
	Event     string
	Mode      string
	Recipient string
	Sender    string
	Subject   string
	Text      string
	HTML      string
	Headers   map[string]string
	CreatedAt time.Time
	// Payload is what its outbox message holds, the content the message
	// was written from (read, not kept: the outbox row has it); empty when
	// that row is not there.
	Payload string
}

// DemoKeep bounds the kept messages: a demo machine left running for months
// must not grow without end.
const DemoKeep = 1000

// DemoPruneEvery is how many KeepDemoMessage calls of one open database
// share one pruning: the prune walks the newest DemoKeep rows, too much to
// do on every email under load. Between prunes a copy adds at most
// DemoPruneEvery-1 messages, so at most DemoKeep+DemoPruneEvery-1 are kept
// (per copy writing to the database).
const DemoPruneEvery = 100

// KeepDemoMessage stores m once per outbox message (a redelivery is a no-op)
// and, once every DemoPruneEvery calls, drops the oldest copies beyond the
// newest DemoKeep.
func (db *DB) KeepDemoMessage(ctx context.Context, m DemoMessage) error {
	if m.ID == "" {
		m.ID = ids.New()
	}
	headers, err := jsonstr.Marshal(m.Headers)
	if err != nil {
		return fmt.Errorf("store: demo message headers: %w", err)
	}
	if m.Headers == nil {
		headers = "{}"
	}
	prune := (db.demoInserts.Add(1)-1)%DemoPruneEvery == 0
	err = db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO demo_messages (id, outbox_id, shop_id, channel, event, mode, recipient, sender, subject, text_body, html_body, headers, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (outbox_id) DO NOTHING`,
			m.ID, m.OutboxID, m.ShopID, m.Channel, m.Event, m.Mode, m.Recipient, m.Sender, m.Subject, m.Text, m.HTML, headers, Micros(m.CreatedAt)); err != nil {
			return err
		}
		if !prune {
			return nil
		}
		// Below the DemoKeep-th newest; nothing while there are fewer.
		_, err := tx.Exec(`DELETE FROM demo_messages WHERE created_at < (
			SELECT created_at FROM demo_messages ORDER BY created_at DESC LIMIT 1 OFFSET $1)`, DemoKeep-1)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: keep demo message: %w", err)
	}
	return nil
}

// demoFrom joins each kept copy to its outbox message, for its payload: a
// copy is deleted with its message (DeleteEndedOutbox), so the message is
// there but for copies kept without one.
const demoFrom = ` FROM demo_messages d LEFT JOIN outbox o ON o.id = d.outbox_id `

const demoColumns = `d.id, d.outbox_id, d.shop_id, d.channel, d.event, d.mode, d.recipient, d.sender, d.subject, d.text_body,
	d.html_body, d.headers, d.created_at, COALESCE(o.payload, '')`

func scanDemo(row interface{ Scan(...any) error }) (DemoMessage, error) {
	var m DemoMessage
	var headers string
	var created int64
	if err := row.Scan(&m.ID, &m.OutboxID, &m.ShopID, &m.Channel, &m.Event, &m.Mode, &m.Recipient, &m.Sender, &m.Subject,
		&m.Text, &m.HTML, &headers, &created, &m.Payload); err != nil {
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
	rows, err := db.read.QueryContext(ctx, `SELECT `+demoColumns+demoFrom+`ORDER BY d.created_at DESC, d.id DESC LIMIT $1`, limit)
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
	m, err := scanDemo(db.read.QueryRowContext(ctx, `SELECT `+demoColumns+demoFrom+`WHERE d.id = $1`, id))
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
