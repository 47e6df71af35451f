package hosted

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
)

// The card must survive the 3-D Secure challenge round trip (our form → the
// challenge page → the buyer's answer) without being written anywhere and
// without any copy of openpsp keeping it in memory: it travels in the page,
// sealed with AES-GCM under Options.SealKey, and whichever copy receives the
// answer opens it.
//
// The blob is bound to its formToken (additional data), so it cannot be
// replayed against another payment, and lives sealTTL, after which the
// buyer types the card again. It is never logged and never stored.

// sealTTL is how long the buyer has to complete the challenge.
const sealTTL = 10 * time.Minute

// sealPrefix versions the blob format (and leaves room for key rotation).
const sealPrefix = "v1."

var (
	errSealInvalid = errors.New("hosted: sealed card data is invalid")
	errSealExpired = errors.New("hosted: sealed card data has expired")
)

type sealer struct {
	aead  cipher.AEAD
	clock clock.Clock
}

// sealedCard is the plaintext: card data in clear, so it exists only inside
// seal and open.
type sealedCard struct {
	PAN      string `json:"p"`
	ExpMonth int    `json:"m"`
	ExpYear  int    `json:"y"`
	CVV      string `json:"c,omitempty"`
	Holder   string `json:"h,omitempty"`
	Save     bool   `json:"s,omitempty"`
	Saved    string `json:"w,omitempty"`
	// DSTransID is the 3-D Secure transaction the challenge completes.
	DSTransID string `json:"d"`
	// NotAfter is the Unix time after which the blob is refused.
	NotAfter int64 `json:"t"`
}

func sealAAD(formToken string) []byte {
	return []byte("openpsp/hosted/3ds-challenge/v1\x00" + formToken)
}

// seal encrypts the card of in and the 3-D Secure transaction id.
func (s *sealer) seal(formToken string, in CardInput, dsTransID string) (string, error) {
	pc := sealedCard{
		PAN:       in.PAN.Reveal(),
		ExpMonth:  in.Expiry.Month,
		ExpYear:   in.Expiry.Year,
		CVV:       in.CVV.Reveal(),
		Holder:    in.Holder,
		Save:      in.Save,
		Saved:     in.Saved,
		DSTransID: dsTransID,
		NotAfter:  s.clock.Now().Add(sealTTL).Unix(),
	}
	plain, err := json.Marshal(pc)
	if err != nil {
		return "", err
	}
	defer clear(plain)
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, plain, sealAAD(formToken))
	return sealPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// open decrypts a blob made by seal for the same formToken.
func (s *sealer) open(formToken, blob string) (CardInput, string, error) {
	raw, ok := strings.CutPrefix(blob, sealPrefix)
	if !ok || len(raw) > 4096 {
		return CardInput{}, "", errSealInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) < s.aead.NonceSize()+s.aead.Overhead() {
		return CardInput{}, "", errSealInvalid
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], sealAAD(formToken))
	if err != nil {
		return CardInput{}, "", errSealInvalid
	}
	defer clear(plain)
	var pc sealedCard
	if err := json.Unmarshal(plain, &pc); err != nil {
		return CardInput{}, "", errSealInvalid
	}
	if s.clock.Now().Unix() > pc.NotAfter {
		return CardInput{}, "", errSealExpired
	}
	pan, err := card.ParsePAN(pc.PAN)
	if err != nil {
		return CardInput{}, "", errSealInvalid
	}
	exp, err := card.ParseExpiry(strconv.Itoa(pc.ExpMonth), strconv.Itoa(pc.ExpYear))
	if err != nil {
		return CardInput{}, "", errSealInvalid
	}
	in := CardInput{PAN: pan, Expiry: exp, Holder: pc.Holder, Save: pc.Save, Saved: pc.Saved}
	if pc.CVV != "" {
		if in.CVV, err = card.NewSecurityCode(pc.CVV); err != nil {
			return CardInput{}, "", errSealInvalid
		}
	}
	return in, pc.DSTransID, nil
}
