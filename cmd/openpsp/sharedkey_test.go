package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// A production keyring whose fingerprint key is also its master key (the
// same base64 given twice) is refused at start, naming the master key and
// no key. It can still be repaired without losing the stored cards: the
// keys commands accept it, so a new primary is appended and `openpsp keys
// rewrap` moves every data key off the shared key; with that key removed
// from the master keys the server starts, the fingerprint key unchanged,
// and the stored card is found again by its number and still opens.
func TestSharedFingerprintAndMasterKeyIsRefusedThenRepaired(t *testing.T) {
	ctx := context.Background()
	key := func(c string) string { return strings.Repeat(c, 43) + "=" }
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "prod"))
	t.Setenv("OPENPSP_KEYRING_FILE", filepath.Join(t.TempDir(), "keyring.json"))
	t.Setenv("OPENPSP_DEMO", "false")
	t.Setenv("OPENPSP_ENV", "production")
	t.Setenv("OPENPSP_PUBLIC_URL", "https://pay.example.com")
	shared := "fingerprint:" + key("A") + ",kold:" + key("A")
	t.Setenv("OPENPSP_MASTER_KEYS", shared)

	// The state an earlier version accepted: a card stored with it.
	a, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard, KeyMaintenance: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Shops.Create(ctx, shop.CreateInput{ID: "12345678", Name: "Prod"}); err != nil {
		t.Fatal(err)
	}
	pan, err := card.ParsePAN("4970100000000055")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: "12345678", Mode: shop.ModeProduction, PAN: pan,
		Expiry: card.Expiry{Month: 12, Year: 2031}})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()

	_, err = app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err == nil || !strings.Contains(err.Error(), `master key "kold"`) || strings.Contains(err.Error(), key("A")) {
		t.Fatalf("a start with one key as fingerprint and master key: %v", err)
	}

	t.Setenv("OPENPSP_MASTER_KEYS", shared+",knew:"+key("B"))
	if err := run(ctx, []string{"keys", "rewrap"}); err != nil {
		t.Fatalf("keys rewrap on the shared keyring: %v", err)
	}
	t.Setenv("OPENPSP_MASTER_KEYS", "fingerprint:"+key("A")+",knew:"+key("B"))
	b, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatalf("start after the repair: %v", err)
	}
	defer b.Close()
	got, _, _, err := b.Vault.Card(ctx, "12345678", shop.ModeProduction, tok.Value)
	if err != nil || got.Reveal() != pan.Reveal() {
		t.Fatalf("the stored card after the repair does not open: %v", err)
	}
	found, err := b.Vault.FindByFingerprint(ctx, "12345678", pan)
	if err != nil || len(found) != 1 || found[0].Value != tok.Value {
		t.Fatalf("the stored card is no longer recognised by its number: %+v, %v", found, err)
	}
}
