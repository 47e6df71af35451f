package app

import (
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/openpsp/openpsp/internal/config"
)

// checkFingerprintKey compares the keyring's fingerprint key with the one
// this database's card fingerprints were made with (recorded at the first
// start, as a check value): a copy started with another key would go on
// working while no card already stored is recognised again (wallets,
// duplicate detection). Production refuses to start then, saying where
// each key comes from; development warns and records the new key. While
// no fingerprint is stored a new key changes nothing and is recorded.
func (a *App) checkFingerprintKey(ctx context.Context) error {
	check, source := a.Keys.FingerprintKeyCheck()
	now := a.Clock.Now()
	stored, storedSource, err := a.DB.FingerprintKeyCheck(ctx, check, source, now)
	if err != nil {
		return fmt.Errorf("fingerprint key check: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(stored), []byte(check)) == 1 {
		return nil
	}
	has, err := a.DB.HasFingerprints(ctx)
	if err != nil {
		return fmt.Errorf("fingerprint key check: %w", err)
	}
	if has && a.Config.Env == config.EnvProduction {
		return fmt.Errorf("invalid configuration:\n  - the card-fingerprint key is %s, but the card fingerprints stored in this database were made with another key, %s: "+
			"the cards already stored would no longer be recognised. Give that key again: put the same master key back at the head of OPENPSP_MASTER_KEYS "+
			"(for a derived key), the keyring file back in OPENPSP_KEYRING_FILE (for its fingerprint_key), or the same \"fingerprint:base64\" entry in OPENPSP_MASTER_KEYS, "+
			"which wins over both (see README, Configuration)", source, storedSource)
	}
	if has {
		a.Log.Warn("the card-fingerprint key changed: cards stored before are no longer recognised (production refuses this)",
			"key", source, "previous", storedSource)
	}
	return a.DB.ReplaceFingerprintKeyCheck(ctx, check, source, now)
}
