package shop

import (
	"context"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/vault"
)

// SealedWebhookSecret is a webhook signing secret as stored.
type SealedWebhookSecret struct {
	ID, ShopID string
	Sealed     []byte
	DataKey    vault.DataKey
	CreatedAt  time.Time
}

// WebhookStore keeps webhook secrets. *store.DB implements it.
type WebhookStore interface {
	InsertWebhookSecret(ctx context.Context, w SealedWebhookSecret, retireAt time.Time) error
	WebhookSecrets(ctx context.Context, shopID string, now time.Time) ([]SealedWebhookSecret, error)
}

// DefaultWebhookOverlap is how long the previous secret stays valid after a
// rotation: long enough to deploy the new one on every merchant server.
const DefaultWebhookOverlap = 24 * time.Hour

func (s *Service) webhookStore() (WebhookStore, error) {
	ws, ok := s.store.(WebhookStore)
	if !ok {
		return nil, fmt.Errorf("shop: the store keeps no webhook secrets")
	}
	return ws, nil
}

// RotateWebhookSecret makes a new webhook secret; the previous ones stay
// valid for overlap (both sign every webhook meanwhile). It returns the new
// secret in clear, once.
func (s *Service) RotateWebhookSecret(ctx context.Context, shopID string, overlap time.Duration) (string, error) {
	ws, err := s.webhookStore()
	if err != nil {
		return "", err
	}
	if _, err := s.store.Shop(ctx, shopID); err != nil {
		return "", err
	}
	secret := "whsec_" + randomString(32)
	dk, key, err := s.keys.NewDataKey()
	if err != nil {
		return "", err
	}
	id := ids.New()
	now := s.clock.Now()
	w := SealedWebhookSecret{ID: id, ShopID: shopID, Sealed: key.Seal(webhookAAD(shopID, id), []byte(secret)), DataKey: dk, CreatedAt: now}
	if err := ws.InsertWebhookSecret(ctx, w, now.Add(overlap)); err != nil {
		return "", err
	}
	return secret, nil
}

// WebhookSecrets returns the shop's valid webhook secrets in clear, newest
// first; a shop without one gets one made now (so webhooks are always signed).
func (s *Service) WebhookSecrets(ctx context.Context, shopID string) ([]string, error) {
	ws, err := s.webhookStore()
	if err != nil {
		return nil, err
	}
	sealed, err := ws.WebhookSecrets(ctx, shopID, s.clock.Now())
	if err != nil {
		return nil, err
	}
	if len(sealed) == 0 {
		sec, err := s.RotateWebhookSecret(ctx, shopID, 0)
		if err != nil {
			return nil, err
		}
		return []string{sec}, nil
	}
	out := make([]string, 0, len(sealed))
	for _, w := range sealed {
		dk, err := s.store.DataKey(ctx, w.DataKey.ID)
		if err != nil {
			return nil, err
		}
		key, err := s.keys.Unwrap(dk)
		if err != nil {
			return nil, err
		}
		b, err := key.Open(webhookAAD(w.ShopID, w.ID), w.Sealed)
		if err != nil {
			return nil, fmt.Errorf("shop: open webhook secret: %w", err)
		}
		out = append(out, string(b))
	}
	return out, nil
}

func webhookAAD(shopID, id string) []byte { return []byte("shop-webhook\x00" + shopID + "\x00" + id) }
