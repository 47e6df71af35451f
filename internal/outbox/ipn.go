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
	"net/url"
)

// IPNSigner gives the key that signs a shop's IPNs: the REST API password of
// the mode (TEST or PRODUCTION) the payment was made in.
type IPNSigner interface {
	IPNKey(ctx context.Context, shopID, mode string) (string, error)
}

// IPNSignerFunc adapts a function to IPNSigner.
type IPNSignerFunc func(ctx context.Context, shopID, mode string) (string, error)

// IPNKey calls f.
func (f IPNSignerFunc) IPNKey(ctx context.Context, shopID, mode string) (string, error) {
	return f(ctx, shopID, mode)
}

// ErrNoIPNKey may be returned (wrapped) by an IPNSigner when the shop has no
// key for the mode; the message then dies at once instead of retrying.
var ErrNoIPNKey = errors.New("outbox: no IPN key for this shop and mode")

// IPNDeliverer posts PayZen V4 IPNs: a form with kr-answer (the payload,
// byte for byte as stored) and kr-hash = hex(HMAC-SHA256(password, kr-answer)).
type IPNDeliverer struct {
	signer IPNSigner
	client *http.Client
}

// NewIPNDeliverer returns the deliverer of the "ipn" channel.
func NewIPNDeliverer(signer IPNSigner, o HTTPOptions) *IPNDeliverer {
	return &IPNDeliverer{signer: signer, client: newHTTPClient(o)}
}

// KRHash computes the V4 kr-hash of answer under key (compat.md §1.8).
func KRHash(key, answer string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(answer))
	return hex.EncodeToString(m.Sum(nil))
}

// ipnAnswer is what the deliverer reads from a kr-answer: the mode picks the
// signing key, _type becomes kr-answer-type.
type ipnAnswer struct {
	Type         string `json:"_type"`
	OrderDetails struct {
		Mode string `json:"mode"`
	} `json:"orderDetails"`
}

// Deliver posts one IPN.
func (d *IPNDeliverer) Deliver(ctx context.Context, m Delivery) (Outcome, error) {
	if m.Target == "" {
		return Outcome{}, Permanent(errors.New("IPN without a target URL"))
	}
	var a ipnAnswer
	if err := json.Unmarshal([]byte(m.Payload), &a); err != nil {
		return Outcome{}, Permanent(fmt.Errorf("kr-answer is not JSON: %w", err))
	}
	if a.OrderDetails.Mode == "" {
		return Outcome{}, Permanent(errors.New("kr-answer has no orderDetails.mode: cannot choose the signing key"))
	}
	if a.Type == "" {
		a.Type = "V4/Payment"
	}
	key, err := d.signer.IPNKey(ctx, m.ShopID, a.OrderDetails.Mode)
	if err != nil {
		if errors.Is(err, ErrNoIPNKey) {
			return Outcome{}, Permanent(err)
		}
		return Outcome{}, fmt.Errorf("IPN key: %w", err)
	}
	form := url.Values{
		"kr-hash":           {KRHash(key, m.Payload)},
		"kr-hash-algorithm": {"sha256_hmac"},
		"kr-hash-key":       {"password"},
		"kr-answer-type":    {a.Type},
		"kr-answer":         {m.Payload},
	}
	h := http.Header{}
	// Not part of PayZen's IPN, harmless to receivers that ignore it, and
	// the simplest way to deduplicate a retried IPN.
	h.Set("OpenPSP-Event-Id", m.ID)
	return post(ctx, d.client, m.Target, "application/x-www-form-urlencoded", []byte(form.Encode()), h)
}
