package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/vault"
)

var _ vault.Store = (*DB)(nil)

// tokenCols are the columns of vault.Token, in scanToken order.
// holder_name is in clear only in rows written before migration 0029 that
// vault.SealClearHolderNames has not sealed yet: the vault opens
// holder_name_sealed (recordCols) otherwise.
const tokenCols = `t.id, t.shop_id, t.token, t.mode, t.method, t.status, t.brand, t.brands, t.pan_masked,
	t.bin, t.last4, t.expiry_month, t.expiry_year, t.holder_name, t.customer_reference, t.customer,
	t.origin, t.origin_order_id, t.initial_transaction_uuid, t.store_permanently, t.created_at,
	t.updated_at, t.last_used_at, t.expires_at, t.cancelled_at, t.purged_at`

func tokenDest(t *vault.Token, brands, ref, customer *sql.NullString, status *string, perm *int,
	created, updated, used *int64, expires, cancelled, purged *sql.NullInt64) []any {
	return []any{&t.ID, &t.ShopID, &t.Value, &t.Mode, &t.Method, status, &t.Brand, brands, &t.PANMasked,
		&t.BIN, &t.Last4, &t.Expiry.Month, &t.Expiry.Year, &t.HolderName, ref, customer,
		&t.Origin, &t.OriginOrderID, &t.InitialTransactionUUID, perm, created,
		updated, used, expires, cancelled, purged}
}

type rowScanner interface{ Scan(...any) error }

// scanTokenRow scans tokenCols followed by extra destinations.
func scanTokenRow(row rowScanner, extra ...any) (vault.Token, error) {
	var (
		t                           vault.Token
		brands, ref, customer       sql.NullString
		status                      string
		perm                        int
		created, updated, used      int64
		expires, cancelled, purgedT sql.NullInt64
	)
	dest := tokenDest(&t, &brands, &ref, &customer, &status, &perm, &created, &updated, &used, &expires, &cancelled, &purgedT)
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return vault.Token{}, err
	}
	t.Status = vault.Status(status)
	t.Brands = splitBrands(brands.String)
	t.CustomerReference = ref.String
	t.Customer = json.RawMessage(customer.String)
	if len(t.Customer) == 0 {
		t.Customer = json.RawMessage("{}")
	}
	t.Permanent = perm != 0
	t.CreatedAt, t.UpdatedAt, t.LastUsedAt = FromMicros(created), FromMicros(updated), FromMicros(used)
	t.ExpiresAt, t.CancelledAt, t.PurgedAt = NullMicros(expires), NullMicros(cancelled), NullMicros(purgedT)
	return t, nil
}

func joinBrands(bs []card.Brand) string {
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = string(b)
	}
	return strings.Join(s, ",")
}

func splitBrands(s string) []card.Brand {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]card.Brand, len(parts))
	for i, p := range parts {
		out[i] = card.Brand(p)
	}
	return out
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// nullBytes is NULL for no bytes (a nil []byte is NULL for pgx but an empty
// blob for SQLite).
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func tokenNotFound(shopID, mode, token string) error {
	return fmt.Errorf("store: %s token %q of shop %s: %w (%w)", mode, token, shopID, vault.ErrTokenNotFound, ErrNotFound)
}

// InsertToken inserts a token and its data key in the caller's transaction.
// The holder name is written sealed only (rec.HolderSealed), never in clear.
// A token value the shop already has in that mode gives
// vault.ErrTokenExists (and ErrConflict) without aborting the transaction:
// the insert uses ON CONFLICT DO NOTHING, so the caller's other work in the
// same transaction survives on PostgreSQL too.
func (db *DB) InsertToken(tx *sql.Tx, rec vault.Record) error {
	t := rec.Token
	perm := 0
	if t.Permanent {
		perm = 1
	}
	res, err := tx.Exec(`INSERT INTO tokens (id, shop_id, token, mode, method, status, brand, brands, pan_masked,
		bin, last4, expiry_month, expiry_year, holder_name_sealed, fingerprint, data_key_id, ciphertext,
		customer_reference, customer, origin, origin_order_id, initial_transaction_uuid, store_permanently,
		created_at, updated_at, last_used_at, expires_at, cancelled_at, purged_at, retention_day)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
		$21, $22, $23, $24, $25, $26, $27, $28, $29, $30)
		ON CONFLICT (shop_id, mode, token) DO NOTHING`,
		t.ID, t.ShopID, t.Value, t.Mode, t.Method, string(t.Status), string(t.Brand), joinBrands(t.Brands), t.PANMasked,
		t.BIN, t.Last4, t.Expiry.Month, t.Expiry.Year, nullBytes(rec.HolderSealed), rec.Fingerprint, nullString(rec.DataKey.ID), rec.Ciphertext,
		nullString(t.CustomerReference), string(t.Customer), t.Origin, t.OriginOrderID, t.InitialTransactionUUID, perm,
		Micros(t.CreatedAt), Micros(t.UpdatedAt), Micros(t.LastUsedAt), OptMicros(t.ExpiresAt), OptMicros(t.CancelledAt), OptMicros(t.PurgedAt),
		retentionDay(t.LastUsedAt))
	if err != nil {
		return fmt.Errorf("store: insert token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: insert token: %w", err)
	} else if n == 0 {
		return fmt.Errorf("store: %s token %q of shop %s: %w (%w)", t.Mode, t.Value, t.ShopID, vault.ErrTokenExists, ErrConflict)
	}
	if rec.DataKey.ID != "" {
		if err := InsertDataKey(tx, rec.DataKey, t.CreatedAt); err != nil {
			return err
		}
	}
	return nil
}

// WriteTx is Write for callers that name the function type themselves (the
// vault's Store interface cannot name TxFunc without importing store).
func (db *DB) WriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.Write(ctx, fn)
}

// Token reads a token of a shop's mode with its sealed card data and
// wrapped data key.
func (db *DB) Token(ctx context.Context, shopID, mode, token string) (vault.Record, error) {
	return readToken(db.read.QueryRowContext(ctx, tokenRecordQuery, shopID, mode, token), shopID, mode, token)
}

// TokenTx is Token inside the caller's transaction (a bank-account
// replacement reads and rewrites the row in one transaction).
func (db *DB) TokenTx(tx *sql.Tx, shopID, mode, token string) (vault.Record, error) {
	return readToken(tx.QueryRow(tokenRecordQuery, shopID, mode, token), shopID, mode, token)
}

// recordSelect reads vault.Record: tokenCols, then the sealed data and the
// wrapped data key (scanRecord's order). Add the WHERE clause.
const recordSelect = `SELECT ` + tokenCols + `, t.fingerprint, t.data_key_id, t.ciphertext,
		t.holder_name_sealed, d.master_key_id, d.wrapped
		FROM tokens t LEFT JOIN data_keys d ON d.id = t.data_key_id`

// tokenRecordQuery reads a token by its value: values are unique per shop
// and mode (migration 0035), as Ingenico's test and production aliases
// are separate (tokens_shop_mode_token).
const tokenRecordQuery = recordSelect + ` WHERE t.shop_id = $1 AND t.mode = $2 AND t.token = $3`

func scanRecord(row rowScanner) (vault.Record, error) {
	var (
		rec              vault.Record
		dkID, mkID       sql.NullString
		fp, ct, hol, wrp []byte
	)
	t, err := scanTokenRow(row, &fp, &dkID, &ct, &hol, &mkID, &wrp)
	if err != nil {
		return vault.Record{}, err
	}
	rec.Token, rec.Fingerprint, rec.Ciphertext, rec.HolderSealed = t, fp, ct, hol
	if dkID.Valid && mkID.Valid {
		rec.DataKey = vault.DataKey{ID: dkID.String, MasterKeyID: mkID.String, Wrapped: wrp}
	}
	return rec, nil
}

func readToken(row *sql.Row, shopID, mode, token string) (vault.Record, error) {
	rec, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return vault.Record{}, tokenNotFound(shopID, mode, token)
	} else if err != nil {
		return vault.Record{}, fmt.Errorf("store: read token: %w", err)
	}
	return rec, nil
}

// TouchToken records a use of the token (last_used_at never moves back).
func (db *DB) TouchToken(tx *sql.Tx, shopID, mode, token string, now time.Time) error {
	st := touchTokenStmt(TokenUse{ShopID: shopID, Mode: mode, Token: token, At: now})
	res, err := tx.Exec(st.query, st.args...)
	if err != nil {
		return fmt.Errorf("store: touch token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: touch token: %w", err)
	} else if n == 0 {
		return tokenNotFound(shopID, mode, token)
	}
	return nil
}

// TokenUse is a use of a token to record with a settlement (see
// WriteSettlement).
type TokenUse struct {
	ShopID, Mode, Token string
	At                  time.Time
}

// touchTokenStmt records a use; a token that is gone is left alone (it
// changes no row, which is no error here). retention_day follows
// last_used_at (migration 0018): it changes at most once a day, so most
// uses leave the retention index alone (on PostgreSQL: a HOT update).
func touchTokenStmt(u TokenUse) groupStmt {
	return groupStmt{what: "touch token",
		query: `UPDATE tokens SET last_used_at = CASE WHEN last_used_at < $3 THEN $3 ELSE last_used_at END,
			retention_day = CASE WHEN retention_day < $4 THEN $4 ELSE retention_day END
		WHERE shop_id = $1 AND token = $2 AND mode = $5`,
		args: []any{u.ShopID, u.Token, Micros(u.At), retentionDay(u.At), u.Mode}}
}

// dayMicros is a day in microseconds, the unit of stored times.
const dayMicros = 86400 * 1000 * 1000

// retentionDay is the retention index's key of a last use: whole days
// since 1970 (UTC).
func retentionDay(lastUsed time.Time) int64 { return Micros(lastUsed) / dayMicros }

// SetTokenStatus moves a token from status from to status to.
func (db *DB) SetTokenStatus(ctx context.Context, shopID, mode, token string, from, to vault.Status, now time.Time) (bool, error) {
	var cancelled sql.NullInt64
	if to == vault.StatusCancelled {
		cancelled = OptMicros(now)
	}
	var changed bool
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE tokens SET status = $4, cancelled_at = $5, updated_at = $6
			WHERE shop_id = $1 AND token = $2 AND status = $3 AND mode = $7`,
			shopID, token, string(from), string(to), cancelled, Micros(now), mode)
		if err != nil {
			return fmt.Errorf("store: token status: %w", err)
		}
		n, err := res.RowsAffected()
		changed = n > 0
		return err
	})
	return changed, err
}

// UpdateToken applies ch to a token that is not purged. New ciphertext is
// only written while the token still has the data key it was sealed under.
func (db *DB) UpdateToken(ctx context.Context, shopID, mode, token string, ch vault.TokenChanges, now time.Time) (bool, error) {
	var changed bool
	err := db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		changed, err = db.UpdateTokenTx(tx, shopID, mode, token, ch, now)
		return err
	})
	return changed, err
}

// UpdateTokenTx is UpdateToken inside the caller's transaction.
func (db *DB) UpdateTokenTx(tx *sql.Tx, shopID, mode, token string, ch vault.TokenChanges, now time.Time) (bool, error) {
	sets := []string{"updated_at = $4"}
	args := []any{shopID, mode, token, Micros(now)}
	set := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if ch.Ciphertext != nil {
		set("ciphertext", ch.Ciphertext)
	}
	if ch.Fingerprint != nil {
		set("fingerprint", ch.Fingerprint)
	}
	if ch.Brand != nil {
		set("brand", string(*ch.Brand))
		set("brands", joinBrands(ch.Brands))
	}
	if ch.PANMasked != nil {
		set("pan_masked", *ch.PANMasked)
	}
	if ch.BIN != nil {
		set("bin", *ch.BIN)
	}
	if ch.Last4 != nil {
		set("last4", *ch.Last4)
	}
	if ch.Expiry != nil {
		set("expiry_month", ch.Expiry.Month)
		set("expiry_year", ch.Expiry.Year)
	}
	if ch.SetHolder {
		set("holder_name_sealed", nullBytes(ch.HolderSealed))
		sets = append(sets, "holder_name = ''")
	}
	if ch.Customer != nil {
		set("customer", string(ch.Customer))
	}
	if ch.Activate {
		sets = append(sets, "status = 'ACTIVE'", "cancelled_at = NULL")
	}
	if ch.Permanent {
		sets = append(sets, "expires_at = NULL", "store_permanently = 1")
	}
	if ch.Used {
		// As touchTokenStmt: never back, retention_day with it.
		args = append(args, retentionDay(now))
		sets = append(sets, "last_used_at = CASE WHEN last_used_at < $4 THEN $4 ELSE last_used_at END",
			fmt.Sprintf("retention_day = CASE WHEN retention_day < $%d THEN $%d ELSE retention_day END", len(args), len(args)))
	}
	where := "shop_id = $1 AND mode = $2 AND token = $3 AND status <> 'PURGED'"
	if ch.OnlyActive {
		where += " AND status = 'ACTIVE'"
	}
	if ch.Ciphertext != nil || ch.HolderSealed != nil {
		if ch.DataKeyID == "" {
			return false, errors.New("store: update token: new sealed data without its data key")
		}
		args = append(args, ch.DataKeyID)
		where += fmt.Sprintf(" AND data_key_id = $%d", len(args))
	}
	res, err := tx.Exec(`UPDATE tokens SET `+strings.Join(sets, ", ")+` WHERE `+where, args...)
	if err != nil {
		return false, fmt.Errorf("store: update token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: update token: %w", err)
	}
	return n > 0, nil
}

// MakeTokenPermanent clears the time to live of a live temporary token.
func (db *DB) MakeTokenPermanent(ctx context.Context, shopID, mode, token string, now time.Time) (bool, error) {
	var changed bool
	err := db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		changed, err = db.MakeTokenPermanentTx(tx, shopID, mode, token, now)
		return err
	})
	return changed, err
}

// MakeTokenPermanentTx is MakeTokenPermanent inside the caller's
// transaction.
func (db *DB) MakeTokenPermanentTx(tx *sql.Tx, shopID, mode, token string, now time.Time) (bool, error) {
	res, err := tx.Exec(`UPDATE tokens SET expires_at = NULL, store_permanently = 1, updated_at = $3
		WHERE shop_id = $1 AND token = $2 AND mode = $4 AND expires_at IS NOT NULL AND expires_at > $3 AND status <> 'PURGED'`,
		shopID, token, Micros(now), mode)
	if err != nil {
		return false, fmt.Errorf("store: make token permanent: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (db *DB) listTokens(ctx context.Context, query string, args ...any) ([]vault.Record, error) {
	return scanRecords(db.read.QueryContext(ctx, query, args...))
}

func scanRecords(rows *sql.Rows, err error) ([]vault.Record, error) {
	if err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	defer rows.Close()
	var out []vault.Record
	for rows.Next() {
		t, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	return out, nil
}

// WalletTokens lists a customer's tokens, oldest first.
func (db *DB) WalletTokens(ctx context.Context, shopID, customerReference string) ([]vault.Record, error) {
	return db.listTokens(ctx, recordSelect+`
		WHERE t.shop_id = $1 AND t.customer_reference = $2 ORDER BY t.created_at, t.id`, shopID, customerReference)
}

// walletLockClass is the first key of the PostgreSQL advisory locks that
// serialise the saves of cards in one wallet (WalletCardTx); a two-key
// lock never meets migrationLockKey, a one-key lock.
const walletLockClass = 0x7761 // "wa"

// WalletCardTx returns, inside tx, the ACTIVE card tokens of one card
// (fingerprint) in a buyer's wallet (shop, mode, customer reference),
// oldest first. On PostgreSQL it first takes a transaction lock on the
// wallet, held until tx ends: two saves of the same card at once (two
// transactions, each seeing no token yet) would otherwise both insert one.
// SQLite has one writer: a save committed before tx began is seen, and the
// group commit runs the saves of one transaction in turn.
func (db *DB) WalletCardTx(tx *sql.Tx, shopID, mode, customerReference string, fingerprint []byte) ([]vault.Record, error) {
	if db.dialect == Postgres {
		if _, err := tx.Exec(`SELECT pg_advisory_xact_lock(`+strconv.Itoa(walletLockClass)+`, hashtext($1))`,
			shopID+"|"+mode+"|"+customerReference); err != nil { // a collision only waits more
			return nil, fmt.Errorf("store: lock wallet: %w", err)
		}
	}
	return scanRecords(tx.Query(recordSelect+`
		WHERE t.shop_id = $1 AND t.customer_reference = $2 AND t.mode = $3 AND t.fingerprint = $4
		AND t.status = 'ACTIVE' ORDER BY t.created_at, t.id`, shopID, customerReference, mode, fingerprint))
}

// TokensByFingerprint lists a shop's tokens of one card, oldest first.
func (db *DB) TokensByFingerprint(ctx context.Context, shopID string, fingerprint []byte) ([]vault.Record, error) {
	return db.listTokens(ctx, recordSelect+`
		WHERE t.shop_id = $1 AND t.fingerprint = $2 ORDER BY t.created_at, t.id`, shopID, fingerprint)
}

// noSubscriptionToCome keeps from the retention purge the card of a
// subscription that still charges it (an instalment to come, or one waiting
// for an attempt), however long since its last use: a subscription every
// two years, or one starting more than 15 months ahead, would otherwise lose
// its card before its next instalment. Uses subscriptions_token.
const noSubscriptionToCome = `NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.shop_id = tokens.shop_id
	AND s.token = tokens.token AND s.mode = tokens.mode AND s.status = 'ACTIVE' AND (s.next_due_at IS NOT NULL OR EXISTS (
		SELECT 1 FROM subscription_instalments i WHERE i.subscription_id = s.id AND i.status IN ('DUE', 'CHARGING'))))`

// purgeWhere returns the condition selecting the tokens of sel, written so
// that SQLite uses the partial indexes tokens_retention_day and
// tokens_temporary_live (their WHERE clauses must appear literally). A
// token last used before the cutoff was last used on the cutoff's day or
// before: the index narrows to those days, last_used_at decides.
func purgeWhere(sel vault.PurgeSelector) (string, int64, error) {
	switch {
	case !sel.LastUsedBefore.IsZero() && sel.ExpiresBefore.IsZero():
		return "status <> 'PURGED' AND retention_day <= CAST($1 AS BIGINT) / " + strconv.Itoa(dayMicros) +
			" AND last_used_at < $1 AND " + noSubscriptionToCome, Micros(sel.LastUsedBefore), nil
	case sel.LastUsedBefore.IsZero() && !sel.ExpiresBefore.IsZero():
		return "expires_at IS NOT NULL AND status <> 'PURGED' AND expires_at <= $1", Micros(sel.ExpiresBefore), nil
	}
	return "", 0, errors.New("store: purge selector needs exactly one of LastUsedBefore and ExpiresBefore")
}

// purgedHolder destroys the holder name with the card data: its sealed
// form would no longer open without the data key, and a name still in
// clear (a row not yet sealed after migration 0029) must not outlive it.
const purgedHolder = `holder_name = '', holder_name_sealed = NULL,`

// CountPurgeable counts the tokens PurgeTokens would purge.
func (db *DB) CountPurgeable(ctx context.Context, sel vault.PurgeSelector) (int, error) {
	where, at, err := purgeWhere(sel)
	if err != nil {
		return 0, err
	}
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens WHERE `+where, at).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count purgeable tokens: %w", err)
	}
	return n, nil
}

// PurgeTokens destroys the card data of up to limit tokens chosen by sel in
// one write transaction, with set-based statements (no per-row round trips).
//
// The token UPDATE and the data key DELETE must act on exactly the same
// tokens: a data key deleted for a token that is not purged would make its
// card unreadable. On PostgreSQL one statement does both (data-modifying
// CTEs share a snapshot), locking the chosen rows and skipping those a
// payment holds; under READ COMMITTED the lock re-checks the condition on
// the newest row version, so a token used meanwhile is left alone. On SQLite
// the transaction is the only writer; the chosen ids go to a temporary table
// PurgeTokenTx destroys the card data of one token inside the caller's
// transaction, as PurgeTokens does for the retention purge (ciphertext,
// fingerprint and data key deleted, status PURGED, masked details kept),
// whatever its last use: the vault erases a card this way as soon as it is
// no longer needed. It reports whether it purged (false: unknown to the
// shop, or purged already).
func (db *DB) PurgeTokenTx(tx *sql.Tx, shopID, mode, token string, now time.Time) (bool, error) {
	q := `SELECT data_key_id FROM tokens WHERE shop_id = $1 AND mode = $2 AND token = $3 AND status <> 'PURGED'`
	if db.dialect == Postgres {
		q += " FOR UPDATE"
	}
	var dk sql.NullString
	if err := tx.QueryRow(q, shopID, mode, token).Scan(&dk); errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("store: purge token: %w", err)
	}
	if _, err := tx.Exec(`UPDATE tokens SET status = 'PURGED', ciphertext = NULL, fingerprint = NULL, data_key_id = NULL, `+purgedHolder+`
		purged_at = $3, updated_at = $3 WHERE shop_id = $1 AND token = $2 AND mode = $4`, shopID, token, Micros(now), mode); err != nil {
		return false, fmt.Errorf("store: purge token: %w", err)
	}
	if dk.Valid {
		if err := DeleteDataKey(tx, dk.String); err != nil {
			return false, err
		}
	}
	return true, nil
}

// and the DELETE only follows rows the UPDATE really purged.
func (db *DB) PurgeTokens(ctx context.Context, sel vault.PurgeSelector, limit int, now time.Time) (int, error) {
	where, at, err := purgeWhere(sel)
	if err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, errors.New("store: purge batch size must be positive")
	}
	var n int64
	err = db.Write(ctx, func(tx *sql.Tx) error {
		if db.dialect == Postgres {
			return tx.QueryRow(`WITH victims AS (
					SELECT id, data_key_id FROM tokens WHERE `+where+` LIMIT $2 FOR UPDATE SKIP LOCKED),
				purged AS (
					UPDATE tokens t SET status = 'PURGED', ciphertext = NULL, fingerprint = NULL, data_key_id = NULL, `+purgedHolder+`
						purged_at = $3, updated_at = $3
					FROM victims v WHERE t.id = v.id
					RETURNING v.data_key_id),
				gone AS (
					DELETE FROM data_keys WHERE id IN (SELECT data_key_id FROM purged) RETURNING 1)
				SELECT COUNT(*) FROM purged`, at, limit, Micros(now)).Scan(&n)
		}
		stmts := []struct {
			q    string
			args []any
		}{
			{`CREATE TEMP TABLE IF NOT EXISTS vault_purge (id TEXT PRIMARY KEY, data_key_id TEXT)`, nil},
			{`DELETE FROM temp.vault_purge`, nil},
			{`INSERT INTO temp.vault_purge (id, data_key_id) SELECT id, data_key_id FROM tokens WHERE ` + where + ` LIMIT $2`, []any{at, limit}},
		}
		for _, s := range stmts {
			if _, err := tx.Exec(s.q, s.args...); err != nil {
				return fmt.Errorf("store: purge tokens: %w", err)
			}
		}
		res, err := tx.Exec(`UPDATE tokens SET status = 'PURGED', ciphertext = NULL, fingerprint = NULL, data_key_id = NULL, `+purgedHolder+`
			purged_at = $2, updated_at = $2
			WHERE id IN (SELECT id FROM temp.vault_purge) AND `+where, at, Micros(now))
		if err != nil {
			return fmt.Errorf("store: purge tokens: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("store: purge tokens: %w", err)
		}
		// CROSS JOIN fixes the loop order (SQLite never reorders it): the
		// batch's few rows drive primary-key look-ups in tokens. With a
		// plain JOIN the planner scanned every token for every batch, which
		// made a purge of 1,000,000 tokens quadratic (267 s instead of 13 s here).
		if _, err := tx.Exec(`DELETE FROM data_keys WHERE id IN (
			SELECT p.data_key_id FROM temp.vault_purge p CROSS JOIN tokens t ON t.id = p.id
			WHERE t.status = 'PURGED' AND p.data_key_id IS NOT NULL)`); err != nil {
			return fmt.Errorf("store: purge data keys: %w", err)
		}
		if _, err := tx.Exec(`DELETE FROM temp.vault_purge`); err != nil {
			return fmt.Errorf("store: purge tokens: %w", err)
		}
		return nil
	})
	return int(n), err
}

// HolderNamesInClear lists up to limit tokens with id > afterID, by id,
// whose holder name is still in clear and whose data key exists.
func (db *DB) HolderNamesInClear(ctx context.Context, afterID string, limit int) ([]vault.Record, error) {
	return db.listTokens(ctx, recordSelect+`
		WHERE t.holder_name <> '' AND d.id IS NOT NULL AND t.id > $1 ORDER BY t.id LIMIT $2`, afterID, limit)
}

// SealHolderNames swaps clear holder names for their sealed form in one
// write transaction; a row whose name or data key changed since it was
// read is left for the next run.
func (db *DB) SealHolderNames(ctx context.Context, seals []vault.HolderSeal) (int, error) {
	if len(seals) == 0 {
		return 0, nil
	}
	var n int
	err := db.Write(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, s := range seals {
			res, err := tx.Exec(`UPDATE tokens SET holder_name_sealed = $1, holder_name = ''
				WHERE id = $2 AND data_key_id = $3 AND holder_name = $4`, nullBytes(s.Sealed), s.ID, s.DataKeyID, s.Clear)
			if err != nil {
				return fmt.Errorf("store: seal holder name: %w", err)
			}
			c, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("store: seal holder name: %w", err)
			}
			n += int(c)
		}
		return nil
	})
	return n, err
}

// CountDataKeysNotUnder counts the data keys not wrapped by masterKeyID.
func (db *DB) CountDataKeysNotUnder(ctx context.Context, masterKeyID string) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM data_keys WHERE master_key_id <> $1`, masterKeyID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count data keys: %w", err)
	}
	return n, nil
}

func scanDataKeys(rows *sql.Rows) ([]vault.DataKey, error) {
	defer rows.Close()
	var out []vault.DataKey
	for rows.Next() {
		var dk vault.DataKey
		if err := rows.Scan(&dk.ID, &dk.MasterKeyID, &dk.Wrapped); err != nil {
			return nil, fmt.Errorf("store: list data keys: %w", err)
		}
		out = append(out, dk)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list data keys: %w", err)
	}
	return out, nil
}

// DataKeysNotUnder lists up to limit data keys not wrapped by masterKeyID
// whose id is greater than afterID, in id order.
func (db *DB) DataKeysNotUnder(ctx context.Context, masterKeyID, afterID string, limit int) ([]vault.DataKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, master_key_id, wrapped FROM data_keys
		WHERE master_key_id <> $1 AND id > $2 ORDER BY id LIMIT $3`, masterKeyID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list data keys: %w", err)
	}
	return scanDataKeys(rows)
}

func rewrapInTx(tx *sql.Tx, rewraps []vault.Rewrap, now time.Time) (int, error) {
	if len(rewraps) == 0 {
		return 0, nil
	}
	stmt, err := tx.Prepare(`UPDATE data_keys SET master_key_id = $1, wrapped = $2, rewrapped_at = $3
		WHERE id = $4 AND master_key_id = $5`)
	if err != nil {
		return 0, fmt.Errorf("store: rewrap: %w", err)
	}
	defer stmt.Close()
	total := 0
	for _, r := range rewraps {
		res, err := stmt.Exec(r.To.MasterKeyID, r.To.Wrapped, Micros(now), r.To.ID, r.From)
		if err != nil {
			return 0, fmt.Errorf("store: rewrap data key %s: %w", r.To.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("store: rewrap: %w", err)
		}
		total += int(n)
	}
	return total, nil
}

// RewrapDataKeys applies rewraps in one write transaction; a row that no
// longer has its From master key (rewrapped meanwhile by another copy, or
// deleted by a purge) is left alone.
func (db *DB) RewrapDataKeys(ctx context.Context, rewraps []vault.Rewrap, now time.Time) (int, error) {
	if len(rewraps) == 0 {
		return 0, nil
	}
	var n int
	err := db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = rewrapInTx(tx, rewraps, now)
		return err
	})
	return n, err
}

// SweepDataKeys rewraps, in one write transaction, up to limit data keys not
// under masterKeyID. On SQLite the write transaction already excludes every
// other writer; on PostgreSQL a SHARE ROW EXCLUSIVE lock on data_keys waits
// for transactions still inserting data keys (wrapped by the old primary
// before the rotation) and keeps new ones out until the sweep commits.
func (db *DB) SweepDataKeys(ctx context.Context, masterKeyID string, limit int, rewrap func(vault.DataKey) (vault.DataKey, error), now time.Time) (int, error) {
	var n int
	err := db.Write(ctx, func(tx *sql.Tx) error {
		if db.dialect == Postgres {
			if _, err := tx.Exec(`LOCK TABLE data_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return fmt.Errorf("store: sweep data keys: %w", err)
			}
		}
		rows, err := tx.Query(`SELECT id, master_key_id, wrapped FROM data_keys
			WHERE master_key_id <> $1 ORDER BY id LIMIT $2`, masterKeyID, limit)
		if err != nil {
			return fmt.Errorf("store: sweep data keys: %w", err)
		}
		keys, err := scanDataKeys(rows)
		if err != nil {
			return err
		}
		rewraps := make([]vault.Rewrap, 0, len(keys))
		for _, dk := range keys {
			to, err := rewrap(dk)
			if err != nil {
				return err
			}
			if to.MasterKeyID != dk.MasterKeyID {
				rewraps = append(rewraps, vault.Rewrap{From: dk.MasterKeyID, To: to})
			}
		}
		n, err = rewrapInTx(tx, rewraps, now)
		return err
	})
	return n, err
}
