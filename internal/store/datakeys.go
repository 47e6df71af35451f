package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/vault"
)

// InsertDataKey stores a wrapped data key inside the caller's transaction,
// so a sealed record and its key commit together.
func InsertDataKey(tx *sql.Tx, dk vault.DataKey, now time.Time) error {
	if dk.ID == "" || dk.MasterKeyID == "" || len(dk.Wrapped) == 0 {
		return errors.New("store: data key is incomplete")
	}
	_, err := tx.Exec(`INSERT INTO data_keys (id, master_key_id, wrapped, created_at) VALUES ($1, $2, $3, $4)`,
		dk.ID, dk.MasterKeyID, dk.Wrapped, Micros(now))
	if err != nil {
		if IsUniqueViolation(err) {
			return fmt.Errorf("store: data key %s: %w", dk.ID, ErrConflict)
		}
		return fmt.Errorf("store: insert data key: %w", err)
	}
	return nil
}

// DeleteDataKey destroys a data key inside the caller's transaction; what it
// sealed can never be opened again.
func DeleteDataKey(tx *sql.Tx, id string) error {
	if _, err := tx.Exec(`DELETE FROM data_keys WHERE id = $1`, id); err != nil {
		return fmt.Errorf("store: delete data key: %w", err)
	}
	return nil
}

// DataKey reads a wrapped data key (ErrNotFound if it does not exist).
func (db *DB) DataKey(ctx context.Context, id string) (vault.DataKey, error) {
	return scanDataKey(db.read.QueryRowContext(ctx,
		`SELECT id, master_key_id, wrapped FROM data_keys WHERE id = $1`, id))
}

// DataKeyTx reads a wrapped data key inside a transaction.
func DataKeyTx(tx *sql.Tx, id string) (vault.DataKey, error) {
	return scanDataKey(tx.QueryRow(`SELECT id, master_key_id, wrapped FROM data_keys WHERE id = $1`, id))
}

func scanDataKey(row *sql.Row) (vault.DataKey, error) {
	var dk vault.DataKey
	if err := row.Scan(&dk.ID, &dk.MasterKeyID, &dk.Wrapped); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return vault.DataKey{}, fmt.Errorf("store: data key: %w", ErrNotFound)
		}
		return vault.DataKey{}, fmt.Errorf("store: data key: %w", err)
	}
	return dk, nil
}
