package demo

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/shop"
)

// The FlexCheckout part of the demo: a merchant page that opens FlexCheckout
// in an iframe with the demo PSPID, receives the alias with its SHA-OUT, and
// charges it through DirectLink. Like the rest of the demo it uses only the
// wire format, with its own SHA code written from the Ingenico rules.

// shaOutFields is the FlexCheckout SHA-OUT allow-list (document 004 §3.4).
var shaOutFields = map[string]bool{
	"ALIAS.ALIASID": true, "ALIAS.NCERROR": true, "ALIAS.NCERRORCARDNO": true, "ALIAS.NCERRORCN": true,
	"ALIAS.NCERRORCVC": true, "ALIAS.NCERRORED": true, "ALIAS.ORDERID": true, "ALIAS.STATUS": true,
	"ALIAS.STOREPERMANENTLY": true, "CARD.BIC": true, "CARD.BIN": true, "CARD.BRAND": true,
	"CARD.CARDHOLDERNAME": true, "CARD.CARDNUMBER": true, "CARD.CVC": true, "CARD.EXPIRYDATE": true,
}

// ogoneSHA512 is the Ingenico rule: names uppercased, empty values dropped,
// sorted, NAME=value followed by the passphrase for each, SHA-512, upper hex.
func ogoneSHA512(params map[string]string, passphrase string, keep func(string) bool) string {
	up := map[string]string{}
	for k, v := range params {
		k = strings.ToUpper(k)
		if v == "" || k == "SHASIGN" || k == "SHASIGNATURE.SHASIGN" || (keep != nil && !keep(k)) {
			continue
		}
		up[k] = v
	}
	names := make([]string, 0, len(up))
	for k := range up {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k + "=" + up[k] + passphrase)
	}
	sum := sha512.Sum512([]byte(b.String()))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

var flexLanguages = map[string]string{"en": "en_US", "fr": "fr_FR", "es": "es_ES", "it": "it_IT", "de": "de_DE"}

func (h *Handler) flexPage(w http.ResponseWriter, r *http.Request) {
	l := h.lang(r)
	base := h.opts.BaseURL()
	params := map[string]string{
		"ACCOUNT.PSPID":                     shop.DemoPSPID,
		"ALIAS.ORDERID":                     "demo-alias-" + ids.RandomHex(4),
		"ALIAS.STOREPERMANENTLY":            "Y",
		"CARD.PAYMENTMETHOD":                "CreditCard",
		"LAYOUT.LANGUAGE":                   flexLanguages[l],
		"PARAMETERS.ACCEPTURL":              base + "/demo/flexcheckout/result?lang=" + l,
		"PARAMETERS.EXCEPTIONURL":           base + "/demo/flexcheckout/result?lang=" + l,
		"PARAMETERS.DECLINEURL":             base + "/demo/flexcheckout/result?lang=" + l,
		"PARAMETERS.PARAMPLUS":              "basket=demo-42",
		"PARAMETERS.EXCLUDEDPAYMENTMETHODS": "",
	}
	params["SHASIGNATURE.SHASIGN"] = ogoneSHA512(params, shop.DemoSHAPassphrase, nil)
	q := url.Values{}
	for k, v := range params {
		if v != "" {
			q.Set(k, v)
		}
	}
	csp := "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src " + base + "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	h.render(w, r, "flexcheckout.html", page{Title: "Save a card with FlexCheckout", Lang: l, Data: map[string]any{
		"FrameURL": base + "/Tokenization/HostedPage?" + q.Encode(), "OrderID": params["ALIAS.ORDERID"],
	}}, csp)
}

// flexResult is ACCEPTURL/EXCEPTIONURL/DECLINEURL: it runs inside the
// FlexCheckout iframe, checks SHA-OUT and offers to charge the alias.
func (h *Handler) flexResult(w http.ResponseWriter, r *http.Request) {
	l := h.lang(r)
	fields, ok := readFlexResult(r.URL.Query())
	h.render(w, r, "flexresult.html", page{Title: "FlexCheckout result", Lang: l, Data: map[string]any{
		"SignatureOK": ok, "Alias": fields["ALIAS.ALIASID"], "Status": fields["ALIAS.STATUS"],
		"Card": fields["CARD.CARDNUMBER"], "Brand": fields["CARD.BRAND"], "Expiry": expiryText(fields["CARD.EXPIRYDATE"]),
		"Holder": fields["CARD.CARDHOLDERNAME"], "NCError": fields["ALIAS.NCERROR"], "ParamPlus": fields["BASKET"],
		"OrderID": fields["ALIAS.ORDERID"],
	}}, "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'")
}

// expiryText writes FlexCheckout's MMYY expiry (Card.ExpiryDate) as the card
// shows it, MM/YY; anything else is shown as it came.
func expiryText(mmyy string) string {
	if len(mmyy) != 4 || strings.Trim(mmyy, "0123456789") != "" {
		return mmyy
	}
	return mmyy[:2] + "/" + mmyy[2:]
}

// readFlexResult reads the FlexCheckout result parameters by their
// upper-case names and checks their SHA-OUT. A name given twice, in any
// spelling (Alias.AliasId and alias_aliasid are one name: PHP-style hosts
// see dots as underscores), fails the check: the signature covers one of
// the values, and the page must not show the other as verified.
func readFlexResult(q url.Values) (fields map[string]string, ok bool) {
	fields = map[string]string{}
	ambiguous := false
	// In name order, so that the same URL shows the same page.
	for _, k := range slices.Sorted(maps.Keys(q)) {
		v := q[k]
		if k == "lang" || len(v) == 0 {
			continue
		}
		name := strings.ToUpper(strings.ReplaceAll(k, "_", "."))
		if _, dup := fields[name]; dup || len(v) > 1 {
			ambiguous = true
		}
		fields[name] = v[0]
	}
	got := fields["SHASIGN"]
	want := ogoneSHA512(fields, shop.DemoSHAPassphrase, func(n string) bool { return shaOutFields[n] })
	ok = !ambiguous && got != "" && hmac.Equal([]byte(strings.ToUpper(got)), []byte(want))
	return fields, ok
}

// ncresponse is DirectLink's answer.
type ncresponse struct {
	OrderID    string `xml:"orderID,attr"`
	PayID      string `xml:"PAYID,attr"`
	NCStatus   string `xml:"NCSTATUS,attr"`
	NCError    string `xml:"NCERROR,attr"`
	NCErrorMsg string `xml:"NCERRORPLUS,attr"`
	Acceptance string `xml:"ACCEPTANCE,attr"`
	Status     string `xml:"STATUS,attr"`
	Amount     string `xml:"amount,attr"`
	Currency   string `xml:"currency,attr"`
	Brand      string `xml:"BRAND,attr"`
}

// flexCharge charges the alias with a DirectLink order, as the merchant's
// server would: a form POST with the API user and SHA-IN. The buyer who
// just typed the card on FlexCheckout is there and pays now: ECI 7,
// e-commerce ("the merchant received the customer's financial details via
// a secure website", the Ingenico DirectLink ECI list), a payment the
// buyer starts. ECI 9, recurring e-commerce, is for the later payments
// with the alias after such a first one, the buyer absent; it would tell
// the acquirer that the merchant started this one.
func (h *Handler) flexCharge(w http.ResponseWriter, r *http.Request) {
	l := h.lang(r)
	alias := r.FormValue("alias")
	params := map[string]string{
		"PSPID": shop.DemoPSPID, "USERID": shop.DemoAPIUser, "PSWD": shop.DemoAPIPassword,
		"ORDERID": "demo-dl-" + ids.RandomHex(4), "AMOUNT": "1250", "CURRENCY": "EUR",
		"ALIAS": alias, "OPERATION": "SAL", "ECI": "7",
	}
	params["SHASIGN"] = ogoneSHA512(params, shop.DemoSHAPassphrase, nil)
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	var res ncresponse
	var raw string
	resp, err := h.client.PostForm(h.opts.BaseURL()+"/ncol/test/orderdirect_utf8.asp", form)
	if err == nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		raw = string(b)
		err = xml.Unmarshal(b, &res)
	}
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "demo: DirectLink call failed", "err", err)
	}
	h.render(w, r, "flexcharge.html", page{Title: "DirectLink payment", Lang: l, Data: map[string]any{
		"Response": res, "Raw": raw, "OK": err == nil && res.Status == "9", "Alias": alias,
	}}, strictCSP)
}
