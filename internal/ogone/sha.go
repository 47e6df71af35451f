// Package ogone speaks the Ingenico ePayments (Ogone) wire formats: the
// FlexCheckout hosted tokenization page, DirectLink orders, maintenance and
// queries, and the SHA-IN / SHA-OUT signatures that protect both. Aliases
// are tokens of the one card vault; DirectLink payments are the payments the
// V4 API sees: one payment model, two wire formats.
package ogone

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"sort"
	"strings"

	"github.com/openpsp/openpsp/internal/shop"
)

// SHA algorithms a PSPID can be configured with (shop.Ogone.SHAAlgorithm).
const (
	SHA1   = "SHA-1"
	SHA256 = "SHA-256"
	SHA512 = "SHA-512"
)

// Param is one request or response parameter, name as sent.
type Param struct {
	Name  string
	Value string
}

// Params is an ordered list of parameters. Names are unique once uppercased
// (ParseParams refuses a request that repeats one).
type Params []Param

// Get returns the value of the parameter whose uppercased name is name
// (name must be uppercase), or "".
func (ps Params) Get(name string) string {
	v, _ := ps.Lookup(name)
	return v
}

// Lookup is Get that also tells whether the parameter was sent.
func (ps Params) Lookup(name string) (string, bool) {
	for _, p := range ps {
		if strings.ToUpper(p.Name) == name {
			return p.Value, true
		}
	}
	return "", false
}

// shaSignNames are the signature parameters themselves, never part of the
// signed string.
var shaSignNames = map[string]bool{"SHASIGN": true, "SHASIGNATURE.SHASIGN": true}

// ComposeSHA builds the string that is hashed, by the rules every Ogone
// integration follows (compat.md §2.4): names uppercased, values untouched,
// empty values and the signature itself left out, keep(name) deciding the
// rest (nil keeps all), sorted by name in byte order, and each NAME=value
// followed by the passphrase, the last one included.
func ComposeSHA(params Params, passphrase string, keep func(upperName string) bool) string {
	type kv struct{ k, v string }
	list := make([]kv, 0, len(params))
	for _, p := range params {
		if p.Value == "" {
			continue
		}
		k := strings.ToUpper(p.Name)
		if shaSignNames[k] || (keep != nil && !keep(k)) {
			continue
		}
		list = append(list, kv{k, p.Value})
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].k < list[j].k })
	var b strings.Builder
	for _, e := range list {
		b.WriteString(e.k)
		b.WriteByte('=')
		b.WriteString(e.v)
		b.WriteString(passphrase)
	}
	return b.String()
}

func newHash(algo string) (hash.Hash, error) {
	switch algo {
	case SHA1:
		return sha1.New(), nil
	case SHA256:
		return sha256.New(), nil
	case SHA512:
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("ogone: unknown SHA algorithm %q", algo)
}

// Digest hashes s (already in the wire encoding) with algo and returns
// uppercase hex, as Ogone writes SHASIGN.
func Digest(algo string, s []byte) (string, error) {
	h, err := newHash(algo)
	if err != nil {
		return "", err
	}
	h.Write(s)
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))), nil
}

// Sign returns the SHASIGN of params under passphrase (UTF-8).
func Sign(algo string, params Params, passphrase string, keep func(string) bool) (string, error) {
	return Digest(algo, []byte(ComposeSHA(params, passphrase, keep)))
}

// VerifyDigest compares a received SHASIGN with the expected one in
// constant time (shop.EqualSecret, whatever the length sent). Case is
// ignored: some integrations send lowercase hex (Odoo sends hexdigest()).
func VerifyDigest(expected, given string) bool {
	return shop.EqualSecret(strings.ToUpper(strings.TrimSpace(given)), expected)
}

// FlexOutFields is the FlexCheckout SHA-OUT allow-list (document 004 §3.4).
var FlexOutFields = []string{
	"ALIAS.ALIASID", "ALIAS.NCERROR", "ALIAS.NCERRORCARDNO", "ALIAS.NCERRORCN", "ALIAS.NCERRORCVC",
	"ALIAS.NCERRORED", "ALIAS.ORDERID", "ALIAS.STATUS", "ALIAS.STOREPERMANENTLY", "CARD.BIC", "CARD.BIN",
	"CARD.BRAND", "CARD.CARDHOLDERNAME", "CARD.CARDNUMBER", "CARD.CVC", "CARD.EXPIRYDATE",
}

var flexOutSet = toSet(FlexOutFields)

// FlexOutKeep reports whether an (uppercase) name is part of the
// FlexCheckout SHA-OUT.
func FlexOutKeep(name string) bool { return flexOutSet[name] }

func toSet(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
