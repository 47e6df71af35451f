// Package hosted serves the buyer-facing card pages: the hosted payment page
// (/pay/{formToken}), the iframe document of the embedded form
// (/embedded/{formToken}), the simulated 3-D Secure challenge page of TEST
// mode, and the JavaScript client a merchant page loads
// (/static/js/krypton-client/V4.0/stable/kr-payment-form.min.js), which
// exposes the same global KR object as Lyra's client so that a merchant page
// written for Lyra works unchanged.
//
// Card data never touches the merchant's page: the card fields live in a
// document served from OpenPSP's origin. The only thing that crosses to the
// merchant page is the signed result (kr-answer, kr-hash …), by postMessage
// to the merchant page's origin.
//
// The package is stateless: whatever must survive a round trip through the
// buyer's browser (the card during a 3-D Secure challenge) travels sealed
// (AES-GCM) in the page, so any copy of openpsp can take the next request.
package hosted

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
)

// Form is what the pages need to know about the payment a formToken was
// issued for.
type Form struct {
	FormToken string
	ShopID    string
	ShopName  string
	// LogoURL is an absolute https URL or a path on OpenPSP ("" for none).
	LogoURL string
	// Mode is "TEST" or "PRODUCTION". The simulated 3-D Secure challenge
	// page is only ever shown in TEST.
	Mode string
	// Language is the buyer's language given by the merchant
	// (customer.billingDetails.language), "" if none.
	Language string
	// Amount in minor units of Currency (ISO 4217 alphabetic).
	Amount   int64
	Currency string
	OrderID  string
	// AttemptsLeft is how many more card payments may be tried.
	AttemptsLeft int
	// Expired: the formToken is past its validity.
	Expired bool
	// Completed: the payment is over (paid, or the last attempt failed).
	Completed bool
	// InProgress: an attempt is waiting for the acquirer's answer (its
	// call timed out; recovery asks the acquirer later). No other attempt
	// may start meanwhile, and the card may yet be charged.
	InProgress bool
	// FormAction is CreatePayment's formAction (PAYMENT when ""):
	// ASK_REGISTER_PAY and CUSTOMER_WALLET show a "save my card" box,
	// REGISTER shows a "register" button instead of "pay".
	FormAction string
	// PrimaryColor is the shop's colour, "#RRGGBB" ("" for the default).
	PrimaryColor string
	// OneClick: CreatePayment gave a paymentMethodToken (Lyra's one-click
	// payment): the form offers that saved card (Wallets.Wallet returns
	// it), confirmed with its security code, or a new card.
	OneClick bool
	// StrongAuthentication is CreatePayment's strongAuthentication: ""/AUTO
	// (3-D Secure, the issuer decides), CHALLENGE_REQUESTED or
	// CHALLENGE_MANDATE (ask for a challenge), DISABLED (no 3-D Secure).
	StrongAuthentication string
	// ReturnOrigins are the origins (scheme://host[:port]) the shop allows
	// its return addresses (kr-post-url-success … kr-get-url-refused) on.
	// Empty: any http(s) address, as PayZen; otherwise a page whose return
	// address has another origin is refused as an invalid return address,
	// and only pages of these origins may frame the embedded form.
	ReturnOrigins []string
	// TimeZone is the shop's time zone (shop.Settings.TimeZone, "" for
	// UTC): the final page writes the debit day of a deferred payment
	// there, as the buyer's email does.
	TimeZone string
}

// CardInput is a card typed by the buyer, validated, ready to be paid with.
type CardInput struct {
	PAN    card.PAN
	Expiry card.Expiry
	CVV    card.SecurityCode
	Holder string
	// Save: the buyer asked to save the card (or the formAction registers it).
	Save bool
	// Saved is the id of the saved card (SavedCard.ID) the buyer chose on
	// a CUSTOMER_WALLET or one-click form; PAN and Expiry are then that
	// card's, for 3-D Secure, CVV is the code the buyer typed to confirm it
	// on a one-click form (empty on a wallet's), and the attempt goes to
	// Wallets.PaySaved.
	Saved string
	// ThreeDS is the outcome of 3-D Secure, nil when it did not run
	// (no Authenticator, or strongAuthentication DISABLED).
	//
	// PayCard must not send an authorization when ThreeDS.Status is N
	// (failed) or R (rejected): it records a refused attempt with reason
	// ReasonThreeDSFailed and answers accordingly. Status U (authentication
	// unavailable) is authorized without liability shift, as Lyra does; Y
	// and A carry the cryptogram and the liability shift.
	ThreeDS *acquirer.ThreeDSResult
	// BuyerIP is the address the buyer's browser pays from (clientip.Of),
	// recorded as the customer's ipAddress when the merchant sent none.
	BuyerIP string
	// Language is the language of the page the buyer pays on, recorded as
	// the customer's language when the merchant sent none.
	Language string
}

// Outcome is what a payment attempt ended with.
type Outcome struct {
	// Accepted: the payment (or registration) succeeded.
	Accepted bool
	// Final: the form is over: accepted, or refused with no attempts left.
	Final bool
	// KRAnswer is the V4/Payment JSON (compact), exactly what the browser
	// return carries and what is signed. May be empty for a non-final
	// refusal.
	KRAnswer []byte
	// Message is the buyer-facing reason of a refusal: one of the Reason*
	// values ("" when accepted).
	Message string
	// AttemptsLeft after this attempt.
	AttemptsLeft int
	// Pending: the acquirer's answer is not known yet (the call timed
	// out): the attempt is neither accepted nor refused, recovery settles
	// it and the IPN tells the merchant. The buyer must not pay again.
	Pending bool
	// DebitOn, for an accepted deferred payment whose card was only
	// checked (WAITING_AUTHORISATION), is the day its amount is to be
	// debited (its expected capture date): the final page says nothing has
	// been debited yet and when it will be, as the buyer's email does.
	DebitOn time.Time
	// CardMasked and CardExpiry are the card of the attempt (card.PAN's
	// Masked form): a card form posted again once the form is over learns
	// the outcome only when it posts this same card.
	CardMasked string
	CardExpiry card.Expiry
	// SavedCard, set by Payments.Outcome when the form's last attempt paid
	// with a saved card, is that card's id as the form names it
	// (SavedCard.ID, never the token): a saved card posted again once the
	// form is over learns the outcome only when it names this card.
	SavedCard string
}

// Buyer-facing refusal reasons (Outcome.Message). Each has a message in
// every language of the pages; an unknown reason reads as ReasonRefused.
const (
	ReasonRefused           = "refused"
	ReasonInsufficientFunds = "insufficient_funds"
	ReasonExpiredCard       = "expired_card"
	ReasonThreeDSFailed     = "threeds_failed"
	ReasonTechnical         = "technical_error"
	ReasonCardNotSupported  = "card_not_supported"
	// ReasonFormInvalid: the form can no longer do what it was made for
	// (a Token/Update form whose token the merchant cancelled): "this
	// payment link is not valid", with no word about attempts.
	ReasonFormInvalid = "form_not_found"
)

// ReasonForCode maps an acquirer response code (acquirer.Code*) to the
// reason shown to the buyer. Lost, stolen and fraud codes read as a plain
// refusal on purpose: the buyer is not told why the issuer distrusts the card.
func ReasonForCode(code string) string {
	switch code {
	case acquirer.CodeInsufficientFunds, acquirer.CodeExceedsLimit:
		return ReasonInsufficientFunds
	case acquirer.CodeExpiredCard:
		return ReasonExpiredCard
	case acquirer.CodeSystemMalfunction, acquirer.CodeIssuerUnavailable:
		return ReasonTechnical
	}
	return ReasonRefused
}

// ErrFormNotFound is what Payments.Form returns (wrapped or not) for a
// formToken it does not know. Any other error is a technical error.
var ErrFormNotFound = errors.New("hosted: unknown formToken")

// ErrUnavailable is what Payments.Form returns (wrapped or not) when the
// service cannot read the form for a moment (its database is unavailable):
// the buyer reads that the service is temporarily unavailable
// (Handler.Unavailable), not that a technical error occurred.
var ErrUnavailable = errors.New("hosted: the payment service is temporarily unavailable")

// ErrInProgress is what Payments.PayCard and Wallets.PaySaved return
// (wrapped or not) when the attempt cannot start because another attempt of
// the form, or a payment of the same order, is under way or done: the form
// submitted twice (a double click without the script, a second tab). The
// buyer is told so, not that a technical error left the card uncharged.
var ErrInProgress = errors.New("hosted: a payment of this order is in progress or done")

// ErrUnconfirmed is what Payments.PayCard and Wallets.PaySaved return
// (wrapped or not) when the attempt failed after the acquirer was asked:
// its outcome could not be recorded, the card may have been charged, and
// recovery settles the attempt later (the shop learns the outcome then).
// The buyer is told that the payment could not be confirmed yet and not
// to pay again, never that the card was not charged. Any other error of
// an attempt came before the acquirer was asked: nothing was charged.
var ErrUnconfirmed = errors.New("hosted: the payment was sent to the acquirer, its outcome is not confirmed")

// ErrNoOutcome is what Payments.Outcome returns (wrapped or not) for a form
// that is not over, or whose last attempt was neither paid nor refused
// (paid, then cancelled by the merchant, for instance).
var ErrNoOutcome = errors.New("hosted: the form has no outcome to show")

// Payments is the payment service as the pages use it.
type Payments interface {
	// Form returns the payment a formToken was issued for.
	Form(ctx context.Context, formToken string) (Form, error)
	// PayCard makes one payment attempt with a card. A refusal is an
	// Outcome, not an error; an error means a technical failure after which
	// the attempt does not count, and nothing was charged unless it wraps
	// ErrUnconfirmed.
	PayCard(ctx context.Context, formToken string, in CardInput) (Outcome, error)
	// Outcome reads, without writing anything, the outcome of a form
	// that is over (Form.Completed): its last attempt, paid or finally
	// refused, as PayCard or Wallets.PaySaved returned it then, with
	// Outcome.SavedCard when it paid with a saved card; else ErrNoOutcome.
	Outcome(ctx context.Context, formToken string) (Outcome, error)
}

// Keys gives the shop keys the pages need.
type Keys interface {
	// HMACKey returns the HMAC-SHA-256 key of a shop's key set (mode "TEST"
	// or "PRODUCTION"); kr-hash is computed with its bytes as they are.
	HMACKey(ctx context.Context, shopID, mode string) (string, error)
	// PublicKeyShop returns the shop and mode of a public key
	// ("69876357:testpublickey_…"), an error if it is unknown.
	PublicKeyShop(ctx context.Context, publicKey string) (shopID, mode string, err error)
}

// Options configure a Handler.
type Options struct {
	Payments Payments
	Keys     Keys
	// Authenticator runs 3-D Secure; nil disables it (cards are paid
	// without authentication).
	Authenticator acquirer.Authenticator
	// SealKey (16, 24 or 32 bytes) encrypts the card while the buyer takes
	// a 3-D Secure challenge. Every copy of openpsp serving the same buyers
	// must have the same key.
	SealKey []byte
	// Clock gives the time (card expiry, seal lifetime); nil is the wall clock.
	Clock clock.Clock
	// Log receives technical errors; nil discards them.
	Log *slog.Logger
	// Wallet serves buyer wallets on CUSTOMER_WALLET forms (saved cards,
	// paying with one, deleting one) and the saved card of one-click
	// forms; nil shows those forms without saved cards.
	Wallet Wallets
}

// Handler serves the pages. Build it with New.
type Handler struct {
	pay    Payments
	wallet Wallets
	keys   Keys
	auth   acquirer.Authenticator
	seal   *sealer
	clock  clock.Clock
	log    *slog.Logger
	tmpl   *template.Template
	cop    *http.CrossOriginProtection
}

// New returns a Handler. It panics when Payments, Keys or SealKey is missing
// or SealKey has a wrong length: that is a wiring mistake, not a runtime
// condition.
func New(opts Options) *Handler {
	if opts.Payments == nil || opts.Keys == nil {
		panic("hosted: Options.Payments and Options.Keys are required")
	}
	block, err := aes.NewCipher(opts.SealKey)
	if err != nil {
		panic(fmt.Sprintf("hosted: Options.SealKey: %v", err))
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("hosted: Options.SealKey: %v", err))
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		pay:    opts.Payments,
		wallet: opts.Wallet,
		keys:   opts.Keys,
		auth:   opts.Authenticator,
		seal:   &sealer{aead: aead, clock: clk},
		clock:  clk,
		log:    log,
		tmpl:   parseTemplates(),
		cop:    http.NewCrossOriginProtection(),
	}
}

// Register adds the routes of the pages, the JS client and the static files.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, m := range []struct {
		prefix   string
		embedded bool
	}{{"/pay", false}, {"/embedded", true}} {
		e := m.embedded
		mux.HandleFunc("GET "+m.prefix+"/{formToken}", func(w http.ResponseWriter, r *http.Request) { h.serveForm(w, r, e) })
		mux.HandleFunc("POST "+m.prefix+"/{formToken}", h.sameSite(e, h.submit))
		mux.HandleFunc("POST "+m.prefix+"/{formToken}/3ds", h.sameSite(e, h.challenge))
		mux.HandleFunc("POST "+m.prefix+"/{formToken}/3ds/complete", h.sameSite(e, h.complete))
		mux.HandleFunc("POST "+m.prefix+"/{formToken}/wallet/delete", h.sameSite(e, h.deleteCard))
		mux.HandleFunc("POST "+m.prefix+"/{formToken}"+walletDeletePagePath, h.sameSite(e, h.deleteCardPage))
	}
	mux.HandleFunc("GET "+ClientPath, serveClient)
	mux.HandleFunc("GET /static/js/krypton-client/V4.0/stable/kr-payment-form.js", serveClient)
	mux.HandleFunc("GET /static/js/krypton-client/V4.0/ext/{file}", serveThemeStub)
	mux.HandleFunc("GET /static/hosted/{file}", serveAsset)
}

// sameSite refuses form submissions from other sites (Sec-Fetch-Site /
// Origin), as CrossOriginProtection.Handler does, with the status 403 and,
// as for a post that does not parse, the message page in the buyer's
// language (the query's kr-language or the browser's), or the form
// script's JSON error. The body is not read.
func (h *Handler) sameSite(embedded bool, next func(http.ResponseWriter, *http.Request, bool)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.cop.Check(r); err != nil {
			h.fail(w, unreadablePage(r, embedded), wantsJSON(r), http.StatusForbidden, "cross_site", "CLIENT_300", "")
			return
		}
		next(w, r, embedded)
	}
}

// ClientPath is where the JS client is served, the path Lyra's client has.
const ClientPath = "/static/js/krypton-client/V4.0/stable/kr-payment-form.min.js"
