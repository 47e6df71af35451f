package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// The first fingerprint key a database meets is recorded and then
// returned to every later start, whatever key that start brings; only
// ReplaceFingerprintKeyCheck changes it.
func TestFingerprintKeyCheckRecordsTheFirstKey(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		check, source, err := db.FingerprintKeyCheck(ctx, "c1", "keyring file", now)
		if err != nil || check != "c1" || source != "keyring file" {
			t.Fatalf("first start: %q %q %v", check, source, err)
		}
		check, source, err = db.FingerprintKeyCheck(ctx, "c2", "OPENPSP_MASTER_KEYS", now)
		if err != nil || check != "c1" || source != "keyring file" {
			t.Fatalf("a later start with another key got %q %q %v, want the recorded c1", check, source, err)
		}
		if err := db.ReplaceFingerprintKeyCheck(ctx, "c2", "OPENPSP_MASTER_KEYS", now); err != nil {
			t.Fatal(err)
		}
		check, _, err = db.FingerprintKeyCheck(ctx, "c3", "x", now)
		if err != nil || check != "c2" {
			t.Fatalf("after the replacement: %q %v, want c2", check, err)
		}
		has, err := db.HasFingerprints(ctx)
		if err != nil || has {
			t.Fatalf("an empty vault has fingerprints: %v %v", has, err)
		}
	})
}
