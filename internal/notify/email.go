package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/contact"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// Email is a rendered email ready for a Sender.
type Email struct {
	ID      string // outbox message id: the Message-ID, so a resent copy is recognisable
	From    mail.Address
	To      string
	ReplyTo string
	Subject string
	Text    string
	HTML    string
	Lang    string
	Date    time.Time
	Headers map[string]string // extra headers (X-OpenPSP-…)
}

// Sender hands an email to a mail server.
type Sender interface {
	Send(ctx context.Context, e Email) (outbox.Outcome, error)
}

// DemoStore keeps TEST-mode messages for /demo/mail (*store.DB implements it).
type DemoStore interface {
	KeepDemoMessage(ctx context.Context, m store.DemoMessage) error
	DemoMessages(ctx context.Context, limit int) ([]store.DemoMessage, error)
	DemoMessage(ctx context.Context, id string) (store.DemoMessage, error)
}

// EmailOptions configures the email deliverer.
type EmailOptions struct {
	// From is the sender, "Name <address>" (OPENPSP_MAIL_FROM). Buyer emails
	// show the shop's name with this address; merchant notices show it as is.
	From string
	// Sender is the SMTP server; nil when none is configured.
	Sender Sender
	// Demo keeps every TEST-mode email for /demo/mail; nil disables that.
	Demo DemoStore
	// Templates gives shops' own templates; nil: built-in ones only.
	Templates TemplateStore
	Clock     clock.Clock
	Logger    *slog.Logger
}

// EmailDeliverer renders and sends the "email" channel.
type EmailDeliverer struct {
	from   mail.Address
	sender Sender
	demo   DemoStore
	render *Renderer
	clock  clock.Clock
}

// NewEmailDeliverer returns the deliverer of the "email" channel.
func NewEmailDeliverer(o EmailOptions) (*EmailDeliverer, error) {
	if o.From == "" {
		o.From = "OpenPSP <no-reply@openpsp.localhost>"
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("notify: sender address %q: %w", o.From, err)
	}
	if from.Name == "" {
		from.Name = "OpenPSP"
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return &EmailDeliverer{from: *from, sender: o.Sender, demo: o.Demo, render: NewRenderer(o.Templates, o.Logger), clock: o.Clock}, nil
}

// Compose renders a message into an Email (also used by previews).
func (d *EmailDeliverer) Compose(ctx context.Context, m outbox.Delivery) (Email, Content, error) {
	var c Content
	if err := json.Unmarshal([]byte(m.Payload), &c); err != nil {
		return Email{}, c, outbox.Permanent(fmt.Errorf("email payload: %w", err))
	}
	if !contact.ValidEmail(m.Target) {
		return Email{}, c, outbox.Permanent(fmt.Errorf("invalid recipient address %q", m.Target))
	}
	r, err := d.render.Email(ctx, c)
	if err != nil {
		return Email{}, c, outbox.Permanent(err)
	}
	from := d.from
	var replyTo string
	if c.Recipient == "buyer" {
		// The buyer sees who they paid, and a reply reaches the shop.
		if name := strings.TrimSpace(c.Shop.Name); name != "" {
			from.Name = name
		}
		if contact.ValidEmail(c.Shop.Email) {
			replyTo = c.Shop.Email
		}
	}
	date := m.CreatedAt
	if date.IsZero() {
		date = d.clock.Now()
	}
	return Email{
		ID: m.ID, From: from, To: m.Target, ReplyTo: replyTo, Subject: r.Subject, Text: r.Text, HTML: r.HTML,
		Lang: Language(c.Lang), Date: date,
		Headers: map[string]string{"X-OpenPSP-Event-Id": m.ID, "X-OpenPSP-Event": m.Event},
	}, c, nil
}

// Deliver renders one email and sends it; TEST-mode emails are also kept
// for /demo/mail. Without an SMTP server a PRODUCTION email fails (and is
// retried): it is never shown on the demo page.
func (d *EmailDeliverer) Deliver(ctx context.Context, m outbox.Delivery) (outbox.Outcome, error) {
	e, c, err := d.Compose(ctx, m)
	if err != nil {
		return outbox.Outcome{}, err
	}
	kept := false
	if c.Mode == shop.ModeTest && d.demo != nil {
		if err := d.demo.KeepDemoMessage(ctx, store.DemoMessage{
			OutboxID: m.ID, ShopID: m.ShopID, Channel: outbox.ChannelEmail, Event: m.Event, Mode: c.Mode,
			Recipient: e.To, Sender: e.From.String(), Subject: e.Subject, Text: e.Text, HTML: e.HTML,
			Headers: demoHeaders(e), CreatedAt: d.clock.Now(),
		}); err != nil {
			return outbox.Outcome{}, err
		}
		kept = true
	}
	if d.sender != nil {
		return d.sender.Send(ctx, e)
	}
	if kept {
		return outbox.Outcome{Response: "kept for /demo/mail (no SMTP server configured)"}, nil
	}
	return outbox.Outcome{}, errors.New("no SMTP server configured (OPENPSP_SMTP_URL)")
}

func demoHeaders(e Email) map[string]string {
	h := map[string]string{"Content-Language": e.Lang, "Date": e.Date.UTC().Format(time.RFC1123Z)}
	if e.ReplyTo != "" {
		h["Reply-To"] = e.ReplyTo
	}
	for k, v := range e.Headers {
		h[k] = v
	}
	return h
}
