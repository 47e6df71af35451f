// Package shop is the merchant account: identity, settings and the key sets
// that authenticate its API calls and sign what OpenPSP sends it.
package shop

import (
	"errors"
	"regexp"
)

// Modes of a key set. The key set a request authenticates with decides the
// mode of everything it creates.
const (
	ModeTest       = "TEST"
	ModeProduction = "PRODUCTION"
)

// Token deletion modes (wallet document: "logical deletion of the token
// authorised by the buyer").
const (
	DeletionAutomatic = "AUTOMATIC"
	DeletionManual    = "MANUAL"
)

// ErrNotFound is returned for an unknown shop, PSPID or key.
var ErrNotFound = errors.New("shop: not found")

// Shop is a merchant.
type Shop struct {
	ID              string // 8 digits
	Name            string
	Currency        string // default ISO 4217 code
	Language        string // default language: en, fr, es, it, de
	PrimaryEmail    string
	PrimaryPhone    string // E.164
	NotificationURL string // IPN target when a payment names none
	LogoURL         string
	Settings        Settings
}

// Settings are the shop's options. Stored as JSON so later capabilities add
// fields without a migration; zero values must mean the documented default.
type Settings struct {
	// PaymentByToken is the offer option "payment by token" (wallets, SILENT).
	PaymentByToken bool `json:"paymentByToken"`
	// TokenDeletion is AUTOMATIC (the buyer may delete a saved card) or MANUAL.
	TokenDeletion string `json:"tokenDeletion,omitempty"`
	// OrderConfirmationEmails sends the buyer a confirmation after a payment.
	OrderConfirmationEmails bool `json:"orderConfirmationEmails"`
	// AllowDuplicatePaidOrder lets a second payment succeed for an orderId
	// that is already PAID (refused by default: a retried checkout must not
	// charge twice).
	AllowDuplicatePaidOrder bool `json:"allowDuplicatePaidOrder,omitempty"`
	// IPNOnBatchChange sends the IPN when the capture job captures a
	// payment, as Lyra's "Instant Payment Notification URL on batch change"
	// rule does; like that rule it is off by default: the IPN at the end of
	// the payment already told the merchant it was accepted. A capture
	// asked with Transaction/Capture, and one settled by recovery, keep
	// their IPN.
	IPNOnBatchChange bool `json:"ipnOnBatchChange,omitempty"`
	// IPNOnBatchAuthorization sends the IPN when the authorization job
	// authorizes (or sees refused) a deferred payment the day before its
	// capture date (WAITING_AUTHORISATION), as Lyra's "Instant Payment
	// Notification URL on batch authorization" rule does; off by default
	// like that rule. A refusal is told to the merchant by email either way
	// when the shop has MerchantPaymentNotice.
	IPNOnBatchAuthorization bool `json:"ipnOnBatchAuthorization,omitempty"`
	// MaxAttempts is how many card attempts one form allows (default 3).
	MaxAttempts int `json:"maxAttempts,omitempty"`
	// AuthorizationValidityDays is how long an authorization waiting for
	// manual validation lives before it expires (default 7).
	AuthorizationValidityDays int `json:"authorizationValidityDays,omitempty"`
	// Notifications are per-channel switches and recipients (see the notify
	// package for the events).
	Notifications NotificationSettings `json:"notifications"`
	// Branding for hosted pages and emails.
	PrimaryColor string `json:"primaryColor,omitempty"`
	// ReturnOrigins, when not empty, are the only origins
	// (https://shop.example, scheme://host[:port]) the hosted payment page
	// returns the buyer and the signed kr-answer to: a page whose
	// kr-post-url-* or kr-get-url-* has another origin is refused; they
	// are also the only origins whose pages may frame the shop's embedded
	// form. Empty: any address the page's query gives, and any framing
	// page, as PayZen.
	ReturnOrigins []string `json:"returnOrigins,omitempty"`
	// TimeZone is the IANA name of the time zone (Europe/Paris) in which
	// the emails and pages a buyer or merchant reads write times and
	// days; "" is UTC, the default, as before shops had one. Machine
	// outputs (V4 JSON, webhooks, Ogone fields) keep UTC whatever it says.
	TimeZone string `json:"timeZone,omitempty"`
}

// NotificationSettings switch each notification channel of the wallet
// document and the order confirmations.
type NotificationSettings struct {
	MerchantPaymentNotice bool   `json:"merchantPaymentNotice,omitempty"`
	TokenURL              bool   `json:"tokenUrl"`
	TokenEmailBuyer       bool   `json:"tokenEmailBuyer"`
	TokenEmailMerchant    bool   `json:"tokenEmailMerchant"`
	TokenSMSMerchant      bool   `json:"tokenSmsMerchant"`
	TokenSMSBuyer         bool   `json:"tokenSmsBuyer"`
	MerchantEmail         string `json:"merchantEmail,omitempty"` // defaults to PrimaryEmail
	MerchantPhone         string `json:"merchantPhone,omitempty"` // defaults to PrimaryPhone
}

// Effective returns the settings with defaults applied.
func (s Settings) Effective() Settings {
	if s.TokenDeletion == "" {
		s.TokenDeletion = DeletionAutomatic
	}
	if s.MaxAttempts <= 0 {
		s.MaxAttempts = 3
	}
	if s.AuthorizationValidityDays <= 0 {
		s.AuthorizationValidityDays = 7
	}
	return s
}

// Credentials are one mode's REST API key set, with secrets in clear: they
// live in memory only for the request that needs them.
type Credentials struct {
	ShopID    string
	Mode      string
	Password  string // testpassword_… / prodpassword_…: API calls and IPN signatures
	PublicKey string // shopId:testpublickey_…: the browser JS client
	HMACKey   string // browser-return (kr-hash) signatures
}

// Ogone is the shop's Ogone-style account (FlexCheckout, DirectLink).
type Ogone struct {
	ShopID       string
	PSPID        string
	SHAAlgorithm string // SHA-1, SHA-256, SHA-512
	SHAIn        string
	SHAOut       string
	APIUser      string
	Settings     OgoneSettings
}

// OgoneSettings are the PSPID's technical settings.
type OgoneSettings struct {
	// FrameAncestors are the origins allowed to show FlexCheckout in an iframe.
	FrameAncestors []string `json:"frameAncestors,omitempty"`
	// AliasOptIn shows the buyer a save/don't-save box (Alias Manager opt-in),
	// overriding ALIAS.STOREPERMANENTLY.
	AliasOptIn bool `json:"aliasOptIn,omitempty"`
	// ReturnFields lists the output fields sent back (empty: all).
	ReturnFields []string `json:"returnFields,omitempty"`
	// Mode is the environment of the PSPID's aliases and DirectLink orders:
	// TEST (the default for "") or PRODUCTION. Like Ogone's separate test
	// and production platforms, /ncol/test/ serves TEST PSPIDs only and
	// /ncol/prod/ PRODUCTION ones.
	Mode string `json:"mode,omitempty"`
	// DefaultECI is the ECI DirectLink applies to an order that sends none
	// (Ingenico's "Default ECI value" of the PSPID): 1, 2, 3, 4, 7 or 9;
	// "" is 7, e-commerce.
	DefaultECI string `json:"defaultEci,omitempty"`
	// DefaultOperation is the OPERATION of a DirectLink order that sends
	// none (Ingenico's default operation code of the PSPID): RES
	// (authorisation, the default for "") or SAL (sale).
	DefaultOperation string `json:"defaultOperation,omitempty"`
	// Charset is the character encoding DirectLink reads and answers on
	// its pages without _utf8 (Ingenico's "Global security parameters >
	// Character encoding" of the account): "" or ISO-8859-1, or UTF-8.
	// The _utf8 pages and FlexCheckout are UTF-8 whatever it says.
	Charset string `json:"charset,omitempty"`
	// PostSaleURL is where Ingenico's "HTTP request for status changes"
	// (the post-sale request) goes: the SHA-OUT-signed parameters of a
	// DirectLink order whose status changed after its answer ("": none is
	// sent). PostSaleMethod is POST ("", the default) or GET.
	PostSaleURL    string `json:"postSaleUrl,omitempty"`
	PostSaleMethod string `json:"postSaleMethod,omitempty"`
}

var shopIDPattern = regexp.MustCompile(`^[0-9]{8}$`)

// ValidID reports whether id is an 8-digit shop id.
func ValidID(id string) bool { return shopIDPattern.MatchString(id) }
