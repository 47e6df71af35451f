package notify

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/outbox"
)

// Wiring is what the email and SMS channels take from the configuration.
type Wiring struct {
	SMTPURL   string // OPENPSP_SMTP_URL; empty: no SMTP server
	MailFrom  string // OPENPSP_MAIL_FROM, "Name <address>"
	SMSURL    string // OPENPSP_SMS_URL; empty: no SMS gateway
	SMSFormat string // OPENPSP_SMS_FORMAT: json or form
	SMSToken  string // OPENPSP_SMS_TOKEN: bearer token
	SMSFrom   string // sender id shown on SMS (optional)
	SMSFields string // gateway field names, "to=msisdn,text=message,from=sender,id=-" (optional)
	Demo      bool   // OPENPSP_DEMO: keep TEST-mode emails and SMS for /demo/mail
}

// WiringStore is what the channels need from the database (*store.DB).
type WiringStore interface {
	DemoStore
	TemplateStore
}

// Deliverers returns the "email" and "sms" deliverers for the dispatcher.
// Without SMTP or a gateway, TEST-mode messages still arrive on the demo
// page (when Demo is on) and PRODUCTION ones wait, retried, for the
// configuration.
func (w Wiring) Deliverers(st WiringStore, clk clock.Clock, log *slog.Logger) (map[string]outbox.Deliverer, error) {
	var demo DemoStore
	if w.Demo {
		demo = st
	}
	eo := EmailOptions{From: w.MailFrom, Demo: demo, Templates: st, Clock: clk, Logger: log}
	if w.SMTPURL != "" {
		cfg, err := ParseSMTPURL(w.SMTPURL)
		if err != nil {
			return nil, err
		}
		if eo.Sender, err = NewSMTPSender(cfg); err != nil {
			return nil, err
		}
	}
	email, err := NewEmailDeliverer(eo)
	if err != nil {
		return nil, err
	}
	so := SMSOptions{Demo: demo, Templates: st, From: w.SMSFrom, Clock: clk, Logger: log}
	if w.SMSURL != "" {
		fields, err := ParseSMSFields(w.SMSFields)
		if err != nil {
			return nil, err
		}
		p, err := NewHTTPSMS(HTTPSMSConfig{URL: w.SMSURL, Format: w.SMSFormat, Token: w.SMSToken, From: w.SMSFrom, Fields: fields})
		if err != nil {
			return nil, fmt.Errorf("%w (OPENPSP_SMS_URL)", err)
		}
		so.Provider = p
	}
	return map[string]outbox.Deliverer{outbox.ChannelEmail: email, outbox.ChannelSMS: NewSMSDeliverer(so)}, nil
}

// DemoPageStore is what the /demo/mail page reads: the kept messages and
// their shops (for their time zones).
type DemoPageStore interface {
	DemoStore
	ShopFinder
}

// DemoPage returns the /demo/mail handler for this configuration; its list
// links back to the demo shop at shopPath (none when empty).
func (w Wiring) DemoPage(st DemoPageStore, log *slog.Logger, shopPath string) http.Handler {
	return DemoHandler(st, DemoOptions{Outgoing: w.SMTPURL != "" || w.SMSURL != "", ShopPath: shopPath, Shops: st, Logger: log})
}
