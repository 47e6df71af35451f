package ogone

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/obs"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
	"github.com/openpsp/openpsp/internal/webstatic"
)

// Accounts gives the PSPID accounts; *shop.Service implements it.
type Accounts interface {
	// OgoneAccount returns a PSPID's account with its passphrases in clear
	// (shop.ErrNotFound for an unknown PSPID).
	OgoneAccount(ctx context.Context, pspid string) (shop.Ogone, error)
	// AuthenticateDirectLink checks a DirectLink user and password in
	// constant time (shop.ErrNotFound on a mismatch).
	AuthenticateDirectLink(ctx context.Context, pspid, user, password string) (shop.Ogone, error)
	// Get returns a shop (FlexCheckout draws its buttons in the shop's
	// colour).
	Get(ctx context.Context, id string) (shop.Shop, error)
}

// Vault is the card vault as aliases use it; *vault.Vault implements it.
// Aliases are vault tokens: the same card data, retention and purge rules,
// visible through the V4 token services too.
type Vault interface {
	Tokenize(ctx context.Context, tx *sql.Tx, req vault.TokenizeRequest) (vault.Token, error)
	// SaveCard creates the card alias req.Token, or replaces the card of
	// the shop's card alias of that name and mode, inside tx (updated
	// reports which).
	SaveCard(ctx context.Context, tx *sql.Tx, req vault.TokenizeRequest) (t vault.Token, updated bool, err error)
	// The others name the alias by shop, mode (the PSPID's, accountMode)
	// and name: Ingenico's test and production aliases are separate, so
	// each mode may have an alias of the same name.
	Get(ctx context.Context, shopID, mode, token string) (vault.Token, error)
	Update(ctx context.Context, shopID, mode, token string, u vault.TokenUpdate) (vault.Token, error)
	Reactivate(ctx context.Context, shopID, mode, token string) (vault.Token, error)
	MakePermanent(ctx context.Context, shopID, mode, token string) (vault.Token, error)
	MakePermanentTx(tx *sql.Tx, shopID, mode, token string) error
	Card(ctx context.Context, shopID, mode, token string) (card.PAN, card.Expiry, vault.Token, error)
}

// AccountRequest is a bank account (SEPA direct debit) to keep as an alias.
type AccountRequest struct {
	ShopID, Mode  string
	Token         string // the alias
	IBAN          IBAN
	BIC           string
	Holder        string
	Method        string // the direct debit method, e.g. "Direct Debits DE"
	OriginOrderID string
	TTL           time.Duration // > 0: temporary (STOREPERMANENTLY=N)
}

// AccountVault keeps bank accounts as vault tokens (tokens.method SDD),
// beside the cards; VaultAccounts adapts *vault.Vault to it. Without one
// (Options.BankAccounts nil) the direct debit methods of FlexCheckout answer
// the generic error page.
type AccountVault interface {
	// SaveAccount creates the alias, or replaces the account of an
	// existing one of the shop (updated reports which); permanent reports
	// whether the alias is kept for good now (an update never makes a
	// permanent alias temporary).
	SaveAccount(ctx context.Context, tx *sql.Tx, req AccountRequest) (updated, permanent bool, err error)
}

// Options configures the Ogone handlers.
type Options struct {
	Accounts Accounts
	Vault    Vault
	// BankAccounts enables the SEPA direct debit form; nil disables it.
	BankAccounts AccountVault
	Store        Store
	// Payments runs DirectLink orders; nil makes DirectLink answer a
	// technical error.
	Payments Payments
	Clock    clock.Clock
	Log      *slog.Logger
	// SessionTTL is how long a FlexCheckout page may wait for its submit
	// (default 30 minutes).
	SessionTTL time.Duration
	// MaxAttempts is how many submits with errors a page allows before it
	// returns ALIAS.STATUS 1 (default 3).
	MaxAttempts int
	// FailedLogins logs rejected DirectLink credentials (default: one of
	// its own on Log); an app shares one between its API surfaces.
	FailedLogins *obs.FailedLogins
	// Unavailable, when set, answers a FlexCheckout request that failed on
	// err when err says the service is unavailable for a moment (its
	// database cannot be reached) and reports whether it did: the app
	// shows the payment pages' temporarily-unavailable page (503). locale
	// is the page's LAYOUT.LANGUAGE as the merchant sent it, if known.
	// Otherwise, and when nil, the buyer reads the generic error page (500).
	Unavailable func(w http.ResponseWriter, r *http.Request, locale string, err error) bool
}

// TemporaryAliasTTL is how long an alias stored with STOREPERMANENTLY=N (or
// ALIASPERSISTEDAFTERUSE=N) keeps its card data: two hours (document 004).
const TemporaryAliasTTL = 2 * time.Hour

// Handler serves FlexCheckout and DirectLink.
type Handler struct {
	opts  Options
	log   *slog.Logger
	clock clock.Clock
	tmpl  *template.Template
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns the Ogone handlers.
func New(opts Options) *Handler {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 30 * time.Minute
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if opts.FailedLogins == nil {
		opts.FailedLogins = obs.NewFailedLogins(opts.Log, opts.Clock)
	}
	t := template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))
	h := &Handler{opts: opts, log: opts.Log, clock: opts.Clock, tmpl: t}
	if opts.Payments != nil {
		// The card of a DirectLink order that names an ALIAS goes under
		// it once its payment is accepted, whoever records the acceptance.
		opts.Payments.OnKeptCardAccepted(h.keptCardAccepted)
	}
	return h
}

// Paths of the FlexCheckout page (the same path on every white label; the
// Concardis spelling has a lowercase p).
const (
	FlexCheckoutPath = "/Tokenization/HostedPage"
	staticPath       = "/Tokenization/static/"
)

// directLinkPages are the DirectLink pages Register mounts under
// /ncol/{test,prod}/.
var directLinkPages = []string{"orderdirect", "maintenancedirect", "querydirect"}

// CanonicalPath maps the address of one of Ingenico's pages as a merchant's
// code may write it to the address Register mounts, and reports whether p
// is one. IIS, which serves Ingenico's pages, ignores the case of a path: a
// PostFinance integration posts to /Ncol/Test/orderdirect.asp. node-concardis
// (lib/hosted/Url.js) opens FlexCheckout at …/Tokenization/HostedPage/?…, with
// a slash. Any other path is not one (ok false), whatever its case: an
// unknown environment or page stays unknown.
func CanonicalPath(p string) (string, bool) {
	lower := strings.ToLower(p)
	if lower == "/tokenization/hostedpage" || lower == "/tokenization/hostedpage/" {
		return FlexCheckoutPath, true
	}
	rest, ok := strings.CutPrefix(lower, "/ncol/")
	if !ok {
		return "", false
	}
	env, page, ok := strings.Cut(rest, "/")
	if !ok || (env != "test" && env != "prod") {
		return "", false
	}
	for _, d := range directLinkPages {
		if page == d+".asp" || page == d+"_utf8.asp" {
			return "/ncol/" + env + "/" + page, true
		}
	}
	return "", false
}

// IsFlexCheckout reports whether path is one of FlexCheckout's pages
// (the entry, a session's submit or cancel), which the merchant frames.
func (h *Handler) IsFlexCheckout(path string) bool {
	// Any case, as CanonicalPath reads the entry.
	p, entry := strings.ToLower(path), strings.ToLower(FlexCheckoutPath)
	return p == entry || strings.HasPrefix(p, entry+"/")
}

// Register mounts every route on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, p := range []string{FlexCheckoutPath, "/Tokenization/Hostedpage"} {
		mux.HandleFunc("GET "+p, h.flexEntry)
		mux.HandleFunc("POST "+p, h.flexEntry)
		mux.HandleFunc("POST "+p+"/{session}", h.flexSubmit)
		mux.HandleFunc("POST "+p+"/{session}/cancel", h.flexCancel)
	}
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET "+staticPath, http.StripPrefix(staticPath, webstatic.Files(static)))
	// The design tokens shared with the hosted payment page.
	mux.Handle("GET "+staticPath+"tokens.css", webstatic.Tokens())
	for _, page := range directLinkPages {
		for _, suffix := range []string{".asp", "_utf8.asp"} {
			mux.HandleFunc("/ncol/{env}/"+page+suffix, h.directLink)
		}
	}
}

// accountMode is the vault mode of a PSPID's aliases and orders.
func accountMode(og shop.Ogone) string {
	if strings.EqualFold(og.Settings.Mode, shop.ModeProduction) {
		return shop.ModeProduction
	}
	return shop.ModeTest
}

// logError writes the error log an operator reads; a failure to write it
// is logged and otherwise ignored (the buyer's answer does not depend on it).
func (h *Handler) logError(ctx context.Context, shopID, source, code, message string, details map[string]string) {
	err := h.opts.Store.InsertErrorLog(ctx, ErrorLogEntry{ShopID: shopID, Source: source, Code: code, Message: message,
		Details: details, CreatedAt: h.clock.Now()})
	if err != nil {
		h.log.ErrorContext(ctx, "ogone: writing the error log", "err", err)
	}
}

// Cleanup is the background job of this package: it deletes expired
// FlexCheckout sessions and error log entries older than 90 days, in
// batches until none is left. The two-hour alias expiry itself is the
// vault's ExpireTemporary job.
func (h *Handler) Cleanup(ctx context.Context) error { return h.CleanupUntil(ctx, nil) }

// CleanupUntil is Cleanup that also ends when stop closes (nil: never), as
// payment.CaptureAllDueUntil does: the batch in progress is deleted, then
// no batch starts (the next run takes the rest). The app's job stops so at
// shutdown.
func (h *Handler) CleanupUntil(ctx context.Context, stop <-chan struct{}) error {
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	now := h.clock.Now()
	for !stopped() {
		n, err := h.opts.Store.DeleteSessions(ctx, now, 1000)
		if err != nil {
			return err
		}
		if n < 1000 {
			break
		}
	}
	for _, src := range []string{sourceFlex, sourceDirectLink} {
		for !stopped() {
			n, err := h.opts.Store.DeleteErrorLog(ctx, src, now.AddDate(0, 0, -90), 1000)
			if err != nil {
				return err
			}
			if n < 1000 {
				break
			}
		}
	}
	return nil
}

// Error log sources.
const (
	sourceFlex       = "flexcheckout"
	sourceDirectLink = "directlink"
)

var errSessionDone = errors.New("ogone: session already used")
