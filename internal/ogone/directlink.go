package ogone

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clientip"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/money"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// Ogone transaction statuses (STATUS) DirectLink answers (compat.md §2.5).
const (
	stInvalid        = 0
	stRefused        = 2
	stAuthorised     = 5
	stAuthUnknown    = 52
	stCancelled      = 6
	stCancelPending  = 61
	stCancelRefused  = 63
	stRefund         = 8
	stRefundPending  = 81
	stRefundRefused  = 83
	stRefundError    = 84
	stPaymentDone    = 9
	stPaymentPending = 91
	stPaymentRefused = 93
)

// DefaultECI is the ECI an order without one gets when its PSPID sets no
// default ECI: 7, e-commerce (Ingenico applies the account's default ECI,
// which the merchant's value overrides, and answers the one applied).
const DefaultECI = "7"

// ValidDefaultECI checks a PSPID's default ECI: one of the values Ingenico
// lets an account choose (Technical information > Global transaction
// parameters > Default ECI value): 1 MOTO, 2 recurring MOTO, 3
// instalments, 4 keyed card present, 7 e-commerce, 9 recurring e-commerce.
// 5 and 6 say a 3-D Secure authentication happened, which no default can.
func ValidDefaultECI(v string) error {
	switch v {
	case "1", "2", "3", "4", "7", "9":
		return nil
	}
	return fmt.Errorf("ogone: default ECI must be 1, 2, 3, 4, 7 or 9, not %q", v)
}

// ValidDefaultOperation checks a PSPID's default operation, uppercased:
// RES (authorisation) or SAL (sale), the two payment procedures an
// Ingenico account chooses between for orders that send no OPERATION.
func ValidDefaultOperation(v string) error {
	switch v {
	case "RES", "SAL":
		return nil
	}
	return fmt.Errorf("ogone: default operation must be RES (authorisation) or SAL (sale), not %q", v)
}

// defaultOperation is the OPERATION an order of the account gets when it
// sends none.
func defaultOperation(acct shop.Ogone) string {
	if acct.Settings.DefaultOperation != "" {
		return acct.Settings.DefaultOperation
	}
	return "RES"
}

// defaultECI is the ECI an order of the account gets when it sends none.
func defaultECI(acct shop.Ogone) string {
	if acct.Settings.DefaultECI != "" {
		return acct.Settings.DefaultECI
	}
	return DefaultECI
}

// ncResponse is one <ncresponse/> answer; attrs keeps Ogone's order.
type ncResponse struct {
	attrs []Param
}

func (n *ncResponse) set(name, value string) {
	for i := range n.attrs {
		if n.attrs[i].Name == name {
			n.attrs[i].Value = value
			return
		}
	}
	n.attrs = append(n.attrs, Param{name, value})
}

// errorResponse is the answer to a request refused before any order exists.
func errorResponse(orderID, ncerror, plus string) *ncResponse {
	n := &ncResponse{}
	n.set("orderID", orderID)
	n.set("PAYID", "0")
	n.set("NCSTATUS", ncStatus(ncerror))
	n.set("NCERROR", ncerror)
	n.set("ACCEPTANCE", "")
	n.set("STATUS", "0")
	n.set("amount", "")
	n.set("currency", "")
	n.set("PM", "")
	n.set("BRAND", "")
	n.set("NCERRORPLUS", plus)
	return n
}

// echoCurrency gives a refused order's answer the CURRENCY its request
// sent, as Ingenico's answers to refused orders carry it (amount empty):
// only a known currency, and only where the answer has none.
func (n *ncResponse) echoCurrency(ps Params) {
	for _, a := range n.attrs {
		if a.Name == "currency" && a.Value != "" {
			return
		}
	}
	if c, ok := money.Lookup(strings.ToUpper(strings.TrimSpace(ps.Get("CURRENCY")))); ok {
		n.set("currency", c.Code)
	}
}

// write sends the answer. On the legacy pages (ISO-8859-1) an answer that
// is all ASCII, the same bytes in both encodings, begins
// <?xml version="1.0"?> as Ingenico's do (DirectLink guide, "Order
// response"): Go's encoding/xml, for one, refuses a document that declares
// ISO-8859-1 unless the caller brings a CharsetReader. One that is not
// ASCII (an ORDERID in Latin-1) declares the encoding it is written in.
func (n *ncResponse) write(w http.ResponseWriter, cs Charset) {
	var b bytes.Buffer
	for _, a := range n.attrs {
		b.WriteString("\n" + a.Name + `="`)
		_ = xml.EscapeText(&b, []byte(a.Value))
		b.WriteString(`"`)
	}
	attrs := b.String()
	enc, decl := "UTF-8", ` encoding="UTF-8"`
	if cs == Latin1 {
		enc, decl = "ISO-8859-1", ""
		if !isASCII(attrs) {
			decl = ` encoding="ISO-8859-1"`
		}
	}
	body := []byte(`<?xml version="1.0"` + decl + `?>` + "\n<ncresponse" + attrs + ">\n</ncresponse>\n")
	if cs == Latin1 {
		body = encodeLatin1(string(body))
	}
	w.Header().Set("Content-Type", "text/xml; charset="+enc)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// dlRequest is an authenticated DirectLink request.
type dlRequest struct {
	params Params
	acct   shop.Ogone
	mode   string
	cs     Charset
}

// directLink serves orderdirect, maintenancedirect and querydirect, in
// UTF-8 (_utf8.asp) or ISO-8859-1. Every answer is an ncresponse document
// with HTTP 200, as Ogone answers, errors included.
func (h *Handler) directLink(w http.ResponseWriter, r *http.Request) {
	page := path.Base(r.URL.Path)
	cs := Latin1
	if strings.HasSuffix(page, "_utf8.asp") {
		cs = UTF8
	}
	mode := ""
	switch r.PathValue("env") {
	case "test":
		mode = shop.ModeTest
	case "prod":
		mode = shop.ModeProduction
	default:
		http.NotFound(w, r)
		return
	}
	if plus := paramsInURL(r.URL.RawQuery); plus != "" {
		// Nothing is read nor checked (no payment, no login attempt):
		// a card number or password in a URL is in the logs of every
		// proxy and web server on the way, whatever this answer does.
		h.log.WarnContext(r.Context(), "directlink: request with parameters in its URL refused", "page", page, "ncerrorplus", plus,
			"remote", clientip.Of(r))
		errorResponse("", ncDataValidation, plus).write(w, cs)
		return
	}
	if r.Method != http.MethodPost {
		errorResponse("", ncDataValidation, "requests must be sent with POST").write(w, cs)
		return
	}
	ps, err := ParseParams(r, cs)
	if err != nil {
		errorResponse("", ncDataValidation, "malformed request").write(w, cs)
		return
	}
	orderID := ps.Get("ORDERID")
	if utf8.RuneCountInString(orderID) > 40 {
		orderID = ""
	}
	op := strings.TrimSuffix(strings.TrimSuffix(page, ".asp"), "_utf8")
	req, fail := h.authenticate(r.Context(), clientip.Of(r), ps, mode, cs, op != "querydirect")
	if fail != nil {
		fail.set("orderID", orderID)
		if op == "orderdirect" {
			fail.echoCurrency(ps)
		}
		fail.write(w, cs)
		return
	}
	var resp *ncResponse
	// What the order or operation does while it is answered, the answer
	// says: no post-sale request for it (postsale.go).
	ctx := withAnswer(r.Context())
	switch op {
	case "orderdirect":
		resp = h.orderDirect(ctx, req)
		resp.echoCurrency(req.params)
	case "maintenancedirect":
		resp = h.maintenanceDirect(ctx, req)
	default:
		resp = h.queryDirect(r.Context(), req)
	}
	// In the charset the request was read in: the account's on the pages
	// without _utf8.
	resp.write(w, req.cs)
}

// urlSecrets are the DirectLink parameters that must never be in a URL: the
// card number, its security code (and Ingenico's alternative to it) and
// the API user's password.
var urlSecrets = map[string]bool{"CARDNO": true, "CVC": true, "ECOM_PAYMENT_CARD_VERIFICATION": true, "PSWD": true}

// paramsInURL is the NCERRORPLUS refusing a DirectLink request whose URL
// has a query string, "" when it has none. DirectLink reads the POST body
// only: Ingenico's PCI guidance ("Ensure PCI compliancy") names a POST
// with the data in its URL non-compliant and the body the only compliant
// place, and the integrations (ActiveMerchant, the Ingenico modules) post
// every parameter in the body. Ignoring the query would leave a merchant
// puzzling over a missing parameter; reading it would process a card
// number or password that proxies and web servers have logged. The
// parameters are named, upper-cased, never their values; a name that does
// not read as one (more than 5 digits: a card number written as a name)
// is not echoed either.
func paramsInURL(raw string) string {
	var names []string
	seen, secret := map[string]bool{}, false
	for _, pair := range strings.Split(raw, "&") {
		n, _, _ := strings.Cut(pair, "=")
		if u, err := url.QueryUnescape(n); err == nil {
			n = u
		}
		n = strings.ToUpper(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		secret = secret || urlSecrets[n]
		digits := 0
		for _, c := range []byte(n) {
			if c >= '0' && c <= '9' {
				digits++
			}
		}
		if digits > 5 || len(n) > 40 || !printableASCII(n) {
			n = "(a parameter not named here)"
		}
		if !seen[n] && len(names) < 10 {
			seen[n] = true
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	if secret {
		return strings.Join(names, ", ") + " sent in the URL: a card number, security code or password must never be in a URL " +
			"(proxies and web servers log it); the request is not processed: send every parameter in the POST body"
	}
	return strings.Join(names, ", ") + " sent in the URL: DirectLink reads the POST body only; send every parameter in the POST body"
}

// authenticate finds the PSPID, checks SHASIGN (required on orders and
// maintenance) and the API user's password, in that order, answering the
// NCERROR Ogone gives for each. An unknown PSPID and a wrong user or
// password are logged as failed logins from remote.
func (h *Handler) authenticate(ctx context.Context, remote string, ps Params, mode string, cs Charset, needSHA bool) (dlRequest, *ncResponse) {
	pspid := strings.TrimSpace(ps.Get("PSPID"))
	if pspid == "" {
		return dlRequest{}, errorResponse("", "50001004", "no PSPID")
	}
	acct, err := h.opts.Accounts.OgoneAccount(ctx, pspid)
	if errors.Is(err, shop.ErrNotFound) || (err == nil && accountMode(acct) != mode) {
		h.opts.FailedLogins.Failed(ctx, "directlink", pspid, remote, "PSPID not found in "+strings.ToLower(mode))
		return dlRequest{}, errorResponse("", ncPSPIDNotFound, "PSPID not found or not active in this environment")
	}
	if err != nil {
		h.log.ErrorContext(ctx, "directlink: account", "err", err)
		return dlRequest{}, errorResponse("", ncTechnical, "a technical problem occurred, please try again")
	}
	if wait, locked := h.opts.FailedLogins.Locked(ctx, "directlink", pspid, remote); locked {
		// Neither SHASIGN nor the password is checked while the lock
		// lasts: a guessing run learns nothing.
		h.opts.FailedLogins.Refused(ctx, "directlink", pspid, remote, wait)
		secs := max(1, int((wait+time.Second-1)/time.Second))
		return dlRequest{}, errorResponse("", ncPasswordIncorrect,
			"too many failed logins for this PSPID from this address: retry in "+strconv.Itoa(secs)+" seconds")
	}
	if cs == Latin1 && acct.Settings.Charset == CharsetUTF8 {
		// The account reads UTF-8 on the pages without _utf8, as
		// Ingenico's "Global security parameters" may say: the bytes read
		// as ISO-8859-1 (unchanged) are read again as UTF-8.
		u, err := asUTF8(ps)
		if err != nil {
			return dlRequest{}, errorResponse("", ncDataValidation, "the request is not valid UTF-8, the PSPID's character encoding")
		}
		ps, cs = u, UTF8
	}
	given := ps.Get("SHASIGN")
	if given == "" && needSHA {
		h.logError(ctx, acct.ShopID, sourceDirectLink, "SHA_MISSING", "unknown order/0/s/: SHASIGN is missing", map[string]string{"pspid": pspid})
		return dlRequest{}, errorResponse("", ncDataValidation, "unknown order/0/s/")
	}
	if given != "" && !shaInMatches(acct, ps, cs, given) {
		h.logError(ctx, acct.ShopID, sourceDirectLink, "SHA_MISMATCH", "unknown order/1/s/: SHASIGN does not match the SHA-IN of the parameters sent", map[string]string{"pspid": pspid})
		// SHA-IN is a secret too: guessing it counts towards the lock.
		h.opts.FailedLogins.WrongPassword(ctx, "directlink", pspid, pspid, remote, "SHASIGN does not match")
		return dlRequest{}, errorResponse("", ncDataValidation, "unknown order/1/s/")
	}
	if _, err := h.opts.Accounts.AuthenticateDirectLink(ctx, pspid, ps.Get("USERID"), ps.Get("PSWD")); err != nil {
		if !errors.Is(err, shop.ErrNotFound) {
			h.log.ErrorContext(ctx, "directlink: authentication", "err", err)
			return dlRequest{}, errorResponse("", ncTechnical, "a technical problem occurred, please try again")
		}
		h.opts.FailedLogins.WrongPassword(ctx, "directlink", pspid, pspid+"/"+ps.Get("USERID"), remote, "wrong USERID or PSWD")
		return dlRequest{}, errorResponse("", ncPasswordIncorrect, "USERID or PSWD incorrect")
	}
	h.opts.FailedLogins.Succeeded(ctx, "directlink", pspid, remote)
	return dlRequest{params: ps, acct: acct, mode: mode, cs: cs}, nil
}

// asUTF8 reads again as UTF-8 parameters that were read as ISO-8859-1,
// whose strings hold the request's bytes unchanged (one rune per byte).
func asUTF8(ps Params) (Params, error) {
	out := make(Params, len(ps))
	for i, p := range ps {
		v, err := decode(string(encodeLatin1(p.Value)), UTF8)
		if err != nil {
			return nil, err
		}
		out[i] = Param{Name: p.Name, Value: v}
	}
	return out, nil
}

// shaInMatches checks a DirectLink SHASIGN. Ingenico hashes the sent
// parameters that are on its SHA-IN list (SHAInKeep), and the libraries
// merchants use sign that way (marlon-ogone, open-forms); others sign every
// parameter sent (Odoo, Django-ogone), which is the same string whenever
// every parameter is on the list. Either is accepted: every parameter
// DirectLink acts on is on the list, so both cover what matters.
func shaInMatches(acct shop.Ogone, ps Params, cs Charset, given string) bool {
	ok := false
	for _, keep := range []func(string) bool{nil, SHAInKeep} {
		s := ComposeSHA(ps, acct.SHAIn, keep)
		raw := []byte(s)
		if cs == Latin1 {
			raw = encodeLatin1(s)
		}
		want, err := Digest(acct.SHAAlgorithm, raw)
		if err == nil && VerifyDigest(want, given) {
			ok = true
		}
	}
	return ok
}

// parseOgoneAmount reads AMOUNT, which Ogone always sends multiplied by
// 100 whatever the currency's decimals (1.50 EUR → 150; 1500 JPY → 150000).
func parseOgoneAmount(s string, c money.Currency) (int64, string, string) {
	if s == "" || len(s) > 15 {
		return 0, ncAmountNotNumber, "invalid amount"
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, ncAmountNotNumber, "amount is not a number"
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, ncDataValidation, "invalid amount"
	}
	switch {
	case c.Exponent == 2:
		return v, "", ""
	case c.Exponent > 2:
		f := int64(1)
		for i := 2; i < c.Exponent; i++ {
			f *= 10
		}
		return v * f, "", ""
	default:
		f := int64(1)
		for i := c.Exponent; i < 2; i++ {
			f *= 10
		}
		if v%f != 0 {
			return 0, ncInvalidDecimals, "invalid number of decimals for the currency"
		}
		return v / f, "", ""
	}
}

// formatAmount writes an amount as Ogone's answers do: major units, no
// trailing zeros ("1", "4.5", "12.34").
func formatAmount(minor int64, cur string) string {
	c, ok := money.Lookup(cur)
	if !ok {
		return ""
	}
	s := money.FormatMinor(minor, c)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// parseExpiry reads ED: MMYY, MM/YY or MM/YYYY.
func parseExpiry(s string) (card.Expiry, error) {
	s = strings.TrimSpace(s)
	m, y, ok := strings.Cut(s, "/")
	if !ok {
		if len(s) != 4 {
			return card.Expiry{}, card.ErrInvalidExpiry
		}
		m, y = s[:2], s[2:]
	}
	return card.ParseExpiry(m, y)
}

// newPAYID draws a ten-digit PAYID. Random rather than sequential so that
// copies of OpenPSP need no shared counter and PAYIDs tell nothing about
// volumes; InsertOrder refuses a taken one and the caller draws again.
func newPAYID() int64 {
	n, err := rand.Int(rand.Reader, big.NewInt(6_999_999_999))
	if err != nil {
		panic("ogone: crypto/rand failed: " + err.Error())
	}
	return 3_000_000_000 + n.Int64()
}

// OrderStartLimit bounds how long after its row is written an order's
// payment can still start: far beyond any request's life (the acquirer's
// timeout, the server's write timeout). querydirect answers an order whose
// row is still unbound to a payment after it as invalid (STATUS 0).
const OrderStartLimit = time.Hour

// orderDirect is a new order: RES (authorisation), PAU (pre-authorisation,
// handled as RES) or SAL (sale), with an ALIAS or a card.
func (h *Handler) orderDirect(ctx context.Context, dl dlRequest) *ncResponse {
	ps := dl.params
	orderID := strings.TrimSpace(ps.Get("ORDERID"))
	fail := func(code, plus string) *ncResponse { return errorResponse(orderID, code, plus) }
	switch {
	case orderID == "":
		return fail(ncDataValidation, "no orderid")
	case utf8.RuneCountInString(orderID) > 40:
		return errorResponse("", ncDataValidation, "orderid too long")
	}
	cur, ok := money.Lookup(strings.ToUpper(strings.TrimSpace(ps.Get("CURRENCY"))))
	if !ok {
		return fail(ncInvalidCurrency, "invalid currency")
	}
	amount, code, plus := parseOgoneAmount(strings.TrimSpace(ps.Get("AMOUNT")), cur)
	if code != "" {
		return fail(code, plus)
	}
	operation := strings.ToUpper(strings.TrimSpace(ps.Get("OPERATION")))
	switch operation {
	case "":
		operation = defaultOperation(dl.acct)
	case "RES", "SAL", "PAU":
	default:
		return fail(ncOperationNotAllowed, "operation not allowed: "+safeName(operation))
	}
	eci := strings.TrimSpace(ps.Get("ECI"))
	switch {
	case eci == "":
		eci = defaultECI(dl.acct)
	case len(eci) != 1 || !strings.Contains("012345679", eci):
		return fail(ncECI, "invalid ECI")
	}
	persist := strings.ToUpper(strings.TrimSpace(ps.Get("ALIASPERSISTEDAFTERUSE")))
	if persist != "" && persist != "Y" && persist != "N" {
		return fail(ncDataValidation, "ALIASPERSISTEDAFTERUSE must be Y or N")
	}
	cn := strings.TrimSpace(ps.Get("CN"))
	if utf8.RuneCountInString(cn) > 35 {
		return fail(ncNameTooLong, "card holder name too long")
	}
	alias := strings.TrimSpace(ps.Get("ALIAS"))
	if alias != "" && vault.ValidateToken(alias) != nil {
		return fail(ncDataValidation, "invalid alias")
	}
	shopID := dl.acct.ShopID
	pay := PayRequest{ShopID: shopID, Mode: dl.mode, OrderID: orderID, Amount: amount, Currency: cur.Code,
		Holder: cn, Email: strings.TrimSpace(ps.Get("EMAIL")), Capture: operation == "SAL", ECI: eci}

	if h.opts.Payments == nil {
		return fail(ncTechnical, "DirectLink payments are not available")
	}
	// An ORDERID that already has a successful order is refused, as
	// Ogone refuses it; after a refusal the merchant may try again. A
	// refused order changes nothing, the alias it names included.
	prev, err := h.opts.Store.OrdersByOrderID(ctx, shopID, dl.mode, orderID)
	if err != nil {
		h.log.ErrorContext(ctx, "directlink: orders", "err", err)
		return fail(ncTechnical, "a technical problem occurred, please try again")
	}
	for _, o := range prev {
		if o.Status != stInvalid && o.Status != stRefused {
			return fail(ncAlreadyProcessed, "this order has already been processed")
		}
	}

	// The card: entered (CARDNO, ED, CVC), kept under the ALIAS too when
	// one is named (saveAlias), or the card of an existing alias.
	saveAlias := false
	if raw := strings.TrimSpace(ps.Get("CARDNO")); raw != "" {
		pan, err := card.ParsePAN(raw)
		if err != nil {
			return fail(ncCardNumberIncorrect, "invalid card number")
		}
		exp, err := parseExpiry(ps.Get("ED"))
		if err != nil {
			return fail(ncExpiryError, "invalid expiry date")
		}
		if exp.Expired(h.clock.Now()) {
			return fail(ncExpiryInPast, "expiry date in the past")
		}
		if cvc := strings.TrimSpace(ps.Get("CVC")); cvc != "" {
			sc, err := card.NewSecurityCode(cvc)
			if err != nil {
				return fail(ncCVCFormat, "invalid CVC")
			}
			pay.CVC = sc
		}
		pay.PAN, pay.Expiry = pan, exp
		if alias != "" {
			// The order pays with the card it carries, and the card goes
			// under the ALIAS only once the payment is accepted, in the
			// very write that records the acceptance (keptCardAccepted):
			// as Ingenico updates an alias's financial details only when
			// the transaction is successful on its platform (Alias
			// Manager, "Alias usage" §3.1.1), a refused, invalid or failed
			// order neither creates the alias nor changes its card. Until
			// then the card is not held in this process's memory only: the
			// write that starts the payment seals it in the vault, as a
			// deferred debit's card (KeepCard), so that an acceptance
			// recovery learns of — an answer lost to a crash or a timeout
			// (STATUS 52) — stores the alias as this call would have. Any
			// other end erases it. The order row names the ALIAS it asked
			// for; an answer says ALIAS only when the payment's token is
			// that alias, which the same write sets.
			if resp := h.aliasTakesCard(ctx, dl, alias); resp != nil {
				resp.set("orderID", orderID)
				return resp
			}
			saveAlias = true
			pay.KeepCard = true
			if persist == "N" {
				pay.KeepCardTemporary = true
			}
		}
	} else if alias == "" {
		return fail(ncCardNumberEmpty, "no card no")
	}
	var keep func(tx *sql.Tx) error // what the start write does for an alias that pays
	var aliasCard PaymentTx         // the brand and masked number of an alias that pays
	if alias != "" && !saveAlias {
		t, err := h.opts.Vault.Get(ctx, shopID, dl.mode, alias)
		switch {
		case errors.Is(err, vault.ErrTokenNotFound):
			return fail(ncDataValidation, "unknown alias")
		case err != nil:
			h.log.ErrorContext(ctx, "directlink: alias", "err", err)
			return fail(ncTechnical, "a technical problem occurred, please try again")
		case t.Method == vault.MethodSDD:
			return fail(ncDataValidation, "the alias holds a bank account, not a card")
		}
		switch t.StatusAt(h.clock.Now()) {
		case vault.StatusPurged:
			return fail(ncDataValidation, "alias deleted")
		case vault.StatusCancelled:
			return fail(ncDataValidation, "alias not active")
		case vault.StatusExpired:
			return fail(ncExpiryInPast, "the card of the alias has expired")
		}
		pay.Token = alias
		aliasCard.Brand, aliasCard.PANMasked = string(t.Brand), t.PANMasked
		// ALIASPERSISTEDAFTERUSE: a temporary alias used without N is
		// kept (document 004: "if the transaction does not contain this
		// parameter/value combination, the alias will be retained"). It
		// is kept in the write that starts the payment, so that the
		// expiry job cannot destroy it while the acquirer answers; an
		// alias whose time is up by then stops the payment.
		if persist != "N" && !t.Permanent {
			keep = func(tx *sql.Tx) error {
				err := h.opts.Vault.MakePermanentTx(tx, shopID, dl.mode, alias)
				if errors.Is(err, vault.ErrTokenPurged) {
					return &errs.Error{Code: errs.TokenPurged, Message: "paymentMethodToken purged", Field: "paymentMethodToken"}
				}
				return err
			}
		}
	}

	now := h.clock.Now()
	order := Order{ShopID: shopID, Mode: dl.mode, OrderID: orderID, Operation: operation, Status: stInvalid, Alias: alias,
		ECI: eci, PM: "CreditCard", CreatedAt: now, UpdatedAt: now}
	for attempt := 0; ; attempt++ {
		order.PAYID = newPAYID()
		err = h.opts.Store.InsertOrder(ctx, order)
		if !errors.Is(err, ErrConflict) || attempt == 5 {
			break
		}
	}
	if err != nil {
		h.log.ErrorContext(ctx, "directlink: order", "err", err)
		return fail(ncTechnical, "a technical problem occurred, please try again")
	}
	// The order is bound to its payment in the write that starts it: an
	// order whose answer is lost (a crash while the acquirer answers) is
	// then found by its transaction, for its status and its alias, once
	// recovery settles it.
	var started PaymentTx // the payment the start write binds, until it commits or not
	pay.OnStart = func(tx *sql.Tx, paymentID, uuid string) error {
		if err := h.opts.Store.SetOrderTransactionTx(tx, order.PAYID, paymentID, uuid); err != nil {
			return err
		}
		if keep != nil {
			if err := keep(tx); err != nil {
				return err
			}
		}
		started.PaymentID, started.UUID = paymentID, uuid
		return nil
	}
	tx, err := h.opts.Payments.Pay(ctx, pay)
	if err != nil {
		code, plus := paymentError(err, "order")
		if code == ncTechnical {
			h.log.ErrorContext(ctx, "directlink: payment", "err", err)
		}
		var (
			bound        Order
			begun, known bool
		)
		if started.UUID != "" {
			bound, begun, known = h.paymentStarted(ctx, order)
		}
		if begun {
			// The write that started the payment committed and a later
			// step failed (the write of the acquirer's outcome, a sale's
			// capture that cannot be read back): the payment is RUNNING
			// or settled, recovery takes it to its end, and the order is
			// bound to it. Its outcome is not known to this call: STATUS
			// 52 with the order's PAYID, as for a lost acquirer answer,
			// so that the merchant queries it instead of charging again.
			started.Amount, started.Currency = amount, cur.Code
			started.Brand, started.PANMasked = aliasCard.Brand, aliasCard.PANMasked
			if !pay.PAN.IsZero() {
				started.Brand, started.PANMasked = string(pay.PAN.Brand()), pay.PAN.Masked()
			}
			if known {
				// The row as the start write bound it, now 52: the same
				// ORDERID is refused until the payment is known refused.
				bound.Status, bound.Brand, bound.UpdatedAt = stAuthUnknown, started.Brand, h.clock.Now()
				if err := h.opts.Store.UpdateOrder(ctx, bound); err != nil {
					h.log.ErrorContext(ctx, "directlink: order update", "err", err)
				}
			}
			return orderResponse(order, started, stAuthUnknown, ncUncertain)
		}
		// No transaction: the order is STATUS 0, invalid or incomplete,
		// which Ingenico answers with PAYID 0 and keeps nothing a query
		// could find. The row written before the payment goes.
		if err := h.opts.Store.DeleteOrder(ctx, shopID, order.PAYID); err != nil {
			h.log.ErrorContext(ctx, "directlink: deleting the invalid order", "payid", order.PAYID, "err", err)
		}
		return fail(code, plus)
	}
	status, ncerr := debitStatus(tx)
	order.PaymentID, order.TransactionUUID, order.Status, order.Brand, order.UpdatedAt = tx.PaymentID, tx.UUID, status, tx.Brand, h.clock.Now()
	if err := h.opts.Store.UpdateOrder(ctx, order); err != nil {
		h.log.ErrorContext(ctx, "directlink: order update", "err", err)
	}
	return orderResponse(order, tx, status, ncerr)
}

// paymentStarted reports whether the write that starts o's payment
// committed, once Pay failed after that write ran: the order row (bound)
// is then bound to its transaction. When the row cannot be read (known
// false: the database is still failing) the payment may have started,
// and an order told "unknown" (52) that never was paid costs a query,
// while one told "invalid" (0) that was paid costs a double charge: it
// counts as started, and its row is left as it is.
func (h *Handler) paymentStarted(ctx context.Context, o Order) (bound Order, started, known bool) {
	bound, err := h.opts.Store.Order(ctx, o.ShopID, o.PAYID)
	if err != nil {
		h.log.ErrorContext(ctx, "directlink: reading the order of a failed payment", "payid", o.PAYID, "err", err)
		return o, !errors.Is(err, ErrNotFound), false
	}
	return bound, bound.TransactionUUID != "", true
}

// keptCardAccepted stores the card a DirectLink order kept (KeepCard) under
// the ALIAS the order named, inside the write that records its payment
// accepted — the order's own call's, or recovery's when its answer was
// lost — with the rules an order with a card and an ALIAS always had: a
// new alias is created, an existing card alias of the shop takes the card
// (a cancelled one comes back), temporary with ALIASPERSISTEDAFTERUSE=N:
// its TemporaryAliasTTL counts from now, when the alias comes to exist,
// however late recovery records the acceptance.
// Its error leaves the accepted payment without the alias (and the answer
// without ALIAS); the kept card is erased in the same write either way.
func (h *Handler) keptCardAccepted(ctx context.Context, tx *sql.Tx, c KeptCard) (string, error) {
	orders, err := h.opts.Store.OrdersByOrderID(ctx, c.ShopID, c.Mode, c.OrderID)
	if err != nil {
		return "", err
	}
	var o Order
	for _, x := range orders {
		if x.TransactionUUID == c.TransactionUUID {
			o = x
		}
	}
	if o.Alias == "" {
		err := fmt.Errorf("ogone: no order with an alias for transaction %s", c.TransactionUUID)
		h.log.ErrorContext(ctx, "directlink: storing the alias of an accepted order", "err", err)
		return "", err
	}
	ttl := time.Duration(0)
	if c.Temporary {
		ttl = TemporaryAliasTTL
	}
	t, _, err := h.opts.Vault.SaveCard(ctx, tx, vault.TokenizeRequest{ShopID: c.ShopID, Mode: c.Mode, Token: o.Alias,
		PAN: c.PAN, Expiry: c.Expiry, HolderName: c.Holder, Origin: "DIRECTLINK", OriginOrderID: c.OrderID,
		InitialTransactionUUID: c.TransactionUUID, TTL: ttl})
	if err != nil {
		h.log.ErrorContext(ctx, "directlink: storing the alias of an accepted order", "alias", o.Alias, "err", err)
		return "", err
	}
	return t.Value, nil
}

// aliasTakesCard checks, before an order that carries a card and an ALIAS
// is paid, that the card could go under the alias: one the shop does not
// have yet in the order's mode, or a card alias of that mode that is not
// purged (a cancelled one comes back with its new card); an alias of that
// name in the other mode is another alias. A bank-account alias
// (FlexCheckout direct debit) cannot take a card. It writes nothing: the
// card is stored once the payment is accepted, where the vault checks the
// alias again.
func (h *Handler) aliasTakesCard(ctx context.Context, dl dlRequest, alias string) *ncResponse {
	t, err := h.opts.Vault.Get(ctx, dl.acct.ShopID, dl.mode, alias)
	switch {
	case errors.Is(err, vault.ErrTokenNotFound):
		return nil
	case err != nil:
		h.log.ErrorContext(ctx, "directlink: alias", "err", err)
		return errorResponse("", ncTechnical, "a technical problem occurred, please try again")
	case t.StatusAt(h.clock.Now()) == vault.StatusPurged || t.Method == vault.MethodSDD:
		return errorResponse("", ncDataValidation, "alias cannot be updated")
	}
	return nil
}

// paymentError maps an error of the payment service to NCERROR.
func paymentError(err error, what string) (string, string) {
	e, ok := errs.As(err)
	if !ok {
		return ncTechnical, "a technical problem occurred, please try again"
	}
	switch e.Code {
	case errs.TxBadStatus, errs.CancelToRefund, errs.RefundToCancel, errs.NoChange:
		return ncOriginalStatus, "the original order is not in a correct status"
	case errs.BadAmount, errs.AmountNotAuth, errs.Insufficient:
		if what == "refund" {
			return ncRefundOverflow, "overflow in refunds requests"
		}
		if what == "capture" {
			return ncCaptureOverflow, "overflow in data capture requests for the original order"
		}
		return ncDataValidation, "invalid amount"
	case errs.BadCurrency:
		return ncInvalidCurrency, "invalid currency"
	case errs.TxNotFound:
		return ncOriginalOrder, "error access to original order"
	case errs.BadCardNumber, errs.UnknownCard:
		return ncCardNumberIncorrect, "card number incorrect or incompatible"
	case errs.BadExpiry:
		return ncExpiryError, "expiry date error"
	case errs.CVVRequired:
		return ncCVCMissing, "CVC missing"
	case errs.TokenNotFound, errs.TokenInvalid, errs.TokenPurged, errs.TokenDenied:
		return ncDataValidation, "unknown alias"
	case errs.DupForbidden, errs.TxExists:
		return ncAlreadyProcessed, "this order has already been processed"
	case errs.InputInvalid, errs.InvalidAttr:
		return ncDataValidation, "data validation error"
	}
	return ncTechnical, "a technical problem occurred, please try again"
}

// refundStatus is the Ogone STATUS and NCERROR of a refund (CREDIT) as it
// is now: 81 "refund pending" until it is remitted, as Ingenico's refund
// is until the acquirer processed it (RUNNING at the acquirer, or accepted
// and AUTHORISED until the capture job remits it), 8 once CAPTURED; 83
// refused (Ingenico's statuses tell 83 "refund refused" from 84 "refund
// declined by the acquirer" without saying how: a refusal with the
// acquirer's code keeps 83, with that code in NCERROR, and 84 is kept for
// an acquirer that could not be reached). A refund cancelled before its
// capture has no Ingenico status of its own: it moved no money, as a
// refused one, so 83 with NCERROR 0.
func refundStatus(t PaymentTx) (int, string) {
	switch t.DetailedStatus {
	case dsCaptured:
		return stRefund, ncOK
	case dsAuthorised, dsInitial:
		return stRefundPending, ncOK
	case dsRefused:
		return stRefundRefused, acquirerNCError(t.AuthResult)
	case dsCancelled:
		return stRefundRefused, ncOK
	}
	return stRefundError, ncAcquirerUnavailable
}

// debitStatus is the Ogone STATUS and NCERROR of a debit as it is now.
func debitStatus(t PaymentTx) (int, string) {
	switch t.DetailedStatus {
	case dsAuthorised, dsToValidate:
		switch t.PendingOp {
		case pendingCapture:
			return stPaymentPending, ncOK
		case pendingCancel:
			return stCancelPending, ncOK
		}
		if t.DetailedStatus == dsAuthorised {
			// Validated: the capture is the platform's to make (the
			// capture job tries again a sale's, or a SAS's, that the
			// acquirer could not take), not the merchant's. Ingenico's 91
			// "payment processing", not 5, which would have the merchant
			// capture, or cancel, what is being captured.
			return stPaymentPending, ncOK
		}
		return stAuthorised, ncOK
	case dsCaptured:
		return capturedStatus(t)
	case dsCaptureFailed:
		return stPaymentRefused, acquirerNCError(t.AuthResult)
	case dsCancelled, dsExpired:
		if t.PartsCaptured > 0 {
			// The rest deleted after captures in parts: the order is
			// captured for what they took.
			return capturedStatus(t)
		}
		return stCancelled, ncOK
	case dsRefused:
		return stRefused, acquirerNCError(t.AuthResult)
	case dsInitial:
		return stAuthUnknown, ncUncertain
	}
	return stInvalid, ncAcquirerUnavailable
}

// capturedStatus is the status of a captured order: 81 while a refund of
// one of its captures is pending, 8 once some is refunded, 9 otherwise.
func capturedStatus(t PaymentTx) (int, string) {
	switch {
	case t.RefundPending:
		return stRefundPending, ncOK
	case t.RefundedAmount+t.PartsRefunded > 0:
		return stRefund, ncOK
	}
	return stPaymentDone, ncOK
}

// orderAmount is the amount of an order as querydirect answers it: its
// debit's (what is left to capture while it is open, what it captured
// or would have), and, once an order captured in parts is closed, what
// all its captures took: the rest's capture with the parts, or the parts
// alone when the rest was deleted or expired (as its post-sale request
// says).
func orderAmount(t PaymentTx) int64 {
	switch {
	case t.PartsCaptured == 0:
	case t.DetailedStatus == dsCaptured:
		return t.Amount + t.PartsCaptured
	case t.DetailedStatus == dsCancelled || t.DetailedStatus == dsExpired:
		return t.PartsCaptured
	}
	return t.Amount
}

func orderResponse(o Order, t PaymentTx, status int, ncerr string) *ncResponse {
	n := &ncResponse{}
	n.set("orderID", o.OrderID)
	n.set("PAYID", strconv.FormatInt(o.PAYID, 10))
	n.set("NCSTATUS", ncStatus(ncerr))
	n.set("NCERROR", ncerr)
	n.set("ACCEPTANCE", t.AuthNumber)
	n.set("STATUS", strconv.Itoa(status))
	if o.ECI != "" {
		n.set("ECI", o.ECI)
	}
	n.set("amount", formatAmount(orderAmount(t), t.Currency))
	n.set("currency", t.Currency)
	n.set("PM", o.PM)
	n.set("BRAND", BrandName(card.Brand(t.Brand)))
	if t.PANMasked != "" {
		n.set("CARDNO", maskCardNo(t.PANMasked))
	}
	if o.Alias != "" && t.Token == o.Alias {
		// The alias the order named, once it holds the order's card (an
		// order with a card) or paid it (an order with an alias): the
		// payment's token, set in the write that stored or used it.
		n.set("ALIAS", o.Alias)
	}
	plus := "!"
	if ncerr != ncOK {
		plus = ncErrorMessage(ncerr)
	}
	n.set("NCERRORPLUS", plus)
	return n
}

// maskCardNo writes a card number as Ingenico does in DirectLink answers
// (the Direct Query page's CARDNO="XXXXXXXXXXXX1111") and FlexCheckout's
// Card.CardNumber: an X for every character but the last four. It takes
// any form of the number of the same length, masked or not.
func maskCardNo(pan string) string {
	if len(pan) <= 4 {
		return strings.Repeat("X", len(pan))
	}
	return strings.Repeat("X", len(pan)-4) + pan[len(pan)-4:]
}

func ncErrorMessage(code string) string {
	switch {
	case code == ncUncertain:
		return "the authorisation result is not known yet; query the order later"
	case code == ncAcquirerUnavailable:
		return "the acquirer is temporarily unavailable, please try later"
	case strings.HasPrefix(code, "3"):
		return "payment refused by the acquirer"
	}
	return "error"
}

// findOrder finds the order a maintenance or query request names, by PAYID
// or else by ORDERID (the latest order with it that has a transaction).
func (h *Handler) findOrder(ctx context.Context, dl dlRequest) (Order, *ncResponse) {
	ps := dl.params
	shopID := dl.acct.ShopID
	orderID := strings.TrimSpace(ps.Get("ORDERID"))
	if raw := strings.TrimSpace(ps.Get("PAYID")); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return Order{}, errorResponse(orderID, ncOriginalOrder, "invalid PAYID")
		}
		o, err := h.opts.Store.Order(ctx, shopID, id)
		if err != nil || o.Mode != dl.mode {
			if err != nil && !errors.Is(err, ErrNotFound) {
				h.log.ErrorContext(ctx, "directlink: order", "err", err)
			}
			return Order{}, errorResponse(orderID, ncOriginalOrder, "unknown PAYID")
		}
		return o, nil
	}
	if orderID == "" || utf8.RuneCountInString(orderID) > 40 {
		return Order{}, errorResponse("", ncOriginalOrder, "no PAYID or ORDERID")
	}
	list, err := h.opts.Store.OrdersByOrderID(ctx, shopID, dl.mode, orderID)
	if err != nil || len(list) == 0 {
		if err != nil {
			h.log.ErrorContext(ctx, "directlink: orders", "err", err)
		}
		return Order{}, errorResponse(orderID, ncOriginalOrder, "unknown orderID")
	}
	// An attempt still in flight (e.g. a duplicate sent while the first
	// was paid) has no transaction yet and is no order of the buyer's: the
	// latest one with a transaction is.
	for _, o := range list {
		if o.TransactionUUID != "" {
			return o, nil
		}
	}
	return list[0], nil
}

// msgInProgress is the NCERRORPLUS of a maintenance operation refused
// because another one on the order is pending at the acquirer.
const msgInProgress = "an operation on this order is in progress, please try again once it is settled"

// operationInProgress tells whether err refused a maintenance operation
// because a capture or cancellation of the order's debit is pending at
// the acquirer (its answer awaited, or lost until recovery learns it).
// Such a refusal answers 40001011 "please try again" whichever operation
// is pending: the catalogue of NCERROR codes has no "operation in
// progress" code, and 50001127 (wrong status, NCSTATUS 5: invalid data)
// would tell the merchant the order can never take it, while the pending
// operation may settle so that it can (a failed capture leaves the order
// to delete). The payment service refuses with INT_999 "retry later"
// during a cancellation and with PSP_011 marked errs.ErrInProgress during
// a capture.
func operationInProgress(err error) bool {
	return errors.Is(err, errs.ErrRetryLater) || errors.Is(err, errs.ErrInProgress)
}

// maintenanceDirect captures (SAL partial, SAS last or full), refunds (RFD
// partial, RFS last or full) or deletes (DEL, DES) an order.
func (h *Handler) maintenanceDirect(ctx context.Context, dl dlRequest) *ncResponse {
	o, fail := h.findOrder(ctx, dl)
	if fail != nil {
		return fail
	}
	resp := func(payidsub int, status int, ncerr, plus string, amount int64, cur, acceptance string) *ncResponse {
		n := &ncResponse{}
		n.set("orderID", o.OrderID)
		n.set("PAYID", strconv.FormatInt(o.PAYID, 10))
		n.set("PAYIDSUB", strconv.Itoa(payidsub))
		n.set("NCSTATUS", ncStatus(ncerr))
		n.set("NCERROR", ncerr)
		n.set("NCERRORPLUS", plus)
		n.set("ACCEPTANCE", acceptance)
		n.set("STATUS", strconv.Itoa(status))
		n.set("amount", formatAmount(amount, cur))
		n.set("currency", cur)
		return n
	}
	errResp := func(code, plus string) *ncResponse { return resp(0, o.Status, code, plus, 0, "", "") }
	if o.TransactionUUID == "" || h.opts.Payments == nil {
		return errResp(ncOriginalStatus, "the original order is not in a correct status")
	}
	debit, err := h.opts.Payments.Get(ctx, o.ShopID, o.TransactionUUID)
	if err != nil {
		code, plus := paymentError(err, "query")
		return errResp(code, plus)
	}
	cur, _ := money.Lookup(debit.Currency)
	var amount int64
	if raw := strings.TrimSpace(dl.params.Get("AMOUNT")); raw != "" {
		a, code, plus := parseOgoneAmount(raw, cur)
		if code != "" {
			return errResp(code, plus)
		}
		amount = a
	}
	operation := strings.ToUpper(strings.TrimSpace(dl.params.Get("OPERATION")))
	var (
		tx     PaymentTx
		status int
		ncerr  = ncOK
		what   string
		made   []string // the transactions the operation made: a part, refunds
		// claimed is the operation's record, written in the write that
		// makes it (record).
		claimed OrderOp
	)
	// record writes the operation's record (its PAYIDSUB) in the write
	// that makes the operation (claims a capture and makes a SAL's part,
	// inserts refunds, lowers or cancels the debit), before the acquirer
	// is called: a process stopped, or a write failing, after that write
	// leaves the operation with its record, which querydirect answers,
	// never one no PAYIDSUB names (a part captured, a refund made), which
	// the merchant, answered nothing, would send again and have made
	// twice. status says what is known then (pending for what the
	// acquirer is asked); the answer is written after the call, and
	// querydirect reads the transactions when that write is lost
	// (settledOpStatus, madeStatus).
	record := func(status func(made []PaymentTx) (int, int64, []string)) ClaimFunc {
		return func(dtx *sql.Tx, made []PaymentTx) error {
			st, amount, uuids := status(made)
			var err error
			claimed, err = h.opts.Store.InsertOrderOpTx(dtx, OrderOp{PAYID: o.PAYID, Operation: operation, Amount: amount,
				Status: st, NCError: ncOK, TransactionUUID: joinUUIDs(uuids), CreatedAt: h.clock.Now()})
			return err
		}
	}
	switch operation {
	case "SAL", "SAS":
		what = "capture"
		if debit.DetailedStatus == dsCaptured {
			return errResp(ncOriginalStatus, h.capturedAlready(ctx, o, debit))
		}
		// No AMOUNT: all of the debit as it is when the capture is
		// claimed, not as read above (a concurrent update may lower it).
		// A SAL for less than what is left captures that part and leaves
		// the rest open (a part of the debit, which comes back: its
		// status is this capture's); a SAS releases the rest.
		tx, err = h.opts.Payments.Capture(ctx, o.ShopID, o.TransactionUUID, amount, operation == "SAL",
			record(func(made []PaymentTx) (int, int64, []string) {
				// Pending (91) until settled: the part's own status, or
				// the debit's (settledOpStatus).
				if t := made[0]; t.ParentUUID != "" {
					return stPaymentPending, t.Amount, []string{t.UUID}
				}
				return stPaymentPending, made[0].Amount, nil
			}))
		if err == nil {
			amount = tx.Amount
			status, ncerr = debitStatus(tx)
			if status == stRefused {
				status = stPaymentRefused
			}
			if tx.ParentUUID != "" {
				made = []string{tx.UUID}
			}
		}
	case "RFD", "RFS":
		what = "refund"
		// No AMOUNT: what is left of the capture when the refund reserves
		// it, not as read above (a concurrent refund may have taken some).
		// An order captured in parts is refunded from each capture as
		// needed, one refund each.
		var refunds []PaymentTx
		refunds, err = h.opts.Payments.Refund(ctx, o.ShopID, o.TransactionUUID, amount,
			record(func(made []PaymentTx) (int, int64, []string) {
				// Their status is told by them (madeStatus).
				var sum int64
				var uuids []string
				for _, r := range made {
					sum, uuids = sum+r.Amount, append(uuids, r.UUID)
				}
				return stRefundPending, sum, uuids
			}))
		if err == nil {
			refunds = madeRefunds(refunds)
			amount = 0
			for _, r := range refunds {
				amount += r.Amount
				made = append(made, r.UUID)
			}
			status, ncerr = refundsStatus(refunds)
		}
	case "DEL", "DES":
		what = "cancel"
		// DEL deletes the authorisation, or the part of it its AMOUNT
		// names, and leaves the order open (DirectLink guide,
		// "Maintenance request"; the Ingenico e-commerce modules' library
		// sends DEL with the amount of a partial void): the debit is
		// lowered by that amount, checked against it in the same write,
		// and the rest stays to capture. DES closes the order: all of it
		// is cancelled, as is a DEL of the whole, but an AMOUNT above
		// what is left to delete is refused as DEL's is (Ingenico checks
		// that a maintenance amount is not above the authorisation's:
		// DirectLink guide, "Direct Maintenance", AMOUNT), before
		// anything is written or the acquirer called. The DES's AMOUNT
		// is checked again in the write that claims the cancellation: a
		// concurrent partial DEL may have lowered the debit below it
		// since, and the DES must then be refused, not cancel the rest
		// and answer the amount read here.
		var part, atLeast int64
		if operation == "DEL" {
			part = amount
		} else if amount > 0 && (debit.DetailedStatus == dsAuthorised || debit.DetailedStatus == dsToValidate) {
			if amount > debit.Amount {
				return errResp(ncDataValidation, "invalid amount: above the "+formatAmount(debit.Amount, debit.Currency)+" "+
					debit.Currency+" left to delete")
			}
			atLeast = amount
		}
		tx, err = h.opts.Payments.Cancel(ctx, o.ShopID, o.TransactionUUID, part, atLeast,
			record(func(made []PaymentTx) (int, int64, []string) {
				switch t := made[0]; {
				case t.PendingOp == pendingCancel:
					return stCancelPending, t.Amount, nil // until settled (settledOpStatus)
				case part > 0 && t.DetailedStatus != dsCancelled:
					return stCancelled, part, nil // lowered by part
				default:
					return stCancelled, t.Amount, nil
				}
			}))
		if err == nil {
			status, ncerr = debitStatus(tx)
			// What this operation deleted: the debit as the write that
			// cancelled it found it, not as read above.
			amount = tx.Amount
			if (tx.DetailedStatus == dsAuthorised || tx.DetailedStatus == dsToValidate) && tx.PendingOp == "" {
				if part > 0 && !tx.CancelRefused {
					// Lowered: this operation deleted part, as 6 says
					// for it; the order is still authorised for the
					// rest.
					status, amount = stCancelled, part
				} else {
					// The acquirer refused to delete it, a DEL whose
					// AMOUNT is the whole as well as a DES: nothing
					// was deleted.
					status, ncerr = stCancelRefused, ncPaymentRefused
				}
			}
		}
	default:
		return errResp(ncOperationNotAllowed, "operation not allowed: "+safeName(operation))
	}
	if err != nil {
		if operationInProgress(err) {
			return errResp(ncTechnical, msgInProgress)
		}
		code, plus := paymentError(err, what)
		if code == ncTechnical {
			h.log.ErrorContext(ctx, "directlink: maintenance", "op", operation, "err", err)
		}
		return errResp(code, plus)
	}
	op := OrderOp{PAYID: o.PAYID, Operation: operation, Amount: amount, Status: status, NCError: ncerr, CreatedAt: h.clock.Now(),
		TransactionUUID: joinUUIDs(made)}
	if claimed.PAYIDSUB != 0 {
		op.PAYIDSUB = claimed.PAYIDSUB
		err = h.opts.Store.UpdateOrderOp(ctx, op)
	} else {
		op, err = h.opts.Store.InsertOrderOp(ctx, op)
	}
	if err != nil {
		h.log.ErrorContext(ctx, "directlink: maintenance record", "err", err)
	}
	// The order's status follows its debit.
	if d, err := h.opts.Payments.Get(ctx, o.ShopID, o.TransactionUUID); err == nil {
		o.Status, _ = debitStatus(d)
		o.UpdatedAt = h.clock.Now()
		if err := h.opts.Store.UpdateOrder(ctx, o); err != nil {
			h.log.ErrorContext(ctx, "directlink: order update", "err", err)
		}
	}
	plus := "!"
	if ncerr != ncOK {
		plus = ncErrorMessage(ncerr)
	}
	return resp(op.PAYIDSUB, status, ncerr, plus, amount, debit.Currency, debit.AuthNumber)
}

// capturedAlready is the NCERRORPLUS of a capture (SAL or SAS) sent for an
// order that is captured: its last capture (a SAS, or a SAL of all that
// was left) closed it. Ingenico's SAL for less than what is left leaves
// the rest open for another SAL or a last SAS, as OpenPSP's does (a part
// of the debit); what a partial SAS leaves is released. The answer is
// 50001127 whatever the amount asked, and says which operation closed the
// order and whether it released a rest.
func (h *Handler) capturedAlready(ctx context.Context, o Order, debit PaymentTx) string {
	by := "its sale (OPERATION SAL)"
	ops, err := h.opts.Store.OrderOps(ctx, o.PAYID)
	if err != nil {
		h.log.ErrorContext(ctx, "directlink: order ops", "err", err)
	}
	for _, op := range ops {
		if (op.Operation == "SAL" || op.Operation == "SAS") && op.NCError == ncOK && op.TransactionUUID == "" {
			by = "PAYIDSUB " + strconv.Itoa(op.PAYIDSUB)
		}
	}
	if debit.AuthAmount > debit.Amount {
		return "the order was closed by " + by + " (" + formatAmount(debit.Amount, debit.Currency) + " " +
			debit.Currency + ") and the rest of the authorisation released: nothing is left to capture"
	}
	return "the order was closed by " + by + ": nothing is left to capture"
}

// settledOpStatus is the status now of a capture (SAL, SAS) or deletion
// (DEL, DES) answered pending (91, 61): the acquirer could not take it,
// and the platform made it since (the capture job) or it failed. Its
// debit tells, the payment being captured or cancelled once. Any other
// operation keeps the status it was answered (status, ncerr). An
// operation that made transactions of its own (a SAL's part, refunds)
// is told by them (madeStatus).
func settledOpStatus(op OrderOp, debit PaymentTx, status int, ncerr string) (int, string) {
	if op.TransactionUUID != "" {
		return status, ncerr
	}
	switch {
	case status == stPaymentPending && (op.Operation == "SAL" || op.Operation == "SAS"):
		switch debit.DetailedStatus {
		case dsCaptured:
			return stPaymentDone, ncOK
		case dsCaptureFailed:
			return stPaymentRefused, acquirerNCError(debit.AuthResult)
		}
	case status == stCancelPending && (op.Operation == "DEL" || op.Operation == "DES"):
		if debit.DetailedStatus == dsCancelled {
			return stCancelled, ncOK
		}
	}
	return status, ncerr
}

// madeStatus is the status now of the transactions one maintenance
// operation made: a SAL's part (its capture's status, whatever its money
// became after: refunds are operations of their own) or the refunds of an
// RFD or RFS (refundsStatus). One that cannot be read leaves status and
// ncerr, as answered.
func (h *Handler) madeStatus(ctx context.Context, shopID string, uuids []string, status int, ncerr string) (int, string) {
	var refunds []PaymentTx
	for _, u := range uuids {
		t, err := h.opts.Payments.Get(ctx, shopID, u)
		if err != nil {
			h.log.ErrorContext(ctx, "directlink: operation transaction", "err", err)
			return status, ncerr
		}
		if t.OperationType != operationCredit {
			return partStatus(t)
		}
		refunds = append(refunds, t)
	}
	return refundsStatus(refunds)
}

// partStatus is the status of a SAL's part: its capture's.
func partStatus(t PaymentTx) (int, string) {
	switch t.DetailedStatus {
	case dsCaptured:
		return stPaymentDone, ncOK
	case dsCaptureFailed:
		return stPaymentRefused, acquirerNCError(t.AuthResult)
	}
	return debitStatus(t)
}

// refundsStatus is the status of the refunds one RFD or RFS made (one per
// capture of an order captured in parts): the least advanced one's, a
// refund not made (84, 83) before one pending (81) before one done (8),
// so that 8 says all of it is refunded.
func refundsStatus(refunds []PaymentTx) (int, string) {
	rank := map[int]int{stRefundError: 0, stRefundRefused: 1, stRefundPending: 2, stRefund: 3}
	status, ncerr := stRefund, ncOK
	for _, r := range refunds {
		if s, e := refundStatus(r); rank[s] < rank[status] {
			status, ncerr = s, e
		}
	}
	return status, ncerr
}

// madeRefunds is what an RFD or RFS answers of its refunds (one per
// capture of an order captured in parts): those the acquirer made or is
// making, without those it refused or could not be sent, so that the
// status and amount answered, and those querydirect of its PAYIDSUB gives,
// are what goes to the buyer; all of them when none was made. Answered 83
// for all while some was refunded, the merchant would send it again and
// refund that part twice.
func madeRefunds(refunds []PaymentTx) []PaymentTx {
	var made []PaymentTx
	for _, r := range refunds {
		if s, _ := refundStatus(r); s != stRefundRefused && s != stRefundError {
			made = append(made, r)
		}
	}
	if len(made) == 0 {
		return refunds
	}
	return made
}

// joinUUIDs writes the transactions a maintenance operation made in its
// record's TransactionUUID, separated by spaces; splitUUIDs reads them.
func joinUUIDs(uuids []string) string { return strings.Join(uuids, " ") }

func splitUUIDs(s string) []string { return strings.Fields(s) }

// queryDirect answers an order's status now, or that of one maintenance
// operation (PAYIDSUB).
func (h *Handler) queryDirect(ctx context.Context, dl dlRequest) *ncResponse {
	o, fail := h.findOrder(ctx, dl)
	if fail != nil {
		return fail
	}
	if h.opts.Payments == nil {
		return orderResponse(o, PaymentTx{}, o.Status, ncAcquirerUnavailable)
	}
	if o.TransactionUUID == "" {
		// The row is bound to its payment in the write that starts it
		// (orderDirect's OnStart). Unbound, its request is still running
		// (not invalid, not known yet), or that write never committed:
		// its process stopped first, or the write failed and the row
		// could not be read back to tell (answered 52). Once no request
		// can still be running, no payment exists: invalid, which the
		// ORDERID may be sent again after, not 52 for ever.
		if h.clock.Now().Sub(o.CreatedAt) < OrderStartLimit {
			return orderResponse(o, PaymentTx{}, stAuthUnknown, ncUncertain)
		}
		return orderResponse(o, PaymentTx{}, stInvalid, ncTechnical)
	}
	debit, err := h.opts.Payments.Get(ctx, o.ShopID, o.TransactionUUID)
	if err != nil {
		code, plus := paymentError(err, "query")
		return errorResponse(o.OrderID, code, plus)
	}
	status, ncerr := debitStatus(debit)
	if raw := strings.TrimSpace(dl.params.Get("PAYIDSUB")); raw != "" && raw != "0" {
		sub, err := strconv.Atoi(raw)
		if err != nil {
			return errorResponse(o.OrderID, ncOriginalOrder, "invalid PAYIDSUB")
		}
		ops, err := h.opts.Store.OrderOps(ctx, o.PAYID)
		if err != nil {
			h.log.ErrorContext(ctx, "directlink: order ops", "err", err)
			return errorResponse(o.OrderID, ncTechnical, "a technical problem occurred, please try again")
		}
		found := false
		var opAmount int64
		for _, op := range ops {
			if op.PAYIDSUB == sub {
				status, ncerr, found = op.Status, op.NCError, true
				opAmount = op.Amount
				status, ncerr = settledOpStatus(op, debit, status, ncerr)
				if uuids := splitUUIDs(op.TransactionUUID); len(uuids) > 0 {
					// A refund, or a SAL's part, moves on after its
					// answer (captured, cancelled, settled by the capture
					// job or recovery): its status now.
					status, ncerr = h.madeStatus(ctx, o.ShopID, uuids, status, ncerr)
				}
			}
		}
		if !found {
			return errorResponse(o.OrderID, ncOriginalOrder, "unknown PAYIDSUB")
		}
		n := orderResponse(o, debit, status, ncerr)
		n.set("PAYIDSUB", raw)
		// The operation's amount, not the order's: a partial deletion
		// or refund is for less than the debit.
		n.set("amount", formatAmount(opAmount, debit.Currency))
		return n
	}
	if status != o.Status {
		o.Status, o.UpdatedAt = status, h.clock.Now()
		if err := h.opts.Store.UpdateOrder(ctx, o); err != nil {
			h.log.ErrorContext(ctx, "directlink: order update", "err", err)
		}
	}
	return orderResponse(o, debit, status, ncerr)
}

// IsDirectLink tells whether path is one of the DirectLink pages
// (/ncol/{env}/orderdirect.asp and the others), whose callers read an
// ncresponse, not a page.
func (h *Handler) IsDirectLink(path string) bool {
	rest, ok := strings.CutPrefix(path, "/ncol/")
	if !ok {
		return false
	}
	_, page, ok := strings.Cut(rest, "/")
	if !ok {
		return false
	}
	for _, p := range []string{"orderdirect", "maintenancedirect", "querydirect"} {
		if page == p+".asp" || page == p+"_utf8.asp" {
			return true
		}
	}
	return false
}

// Unavailable answers a DirectLink request this server must not serve now
// (its database's schema is newer than this binary's) or whose handling
// panicked (the app's middleware) as one answered when the database is
// unavailable: NCERROR 40001011, a technical problem, in the page's
// charset, HTTP 200; the merchant retries (or, for an order, queries its
// status first). The request is not read.
func (h *Handler) Unavailable(w http.ResponseWriter, r *http.Request) {
	cs := Latin1
	if strings.HasSuffix(r.URL.Path, "_utf8.asp") {
		cs = UTF8
	}
	errorResponse("", ncTechnical, "a technical problem occurred, please try again").write(w, cs)
}
