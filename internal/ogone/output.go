package ogone

import (
	"fmt"
	"net/url"
	"strings"
)

// Alias statuses (ALIAS.STATUS).
const (
	AliasOK        = "0"
	AliasNOK       = "1"
	AliasUpdated   = "2"
	AliasCancelled = "3"
)

// Output field names as FlexCheckout writes them on the return URL (public
// callbacks: Magento OPS alias accept controller, IngenicoClient); SHA-OUT
// uses them uppercased.
const (
	oAliasID          = "Alias.AliasId"
	oOrderID          = "Alias.OrderId"
	oStatus           = "Alias.Status"
	oStorePermanently = "Alias.StorePermanently"
	oNCError          = "Alias.NCError"
	oNCErrorCardNo    = "Alias.NCErrorCardNo"
	oNCErrorCN        = "Alias.NCErrorCN"
	oNCErrorCVC       = "Alias.NCErrorCVC"
	oNCErrorED        = "Alias.NCErrorED"
	oCardBrand        = "Card.Brand"
	oCardBin          = "Card.Bin"
	oCardNumber       = "Card.CardNumber"
	oCardHolderName   = "Card.CardHolderName"
	oCardCvc          = "Card.Cvc"
	oCardExpiryDate   = "Card.ExpiryDate"
	oCardBic          = "Card.Bic"
	oSHASign          = "SHASign"
)

// OutputFields lists the output fields a PSPID may choose to receive
// (shop.OgoneSettings.ReturnFields, uppercase), in the order they are sent.
// SHASIGN is always sent; PARAMPLUS's content always comes back.
var OutputFields = []string{
	"ALIAS.ALIASID", "ALIAS.ORDERID", "ALIAS.STATUS", "ALIAS.STOREPERMANENTLY", "ALIAS.NCERROR",
	"ALIAS.NCERRORCARDNO", "ALIAS.NCERRORCN", "ALIAS.NCERRORCVC", "ALIAS.NCERRORED", "CARD.BRAND", "CARD.BIN",
	"CARD.CARDNUMBER", "CARD.CARDHOLDERNAME", "CARD.CVC", "CARD.EXPIRYDATE", "CARD.BIC",
}

var outputNames = map[string]string{}

func init() {
	for _, n := range []string{oAliasID, oOrderID, oStatus, oStorePermanently, oNCError, oNCErrorCardNo, oNCErrorCN,
		oNCErrorCVC, oNCErrorED, oCardBrand, oCardBin, oCardNumber, oCardHolderName, oCardCvc, oCardExpiryDate, oCardBic} {
		outputNames[strings.ToUpper(n)] = n
	}
}

// NormalizeReturnFields checks and uppercases a list of output field names.
func NormalizeReturnFields(fields []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, f := range fields {
		u := strings.ToUpper(strings.TrimSpace(f))
		if u == "" || seen[u] {
			continue
		}
		if _, ok := outputNames[u]; !ok {
			return nil, fmt.Errorf("ogone: %q is not a FlexCheckout output field (one of %s)", f, strings.Join(OutputFields, ", "))
		}
		seen[u] = true
		out = append(out, u)
	}
	return out, nil
}

// Result is the outcome of a FlexCheckout page, before it is written onto
// the return URL.
type Result struct {
	AliasID, OrderID, Status, StorePermanently               string
	NCError, NCErrorCardNo, NCErrorCN, NCErrorCVC, NCErrorED string
	Brand, BIN, CardNumber, HolderName, CVC, ExpiryDate, BIC string
}

func (r Result) fields() Params {
	z := func(s string) string {
		if s == "" {
			return ncOK
		}
		return s
	}
	return Params{
		{oAliasID, r.AliasID}, {oOrderID, r.OrderID}, {oStatus, r.Status}, {oStorePermanently, r.StorePermanently},
		{oNCError, z(r.NCError)}, {oNCErrorCardNo, z(r.NCErrorCardNo)}, {oNCErrorCN, z(r.NCErrorCN)},
		{oNCErrorCVC, z(r.NCErrorCVC)}, {oNCErrorED, z(r.NCErrorED)}, {oCardBrand, r.Brand}, {oCardBin, r.BIN},
		{oCardNumber, r.CardNumber}, {oCardHolderName, r.HolderName}, {oCardCvc, r.CVC},
		{oCardExpiryDate, r.ExpiryDate}, {oCardBic, r.BIC},
	}
}

// ReturnURL writes r onto base (ACCEPTURL, DECLINEURL or EXCEPTIONURL):
// the output fields the PSPID receives (returnFields, uppercase; empty: all),
// PARAMPLUS's own parameters, and SHASign over the returned fields of the
// SHA-OUT allow-list under the SHA-OUT passphrase.
func ReturnURL(base string, r Result, returnFields []string, paramPlus, algo, shaOut string) (string, error) {
	want := toSet(returnFields)
	var out Params
	for _, p := range r.fields() {
		if len(want) == 0 || want[strings.ToUpper(p.Name)] {
			out = append(out, p)
		}
	}
	sign, err := Sign(algo, out, shaOut, FlexOutKeep)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(u.RawQuery)
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	taken := map[string]bool{"SHASIGN": true}
	for _, p := range out {
		add(p.Name, p.Value)
		taken[strings.ToUpper(p.Name)] = true
	}
	// PARAMPLUS comes back as the parameters it holds ("a=1&b=2" → a, b),
	// as Ogone returns it; a value that is not a query string comes back
	// whole. Our own fields win a clash: they are the signed ones.
	if paramPlus != "" {
		if pp, err := parseQuery(paramPlus, UTF8); err == nil && strings.Contains(paramPlus, "=") {
			for _, p := range pp {
				if !taken[strings.ToUpper(p.Name)] {
					add(p.Name, p.Value)
					taken[strings.ToUpper(p.Name)] = true
				}
			}
		} else {
			add("PARAMPLUS", paramPlus)
		}
	}
	add(oSHASign, sign)
	u.RawQuery = b.String()
	return u.String(), nil
}
