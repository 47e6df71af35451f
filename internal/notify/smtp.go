package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/version"
)

// SMTP connection security.
const (
	SMTPStartTLS      = "starttls"      // STARTTLS required (smtp://, the default)
	SMTPImplicitTLS   = "tls"           // TLS from the first byte (smtps://)
	SMTPOpportunistic = "opportunistic" // STARTTLS when offered
	SMTPPlain         = "none"          // no TLS: local test servers only
)

// SMTPConfig is how to reach the mail server.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	Security string      // one of the SMTP… constants
	TLS      *tls.Config // optional (e.g. a private CA); ServerName defaults to Host
	HELO     string      // optional EHLO name
	Timeout  time.Duration
}

// ParseSMTPURL reads OPENPSP_SMTP_URL: smtp://user:pass@host:587 (STARTTLS
// required) or smtps://user:pass@host:465 (implicit TLS). The query
// parameter starttls=opportunistic or starttls=none relaxes smtp:// for
// local relays and test servers; helo=name and timeout=30s are optional.
// User and password are URL-decoded ("%40" for "@").
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPConfig{}, fmt.Errorf("notify: SMTP URL: %w", err)
	}
	var c SMTPConfig
	switch u.Scheme {
	case "smtp":
		c.Security, c.Port = SMTPStartTLS, 587
	case "smtps":
		c.Security, c.Port = SMTPImplicitTLS, 465
	default:
		return c, fmt.Errorf("notify: SMTP URL must start with smtp:// or smtps://")
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return c, fmt.Errorf("notify: SMTP URL has no host")
	}
	if p := u.Port(); p != "" {
		if c.Port, err = strconv.Atoi(p); err != nil || c.Port <= 0 || c.Port > 65535 {
			return c, fmt.Errorf("notify: SMTP URL port %q", p)
		}
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	switch v := q.Get("starttls"); v {
	case "", "mandatory", "required":
	case "opportunistic", "none":
		if c.Security == SMTPImplicitTLS {
			return c, fmt.Errorf("notify: starttls=%s makes no sense with smtps://", v)
		}
		c.Security = map[string]string{"opportunistic": SMTPOpportunistic, "none": SMTPPlain}[v]
	default:
		return c, fmt.Errorf("notify: SMTP URL starttls must be mandatory, opportunistic or none, not %q", v)
	}
	c.HELO = q.Get("helo")
	if v := q.Get("timeout"); v != "" {
		if c.Timeout, err = time.ParseDuration(v); err != nil || c.Timeout <= 0 {
			return c, fmt.Errorf("notify: SMTP URL timeout %q", v)
		}
	}
	return c, nil
}

// SMTPSender sends emails with go-mail, one connection per email so that
// concurrent deliveries share nothing.
type SMTPSender struct {
	cfg SMTPConfig
}

// NewSMTPSender checks cfg and returns a sender.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if cfg.Host == "" || cfg.Port <= 0 {
		return nil, errors.New("notify: SMTP host and port are required")
	}
	switch cfg.Security {
	case "":
		cfg.Security = SMTPStartTLS
	case SMTPStartTLS, SMTPImplicitTLS, SMTPOpportunistic, SMTPPlain:
	default:
		return nil, fmt.Errorf("notify: unknown SMTP security %q", cfg.Security)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTPSender{cfg: cfg}, nil
}

func (s *SMTPSender) client() (*gomail.Client, error) {
	c := s.cfg
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLS != nil {
		tc = c.TLS.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = c.Host
	}
	opts := []gomail.Option{gomail.WithPort(c.Port), gomail.WithTimeout(c.Timeout), gomail.WithTLSConfig(tc)}
	switch c.Security {
	case SMTPImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case SMTPStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case SMTPOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case SMTPPlain:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if c.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	if c.HELO != "" {
		opts = append(opts, gomail.WithHELO(c.HELO))
	}
	return gomail.NewClient(c.Host, opts...)
}

// message builds the MIME message: multipart/alternative with the text part
// first and the HTML part last (the one clients prefer).
func message(e Email) (*gomail.Msg, error) {
	m := gomail.NewMsg()
	m.FromMailAddress(&e.From)
	if err := m.To(e.To); err != nil {
		return nil, outbox.Permanent(fmt.Errorf("recipient: %w", err))
	}
	if e.ReplyTo != "" {
		if err := m.ReplyTo(e.ReplyTo); err != nil {
			return nil, outbox.Permanent(fmt.Errorf("reply-to: %w", err))
		}
	}
	m.Subject(e.Subject)
	domain := "openpsp.localhost"
	if _, d, ok := strings.Cut(e.From.Address, "@"); ok && d != "" {
		domain = d
	}
	m.SetMessageIDWithValue(e.ID + "@" + domain)
	m.SetDateWithValue(e.Date)
	m.SetUserAgent("OpenPSP/" + version.Version)
	if e.Lang != "" {
		m.SetGenHeader(gomail.HeaderContentLang, e.Lang)
	}
	// RFC 3834: automatic replies (vacation notices) should not answer.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	for k, v := range e.Headers {
		m.SetGenHeader(gomail.Header(k), v)
	}
	m.SetBodyString(gomail.TypeTextPlain, e.Text)
	if e.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, e.HTML)
	}
	return m, nil
}

// Send delivers one email. A permanent refusal of the recipient (5xx to
// RCPT TO) is not retried; everything else is.
func (s *SMTPSender) Send(ctx context.Context, e Email) (outbox.Outcome, error) {
	m, err := message(e)
	if err != nil {
		return outbox.Outcome{}, err
	}
	c, err := s.client()
	if err != nil {
		return outbox.Outcome{}, fmt.Errorf("smtp client: %w", err)
	}
	conn, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return outbox.Outcome{}, fmt.Errorf("smtp %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	defer c.CloseWithSMTPClient(conn) //nolint:errcheck // the message is already accepted or refused
	if err := c.SendWithSMTPClient(conn, m); err != nil {
		out := outbox.Outcome{Response: err.Error()}
		var se *gomail.SendError
		if errors.As(err, &se) {
			out.StatusCode = se.ErrorCode()
			if !se.IsTemp() && se.Reason == gomail.ErrSMTPRcptTo {
				return out, outbox.Permanent(err)
			}
		}
		return out, err
	}
	return outbox.Outcome{StatusCode: 250, Response: m.ServerResponse()}, nil
}
