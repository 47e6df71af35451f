// Package notify turns payment and token events into outbox messages (order
// confirmations, merchant notices, the wallet document's five token
// channels), renders emails and SMS in the recipient's language with the
// shop's branding, and sends them: email through SMTP, SMS through an HTTP
// gateway, and, for TEST-mode events, into the store for the /demo/mail page.
//
// Producers call PaymentEvent and TokenEvent inside the transaction of the
// change they announce; the outbox dispatcher delivers later, with retries.
package notify

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/contact"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/jsonstr"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// Events, as outbox messages name them.
const (
	EventPaymentAccepted = "payment.accepted"
	EventPaymentRefused  = "payment.refused"
	EventTokenCreated    = "token.created"
	EventTokenUpdated    = "token.updated"
	EventTokenCancelled  = "token.cancelled"
)

// TokenKind is what happened to a token.
type TokenKind string

// Token events of the wallet document.
const (
	TokenCreated   TokenKind = "created"
	TokenUpdated   TokenKind = "updated"
	TokenCancelled TokenKind = "cancelled"
)

// PaymentFacts describe a decided payment for its notifications.
type PaymentFacts struct {
	PaymentID     string // ordering key: messages of one payment go out in order
	OrderID       string
	TransactionID string
	Mode          string // TEST or PRODUCTION
	Accepted      bool
	Amount        int64 // minor units
	Currency      string
	Brand         string
	PANMasked     string    // masked form only (497010XXXXXX0055)
	At            time.Time // when the payment was decided
	BuyerName     string
	ShopURL       string // the merchant's site, linked from the buyer's email (optional)
	DetailsURL    string // the back-office page of the payment, linked from the merchant's notice (optional)
	// TechnicalError: the acquirer could not be reached, nothing was
	// charged and the buyer may try again. The buyer gets no refusal
	// notice (the payment page tells them so; but see DebitAfterCheck);
	// the merchant's notice and the IPN still go out.
	TechnicalError bool
	// DebitAfterCheck: the decision is the authorization, the day before
	// its capture date, of a deferred debit whose card check was accepted.
	// The buyer was told the order was accepted and left the form long
	// ago: a technical error is told them too (the debit was not made,
	// nothing was charged), as a refusal is.
	DebitAfterCheck bool
	// DebitOn, for a deferred payment accepted on a card check alone, is
	// its expected capture date: the buyer's email says the amount is
	// debited then, not now.
	DebitOn time.Time
	// RefusedBefore: an earlier attempt at this payment (its formToken)
	// was refused, and the buyer got its refusal notice then. A buyer who
	// tries again on the form hears of the refusal once, not at every
	// attempt; the merchant's notice still goes out per attempt, as the
	// IPN does.
	RefusedBefore bool
	// Instalment, for an attempt at a subscription's instalment, says what
	// a refusal leads to: the buyer hears of a refused instalment once when
	// it will be retried and once when it has failed, not at every attempt.
	Instalment *Instalment
}

// Instalment is what follows the refusal of a subscription's instalment.
type Instalment struct {
	// RetryAt is when the instalment is tried again; zero when it is not:
	// the instalment has failed.
	RetryAt time.Time
	// Told: an earlier attempt at this instalment was refused, and the
	// buyer was told then that it would be retried.
	Told bool
}

// TokenFacts describe a token event for its notifications.
type TokenFacts struct {
	Token             string
	Mode              string // TEST or PRODUCTION
	Brand             string
	PANMasked         string // masked form only
	ExpiryMonth       int
	ExpiryYear        int
	CustomerReference string
	OrderID           string
	At                time.Time
	ShopURL           string // linked from the buyer's email (optional)
	DetailsURL        string // back-office page of the token (optional)
	// KRAnswer, when set, is the V4 Payment object (JSON) of the operation:
	// the notification URL then gets a PayZen IPN with it, as PayZen's
	// "notification URL on token update" does. Otherwise it gets a signed
	// OpenPSP webhook (docs/webhooks.md).
	KRAnswer string
	// NotificationURL overrides the shop's notification URL.
	NotificationURL string
}

// Buyer is who a buyer notification goes to.
type Buyer struct {
	Email    string
	Phone    string // E.164
	Language string // a language tag; the shop's language when empty or unsupported
	Name     string
}

// Skipped is a notification the shop enabled that could not be queued.
type Skipped struct {
	Channel string
	Role    string // buyer | merchant | url
	Reason  string
}

// Enqueued reports what an event queued.
type Enqueued struct {
	Messages []outbox.Message
	Skipped  []Skipped
}

func (e *Enqueued) skip(channel, role, reason string) {
	e.Skipped = append(e.Skipped, Skipped{Channel: channel, Role: role, Reason: reason})
}

// checkMode insists on an explicit mode: TEST messages are shown on the
// unauthenticated demo page, so a forgotten mode must not default to TEST.
func checkMode(mode string) error {
	if mode != shop.ModeTest && mode != shop.ModeProduction {
		return fmt.Errorf("notify: mode must be TEST or PRODUCTION, not %q", mode)
	}
	return nil
}

func shopView(s shop.Shop, url string) ShopView {
	return ShopView{ID: s.ID, Name: s.Name, LogoURL: s.LogoURL, Color: s.Settings.PrimaryColor,
		Email: merchantEmail(s), Phone: merchantPhone(s), URL: url}
}

func merchantEmail(s shop.Shop) string {
	if e := strings.TrimSpace(s.Settings.Notifications.MerchantEmail); e != "" {
		return e
	}
	return strings.TrimSpace(s.PrimaryEmail)
}

func merchantPhone(s shop.Shop) string {
	if p := strings.TrimSpace(s.Settings.Notifications.MerchantPhone); p != "" {
		return p
	}
	return strings.TrimSpace(s.PrimaryPhone)
}

// add encodes the payload of m and inserts m in tx; with tx nil it only
// collects m (see PaymentMessages).
func (e *Enqueued) add(tx *sql.Tx, now time.Time, m outbox.Message, c any) error {
	if m.Payload == "" {
		s, err := jsonstr.Marshal(c)
		if err != nil {
			return fmt.Errorf("notify: encode %s payload: %w", m.Channel, err)
		}
		m.Payload = s
	}
	if tx == nil {
		e.Messages = append(e.Messages, m)
		return nil
	}
	stored, err := store.InsertOutbox(tx, m, now)
	if err != nil {
		return err
	}
	e.Messages = append(e.Messages, stored)
	return nil
}

// PaymentEvent queues, in tx, the notifications of a decided payment: the
// order confirmation (or refusal notice) to the buyer when the shop sends
// confirmations, and the notice to the merchant when the shop asked for
// it. It never fails for a missing or invalid recipient: that is reported
// in Skipped and the payment goes on.
func PaymentEvent(tx *sql.Tx, now time.Time, s shop.Shop, p PaymentFacts, buyerEmail, buyerLanguage string) (Enqueued, error) {
	if tx == nil {
		return Enqueued{}, fmt.Errorf("notify: no transaction to queue the notifications in")
	}
	return paymentEvent(tx, now, s, p, buyerEmail, buyerLanguage)
}

// PaymentMessages returns what PaymentEvent would queue, payloads encoded,
// without inserting anything: for a caller that prepares its whole write
// before it runs (the payment service's settle write) and inserts the
// messages itself with store.InsertOutbox.
func PaymentMessages(now time.Time, s shop.Shop, p PaymentFacts, buyerEmail, buyerLanguage string) (Enqueued, error) {
	return paymentEvent(nil, now, s, p, buyerEmail, buyerLanguage)
}

func paymentEvent(tx *sql.Tx, now time.Time, s shop.Shop, p PaymentFacts, buyerEmail, buyerLanguage string) (Enqueued, error) {
	var out Enqueued
	if err := checkMode(p.Mode); err != nil {
		return out, err
	}
	event := EventPaymentRefused
	tpl := TplPaymentRefusedBuyer
	if p.Accepted {
		event, tpl = EventPaymentAccepted, TplPaymentAcceptedBuyer
	}
	if p.At.IsZero() {
		p.At = now
	}
	view := &PaymentView{ID: p.PaymentID, OrderID: p.OrderID, TransactionID: p.TransactionID, Accepted: p.Accepted,
		Amount: p.Amount, Currency: p.Currency, Brand: p.Brand, PANMasked: p.PANMasked, At: p.At,
		TechnicalError: p.TechnicalError && !p.Accepted, DebitAfterCheck: p.DebitAfterCheck && p.TechnicalError && !p.Accepted}
	if !p.DebitOn.IsZero() {
		on := p.DebitOn
		view.DebitOn = &on
	}
	var retried bool // a refused instalment retried again: the buyer already knows
	if in := p.Instalment; in != nil && !p.Accepted && !p.TechnicalError {
		if in.RetryAt.IsZero() {
			view.InstalmentFailed = true
		} else {
			at := in.RetryAt
			view.RetryAt, retried = &at, in.Told
		}
	}
	// Ordering is per channel and key: a key per recipient lets the buyer's
	// email and the merchant's go out side by side, each stream in order.
	key := "payment:" + p.PaymentID
	buyerEmail = strings.TrimSpace(buyerEmail)

	if s.Settings.OrderConfirmationEmails {
		switch {
		case p.TechnicalError && !p.Accepted && !p.DebitAfterCheck:
			out.skip(outbox.ChannelEmail, "buyer", "technical error: nothing was charged")
		case retried:
			out.skip(outbox.ChannelEmail, "buyer", "instalment refused again: the buyer was told at its first refusal")
		case p.RefusedBefore && !p.Accepted && !p.TechnicalError:
			out.skip(outbox.ChannelEmail, "buyer", "refused again: the buyer was told at the payment's first refusal")
		case buyerEmail == "":
			out.skip(outbox.ChannelEmail, "buyer", "no buyer email")
		case !contact.ValidEmail(buyerEmail):
			out.skip(outbox.ChannelEmail, "buyer", "invalid buyer email")
		default:
			c := Content{Template: tpl, Lang: Language(buyerLanguage, s.Language), Mode: p.Mode, Recipient: "buyer",
				Shop: shopView(s, p.ShopURL), Buyer: BuyerView{Name: p.BuyerName, Email: buyerEmail}, Payment: view,
				TimeZone: s.Settings.TimeZone}
			if err := out.add(tx, now, outbox.Message{ShopID: s.ID, Channel: outbox.ChannelEmail, Event: event,
				OrderingKey: key + "/buyer", Target: buyerEmail}, c); err != nil {
				return out, err
			}
		}
	}
	if s.Settings.Notifications.MerchantPaymentNotice {
		to := merchantEmail(s)
		if !contact.ValidEmail(to) {
			out.skip(outbox.ChannelEmail, "merchant", "no valid merchant email")
		} else {
			mv := *view
			mv.DetailsURL = p.DetailsURL
			c := Content{Template: TplPaymentMerchant, Lang: Language(s.Language), Mode: p.Mode, Recipient: "merchant",
				Shop: shopView(s, p.ShopURL), Buyer: BuyerView{Name: p.BuyerName, Email: buyerEmail}, Payment: &mv,
				TimeZone: s.Settings.TimeZone}
			if err := out.add(tx, now, outbox.Message{ShopID: s.ID, Channel: outbox.ChannelEmail, Event: event,
				OrderingKey: key + "/merchant", Target: to}, c); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// TokenEvent queues, in tx, the wallet document's notifications of a token
// change, each when the shop switched it on: the notification URL (IPN or
// signed webhook), email to the buyer, email to the merchant, SMS to the
// merchant, SMS to the buyer. Merchant recipients default to the shop's
// primary email and phone. Missing or invalid recipients are reported in
// Skipped, never as an error.
func TokenEvent(tx *sql.Tx, now time.Time, s shop.Shop, kind TokenKind, t TokenFacts, buyer Buyer) (Enqueued, error) {
	var out Enqueued
	if err := checkMode(t.Mode); err != nil {
		return out, err
	}
	var event string
	switch kind {
	case TokenCreated:
		event = EventTokenCreated
	case TokenUpdated:
		event = EventTokenUpdated
	case TokenCancelled:
		event = EventTokenCancelled
	default:
		return out, fmt.Errorf("notify: unknown token event %q", kind)
	}
	if t.At.IsZero() {
		t.At = now
	}
	n := s.Settings.Notifications
	key := "token:" + t.Token
	view := &TokenView{Kind: string(kind), Token: t.Token, Brand: t.Brand, PANMasked: t.PANMasked, ExpiryMonth: t.ExpiryMonth,
		ExpiryYear: t.ExpiryYear, CustomerReference: t.CustomerReference, At: t.At}
	buyerEmail, buyerPhone := strings.TrimSpace(buyer.Email), strings.TrimSpace(buyer.Phone)
	buyerLang := Language(buyer.Language, s.Language)
	sv := shopView(s, t.ShopURL)
	bv := BuyerView{Name: buyer.Name, Email: buyerEmail}
	tz := s.Settings.TimeZone // the messages write t.At in the shop's zone

	if n.TokenURL {
		target := t.NotificationURL
		if target == "" {
			target = s.NotificationURL
		}
		if target == "" {
			out.skip(outbox.ChannelWebhook, "url", "no notification URL")
		} else if t.KRAnswer != "" {
			if err := out.add(tx, now, outbox.Message{ShopID: s.ID, Channel: outbox.ChannelIPN, Event: event,
				OrderingKey: key, Target: target, Payload: t.KRAnswer}, nil); err != nil {
				return out, err
			}
		} else {
			id := ids.New()
			body, err := outbox.WebhookEnvelope(id, event, s.ID, t.Mode, t.At, tokenWebhookData(t, kind, buyer))
			if err != nil {
				return out, err
			}
			if err := out.add(tx, now, outbox.Message{ID: id, ShopID: s.ID, Channel: outbox.ChannelWebhook, Event: event,
				OrderingKey: key, Target: target, Payload: body}, nil); err != nil {
				return out, err
			}
		}
	}
	if n.TokenEmailBuyer {
		if !contact.ValidEmail(buyerEmail) {
			out.skip(outbox.ChannelEmail, "buyer", "no valid buyer email")
		} else if err := out.add(tx, now, outbox.Message{ShopID: s.ID, Channel: outbox.ChannelEmail, Event: event, OrderingKey: key + "/buyer", Target: buyerEmail},
			Content{Template: TplTokenBuyer, Lang: buyerLang, Mode: t.Mode, Recipient: "buyer", Shop: sv, Buyer: bv, Token: view, TimeZone: tz}); err != nil {
			return out, err
		}
	}
	if n.TokenEmailMerchant {
		to := merchantEmail(s)
		mv := *view
		mv.DetailsURL = t.DetailsURL
		if !contact.ValidEmail(to) {
			out.skip(outbox.ChannelEmail, "merchant", "no valid merchant email")
		} else if err := out.add(tx, now, outbox.Message{ShopID: s.ID, Channel: outbox.ChannelEmail, Event: event, OrderingKey: key + "/merchant", Target: to},
			Content{Template: TplTokenMerchant, Lang: Language(s.Language), Mode: t.Mode, Recipient: "merchant", Shop: sv, Buyer: bv, Token: &mv, TimeZone: tz}); err != nil {
			return out, err
		}
	}
	if n.TokenSMSMerchant {
		to := merchantPhone(s)
		if !contact.ValidPhone(to) {
			out.skip(outbox.ChannelSMS, "merchant", "no E.164 merchant phone number")
		} else if err := out.add(tx, now, outbox.Message{ShopID: s.ID, Channel: outbox.ChannelSMS, Event: event, OrderingKey: key + "/merchant", Target: to},
			Content{Template: TplTokenSMSMerchant, Lang: Language(s.Language), Mode: t.Mode, Recipient: "merchant", Shop: sv, Buyer: bv, Token: view, TimeZone: tz}); err != nil {
			return out, err
		}
	}
	if n.TokenSMSBuyer {
		if !contact.ValidPhone(buyerPhone) {
			out.skip(outbox.ChannelSMS, "buyer", "no E.164 buyer phone number")
		} else if err := out.add(tx, now, outbox.Message{ShopID: s.ID, Channel: outbox.ChannelSMS, Event: event, OrderingKey: key + "/buyer", Target: buyerPhone},
			Content{Template: TplTokenSMSBuyer, Lang: buyerLang, Mode: t.Mode, Recipient: "buyer", Shop: sv, Buyer: bv, Token: view, TimeZone: tz}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// tokenWebhookData is the "data" of a token webhook; field names follow the
// V4 API where one exists.
func tokenWebhookData(t TokenFacts, kind TokenKind, b Buyer) any {
	type customer struct {
		Reference string `json:"reference,omitempty"`
		Email     string `json:"email,omitempty"`
	}
	return struct {
		PaymentMethodToken string   `json:"paymentMethodToken"`
		Event              string   `json:"event"`
		Brand              string   `json:"brand,omitempty"`
		PAN                string   `json:"pan,omitempty"`
		ExpiryMonth        int      `json:"expiryMonth,omitempty"`
		ExpiryYear         int      `json:"expiryYear,omitempty"`
		OrderID            string   `json:"orderId,omitempty"`
		Customer           customer `json:"customer"`
	}{t.Token, string(kind), t.Brand, t.PANMasked, t.ExpiryMonth, t.ExpiryYear, t.OrderID, customer{t.CustomerReference, b.Email}}
}
