package ogone

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/formfocus"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// flexEntry is GET or POST /Tokenization/HostedPage: it checks the signed
// request and shows the page. Anything wrong shows document 004's generic
// error page and creates nothing; the cause goes to the error log when the
// PSPID is known, so the merchant's support can find it.
func (h *Handler) flexEntry(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ps, err := ParseParams(r, UTF8)
	if err != nil {
		h.genericPage(w, "", http.StatusBadRequest)
		return
	}
	lang := language(ps.Get(fLayoutLanguage))
	pspid := strings.TrimSpace(ps.Get(fAccountPSPID))
	if pspid == "" || utf8.RuneCountInString(pspid) > 30 {
		h.genericPage(w, lang, http.StatusBadRequest)
		return
	}
	acct, err := h.opts.Accounts.OgoneAccount(ctx, pspid)
	if errors.Is(err, shop.ErrNotFound) {
		h.genericPage(w, lang, http.StatusBadRequest)
		return
	}
	if err != nil {
		h.log.ErrorContext(ctx, "flexcheckout: account", "err", err)
		h.failInternal(w, r, ps.Get(fLayoutLanguage), err)
		return
	}
	given := ps.Get(fSHASign)
	if given == "" {
		// SHASIGN, as on every other Ogone page: a production ePDQ
		// integration signs FlexCheckout that way (docs/flexcheckout.md).
		given = ps.Get("SHASIGN")
	}
	if given == "" {
		h.logError(ctx, acct.ShopID, sourceFlex, "SHA_MISSING", "unknown order/0/s/: SHASIGNATURE.SHASIGN is missing", map[string]string{"pspid": pspid})
		h.genericPage(w, lang, http.StatusBadRequest)
		return
	}
	want, err := Sign(acct.SHAAlgorithm, ps, acct.SHAIn, nil)
	if err != nil || !VerifyDigest(want, given) {
		h.logError(ctx, acct.ShopID, sourceFlex, "SHA_MISMATCH", "unknown order/1/s/: SHASIGNATURE.SHASIGN does not match the SHA-IN of the parameters sent", map[string]string{"pspid": pspid})
		h.genericPage(w, lang, http.StatusBadRequest)
		return
	}
	// Signed: the request is the merchant's, and its error page may name
	// the shop (an unsigned one, which anyone can send with any PSPID,
	// does not learn it).
	signedError := func() {
		h.errorPage(w, errorInfo{lang: lang, shopName: h.shopName(ctx, acct.ShopID), account: directDebitParams(ps)}, http.StatusBadRequest)
	}
	req, err := ParseFlexRequest(ps)
	if err != nil {
		h.logError(ctx, acct.ShopID, sourceFlex, "INVALID_PARAMETER", err.Error(), map[string]string{"pspid": pspid})
		signedError()
		return
	}
	if req.DirectDebit() && h.opts.BankAccounts == nil {
		h.logError(ctx, acct.ShopID, sourceFlex, "PAYMENT_METHOD_UNAVAILABLE", "direct debit is not available on this platform", map[string]string{"pspid": pspid})
		signedError()
		return
	}
	var tpl *Template
	if req.TemplateName != "" {
		t, err := h.opts.Store.Template(ctx, acct.ShopID, req.TemplateName)
		if err != nil {
			if !errors.Is(err, ErrTemplateNotFound) {
				h.log.ErrorContext(ctx, "flexcheckout: template", "err", err)
			}
			h.logError(ctx, acct.ShopID, sourceFlex, "TEMPLATE_NOT_FOUND", "LAYOUT.TEMPLATENAME names no uploaded template", map[string]string{"pspid": pspid, "template": req.TemplateName})
			signedError()
			return
		}
		tpl = &t
	}
	if r.Method == http.MethodHead {
		// Link checkers and prefetchers ask with HEAD: answer without
		// opening a page session.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		return
	}
	now := h.clock.Now()
	s := Session{ID: ids.RandomHex(20), ShopID: acct.ShopID, Mode: accountMode(acct), Request: req, State: SessionOpen,
		CreatedAt: now, ExpiresAt: now.Add(h.opts.SessionTTL)}
	if err := h.opts.Store.InsertSession(ctx, s); err != nil {
		h.log.ErrorContext(ctx, "flexcheckout: session", "err", err)
		h.failInternal(w, r, req.Locale, err)
		return
	}
	h.renderForm(ctx, w, s, acct, tpl, nil, http.StatusOK)
}

// openSession loads the session of a submit, checking it can still be used.
func (h *Handler) openSession(w http.ResponseWriter, r *http.Request) (Session, shop.Ogone, bool) {
	ctx := r.Context()
	s, err := h.opts.Store.Session(ctx, r.PathValue("session"))
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			h.log.ErrorContext(ctx, "flexcheckout: session", "err", err)
			if h.opts.Unavailable != nil && h.opts.Unavailable(w, r, "", err) {
				return Session{}, shop.Ogone{}, false
			}
		}
		h.genericPage(w, "", http.StatusNotFound)
		return Session{}, shop.Ogone{}, false
	}
	if s.State != SessionOpen || !h.clock.Now().Before(s.ExpiresAt) {
		h.sessionPage(r.Context(), w, s, http.StatusGone)
		return Session{}, shop.Ogone{}, false
	}
	acct, err := h.opts.Accounts.OgoneAccount(ctx, s.Request.PSPID)
	if err != nil {
		h.log.ErrorContext(ctx, "flexcheckout: account", "err", err)
		h.failInternal(w, r, s.Request.Locale, err)
		return Session{}, shop.Ogone{}, false
	}
	return s, acct, true
}

// flexCancel is the cancel button: ALIAS.STATUS 3 to the EXCEPTIONURL.
func (h *Handler) flexCancel(w http.ResponseWriter, r *http.Request) {
	s, acct, ok := h.openSession(w, r)
	if !ok {
		return
	}
	if !h.finish(w, r, s) {
		return
	}
	res := Result{AliasID: s.Request.AliasID, OrderID: s.Request.OrderID, Status: AliasCancelled,
		StorePermanently: h.storeChoice(s, acct, nil)}
	h.redirect(w, r, s, acct, s.Request.ExceptionURL, res)
}

// finish ends the page session before its return; when it could not (a
// concurrent submit or cancel ended it first, or the write failed) it
// answers the generic page and reports false.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, s Session) bool {
	var done bool
	err := h.opts.Store.WriteTx(r.Context(), func(tx *sql.Tx) (err error) {
		done, err = h.opts.Store.FinishSession(tx, s.ID, h.clock.Now())
		return err
	})
	if err != nil {
		h.log.ErrorContext(r.Context(), "flexcheckout: session", "err", err)
	}
	if err != nil || !done {
		h.sessionPage(r.Context(), w, s, http.StatusConflict)
		return false
	}
	return true
}

// storeChoice is the ALIAS.STOREPERMANENTLY in force: the buyer's box when
// the Alias Manager opt-in is on, else the request's (Y when absent).
func (h *Handler) storeChoice(s Session, acct shop.Ogone, form Params) string {
	if acct.Settings.AliasOptIn && form != nil {
		if form.Get("STORE") == "Y" {
			return "Y"
		}
		return "N"
	}
	if s.Request.StorePermanently == "N" {
		return "N"
	}
	return "Y"
}

// fieldErrors are the buyer's mistakes on the form: a message per form field
// and the NCERROR codes they map to.
type fieldErrors struct {
	msgs                map[string]string
	cardNo, cn, cvc, ed string
	partial             Result // the masked details of what was valid
	// What the form shows again, so that the buyer corrects only the
	// mistakes: the holder, the expiry and the BIC as entered. Never the
	// card number, the security code or the IBAN.
	holder, month, year, bic string
	// framed: the submit came from a frame (Sec-Fetch-Dest), where the
	// browser may refuse autofocus (pageData.FocusRefresh).
	framed bool
}

func (e *fieldErrors) add(field, msgKey, code string) {
	if e.msgs == nil {
		e.msgs = map[string]string{}
	}
	e.msgs[field] = msgKey
	switch field {
	case "cardno", "iban", "bic", "brand":
		e.cardNo = code
	case "cn", "holder":
		e.cn = code
	case "cvc":
		e.cvc = code
	case "expiry":
		e.ed = code
	}
}

func (e *fieldErrors) empty() bool { return len(e.msgs) == 0 }

// flexSubmit takes the buyer's card or account.
func (h *Handler) flexSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s, acct, ok := h.openSession(w, r)
	if !ok {
		return
	}
	form, err := ParseParams(r, UTF8)
	if err != nil {
		h.sessionPage(r.Context(), w, s, http.StatusBadRequest)
		return
	}
	if s.Request.DirectDebit() {
		h.submitAccount(w, r, s, acct, form)
		return
	}
	in, fe := h.readCard(s.Request, form)
	if !fe.empty() {
		fe.partial = in.partial()
		h.formError(w, r, s, acct, fe)
		return
	}
	choice := h.storeChoice(s, acct, form)
	aliasID := s.Request.AliasID
	var existing *vault.Token
	if aliasID != "" {
		t, err := h.opts.Vault.Get(ctx, s.ShopID, s.Mode, aliasID)
		switch {
		case err == nil:
			existing = &t
		case !errors.Is(err, vault.ErrTokenNotFound):
			h.technicalError(w, r, s, acct, err)
			return
		}
	} else {
		aliasID = newAliasID()
	}
	if existing != nil && (existing.StatusAt(h.clock.Now()) == vault.StatusPurged || existing.Method == vault.MethodSDD) {
		// A purged alias keeps its value for the merchant's history; it
		// cannot take a card again, nor can a bank-account alias. The page
		// is over, as after any refusal. (An alias of that name in the
		// other mode is another alias, not found here.)
		if !h.finish(w, r, s) {
			return
		}
		res := in.result(aliasID, s.Request.OrderID, AliasNOK, choice)
		res.NCError, res.NCErrorCardNo = ncAliasNOK, ncDataValidation
		h.redirect(w, r, s, acct, s.Request.declineURL(), res)
		return
	}
	var ttl = TemporaryAliasTTL
	if choice == "Y" {
		ttl = 0
	}
	err = h.opts.Store.WriteTx(ctx, func(tx *sql.Tx) error {
		if err := h.claim(tx, s, aliasID); err != nil {
			return err
		}
		if existing != nil {
			return nil
		}
		_, err := h.opts.Vault.Tokenize(ctx, tx, vault.TokenizeRequest{ShopID: s.ShopID, Mode: s.Mode, Token: aliasID,
			PAN: in.pan, Expiry: in.expiry, HolderName: in.holder, Origin: "FLEXCHECKOUT", OriginOrderID: s.Request.OrderID, TTL: ttl})
		return err
	})
	if h.claimFailed(w, r, s, acct, aliasID, err) {
		return
	}
	status := AliasOK
	if existing != nil {
		status = AliasUpdated
		if err := h.updateAlias(ctx, s, *existing, in, choice); err != nil {
			h.technicalError(w, r, s, acct, err)
			return
		}
		if existing.Permanent {
			// It stays permanent whatever this page said: return what is true.
			choice = "Y"
		}
	}
	h.redirect(w, r, s, acct, s.Request.AcceptURL, in.result(aliasID, s.Request.OrderID, status, choice))
}

// updateAlias gives an existing alias the new card (ALIAS.STATUS 2).
func (h *Handler) updateAlias(ctx context.Context, s Session, t vault.Token, in cardInput, choice string) error {
	holder := in.holder
	if _, err := h.opts.Vault.Update(ctx, s.ShopID, s.Mode, t.Value, vault.TokenUpdate{PAN: &in.pan, Expiry: &in.expiry, HolderName: &holder}); err != nil {
		return err
	}
	if t.Status == vault.StatusCancelled {
		if _, err := h.opts.Vault.Reactivate(ctx, s.ShopID, s.Mode, t.Value); err != nil {
			return err
		}
	}
	// A temporary alias the buyer now keeps becomes permanent; a permanent
	// one is never made temporary again by an update.
	if choice == "Y" && !t.Permanent {
		if _, err := h.opts.Vault.MakePermanent(ctx, s.ShopID, s.Mode, t.Value); err != nil {
			return err
		}
	}
	return nil
}

// errDuplicateOrder is document 004 §3.1.1's refusal.
var errDuplicateOrder = errors.New("ogone: ALIAS.ORDERID already created an alias")

// claim ends the session and applies the duplicate ORDERID check, inside the
// transaction that stores the alias: a replayed or concurrent submit finds
// the session DONE, a captured link reused with other card data finds the
// ORDERID taken.
func (h *Handler) claim(tx *sql.Tx, s Session, aliasID string) error {
	now := h.clock.Now()
	done, err := h.opts.Store.FinishSession(tx, s.ID, now)
	if err != nil {
		return err
	}
	if !done {
		return errSessionDone
	}
	if s.Request.OrderID == "" {
		return nil
	}
	if s.Request.AliasID != "" {
		prev, err := h.opts.Store.AliasOrder(tx, s.ShopID, s.Mode, s.Request.OrderID)
		if err == nil && prev.SessionID != s.ID {
			return fmt.Errorf("%w (alias %s)", errDuplicateOrder, prev.AliasID)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return h.opts.Store.InsertAliasOrder(tx, AliasOrder{ShopID: s.ShopID, Mode: s.Mode, OrderID: s.Request.OrderID,
		AliasID: aliasID, SessionID: s.ID, CreatedAt: now})
}

// claimFailed answers a failed claim and reports whether it did.
func (h *Handler) claimFailed(w http.ResponseWriter, r *http.Request, s Session, acct shop.Ogone, aliasID string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, errDuplicateOrder):
		// The buyer sees the generic message; the merchant's support finds
		// the cause in the error log.
		h.logError(r.Context(), s.ShopID, sourceFlex, "DUPLICATE_ORDERID",
			"alias update refused: ALIAS.ORDERID already created an alias (document 004 §3.1.1)",
			map[string]string{"pspid": s.Request.PSPID, "orderId": s.Request.OrderID, "aliasId": aliasID,
				"detail": strings.TrimPrefix(err.Error(), errDuplicateOrder.Error()+" ")})
		h.sessionPage(r.Context(), w, s, http.StatusConflict)
	case errors.Is(err, errSessionDone):
		h.sessionPage(r.Context(), w, s, http.StatusConflict)
	case errors.Is(err, vault.ErrTokenExists):
		// Created by a concurrent page between our lookup and our insert.
		h.sessionPage(r.Context(), w, s, http.StatusConflict)
	case errors.Is(err, vault.ErrNotAccount), errors.Is(err, vault.ErrTokenPurged):
		// The direct debit page named a card alias, or a purged one: it
		// cannot take an account. Refused input, as for a card alias.
		h.aliasRefused(w, r, s, acct)
	default:
		h.technicalError(w, r, s, acct, err)
	}
	return true
}

// aliasRefused ends the page and returns ALIAS.STATUS 1 to the DECLINEURL
// (else the EXCEPTIONURL) when ALIAS.ALIASID names an alias that cannot take
// the account entered.
func (h *Handler) aliasRefused(w http.ResponseWriter, r *http.Request, s Session, acct shop.Ogone) {
	err := h.opts.Store.WriteTx(r.Context(), func(tx *sql.Tx) error {
		_, err := h.opts.Store.FinishSession(tx, s.ID, h.clock.Now())
		return err
	})
	if err != nil {
		h.log.ErrorContext(r.Context(), "flexcheckout: session", "err", err)
	}
	res := Result{AliasID: s.Request.AliasID, OrderID: s.Request.OrderID, Status: AliasNOK, NCError: ncAliasNOK,
		NCErrorCardNo: ncDataValidation, StorePermanently: h.storeChoice(s, acct, nil)}
	h.redirect(w, r, s, acct, s.Request.declineURL(), res)
}

// technicalError returns ALIAS.STATUS 1 to the EXCEPTIONURL after an
// internal failure (logged; the page session is over).
func (h *Handler) technicalError(w http.ResponseWriter, r *http.Request, s Session, acct shop.Ogone, err error) {
	h.log.ErrorContext(r.Context(), "flexcheckout: storing the alias", "err", err)
	_ = h.opts.Store.WriteTx(r.Context(), func(tx *sql.Tx) error {
		_, err := h.opts.Store.FinishSession(tx, s.ID, h.clock.Now())
		return err
	})
	res := Result{AliasID: s.Request.AliasID, OrderID: s.Request.OrderID, Status: AliasNOK, NCError: ncTechnical,
		StorePermanently: h.storeChoice(s, acct, nil)}
	h.redirect(w, r, s, acct, s.Request.ExceptionURL, res)
}

// declineURL is where a refused card goes: DECLINEURL, else EXCEPTIONURL.
func (f FlexRequest) declineURL() string {
	if f.DeclineURL != "" {
		return f.DeclineURL
	}
	return f.ExceptionURL
}

// formError shows the form again with the buyer's mistakes, or, once the
// page has had MaxAttempts failed submits, returns ALIAS.STATUS 1 with the
// NCERROR fields to the DECLINEURL (else the EXCEPTIONURL).
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, s Session, acct shop.Ogone, fe fieldErrors) {
	ctx := r.Context()
	n, err := h.opts.Store.CountAttempt(ctx, s.ID)
	if errors.Is(err, ErrNotFound) {
		h.sessionPage(r.Context(), w, s, http.StatusConflict)
		return
	}
	if err != nil {
		h.log.ErrorContext(ctx, "flexcheckout: attempt", "err", err)
		h.failInternal(w, r, s.Request.Locale, err)
		return
	}
	if n < h.opts.MaxAttempts {
		fe.framed = formfocus.Framed(r)
		h.renderForm(ctx, w, s, acct, h.template(ctx, s), &fe, http.StatusOK)
		return
	}
	if !h.finish(w, r, s) {
		return
	}
	// As document 004 says, the card number is masked in an error too.
	res := fe.partial
	res.AliasID, res.OrderID, res.Status, res.StorePermanently = s.Request.AliasID, s.Request.OrderID, AliasNOK, h.storeChoice(s, acct, nil)
	res.NCError, res.NCErrorCardNo, res.NCErrorCN, res.NCErrorCVC, res.NCErrorED = ncAliasNOK, fe.cardNo, fe.cn, fe.cvc, fe.ed
	h.redirect(w, r, s, acct, s.Request.declineURL(), res)
}

func (h *Handler) template(ctx context.Context, s Session) *Template {
	if s.Request.TemplateName == "" {
		return nil
	}
	t, err := h.opts.Store.Template(ctx, s.ShopID, s.Request.TemplateName)
	if err != nil {
		return nil
	}
	return &t
}

// redirect sends the buyer to a return URL with the output fields.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, s Session, acct shop.Ogone, base string, res Result) {
	u, err := ReturnURL(base, res, acct.Settings.ReturnFields, s.Request.ParamPlus, acct.SHAAlgorithm, acct.SHAOut)
	if err != nil {
		h.log.ErrorContext(r.Context(), "flexcheckout: return URL", "err", err)
		h.sessionPage(r.Context(), w, s, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// cardInput is a card read from the form.
type cardInput struct {
	pan    card.PAN
	brand  card.Brand
	expiry card.Expiry
	holder string
	cvcLen int
}

// partial is what the NOK return may show of a card with errors: only the
// fields that were valid, masked.
func (c cardInput) partial() Result {
	var r Result
	if !c.pan.IsZero() {
		full := c.result("", "", "", "")
		r.Brand, r.BIN, r.CardNumber = full.Brand, full.BIN, full.CardNumber
	}
	r.HolderName = c.holder
	if !c.expiry.IsZero() {
		r.ExpiryDate = c.expiry.MMYY()
	}
	return r
}

func (c cardInput) result(aliasID, orderID, status, store string) Result {
	return Result{AliasID: aliasID, OrderID: orderID, Status: status, StorePermanently: store,
		Brand: BrandName(c.brand), BIN: c.pan.BIN(), CardNumber: maskCardNo(c.pan.Masked()),
		HolderName: c.holder, CVC: strings.Repeat("X", c.cvcLen), ExpiryDate: c.expiry.MMYY()}
}

// readCard validates the card fields. The security code is checked for its
// form only: FlexCheckout performs no operation on the card (Ingenico's
// FlexCheckout guide), and the code is never stored.
func (h *Handler) readCard(req FlexRequest, form Params) (cardInput, fieldErrors) {
	var (
		in cardInput
		fe fieldErrors
	)
	raw := strings.TrimSpace(form.Get("CARDNO"))
	if raw == "" {
		fe.add("cardno", msgErrCardEmpty, ncCardNumberEmpty)
	} else if pan, err := card.ParsePAN(raw); err != nil {
		fe.add("cardno", msgErrCardNumber, ncInvalidCardNumberAcq)
	} else if b, ok := cardBrandFor(pan, req.brandAllowed); !ok {
		fe.add("cardno", msgErrBrand, ncBrandNotSupported)
	} else if req.BIN != "" && !strings.HasPrefix(pan.Reveal(), req.BIN) {
		fe.add("cardno", msgErrBrand, ncBINCheck)
	} else {
		in.pan, in.brand = pan, b
	}
	in.holder = strings.TrimSpace(form.Get("CN"))
	fe.holder, fe.month, fe.year = in.holder, strings.TrimSpace(form.Get("EXPM")), strings.TrimSpace(form.Get("EXPY"))
	switch {
	case in.holder == "":
		fe.add("cn", msgErrHolder, ncPayerNameMissing)
	case utf8.RuneCountInString(in.holder) > 50:
		fe.add("cn", msgErrHolder, ncNameTooLong)
	}
	exp, err := card.ParseExpiry(form.Get("EXPM"), form.Get("EXPY"))
	switch {
	case err != nil:
		fe.add("expiry", msgErrExpiry, "31061001")
	case exp.Expired(h.clock.Now()):
		fe.add("expiry", msgErrExpired, ncExpiryInPast)
	default:
		in.expiry = exp
	}
	cvc := strings.TrimSpace(form.Get("CVC"))
	want := 3
	if in.brand == card.Amex {
		want = 4
	}
	switch {
	case cvc == "":
		fe.add("cvc", msgErrCVCEmpty, ncCVCMissing)
	case len(cvc) != want && !(in.brand == "" && (len(cvc) == 3 || len(cvc) == 4)):
		fe.add("cvc", msgErrCVC, ncCVCFormat)
	default:
		sc, err := card.NewSecurityCode(cvc)
		if err != nil {
			fe.add("cvc", msgErrCVC, ncCVCFormat)
		}
		in.cvcLen = len(sc.Reveal())
	}
	return in, fe
}

// submitAccount takes a SEPA bank account.
func (h *Handler) submitAccount(w http.ResponseWriter, r *http.Request, s Session, acct shop.Ogone, form Params) {
	ctx := r.Context()
	var fe fieldErrors
	holder := strings.TrimSpace(form.Get("HOLDER"))
	switch {
	case holder == "":
		fe.add("holder", msgErrHolder, ncPayerNameMissing)
	case utf8.RuneCountInString(holder) > 50:
		fe.add("holder", msgErrHolder, ncNameTooLong)
	}
	iban, err := ParseIBAN(form.Get("IBAN"))
	switch {
	case strings.TrimSpace(form.Get("IBAN")) == "":
		fe.add("iban", msgErrIBANEmpty, ncAccountNumberFormat)
	case err != nil:
		fe.add("iban", msgErrIBAN, ncAccountNumberFormat)
	}
	bic := strings.ToUpper(strings.TrimSpace(form.Get("BIC")))
	if bic == "" {
		bic = s.Request.BIC
	}
	if bic != "" && !ValidBIC(bic) {
		fe.add("bic", msgErrBIC, ncDataValidation)
	}
	if !fe.empty() {
		fe.holder, fe.bic = holder, bic
		fe.partial = Result{HolderName: holder, BIC: bic, Brand: s.Request.directDebitName()}
		if !iban.IsZero() {
			fe.partial.CardNumber = iban.Masked()
		}
		h.formError(w, r, s, acct, fe)
		return
	}
	choice := h.storeChoice(s, acct, form)
	aliasID := s.Request.AliasID
	if aliasID == "" {
		aliasID = newAliasID()
	}
	var ttl = TemporaryAliasTTL
	if choice == "Y" {
		ttl = 0
	}
	var updated, permanent bool
	err = h.opts.Store.WriteTx(ctx, func(tx *sql.Tx) error {
		if err := h.claim(tx, s, aliasID); err != nil {
			return err
		}
		var err error
		updated, permanent, err = h.opts.BankAccounts.SaveAccount(ctx, tx, AccountRequest{ShopID: s.ShopID, Mode: s.Mode, Token: aliasID,
			IBAN: iban, BIC: bic, Holder: holder, Method: s.Request.directDebitName(), OriginOrderID: s.Request.OrderID, TTL: ttl})
		return err
	})
	if h.claimFailed(w, r, s, acct, aliasID, err) {
		return
	}
	status := AliasOK
	if updated {
		status = AliasUpdated
	}
	if permanent {
		// An update never makes a permanent alias temporary again.
		choice = "Y"
	}
	h.redirect(w, r, s, acct, s.Request.AcceptURL, Result{AliasID: aliasID, OrderID: s.Request.OrderID, Status: status,
		StorePermanently: choice, Brand: s.Request.directDebitName(), CardNumber: iban.Masked(), HolderName: holder, BIC: bic})
}

// defaultPrimary is tokens.css's --psp-primary (flex.css's
// --flex-primary), the colour of a shop without one.
const defaultPrimary = "#1d4ed8"

// titleTag is the start tag of a merchant template's title.
var titleTag = regexp.MustCompile(`(?i)<title(?:\s[^>]*)?>`)

// prefixTitle starts the title of a merchant template's page with prefix
// ("Error: "), as our own page's after mistakes; a template without a
// title is left as it is.
func prefixTitle(page, prefix string) string {
	loc := titleTag.FindStringIndex(page)
	if loc == nil {
		return page
	}
	return page[:loc[1]] + template.HTMLEscapeString(prefix) + page[loc[1]:]
}

// trustedHTML marks our own rendered form as HTML for the page layout.
func trustedHTML(s string) template.HTML { return template.HTML(s) } //nolint:gosec // rendered by html/template

// newAliasID generates an alias as Ogone does: a GUID in uppercase
// (34F5302C-85D7-4F35-BDF5-103CCEC2FB61). Random, not time-ordered: an
// alias must not tell when it was made.
func newAliasID() string { return strings.ToUpper(uuid.NewString()) }

// errorInfo is what the error page says besides the generic message:
// its language, and once the request is known to be the merchant's, the
// shop's name and whether the page was for a bank account.
type errorInfo struct {
	lang, shopName string
	account        bool
}

// genericPage shows document 004's generic error message for a request
// that is not known to be the merchant's.
func (h *Handler) genericPage(w http.ResponseWriter, lang string, code int) {
	h.errorPage(w, errorInfo{lang: lang}, code)
}

// sessionPage shows the generic error page of a page session: in its
// language, with its shop's name.
func (h *Handler) sessionPage(ctx context.Context, w http.ResponseWriter, s Session, code int) {
	h.errorPage(w, errorInfo{lang: s.Request.Language, shopName: h.shopName(ctx, s.ShopID), account: s.Request.DirectDebit()}, code)
}

// shopName is the name of a shop for a page title, "" when it cannot be
// read (the page is shown without it).
func (h *Handler) shopName(ctx context.Context, shopID string) string {
	sh, err := h.opts.Accounts.Get(ctx, shopID)
	if err != nil {
		h.log.ErrorContext(ctx, "flexcheckout: shop name", "err", err)
		return ""
	}
	return sh.Name
}

// directDebitParams reports whether request parameters ask for a bank
// account (FlexRequest.DirectDebit, for a request that did not parse).
func directDebitParams(ps Params) bool {
	_, ok := directDebit(ps.Get(fCardPaymentMethod))
	if !ok {
		_, ok = directDebit(ps.Get(fCardBrand))
	}
	return ok
}

// errorPage shows document 004's generic error message, titled with what
// is unavailable (and the shop's name when known), as the hosted payment
// pages are. It may be framed by anyone: it holds nothing to click.
func (h *Handler) errorPage(w http.ResponseWriter, e errorInfo, code int) {
	lang := language(e.lang)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors *")
	// The address may hold a session id: no page it leads to learns it.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	_ = h.tmpl.ExecuteTemplate(w, "error.html", pageData{Lang: lang, Static: staticPath, ShopName: e.shopName, DirectDebit: e.account})
}

// failInternal answers a request that failed on err (logged by the
// caller): the temporarily-unavailable page when err says the database
// cannot be reached (Options.Unavailable), else the generic error page.
func (h *Handler) failInternal(w http.ResponseWriter, r *http.Request, locale string, err error) {
	if h.opts.Unavailable != nil && h.opts.Unavailable(w, r, locale, err) {
		return
	}
	h.genericPage(w, language(locale), http.StatusInternalServerError)
}

// pageData feeds the page templates.
type pageData struct {
	Lang         string
	Static       string
	Action       string
	CancelAction string
	DirectDebit  bool
	Method       string
	Brands       []string
	FixedBrand   string
	Months       []string
	Years        []string
	SelMonth     string
	SelYear      string
	OptIn        bool
	BIC          string
	Errors       map[string]string
	Attempts     string
	Holder       string // the cardholder or account holder entered
	ShopName     string // in the title after the page's own, as on the hosted pages
	Framed       bool   // the form comes back with mistakes into a frame (FocusRefresh)
	// The shop's colour (shop.PaletteFor), empty for flex.css's default
	// blue; Nonce lets its style element through the page's policy.
	Primary, OnPrimary, PrimaryUI template.CSS
	Nonce                         string
}

// Heading is the page's own title: what it is for, or on the error page,
// what is unavailable.
func (d pageData) Heading(errorPage bool) string {
	switch {
	case errorPage && d.DirectDebit:
		return T(d.Lang, msgErrorTitleAcct)
	case errorPage:
		return T(d.Lang, msgErrorTitle)
	case d.DirectDebit:
		return T(d.Lang, msgTitleAccount)
	}
	return T(d.Lang, msgTitleCard)
}

// T translates a message key into the page language.
func (d pageData) T(key string) string { return T(d.Lang, key) }

// Err returns the translated error of a form field, or "".
func (d pageData) Err(field string) string {
	if k, ok := d.Errors[field]; ok {
		return T(d.Lang, k)
	}
	return ""
}

// fieldOrder is the order of the form's fields on the page: the first one
// with an error takes the focus when the form comes back.
var fieldOrder = []string{"holder", "iban", "bic", "cardno", "cn", "expiry", "cvc"}

// Focus tells whether field is the first one with an error: it gets the
// autofocus attribute, so that a buyer who sent the form lands on the
// mistake, its error read out by its aria-describedby (the page has no
// script to move the focus).
func (d pageData) Focus(field string) bool { return d.firstError() == field }

func (d pageData) firstError() string {
	return formfocus.First(fieldOrder, func(f string) bool { _, ok := d.Errors[f]; return ok })
}

// fieldIDs are the ids of the elements of the form's fields (the expiry's
// is its month).
var fieldIDs = map[string]string{"holder": "holder", "iban": "iban", "bic": "bic", "cardno": "cardno", "cn": "cn",
	"expiry": "expm", "cvc": "cvc"}

// FocusRefresh is, for a form sent back with mistakes into a frame, a
// refresh to the first invalid field's fragment (formfocus.Refresh):
// Chromium ignores autofocus in a frame of another origin than the top
// page's. Measured in TestBrowserFlexFocusInCrossOriginFrame.
func (d pageData) FocusRefresh() template.HTML {
	return formfocus.Refresh(d.Framed, fieldIDs[d.firstError()])
}

// renderForm shows the page: our own layout, or the merchant's template
// with the form in its payment zone.
func (h *Handler) renderForm(ctx context.Context, w http.ResponseWriter, s Session, acct shop.Ogone, tpl *Template, fe *fieldErrors, code int) {
	req := s.Request
	now := h.clock.Now()
	d := pageData{Lang: req.Language, Static: staticPath, Action: FlexCheckoutPath + "/" + s.ID,
		CancelAction: FlexCheckoutPath + "/" + s.ID + "/cancel", DirectDebit: req.DirectDebit(),
		Method: req.directDebitName(), Brands: req.Brands(), OptIn: acct.Settings.AliasOptIn, BIC: req.BIC,
		Nonce: ids.RandomHex(16)}
	// The shop's name and colour, as on the hosted payment page; a shop
	// that cannot be read keeps the default colours rather than losing the
	// page.
	if sh, err := h.opts.Accounts.Get(ctx, s.ShopID); err != nil {
		h.log.ErrorContext(ctx, "flexcheckout: shop colour", "err", err)
	} else {
		d.ShopName = sh.Name
		if shop.ValidPrimaryColor(sh.Settings.PrimaryColor) {
			p := shop.PaletteFor(sh.Settings.PrimaryColor, defaultPrimary)
			d.Primary, d.OnPrimary, d.PrimaryUI = template.CSS(p.Color), template.CSS(p.On), template.CSS(p.UI)
		}
	}
	if req.Brand != "" {
		d.FixedBrand = req.Brand
	}
	for m := 1; m <= 12; m++ {
		d.Months = append(d.Months, fmt.Sprintf("%02d", m))
	}
	for y := now.Year(); y <= now.Year()+15; y++ {
		d.Years = append(d.Years, strconv.Itoa(y))
	}
	// A new form starts on the first expiry that is not past: left on
	// the first option (January of this year), the buyer was told from
	// February on that the card had expired.
	d.SelMonth, d.SelYear = fmt.Sprintf("%02d", int(now.Month())), strconv.Itoa(now.Year())
	if fe != nil {
		d.Errors, d.Holder, d.SelMonth, d.SelYear = fe.msgs, fe.holder, fe.month, fe.year
		d.Framed = fe.framed
		if fe.bic != "" {
			d.BIC = fe.bic
		}
	}
	var form bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&form, "form.html", d); err != nil {
		h.log.Error("flexcheckout: rendering the form", "err", err)
		h.sessionPage(ctx, w, s, http.StatusInternalServerError)
		return
	}
	var page bytes.Buffer
	if tpl != nil {
		before, after, _ := strings.Cut(tpl.HTML, PaymentZone)
		if len(d.Errors) > 0 {
			before = prefixTitle(before, T(d.Lang, msgErrorPrefix))
		}
		page.WriteString(before)
		page.Write(form.Bytes())
		page.WriteString(after)
	} else if err := h.tmpl.ExecuteTemplate(&page, "page.html", struct {
		pageData
		Form any
	}{d, trustedHTML(form.String())}); err != nil {
		h.log.Error("flexcheckout: rendering the page", "err", err)
		h.sessionPage(ctx, w, s, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", pageCSP(req, acct, tpl != nil, d.Nonce))
	w.WriteHeader(code)
	_, _ = w.Write(page.Bytes())
}

// pageCSP is the page's Content-Security-Policy: no script at all (the form
// works without), forms only to us and to the return URLs' origins
// (Chromium applies form-action to the redirect that follows a submit;
// cspOrigin keeps out a host a CSP would read as more), framing only by
// frameAncestors. A merchant template may bring its styles, fonts and
// images from any https origin.
func pageCSP(req FlexRequest, acct shop.Ogone, merchant bool, nonce string) string {
	actions := []string{"'self'"}
	seen := map[string]bool{}
	for _, u := range []string{req.AcceptURL, req.ExceptionURL, req.DeclineURL} {
		if o := cspOrigin(u, false); o != "" && !seen[o] {
			seen[o] = true
			actions = append(actions, o)
		}
	}
	ancestors := strings.Join(frameAncestors(req, acct), " ")
	// The nonce lets the form's own style element (the shop's colour)
	// through. Not on a merchant template: a nonce would make browsers
	// ignore its 'unsafe-inline', which lets that element through anyway.
	style, img := "style-src 'self' 'nonce-"+nonce+"'", "img-src 'self' data:"
	if merchant {
		style, img = "style-src 'self' 'unsafe-inline' https:; font-src 'self' https: data:", "img-src 'self' https: data:"
	}
	return "default-src 'none'; script-src 'none'; " + style + "; " + img + "; form-action " + strings.Join(actions, " ") +
		"; frame-ancestors " + ancestors + "; base-uri 'none'"
}

// frameAncestors are the origins that may show the page in a frame.
// OpenPSP's own pages (the demo merchant) always may. Then the PSPID's list
// when one is set (it replaces what follows; FrameAncestorsSelf alone: no
// other site); else the origins of the request's return URLs, as Ingenico
// lets a merchant frame FlexCheckout in its checkout without a setting.
// Those are safe to allow: the request reached the page only with a valid
// SHA-IN, which covers every parameter, so only the merchant can name them,
// and a signed link framed by another site is refused by the browser
// (frame-ancestors is checked against every ancestor). Only plain
// scheme://host[:port] origins (no wildcard, nothing a CSP would read
// otherwise), and on a PRODUCTION PSPID https or loopback http only, as
// the hosted page requires of its returns.
func frameAncestors(req FlexRequest, acct shop.Ogone) []string {
	out := []string{"'self'"}
	seen := map[string]bool{}
	if len(acct.Settings.FrameAncestors) > 0 {
		for _, o := range acct.Settings.FrameAncestors {
			if o != FrameAncestorsSelf && !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
		return out
	}
	production := accountMode(acct) == shop.ModeProduction
	for _, u := range []string{req.AcceptURL, req.ExceptionURL, req.DeclineURL} {
		if o := cspOrigin(u, production); o != "" && !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}

// cspOrigin is the origin of a return URL as a CSP source (frame-ancestors,
// form-action):
// http(s), a host of letters, digits, dots and dashes or an IP literal, and
// a port; "" for anything else, and on production for http other than on
// localhost or a loopback address.
func cspOrigin(s string, production bool) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	ip := net.ParseIP(host)
	if host == "" || (ip == nil && strings.ContainsFunc(host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-')
	})) {
		return ""
	}
	if port := u.Port(); strings.ContainsFunc(port, func(r rune) bool { return r < '0' || r > '9' }) {
		return ""
	}
	if production && u.Scheme == "http" && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return ""
	}
	return u.Scheme + "://" + strings.ToLower(u.Host)
}
