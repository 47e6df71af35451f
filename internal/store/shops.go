package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/shop"
)

// InsertShop creates a shop with its key sets and Ogone account in one
// transaction (data keys included), so a shop never exists half-made.
func (db *DB) InsertShop(ctx context.Context, s shop.Shop, keys []shop.SealedAPIKeys, og *shop.SealedOgone, now time.Time) error {
	defer db.invalidateShops()
	settings, err := json.Marshal(s.Settings)
	if err != nil {
		return fmt.Errorf("store: shop settings: %w", err)
	}
	err = db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO shops (id, name, currency, language, primary_email, primary_phone, notification_url, logo_url, settings, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
			s.ID, s.Name, s.Currency, s.Language, s.PrimaryEmail, s.PrimaryPhone, s.NotificationURL, s.LogoURL, string(settings), Micros(now)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := insertAPIKeys(tx, k, now); err != nil {
				return err
			}
		}
		if og != nil {
			if err := insertOgone(tx, *og, now); err != nil {
				return err
			}
		}
		return nil
	})
	if IsUniqueViolation(err) {
		return fmt.Errorf("store: shop %s or its PSPID already exists: %w", s.ID, ErrConflict)
	}
	return err
}

func insertAPIKeys(tx *sql.Tx, k shop.SealedAPIKeys, now time.Time) error {
	if err := InsertDataKey(tx, k.DataKey, now); err != nil {
		return err
	}
	_, err := tx.Exec(`INSERT INTO shop_api_keys (shop_id, mode, password_digest, password_sealed, public_key, hmac_key_sealed, data_key_id, rotated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ShopID, k.Mode, k.PasswordDigest, k.PasswordSealed, k.PublicKey, k.HMACKeySealed, k.DataKey.ID, Micros(k.RotatedAt))
	return err
}

func insertOgone(tx *sql.Tx, og shop.SealedOgone, now time.Time) error {
	if err := InsertDataKey(tx, og.DataKey, now); err != nil {
		return err
	}
	set, err := json.Marshal(og.Settings)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO shop_ogone (shop_id, pspid, sha_algorithm, sha_in_sealed, sha_out_sealed, api_user, api_password_digest,
			api_password_salt, api_password_key_sealed, data_key_id, settings, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		og.ShopID, og.PSPID, og.SHAAlgorithm, og.SHAInSealed, og.SHAOutSealed, og.APIUser, og.APIPasswordDigest,
		nonNil(og.APIPasswordSalt), nonNil(og.APIPasswordKeySealed), og.DataKey.ID, string(set), Micros(now))
	return err
}

const shopColumns = `id, name, currency, language, primary_email, primary_phone, notification_url, logo_url, settings`

func scanShop(row interface{ Scan(...any) error }) (shop.Shop, error) {
	var s shop.Shop
	var settings string
	if err := row.Scan(&s.ID, &s.Name, &s.Currency, &s.Language, &s.PrimaryEmail, &s.PrimaryPhone, &s.NotificationURL, &s.LogoURL, &settings); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return s, shop.ErrNotFound
		}
		return s, err
	}
	if err := json.Unmarshal([]byte(settings), &s.Settings); err != nil {
		return s, fmt.Errorf("store: shop %s settings: %w", s.ID, err)
	}
	return s, nil
}

// Shop returns a shop by id.
func (db *DB) Shop(ctx context.Context, id string) (shop.Shop, error) {
	return db.shopReads.shops.get(id, func() (shop.Shop, error) {
		return scanShop(db.read.QueryRowContext(ctx, `SELECT `+shopColumns+` FROM shops WHERE id = $1`, id))
	})
}

// Shops returns every shop ordered by id.
func (db *DB) Shops(ctx context.Context) ([]shop.Shop, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+shopColumns+` FROM shops ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []shop.Shop
	for rows.Next() {
		s, err := scanShop(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// UpdateShop saves a shop's profile and settings.
func (db *DB) UpdateShop(ctx context.Context, s shop.Shop, now time.Time) error {
	defer db.invalidateShops()
	settings, err := json.Marshal(s.Settings)
	if err != nil {
		return err
	}
	return db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE shops SET name=$2, currency=$3, language=$4, primary_email=$5, primary_phone=$6, notification_url=$7, logo_url=$8, settings=$9, updated_at=$10 WHERE id=$1`,
			s.ID, s.Name, s.Currency, s.Language, s.PrimaryEmail, s.PrimaryPhone, s.NotificationURL, s.LogoURL, string(settings), Micros(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return shop.ErrNotFound
		}
		return nil
	})
}

const apiKeyColumns = `shop_id, mode, password_digest, password_sealed, public_key, hmac_key_sealed, data_key_id, rotated_at`

func scanAPIKeys(row *sql.Row) (shop.SealedAPIKeys, error) {
	var k shop.SealedAPIKeys
	var rotated int64
	if err := row.Scan(&k.ShopID, &k.Mode, &k.PasswordDigest, &k.PasswordSealed, &k.PublicKey, &k.HMACKeySealed, &k.DataKey.ID, &rotated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return k, shop.ErrNotFound
		}
		return k, err
	}
	k.RotatedAt = FromMicros(rotated)
	return k, nil
}

// APIKeys returns a mode's sealed key set.
func (db *DB) APIKeys(ctx context.Context, shopID, mode string) (shop.SealedAPIKeys, error) {
	k, err := db.shopReads.apiKeys.get([2]string{shopID, mode}, func() (shop.SealedAPIKeys, error) {
		return scanAPIKeys(db.read.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM shop_api_keys WHERE shop_id = $1 AND mode = $2`, shopID, mode))
	})
	return cloneAPIKeys(k), err
}

// APIKeysByPublicKey finds the key set of a JS-client public key.
func (db *DB) APIKeysByPublicKey(ctx context.Context, publicKey string) (shop.SealedAPIKeys, error) {
	return scanAPIKeys(db.read.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM shop_api_keys WHERE public_key = $1`, publicKey))
}

// ReplaceAPIKeys swaps a mode's key set for a new one, with its new data key.
func (db *DB) ReplaceAPIKeys(ctx context.Context, k shop.SealedAPIKeys) error {
	defer db.invalidateShops()
	now := k.RotatedAt
	return db.Write(ctx, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRow(`SELECT data_key_id FROM shop_api_keys WHERE shop_id = $1 AND mode = $2`, k.ShopID, k.Mode).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM shop_api_keys WHERE shop_id = $1 AND mode = $2`, k.ShopID, k.Mode); err != nil {
			return err
		}
		if old != "" {
			if _, err := tx.Exec(`DELETE FROM data_keys WHERE id = $1`, old); err != nil {
				return err
			}
		}
		return insertAPIKeys(tx, k, now)
	})
}

const ogoneColumns = `shop_id, pspid, sha_algorithm, sha_in_sealed, sha_out_sealed, api_user, api_password_digest,
	api_password_salt, api_password_key_sealed, data_key_id, settings, updated_at`

// nonNil stores an absent byte string as an empty one: the columns are
// NOT NULL, and an empty value has a meaning of its own (a row from
// before migration 0032).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func scanOgone(row interface{ Scan(...any) error }) (shop.SealedOgone, error) {
	var og shop.SealedOgone
	var settings string
	var updated int64
	if err := row.Scan(&og.ShopID, &og.PSPID, &og.SHAAlgorithm, &og.SHAInSealed, &og.SHAOutSealed, &og.APIUser, &og.APIPasswordDigest,
		&og.APIPasswordSalt, &og.APIPasswordKeySealed, &og.DataKey.ID, &settings, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return og, shop.ErrNotFound
		}
		return og, err
	}
	og.UpdatedAt = FromMicros(updated)
	if err := json.Unmarshal([]byte(settings), &og.Settings); err != nil {
		return og, fmt.Errorf("store: ogone settings: %w", err)
	}
	return og, nil
}

// OgoneByPSPID returns the Ogone account of a PSPID.
func (db *DB) OgoneByPSPID(ctx context.Context, pspid string) (shop.SealedOgone, error) {
	return scanOgone(db.read.QueryRowContext(ctx, `SELECT `+ogoneColumns+` FROM shop_ogone WHERE pspid = $1`, pspid))
}

// OgoneByShop returns a shop's Ogone account.
func (db *DB) OgoneByShop(ctx context.Context, shopID string) (shop.SealedOgone, error) {
	return scanOgone(db.read.QueryRowContext(ctx, `SELECT `+ogoneColumns+` FROM shop_ogone WHERE shop_id = $1`, shopID))
}

// ReplaceOgone swaps a shop's Ogone account row (new secrets, new data key).
func (db *DB) ReplaceOgone(ctx context.Context, og shop.SealedOgone) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRow(`SELECT data_key_id FROM shop_ogone WHERE shop_id = $1`, og.ShopID).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM shop_ogone WHERE shop_id = $1`, og.ShopID); err != nil {
			return err
		}
		if old != "" {
			if _, err := tx.Exec(`DELETE FROM data_keys WHERE id = $1`, old); err != nil {
				return err
			}
		}
		return insertOgone(tx, og, og.UpdatedAt)
	})
}

// LegacyOgonePasswords returns the Ogone accounts whose DirectLink password
// is still an unsalted SHA-256 (written before migration 0032, or by an
// older copy since).
func (db *DB) LegacyOgonePasswords(ctx context.Context) ([]shop.SealedOgone, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+ogoneColumns+` FROM shop_ogone WHERE length(api_password_key_sealed) = 0 ORDER BY shop_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []shop.SealedOgone
	for rows.Next() {
		og, err := scanOgone(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, og)
	}
	return out, rows.Err()
}

// UpgradeOgonePassword replaces an account's unsalted DirectLink password
// digest, legacyDigest, with og's keyed verifier, salt and sealed key. It
// changes nothing, and answers false, when the row has moved on since it
// was read (another copy upgraded it, or UpdateOgone replaced it under a
// new data key, which og's key would not open).
func (db *DB) UpgradeOgonePassword(ctx context.Context, og shop.SealedOgone, legacyDigest []byte) (bool, error) {
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE shop_ogone SET api_password_digest = $3, api_password_salt = $4, api_password_key_sealed = $5
			WHERE shop_id = $1 AND data_key_id = $2 AND length(api_password_key_sealed) = 0 AND api_password_digest = $6`,
			og.ShopID, og.DataKey.ID, og.APIPasswordDigest, og.APIPasswordSalt, og.APIPasswordKeySealed, legacyDigest)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

// InsertWebhookSecret adds a shop's newest webhook secret and makes every
// older one expire at retireAt (zero: the older ones stay valid).
func (db *DB) InsertWebhookSecret(ctx context.Context, w shop.SealedWebhookSecret, retireAt time.Time) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		if err := InsertDataKey(tx, w.DataKey, w.CreatedAt); err != nil {
			return err
		}
		if !retireAt.IsZero() {
			if _, err := tx.Exec(`UPDATE shop_webhook_secrets SET expires_at = $2 WHERE shop_id = $1 AND (expires_at IS NULL OR expires_at > $2)`,
				w.ShopID, Micros(retireAt)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`INSERT INTO shop_webhook_secrets (id, shop_id, secret_sealed, data_key_id, created_at) VALUES ($1, $2, $3, $4, $5)`,
			w.ID, w.ShopID, w.Sealed, w.DataKey.ID, Micros(w.CreatedAt))
		return err
	})
}

// WebhookSecrets returns a shop's webhook secrets still valid at now, newest first.
func (db *DB) WebhookSecrets(ctx context.Context, shopID string, now time.Time) ([]shop.SealedWebhookSecret, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, shop_id, secret_sealed, data_key_id, created_at FROM shop_webhook_secrets
		WHERE shop_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, id DESC`, shopID, Micros(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []shop.SealedWebhookSecret
	for rows.Next() {
		var w shop.SealedWebhookSecret
		var at int64
		if err := rows.Scan(&w.ID, &w.ShopID, &w.Sealed, &w.DataKey.ID, &at); err != nil {
			return nil, err
		}
		w.CreatedAt = FromMicros(at)
		out = append(out, w)
	}
	return out, rows.Err()
}
