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

// SHAInFields are the parameters Ingenico's e-Commerce and DirectLink
// SHA-IN covers when sent: "All parameters that you send (and that appear
// in the list in Appendix: List of Parameters to be included in SHA IN
// Calculation) will be included in the string to be hashed" (Ingenico
// security guide). The list is Ingenico's SHA-IN_params_24092019.txt
// (shared.ecom-psp.com/v2/docs/guides/e-Commerce/), as open-formulieren/
// open-forms src/openforms/payments/contrib/ogone/signing.py carries it;
// marlon-be/marlon-ogone ShaInParameterFilter.php holds an older subset.
// PAYIDSUB, for one, is not on it.
var SHAInFields = []string{
	"ACCEPTANCE", "ACCEPTURL", "ADDMATCH", "ADDRMATCH", "AIACTIONNUMBER", "AIAGIATA", "AIAIRNAME",
	"AIAIRTAX", "AICHDET", "AICONJTI", "AIDEPTCODE", "AIEYCD", "AIGLNUM", "AIINVOICE", "AIIRST",
	"AIPASNAME", "AIPROJNUM", "AITIDATE", "AITINUM", "AITYPCH", "AIVATAMNT", "AIVATAPPL", "ALIAS",
	"ALIASOPERATION", "ALIASPERSISTEDAFTERUSE", "ALIASUSAGE", "ALLOWCORRECTION", "AMOUNT",
	"AMOUNTHTVA", "AMOUNTTVA", "ARP_TRN", "BACKURL", "BATCHID", "BGCOLOR", "BLVERNUM", "BIC", "BIN",
	"BRAND", "BRANDVISUAL", "BROWSERACCEPTHEADER", "BROWSERCOLORDEPTH", "BROWSERJAVAENABLED",
	"BROWSERJAVASCRIPTENABLED", "BROWSERLANGUAGE", "BROWSERSCREENHEIGHT", "BROWSERSCREENWIDTH",
	"BROWSERTIMEZONE", "BROWSERUSERAGENT", "BUTTONBGCOLOR", "BUTTONTXTCOLOR", "CANCELURL", "CARDNO",
	"CATALOGURL", "CAVV_3D", "CAVVALGORITHM_3D", "CERTID", "CHECK_AAV", "CIVILITY", "CN",
	"COF_INITIATOR", "COF_RECURRING_EXPIRY", "COF_RECURRING_FREQUENCY", "COF_SCHEDULE",
	"COF_TRANSACTION", "COM", "COMPLUS", "CONVCCY", "COSTCENTER", "COSTCODE", "CREDITCODE",
	"CREDITDEBIT", "CUID", "CURRENCY", "CVC", "CVCFLAG", "DATA", "DATATYPE", "DATEIN", "DATEOUT",
	"DBXML", "DCC_COMMPERC", "DCC_CONVAMOUNT", "DCC_CONVCCY", "DCC_EXCHRATE", "DCC_EXCHRATETS",
	"DCC_INDICATOR", "DCC_MARGINPERC", "DCC_REF", "DCC_SOURCE", "DCC_VALID", "DECLINEURL",
	"DELIVERYDATE", "DEVICE", "DISCOUNTRATE", "DISPLAYMODE", "ECI", "ECI_3D", "ECOM_BILLTO_COMPANY",
	"ECOM_BILLTO_POSTAL_CITY", "ECOM_BILLTO_POSTAL_COUNTRYCODE", "ECOM_BILLTO_POSTAL_COUNTY",
	"ECOM_BILLTO_POSTAL_NAME_FIRST", "ECOM_BILLTO_POSTAL_NAME_LAST", "ECOM_BILLTO_POSTAL_NAME_PREFIX",
	"ECOM_BILLTO_POSTAL_POSTALCODE", "ECOM_BILLTO_POSTAL_STREET_LINE1",
	"ECOM_BILLTO_POSTAL_STREET_LINE2", "ECOM_BILLTO_POSTAL_STREET_LINE3",
	"ECOM_BILLTO_POSTAL_STREET_NUMBER", "ECOM_BILLTO_TELECOM_MOBILE_NUMBER",
	"ECOM_BILLTO_TELECOM_PHONE_NUMBER", "ECOM_CONSUMERID", "ECOM_CONSUMER_GENDER",
	"ECOM_CONSUMEROGID", "ECOM_CONSUMERORDERID", "ECOM_CONSUMERUSERALIAS", "ECOM_CONSUMERUSERPWD",
	"ECOM_CONSUMERUSERID", "ECOM_ESTIMATEDDELIVERYDATE", "ECOM_ESTIMATEDELIVERYDATE",
	"ECOM_PAYMENT_CARD_EXPDATE_MONTH", "ECOM_PAYMENT_CARD_EXPDATE_YEAR", "ECOM_PAYMENT_CARD_NAME",
	"ECOM_PAYMENT_CARD_VERIFICATION", "ECOM_SHIPMETHOD", "ECOM_SHIPMETHODDETAILS",
	"ECOM_SHIPMETHODSPEED", "ECOM_SHIPMETHODTYPE", "ECOM_SHIPTO_COMPANY", "ECOM_SHIPTO_DOB",
	"ECOM_SHIPTO_ONLINE_EMAIL", "ECOM_SHIPTO_POSTAL_CITY", "ECOM_SHIPTO_POSTAL_COUNTRYCODE",
	"ECOM_SHIPTO_POSTAL_COUNTY", "ECOM_SHIPTO_POSTAL_NAME_FIRST", "ECOM_SHIPTO_POSTAL_NAME_LAST",
	"ECOM_SHIPTO_POSTAL_NAME_PREFIX", "ECOM_SHIPTO_POSTAL_POSTALCODE", "ECOM_SHIPTO_POSTAL_STATE",
	"ECOM_SHIPTO_POSTAL_STREET_LINE1", "ECOM_SHIPTO_POSTAL_STREET_LINE2",
	"ECOM_SHIPTO_POSTAL_STREET_NUMBER", "ECOM_SHIPTO_TELECOM_FAX_NUMBER",
	"ECOM_SHIPTO_TELECOM_MOBILE_NUMBER", "ECOM_SHIPTO_TELECOM_PHONE_NUMBER", "ECOM_SHIPTO_TVA", "ED",
	"EMAIL", "EXCEPTIONURL", "EXCLPMLIST", "FIRSTCALL", "FLAG3D", "FONTTYPE", "FORCECODE1",
	"FORCECODE2", "FORCECODEHASH", "FORCEPROCESS", "FORCETP", "FP_ACTIV", "GENERIC_BL",
	"GIROPAY_ACCOUNT_NUMBER", "GIROPAY_BLZ", "GIROPAY_OWNER_NAME", "GLOBORDERID", "GUID",
	"HDFONTTYPE", "HDTBLBGCOLOR", "HDTBLTXTCOLOR", "HEIGHTFRAME", "HOMEURL", "HTTP_ACCEPT",
	"HTTP_USER_AGENT", "INCLUDE_BIN", "INCLUDE_COUNTRIES", "INITIAL_REC_TRN", "INVDATE",
	"INVDISCOUNT", "INVLEVEL", "INVORDERID", "ISSUERID", "IST_MOBILE", "ITEM_COUNT", "LANGUAGE",
	"LEVEL1AUTHCPC", "LIMITCLIENTSCRIPTUSAGE", "LINE_REF", "LINE_REF1", "LINE_REF2", "LINE_REF3",
	"LINE_REF4", "LINE_REF5", "LINE_REF6", "LIST_BIN", "LIST_COUNTRIES", "LOGO", "MANDATEID",
	"MERCHANTID", "MODE", "MPI.CARDHOLDERACCOUNTAGEINDICATOR", "MPI.CARDHOLDERACCOUNTCHANGE",
	"MPI.CARDHOLDERACCOUNTCHANGEINDICATOR", "MPI.CARDHOLDERACCOUNTDATE",
	"MPI.CARDHOLDERACCOUNTPASSWORDCHANGE", "MPI.CARDHOLDERACCOUNTPASSWORDCHANGEINDICATOR",
	"MPI.CHALLENGEWINDOWSIZE", "MPI.DELIVERYEMAILADDRESS", "MPI.DELIVERYTIMEFRAME",
	"MPI.GIFTCARDAMOUNT", "MPI.GIFTCARDCOUNT", "MPI.GIFTCARDCURRENCY", "MPI.HOMEPHONE.COUNTRYCODE",
	"MPI.HOMEPHONE.SUBSCRIBER", "MPI.MOBILEPHONE.COUNTRYCODE", "MPI.MOBILEPHONE.SUBSCRIBER",
	"MPI.MERCHANTFRAUDRATE", "MPI.NUMBEROFPURCHASEWITHACCOUNTINTHELASTSIXMONTHS",
	"MPI.PAYMENTACCOUNTAGE", "MPI.PAYMENTACCOUNTAGEINDICATOR", "MPI.PREORDERDATE",
	"MPI.PREORDERPURCHASEINDICATOR", "MPI.PROVISIONATTEMPTSINTHELAST24HOURS",
	"MPI.REORDERITEMSINDICATOR", "MPI.SECURECORPORATEPAYMENT", "MPI.SHIPPINGADDRESSUSAGE",
	"MPI.SHIPPINGADDRESSWASFIRSTUSED", "MPI.SHIPPINGINDICATOR",
	"MPI.SHIPPINGNAMEANDCARDHOLDERNAMEAREIDENTICAL", "MPI.SUSPICIOUSACCOUNTACTIVITYDETECTED",
	"MPI.THREEDSREQUESTORAUTHENTICATIONDATA", "MPI.THREEDSREQUESTORAUTHENTICATIONMETHOD",
	"MPI.THREEDSREQUESTORAUTHENTICATIONTIMESTAMP", "MPI.THREEDSREQUESTORCHALLENGEINDICATOR",
	"MPI.THREEDSREQUESTORPRIORAUTHENTICATIONDATA", "MPI.THREEDSREQUESTORPRIORAUTHENTICATIONMETHOD",
	"MPI.THREEDSREQUESTORPRIORAUTHENTICATIONTIMESTAMP", "MPI.THREEDSREQUESTORPRIORREFERENCE",
	"MPI.TRANSACTIONACTIVITYINTHELAST24HOURS", "MPI.TRANSACTIONACTIVITYLASTYEAR",
	"MPI.TRANSACTIONTYPE", "MPI.WORKPHONE.COUNTRYCODE", "MPI.WORKPHONE.SUBSCRIBER", "MTIME", "MVER",
	"NETAMOUNT", "OPERATION", "ORDERID", "ORDERSHIPCOST", "ORDERSHIPMETH", "ORDERSHIPTAX",
	"ORDERSHIPTAXCODE", "ORIG", "OR_INVORDERID", "OR_ORDERID", "OWNERADDRESS", "OWNERCTY",
	"OWNERTELNO", "OWNERTOWN", "OWNERZIP", "PAIDAMOUNT", "PARAMPLUS", "PARAMVAR", "PAYID",
	"PAYMETHOD", "PM", "PMLIST", "PMLISTPMLISTTYPE", "PMLISTTYPE", "PMLISTTYPEPMLIST", "PMTYPE",
	"POPUP", "POST", "PSPID", "PSWD", "RECIPIENTACCOUNTNUMBER", "RECIPIENTDOB", "RECIPIENTLASTNAME",
	"RECIPIENTZIP", "REF", "REFER", "REFID", "REFKIND", "REF_CUSTOMERID", "REF_CUSTOMERREF",
	"REGISTRED", "REMOTE_ADDR", "REQGENFIELDS", "REQUESTCOMPLETIONID", "RNPOFFERT", "RTIMEOUT",
	"RTIMEOUTREQUESTEDTIMEOUT", "SCORINGCLIENT", "SEQUENCETYPE", "SETT_BATCH", "SID", "SIGNDATE",
	"STATUS_3D", "SUBSCRIPTION_ID", "SUB_AM", "SUB_AMOUNT", "SUB_COM", "SUB_COMMENT", "SUB_CUR",
	"SUB_ENDDATE", "SUB_ORDERID", "SUB_PERIOD_MOMENT", "SUB_PERIOD_MOMENT_M", "SUB_PERIOD_MOMENT_WW",
	"SUB_PERIOD_NUMBER", "SUB_PERIOD_NUMBER_D", "SUB_PERIOD_NUMBER_M", "SUB_PERIOD_NUMBER_WW",
	"SUB_PERIOD_UNIT", "SUB_STARTDATE", "SUB_STATUS", "TAAL", "TBLBGCOLOR", "TBLTXTCOLOR", "TID",
	"TITLE", "TOTALAMOUNT", "TP", "TRACK2", "TXTBADDR2", "TXTCOLOR", "TXTOKEN",
	"TXTOKENTXTOKENPAYPAL", "TXSHIPPING", "TXSHIPPINGLOCATIONPROFILE", "TXURL", "TXVERIFIER",
	"TYPE_COUNTRY", "UCAF_AUTHENTICATION_DATA", "UCAF_PAYMENT_CARD_CVC2",
	"UCAF_PAYMENT_CARD_EXPDATE_MONTH", "UCAF_PAYMENT_CARD_EXPDATE_YEAR", "UCAF_PAYMENT_CARD_NUMBER",
	"USERID", "USERTYPE", "VERSION", "WBTU_MSISDN", "WBTU_ORDERID", "WEIGHTUNIT", "WIN3DS",
	"WITHROOT", "XDL",
}

// shaInNumbered are the list's numbered names ("ITEMID*XX*"): the prefix
// followed by a number (ITEMID1, ITEMID12).
var shaInNumbered = []string{
	"AIBOOKIND", "AICARRIER", "AICLASS", "AIDESTCITY", "AIDESTCITYL", "AIEXTRAPASNAME", "AIFLDATE",
	"AIFLNUM", "AIORCITY", "AIORCITYL", "AISTOPOV", "AITINUML", "AMOUNT", "EXECUTIONDATE", "FACEXCL",
	"FACTOTAL", "ITEMATTRIBUTES", "ITEMCATEGORY", "ITEMCOMMENTS", "ITEMDESC", "ITEMDISCOUNT",
	"ITEMFDMPRODUCTCATEG", "ITEMID", "ITEMNAME", "ITEMPRICE", "ITEMQUANT", "ITEMQUANTORIG",
	"ITEMUNITOFMEASURE", "ITEMVAT", "ITEMVATCODE", "ITEMWEIGHT", "LIDEXCL", "MAXITEMQUANT",
	"TAXINCLUDED",
}

var shaInSet = toSet(SHAInFields)

// SHAInKeep reports whether an (uppercase) name is on Ingenico's SHA-IN
// list, numbered names included.
func SHAInKeep(name string) bool {
	if shaInSet[name] {
		return true
	}
	for _, p := range shaInNumbered {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return false
}
