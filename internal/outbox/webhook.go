package outbox

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/jsonstr"
)

// Webhook headers. Merchants verify SignatureHeader and deduplicate on
// EventIDHeader (also the "id" of the JSON body). See docs/webhooks.md.
const (
	SignatureHeader = "OpenPSP-Signature"
	EventIDHeader   = "OpenPSP-Event-Id"
	EventTypeHeader = "OpenPSP-Event-Type"
)

// DefaultSignatureTolerance is how old a signature receivers should accept.
const DefaultSignatureTolerance = 5 * time.Minute

// WebhookSecrets gives a shop's webhook signing secrets, newest first. During
// a rollover it returns two, and every webhook is signed with both, so the
// merchant can switch to the new secret whenever it suits them.
type WebhookSecrets interface {
	WebhookSecrets(ctx context.Context, shopID string) ([]string, error)
}

// WebhookSecretsFunc adapts a function to WebhookSecrets.
type WebhookSecretsFunc func(ctx context.Context, shopID string) ([]string, error)

// WebhookSecrets calls f.
func (f WebhookSecretsFunc) WebhookSecrets(ctx context.Context, shopID string) ([]string, error) {
	return f(ctx, shopID)
}

// WebhookEvent is the JSON body of a webhook.
type WebhookEvent struct {
	ID      string          `json:"id"`      // the event id: deduplicate on it
	Type    string          `json:"type"`    // e.g. "token.created"
	Created time.Time       `json:"created"` // when the event happened (RFC 3339, UTC)
	ShopID  string          `json:"shopId"`  //
	Mode    string          `json:"mode"`    // TEST or PRODUCTION
	Data    json.RawMessage `json:"data"`    // the event's object
}

// WebhookEnvelope builds the stored payload of a webhook message: producers
// choose the message id first (ids.New()) so that the body carries it.
func WebhookEnvelope(id, event, shopID, mode string, created time.Time, data any) (string, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("outbox: webhook data: %w", err)
	}
	// Whole seconds, as docs/webhooks.md shows and as every V4 date is: a
	// receiver parsing "2006-01-02T15:04:05Z" (or an older ISO parser)
	// must not meet nine digits of fraction.
	created = created.UTC().Truncate(time.Second)
	s, err := jsonstr.Marshal(WebhookEvent{ID: id, Type: event, Created: created, ShopID: shopID, Mode: mode, Data: raw})
	if err != nil {
		return "", fmt.Errorf("outbox: webhook envelope: %w", err)
	}
	return s, nil
}

// Sign returns the SignatureHeader value for body at time t: "t=<unix
// seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>", with one v1 per
// secret.
func Sign(secrets []string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(signature(s, ts, body))
	}
	return b.String()
}

func signature(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Signature verification errors.
var (
	ErrSignatureMissing   = errors.New("webhook signature: header missing or malformed")
	ErrSignatureTimestamp = errors.New("webhook signature: timestamp outside the tolerance")
	ErrSignatureMismatch  = errors.New("webhook signature: no signature matches")
)

// VerifySignature checks a SignatureHeader value against the raw request
// body. It accepts the webhook when any v1 signature matches any of secrets
// (give both during a rollover) and the timestamp is within tolerance of now
// (tolerance <= 0 skips that check; DefaultSignatureTolerance is a good
// value). Unknown schemes in the header are ignored, for forward compatibility.
func VerifySignature(header string, body []byte, secrets []string, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if s, err := hex.DecodeString(v); err == nil && len(s) == sha256.Size {
				sigs = append(sigs, s)
			}
		}
	}
	if ts == "" || len(sigs) == 0 {
		return ErrSignatureMissing
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrSignatureMissing
	}
	if tolerance > 0 {
		age := now.Sub(time.Unix(unix, 0))
		if age > tolerance || age < -tolerance {
			return ErrSignatureTimestamp
		}
	}
	for _, secret := range secrets {
		want, _ := hex.DecodeString(signature(secret, ts, body))
		for _, got := range sigs {
			if hmac.Equal(want, got) {
				return nil
			}
		}
	}
	return ErrSignatureMismatch
}

// WebhookDeliverer posts signed JSON webhooks: the payload as stored, with
// SignatureHeader, EventIDHeader and EventTypeHeader.
type WebhookDeliverer struct {
	secrets WebhookSecrets
	client  *http.Client
	clock   clock.Clock
}

// NewWebhookDeliverer returns the deliverer of the "webhook" channel. The
// clock stamps signatures (nil: the wall clock).
func NewWebhookDeliverer(secrets WebhookSecrets, clk clock.Clock, o HTTPOptions) *WebhookDeliverer {
	if clk == nil {
		clk = clock.Real{}
	}
	return &WebhookDeliverer{secrets: secrets, client: newHTTPClient(o), clock: clk}
}

// Deliver posts one webhook.
func (d *WebhookDeliverer) Deliver(ctx context.Context, m Delivery) (Outcome, error) {
	if m.Target == "" {
		return Outcome{}, Permanent(errors.New("webhook without a target URL"))
	}
	secrets, err := d.secrets.WebhookSecrets(ctx, m.ShopID)
	if err != nil {
		return Outcome{}, fmt.Errorf("webhook secrets: %w", err)
	}
	if len(secrets) == 0 {
		// Retried: never send an unsigned webhook, and the operator can
		// create the secret while the schedule runs.
		return Outcome{}, errors.New("the shop has no webhook signing secret")
	}
	body := []byte(m.Payload)
	h := http.Header{}
	h.Set(SignatureHeader, Sign(secrets, d.clock.Now(), body))
	h.Set(EventIDHeader, m.ID)
	h.Set(EventTypeHeader, m.Event)
	return post(ctx, d.client, m.Target, "application/json", body, h)
}
