package vault

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/openpsp/openpsp/internal/card"
)

// Errors of the vault, told apart with errors.Is. The API layers map them:
// PayZen PSP_030 (not found), PSP_031 (cancelled / invalid), PSP_036
// (purged), PSP_034 (already exists); Ogone "unknown alias".
var (
	ErrTokenNotFound  = errors.New("vault: token not found")
	ErrTokenCancelled = errors.New("vault: token cancelled")
	ErrTokenPurged    = errors.New("vault: token purged")
	ErrTokenExpired   = errors.New("vault: card expired")
	ErrTokenExists    = errors.New("vault: token already exists")
	ErrInvalidToken   = errors.New("vault: invalid token value")
	ErrInvalidRequest = errors.New("vault: invalid request")
)

// Status is a token's state. ACTIVE, CANCELLED and PURGED are stored;
// EXPIRED is derived from the card expiry and the clock.
type Status string

// Token states.
const (
	StatusActive    Status = "ACTIVE"
	StatusCancelled Status = "CANCELLED" // logical deletion: unusable, still visible
	StatusPurged    Status = "PURGED"    // card data destroyed, masked details kept
	StatusExpired   Status = "EXPIRED"   // derived: the card expiry has passed
	// StatusAll is a wallet filter only: every token of the wallet.
	StatusAll Status = "ALL"
)

// Token is what the vault tells about a token: never the card number, only
// its masked form, BIN and last four digits.
type Token struct {
	ID                     string // internal row id (UUIDv7)
	ShopID                 string
	Value                  string // the token merchants see (32 hex, or an Ogone alias)
	Mode                   string // TEST | PRODUCTION
	Method                 string // CARD | SDD (a bank account: PANMasked is the masked IBAN, Brand the direct debit method)
	Status                 Status // the stored status: ACTIVE, CANCELLED or PURGED
	Brand                  card.Brand
	Brands                 []card.Brand
	PANMasked              string
	BIN                    string
	Last4                  string
	Expiry                 card.Expiry
	HolderName             string
	CustomerReference      string          // wallet membership; "" means not in a wallet
	Customer               json.RawMessage // JSON object: email, billingDetails … (never nil)
	Origin                 string          // V4 | FLEXCHECKOUT | DIRECTLINK
	OriginOrderID          string
	InitialTransactionUUID string
	Permanent              bool      // false for temporary tokens (ExpiresAt set)
	CreatedAt              time.Time // all times UTC
	UpdatedAt              time.Time
	LastUsedAt             time.Time
	ExpiresAt              time.Time // zero for permanent tokens
	CancelledAt            time.Time
	PurgedAt               time.Time
}

// StatusAt returns the status as merchants see it at now: PURGED for a
// temporary token past its time to live (the job may not have run yet),
// EXPIRED for an active token whose card has expired, else the stored one.
func (t Token) StatusAt(now time.Time) Status {
	if t.Status == StatusPurged || t.temporaryOver(now) {
		return StatusPurged
	}
	if t.Status == StatusActive && !t.Expiry.IsZero() && t.Expiry.Expired(now) {
		return StatusExpired
	}
	return t.Status
}

func (t Token) temporaryOver(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// Record is a token row with its sealed card data, as the Store keeps it.
// Only the vault reads Ciphertext and DataKey.
type Record struct {
	Token
	Fingerprint []byte
	Ciphertext  []byte  // nil once purged
	DataKey     DataKey // zero once purged
	// HolderSealed is the holder name sealed under DataKey (holderAAD);
	// nil for no name, and once purged. Token.HolderName comes from it
	// when the vault reads a token; the store never keeps the name in clear
	// (only a row written before migration 0029 may still have it there,
	// until SealClearHolderNames seals it).
	HolderSealed []byte
	// dataKey is DataKey unwrapped, once the vault needed it (keyOf).
	dataKey *Key
}

// HolderSeal is a holder name still in clear that SealClearHolderNames
// sealed: the store swaps it for Sealed if the row still has that clear
// name and data key.
type HolderSeal struct {
	ID        string // tokens.id
	DataKeyID string
	Clear     string // the name in clear the row must still hold
	Sealed    []byte
}

// TokenChanges are the fields Store.UpdateToken sets; nil means unchanged.
type TokenChanges struct {
	Ciphertext  []byte // with a new card number or expiry, sealed under the same data key
	DataKeyID   string // the data key Ciphertext is sealed under (guards against a concurrent purge)
	Fingerprint []byte
	Brand       *card.Brand
	Brands      []card.Brand
	PANMasked   *string
	BIN         *string
	Last4       *string
	Expiry      *card.Expiry
	// SetHolder replaces the holder name with HolderSealed (sealed under
	// DataKeyID; nil for no name).
	SetHolder    bool
	HolderSealed []byte
	Customer     json.RawMessage
	// Activate makes a CANCELLED token ACTIVE again (cancelled_at cleared).
	Activate bool
	// Permanent clears a temporary token's time to live.
	Permanent bool
	// OnlyActive applies the changes only to a token still ACTIVE (a card
	// replacement a cancellation committed meanwhile must not reach).
	OnlyActive bool
	// Used records a use of the token at the update's time (last_used_at),
	// from which the retention purge counts.
	Used bool
}

// PurgeSelector chooses the tokens a purge destroys: exactly one field set.
type PurgeSelector struct {
	// LastUsedBefore selects tokens not used since this time (retention).
	LastUsedBefore time.Time
	// ExpiresBefore selects temporary tokens whose time to live ended at or
	// before this time.
	ExpiresBefore time.Time
}

// Rewrap is one data key to move from master key From to the key in To.
type Rewrap struct {
	From string  // master key id the row must still have (optimistic check)
	To   DataKey // same id, new master key id and wrapped bytes
}

// Store is what the vault needs from the database; *store.DB implements it.
// Methods taking a *sql.Tx run inside the caller's transaction; the others
// own theirs. A missing token is reported with an error that satisfies
// errors.Is(err, ErrTokenNotFound); a taken token value with ErrTokenExists.
type Store interface {
	// InsertToken inserts the token row and its data key.
	InsertToken(tx *sql.Tx, rec Record) error
	// WriteTx runs fn in a write transaction (the group-commit path).
	WriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error
	// Token reads a token of a shop's mode (TEST or PRODUCTION: a value
	// is unique per shop and mode) with its ciphertext and wrapped data key.
	Token(ctx context.Context, shopID, mode, token string) (Record, error)
	// TokenTx is Token inside the caller's transaction.
	TokenTx(tx *sql.Tx, shopID, mode, token string) (Record, error)
	// TouchToken sets last_used_at.
	TouchToken(tx *sql.Tx, shopID, mode, token string, now time.Time) error
	// SetTokenStatus moves a token from one stored status to another and
	// reports whether it did (false: the token is not in status from).
	SetTokenStatus(ctx context.Context, shopID, mode, token string, from, to Status, now time.Time) (bool, error)
	// UpdateToken applies changes to a token that is not PURGED and reports
	// whether a row changed.
	UpdateToken(ctx context.Context, shopID, mode, token string, ch TokenChanges, now time.Time) (bool, error)
	// UpdateTokenTx is UpdateToken inside the caller's transaction.
	UpdateTokenTx(tx *sql.Tx, shopID, mode, token string, ch TokenChanges, now time.Time) (bool, error)
	// MakeTokenPermanent clears the time to live of a temporary token that
	// is not purged; false if there is none.
	MakeTokenPermanent(ctx context.Context, shopID, mode, token string, now time.Time) (bool, error)
	// MakeTokenPermanentTx is MakeTokenPermanent inside the caller's
	// transaction.
	MakeTokenPermanentTx(tx *sql.Tx, shopID, mode, token string, now time.Time) (bool, error)
	// WalletTokens lists the tokens of a customer reference, oldest first,
	// with their sealed data (the holder name is opened by the vault).
	WalletTokens(ctx context.Context, shopID, customerReference string) ([]Record, error)
	// WalletCardTx lists, inside tx, the tokens of stored status ACTIVE of
	// one card (fingerprint) in a buyer's wallet (shop, mode, customer
	// reference), oldest first, after locking the wallet against another
	// transaction's save until tx ends.
	WalletCardTx(tx *sql.Tx, shopID, mode, customerReference string, fingerprint []byte) ([]Record, error)
	// TokensByFingerprint lists a shop's tokens of one card, oldest first,
	// with their sealed data.
	TokensByFingerprint(ctx context.Context, shopID string, fingerprint []byte) ([]Record, error)
	// HolderNamesInClear lists up to limit tokens with id > afterID, by id,
	// whose holder name is still in clear (written before migration 0029)
	// and that have a data key to seal it with.
	HolderNamesInClear(ctx context.Context, afterID string, limit int) ([]Record, error)
	// SealHolderNames stores the sealed names in one write transaction,
	// each only if its row still has that clear name and data key, and
	// returns how many it stored.
	SealHolderNames(ctx context.Context, seals []HolderSeal) (int, error)

	// CountPurgeable counts the tokens a purge with sel would destroy.
	CountPurgeable(ctx context.Context, sel PurgeSelector) (int, error)
	// PurgeTokens destroys the card data of at most limit tokens chosen by
	// sel in one write transaction (ciphertext, fingerprint and data key
	// deleted, status PURGED), re-checking sel in the UPDATE itself, and
	// returns how many it purged.
	PurgeTokens(ctx context.Context, sel PurgeSelector, limit int, now time.Time) (int, error)
	// PurgeTokenTx destroys one token's card data as PurgeTokens does,
	// inside the caller's transaction, and reports whether it did (false:
	// unknown or purged already).
	PurgeTokenTx(tx *sql.Tx, shopID, mode, token string, now time.Time) (bool, error)

	// CountDataKeysNotUnder counts data keys not wrapped by masterKeyID.
	CountDataKeysNotUnder(ctx context.Context, masterKeyID string) (int, error)
	// DataKeysNotUnder lists up to limit data keys not wrapped by
	// masterKeyID with id > afterID, by id.
	DataKeysNotUnder(ctx context.Context, masterKeyID, afterID string, limit int) ([]DataKey, error)
	// RewrapDataKeys applies the rewraps in one write transaction, each only
	// if the row is still under its From key; returns how many changed.
	RewrapDataKeys(ctx context.Context, rewraps []Rewrap, now time.Time) (int, error)
	// SweepDataKeys, in one write transaction that sees every committed
	// insert (PostgreSQL: after a lock that waits for in-flight inserters),
	// rewraps up to limit data keys not under masterKeyID with rewrap and
	// returns how many it found.
	SweepDataKeys(ctx context.Context, masterKeyID string, limit int, rewrap func(DataKey) (DataKey, error), now time.Time) (int, error)
}
