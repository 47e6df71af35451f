package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/contact"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/version"
)

// SMS is a rendered text message.
type SMS struct {
	ID   string // outbox message id: gateways that deduplicate can use it
	To   string // E.164
	From string // sender id, may be empty (the gateway's default)
	Text string
}

// SMSProvider sends an SMS through a gateway.
type SMSProvider interface {
	SendSMS(ctx context.Context, s SMS) (outbox.Outcome, error)
}

// SMSFields names the body fields of the gateway request. "-" leaves a
// field out.
type SMSFields struct {
	To   string // default "to"
	From string // default "from"
	Text string // default "text"
	ID   string // default "reference"
}

// ParseSMSFields reads "to=msisdn,text=message,from=sender,id=-".
func ParseSMSFields(s string) (SMSFields, error) {
	var f SMSFields
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok || v == "" {
			return f, fmt.Errorf("notify: SMS field %q: want name=field", p)
		}
		switch strings.TrimSpace(k) {
		case "to":
			f.To = v
		case "from":
			f.From = v
		case "text":
			f.Text = v
		case "id":
			f.ID = v
		default:
			return f, fmt.Errorf("notify: SMS field %q: names are to, from, text and id", k)
		}
	}
	return f, nil
}

// HTTPSMSConfig configures the generic SMS gateway adapter: one POST per
// SMS, a JSON object or a form, with configurable field names.
type HTTPSMSConfig struct {
	URL     string            // OPENPSP_SMS_URL; user:password in it becomes HTTP Basic auth
	Format  string            // "json" (default) or "form" (OPENPSP_SMS_FORMAT)
	Token   string            // bearer token (OPENPSP_SMS_TOKEN)
	From    string            // sender id
	Fields  SMSFields         //
	Extra   map[string]string // constant fields (account id, route …)
	Headers map[string]string // extra request headers
	Timeout time.Duration     // default 20s
	Client  *http.Client      // tests
}

// HTTPSMS is the generic HTTP SMS gateway adapter.
type HTTPSMS struct {
	cfg      HTTPSMSConfig
	endpoint string
	user     *url.Userinfo
	client   *http.Client
}

// NewHTTPSMS checks cfg and returns the adapter.
func NewHTTPSMS(cfg HTTPSMSConfig) (*HTTPSMS, error) {
	if !contact.ValidSMSGateway(cfg.URL) {
		return nil, fmt.Errorf("notify: SMS gateway URL must be an http(s) URL")
	}
	u, _ := url.Parse(cfg.URL) // parses: checked just above
	switch cfg.Format {
	case "":
		cfg.Format = "json"
	case "json", "form":
	default:
		return nil, fmt.Errorf("notify: SMS format must be json or form, not %q", cfg.Format)
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&cfg.Fields.To, "to")
	def(&cfg.Fields.From, "from")
	def(&cfg.Fields.Text, "text")
	def(&cfg.Fields.ID, "reference")
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	h := &HTTPSMS{cfg: cfg, user: u.User, client: cfg.Client}
	u.User = nil
	h.endpoint = u.String()
	if h.client == nil {
		h.client = &http.Client{Timeout: cfg.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return h, nil
}

// SendSMS posts one SMS. Any 2xx is success; 400 and 422 (the gateway
// refuses this message) are permanent; everything else is retried.
func (h *HTTPSMS) SendSMS(ctx context.Context, s SMS) (outbox.Outcome, error) {
	fields := map[string]string{}
	for k, v := range h.cfg.Extra {
		fields[k] = v
	}
	set := func(name, v string) {
		if name != "-" && v != "" {
			fields[name] = v
		}
	}
	from := s.From
	if from == "" {
		from = h.cfg.From
	}
	set(h.cfg.Fields.To, s.To)
	set(h.cfg.Fields.From, from)
	set(h.cfg.Fields.Text, s.Text)
	set(h.cfg.Fields.ID, s.ID)

	var body io.Reader
	var ctype string
	if h.cfg.Format == "form" {
		v := url.Values{}
		for k, f := range fields {
			v.Set(k, f)
		}
		body, ctype = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	} else {
		b, err := json.Marshal(fields)
		if err != nil {
			return outbox.Outcome{}, err
		}
		body, ctype = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint, body)
	if err != nil {
		return outbox.Outcome{}, err
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "OpenPSP/"+version.Version)
	for k, v := range h.cfg.Headers {
		req.Header.Set(k, v)
	}
	if h.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.cfg.Token)
	} else if h.user != nil {
		p, _ := h.user.Password()
		req.SetBasicAuth(h.user.Username(), p)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return outbox.Outcome{}, err
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, outbox.ResponseExcerptBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	out := outbox.Outcome{StatusCode: resp.StatusCode, Response: string(excerpt)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return out, nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity:
		return out, outbox.Permanent(fmt.Errorf("SMS gateway refused the message: HTTP %d", resp.StatusCode))
	default:
		return out, fmt.Errorf("SMS gateway: HTTP %d", resp.StatusCode)
	}
}

// SMSOptions configures the SMS deliverer.
type SMSOptions struct {
	Provider  SMSProvider   // nil when no gateway is configured
	Demo      DemoStore     // keeps every TEST-mode SMS for /demo/mail; nil disables that
	Templates TemplateStore // shops' own texts; nil: built-in ones
	From      string        // sender id
	Clock     clock.Clock
	Logger    *slog.Logger
}

// SMSDeliverer renders and sends the "sms" channel.
type SMSDeliverer struct {
	o      SMSOptions
	render *Renderer
}

// NewSMSDeliverer returns the deliverer of the "sms" channel.
func NewSMSDeliverer(o SMSOptions) *SMSDeliverer {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return &SMSDeliverer{o: o, render: NewRenderer(o.Templates, o.Logger)}
}

// Deliver renders one SMS and sends it; TEST-mode ones are also kept for
// /demo/mail. Without a gateway a PRODUCTION SMS fails (and is retried).
func (d *SMSDeliverer) Deliver(ctx context.Context, m outbox.Delivery) (outbox.Outcome, error) {
	var c Content
	if err := json.Unmarshal([]byte(m.Payload), &c); err != nil {
		return outbox.Outcome{}, outbox.Permanent(fmt.Errorf("SMS payload: %w", err))
	}
	if !contact.ValidPhone(m.Target) {
		return outbox.Outcome{}, outbox.Permanent(fmt.Errorf("%q is not an E.164 phone number", m.Target))
	}
	text, err := d.render.SMS(ctx, c)
	if err != nil {
		return outbox.Outcome{}, outbox.Permanent(err)
	}
	kept := false
	if c.Mode == shop.ModeTest && d.o.Demo != nil {
		if err := d.o.Demo.KeepDemoMessage(ctx, store.DemoMessage{
			OutboxID: m.ID, ShopID: m.ShopID, Channel: outbox.ChannelSMS, Event: m.Event, Mode: c.Mode,
			Recipient: m.Target, Sender: d.o.From, Text: text, CreatedAt: d.o.Clock.Now(),
		}); err != nil {
			return outbox.Outcome{}, err
		}
		kept = true
	}
	if d.o.Provider != nil {
		return d.o.Provider.SendSMS(ctx, SMS{ID: m.ID, To: m.Target, From: d.o.From, Text: text})
	}
	if kept {
		return outbox.Outcome{Response: "kept for /demo/mail (no SMS gateway configured)"}, nil
	}
	return outbox.Outcome{}, errors.New("no SMS gateway configured (OPENPSP_SMS_URL)")
}
