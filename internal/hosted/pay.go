package hosted

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clientip"
	"github.com/openpsp/openpsp/internal/formfocus"
	"github.com/openpsp/openpsp/internal/notify"
)

// maxBody bounds a submitted card form (a few short fields and, on the
// challenge round trip, the sealed card).
const maxBody = 16 << 10

// Error codes told to the merchant page (KR.onError), as Lyra's client
// names them (docs.lyra.com …/javascript/features/js_error_management.html
// for CLIENT_*; ACQ_001 payment refused; PSP_099 too many attempts).
var errorMessages = map[string]string{
	"CLIENT_004": "invalid public key",
	"CLIENT_100": "invalid formToken",
	"CLIENT_300": "invalid form data",
	"CLIENT_301": "invalid card number",
	"CLIENT_302": "invalid expiry date",
	"CLIENT_303": "invalid security code",
	"CLIENT_304": "invalid value",
	"CLIENT_501": "kr-public-key is empty or not defined",
	"CLIENT_502": "form already submitted",
	"CLIENT_997": "endpoint configuration mismatch",
	"CLIENT_999": "technical error",
	"ACQ_001":    "payment refused",
	"PSP_099":    "too many attempts",
}

// krError is an error in the shape KR.onError callbacks receive.
type krError struct {
	ErrorCode            string    `json:"errorCode"`
	ErrorMessage         string    `json:"errorMessage"`
	DetailedErrorCode    string    `json:"detailedErrorCode,omitempty"`
	DetailedErrorMessage string    `json:"detailedErrorMessage,omitempty"`
	Field                string    `json:"field,omitempty"`
	Children             []krError `json:"children,omitempty"`
}

func newKRError(code, detailCode, detail string) *krError {
	return &krError{ErrorCode: code, ErrorMessage: errorMessages[code], DetailedErrorCode: detailCode, DetailedErrorMessage: detail}
}

// apiResponse is the JSON answer to the form script's submissions.
type apiResponse struct {
	// Step is "form" (fix the fields or try again), "challenge" (go to the
	// 3-D Secure page), "done" (the payment is over) or "error" (the form
	// cannot be used).
	Step    string `json:"step"`
	Message string `json:"message,omitempty"`
	// Detail follows Message in a final answer, in normal weight (the
	// debit day of a deferred payment).
	Detail       string            `json:"detail,omitempty"`
	AttemptsText string            `json:"attemptsText,omitempty"`
	FieldErrors  map[string]string `json:"fieldErrors,omitempty"`
	Error        *krError          `json:"error,omitempty"`
	Action       string            `json:"action,omitempty"`
	Sealed       string            `json:"sealed,omitempty"`
	Accepted     bool              `json:"accepted,omitempty"`
	Result       []formField       `json:"result,omitempty"`
	Return       *returnForm       `json:"return,omitempty"`
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, v apiResponse) {
	setJSONHeaders(w)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// load reads what every request of a page needs: the form of the token,
// the page parameters and the language. When the form cannot be paid it
// answers itself and returns false.
func (h *Handler) load(w http.ResponseWriter, r *http.Request, embedded, asJSON bool) (page, bool) {
	pg, ok := h.loadForm(w, r, embedded, asJSON)
	return pg, ok && h.usable(w, pg, asJSON)
}

// loadForm is load without the check that the form can still be paid.
func (h *Handler) loadForm(w http.ResponseWriter, r *http.Request, embedded, asJSON bool) (page, bool) {
	pg := page{embedded: embedded, token: r.PathValue("formToken"), ctx: r.Context()}
	params, perr := parseParams(r.URL.Query(), embedded)
	pg.params = params
	pg.lang = resolveLanguage(params.lang, "", r.Header.Get("Accept-Language"))
	if perr != nil {
		// Without a valid origin there is no page to tell: postMessage
		// needs an exact target.
		pg.params.origin = ""
		key := "invalid_return_url"
		if errors.Is(perr, errBadOrigin) {
			key = "invalid_origin"
		}
		h.fail(w, pg, asJSON, http.StatusBadRequest, key, "CLIENT_997", "")
		return pg, false
	}
	if pg.token == "" || len(pg.token) > 4096 {
		h.fail(w, pg, asJSON, http.StatusNotFound, "form_not_found", "CLIENT_100", "")
		return pg, false
	}
	form, err := h.pay.Form(r.Context(), pg.token)
	if err != nil {
		switch {
		case errors.Is(err, ErrFormNotFound):
			h.fail(w, pg, asJSON, http.StatusNotFound, "form_not_found", "CLIENT_100", "")
		case errors.Is(err, ErrUnavailable):
			h.log.ErrorContext(r.Context(), "hosted: loading form", "err", err)
			h.unavailable(w, r, pg, asJSON)
		default:
			h.log.ErrorContext(r.Context(), "hosted: loading form", "err", err)
			h.fail(w, pg, asJSON, http.StatusInternalServerError, ReasonTechnical, "CLIENT_999", "")
		}
		return pg, false
	}
	pg.form = form
	pg.lang = resolveLanguage(params.lang, form.Language, r.Header.Get("Accept-Language"))
	if embedded && !allowedOrigin(pg.params.origin, form.ReturnOrigins) {
		// A shop that lists its origins is framed by its own pages only:
		// another site must not show the shop's form, take a card in it
		// and receive the signed answer by postMessage. The page says so
		// as for an invalid origin, and postMessage targets no one; its
		// frame-ancestors (render) already name the shop's origins only,
		// which also stops a site that lies about its origin here.
		pg.params.origin = ""
		h.fail(w, pg, asJSON, http.StatusBadRequest, "invalid_origin", "CLIENT_997", "")
		return pg, false
	}
	if insecureForMode(params.success, form.Mode) || insecureForMode(params.refused, form.Mode) ||
		!allowedReturn(params.success, form.ReturnOrigins) || !allowedReturn(params.refused, form.ReturnOrigins) {
		pg.params.success, pg.params.refused = nil, nil
		h.fail(w, pg, asJSON, http.StatusBadRequest, "invalid_return_url", "CLIENT_997", "")
		return pg, false
	}
	return pg, true
}

// usable reports whether the form of pg can still be paid; when it cannot
// it answers itself.
func (h *Handler) usable(w http.ResponseWriter, pg page, asJSON bool) bool {
	form := pg.form
	switch {
	case form.Completed:
		h.fail(w, pg, asJSON, http.StatusOK, "form_completed", "CLIENT_502", "")
	case form.Expired:
		h.fail(w, pg, asJSON, http.StatusGone, "form_expired", "CLIENT_100", "EXPIRED")
	case form.InProgress:
		h.fail(w, pg, asJSON, http.StatusOK, "in_progress", "CLIENT_502", "")
	case form.AttemptsLeft <= 0:
		h.fail(w, pg, asJSON, http.StatusOK, "no_attempts", "PSP_099", "")
	default:
		return true
	}
	return false
}

// fail answers with a message and no form: the page cannot be used.
func (h *Handler) fail(w http.ResponseWriter, pg page, asJSON bool, status int, msgKey, code, detail string) {
	if asJSON {
		writeJSON(w, status, failAnswer(pg, msgKey, code, detail))
		return
	}
	v := h.newView(pg, pageMessage)
	v.Message = messages[pg.lang][msgKey]
	v.ErrorCode, v.ErrorMessage = code, errorMessages[code]
	v.Notice = noticeMessages[msgKey]
	v.Heading = messageHeading(pg.lang, msgKey)
	if msgKey == "in_progress" || msgKey == MessageUnconfirmed {
		v.CheckURL = h.checkURL(pg)
	}
	// Back to the shop only from a known form whose return addresses
	// passed loadForm's checks (an unknown form's are anyone's), and not
	// in the merchant's frame, which must not load the shop in itself.
	if !pg.embedded && pg.form.ShopID != "" {
		for _, r := range []*returnURL{pg.params.refused, pg.params.success} {
			if r != nil && v.ShopURL == "" {
				if o := originOf(r.URL); o != "" {
					v.ShopURL = o + "/"
				}
			}
		}
	}
	h.render(w, status, pg, v)
}

// messageHeadings name, in a message page's h1, what its message explains.
var messageHeadings = map[string]string{
	MessagePageNotFound:   "h_not_found",
	"form_not_found":      "h_link_invalid",
	"form_expired":        "h_expired",
	"form_completed":      "h_completed",
	"in_progress":         "h_in_progress",
	"no_attempts":         "h_not_made",
	ReasonTechnical:       "h_not_made",
	"challenge_not_avail": "h_not_made",
	"pending":             "h_in_progress", // InternalError after a post
	MessageUnconfirmed:    "h_in_progress",

	MessageUnavailable:            "h_service_unavailable",
	MessageUnavailableNotCharged:  "h_service_unavailable",
	MessageUnavailableUnconfirmed: "h_service_unavailable",
}

// messageHeading is the heading of the message page of msgKey in lang:
// "Page unavailable" for the others (a wrong method, a cross-site post, a
// misconfigured form).
func messageHeading(lang, msgKey string) string {
	if k, ok := messageHeadings[msgKey]; ok {
		return messages[lang][k]
	}
	return messages[lang]["h_unavailable"]
}

// noticeMessages are the message pages that are no failure of the buyer's:
// the payment link of a payment already made (opened again from the
// browser's history or an email), or one being made. In the error red they
// read to a buyer who has paid as if the payment had failed. The merchant's
// onError still receives their error code.
var noticeMessages = map[string]bool{"form_completed": true, "in_progress": true}

// failUnreadable answers a post whose body does not parse (bad %-escapes,
// too large) before the form is loaded: the message page in the language
// the query or the browser asks for, or the form script's JSON error, so
// that the buyer reads why in their language rather than a bare "bad
// request".
func (h *Handler) failUnreadable(w http.ResponseWriter, r *http.Request, embedded, asJSON bool) {
	h.fail(w, unreadablePage(r, embedded), asJSON, http.StatusBadRequest, "invalid_request", "CLIENT_300", "")
}

// failUnreadableFetch is failUnreadable's JSON answer for the saved-card
// deletion, which only the form script posts, with fetch, reading JSON
// whatever the Accept header says. Its headers stay those of the pages,
// as for the cross-site refusal of the same URL (sameSite), and only the
// content type says JSON.
func failUnreadableFetch(w http.ResponseWriter, r *http.Request, embedded bool) {
	setPageHeaders(w, pagePolicy{nonce: newNonce(), embedded: embedded})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(failAnswer(unreadablePage(r, embedded), "invalid_request", "CLIENT_300", ""))
}

// unreadablePage is what is known of a page whose post does not parse:
// the language the query or the browser asks for.
func unreadablePage(r *http.Request, embedded bool) page {
	pg := page{embedded: embedded, token: r.PathValue("formToken"), ctx: r.Context()}
	if params, err := parseParams(r.URL.Query(), embedded); err == nil {
		pg.params = params
	}
	pg.lang = resolveLanguage(pg.params.lang, "", r.Header.Get("Accept-Language"))
	return pg
}

// failAnswer is fail's JSON answer: the message in the buyer's language
// and the error the form script hands to onError.
func failAnswer(pg page, msgKey, code, detail string) apiResponse {
	return apiResponse{Step: "error", Message: messages[pg.lang][msgKey], Error: newKRError(code, detail, "")}
}

// serveForm shows the card form.
func (h *Handler) serveForm(w http.ResponseWriter, r *http.Request, embedded bool) {
	pg, ok := h.loadForm(w, r, embedded, false)
	if !ok || h.reloadedAfterEnd(w, r, pg) || !h.usable(w, pg, false) {
		return
	}
	if embedded && !h.publicKeyMatches(w, r, pg) {
		return
	}
	pg.newCard = r.URL.Query().Get(fieldTab) == tabNew
	pg.deletedCard = deletedCard(r.URL.Query(), pg.form)
	h.render(w, http.StatusOK, pg, h.formView(pg))
}

// publicKeyMatches checks that the merchant page's kr-public-key belongs
// to the shop and mode of the formToken, as Lyra's client does.
func (h *Handler) publicKeyMatches(w http.ResponseWriter, r *http.Request, pg page) bool {
	if pg.params.publicKey == "" {
		h.fail(w, pg, false, http.StatusBadRequest, "invalid_public_key", "CLIENT_501", "")
		return false
	}
	shopID, mode, err := h.keys.PublicKeyShop(r.Context(), pg.params.publicKey)
	if err != nil || shopID != pg.form.ShopID || mode != pg.form.Mode {
		h.fail(w, pg, false, http.StatusBadRequest, "invalid_public_key", "CLIENT_004", "")
		return false
	}
	return true
}

// submit takes the card form: validate, authenticate (3-D Secure), pay.
func (h *Handler) submit(w http.ResponseWriter, r *http.Request, embedded bool) {
	asJSON := wantsJSON(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		h.failUnreadable(w, r, embedded, asJSON)
		return
	}
	pg, ok := h.loadForm(w, r, embedded, asJSON)
	if !ok || h.replayedCardAfterEnd(w, pg, asJSON, r.PostForm) || !h.usable(w, pg, asJSON) {
		return
	}
	pg.newCard = r.PostForm.Get(fieldTab) == tabNew
	if id := savedCardPosted(r.PostForm); id != "" {
		h.submitSaved(w, r, pg, asJSON, id)
		return
	}
	in, ferrs := parseCard(r.PostForm, h.clock.Now())
	if ferrs != nil {
		h.respondFieldErrors(w, r, pg, asJSON, ferrs, r.PostForm)
		return
	}
	if pg.form.FormAction == "REGISTER" || pg.form.FormAction == "REGISTER_PAY" {
		in.Save = true
	}
	h.authenticateAndPay(w, r, pg, asJSON, in)
}

// authenticateAndPay runs 3-D Secure on a card (typed or saved) and pays,
// or sends the buyer to the challenge.
func (h *Handler) authenticateAndPay(w http.ResponseWriter, r *http.Request, pg page, asJSON bool, in CardInput) {
	ds, reason := h.authenticate(r.Context(), pg, &in)
	if reason != "" {
		h.respondRetry(w, pg, asJSON, reason, pg.form.AttemptsLeft, nil)
		return
	}
	if ds != "" {
		sealed, err := h.seal.seal(pg.token, in, ds)
		if err != nil {
			h.log.ErrorContext(r.Context(), "hosted: sealing card for the challenge", "err", err)
			h.respondRetry(w, pg, asJSON, ReasonTechnical, pg.form.AttemptsLeft, nil)
			return
		}
		if asJSON {
			writeJSON(w, http.StatusOK, apiResponse{Step: "challenge", Action: h.actionURL(pg, "/3ds"), Sealed: sealed})
			return
		}
		h.renderChallenge(w, pg, sealed, in)
		return
	}
	out, err := h.payWith(w, r, pg, in)
	h.respondOutcome(r.Context(), w, pg, asJSON, out, err)
}

// payWith makes the payment attempt of the buyer's request r: with a saved
// card (in.Saved) through the wallet, else with the card typed. The
// answer w carries the attempt's proof (rememberAttempt) whatever the
// outcome, an unconfirmed one above all.
func (h *Handler) payWith(w http.ResponseWriter, r *http.Request, pg page, in CardInput) (Outcome, error) {
	ctx := r.Context()
	h.rememberAttempt(w, r, pg, in)
	formToken := pg.token
	in.BuyerIP, in.Language = clientip.Of(r), pg.lang
	if in.Saved != "" {
		if h.wallet == nil {
			return Outcome{}, ErrCardNotFound
		}
		return h.wallet.PaySaved(ctx, formToken, in)
	}
	return h.pay.PayCard(ctx, formToken, in)
}

// attemptCookie holds, on a hosted page's path, the sealed proof of the
// browser's last card attempt there (attemptProof).
const attemptCookie = "kr-attempt"

// rememberAttempt gives the buyer's browser the proof of its attempt with
// in: reloading the page then shows the payment's outcome once it is known
// (reloadedAfterEnd). Not in the merchant's frame, where the cookie would
// be a third party's.
func (h *Handler) rememberAttempt(w http.ResponseWriter, r *http.Request, pg page, in CardInput) {
	if pg.embedded {
		return
	}
	blob, err := h.seal.sealAttempt(pg.token, in)
	if err != nil {
		h.log.ErrorContext(r.Context(), "hosted: sealing the attempt's proof", "err", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: attemptCookie, Value: blob, Path: pagePath(pg), MaxAge: int(attemptTTL.Seconds()),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// reloadedAfterEnd answers the hosted page opened again (reloaded) by the
// browser that made the form's last attempt, once the form is over, with
// the payment's outcome, as that attempt's answer would have been: the
// success page and its return to the shop, or the final refusal. The
// browser proves it by its attemptCookie, whose card must be the
// attempt's; anyone else who opens the link reads that the form is over.
func (h *Handler) reloadedAfterEnd(w http.ResponseWriter, r *http.Request, pg page) bool {
	c, err := r.Cookie(attemptCookie)
	if pg.embedded || err != nil {
		return false
	}
	p, err := h.seal.openAttempt(pg.token, c.Value)
	if err != nil {
		return false
	}
	exp := card.Expiry{Month: p.ExpMonth, Year: p.ExpYear}
	return h.outcomeAfterEnd(w, pg, false, func(out Outcome) bool { return sameCard(out, p.Masked, exp, p.Saved) })
}

// sameCard reports whether the card a post or a proof names (masked number
// and expiry, or a saved card's id) is the one out's attempt paid with.
func sameCard(out Outcome, masked string, exp card.Expiry, saved string) bool {
	if saved != "" {
		return out.SavedCard != "" && saved == out.SavedCard
	}
	return masked != "" && out.CardMasked != "" && masked == out.CardMasked && exp == out.CardExpiry
}

// authenticate runs 3-D Secure. It returns the DSTransID when the buyer
// must take a challenge, or a reason when the payment cannot go on; else it
// has set in.ThreeDS (statuses Y, A, U, N, R: PayCard decides, see
// CardInput.ThreeDS).
func (h *Handler) authenticate(ctx context.Context, pg page, in *CardInput) (dsTransID, reason string) {
	sa := strings.ToUpper(pg.form.StrongAuthentication)
	if h.auth == nil || sa == "DISABLED" {
		return "", ""
	}
	res, err := h.auth.Start(ctx, acquirer.AuthRequest{
		OperationID:        "3ds_" + randomHex(16),
		ShopID:             pg.form.ShopID,
		Amount:             pg.form.Amount,
		Currency:           pg.form.Currency,
		PAN:                in.PAN,
		Expiry:             in.Expiry,
		Brand:              in.PAN.Brand(),
		ChallengeRequested: sa == "CHALLENGE_REQUESTED" || sa == "CHALLENGE_MANDATE",
	})
	if err != nil {
		h.log.ErrorContext(ctx, "hosted: 3-D Secure start", "err", err, "card", in.PAN)
		return "", ReasonTechnical
	}
	if res.Status == acquirer.ThreeDSChallenge {
		if pg.form.Mode != "TEST" {
			// Our challenge page is a simulation where the buyer picks the
			// outcome: never offer it for real money. A real ACS redirect is
			// not implemented.
			h.log.ErrorContext(ctx, "hosted: 3-D Secure challenge requested in PRODUCTION; no ACS integration", "shop", pg.form.ShopID)
			return "", "challenge_not_avail"
		}
		return res.DSTransID, ""
	}
	in.ThreeDS = &res
	return "", ""
}

// loadPage reads a browser's post that answers with a page (no JSON), and
// loads its form as load does; when it cannot it answers itself.
func (h *Handler) loadPage(w http.ResponseWriter, r *http.Request, embedded bool) (page, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		h.failUnreadable(w, r, embedded, false)
		return page{}, false
	}
	return h.load(w, r, embedded, false)
}

// challenge shows the simulated ACS page for a sealed card (the form
// script's next stop after a "challenge" answer).
func (h *Handler) challenge(w http.ResponseWriter, r *http.Request, embedded bool) {
	pg, ok := h.loadPage(w, r, embedded)
	if !ok {
		return
	}
	sealed := r.PostForm.Get("sealed")
	in, _, err := h.seal.open(pg.token, sealed)
	if err != nil {
		h.respondRetry(w, pg, false, "challenge_expired", pg.form.AttemptsLeft, nil)
		return
	}
	if pg.form.Mode != "TEST" {
		h.respondRetry(w, pg, false, "challenge_not_avail", pg.form.AttemptsLeft, nil)
		return
	}
	h.renderChallenge(w, pg, sealed, in)
}

func (h *Handler) renderChallenge(w http.ResponseWriter, pg page, sealed string, in CardInput) {
	v := h.newView(pg, pageChallenge)
	v.Title = v.M["challenge_title"]
	v.ShowHeader = false
	// The page is a simulation that exists only in TEST: its one TEST
	// notice (the banner) shows even in a frame that hides the banner
	// elsewhere (kr-hide-debug-toolbar).
	v.Test = true
	v.Action = h.actionURL(pg, "/3ds/complete")
	v.Sealed = sealed
	v.CardEnding = fmt.Sprintf(v.M["card_ending"], in.PAN.Last4())
	h.render(w, http.StatusOK, pg, v)
}

// complete takes the buyer's answer on the challenge page, finishes 3-D
// Secure and pays.
func (h *Handler) complete(w http.ResponseWriter, r *http.Request, embedded bool) {
	asJSON := wantsJSON(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		h.failUnreadable(w, r, embedded, asJSON)
		return
	}
	pg, ok := h.loadForm(w, r, embedded, asJSON)
	if !ok || h.replayedAfterEnd(w, pg, asJSON, r.PostForm.Get("sealed")) || !h.usable(w, pg, asJSON) {
		return
	}
	in, ds, err := h.seal.open(pg.token, r.PostForm.Get("sealed"))
	if err != nil {
		h.respondRetry(w, pg, asJSON, "challenge_expired", pg.form.AttemptsLeft, nil)
		return
	}
	if pg.form.Mode != "TEST" || h.auth == nil {
		h.respondRetry(w, pg, asJSON, "challenge_not_avail", pg.form.AttemptsLeft, nil)
		return
	}
	approved := r.PostForm.Get("decision") == "approve"
	res, err := h.auth.Complete(r.Context(), ds, approved)
	if err != nil {
		h.log.ErrorContext(r.Context(), "hosted: 3-D Secure complete", "err", err)
		h.respondRetry(w, pg, asJSON, ReasonTechnical, pg.form.AttemptsLeft, nil)
		return
	}
	in.ThreeDS = &res
	// The tab the card came from travels sealed with the attempt: a typed
	// card refused after its challenge comes back with the New card panel
	// open, not the saved cards (a buyer without the script would have to
	// choose the tab again).
	pg.newCard = in.Saved == ""
	out, err := h.payWith(w, r, pg, in)
	h.respondOutcome(r.Context(), w, pg, asJSON, out, err)
}

// replayedAfterEnd answers a challenge completion posted again once the form
// is over (the buyer's back button, a second tab, a double post after the
// last attempt) with the payment's outcome, as the completion that ended
// the form did: the success page, or the final refusal. Nothing is written
// and the authentication is not asked again. It reports whether it
// answered; a seal that is not this form's, or has expired, gets the
// ordinary answer of a form that is over.
func (h *Handler) replayedAfterEnd(w http.ResponseWriter, pg page, asJSON bool, sealed string) bool {
	return h.outcomeAfterEnd(w, pg, asJSON, func(Outcome) bool {
		_, _, err := h.seal.open(pg.token, sealed)
		return err == nil
	})
}

// replayedCardAfterEnd is replayedAfterEnd for the card form posted again
// once the form is over: the outcome is shown to a post of the attempt's
// own card (masked number and expiry, which only the buyer's post
// carries; for a saved card, its id in the buyer's page, compared with
// the id of the card the attempt paid with), and any other card gets the
// ordinary answer of a form that is over.
func (h *Handler) replayedCardAfterEnd(w http.ResponseWriter, pg page, asJSON bool, posted url.Values) bool {
	return h.outcomeAfterEnd(w, pg, asJSON, func(out Outcome) bool {
		if id := savedCardPosted(posted); id != "" {
			// A saved card's post, as submit reads it: typed fields beside
			// it are not the card paid with.
			return sameCard(out, "", card.Expiry{}, id)
		}
		in, ferrs := parseCard(posted, h.clock.Now())
		if _, ok := ferrs[fieldPAN]; ok || in.PAN.IsZero() {
			return false
		}
		if _, ok := ferrs[fieldExpiry]; ok && in.Expiry.IsZero() {
			return false
		}
		return sameCard(out, in.PAN.Masked(), in.Expiry, "")
	})
}

// outcomeAfterEnd answers with the outcome of a form that is over when
// ours, given that outcome, says the post is the buyer's own; it reports
// whether it answered.
func (h *Handler) outcomeAfterEnd(w http.ResponseWriter, pg page, asJSON bool, ours func(Outcome) bool) bool {
	if !pg.form.Completed {
		return false
	}
	out, err := h.pay.Outcome(pg.ctx, pg.token)
	if err != nil {
		if !errors.Is(err, ErrNoOutcome) {
			h.log.ErrorContext(pg.ctx, "hosted: reading the outcome of a form that is over", "err", err)
		}
		return false
	}
	if !ours(out) {
		return false
	}
	h.respondOutcome(pg.ctx, w, pg, asJSON, out, nil)
	return true
}

// fieldCodes are the CLIENT_ codes and field names Lyra's client reports
// for each input.
var fieldCodes = map[string][2]string{
	fieldPAN:    {"CLIENT_301", "pan"},
	fieldExpiry: {"CLIENT_302", "expiryDate"},
	fieldCSC:    {"CLIENT_303", "securityCode"},
	fieldHolder: {"CLIENT_304", "cardHolderName"},
	// The security code of a one-click form's saved card.
	fieldSavedCSC: {"CLIENT_303", "securityCode"},
}

func (h *Handler) respondFieldErrors(w http.ResponseWriter, r *http.Request, pg page, asJSON bool, ferrs map[string]fieldError, posted url.Values) {
	m := messages[pg.lang]
	texts := map[string]string{}
	kerr := newKRError("CLIENT_300", "", "")
	for _, f := range []string{fieldPAN, fieldExpiry, fieldCSC, fieldHolder, fieldSavedCSC} {
		fe, ok := ferrs[f]
		if !ok {
			continue
		}
		t := m[fe.key]
		if fe.arg != 0 {
			t = fmt.Sprintf(t, fe.arg)
		}
		texts[f] = t
		c := fieldCodes[f]
		kerr.Children = append(kerr.Children, krError{ErrorCode: c[0], ErrorMessage: errorMessages[c[0]], Field: c[1]})
	}
	if asJSON {
		writeJSON(w, http.StatusUnprocessableEntity, apiResponse{Step: "form", Message: m["form_errors"], FieldErrors: texts, Error: kerr})
		return
	}
	v := h.formView(pg)
	v.Message = m["form_errors"]
	v.FieldErrors = texts
	v.Framed = formfocus.Framed(r)
	// Echo what is not card data, so the buyer does not type it again.
	// The card number and security code are never written into a page.
	v.Expiry = clip(posted.Get(fieldExpiry), 9)
	v.Holder = clip(posted.Get(fieldHolder), 4*maxHolder)
	h.render(w, http.StatusUnprocessableEntity, pg, v)
}

// respondRetry answers a refusal that leaves attempts (or a technical error
// after which the attempt did not count): the form again, with the reason.
func (h *Handler) respondRetry(w http.ResponseWriter, pg page, asJSON bool, reason string, attemptsLeft int, result []formField) {
	m := messages[pg.lang]
	msg, ok := m[reason]
	if !ok {
		reason, msg = ReasonRefused, m[ReasonRefused]
	}
	code := "ACQ_001"
	switch reason {
	case ReasonTechnical, "challenge_not_avail", "challenge_expired":
		code = "CLIENT_999"
	}
	kerr := newKRError(code, reason, messages["en"][reason])
	pg.form.AttemptsLeft = attemptsLeft
	if asJSON {
		writeJSON(w, http.StatusOK, apiResponse{Step: "form", Message: msg, AttemptsText: attemptsText(m, attemptsLeft), Error: kerr, Result: result})
		return
	}
	v := h.formView(pg)
	v.Message = msg
	v.ErrorCode, v.ErrorMessage = kerr.ErrorCode, kerr.ErrorMessage
	v.Result = result
	h.render(w, http.StatusOK, pg, v)
}

// respondOutcome answers a payment attempt.
func (h *Handler) respondOutcome(ctx context.Context, w http.ResponseWriter, pg page, asJSON bool, out Outcome, err error) {
	if errors.Is(err, ErrInProgress) {
		h.fail(w, pg, asJSON, http.StatusOK, "in_progress", "CLIENT_502", "")
		return
	}
	if errors.Is(err, ErrUnavailable) {
		// The database failed during the attempt: before the acquirer
		// was asked, nothing was charged; after, the card may have been
		// (recovery settles the attempt), and the buyer must not pay
		// again elsewhere.
		h.log.ErrorContext(ctx, "hosted: paying", "err", err)
		key := MessageUnavailableNotCharged
		if errors.Is(err, ErrUnconfirmed) {
			key = MessageUnavailableUnconfirmed
		}
		h.sayUnavailable(w, pg, asJSON, key)
		return
	}
	if errors.Is(err, ErrUnconfirmed) {
		// Not "your card was not charged, try again": the acquirer may
		// have authorised it. The form is over for the buyer, as after a
		// crash following a post (InternalError).
		h.log.ErrorContext(ctx, "hosted: paying, outcome not recorded", "err", err)
		h.fail(w, pg, asJSON, http.StatusInternalServerError, MessageUnconfirmed, "CLIENT_999", "")
		return
	}
	if err != nil {
		h.log.ErrorContext(ctx, "hosted: paying", "err", err)
		h.respondRetry(w, pg, asJSON, ReasonTechnical, pg.form.AttemptsLeft, nil)
		return
	}
	var result []formField
	if len(out.KRAnswer) > 0 {
		result, err = h.signedFields(ctx, pg.form, out.KRAnswer)
		if err != nil {
			// The payment stands; only the proof for the merchant page is
			// missing. The IPN still tells the merchant's server.
			h.log.ErrorContext(ctx, "hosted: signing kr-answer", "err", err, "shop", pg.form.ShopID)
			result = nil
		}
	}
	if out.Pending {
		h.respondPending(w, pg, asJSON)
		return
	}
	if !out.Accepted && !out.Final {
		h.respondRetry(w, pg, asJSON, out.Message, out.AttemptsLeft, result)
		return
	}
	m := messages[pg.lang]
	var msg, detail string
	var kerr *krError
	ret := pg.params.success
	if out.Accepted {
		msg = m["accepted"]
		if pg.form.FormAction == "REGISTER" {
			msg = m["registered"]
		} else if !out.DebitOn.IsZero() {
			// Only the card was checked: "accepted" alone reads as
			// debited now. The day is written as the buyer's email
			// writes it, with no-break spaces: on a phone the page
			// broke "March" from "5, 2030" across lines. It comes as
			// a sentence after the headline, not in one bold block;
			// the day is the shop's (its time zone), as in the email.
			day := strings.ReplaceAll(notify.FormatDayIn(pg.lang, pg.form.TimeZone, out.DebitOn), " ", "\u00a0")
			detail = fmt.Sprintf(m["accepted_deferred"], day)
		}
	} else {
		ret = pg.params.refused
		reason := out.Message
		if _, ok := m[reason]; !ok || reason == "" {
			reason = ReasonRefused
		}
		msg, detail = finalRefusal(m, reason)
		kerr = newKRError("PSP_099", reason, messages["en"][reason])
	}
	var rf *returnForm
	if !pg.embedded && ret != nil && result != nil {
		rf = buildReturn(ret, result)
	}
	if asJSON {
		resp := apiResponse{Step: "done", Accepted: out.Accepted, Message: msg, Detail: detail, Error: kerr, Return: rf}
		if pg.embedded {
			resp.Result = result
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	v := h.newView(pg, pageResult)
	v.Accepted = out.Accepted
	v.Message, v.Detail = msg, detail
	v.Return = rf
	if pg.embedded {
		v.Result = result
	}
	if kerr != nil {
		v.ErrorCode, v.ErrorMessage = kerr.ErrorCode, kerr.ErrorMessage
	}
	h.render(w, http.StatusOK, pg, v)
}

// finalRefusal is the message of a refusal on the last attempt: the
// reason as the headline, then, as its detail, that no attempt is left (the
// page shows the detail in normal weight: four sentences in one bold red
// block read as an alarm, not as an answer). Reasons whose message invites
// another try ("Try another card", "Please try again") have a "_final"
// wording without it: no try is left.
func finalRefusal(m map[string]string, reason string) (headline, detail string) {
	if _, ok := m[reason]; !ok || reason == "" {
		reason = ReasonRefused
	}
	text := m[reason]
	if f, ok := m[reason+"_final"]; ok {
		text = f
	}
	if reason == ReasonFormInvalid {
		return text, "" // no attempt was refused: the form itself is over
	}
	return text, m["no_attempts"]
}

// respondPending answers an attempt whose outcome the acquirer has not
// given yet: the form is over for the buyer (no retry: the card may be
// charged), without a browser return, which needs a final kr-answer; the
// merchant learns the outcome from the IPN once recovery settles it.
func (h *Handler) respondPending(w http.ResponseWriter, pg page, asJSON bool) {
	msg := messages[pg.lang]["pending"]
	kerr := newKRError("CLIENT_502", "pending", messages["en"]["pending"])
	if asJSON {
		writeJSON(w, http.StatusOK, apiResponse{Step: "done", Message: msg, Error: kerr})
		return
	}
	v := h.newView(pg, pageResult)
	v.Message = msg
	v.ErrorCode, v.ErrorMessage = kerr.ErrorCode, kerr.ErrorMessage
	v.CheckURL = h.checkURL(pg)
	h.render(w, http.StatusOK, pg, v)
}

// checkURL is view.CheckURL for pg: its payment page, full page only (a
// frame's browser keeps no proof of its attempt).
func (h *Handler) checkURL(pg page) string {
	if pg.embedded || pg.form.ShopID == "" {
		return ""
	}
	return h.actionURL(pg, "")
}

// Browser-return constants (compat.md §1.8).
const (
	hashAlgorithm = "sha256_hmac"
	answerType    = "V4/Payment"
)

// signedFields returns the browser-return fields of a kr-answer:
// kr-hash = lowercase hex HMAC-SHA-256 of the exact kr-answer bytes under
// the shop's HMAC key.
func (h *Handler) signedFields(ctx context.Context, form Form, answer []byte) ([]formField, error) {
	if bytes.ContainsAny(answer, "\r\n") {
		// Form submission rewrites line breaks (LF → CRLF), which would
		// break the hash; JSON never needs them outside strings.
		var buf bytes.Buffer
		if err := json.Compact(&buf, answer); err != nil {
			return nil, fmt.Errorf("kr-answer is not JSON: %w", err)
		}
		answer = buf.Bytes()
	}
	key, err := h.keys.HMACKey(ctx, form.ShopID, form.Mode)
	if err != nil {
		return nil, fmt.Errorf("hmac key: %w", err)
	}
	if key == "" {
		return nil, errors.New("hmac key: empty")
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(answer)
	return []formField{
		{"kr-hash", hex.EncodeToString(mac.Sum(nil))},
		{"kr-hash-algorithm", hashAlgorithm},
		{"kr-hash-key", hashAlgorithm},
		{"kr-answer-type", answerType},
		{"kr-answer", string(answer)},
	}, nil
}

// buildReturn makes the form to a merchant return URL. A GET form replaces
// the query of its action, so the URL's own query parameters become hidden
// fields first.
func buildReturn(ret *returnURL, result []formField) *returnForm {
	rf := &returnForm{Action: ret.URL, Method: ret.Method}
	if ret.Method == "get" {
		if u, err := url.Parse(ret.URL); err == nil && u.RawQuery != "" {
			q := u.Query()
			u.RawQuery = ""
			rf.Action = u.String()
			keys := make([]string, 0, len(q))
			for k := range q {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				for _, v := range q[k] {
					rf.Fields = append(rf.Fields, formField{k, v})
				}
			}
		}
	}
	rf.Fields = append(rf.Fields, result...)
	return rf
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Keys of the messages MessagePage tells, besides the refusal reasons.
const (
	MessagePageNotFound     = "page_not_found"
	MessageMethodNotAllowed = "method_not_allowed"
	// MessageUnavailable and MessageUnavailableNotCharged are
	// Unavailable's: the service cannot take payments for a moment; the
	// second, for a post that may hold a card, adds that it was not charged.
	MessageUnavailable           = "service_unavailable"
	MessageUnavailableNotCharged = "service_unavailable_not_charged"
	// MessageUnavailableUnconfirmed and MessageUnconfirmed answer an
	// attempt that failed after the acquirer was asked (ErrUnconfirmed),
	// during a database outage or for another reason: the payment could
	// not be confirmed yet; do not pay again; the shop confirms it.
	MessageUnavailableUnconfirmed = "service_unavailable_unconfirmed"
	MessageUnconfirmed            = "unconfirmed"
)

// RetryAfter is the Retry-After of Unavailable's answers, in seconds. A
// copy that stopped on a newer schema is out of its load balancer's
// rotation once its /readyz has been probed (every few seconds) and a
// database restart or failover takes tens of seconds: 30 s lets a client
// that honours the header (a crawler, a proxy, a merchant's script) come
// back when another copy or the database is likely to answer, without
// hammering a copy that is down. The buyer reads "in a few minutes":
// a person retries later than a program.
const RetryAfter = 30

// Unavailable answers a request to the buyer's pages when the service
// cannot serve it for a moment: its database is unavailable, or the
// running copy found a newer schema (the app's refuseOnNewerSchema). A
// browser reads the temporarily-unavailable message page in its language
// (the query's kr-language, else lang, else Accept-Language), which says
// the card was not charged when the request was a post; the form script
// (Accept: application/json) reads its JSON error, CLIENT_999 (detailed
// code UNAVAILABLE) with the same message. HTTP 503, Retry-After, never
// stored. framed marks a page shown in the merchant's frame (the embedded
// form's pages are, by their path; FlexCheckout's are, by the caller): it
// may be framed.
func (h *Handler) Unavailable(w http.ResponseWriter, r *http.Request, framed bool, lang string) {
	embedded := framed || strings.HasPrefix(r.URL.Path, "/embedded/")
	pg := page{embedded: embedded, ctx: r.Context()}
	pg.lang = resolveLanguage(r.URL.Query().Get("kr-language"), lang, r.Header.Get("Accept-Language"))
	h.unavailable(w, r, pg, wantsJSON(r))
}

// unavailable is Unavailable's answer for pg, to a request that has not
// reached a payment attempt: a post says the card was not charged.
func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, pg page, asJSON bool) {
	key := MessageUnavailable
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		key = MessageUnavailableNotCharged
	}
	h.sayUnavailable(w, pg, asJSON, key)
}

// sayUnavailable answers 503 with Retry-After and key's message.
func (h *Handler) sayUnavailable(w http.ResponseWriter, pg page, asJSON bool, key string) {
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
	h.fail(w, pg, asJSON, http.StatusServiceUnavailable, key, "CLIENT_999", "UNAVAILABLE")
}

// InternalError answers a request to the buyer's pages whose handling
// failed unexpectedly (the app's middleware recovered a panic): the
// technical-error message page in the buyer's language (as Unavailable
// chooses it), HTTP 500, never stored; the form script's JSON error,
// CLIENT_999, for its posts. A page opened (GET, HEAD) charged nothing and
// says so. After a post the failure may have come after the charge: the
// page says nothing of the card and asks the buyer not to pay again (the
// shop confirms the result, as for a payment still being processed).
func (h *Handler) InternalError(w http.ResponseWriter, r *http.Request, framed bool, lang string) {
	embedded := framed || strings.HasPrefix(r.URL.Path, "/embedded/")
	pg := page{embedded: embedded, ctx: r.Context()}
	pg.lang = resolveLanguage(r.URL.Query().Get("kr-language"), lang, r.Header.Get("Accept-Language"))
	key := ReasonTechnical
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		key = "pending"
	}
	h.fail(w, pg, wantsJSON(r), http.StatusInternalServerError, key, "CLIENT_999", "")
}

// MessagePage answers a browser that reached no payment page (an address
// nothing serves, a wrong method, an error of the demo shop) with the
// pages' message page: the message of key in lang when the pages speak it,
// else in the browser's Accept-Language, with status. Headers already set,
// such as Allow, stay.
func (h *Handler) MessagePage(w http.ResponseWriter, r *http.Request, status int, key, lang string) {
	pg := page{ctx: r.Context(), lang: resolveLanguage(lang, "", r.Header.Get("Accept-Language"))}
	msg, ok := messages[pg.lang][key]
	if !ok {
		msg = messages[pg.lang][ReasonTechnical]
	}
	v := h.newView(pg, pageMessage)
	v.Message = msg
	v.Heading = messageHeading(pg.lang, key)
	h.render(w, status, pg, v)
}
