package vault

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
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/ids"
)

// MaxTokenLength is the longest caller-chosen token (Ogone ALIAS allows 50).
const MaxTokenLength = 50

// Vault tokenizes cards and gives them back for authorizations.
type Vault struct {
	store       Store
	keys        *Keyring
	clk         clock.Clock
	rewrapBatch int
}

// New returns a vault over store, sealing with keys and telling time with clk.
func New(store Store, keys *Keyring, clk clock.Clock) *Vault {
	return &Vault{store: store, keys: keys, clk: clk, rewrapBatch: RewrapBatch}
}

// Keys returns the keyring.
func (v *Vault) Keys() *Keyring { return v.keys }

// TokenizeRequest asks the vault to keep a card. There is no field for the
// security code on purpose: it is never stored.
type TokenizeRequest struct {
	ShopID string
	Mode   string // TEST | PRODUCTION
	// Token is a caller-chosen value (an Ogone alias: up to 50 letters,
	// digits, '-' and '_'); empty means 32 random lowercase hex characters.
	Token      string
	PAN        card.PAN
	Expiry     card.Expiry
	HolderName string
	// CustomerReference puts the token in that customer's wallet.
	CustomerReference string
	// Customer is a JSON object (email, billingDetails …) carried to wallet payments.
	Customer               json.RawMessage
	Origin                 string // V4 | FLEXCHECKOUT | DIRECTLINK
	OriginOrderID          string
	InitialTransactionUUID string
	// TTL > 0 makes a temporary token (Ogone STOREPERMANENTLY=N): its card
	// data is destroyed once TTL has passed, unless MakePermanent is called.
	TTL time.Duration
}

// Tokenize seals the card and inserts the token inside the caller's
// transaction, so that a payment and its token commit together. The crypto
// is done in memory before the insert and costs microseconds.
//
// Taking the data key's master key inside the transaction matters for
// rotation: a rotation's final sweep (SweepDataKeys) sees every insert that
// ran before it, and every insert that runs after it already uses the new
// primary, so no data key is left behind under the old master key.
//
// A card saved in a buyer's wallet (req.CustomerReference, no req.Token,
// permanent) that is already there is not stored twice: see SaveInWallet.
func (v *Vault) Tokenize(ctx context.Context, tx *sql.Tx, req TokenizeRequest) (Token, error) {
	t, _, err := v.SaveInWallet(ctx, tx, req)
	return t, err
}

// Saved tells what SaveInWallet did with the card.
type Saved int

const (
	// SavedNew: a new token.
	SavedNew Saved = iota
	// SavedRenewed: the wallet's token of this card, whose card now has
	// the later expiry just given (a renewed card).
	SavedRenewed
	// SavedExisting: the wallet's token of this card, unchanged (only its
	// use recorded).
	SavedExisting
)

// SaveInWallet is Tokenize telling what it did. A card whose number
// (fingerprint) is already ACTIVE in the same buyer's wallet (shop, mode,
// customer reference) is not stored a second time: the wallet's oldest
// token of it is answered, with the expiry given when that is later than
// its own (SavedRenewed), else as it is (SavedExisting). Cancelled,
// purged, expired and temporary tokens are not reused, nor are tokens of
// the other mode: a new token is made. Lyra's "Check token uniqueness"
// option recognises a card already registered the same way (and only flags
// it, vads_identifier_previously_registered); a wallet that lists one card
// twice is what the buyer sees otherwise.
func (v *Vault) SaveInWallet(ctx context.Context, tx *sql.Tx, req TokenizeRequest) (Token, Saved, error) {
	rec, err := v.prepare(req)
	if err != nil {
		return Token{}, SavedNew, err
	}
	if req.CustomerReference != "" && req.Token == "" && req.TTL == 0 {
		t, saved, err := v.walletCard(tx, req, rec)
		if err != nil || saved != SavedNew {
			return t, saved, err
		}
	}
	if err := v.store.InsertToken(tx, rec); err != nil {
		return Token{}, SavedNew, err
	}
	return rec.Token, SavedNew, nil
}

// walletCard answers the wallet's ACTIVE token of fresh's card, if any
// (SavedNew: none, insert fresh). The token's row is written either way
// (its card, or only its use) on condition it is still ACTIVE, so that a
// cancellation committed since the read is seen and gives a new token
// instead.
func (v *Vault) walletCard(tx *sql.Tx, req TokenizeRequest, fresh Record) (Token, Saved, error) {
	now := v.clk.Now()
	recs, err := v.store.WalletCardTx(tx, req.ShopID, req.Mode, req.CustomerReference, fresh.Fingerprint)
	if err != nil {
		return Token{}, SavedNew, err
	}
	for _, old := range recs {
		if old.Method != MethodCard || old.Origin == OriginInternal || old.StatusAt(now) != StatusActive || !old.Permanent {
			continue
		}
		if laterExpiry(req.Expiry, old.Expiry) {
			t, err := v.replaceCard(tx, old, req, fresh, true)
			if errors.Is(err, errTokenChanged) {
				continue
			}
			return t, SavedRenewed, err
		}
		ok, err := v.store.UpdateTokenTx(tx, old.ShopID, old.Mode, old.Value, TokenChanges{OnlyActive: true, Used: true}, now)
		if err != nil {
			return Token{}, SavedNew, err
		}
		if !ok {
			continue
		}
		rec, err := v.recordTx(tx, old.ShopID, old.Mode, old.Value)
		return rec.Token, SavedExisting, err
	}
	return Token{}, SavedNew, nil
}

func laterExpiry(a, b card.Expiry) bool {
	return a.Year > b.Year || a.Year == b.Year && a.Month > b.Month
}

// TokenizeNow is Tokenize in a write transaction of its own.
func (v *Vault) TokenizeNow(ctx context.Context, req TokenizeRequest) (Token, error) {
	var t Token
	err := v.store.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = v.Tokenize(ctx, tx, req)
		return err
	})
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

// SaveCard keeps a card under req.Token inside the caller's transaction:
// a new token (updated false), or, when the shop already has a card token
// of that value and mode, its card replaced under the same data key
// (updated true). The replaced token keeps its holder name unless
// req.HolderName is set; a cancelled one is reactivated, and a temporary
// one becomes permanent when req.TTL is 0 (an update never makes a
// permanent token temporary). A bank-account token of that value and mode
// gives ErrNotCard, a purged one ErrTokenPurged. A token of that value in
// the other mode is another token, left alone: a value is unique per shop
// and mode, as Ingenico's test and production aliases are separate. It is the card twin of SaveAccount: an Ogone order
// that carries a card and an ALIAS stores it this way, in the write that
// records the order's accepted authorization.
func (v *Vault) SaveCard(ctx context.Context, tx *sql.Tx, req TokenizeRequest) (Token, bool, error) {
	if req.Token == "" {
		return Token{}, false, fmt.Errorf("%w: no token value to save the card under", ErrInvalidRequest)
	}
	rec, err := v.prepare(req)
	if err != nil {
		return Token{}, false, err
	}
	old, err := v.store.TokenTx(tx, req.ShopID, req.Mode, req.Token)
	switch {
	case err == nil && old.Origin != OriginInternal:
		t, err := v.replaceCard(tx, old, req, rec, false)
		return t, true, err
	case err == nil:
		return Token{}, false, fmt.Errorf("%w: %q is not a merchant token value", ErrInvalidRequest, req.Token)
	case !errors.Is(err, ErrTokenNotFound):
		return Token{}, false, err
	}
	if err := v.store.InsertToken(tx, rec); err != nil {
		return Token{}, false, err
	}
	return rec.Token, false, nil
}

// ReplaceCard puts a verified card in place of the card of the existing
// token req.Token inside the caller's transaction (V4 Token/Update: the
// write that records the accepted verification), under the same value and
// data key, with the holder name typed with it if any. Unlike SaveCard it
// never creates a token: a missing one (in req.Mode) gives
// ErrTokenNotFound, a cancelled one ErrTokenCancelled (it is not
// reactivated), a purged one ErrTokenPurged, a bank-account one ErrNotCard.
func (v *Vault) ReplaceCard(ctx context.Context, tx *sql.Tx, req TokenizeRequest) (Token, error) {
	if req.Token == "" {
		return Token{}, fmt.Errorf("%w: no token whose card to replace", ErrInvalidRequest)
	}
	rec, err := v.prepare(req)
	if err != nil {
		return Token{}, err
	}
	old, err := v.store.TokenTx(tx, req.ShopID, req.Mode, req.Token)
	switch {
	case err != nil:
		return Token{}, err
	case old.Origin == OriginInternal:
		return Token{}, ErrTokenNotFound
	case old.Status == StatusCancelled:
		return old.Token, ErrTokenCancelled
	}
	return v.replaceActive(tx, old, req, rec)
}

// replaceActive writes fresh's card into old, a token ReplaceCard read
// ACTIVE, only if it still is: a cancellation or purge committed since the
// read (which locks nothing on PostgreSQL) wins, and gives
// ErrTokenCancelled or ErrTokenPurged with nothing written.
func (v *Vault) replaceActive(tx *sql.Tx, old Record, req TokenizeRequest, fresh Record) (Token, error) {
	t, err := v.replaceCard(tx, old, req, fresh, true)
	if !errors.Is(err, errTokenChanged) {
		return t, err
	}
	cur, rerr := v.store.TokenTx(tx, old.ShopID, old.Mode, old.Value)
	switch {
	case rerr != nil:
		return t, err
	case cur.StatusAt(v.clk.Now()) == StatusPurged:
		return cur.Token, ErrTokenPurged
	case cur.Status == StatusCancelled:
		return cur.Token, ErrTokenCancelled
	}
	return t, err
}

// replaceCard writes fresh's card into the token old; onlyActive: only if
// the token is still ACTIVE (else errTokenChanged). A card the buyer just
// gave is a use of the token: the retention purge counts 15 months from
// it, so a card registered on a token close to its purge is not destroyed
// by the purge's next run.
func (v *Vault) replaceCard(tx *sql.Tx, old Record, req TokenizeRequest, fresh Record, onlyActive bool) (Token, error) {
	var notCard error
	if old.Method == MethodSDD {
		notCard = ErrNotCard
	}
	t := fresh.Token
	ch := TokenChanges{Fingerprint: fresh.Fingerprint, Brand: &t.Brand, Brands: t.Brands, PANMasked: &t.PANMasked,
		BIN: &t.BIN, Last4: &t.Last4, Expiry: &t.Expiry, OnlyActive: onlyActive, Used: true}
	var holder *string
	if req.HolderName != "" {
		holder = &req.HolderName
	}
	return v.replaceSealed(tx, old, notCard, plaintext(req.PAN, req.Expiry), holder, req.TTL, ch)
}

func (v *Vault) prepare(req TokenizeRequest) (Record, error) {
	now := v.clk.Now()
	if req.ShopID == "" {
		return Record{}, fmt.Errorf("%w: no shop", ErrInvalidRequest)
	}
	if req.Mode != "TEST" && req.Mode != "PRODUCTION" {
		return Record{}, fmt.Errorf("%w: mode must be TEST or PRODUCTION", ErrInvalidRequest)
	}
	if req.PAN.IsZero() {
		return Record{}, fmt.Errorf("%w: no card number", ErrInvalidRequest)
	}
	if err := validExpiry(req.Expiry); err != nil {
		return Record{}, err
	}
	if req.Expiry.Expired(now) {
		return Record{}, ErrTokenExpired
	}
	if req.TTL < 0 {
		return Record{}, fmt.Errorf("%w: negative time to live", ErrInvalidRequest)
	}
	value := req.Token
	if value == "" {
		value = ids.RandomHex(16)
	} else if err := ValidateToken(value); err != nil {
		return Record{}, err
	}
	customer, err := customerJSON(req.Customer)
	if err != nil {
		return Record{}, err
	}
	dk, key, err := v.keys.NewDataKey()
	if err != nil {
		return Record{}, err
	}
	brands := req.PAN.Brands()
	t := Token{
		ID:                     ids.New(),
		ShopID:                 req.ShopID,
		Value:                  value,
		Mode:                   req.Mode,
		Method:                 MethodCard,
		Status:                 StatusActive,
		Brand:                  req.PAN.Brand(),
		Brands:                 brands,
		PANMasked:              req.PAN.Masked(),
		BIN:                    req.PAN.BIN(),
		Last4:                  req.PAN.Last4(),
		Expiry:                 req.Expiry,
		HolderName:             req.HolderName,
		CustomerReference:      req.CustomerReference,
		Customer:               customer,
		Origin:                 req.Origin,
		OriginOrderID:          req.OriginOrderID,
		InitialTransactionUUID: req.InitialTransactionUUID,
		Permanent:              req.TTL == 0,
		CreatedAt:              now,
		UpdatedAt:              now,
		LastUsedAt:             now,
	}
	if req.TTL > 0 {
		t.ExpiresAt = now.Add(req.TTL)
	}
	return Record{
		Token:        t,
		Fingerprint:  v.keys.Fingerprint(req.PAN),
		Ciphertext:   key.Seal(tokenAAD(t.ShopID, t.Value), plaintext(req.PAN, req.Expiry)),
		DataKey:      dk,
		HolderSealed: sealHolder(key, t.ShopID, t.Value, req.HolderName),
	}, nil
}

// ValidateToken checks a caller-chosen token value: 1 to 50 ASCII letters,
// digits, '-' or '_' (the Ogone ALIAS rule; PayZen's 32 hex fit too).
func ValidateToken(s string) error {
	if s == "" || len(s) > MaxTokenLength {
		return fmt.Errorf("%w: 1 to %d characters", ErrInvalidToken, MaxTokenLength)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: letters, digits, '-' and '_' only", ErrInvalidToken)
		}
	}
	return nil
}

// tokenAAD binds a ciphertext to its shop and token: moved to another row
// or shop, it no longer opens.
func tokenAAD(shopID, token string) []byte { return []byte(shopID + "\x00" + token) }

// plaintext is what is sealed: "1:" digits ":" MM YYYY. The leading version
// lets the format change later without guessing.
func plaintext(pan card.PAN, e card.Expiry) []byte {
	return []byte(fmt.Sprintf("1:%s:%02d%04d", pan.Reveal(), e.Month, e.Year))
}

func parsePlaintext(b []byte) (card.PAN, card.Expiry, error) {
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != "1" || len(parts[2]) != 6 {
		return card.PAN{}, card.Expiry{}, fmt.Errorf("vault: sealed card data has an unknown format")
	}
	pan, err := card.ParsePAN(parts[1])
	if err != nil {
		return card.PAN{}, card.Expiry{}, fmt.Errorf("vault: sealed card number: %w", err)
	}
	m, err1 := strconv.Atoi(parts[2][:2])
	y, err2 := strconv.Atoi(parts[2][2:])
	if err1 != nil || err2 != nil {
		return card.PAN{}, card.Expiry{}, fmt.Errorf("vault: sealed expiry has an unknown format")
	}
	return pan, card.Expiry{Month: m, Year: y}, nil
}

func validExpiry(e card.Expiry) error {
	if e.Month < 1 || e.Month > 12 || e.Year < 2000 || e.Year > 2099 {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, card.ErrInvalidExpiry)
	}
	return nil
}

func customerJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return json.RawMessage("{}"), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%w: customer details must be a JSON object", ErrInvalidRequest)
	}
	return append(json.RawMessage(nil), raw...), nil
}

// Get returns a token of the shop's mode (TEST or PRODUCTION) in any
// status. Other shops' and other modes' tokens are not found.
func (v *Vault) Get(ctx context.Context, shopID, mode, token string) (Token, error) {
	rec, err := v.merchantRecord(ctx, shopID, mode, token)
	if err != nil {
		return Token{}, err
	}
	return rec.Token, nil
}

// Card opens a token's card for an authorization. It refuses cancelled
// (ErrTokenCancelled), purged or temporary-past-TTL (ErrTokenPurged) and
// expired-card tokens (ErrTokenExpired), returning the token beside the
// error; unknown tokens and other shops' or modes' tokens give
// ErrTokenNotFound, and a bank-account token (method SDD) gives ErrNotCard.
// Record the use with MarkUsed in the payment's transaction.
func (v *Vault) Card(ctx context.Context, shopID, mode, token string) (card.PAN, card.Expiry, Token, error) {
	rec, err := v.merchantRecord(ctx, shopID, mode, token)
	if err != nil {
		return card.PAN{}, card.Expiry{}, Token{}, err
	}
	if rec.Method == MethodSDD {
		return card.PAN{}, card.Expiry{}, rec.Token, ErrNotCard
	}
	now := v.clk.Now()
	if rec.Status != StatusPurged && rec.LastUsedAt.Before(RetentionPeriod.Before(now.Add(purgeGuard))) {
		if rec, err = v.useBeforePurge(ctx, shopID, mode, token, now); err != nil {
			return card.PAN{}, card.Expiry{}, Token{}, err
		}
	}
	switch rec.StatusAt(now) {
	case StatusPurged:
		return card.PAN{}, card.Expiry{}, rec.Token, ErrTokenPurged
	case StatusCancelled:
		return card.PAN{}, card.Expiry{}, rec.Token, ErrTokenCancelled
	case StatusExpired:
		return card.PAN{}, card.Expiry{}, rec.Token, ErrTokenExpired
	}
	pan, exp, err := v.open(rec)
	if err != nil {
		return card.PAN{}, card.Expiry{}, rec.Token, err
	}
	return pan, exp, rec.Token, nil
}

// purgeGuard is how close to the retention cutoff a token must be for Card
// to record its use at once: more than the time between two retention runs
// (an hour) plus the longest payment.
const purgeGuard = 24 * time.Hour

// useBeforePurge records a use of a token the retention purge may take
// before the payment records it (MarkUsed comes with the acquirer's answer),
// and re-reads the token in the same write transaction: a purge that
// committed first is seen, one that comes after skips the token (its UPDATE
// re-checks last_used_at).
func (v *Vault) useBeforePurge(ctx context.Context, shopID, mode, token string, now time.Time) (Record, error) {
	var rec Record
	err := v.store.WriteTx(ctx, func(tx *sql.Tx) error {
		if err := v.store.TouchToken(tx, shopID, mode, token, now); err != nil {
			return err
		}
		var err error
		rec, err = v.recordTx(tx, shopID, mode, token)
		return err
	})
	return rec, err
}

func (v *Vault) open(rec Record) (card.PAN, card.Expiry, error) {
	if len(rec.Ciphertext) == 0 || rec.DataKey.ID == "" {
		return card.PAN{}, card.Expiry{}, fmt.Errorf("vault: token %s has no card data: %w", rec.ID, ErrDecrypt)
	}
	key, err := v.keyOf(&rec)
	if err != nil {
		return card.PAN{}, card.Expiry{}, err
	}
	pt, err := key.Open(tokenAAD(rec.ShopID, rec.Value), rec.Ciphertext)
	if err != nil {
		return card.PAN{}, card.Expiry{}, fmt.Errorf("vault: token %s: %w", rec.ID, err)
	}
	return parsePlaintext(pt)
}

// MarkUsed records a use of the token (last_used_at) inside the caller's
// transaction. The retention purge counts from this time, so every payment
// with a token must call it.
func (v *Vault) MarkUsed(tx *sql.Tx, shopID, mode, token string) error {
	return v.store.TouchToken(tx, shopID, mode, token, v.clk.Now())
}

// Cancel deletes a token logically (Token/Cancel, a buyer's bin icon): it
// can no longer pay but stays visible. Cancelling twice gives
// ErrTokenCancelled; a purged token gives ErrTokenPurged.
func (v *Vault) Cancel(ctx context.Context, shopID, mode, token string) (Token, error) {
	return v.transition(ctx, shopID, mode, token, StatusActive, StatusCancelled)
}

// Reactivate makes a cancelled token usable again (Token/Reactivate). An
// active token is returned unchanged; a purged one cannot come back.
func (v *Vault) Reactivate(ctx context.Context, shopID, mode, token string) (Token, error) {
	return v.transition(ctx, shopID, mode, token, StatusCancelled, StatusActive)
}

func (v *Vault) transition(ctx context.Context, shopID, mode, token string, from, to Status) (Token, error) {
	for attempt := 0; attempt < 3; attempt++ {
		t, err := v.Get(ctx, shopID, mode, token)
		if err != nil {
			return Token{}, err
		}
		if t.StatusAt(v.clk.Now()) == StatusPurged {
			return t, ErrTokenPurged
		}
		if t.Status == to {
			if to == StatusCancelled {
				return t, ErrTokenCancelled
			}
			return t, nil
		}
		ok, err := v.store.SetTokenStatus(ctx, shopID, mode, token, from, to, v.clk.Now())
		if err != nil {
			return Token{}, err
		}
		if ok {
			return v.Get(ctx, shopID, mode, token)
		}
		// Changed under us (a concurrent cancel or purge): look again.
	}
	return Token{}, fmt.Errorf("vault: token %s keeps changing, try again", token)
}

// TokenUpdate holds the changes of Update; nil / empty fields are unchanged.
type TokenUpdate struct {
	PAN        *card.PAN // a replacement card (Token/Update PCI)
	Expiry     *card.Expiry
	HolderName *string
	Customer   json.RawMessage
}

// Update changes a token's card number, expiry, holder or customer details
// (Token/Update, Token/UpdateCustomerDetails). New card data is sealed under
// the token's existing data key. Purged tokens give ErrTokenPurged.
func (v *Vault) Update(ctx context.Context, shopID, mode, token string, u TokenUpdate) (Token, error) {
	rec, err := v.merchantRecord(ctx, shopID, mode, token)
	if err != nil {
		return Token{}, err
	}
	now := v.clk.Now()
	if rec.StatusAt(now) == StatusPurged {
		return rec.Token, ErrTokenPurged
	}
	var ch TokenChanges
	if u.Customer != nil {
		if ch.Customer, err = customerJSON(u.Customer); err != nil {
			return Token{}, err
		}
	}
	if u.HolderName != nil {
		// Sealed under the token's own data key; the data key guard
		// below keeps a concurrent purge from getting a name back.
		key, err := v.keyOf(&rec)
		if err != nil {
			return Token{}, err
		}
		ch.SetHolder, ch.HolderSealed = true, sealHolder(key, rec.ShopID, rec.Value, *u.HolderName)
		ch.DataKeyID = rec.DataKey.ID
	}
	if u.PAN != nil || u.Expiry != nil {
		if rec.Method == MethodSDD {
			return rec.Token, ErrNotCard
		}
		pan, exp, err := v.open(rec)
		if err != nil {
			return Token{}, err
		}
		if u.PAN != nil {
			if u.PAN.IsZero() {
				return Token{}, fmt.Errorf("%w: no card number", ErrInvalidRequest)
			}
			pan = *u.PAN
		}
		if u.Expiry != nil {
			if err := validExpiry(*u.Expiry); err != nil {
				return Token{}, err
			}
			if u.Expiry.Expired(now) {
				return Token{}, ErrTokenExpired
			}
			exp = *u.Expiry
		}
		key, err := v.keyOf(&rec)
		if err != nil {
			return Token{}, err
		}
		brand, masked, bin, last4 := pan.Brand(), pan.Masked(), pan.BIN(), pan.Last4()
		ch.Ciphertext = key.Seal(tokenAAD(rec.ShopID, rec.Value), plaintext(pan, exp))
		ch.DataKeyID = rec.DataKey.ID
		ch.Fingerprint = v.keys.Fingerprint(pan)
		ch.Brand, ch.Brands, ch.PANMasked, ch.BIN, ch.Last4 = &brand, pan.Brands(), &masked, &bin, &last4
		ch.Expiry = &exp
	}
	ok, err := v.store.UpdateToken(ctx, shopID, mode, token, ch, now)
	if err != nil {
		return Token{}, err
	}
	t, err := v.Get(ctx, shopID, mode, token)
	if err != nil {
		return Token{}, err
	}
	if !ok {
		if t.Status == StatusPurged {
			return t, ErrTokenPurged
		}
		return t, fmt.Errorf("vault: token %s changed during the update, try again", token)
	}
	return t, nil
}

// MakePermanent keeps a temporary token (Ogone: an alias created with
// STOREPERMANENTLY=N that the merchant decides to keep). A permanent token
// is returned unchanged; one past its time to live gives ErrTokenPurged.
func (v *Vault) MakePermanent(ctx context.Context, shopID, mode, token string) (Token, error) {
	now := v.clk.Now()
	ok, err := v.store.MakeTokenPermanent(ctx, shopID, mode, token, now)
	if err != nil {
		return Token{}, err
	}
	t, err := v.Get(ctx, shopID, mode, token)
	if err != nil {
		return Token{}, err
	}
	if !ok && t.StatusAt(now) == StatusPurged {
		return t, ErrTokenPurged
	}
	return t, nil
}

// MakePermanentTx is MakePermanent inside the caller's write transaction
// (a DirectLink payment keeps its alias in the write that starts it, so
// that the expiry job cannot take the alias while the acquirer answers). A
// permanent token is left unchanged; a temporary one past its time to live,
// or purged, gives ErrTokenPurged.
func (v *Vault) MakePermanentTx(tx *sql.Tx, shopID, mode, token string) error {
	now := v.clk.Now()
	ok, err := v.store.MakeTokenPermanentTx(tx, shopID, mode, token, now)
	if err != nil || ok {
		return err
	}
	rec, err := v.store.TokenTx(tx, shopID, mode, token)
	if err != nil {
		return err
	}
	if rec.Origin == OriginInternal {
		return notFound(shopID, token)
	}
	if rec.StatusAt(now) == StatusPurged {
		return ErrTokenPurged
	}
	return nil
}

// Wallet lists a customer's tokens (CustomerWallet/Get). filter is the
// tokenStatus: ACTIVE (the default for ""), EXPIRED, CANCELLED, PURGED or ALL.
func (v *Vault) Wallet(ctx context.Context, shopID, customerReference string, filter Status) ([]Token, error) {
	if customerReference == "" {
		return nil, fmt.Errorf("%w: no customer reference", ErrInvalidRequest)
	}
	if filter == "" {
		filter = StatusActive
	}
	switch filter {
	case StatusActive, StatusExpired, StatusCancelled, StatusPurged, StatusAll:
	default:
		return nil, fmt.Errorf("%w: unknown token status %q", ErrInvalidRequest, filter)
	}
	all, err := v.tokens(v.store.WalletTokens(ctx, shopID, customerReference))
	if err != nil {
		return nil, err
	}
	now := v.clk.Now()
	out := all[:0]
	for _, t := range all {
		if filter == StatusAll || t.StatusAt(now) == filter {
			out = append(out, t)
		}
	}
	return out, nil
}

// FindByFingerprint lists the shop's tokens of this card number (in any
// status but PURGED, whose fingerprint is destroyed with the card data).
func (v *Vault) FindByFingerprint(ctx context.Context, shopID string, pan card.PAN) ([]Token, error) {
	if pan.IsZero() {
		return nil, fmt.Errorf("%w: no card number", ErrInvalidRequest)
	}
	return v.tokens(v.store.TokensByFingerprint(ctx, shopID, v.keys.Fingerprint(pan)))
}

// IsTokenError reports whether err is one of the token errors of this
// package (not found, cancelled, purged, expired, exists, invalid).
func IsTokenError(err error) bool {
	for _, e := range []error{ErrTokenNotFound, ErrTokenCancelled, ErrTokenPurged, ErrTokenExpired, ErrTokenExists, ErrInvalidToken} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
