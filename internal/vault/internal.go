package vault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/ids"
)

// OriginInternal marks a token the vault keeps for OpenPSP itself, not for
// the merchant: the card a buyer typed for a deferred debit, kept until
// its authorization the day before the capture date, or the card of a
// DirectLink order that names an ALIAS, kept until its payment ends (and
// then stored under the alias if it was accepted). No merchant-facing
// call finds it (Get, Card, Cancel, Update … answer ErrTokenNotFound), it
// is in no wallet and has no fingerprint (FindByFingerprint never lists
// it); only InternalCard opens it and EraseInternal destroys it.
const OriginInternal = "INTERNAL"

// InternalCardRequest is a card to keep for one transaction. There is no
// field for the security code on purpose: it is never stored.
type InternalCardRequest struct {
	ShopID          string
	Mode            string // TEST | PRODUCTION
	PAN             card.PAN
	Expiry          card.Expiry
	TransactionUUID string // the transaction the card is kept for
	// HolderName is the name typed with the card ("" for none), sealed as
	// a token's is.
	HolderName string
	// Temporary marks the card as one a temporary alias is to take
	// (DirectLink's ALIASPERSISTEDAFTERUSE=N): Permanent false when
	// opened. It gives the kept card no time to live of its own: the
	// alias's starts when the alias is stored, and the kept card lasts as
	// long as its transaction runs, whose end erases it (EraseInternal).
	// An expiry here erased the card of a payment accepted in time but
	// settled late (recovery), which then never got its alias.
	Temporary bool
}

// SealInternal seals the card inside the caller's transaction, the one that
// records the transaction it is kept for, and returns the reference that
// opens it (InternalCard). The reference is not a valid token value
// (ValidateToken refuses its '.'), so it can never be a merchant's alias.
func (v *Vault) SealInternal(tx *sql.Tx, req InternalCardRequest) (string, error) {
	rec, err := v.prepare(TokenizeRequest{ShopID: req.ShopID, Mode: req.Mode, PAN: req.PAN, Expiry: req.Expiry,
		Origin: OriginInternal, InitialTransactionUUID: req.TransactionUUID})
	if err != nil {
		return "", err
	}
	rec.Permanent = !req.Temporary
	// prepare sealed under the random value it chose; reseal under the
	// internal reference, the AAD binding the ciphertext to it.
	rec.Value = "internal." + ids.RandomHex(16)
	key, err := v.keys.Unwrap(rec.DataKey)
	if err != nil {
		return "", err
	}
	rec.Ciphertext = key.Seal(tokenAAD(rec.ShopID, rec.Value), plaintext(req.PAN, req.Expiry))
	rec.HolderSealed = sealHolder(key, rec.ShopID, rec.Value, req.HolderName)
	rec.HolderName = req.HolderName
	rec.Fingerprint = nil
	if err := v.store.InsertToken(tx, rec); err != nil {
		return "", err
	}
	return rec.Value, nil
}

// InternalCard opens a card kept by SealInternal, with the kept token (its
// holder name opened, Permanent false when sealed Temporary). A merchant's
// token, or another shop's or mode's reference, gives ErrTokenNotFound; an
// erased one, or a temporary one past its time, ErrTokenPurged.
func (v *Vault) InternalCard(ctx context.Context, shopID, mode, ref string) (card.PAN, card.Expiry, Token, error) {
	rec, err := v.store.Token(ctx, shopID, mode, ref)
	if err != nil {
		return card.PAN{}, card.Expiry{}, Token{}, err
	}
	if rec.Origin != OriginInternal {
		return card.PAN{}, card.Expiry{}, Token{}, notFound(shopID, ref)
	}
	if rec.StatusAt(v.clk.Now()) == StatusPurged {
		return card.PAN{}, card.Expiry{}, Token{}, ErrTokenPurged
	}
	if rec, err = v.withHolder(rec); err != nil {
		return card.PAN{}, card.Expiry{}, Token{}, err
	}
	pan, exp, err := v.open(rec)
	return pan, exp, rec.Token, err
}

// EraseInternal destroys a card kept by SealInternal inside the caller's
// transaction, the one that records why it is no longer needed: the
// strongest erase the vault has, the purge's (sealed data, fingerprint and
// data key deleted; status PURGED), without waiting for the retention
// purge. An erased or unknown reference, or a merchant's token, is left
// as it is.
func (v *Vault) EraseInternal(tx *sql.Tx, shopID, mode, ref string) error {
	rec, err := v.store.TokenTx(tx, shopID, mode, ref)
	if errors.Is(err, ErrTokenNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec.Origin != OriginInternal {
		return nil
	}
	_, err = v.store.PurgeTokenTx(tx, shopID, mode, ref, v.clk.Now())
	return err
}

// notFound is the error of a token the caller may not see: the same as for
// one that does not exist.
func notFound(shopID, token string) error {
	return fmt.Errorf("vault: token %q of shop %s: %w", token, shopID, ErrTokenNotFound)
}

// merchantRecord is store.Token for the merchant-facing calls, with the
// holder name opened: an internal card is not found.
func (v *Vault) merchantRecord(ctx context.Context, shopID, mode, token string) (Record, error) {
	rec, err := v.store.Token(ctx, shopID, mode, token)
	if err == nil && rec.Origin == OriginInternal {
		return Record{}, notFound(shopID, token)
	}
	if err != nil {
		return Record{}, err
	}
	return v.withHolder(rec)
}
