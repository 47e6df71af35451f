package vault

import (
	"context"
	"database/sql"
	"fmt"
)

// The card holder's name is cardholder data when it is kept with the card
// number (PCI DSS), so the vault seals it with the token's data key like
// the card itself, in a field of its own: reading it (Get, a wallet) does
// not open the card number, and changing it does not rewrite the card. A
// master-key rotation rewraps the data key only, so the sealed name, like
// the sealed card, stays as it is and keeps opening; the purge deletes the
// data key, and the name goes with the card.

// holderAAD binds a sealed holder name to its shop and token, under a
// purpose of its own: the card's ciphertext (sealed under tokenAAD with
// the same key) does not open as a name, nor a name as a card.
func holderAAD(shopID, token string) []byte {
	return []byte("openpsp/holder-name/v1\x00" + shopID + "\x00" + token)
}

// sealHolder seals a holder name under key; nil for no name.
func sealHolder(key *Key, shopID, token, name string) []byte {
	if name == "" {
		return nil
	}
	return key.Seal(holderAAD(shopID, token), []byte(name))
}

// withHolder fills rec.HolderName from its sealed form. A name still in
// clear (a row written before migration 0029 that SealClearHolderNames has
// not reached yet) is shown as it is.
func (v *Vault) withHolder(rec Record) (Record, error) {
	if rec.HolderName != "" || len(rec.HolderSealed) == 0 {
		return rec, nil
	}
	if rec.DataKey.ID == "" {
		// Purged meanwhile: the name went with the data key.
		return rec, nil
	}
	key, err := v.keyOf(&rec)
	if err != nil {
		return Record{}, err
	}
	name, err := key.Open(holderAAD(rec.ShopID, rec.Value), rec.HolderSealed)
	if err != nil {
		return Record{}, fmt.Errorf("vault: token %s holder name: %w", rec.ID, err)
	}
	rec.HolderName = string(name)
	return rec, nil
}

// keyOf returns rec's data key, unwrapped once per record read: a token
// payment opens the holder name (withHolder) and then the card (open) with
// one unwrap, not two.
func (v *Vault) keyOf(rec *Record) (*Key, error) {
	if rec.dataKey == nil {
		key, err := v.keys.Unwrap(rec.DataKey)
		if err != nil {
			return nil, err
		}
		rec.dataKey = key
	}
	return rec.dataKey, nil
}

// recordTx is store.TokenTx with the holder name opened.
func (v *Vault) recordTx(tx *sql.Tx, shopID, mode, token string) (Record, error) {
	rec, err := v.store.TokenTx(tx, shopID, mode, token)
	if err != nil {
		return Record{}, err
	}
	return v.withHolder(rec)
}

// tokens opens the holder names of listed records.
func (v *Vault) tokens(recs []Record, err error) ([]Token, error) {
	if err != nil {
		return nil, err
	}
	out := make([]Token, len(recs))
	for i, r := range recs {
		if r, err = v.withHolder(r); err != nil {
			return nil, err
		}
		out[i] = r.Token
	}
	return out, nil
}

// SealBatch is how many clear holder names one SealClearHolderNames
// transaction seals.
const SealBatch = 500

// SealClearHolderNames seals the holder names that tokens written before
// migration 0029 still keep in clear, and empties the clear column; the
// server runs it at start. It is safe to run from several copies at once
// and again after an interruption: a row is sealed only if it still holds
// the clear name and the data key that were read. It returns how many
// names it sealed.
func (v *Vault) SealClearHolderNames(ctx context.Context) (int, error) {
	total, after := 0, ""
	for {
		recs, err := v.store.HolderNamesInClear(ctx, after, SealBatch)
		if err != nil {
			return total, err
		}
		if len(recs) == 0 {
			return total, nil
		}
		seals := make([]HolderSeal, 0, len(recs))
		for _, r := range recs {
			key, err := v.keys.Unwrap(r.DataKey)
			if err != nil {
				return total, fmt.Errorf("vault: seal holder name of token %s: %w", r.ID, err)
			}
			seals = append(seals, HolderSeal{ID: r.ID, DataKeyID: r.DataKey.ID, Clear: r.HolderName,
				Sealed: sealHolder(key, r.ShopID, r.Value, r.HolderName)})
		}
		n, err := v.store.SealHolderNames(ctx, seals)
		total += n
		if err != nil {
			return total, err
		}
		after = recs[len(recs)-1].ID
	}
}
