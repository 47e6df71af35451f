package shop

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/langpref"
	"github.com/openpsp/openpsp/internal/vault"
)

// SealedAPIKeys is one mode's key set as stored: secrets sealed under
// DataKey, the password also as a SHA-256 digest for authentication.
type SealedAPIKeys struct {
	ShopID, Mode   string
	PasswordDigest []byte
	PasswordSealed []byte
	PublicKey      string
	HMACKeySealed  []byte
	DataKey        vault.DataKey
	RotatedAt      time.Time
}

// SealedOgone is the Ogone account as stored. The DirectLink password is
// kept as a verifier only (see directLinkVerifier): APIPasswordDigest is
// HMAC-SHA256 under the random key APIPasswordKeySealed (sealed under
// DataKey) of APIPasswordSalt and the password's SHA-256. An empty
// APIPasswordKeySealed marks a row from before migration 0032, whose
// APIPasswordDigest is the password's bare SHA-256 (UpgradeDirectLinkPasswords).
type SealedOgone struct {
	ShopID, PSPID, SHAAlgorithm string
	SHAInSealed, SHAOutSealed   []byte
	APIUser                     string
	APIPasswordDigest           []byte
	APIPasswordSalt             []byte
	APIPasswordKeySealed        []byte
	DataKey                     vault.DataKey
	Settings                    OgoneSettings
	UpdatedAt                   time.Time
}

// Store keeps shops. *store.DB implements it.
type Store interface {
	InsertShop(ctx context.Context, s Shop, keys []SealedAPIKeys, og *SealedOgone, now time.Time) error
	Shop(ctx context.Context, id string) (Shop, error)
	Shops(ctx context.Context) ([]Shop, error)
	UpdateShop(ctx context.Context, s Shop, now time.Time) error
	APIKeys(ctx context.Context, shopID, mode string) (SealedAPIKeys, error)
	APIKeysByPublicKey(ctx context.Context, publicKey string) (SealedAPIKeys, error)
	ReplaceAPIKeys(ctx context.Context, k SealedAPIKeys) error
	OgoneByPSPID(ctx context.Context, pspid string) (SealedOgone, error)
	OgoneByShop(ctx context.Context, shopID string) (SealedOgone, error)
	ReplaceOgone(ctx context.Context, og SealedOgone) error
	LegacyOgonePasswords(ctx context.Context) ([]SealedOgone, error)
	UpgradeOgonePassword(ctx context.Context, og SealedOgone, legacyDigest []byte) (bool, error)
	DataKey(ctx context.Context, id string) (vault.DataKey, error)
}

// Service manages shops and their secrets.
type Service struct {
	store Store
	keys  *vault.Keyring
	clock clock.Clock
	// production requires https logos (see SetProduction).
	production bool

	// opened keeps key sets already decrypted, by shop, mode and data
	// key: every IPN is signed with its shop's password, and opening it
	// cost a data-key read, an unwrap and two decryptions per message. A
	// rotation seals the new set under a new data key, so a cached set is
	// never used for a newer one; a master-key rewrap leaves the data key,
	// and so the secrets, as they were.
	mu     sync.Mutex
	opened map[openedKey]Credentials
}

type openedKey struct{ shopID, mode, dataKeyID string }

// maxOpened bounds the cache of opened key sets (two per shop); past it the
// cache starts over.
const maxOpened = 10000

// NewService returns a shop service.
func NewService(st Store, keys *vault.Keyring, clk clock.Clock) *Service {
	return &Service{store: st, keys: keys, clock: clk}
}

// CreateInput describes a new shop. Empty secrets are generated.
type CreateInput struct {
	ID, Name, Currency, Language, PrimaryEmail, NotificationURL string
	Settings                                                    Settings
	// Fixed keys (the demo shop uses the public PayZen demo keys); empty: generated.
	TestPassword, TestPublicKey, TestHMACKey string
	// Ogone account; PSPID empty: derived from the shop id.
	PSPID, SHAIn, SHAOut, SHAAlgorithm, APIUser, APIPassword string
	OgoneSettings                                            OgoneSettings
}

// shop is the shop Create makes of in: its currency and language default
// to EUR and en.
func (in CreateInput) shop() Shop {
	sh := Shop{ID: in.ID, Name: in.Name, Currency: in.Currency, Language: in.Language,
		PrimaryEmail: in.PrimaryEmail, NotificationURL: in.NotificationURL, Settings: in.Settings}
	if sh.Currency == "" {
		sh.Currency = "EUR"
	}
	if sh.Language == "" {
		sh.Language = "en"
	}
	return sh
}

// Check refuses what Create would refuse whatever the database holds (an
// id not of 8 digits, no name, a setting's value), so that a command can
// refuse its input before it opens the database. An empty id passes:
// Create picks a free one.
func (in CreateInput) Check(production bool) error {
	if in.ID != "" && !ValidID(in.ID) {
		return fmt.Errorf("shop id must be 8 digits, not %q", in.ID)
	}
	if strings.TrimSpace(in.Name) == "" {
		return errors.New("shop name is required")
	}
	if err := checkSHAPassphrases(in.SHAIn, in.SHAOut); err != nil {
		return err
	}
	return in.shop().validate(production)
}

// CheckSettings refuses the values of the settings named (by their
// `openpsp shops set` names: language, email, logo-url…) that Update
// would refuse, whatever the shop's other settings: a command checks
// the values it was given before it opens the database.
func CheckSettings(sh Shop, production bool, names ...string) error {
	var errs []error
	for _, p := range sh.problems(production) {
		if slices.Contains(names, p.name) {
			errs = append(errs, p.err)
		}
	}
	return errors.Join(errs...)
}

// Created is what an operator sees once, right after creation: the secrets
// in clear. OpenPSP never shows them again (rotate to get new ones).
type Created struct {
	Shop        Shop
	Test, Prod  Credentials
	PSPID       string
	SHAIn       string
	SHAOut      string
	SHAAlgo     string
	APIUser     string
	APIPassword string
}

// Create makes a shop with TEST and PRODUCTION key sets and an Ogone account.
func (s *Service) Create(ctx context.Context, in CreateInput) (Created, error) {
	now := s.clock.Now()
	if err := in.Check(s.production); err != nil {
		return Created{}, err
	}
	if in.ID == "" {
		id, err := s.freeShopID(ctx)
		if err != nil {
			return Created{}, err
		}
		in.ID = id
	}
	sh := in.shop()
	test := Credentials{ShopID: in.ID, Mode: ModeTest, Password: in.TestPassword, PublicKey: in.TestPublicKey, HMACKey: in.TestHMACKey}
	fillCredentials(&test)
	prod := Credentials{ShopID: in.ID, Mode: ModeProduction}
	fillCredentials(&prod)
	var sealed []SealedAPIKeys
	for _, c := range []Credentials{test, prod} {
		k, err := s.seal(c, now)
		if err != nil {
			return Created{}, err
		}
		sealed = append(sealed, k)
	}
	out := Created{Shop: sh, Test: test, Prod: prod}
	if in.PSPID == "" {
		in.PSPID = "openpsp" + in.ID
	}
	if in.SHAIn == "" {
		in.SHAIn = randomString(24)
	}
	if in.SHAOut == "" {
		in.SHAOut = randomString(24)
	}
	if in.SHAAlgorithm == "" {
		in.SHAAlgorithm = "SHA-512"
	}
	if in.APIUser == "" {
		in.APIUser = "api"
	}
	if in.APIPassword == "" {
		in.APIPassword = NewDirectLinkPassword()
	}
	og, ogKey, err := s.sealOgone(in.ID, in.PSPID, in.SHAAlgorithm, in.SHAIn, in.SHAOut, in.APIUser, in.OgoneSettings, now)
	if err != nil {
		return Created{}, err
	}
	pwd := sha256.Sum256([]byte(in.APIPassword))
	setDirectLinkVerifier(&og, ogKey, pwd[:])
	if err := s.store.InsertShop(ctx, sh, sealed, &og, now); err != nil {
		return Created{}, err
	}
	out.PSPID, out.SHAIn, out.SHAOut, out.SHAAlgo, out.APIUser, out.APIPassword = in.PSPID, in.SHAIn, in.SHAOut, in.SHAAlgorithm, in.APIUser, in.APIPassword
	return out, nil
}

func supportedLanguage(l string) bool { return slices.Contains(langpref.Spoken, l) }

func (s *Service) freeShopID(ctx context.Context) (string, error) {
	for i := 0; i < 20; i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(90_000_000))
		if err != nil {
			return "", err
		}
		id := fmt.Sprintf("%08d", n.Int64()+10_000_000)
		if _, err := s.store.Shop(ctx, id); errors.Is(err, ErrNotFound) {
			return id, nil
		} else if err != nil {
			return "", err
		}
	}
	return "", errors.New("could not find a free shop id")
}

func fillCredentials(c *Credentials) {
	prefix := "test"
	if c.Mode == ModeProduction {
		prefix = "prod"
	}
	if c.Password == "" {
		c.Password = prefix + "password_" + randomString(40)
	}
	if c.PublicKey == "" {
		c.PublicKey = c.ShopID + ":" + prefix + "publickey_" + randomString(40)
	}
	if c.HMACKey == "" {
		c.HMACKey = strings.ToLower(randomHex(16))
	}
}

func (s *Service) seal(c Credentials, now time.Time) (SealedAPIKeys, error) {
	dk, key, err := s.keys.NewDataKey()
	if err != nil {
		return SealedAPIKeys{}, err
	}
	aad := []byte("shop-api-keys\x00" + c.ShopID + "\x00" + c.Mode)
	d := sha256.Sum256([]byte(c.Password))
	return SealedAPIKeys{
		ShopID: c.ShopID, Mode: c.Mode, PasswordDigest: d[:],
		PasswordSealed: key.Seal(aad, []byte(c.Password)), PublicKey: c.PublicKey,
		HMACKeySealed: key.Seal(aad, []byte(c.HMACKey)), DataKey: dk, RotatedAt: now,
	}, nil
}

// sealOgone seals an account's SHA passphrases under a new data key and
// returns that key, for the caller to set the DirectLink password with.
func (s *Service) sealOgone(shopID, pspid, algo, shaIn, shaOut, user string, set OgoneSettings, now time.Time) (SealedOgone, *vault.Key, error) {
	switch algo {
	case "SHA-1", "SHA-256", "SHA-512":
	default:
		return SealedOgone{}, nil, fmt.Errorf("SHA algorithm must be SHA-1, SHA-256 or SHA-512, not %q", algo)
	}
	if err := set.check(); err != nil {
		return SealedOgone{}, nil, err
	}
	dk, key, err := s.keys.NewDataKey()
	if err != nil {
		return SealedOgone{}, nil, err
	}
	aad := []byte("shop-ogone\x00" + shopID)
	return SealedOgone{ShopID: shopID, PSPID: pspid, SHAAlgorithm: algo,
		SHAInSealed: key.Seal(aad, []byte(shaIn)), SHAOutSealed: key.Seal(aad, []byte(shaOut)),
		APIUser: user, DataKey: dk, Settings: set, UpdatedAt: now}, key, nil
}

// directLinkPasswordAAD binds the sealed verifier key to its account and
// purpose: it cannot be swapped with the SHA passphrases sealed beside it.
func directLinkPasswordAAD(shopID string) []byte {
	return []byte("shop-ogone-password-key\x00" + shopID)
}

// directLinkVerifier is what is stored of a DirectLink API password:
// HMAC-SHA256, under a random 32-byte key of the account's own, of a
// random salt and the password's SHA-256.
//
// An operator may choose this password (CreateInput.APIPassword,
// UpdateOgone), so it may be weak, and it used to be stored as a bare
// SHA-256, which a precomputed table reverses. The key is sealed under the
// account's data key, so the database alone (a dump, a backup, a read
// replica) gives no way to test a guess offline: that needs the master key
// too, and whoever holds both opens the SHA passphrases and the cards
// anyway. Master-key rotation and `openpsp keys rewrap` rewrap the data
// key, never the sealed key, so the verifier survives them; UpdateOgone
// reseals the same key under its new data key. The salt makes two accounts
// with one password store different verifiers even if their keys leaked.
//
// Why a keyed hash and not a slow KDF (scrypt, argon2id): DirectLink
// checks the password on every request, so a KDF would cost tens of
// milliseconds of CPU per payment on the hot path, and a cache of
// recently verified passwords to avoid it would keep a fast digest of
// each in memory anyway; every wrong password (a guessing run, lockable
// only per address) would pay the full KDF on a 2-core server. One HMAC
// and the data-key unwrap the request needs anyway cost microseconds.
// The inner SHA-256 is what the rows before migration 0032 stored: they
// are rewritten into this form without knowing the password.
func directLinkVerifier(key, salt, passwordSHA256 []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("openpsp/directlink-password/v1\x00"))
	m.Write(salt)
	m.Write(passwordSHA256)
	return m.Sum(nil)
}

// setDirectLinkVerifier gives og a new salt and verifier key (sealed under
// key, og's data key) and the verifier of the password whose SHA-256 is
// passwordSHA256.
func setDirectLinkVerifier(og *SealedOgone, key *vault.Key, passwordSHA256 []byte) {
	salt, vk := randomBytes(16), randomBytes(32)
	og.APIPasswordSalt = salt
	og.APIPasswordKeySealed = key.Seal(directLinkPasswordAAD(og.ShopID), vk)
	og.APIPasswordDigest = directLinkVerifier(vk, salt, passwordSHA256)
}

// legacyDirectLinkPassword reports a row from before migration 0032,
// whose digest is the password's bare SHA-256.
func legacyDirectLinkPassword(og SealedOgone) bool { return len(og.APIPasswordKeySealed) == 0 }

// UpgradeDirectLinkPasswords rewrites every DirectLink password still
// stored as a bare SHA-256 into a keyed verifier (directLinkVerifier),
// without the passwords: the old digest is the verifier's input. The app
// runs it at start, so a database copied after the upgrade holds no
// unkeyed digest, whether or not the merchant logged in since; a row it
// misses (an older copy writing at the same time) still authenticates and
// is rewritten at its next login or the next start. It returns how many
// rows it rewrote.
func (s *Service) UpgradeDirectLinkPasswords(ctx context.Context) (int, error) {
	legacy, err := s.store.LegacyOgonePasswords(ctx)
	if err != nil {
		return 0, fmt.Errorf("directlink passwords: %w", err)
	}
	n := 0
	for _, og := range legacy {
		key, err := s.ogoneKey(ctx, og)
		if err != nil {
			return n, fmt.Errorf("directlink password of shop %s: %w", og.ShopID, err)
		}
		ok, err := s.upgradeDirectLinkPassword(ctx, og, key)
		if err != nil {
			return n, fmt.Errorf("directlink password of shop %s: %w", og.ShopID, err)
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// upgradeDirectLinkPassword rewrites og's bare SHA-256 as a verifier under
// key, og's data key, unless the row changed since it was read.
func (s *Service) upgradeDirectLinkPassword(ctx context.Context, og SealedOgone, key *vault.Key) (bool, error) {
	legacyDigest := og.APIPasswordDigest
	setDirectLinkVerifier(&og, key, legacyDigest)
	return s.store.UpgradeOgonePassword(ctx, og, legacyDigest)
}

// Authenticate checks an API password (HTTP Basic shopId:password) against
// both key sets; the one that matches decides the mode. Comparison is
// constant-time. A wrong login or password answers ErrNotFound.
func (s *Service) Authenticate(ctx context.Context, shopID, password string) (Shop, Credentials, error) {
	if !ValidID(shopID) || password == "" {
		return Shop{}, Credentials{}, ErrNotFound
	}
	// A bare SHA-256 is enough here, unlike the DirectLink password
	// (directLinkVerifier): no operator chooses a V4 password. Every one is
	// generated (fillCredentials: 40 random letters and digits, about 238
	// bits) and `shops rotate-keys` makes new ones the same way; the only
	// fixed one is the demo shop's, the public PayZen demo key, a secret to
	// nobody. A digest of 238 random bits cannot be reversed by a table or
	// a search, so salting or keying it would add nothing. The password is
	// also kept sealed (PasswordSealed): IPNs are signed with it.
	d := sha256.Sum256([]byte(password))
	for _, mode := range []string{ModeTest, ModeProduction} {
		k, err := s.store.APIKeys(ctx, shopID, mode)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return Shop{}, Credentials{}, err
		}
		if constantTimeCompare(d[:], k.PasswordDigest) == 1 {
			sh, err := s.store.Shop(ctx, shopID)
			if err != nil {
				return Shop{}, Credentials{}, err
			}
			return sh, Credentials{ShopID: shopID, Mode: mode, Password: password, PublicKey: k.PublicKey}, nil
		}
	}
	return Shop{}, Credentials{}, ErrNotFound
}

// Credentials returns a mode's key set with its secrets in clear, for
// signing (IPN kr-hash under the password, browser returns under the HMAC key).
func (s *Service) Credentials(ctx context.Context, shopID, mode string) (Credentials, error) {
	if err := CheckMode(mode); err != nil {
		return Credentials{}, err
	}
	k, err := s.store.APIKeys(ctx, shopID, mode)
	if err != nil {
		return Credentials{}, err
	}
	return s.open(ctx, k)
}

// ByPublicKey finds the shop and mode of a JS-client public key.
func (s *Service) ByPublicKey(ctx context.Context, publicKey string) (Shop, Credentials, error) {
	k, err := s.store.APIKeysByPublicKey(ctx, publicKey)
	if err != nil {
		return Shop{}, Credentials{}, err
	}
	sh, err := s.store.Shop(ctx, k.ShopID)
	if err != nil {
		return Shop{}, Credentials{}, err
	}
	return sh, Credentials{ShopID: k.ShopID, Mode: k.Mode, PublicKey: k.PublicKey}, nil
}

func (s *Service) open(ctx context.Context, k SealedAPIKeys) (Credentials, error) {
	ck := openedKey{k.ShopID, k.Mode, k.DataKey.ID}
	s.mu.Lock()
	c, ok := s.opened[ck]
	s.mu.Unlock()
	if ok && c.PublicKey == k.PublicKey {
		return c, nil
	}
	c, err := s.openSealed(ctx, k)
	if err != nil {
		return c, err
	}
	s.mu.Lock()
	if s.opened == nil || len(s.opened) >= maxOpened {
		s.opened = make(map[openedKey]Credentials)
	}
	s.opened[ck] = c
	s.mu.Unlock()
	return c, nil
}

func (s *Service) openSealed(ctx context.Context, k SealedAPIKeys) (Credentials, error) {
	dk, err := s.store.DataKey(ctx, k.DataKey.ID)
	if err != nil {
		return Credentials{}, fmt.Errorf("shop keys: data key: %w", err)
	}
	key, err := s.keys.Unwrap(dk)
	if err != nil {
		return Credentials{}, fmt.Errorf("shop keys: unwrap: %w", err)
	}
	aad := []byte("shop-api-keys\x00" + k.ShopID + "\x00" + k.Mode)
	pw, err := key.Open(aad, k.PasswordSealed)
	if err != nil {
		return Credentials{}, fmt.Errorf("shop keys: open password: %w", err)
	}
	hk, err := key.Open(aad, k.HMACKeySealed)
	if err != nil {
		return Credentials{}, fmt.Errorf("shop keys: open HMAC key: %w", err)
	}
	return Credentials{ShopID: k.ShopID, Mode: k.Mode, Password: string(pw), PublicKey: k.PublicKey, HMACKey: string(hk)}, nil
}

// CheckMode refuses a mode other than TEST or PRODUCTION, which would
// otherwise read as an unknown shop.
func CheckMode(mode string) error {
	if mode != ModeTest && mode != ModeProduction {
		return fmt.Errorf("mode must be TEST or PRODUCTION, not %q", mode)
	}
	return nil
}

// RotateAPIKeys replaces a mode's password, public key and HMAC key; the old
// ones stop working at once. It returns the new key set in clear.
func (s *Service) RotateAPIKeys(ctx context.Context, shopID, mode string) (Credentials, error) {
	if err := CheckMode(mode); err != nil {
		return Credentials{}, err
	}
	if _, err := s.store.Shop(ctx, shopID); err != nil {
		return Credentials{}, err
	}
	c := Credentials{ShopID: shopID, Mode: mode}
	fillCredentials(&c)
	k, err := s.seal(c, s.clock.Now())
	if err != nil {
		return Credentials{}, err
	}
	if err := s.store.ReplaceAPIKeys(ctx, k); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

// Get returns a shop.
func (s *Service) Get(ctx context.Context, id string) (Shop, error) { return s.store.Shop(ctx, id) }

// List returns every shop.
func (s *Service) List(ctx context.Context) ([]Shop, error) { return s.store.Shops(ctx) }

// Update saves a shop's profile and settings.
//
// A value the shop already held that today's rules refuse (stored by an
// older version, or an http:// logo saved outside production) is not
// saved again silently: the update is refused with a StoredSettingsError
// naming each such value and how to set it, so that the operator repairs
// them in the same change. Keeping them would re-assert, at every change,
// an email that mail never reaches or a logo the hosted page hides.
func (s *Service) Update(ctx context.Context, sh Shop) error {
	probs := sh.problems(s.production)
	if len(probs) == 0 {
		return s.store.UpdateShop(ctx, sh, s.clock.Now())
	}
	stored, err := s.store.Shop(ctx, sh.ID)
	if err != nil {
		return sh.validate(s.production)
	}
	e := &StoredSettingsError{ShopID: sh.ID}
	for _, p := range probs {
		if stored.setting(p.name) == p.value {
			e.stored = append(e.stored, p)
		} else {
			e.changed = append(e.changed, p)
		}
	}
	if len(e.stored) == 0 {
		return sh.validate(s.production)
	}
	return e
}

// OgoneAccount returns a PSPID's account with the SHA passphrases in clear.
func (s *Service) OgoneAccount(ctx context.Context, pspid string) (Ogone, error) {
	og, err := s.store.OgoneByPSPID(ctx, pspid)
	if err != nil {
		return Ogone{}, err
	}
	return s.openOgone(ctx, og)
}

// OgoneForShop returns a shop's Ogone account with secrets in clear.
func (s *Service) OgoneForShop(ctx context.Context, shopID string) (Ogone, error) {
	og, err := s.store.OgoneByShop(ctx, shopID)
	if err != nil {
		return Ogone{}, err
	}
	return s.openOgone(ctx, og)
}

// ogoneKey unwraps the data key an account is sealed under.
func (s *Service) ogoneKey(ctx context.Context, og SealedOgone) (*vault.Key, error) {
	dk, err := s.store.DataKey(ctx, og.DataKey.ID)
	if err != nil {
		return nil, fmt.Errorf("ogone account: data key: %w", err)
	}
	key, err := s.keys.Unwrap(dk)
	if err != nil {
		return nil, fmt.Errorf("ogone account: unwrap: %w", err)
	}
	return key, nil
}

func (s *Service) openOgone(ctx context.Context, og SealedOgone) (Ogone, error) {
	key, err := s.ogoneKey(ctx, og)
	if err != nil {
		return Ogone{}, err
	}
	return openOgoneWith(og, key)
}

func openOgoneWith(og SealedOgone, key *vault.Key) (Ogone, error) {
	aad := []byte("shop-ogone\x00" + og.ShopID)
	in, err := key.Open(aad, og.SHAInSealed)
	if err != nil {
		return Ogone{}, fmt.Errorf("ogone account: open SHA-IN: %w", err)
	}
	out, err := key.Open(aad, og.SHAOutSealed)
	if err != nil {
		return Ogone{}, fmt.Errorf("ogone account: open SHA-OUT: %w", err)
	}
	return Ogone{ShopID: og.ShopID, PSPID: og.PSPID, SHAAlgorithm: og.SHAAlgorithm, SHAIn: string(in), SHAOut: string(out),
		APIUser: og.APIUser, Settings: og.Settings}, nil
}

// AuthenticateDirectLink checks a DirectLink API user and password for a
// PSPID, in constant time. A mismatch answers ErrNotFound.
func (s *Service) AuthenticateDirectLink(ctx context.Context, pspid, user, password string) (Ogone, error) {
	og, err := s.store.OgoneByPSPID(ctx, pspid)
	if err != nil {
		return Ogone{}, err
	}
	// The data key is needed for the verifier and for the passphrases the
	// request is then checked with: one unwrap serves both.
	key, err := s.ogoneKey(ctx, og)
	if err != nil {
		return Ogone{}, err
	}
	d := sha256.Sum256([]byte(password))
	legacy := legacyDirectLinkPassword(og)
	var got []byte
	if legacy {
		got = d[:]
	} else {
		vk, err := key.Open(directLinkPasswordAAD(og.ShopID), og.APIPasswordKeySealed)
		if err != nil {
			return Ogone{}, fmt.Errorf("ogone account: open the password key: %w", err)
		}
		got = directLinkVerifier(vk, og.APIPasswordSalt, d[:])
	}
	// Both are checked whatever the first answers, and the user through
	// digests: a wrong USERID tells nothing about its length or the password.
	userOK := EqualSecret(user, og.APIUser)
	pwOK := constantTimeCompare(got, og.APIPasswordDigest) == 1
	if !userOK || !pwOK {
		return Ogone{}, ErrNotFound
	}
	if legacy {
		// A row an older copy wrote since the start: rewrite it now. A
		// failure costs nothing but the delay (the next login or start
		// tries again), so it does not refuse a right password.
		_, _ = s.upgradeDirectLinkPassword(ctx, og, key)
	}
	return openOgoneWith(og, key)
}

// UpdateOgone changes a PSPID's settings and, when non-empty, its secrets.
func (s *Service) UpdateOgone(ctx context.Context, shopID string, set OgoneSettings, shaIn, shaOut, algo, apiPassword string) error {
	// Only the passphrases given: one stored before the check keeps
	// working, and does not block a change of the settings.
	if err := checkSHAPassphrases(shaIn, shaOut); err != nil {
		return err
	}
	old, err := s.store.OgoneByShop(ctx, shopID)
	if err != nil {
		return err
	}
	oldKey, err := s.ogoneKey(ctx, old)
	if err != nil {
		return err
	}
	cur, err := openOgoneWith(old, oldKey)
	if err != nil {
		return err
	}
	if shaIn == "" {
		shaIn = cur.SHAIn
	}
	if shaOut == "" {
		shaOut = cur.SHAOut
	}
	if algo == "" {
		algo = cur.SHAAlgorithm
	}
	og, key, err := s.sealOgone(shopID, cur.PSPID, algo, shaIn, shaOut, cur.APIUser, set, s.clock.Now())
	if err != nil {
		return err
	}
	switch {
	case apiPassword != "":
		d := sha256.Sum256([]byte(apiPassword))
		setDirectLinkVerifier(&og, key, d[:])
	case legacyDirectLinkPassword(old):
		setDirectLinkVerifier(&og, key, old.APIPasswordDigest)
	default:
		// Same password: the same verifier key, resealed under the new
		// data key (the old one is deleted with the old row).
		vk, err := oldKey.Open(directLinkPasswordAAD(shopID), old.APIPasswordKeySealed)
		if err != nil {
			return fmt.Errorf("ogone account: open the password key: %w", err)
		}
		og.APIPasswordDigest, og.APIPasswordSalt = old.APIPasswordDigest, old.APIPasswordSalt
		og.APIPasswordKeySealed = key.Seal(directLinkPasswordAAD(shopID), vk)
	}
	return s.store.ReplaceOgone(ctx, og)
}

// SetDirectLinkPassword replaces the DirectLink API password of a shop's
// PSPID with password (CheckDirectLinkPassword), keeping its API user,
// settings and SHA passphrases: the previous password stops working at
// once, on every copy (DirectLink reads the account on each request). It
// returns the PSPID and the API user, for the operator's message.
func (s *Service) SetDirectLinkPassword(ctx context.Context, shopID, password string) (pspid, user string, err error) {
	if err := CheckDirectLinkPassword(password); err != nil {
		return "", "", err
	}
	cur, err := s.OgoneForShop(ctx, shopID)
	if err != nil {
		return "", "", err
	}
	if err := s.UpdateOgone(ctx, shopID, cur.Settings, "", "", "", password); err != nil {
		return "", "", err
	}
	return cur.PSPID, cur.APIUser, nil
}

// NewDirectLinkPassword makes a DirectLink API password as Create does:
// 24 random letters and digits (about 143 bits).
func NewDirectLinkPassword() string { return randomString(24) }

// Bounds of a DirectLink API password an operator chooses.
const (
	MinDirectLinkPassword = 12
	MaxDirectLinkPassword = 128
)

// CheckDirectLinkPassword refuses a DirectLink API password an operator
// chose that is too short to resist guessing through the login lock, or
// that the merchant's code could send otherwise than it was typed: only
// printable ASCII, since DirectLink takes PSWD from a form decoded as
// UTF-8 or ISO-8859-1 depending on the page; no space at either end (a
// copy-paste slip). The error never shows the password.
func CheckDirectLinkPassword(p string) error {
	switch n := len(p); {
	case n == 0:
		return errors.New("the DirectLink password is empty")
	case n < MinDirectLinkPassword:
		return fmt.Errorf("a DirectLink password must have at least %d characters, not %d", MinDirectLinkPassword, n)
	case n > MaxDirectLinkPassword:
		return fmt.Errorf("a DirectLink password must have at most %d characters, not %d", MaxDirectLinkPassword, n)
	}
	if i := notPrintableASCII(p); i >= 0 {
		return fmt.Errorf("a DirectLink password must be printable ASCII: character %d is not", i+1)
	}
	if p[0] == ' ' || p[len(p)-1] == ' ' {
		return errors.New("a DirectLink password must not start or end with a space")
	}
	return nil
}

// notPrintableASCII returns the index of the first byte of s that is not
// printable ASCII (a control character, or a byte of a character beyond
// ASCII), -1 if there is none.
func notPrintableASCII(s string) int {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e })
}

// checkSHAPassphrases refuses a SHA-IN or SHA-OUT passphrase given (empty:
// none given, the caller keeps or makes one) that a merchant's code could
// not hash as OpenPSP does. A passphrase is hashed after every parameter,
// in the bytes of the request's encoding: ISO-8859-1 for DirectLink
// without _utf8 and the post-sale requests of a PSPID in ISO-8859-1, UTF-8
// for FlexCheckout and the return URLs (compat.md §2.4). Only printable
// ASCII is the same bytes in both: an "é" hashes as one byte on one page
// and two on another of the same PSPID, a character beyond Latin-1 has no
// ISO-8859-1 bytes at all, and a control character or a space at either
// end is a paste slip that the merchant's configuration would not repeat
// (Ingenico fills a new PSPID's with a GUID). The error never shows the
// passphrase: it is a secret.
func checkSHAPassphrases(shaIn, shaOut string) error {
	for _, p := range []struct{ name, value string }{{"SHA-IN", shaIn}, {"SHA-OUT", shaOut}} {
		if p.value == "" {
			continue
		}
		const rule = "ogone %s passphrase must be printable ASCII (letters, digits, punctuation; spaces only inside)"
		if i := notPrintableASCII(p.value); i >= 0 {
			return fmt.Errorf(rule+": character %d is not", p.name, i+1)
		}
		if p.value[0] == ' ' || p.value[len(p.value)-1] == ' ' {
			return fmt.Errorf(rule+": it starts or ends with a space", p.name)
		}
	}
	return nil
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("shop: crypto/rand failed: " + err.Error())
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("shop: crypto/rand failed: " + err.Error())
	}
	return b
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("shop: crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%x", b)
}

// SetProduction tells the service it serves production: settings shown to
// buyers (the logo) must then be https, except on loopback. Call it before
// the service is used.
func (s *Service) SetProduction(on bool) { s.production = on }
