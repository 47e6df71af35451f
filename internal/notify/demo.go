package notify

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

var demoPages = template.Must(template.New("demo").Funcs(map[string]any{
	"clip": func(s string, n int) string {
		if utf8.RuneCountInString(s) <= n {
			return s
		}
		r := []rune(s)
		return string(r[:n]) + "…"
	},
}).ParseFS(files, "templates/demo/page.html"))

// DemoOptions configures the /demo/mail page.
type DemoOptions struct {
	// Base is where the handler is mounted (default "/demo/mail").
	Base string
	// Outgoing tells the page that an SMTP server or SMS gateway is
	// configured, so kept messages are copies.
	Outgoing bool
	// ShopPath is where the demo shop is: the list links back to it (the
	// shop links to the mailbox). Empty: no link.
	ShopPath string
	// Shops finds the shop of a message read without its content, whose
	// time zone of today the page then writes the message's time in (a
	// message read with it: the zone the message wrote its times in);
	// nil, or a shop not found: UTC.
	Shops  ShopFinder
	Logger *slog.Logger
}

// ShopFinder finds a shop by its id (the store).
type ShopFinder interface {
	Shop(ctx context.Context, id string) (shop.Shop, error)
}

// DemoHandler serves the TEST-mode mailbox: GET Base lists kept emails and
// SMS newest first (?format=json for scripts), GET Base/{id} shows one, its
// HTML part in a sandboxed iframe. Mount it on Base and Base+"/", only when
// the demo is enabled.
func DemoHandler(st DemoStore, o DemoOptions) http.Handler {
	if o.Base == "" {
		o.Base = "/demo/mail"
	}
	o.Base = strings.TrimRight(o.Base, "/")
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &demoHandler{st: st, o: o}
}

type demoHandler struct {
	st DemoStore
	o  DemoOptions
}

type demoPage struct {
	Title    string
	Base     string
	ShopPath string
	Outgoing bool
	Messages []store.DemoMessage
	Message  store.DemoMessage
	zones    map[string]*time.Location // message id → the zone of its times (messageZones)
}

// DemoWhen is when something reached a demo page (a kept message, an IPN
// the demo shop received), in its shop's time zone: the day
// ("2030-03-04") and the time with the zone ("11:30:05 CET"), which a
// list may put on two lines.
type DemoWhen struct{ Day, Time string }

// DemoTime is t in loc (nil: UTC) as the demo pages write it, the zone
// named as the English emails name it: the pages are in English, and a
// message tells its times in its shop's zone.
func DemoTime(t time.Time, loc *time.Location) DemoWhen {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	return DemoWhen{Day: t.Format("2006-01-02"), Time: t.Format("15:04:05") + "\u00a0" + zoneLabel("en", t)}
}

// When is the time m was sent in the zone it wrote its times in
// (DemoTime, messageZones).
func (p demoPage) When(m store.DemoMessage) DemoWhen {
	return DemoTime(m.CreatedAt, p.zones[m.ID])
}

// ShopZone is the time zone of the shop id for the demo pages: UTC when
// there is no shops to ask or the shop is not found.
func ShopZone(ctx context.Context, shops ShopFinder, id string) (*time.Location, error) {
	if shops == nil {
		return time.UTC, nil
	}
	s, err := shops.Shop(ctx, id)
	switch {
	case errors.Is(err, shop.ErrNotFound):
		return time.UTC, nil
	case err != nil:
		return nil, err
	}
	return shop.Zone(s.Settings.TimeZone), nil
}

// messageZones finds the time zone each of msgs wrote its times in: that
// of its content, the shop's zone when the event happened
// (Content.TimeZone), which the buyer read in the message itself. The
// shop's zone of today was another once the shop moved: an email that
// said 18:30 CET was listed at 12:30 EST. A message read without its
// content: its shop's zone of today (ShopZone), the best guess left.
func (h *demoHandler) messageZones(ctx context.Context, msgs ...store.DemoMessage) (map[string]*time.Location, error) {
	zones := map[string]*time.Location{}
	today := map[string]*time.Location{} // shop id → its zone of today
	for _, m := range msgs {
		var c Content
		if m.Payload != "" && json.Unmarshal([]byte(m.Payload), &c) == nil {
			zones[m.ID] = shop.Zone(c.TimeZone)
			continue
		}
		loc, ok := today[m.ShopID]
		if !ok {
			var err error
			if loc, err = ShopZone(ctx, h.o.Shops, m.ShopID); err != nil {
				return nil, err
			}
			today[m.ShopID] = loc
		}
		zones[m.ID] = loc
	}
	return zones, nil
}

func (h *demoHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, h.o.Base)
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	// The kept HTML is shown through srcdoc, which inherits this policy: no
	// script runs, styles and images of the email still render.
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	page := demoPage{Base: h.o.Base, ShopPath: h.o.ShopPath, Outgoing: h.o.Outgoing}
	switch id := strings.Trim(rest, "/"); {
	case id == "":
		msgs, err := h.st.DemoMessages(r.Context(), 200)
		if err != nil {
			h.fail(w, err)
			return
		}
		if r.URL.Query().Get("format") == "json" {
			hdr.Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(demoJSON(msgs))
			return
		}
		if page.zones, err = h.messageZones(r.Context(), msgs...); err != nil {
			h.fail(w, err)
			return
		}
		page.Title, page.Messages = "Demo mailbox", msgs
		h.render(w, "list", page)
	case strings.Contains(id, "/"):
		http.NotFound(w, r)
	default:
		m, err := h.st.DemoMessage(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			h.fail(w, err)
			return
		}
		if page.zones, err = h.messageZones(r.Context(), m); err != nil {
			h.fail(w, err)
			return
		}
		page.Title, page.Message = m.Subject, m
		if page.Title == "" {
			page.Title = "SMS to " + m.Recipient
		}
		h.render(w, "view", page)
	}
}

func (h *demoHandler) render(w http.ResponseWriter, name string, page demoPage) {
	var b strings.Builder
	if err := demoPages.ExecuteTemplate(&b, name, page); err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

func (h *demoHandler) fail(w http.ResponseWriter, err error) {
	h.o.Logger.Error("notify: demo mailbox", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

type demoItem struct {
	ID        string            `json:"id"`
	OutboxID  string            `json:"outboxId"`
	ShopID    string            `json:"shopId"`
	Channel   string            `json:"channel"`
	Event     string            `json:"event"`
	Mode      string            `json:"mode"`
	To        string            `json:"to"`
	From      string            `json:"from,omitempty"`
	Subject   string            `json:"subject,omitempty"`
	Text      string            `json:"text"`
	HTML      string            `json:"html,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	CreatedAt string            `json:"createdAt"`
}

func demoJSON(ms []store.DemoMessage) []demoItem {
	out := make([]demoItem, 0, len(ms))
	for _, m := range ms {
		out = append(out, demoItem{ID: m.ID, OutboxID: m.OutboxID, ShopID: m.ShopID, Channel: m.Channel, Event: m.Event, Mode: m.Mode,
			To: m.Recipient, From: m.Sender, Subject: m.Subject, Text: m.Text, HTML: m.HTML, Headers: m.Headers,
			CreatedAt: m.CreatedAt.Format("2006-01-02T15:04:05.000000Z07:00")})
	}
	return out
}
