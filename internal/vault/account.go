package vault

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/ids"
)

// Token methods (tokens.method).
const (
	MethodCard = "CARD"
	MethodSDD  = "SDD" // a SEPA direct debit bank account
)

// Errors of the bank-account tokens.
var (
	// ErrNotCard is Card's (and a card Update's) refusal of a bank-account token.
	ErrNotCard = errors.New("vault: token holds a bank account, not a card")
	// ErrNotAccount is Account's refusal of a card token.
	ErrNotAccount = errors.New("vault: token holds a card, not a bank account")
)

// IBAN is a bank account number in its electronic form (uppercase letters
// and digits). Like card.PAN it prints masked (String, LogValue,
// MarshalJSON): only Reveal gives the number, for sealing and for the
// direct debit itself. The checksum is the caller's business (the Ogone
// form validates it); the vault only checks the shape.
type IBAN struct{ s string }

// NewIBAN accepts 15 to 34 letters and digits starting with a country code
// and two check digits; spaces are dropped and letters uppercased.
func NewIBAN(in string) (IBAN, error) {
	s := strings.ToUpper(strings.ReplaceAll(in, " ", ""))
	if len(s) < 15 || len(s) > 34 {
		return IBAN{}, fmt.Errorf("%w: IBAN must have 15 to 34 characters", ErrInvalidRequest)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter, digit := c >= 'A' && c <= 'Z', c >= '0' && c <= '9'
		if (i < 2 && !letter) || (i >= 2 && i < 4 && !digit) || (!letter && !digit) {
			return IBAN{}, fmt.Errorf("%w: IBAN has an invalid format", ErrInvalidRequest)
		}
	}
	return IBAN{s: s}, nil
}

// Reveal returns the IBAN in clear.
func (i IBAN) Reveal() string { return i.s }

// IsZero reports whether i is the zero IBAN.
func (i IBAN) IsZero() bool { return i.s == "" }

// Masked keeps the first four and last four characters:
// "DE89XXXXXXXXXXXXXX3000".
func (i IBAN) Masked() string {
	if len(i.s) <= 8 {
		return strings.Repeat("X", len(i.s))
	}
	return i.s[:4] + strings.Repeat("X", len(i.s)-8) + i.s[len(i.s)-4:]
}

// Last4 returns the last four characters.
func (i IBAN) Last4() string {
	if len(i.s) < 4 {
		return ""
	}
	return i.s[len(i.s)-4:]
}

// String prints the masked form.
func (i IBAN) String() string { return i.Masked() }

// GoString prints the masked form for %#v too.
func (i IBAN) GoString() string { return "vault.IBAN(" + i.Masked() + ")" }

// LogValue keeps the IBAN masked in slog output.
func (i IBAN) LogValue() slog.Value { return slog.StringValue(i.Masked()) }

// MarshalJSON writes the masked form.
func (i IBAN) MarshalJSON() ([]byte, error) { return json.Marshal(i.Masked()) }

// AccountRequest asks the vault to keep a bank account (SEPA direct debit).
type AccountRequest struct {
	ShopID string
	Mode   string // TEST | PRODUCTION
	// Token is a caller-chosen value (an Ogone alias); empty means 32
	// random lowercase hex characters.
	Token      string
	IBAN       IBAN
	BIC        string // optional
	HolderName string
	// Method is the direct debit method shown as the token's brand
	// (e.g. "Direct Debits DE"); empty means "SEPA Direct Debit".
	Method        string
	Origin        string // V4 | FLEXCHECKOUT | DIRECTLINK
	OriginOrderID string
	// TTL > 0 makes a temporary token, as for cards.
	TTL time.Duration
}

// Account is a bank-account token's sealed data.
type Account struct {
	IBAN IBAN
	BIC  string
}

// SaveAccount keeps a bank account inside the caller's transaction: a new
// token (updated false), or, when the shop already has a bank-account token
// of that value and mode, its account replaced under the same data key
// (updated true; a cancelled token is reactivated, a temporary one becomes
// permanent when req.TTL is 0). A card token of that value and mode gives
// ErrNotAccount, a purged one ErrTokenPurged; a token of that value in the
// other mode is another token, left alone.
func (v *Vault) SaveAccount(ctx context.Context, tx *sql.Tx, req AccountRequest) (Token, bool, error) {
	rec, err := v.prepareAccount(req)
	if err != nil {
		return Token{}, false, err
	}
	if req.Token != "" {
		old, err := v.store.TokenTx(tx, req.ShopID, req.Mode, req.Token)
		switch {
		case err == nil:
			t, err := v.replaceAccount(tx, old, req, rec)
			return t, true, err
		case !errors.Is(err, ErrTokenNotFound):
			return Token{}, false, err
		}
	}
	if err := v.store.InsertToken(tx, rec); err != nil {
		return Token{}, false, err
	}
	return rec.Token, false, nil
}

func (v *Vault) replaceAccount(tx *sql.Tx, old Record, req AccountRequest, fresh Record) (Token, error) {
	var notAccount error
	if old.Method != MethodSDD {
		notAccount = ErrNotAccount
	}
	t := fresh.Token
	return v.replaceSealed(tx, old, notAccount, accountPlaintext(req.IBAN, req.BIC), &req.HolderName, req.TTL, TokenChanges{
		Brand: &t.Brand, Brands: t.Brands, PANMasked: &t.PANMasked, BIN: &t.BIN, Last4: &t.Last4,
	})
}

// replaceSealed puts data (the plaintext of a card or an account) in place
// of old's, sealed under old's data key, with the changes ch and, unless
// holder is nil, the holder name, inside tx:
// SaveCard's and SaveAccount's replacement. wrongKind, if set, is the
// error of an old token that holds the other kind of data. A purged token
// gives ErrTokenPurged; a cancelled one is reactivated, a temporary one
// made permanent when ttl is 0.
// errTokenChanged: the token's row no longer matched the update (a
// concurrent change of its data key, a purge, or with
// TokenChanges.OnlyActive a cancellation).
var errTokenChanged = errors.New("vault: token changed")

func (v *Vault) replaceSealed(tx *sql.Tx, old Record, wrongKind error, data []byte, holder *string, ttl time.Duration, ch TokenChanges) (Token, error) {
	now := v.clk.Now()
	switch {
	case wrongKind != nil:
		return old.Token, wrongKind
	case old.StatusAt(now) == StatusPurged:
		return old.Token, ErrTokenPurged
	}
	key, err := v.keyOf(&old)
	if err != nil {
		return old.Token, err
	}
	ch.Ciphertext, ch.DataKeyID = key.Seal(tokenAAD(old.ShopID, old.Value), data), old.DataKey.ID
	if holder != nil {
		ch.SetHolder, ch.HolderSealed = true, sealHolder(key, old.ShopID, old.Value, *holder)
	}
	ch.Activate = old.Status == StatusCancelled
	ch.Permanent = ttl == 0 && !old.Permanent
	ok, err := v.store.UpdateTokenTx(tx, old.ShopID, old.Mode, old.Value, ch, now)
	if err != nil {
		return old.Token, err
	}
	if !ok {
		return old.Token, fmt.Errorf("%w: token %s changed during the update, try again", errTokenChanged, old.Value)
	}
	upd, err := v.recordTx(tx, old.ShopID, old.Mode, old.Value)
	return upd.Token, err
}

func (v *Vault) prepareAccount(req AccountRequest) (Record, error) {
	now := v.clk.Now()
	switch {
	case req.ShopID == "":
		return Record{}, fmt.Errorf("%w: no shop", ErrInvalidRequest)
	case req.Mode != "TEST" && req.Mode != "PRODUCTION":
		return Record{}, fmt.Errorf("%w: mode must be TEST or PRODUCTION", ErrInvalidRequest)
	case req.IBAN.IsZero():
		return Record{}, fmt.Errorf("%w: no IBAN", ErrInvalidRequest)
	case !validBIC(req.BIC):
		return Record{}, fmt.Errorf("%w: BIC has an invalid format", ErrInvalidRequest)
	case req.TTL < 0:
		return Record{}, fmt.Errorf("%w: negative time to live", ErrInvalidRequest)
	}
	value := req.Token
	if value == "" {
		value = ids.RandomHex(16)
	} else if err := ValidateToken(value); err != nil {
		return Record{}, err
	}
	method := req.Method
	if method == "" {
		method = "SEPA Direct Debit"
	}
	dk, key, err := v.keys.NewDataKey()
	if err != nil {
		return Record{}, err
	}
	t := Token{
		ID:            ids.New(),
		ShopID:        req.ShopID,
		Value:         value,
		Mode:          req.Mode,
		Method:        MethodSDD,
		Status:        StatusActive,
		Brand:         card.Brand(method),
		Brands:        []card.Brand{card.Brand(method)},
		PANMasked:     req.IBAN.Masked(),
		Last4:         req.IBAN.Last4(),
		HolderName:    req.HolderName,
		Customer:      json.RawMessage("{}"),
		Origin:        req.Origin,
		OriginOrderID: req.OriginOrderID,
		Permanent:     req.TTL == 0,
		CreatedAt:     now,
		UpdatedAt:     now,
		LastUsedAt:    now,
	}
	if req.TTL > 0 {
		t.ExpiresAt = now.Add(req.TTL)
	}
	return Record{
		Token:        t,
		Ciphertext:   key.Seal(tokenAAD(t.ShopID, t.Value), accountPlaintext(req.IBAN, req.BIC)),
		DataKey:      dk,
		HolderSealed: sealHolder(key, t.ShopID, t.Value, req.HolderName),
	}, nil
}

// Account opens a bank-account token, with the same refusals as Card
// (cancelled, purged, not found); a card token gives ErrNotAccount.
func (v *Vault) Account(ctx context.Context, shopID, mode, token string) (Account, Token, error) {
	rec, err := v.merchantRecord(ctx, shopID, mode, token)
	if err != nil {
		return Account{}, Token{}, err
	}
	if rec.Method != MethodSDD {
		return Account{}, rec.Token, ErrNotAccount
	}
	switch rec.StatusAt(v.clk.Now()) {
	case StatusPurged:
		return Account{}, rec.Token, ErrTokenPurged
	case StatusCancelled:
		return Account{}, rec.Token, ErrTokenCancelled
	}
	if len(rec.Ciphertext) == 0 || rec.DataKey.ID == "" {
		return Account{}, rec.Token, fmt.Errorf("vault: token %s has no account data: %w", rec.ID, ErrDecrypt)
	}
	key, err := v.keyOf(&rec)
	if err != nil {
		return Account{}, rec.Token, err
	}
	pt, err := key.Open(tokenAAD(rec.ShopID, rec.Value), rec.Ciphertext)
	if err != nil {
		return Account{}, rec.Token, fmt.Errorf("vault: token %s: %w", rec.ID, err)
	}
	acc, err := parseAccountPlaintext(pt)
	return acc, rec.Token, err
}

// accountPlaintext is what is sealed for a bank account: "A1:" IBAN ":" BIC.
// The prefix tells it from card data ("1:").
func accountPlaintext(iban IBAN, bic string) []byte {
	return []byte("A1:" + iban.Reveal() + ":" + bic)
}

func parseAccountPlaintext(b []byte) (Account, error) {
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != "A1" {
		return Account{}, errors.New("vault: sealed account data has an unknown format")
	}
	iban, err := NewIBAN(parts[1])
	if err != nil {
		return Account{}, errors.New("vault: sealed IBAN has an unknown format")
	}
	return Account{IBAN: iban, BIC: parts[2]}, nil
}

// validBIC accepts "" or 8 / 11 letters and digits (ISO 9362 shape).
func validBIC(s string) bool {
	if s == "" {
		return true
	}
	if len(s) != 8 && len(s) != 11 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
