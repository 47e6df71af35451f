package hosted

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
)

// FuzzSeal: the card sealed into the 3-D Secure challenge page comes back
// whole from the blob the buyer's browser returns, for the same payment
// only; any other blob the browser sends (a changed byte, a blob of another
// payment, anything) is refused with errSealInvalid, never opened to other
// card data; and the blob shows none of the card number's digits.
func FuzzSeal(f *testing.F) {
	f.Add("4970100000000055", uint8(12), uint16(2031), "123", "Jane Doe", true, "", "ds-1", "tok-1", "", uint16(0))
	f.Add("378282246310005", uint8(1), uint16(31), "1234", "", false, "sc-9", "", "tok-2", "v1.AAAA", uint16(7))
	f.Add("5555555555554444", uint8(7), uint16(2030), "", strings.Repeat("é", 60), false, "", "x\x00y", "", "v1."+strings.Repeat("A", 60), uint16(300))
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
	s := &sealer{aead: aead, clock: clock.NewFake(now)}
	f.Fuzz(func(t *testing.T, pan string, month uint8, year uint16, cvv, holder string, save bool, saved, ds, formToken, other string, flip uint16) {
		if _, _, err := s.open(formToken, other); err == nil && !strings.HasPrefix(other, sealPrefix) {
			t.Fatalf("blob %q opened", other)
		} else if err != nil && !errors.Is(err, errSealInvalid) && !errors.Is(err, errSealExpired) {
			t.Fatalf("blob %q: %v", other, err)
		}
		// The form and the 3-D Secure server give valid UTF-8 (parseCard
		// refuses the rest); JSON would turn other bytes into U+FFFD.
		if !utf8.ValidString(holder) || !utf8.ValidString(saved) || !utf8.ValidString(ds) {
			return
		}
		p, err := card.ParsePAN(pan)
		if err != nil {
			return
		}
		exp, err := card.ParseExpiry(strconv.Itoa(int(month)), strconv.Itoa(int(year)))
		if err != nil {
			return
		}
		in := CardInput{PAN: p, Expiry: exp, Holder: holder, Save: save, Saved: saved}
		if cvv != "" {
			if in.CVV, err = card.NewSecurityCode(cvv); err != nil {
				return
			}
		}
		blob, err := s.seal(formToken, in, ds)
		if err != nil {
			t.Fatalf("seal: %v", err)
		}
		if len(blob) <= 4096+len(sealPrefix) {
			// Within open's bound: it must come back whole.
			got, gotDS, err := s.open(formToken, blob)
			if err != nil || gotDS != ds || got.PAN.Reveal() != in.PAN.Reveal() || got.CVV.Reveal() != in.CVV.Reveal() ||
				!reflect.DeepEqual(got.Expiry, in.Expiry) || got.Holder != in.Holder || got.Save != in.Save || got.Saved != in.Saved {
				t.Fatalf("sealed %+v (ds %q) opens as %+v (ds %q), %v", in, ds, got, gotDS, err)
			}
		}
		if _, _, err := s.open(formToken+"x", blob); !errors.Is(err, errSealInvalid) {
			t.Fatalf("blob of %q opened for another payment: %v", formToken, err)
		}
		b := []byte(blob)
		i := len(sealPrefix) + int(flip)%(len(b)-len(sealPrefix))
		b[i] ^= byte(flip>>8) | 1
		if string(b) != blob {
			if _, _, err := s.open(formToken, string(b)); !errors.Is(err, errSealInvalid) {
				t.Fatalf("blob changed at %d opened: %v", i, err)
			}
		}
		if digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, pan); strings.Contains(blob, digits) {
			t.Fatalf("blob %q shows the card number", blob)
		}
	})
}
