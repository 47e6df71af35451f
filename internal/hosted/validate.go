package hosted

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/card"
)

// fieldError is a problem with one input, as a message key (and its number
// argument for err_csc_invalid).
type fieldError struct {
	key string
	arg int
}

// Form field names, shared with the template and the form script.
const (
	fieldPAN    = "pan"
	fieldExpiry = "expiry"
	fieldCSC    = "csc"
	fieldHolder = "holder"
	fieldSave   = "save"
)

const maxHolder = 64

// parseCard validates the card fields of a submitted form. The server
// decides: the form script checks the same rules for the buyer's comfort.
func parseCard(v url.Values, now time.Time) (CardInput, map[string]fieldError) {
	errs := map[string]fieldError{}
	var in CardInput

	rawPAN := strings.TrimSpace(v.Get(fieldPAN))
	if rawPAN == "" {
		errs[fieldPAN] = fieldError{key: "err_pan_required"}
	} else if pan, err := card.ParsePAN(rawPAN); err != nil {
		errs[fieldPAN] = fieldError{key: "err_pan_invalid"}
	} else {
		in.PAN = pan
	}

	if exp, key := parseExpiryField(v.Get(fieldExpiry)); key != "" {
		errs[fieldExpiry] = fieldError{key: key}
	} else if exp.Expired(now) {
		errs[fieldExpiry] = fieldError{key: "err_exp_past"}
	} else {
		in.Expiry = exp
	}

	if code, fe := parseCSC(v.Get(fieldCSC), in.PAN); fe != nil {
		errs[fieldCSC] = *fe
	} else {
		in.CVV = code
	}

	holder := strings.Join(strings.Fields(v.Get(fieldHolder)), " ")
	if utf8.RuneCountInString(holder) > maxHolder || !utf8.ValidString(holder) {
		errs[fieldHolder] = fieldError{key: "err_holder_long"}
	} else {
		in.Holder = holder
	}
	in.Save = v.Get(fieldSave) != ""

	if len(errs) > 0 {
		return CardInput{}, errs
	}
	return in, nil
}

// parseCSC validates the security code typed for the card pan.
func parseCSC(s string, pan card.PAN) (card.SecurityCode, *fieldError) {
	want := cscLength(pan)
	csc := strings.TrimSpace(s)
	switch {
	case csc == "":
		return card.SecurityCode{}, &fieldError{key: "err_csc_required"}
	case len(csc) != want:
		return card.SecurityCode{}, &fieldError{key: "err_csc_invalid", arg: want}
	}
	code, err := card.NewSecurityCode(csc)
	if err != nil {
		return card.SecurityCode{}, &fieldError{key: "err_csc_invalid", arg: want}
	}
	return code, nil
}

// parseExpiryField reads MM/YY (also MMYY, MM/YYYY, with spaces) and
// returns the error message key when it cannot.
func parseExpiryField(s string) (card.Expiry, string) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if s == "" {
		return card.Expiry{}, "err_exp_required"
	}
	m, y, ok := strings.Cut(s, "/")
	if !ok {
		if len(s) != 4 && len(s) != 6 {
			return card.Expiry{}, "err_exp_invalid"
		}
		m, y = s[:2], s[2:]
	}
	if len(m) != 2 {
		return card.Expiry{}, "err_exp_invalid"
	}
	exp, err := card.ParseExpiry(m, y)
	if err != nil {
		return card.Expiry{}, "err_exp_invalid"
	}
	return exp, ""
}

// cscLength is the security code length of a card: 4 digits for American
// Express (the CID on the front), 3 for the others.
func cscLength(p card.PAN) int {
	for _, b := range p.Brands() {
		if b == card.Amex {
			return 4
		}
	}
	return 3
}
