package shop_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// storedDirectLinkDigest reads what the database holds of a shop's
// DirectLink password, as someone with a copy of the database would.
func storedDirectLinkDigest(t *testing.T, db *store.DB, shopID string) []byte {
	t.Helper()
	var d []byte
	if err := db.Reader().QueryRow(`SELECT api_password_digest FROM shop_ogone WHERE shop_id = $1`, shopID).Scan(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// An operator may choose a shop's DirectLink password, and may choose a
// weak one. What the database keeps of it must not be an unsalted digest
// that a precomputed table reverses: not the bare SHA-1, SHA-256 or
// SHA-512 of the password, and not the same value for two shops with the
// same password. The password still authenticates, a wrong one does not.
func TestChosenDirectLinkPasswordIsNotStoredAsAnUnsaltedDigest(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		const weak = "hunter2"
		var stored [][]byte
		for _, id := range []string{"11111111", "22222222"} {
			c, err := svc.Create(ctx, shop.CreateInput{ID: id, Name: "Shop " + id, APIPassword: weak})
			if err != nil {
				t.Fatal(err)
			}
			if c.APIPassword != weak {
				t.Fatalf("the chosen password was not kept: %q", c.APIPassword)
			}
			d := storedDirectLinkDigest(t, db, id)
			s1, s256, s512 := sha1.Sum([]byte(weak)), sha256.Sum256([]byte(weak)), sha512.Sum512([]byte(weak))
			for _, unsalted := range [][]byte{s1[:], s256[:], s512[:], []byte(weak)} {
				if bytes.Equal(d, unsalted) {
					t.Fatalf("shop %s: the stored DirectLink password is an unsalted digest of it", id)
				}
			}
			stored = append(stored, d)
			if _, err := svc.AuthenticateDirectLink(ctx, c.PSPID, c.APIUser, weak); err != nil {
				t.Fatalf("shop %s: the chosen password does not authenticate: %v", id, err)
			}
			if _, err := svc.AuthenticateDirectLink(ctx, c.PSPID, c.APIUser, weak+"!"); !errors.Is(err, shop.ErrNotFound) {
				t.Fatalf("shop %s: a wrong password: %v", id, err)
			}
		}
		if bytes.Equal(stored[0], stored[1]) {
			t.Fatal("two shops with the same password store the same value: it is not salted")
		}
	})
}

// makeLegacy rewrites a shop's DirectLink password row the way versions
// before migration 0032 stored it: the bare SHA-256, no salt, no key.
func makeLegacy(t *testing.T, db *store.DB, shopID, password string) {
	t.Helper()
	d := sha256.Sum256([]byte(password))
	if _, err := db.Writer().Exec(`UPDATE shop_ogone SET api_password_digest = $2, api_password_salt = $3, api_password_key_sealed = $3 WHERE shop_id = $1`,
		shopID, d[:], []byte{}); err != nil {
		t.Fatal(err)
	}
}

func isLegacy(t *testing.T, db *store.DB, shopID string) bool {
	t.Helper()
	var n int
	if err := db.Reader().QueryRow(`SELECT length(api_password_key_sealed) FROM shop_ogone WHERE shop_id = $1`, shopID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 0
}

// Rows stored before migration 0032 (a bare SHA-256) keep authenticating:
// no merchant is locked out. The start rewrites them all into keyed
// verifiers without the passwords (UpgradeDirectLinkPasswords), and a row
// it has not seen (an older copy wrote it since) is rewritten at its first
// right login. A wrong password neither passes nor rewrites anything.
func TestLegacyDirectLinkPasswordsKeepWorkingAndAreRewritten(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		pw := map[string]string{"11111111": "hunter2", "22222222": "correct horse", "33333333": ""}
		pspid := map[string]string{}
		for _, id := range []string{"11111111", "22222222", "33333333"} {
			c, err := svc.Create(ctx, shop.CreateInput{ID: id, Name: "Shop " + id, APIPassword: pw[id]})
			if err != nil {
				t.Fatal(err)
			}
			pw[id], pspid[id] = c.APIPassword, c.PSPID
		}
		makeLegacy(t, db, "11111111", pw["11111111"])
		makeLegacy(t, db, "22222222", pw["22222222"])

		// At its login: a wrong password changes nothing, the right one
		// passes and rewrites the row.
		if _, err := svc.AuthenticateDirectLink(ctx, pspid["11111111"], "api", "hunter3"); !errors.Is(err, shop.ErrNotFound) {
			t.Fatalf("wrong password against an old row: %v", err)
		}
		if !isLegacy(t, db, "11111111") {
			t.Fatal("a wrong password rewrote the row")
		}
		if _, err := svc.AuthenticateDirectLink(ctx, pspid["11111111"], "api", "hunter2"); err != nil {
			t.Fatalf("an old row locks its merchant out: %v", err)
		}
		if isLegacy(t, db, "11111111") {
			t.Fatal("a right login left the old digest in place")
		}

		// At the start: every old row, none of the others.
		n, err := svc.UpgradeDirectLinkPasswords(ctx)
		if err != nil || n != 1 {
			t.Fatalf("upgrade at start: %d rows, %v; want 1", n, err)
		}
		if isLegacy(t, db, "22222222") {
			t.Fatal("the start left an old digest in place")
		}
		if n, err := svc.UpgradeDirectLinkPasswords(ctx); err != nil || n != 0 {
			t.Fatalf("second upgrade: %d rows, %v; want none", n, err)
		}
		for id, p := range pw {
			d := sha256.Sum256([]byte(p))
			if bytes.Equal(storedDirectLinkDigest(t, db, id), d[:]) {
				t.Fatalf("shop %s still stores the bare SHA-256", id)
			}
			if _, err := svc.AuthenticateDirectLink(ctx, pspid[id], "api", p); err != nil {
				t.Fatalf("shop %s after the upgrade: %v", id, err)
			}
			if _, err := svc.AuthenticateDirectLink(ctx, pspid[id], "api", p+"x"); !errors.Is(err, shop.ErrNotFound) {
				t.Fatalf("shop %s, wrong password after the upgrade: %v", id, err)
			}
		}
	})
}

// The verifier's key is sealed under the account's data key: changing the
// account's settings or passphrases (a new data key) keeps the password,
// setting a new one replaces it, and a master-key rotation, which rewraps
// data keys, changes nothing.
func TestDirectLinkPasswordSurvivesUpdatesAndRotation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, v := newServiceAndVault(t, db)
		c, err := svc.Create(ctx, shop.CreateInput{ID: "44444444", Name: "Shop", APIPassword: "first-password"})
		if err != nil {
			t.Fatal(err)
		}
		auth := func(p string) error {
			_, err := svc.AuthenticateDirectLink(ctx, c.PSPID, c.APIUser, p)
			return err
		}
		if err := svc.UpdateOgone(ctx, c.Shop.ID, shop.OgoneSettings{AliasOptIn: true}, "new-sha-in", "", "", ""); err != nil {
			t.Fatal(err)
		}
		if err := auth("first-password"); err != nil {
			t.Fatalf("a settings change lost the password: %v", err)
		}
		if og, err := svc.OgoneForShop(ctx, c.Shop.ID); err != nil || og.SHAIn != "new-sha-in" || !og.Settings.AliasOptIn {
			t.Fatalf("update not applied: %+v %v", og, err)
		}
		if err := v.RotateMasterKey(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if err := auth("first-password"); err != nil {
			t.Fatalf("a master-key rotation lost the password: %v", err)
		}
		if err := svc.UpdateOgone(ctx, c.Shop.ID, shop.OgoneSettings{}, "", "", "", "second-password"); err != nil {
			t.Fatal(err)
		}
		if err := auth("second-password"); err != nil {
			t.Fatalf("the new password: %v", err)
		}
		if err := auth("first-password"); !errors.Is(err, shop.ErrNotFound) {
			t.Fatalf("the replaced password still works: %v", err)
		}
		// An old row updated before any start rewrote it keeps its password.
		makeLegacy(t, db, c.Shop.ID, "second-password")
		if err := svc.UpdateOgone(ctx, c.Shop.ID, shop.OgoneSettings{}, "", "", "", ""); err != nil {
			t.Fatal(err)
		}
		if isLegacy(t, db, c.Shop.ID) {
			t.Fatal("an update kept the bare SHA-256")
		}
		if err := auth("second-password"); err != nil {
			t.Fatalf("an old row's password after an update: %v", err)
		}
	})
}

// newServiceAndVault is newService with the vault on the same keyring,
// for master-key rotations.
func newServiceAndVault(t *testing.T, db *store.DB) (*shop.Service, *vault.Vault) {
	t.Helper()
	keys, err := vault.LoadKeyring(filepath.Join(t.TempDir(), "keyring.json"), "", true)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	return shop.NewService(db, keys, clk), vault.New(db, keys, clk)
}
