package hosted

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseCard: whatever a buyer types in the card form, each field either
// takes a value the payment can use (a Luhn-valid number, an expiry not
// past, a security code of the brand's length, a holder name within bounds)
// or is refused with a message written in every language of the pages,
// never a bare message key.
func FuzzParseCard(f *testing.F) {
	for _, s := range [][4]string{
		{"4970100000000055", "12/32", "123", "Jane Doe"}, {"4970 1000 0000 0055", "1232", "123", ""},
		{"378282246310005", "12 / 2032", "1234", ""}, {"378282246310005", "12/32", "123", ""},
		{"4970100000000056", "13/32", "12a", strings.Repeat("x", 300)}, {"", "", "", ""},
		{"4970100000000055", "02/20", "000", "\xff"}, {"4970100000000055", "12/32", "123", strings.Repeat("é", 65)},
		{"５５５５５５５５５５５５４４４４", "1/3", " 123 ", "a\tb"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, pan, expiry, csc, holder string) {
		v := url.Values{fieldPAN: {pan}, fieldExpiry: {expiry}, fieldCSC: {csc}, fieldHolder: {holder}}
		in, ferrs := parseCard(v, now)
		if ferrs != nil {
			for field, fe := range ferrs {
				for _, l := range languages {
					if m, ok := messages[l][fe.key]; !ok || m == "" {
						t.Fatalf("%s: message %q missing in %s", field, fe.key, l)
					}
				}
			}
			return
		}
		if len(in.PAN.Reveal()) < 12 || in.Expiry.Expired(now) || len(in.CVV.Reveal()) != cscLength(in.PAN) ||
			!utf8.ValidString(in.Holder) || utf8.RuneCountInString(in.Holder) > maxHolder {
			t.Fatalf("%q %q %q %q accepted as %s %+v holder %q", pan, expiry, csc, holder, in.PAN, in.Expiry, in.Holder)
		}
	})
}
