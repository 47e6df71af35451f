package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/shop"
)

// A database from before migration 0032 holds DirectLink passwords as a
// bare SHA-256. The next start rewrites them into keyed verifiers, says
// so, and the merchant's password keeps working.
func TestStartRewritesBareDirectLinkPasswordDigests(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, err := config.Load(nil, func(k string) string {
		return map[string]string{"OPENPSP_DATA_DIR": dir, "OPENPSP_ADDR": "127.0.0.1:0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := New(ctx, cfg, Options{LogOutput: &logs})
	if err != nil {
		t.Fatal(err)
	}
	bare := sha256.Sum256([]byte(shop.DemoAPIPassword))
	if _, err := a.DB.Writer().Exec(`UPDATE shop_ogone SET api_password_digest = $2, api_password_salt = $3, api_password_key_sealed = $3 WHERE shop_id = $1`,
		shop.DemoShopID, bare[:], []byte{}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if strings.Contains(logs.String(), "DirectLink passwords rewritten") {
		t.Fatalf("a fresh database had nothing to rewrite: %s", logs.String())
	}

	b, err := New(ctx, cfg, Options{LogOutput: &logs})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var stored []byte
	if err := b.DB.Reader().QueryRow(`SELECT api_password_digest FROM shop_ogone WHERE shop_id = $1`, shop.DemoShopID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(stored, bare[:]) {
		t.Fatal("the start left the bare SHA-256 in place")
	}
	if !strings.Contains(logs.String(), "DirectLink passwords rewritten") {
		t.Fatalf("the start did not say it rewrote the passwords: %s", logs.String())
	}
	if _, err := b.Shops.AuthenticateDirectLink(ctx, shop.DemoPSPID, shop.DemoAPIUser, shop.DemoAPIPassword); err != nil {
		t.Fatalf("the demo DirectLink password after the rewrite: %v", err)
	}
}
