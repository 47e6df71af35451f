package ogone

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/vault"
)

// FlexCheckout input field names (document 004 §3.1), uppercase.
const (
	fAccountPSPID       = "ACCOUNT.PSPID"
	fAliasID            = "ALIAS.ALIASID"
	fAliasOrderID       = "ALIAS.ORDERID"
	fAliasStorePerm     = "ALIAS.STOREPERMANENTLY"
	fCardBIC            = "CARD.BIC"
	fCardBIN            = "CARD.BIN"
	fCardBrand          = "CARD.BRAND"
	fCardPaymentMethod  = "CARD.PAYMENTMETHOD"
	fLayoutLanguage     = "LAYOUT.LANGUAGE"
	fLayoutTemplateName = "LAYOUT.TEMPLATENAME"
	fAcceptURL          = "PARAMETERS.ACCEPTURL"
	fExceptionURL       = "PARAMETERS.EXCEPTIONURL"
	fDeclineURL         = "PARAMETERS.DECLINEURL"
	fExcluded           = "PARAMETERS.EXCLUDEDPAYMENTMETHODS"
	fParamPlus          = "PARAMETERS.PARAMPLUS"
	fParamPlusBare      = "PARAMPLUS"
	fSHASign            = "SHASIGNATURE.SHASIGN"
)

// FlexRequest is a validated FlexCheckout request.
type FlexRequest struct {
	PSPID            string   `json:"pspid"`
	AliasID          string   `json:"aliasId,omitempty"`
	OrderID          string   `json:"orderId,omitempty"`
	StorePermanently string   `json:"storePermanently,omitempty"` // "", "Y" or "N"
	BIC              string   `json:"bic,omitempty"`
	BIN              string   `json:"bin,omitempty"`
	Brand            string   `json:"brand,omitempty"`         // Ogone spelling, card brands only
	PaymentMethod    string   `json:"paymentMethod,omitempty"` // CreditCard or a direct debit method
	Locale           string   `json:"locale,omitempty"`        // LAYOUT.LANGUAGE as sent
	Language         string   `json:"language"`                // page language
	TemplateName     string   `json:"templateName,omitempty"`
	AcceptURL        string   `json:"acceptUrl"`
	ExceptionURL     string   `json:"exceptionUrl"`
	DeclineURL       string   `json:"declineUrl,omitempty"`
	Excluded         []string `json:"excluded,omitempty"` // as sent, trimmed
	ParamPlus        string   `json:"paramPlus,omitempty"`
}

// DirectDebit reports whether the request asks for a bank account.
func (f FlexRequest) DirectDebit() bool {
	_, ok := directDebit(f.PaymentMethod)
	if !ok {
		_, ok = directDebit(f.Brand)
	}
	return ok
}

// directDebitName is the method name returned in CARD.BRAND for an account.
func (f FlexRequest) directDebitName() string {
	if m, ok := directDebit(f.PaymentMethod); ok {
		return m
	}
	m, _ := directDebit(f.Brand)
	return m
}

// excluded reports whether a brand or method name is in
// EXCLUDEDPAYMENTMETHODS.
func (f FlexRequest) excluded(name string) bool {
	n := normName(name)
	for _, e := range f.Excluded {
		if normName(e) == n {
			return true
		}
		if b, _, ok := ParseBrand(e); ok && BrandName(b) != "" && normName(BrandName(b)) == n {
			return true
		}
	}
	return false
}

// brandAllowed reports whether a card brand may be used on this page: not
// excluded and, when CARD.BRAND names one, that brand.
func (f FlexRequest) brandAllowed(b card.Brand) bool {
	name := BrandName(b)
	if name == "" || f.excluded(name) {
		return false
	}
	if f.Brand != "" {
		return name == f.Brand
	}
	return true
}

// Brands lists the brand names the page offers.
func (f FlexRequest) Brands() []string {
	var out []string
	for _, e := range ogoneBrands {
		if f.brandAllowed(e.brand) {
			out = append(out, e.name)
		}
	}
	return out
}

// maxLocale bounds the LAYOUT.LANGUAGE a request keeps (FlexRequest.Locale):
// far beyond the longest locale names (de_CH_informal is 14 characters).
const maxLocale = 35

// FieldError is a FlexCheckout input field that breaks the document's rules.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "ogone: " + e.Field + ": " + e.Reason }

// ErrUnknownPaymentMethod is a CARD.BRAND or CARD.PAYMENTMETHOD OpenPSP does
// not offer.
var ErrUnknownPaymentMethod = errors.New("ogone: unknown brand or payment method")

// ParseFlexRequest checks the input fields against document 004 §3.1:
// formats and lengths (AN n counts characters), mandatory fields, and the
// rule that CARD.BRAND or CARD.PAYMENTMETHOD is given. It does not check the
// signature.
func ParseFlexRequest(ps Params) (FlexRequest, error) {
	get := func(name string, max int, mandatory bool) (string, error) {
		v := strings.TrimSpace(ps.Get(name))
		if v == "" {
			if mandatory {
				return "", &FieldError{name, "missing"}
			}
			return "", nil
		}
		if utf8.RuneCountInString(v) > max {
			return "", &FieldError{name, fmt.Sprintf("longer than %d characters", max)}
		}
		return v, nil
	}
	var f FlexRequest
	var err error
	if f.PSPID, err = get(fAccountPSPID, 30, true); err != nil {
		return f, err
	}
	if f.AliasID, err = get(fAliasID, 50, false); err != nil {
		return f, err
	}
	if f.AliasID != "" {
		if err := vault.ValidateToken(f.AliasID); err != nil {
			return f, &FieldError{fAliasID, "letters, digits, '-' and '_' only"}
		}
	}
	if f.OrderID, err = get(fAliasOrderID, 40, false); err != nil {
		return f, err
	}
	sp, err := get(fAliasStorePerm, 1, false)
	if err != nil {
		return f, err
	}
	switch strings.ToUpper(sp) {
	case "", "Y", "N":
		f.StorePermanently = strings.ToUpper(sp)
	default:
		return f, &FieldError{fAliasStorePerm, "must be Y or N"}
	}
	bic, err := get(fCardBIC, 11, false)
	if err != nil {
		return f, err
	}
	if bic != "" {
		bic = strings.ToUpper(bic)
		if !ValidBIC(bic) {
			return f, &FieldError{fCardBIC, "not a BIC"}
		}
		f.BIC = bic
	}
	if f.BIN, err = get(fCardBIN, 6, false); err != nil {
		return f, err
	}
	for i := 0; i < len(f.BIN); i++ {
		if !isDigit(f.BIN[i]) {
			return f, &FieldError{fCardBIN, "digits only"}
		}
	}
	brand, err := get(fCardBrand, 25, false)
	if err != nil {
		return f, err
	}
	pm, err := get(fCardPaymentMethod, 26, false)
	if err != nil {
		return f, err
	}
	if brand == "" && pm == "" {
		return f, &FieldError{fCardBrand, "CARD.BRAND or CARD.PAYMENTMETHOD is required"}
	}
	if pm != "" {
		if normName(pm) == normName(PMCreditCard) {
			f.PaymentMethod = PMCreditCard
		} else if m, ok := directDebit(pm); ok {
			f.PaymentMethod = m
		} else {
			return f, fmt.Errorf("%w: %s", ErrUnknownPaymentMethod, safeName(pm))
		}
	}
	if brand != "" {
		if _, name, ok := ParseBrand(brand); ok {
			if f.PaymentMethod != "" && f.PaymentMethod != PMCreditCard {
				return f, &FieldError{fCardBrand, "a card brand with a direct debit method"}
			}
			f.Brand, f.PaymentMethod = name, PMCreditCard
		} else if m, ok := directDebit(brand); ok {
			if f.PaymentMethod == PMCreditCard {
				return f, &FieldError{fCardBrand, "a direct debit brand with CreditCard"}
			}
			f.PaymentMethod = m
		} else {
			return f, fmt.Errorf("%w: %s", ErrUnknownPaymentMethod, safeName(brand))
		}
	}
	// LAYOUT.LANGUAGE is AN 5 in the guide ("en_GB"), but integrations send
	// the shop's locale as it is: the Ingenico Magento 2 module Magento's
	// (zh_Hans_CN), WordPress plugins get_locale()'s (de_DE_formal). A
	// language is no reason to refuse the buyer the page: any value picks
	// the page language by its first two letters (else English), and one
	// beyond maxLocale is not kept.
	locale := strings.TrimSpace(ps.Get(fLayoutLanguage))
	if utf8.RuneCountInString(locale) <= maxLocale {
		f.Locale = locale
	}
	f.Language = language(locale)
	if f.TemplateName, err = get(fLayoutTemplateName, 255, false); err != nil {
		return f, err
	}
	if f.TemplateName != "" && !ValidTemplateName(f.TemplateName) {
		return f, &FieldError{fLayoutTemplateName, "not a template file name"}
	}
	for _, u := range []struct {
		name      string
		dst       *string
		mandatory bool
	}{{fAcceptURL, &f.AcceptURL, true}, {fExceptionURL, &f.ExceptionURL, true}, {fDeclineURL, &f.DeclineURL, false}} {
		v, err := get(u.name, 255, u.mandatory)
		if err != nil {
			return f, err
		}
		if v != "" && !validReturnURL(v) {
			return f, &FieldError{u.name, "not an absolute http(s) URL"}
		}
		*u.dst = v
	}
	ex, err := get(fExcluded, 50, false)
	if err != nil {
		return f, err
	}
	for _, e := range strings.Split(ex, ";") {
		if e = strings.TrimSpace(e); e != "" {
			f.Excluded = append(f.Excluded, e)
		}
	}
	if f.ParamPlus, err = get(fParamPlus, 1000, false); err != nil {
		return f, err
	}
	if f.ParamPlus == "" {
		// Odoo sends it bare (odoo/odoo addons/payment_ogone,
		// ogone_form_generate_values), as the output table names it.
		if f.ParamPlus, err = get(fParamPlusBare, 1000, false); err != nil {
			return f, err
		}
	}
	if f.DirectDebit() {
		if f.excluded(f.directDebitName()) {
			return f, &FieldError{fExcluded, "the only payment method is excluded"}
		}
	} else if len(f.Brands()) == 0 {
		return f, &FieldError{fExcluded, "every card brand is excluded"}
	}
	return f, nil
}

// validReturnURL accepts absolute http and https URLs without credentials.
func validReturnURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	return u.Scheme == "https" || u.Scheme == "http"
}
