package outbox

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzVerifySignature: a webhook receiver hands VerifySignature whatever
// OpenPSP-Signature header and body reached it. It never panics; it
// refuses with one of its three errors, or accepts only when the header
// carries, with its timestamp, the HMAC of that body under one of the
// secrets (nothing else passes for a signature); and what Sign writes for a
// body is accepted for that body, within the tolerance, and for no other.
func FuzzVerifySignature(f *testing.F) {
	now := time.Unix(1_900_000_000, 0)
	good := Sign([]string{"whsec_1"}, now, []byte(`{"type":"payment.accepted"}`))
	for _, s := range [][2]string{
		{good, `{"type":"payment.accepted"}`}, {good, `{"type":"payment.refused"}`}, {"", ""}, {"t=,v1=", "x"},
		{"t=1900000000,v1=" + strings.Repeat("0", 64), "x"}, {"t=+1900000000,v1=zz", "x"}, {"t=99999999999999999999,v1=00", ""},
		{"t=-9223372036854775808,v1=" + strings.Repeat("a", 64), "x"}, {strings.ToUpper(good), `{"type":"payment.accepted"}`},
		{"v1=" + strings.Repeat("f", 64) + ",t=1900000000,t=1", "{}"}, {" t = 1 , v1 = 00 ,,,=,", "{}"},
	} {
		f.Add(s[0], s[1], int64(0))
	}
	f.Fuzz(func(t *testing.T, header, body string, skew int64) {
		secrets := []string{"whsec_1", "whsec_2"}
		err := VerifySignature(header, []byte(body), secrets, DefaultSignatureTolerance, now)
		switch {
		case err == nil:
			ok := false
			for _, part := range strings.Split(header, ",") {
				k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
				if k != "t" {
					continue
				}
				for _, s := range secrets {
					if strings.Contains(strings.ToLower(header), "v1="+signature(s, v, []byte(body))) {
						ok = true
					}
				}
			}
			if !ok {
				t.Fatalf("header %q accepted for body %q without its HMAC", header, body)
			}
		case errors.Is(err, ErrSignatureMissing), errors.Is(err, ErrSignatureTimestamp), errors.Is(err, ErrSignatureMismatch):
		default:
			t.Fatalf("header %q: error %v", header, err)
		}
		at := now.Add(time.Duration(skew % int64(2*DefaultSignatureTolerance)))
		signed := Sign(secrets[1:], at, []byte(body))
		// The header carries whole seconds: the tolerance applies to those.
		sec := time.Unix(at.Unix(), 0)
		within := sec.Sub(now) <= DefaultSignatureTolerance && now.Sub(sec) <= DefaultSignatureTolerance
		if err := VerifySignature(signed, []byte(body), secrets, DefaultSignatureTolerance, now); (err == nil) != within {
			t.Fatalf("Sign at %v (now %v) for %q: %v", at, now, body, err)
		}
		if err := VerifySignature(signed, []byte(body+"x"), secrets, 0, now); !errors.Is(err, ErrSignatureMismatch) {
			t.Fatalf("signature of %q accepted for another body: %v", body, err)
		}
	})
}
