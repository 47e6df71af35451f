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
	return s.sealJSON(sealAAD(formToken), pc)
}

// sealJSON encrypts v, as JSON, bound to aad.
func (s *sealer) sealJSON(aad []byte, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	defer clear(plain)
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, plain, aad)
	return sealPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// openJSON decrypts into v a blob made by sealJSON with the same aad.
func (s *sealer) openJSON(aad []byte, blob string, v any) error {
	raw, ok := strings.CutPrefix(blob, sealPrefix)
	if !ok || len(raw) > 4096 {
		return errSealInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) < s.aead.NonceSize()+s.aead.Overhead() {
		return errSealInvalid
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], aad)
	if err != nil {
		return errSealInvalid
	}
	defer clear(plain)
	if err := json.Unmarshal(plain, v); err != nil {
		return errSealInvalid
	}
	return nil
}

// open decrypts a blob made by seal for the same formToken.
func (s *sealer) open(formToken, blob string) (CardInput, string, error) {
	var pc sealedCard
	if err := s.openJSON(sealAAD(formToken), blob, &pc); err != nil {
		return CardInput{}, "", err
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

// attemptProof is what the buyer's browser keeps of its card attempt on a
// hosted page (the attemptCookie): the card as Outcome names it (masked
// number and expiry, or the saved card's id), sealed and bound to the
// formToken. Reloading the page with it shows the payment's outcome once
// the form is over, as posting the same card again does
// (replayedCardAfterEnd): to the buyer's own browser, not to whoever
// holds the link.
type attemptProof struct {
	Masked   string `json:"p,omitempty"`
	ExpMonth int    `json:"m,omitempty"`
	ExpYear  int    `json:"y,omitempty"`
	Saved    string `json:"w,omitempty"`
	NotAfter int64  `json:"t"`
}

// attemptTTL is how long a browser may learn the outcome of its attempt by
// reloading the page: recovery settles an unanswered attempt well within.
const attemptTTL = 24 * time.Hour

func attemptAAD(formToken string) []byte {
	return []byte("openpsp/hosted/attempt/v1\x00" + formToken)
}

// sealAttempt seals the proof of an attempt with in on formToken.
func (s *sealer) sealAttempt(formToken string, in CardInput) (string, error) {
	p := attemptProof{Saved: in.Saved, NotAfter: s.clock.Now().Add(attemptTTL).Unix()}
	if in.Saved == "" {
		p.Masked, p.ExpMonth, p.ExpYear = in.PAN.Masked(), in.Expiry.Month, in.Expiry.Year
	}
	return s.sealJSON(attemptAAD(formToken), p)
}

// openAttempt opens a proof sealed by sealAttempt for formToken.
func (s *sealer) openAttempt(formToken, blob string) (attemptProof, error) {
	var p attemptProof
	if err := s.openJSON(attemptAAD(formToken), blob, &p); err != nil {
		return attemptProof{}, err
	}
	if s.clock.Now().Unix() > p.NotAfter {
		return attemptProof{}, errSealExpired
	}
	return p, nil
}
