package shop_test

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

func newService(t *testing.T, db *store.DB) *shop.Service {
	t.Helper()
	keys, err := vault.LoadKeyring(filepath.Join(t.TempDir(), "keyring.json"), "", true)
	if err != nil {
		t.Fatal(err)
	}
	return shop.NewService(db, keys, clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)))
}

func TestDemoShopAuthenticatesWithPublicKeys(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		created, err := svc.SeedDemo(ctx, "")
		if err != nil || !created {
			t.Fatalf("seed: %v %v", created, err)
		}
		if again, err := svc.SeedDemo(ctx, ""); err != nil || again {
			t.Fatalf("second seed must do nothing: %v %v", again, err)
		}
		sh, creds, err := svc.Authenticate(ctx, shop.DemoShopID, shop.DemoTestPassword)
		if err != nil {
			t.Fatal(err)
		}
		if sh.ID != shop.DemoShopID || creds.Mode != shop.ModeTest || !sh.Settings.PaymentByToken {
			t.Fatalf("got %+v %+v", sh, creds)
		}
		if _, _, err := svc.Authenticate(ctx, shop.DemoShopID, shop.DemoTestPassword+"x"); !errors.Is(err, shop.ErrNotFound) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, _, err := svc.Authenticate(ctx, "12345678", shop.DemoTestPassword); !errors.Is(err, shop.ErrNotFound) {
			t.Fatalf("wrong shop: %v", err)
		}
		full, err := svc.Credentials(ctx, shop.DemoShopID, shop.ModeTest)
		if err != nil {
			t.Fatal(err)
		}
		if full.HMACKey != shop.DemoTestHMACKey || full.Password != shop.DemoTestPassword || full.PublicKey != shop.DemoTestPublicKey {
			t.Fatalf("credentials round trip: %+v", full)
		}
		bySh, byCreds, err := svc.ByPublicKey(ctx, shop.DemoTestPublicKey)
		if err != nil || bySh.ID != shop.DemoShopID || byCreds.Mode != shop.ModeTest {
			t.Fatalf("by public key: %v %+v", err, byCreds)
		}
		og, err := svc.OgoneAccount(ctx, shop.DemoPSPID)
		if err != nil || og.SHAIn != shop.DemoSHAPassphrase || og.SHAAlgorithm != "SHA-512" {
			t.Fatalf("ogone: %v %+v", err, og)
		}
		if _, err := svc.AuthenticateDirectLink(ctx, shop.DemoPSPID, shop.DemoAPIUser, "wrong"); !errors.Is(err, shop.ErrNotFound) {
			t.Fatalf("directlink wrong password: %v", err)
		}
		if _, err := svc.AuthenticateDirectLink(ctx, shop.DemoPSPID, shop.DemoAPIUser, shop.DemoAPIPassword); err != nil {
			t.Fatalf("directlink: %v", err)
		}
	})
}

// A wrong USERID or password must not tell through timing whether it has
// the right length: subtle.ConstantTimeCompare answers at once when the
// lengths differ, so every comparison of a secret is made on digests of
// one length.
func TestAuthenticateComparesSecretsOfOneLength(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		if _, err := svc.SeedDemo(ctx, ""); err != nil {
			t.Fatal(err)
		}
		var uneven []string
		defer shop.SetConstantTimeCompare(func(x, y []byte) int {
			if len(x) != len(y) {
				uneven = append(uneven, fmt.Sprintf("%d vs %d bytes", len(x), len(y)))
			}
			return subtle.ConstantTimeCompare(x, y)
		})()
		for _, user := range []string{"d", shop.DemoAPIUser + "-longer", shop.DemoAPIUser} {
			for _, pw := range []string{"x", shop.DemoAPIPassword + "-longer", shop.DemoAPIPassword} {
				_, err := svc.AuthenticateDirectLink(ctx, shop.DemoPSPID, user, pw)
				if ok := user == shop.DemoAPIUser && pw == shop.DemoAPIPassword; ok != (err == nil) {
					t.Fatalf("user %q password %q: %v", user, pw, err)
				}
			}
		}
		for _, pw := range []string{"x", shop.DemoTestPassword + "-longer", shop.DemoTestPassword} {
			if _, _, err := svc.Authenticate(ctx, shop.DemoShopID, pw); (pw == shop.DemoTestPassword) != (err == nil) {
				t.Fatalf("password %q: %v", pw, err)
			}
		}
		if len(uneven) > 0 {
			t.Fatalf("secrets compared at different lengths: %v", uneven)
		}
	})
}

func TestCreateAndRotateKeys(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		c, err := svc.Create(ctx, shop.CreateInput{Name: "Boulangerie", Language: "fr"})
		if err != nil {
			t.Fatal(err)
		}
		if !shop.ValidID(c.Shop.ID) || c.Test.Password == "" || c.Prod.Password == c.Test.Password {
			t.Fatalf("bad creation: %+v", c)
		}
		if _, creds, err := svc.Authenticate(ctx, c.Shop.ID, c.Prod.Password); err != nil || creds.Mode != shop.ModeProduction {
			t.Fatalf("production key must authenticate in PRODUCTION mode: %v %+v", err, creds)
		}
		// Opened once before the rotation: the service keeps opened key
		// sets, and must not serve the old one after the rotation.
		if before, err := svc.Credentials(ctx, c.Shop.ID, shop.ModeTest); err != nil || before.Password != c.Test.Password {
			t.Fatalf("credentials before the rotation: %v", err)
		}
		rotated, err := svc.RotateAPIKeys(ctx, c.Shop.ID, shop.ModeTest)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Authenticate(ctx, c.Shop.ID, c.Test.Password); !errors.Is(err, shop.ErrNotFound) {
			t.Fatal("the old password must stop working after rotation")
		}
		if _, _, err := svc.Authenticate(ctx, c.Shop.ID, rotated.Password); err != nil {
			t.Fatalf("new password: %v", err)
		}
		got, err := svc.Credentials(ctx, c.Shop.ID, shop.ModeTest)
		if err != nil || got.HMACKey != rotated.HMACKey || got.Password != rotated.Password {
			t.Fatalf("rotated key set: %v", err)
		}
		list, err := svc.List(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("list: %v %d", err, len(list))
		}
	})
}

func TestWebhookSecretRotationOverlap(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		keys, err := vault.LoadKeyring(filepath.Join(t.TempDir(), "keyring.json"), "", true)
		if err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
		svc := shop.NewService(db, keys, clk)
		c, err := svc.Create(ctx, shop.CreateInput{Name: "Webhooks"})
		if err != nil {
			t.Fatal(err)
		}
		first, err := svc.WebhookSecrets(ctx, c.Shop.ID)
		if err != nil || len(first) != 1 {
			t.Fatalf("first secret: %v %v", first, err)
		}
		again, _ := svc.WebhookSecrets(ctx, c.Shop.ID)
		if len(again) != 1 || again[0] != first[0] {
			t.Fatal("the secret must be stable between calls")
		}
		second, err := svc.RotateWebhookSecret(ctx, c.Shop.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		both, _ := svc.WebhookSecrets(ctx, c.Shop.ID)
		if len(both) != 2 || both[0] != second || both[1] != first[0] {
			t.Fatalf("during the rollover both secrets sign, newest first: %v", both)
		}
		clk.Advance(time.Hour + time.Second)
		after, _ := svc.WebhookSecrets(ctx, c.Shop.ID)
		if len(after) != 1 || after[0] != second {
			t.Fatalf("after the overlap only the new secret: %v", after)
		}
	})
}

// `openpsp shops keys 69876357 -mode BOGUS` said "shop: not found" of a shop
// that exists: a mode other than TEST or PRODUCTION is the caller's mistake,
// told as such (as RotateAPIKeys does), not an unknown shop.
func TestCredentialsRefuseAnUnknownMode(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	svc := newService(t, db)
	if _, err := svc.SeedDemo(ctx, ""); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Credentials(ctx, shop.DemoShopID, "BOGUS")
	if err == nil || errors.Is(err, shop.ErrNotFound) || !strings.Contains(err.Error(), `mode must be TEST or PRODUCTION, not "BOGUS"`) {
		t.Fatalf("Credentials of mode BOGUS: %v", err)
	}
	if _, err := svc.Credentials(ctx, "12345678", shop.ModeTest); !errors.Is(err, shop.ErrNotFound) {
		t.Fatalf("Credentials of an unknown shop: %v", err)
	}
}
