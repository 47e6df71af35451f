package hosted

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/openpsp/openpsp/internal/formfocus"
	"github.com/openpsp/openpsp/internal/jsonstr"
	"github.com/openpsp/openpsp/internal/money"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/webstatic"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

func parseTemplates() *template.Template {
	return template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))
}

// assetVersion changes whenever a static file changes; page links carry it
// so browsers never run an old form script with a new page.
var assetVersion = func() string {
	sum := sha256.New()
	var names []string
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, _ := staticFS.ReadFile(n)
		sum.Write([]byte(n))
		sum.Write(b)
	}
	sum.Write(webstatic.TokensCSS)
	return hex.EncodeToString(sum.Sum(nil))[:12]
}()

// Pages.
const (
	pageForm      = "form"
	pageChallenge = "challenge"
	pageResult    = "result"
	// pageConfirmDelete asks a buyer without the script to confirm the
	// deletion of a saved card.
	pageConfirmDelete = "confirm-delete"
	pageMessage       = "message"
)

// view is what the page template renders.
type view struct {
	Lang         string
	M            map[string]string
	Nonce        string
	AssetVersion string
	Page         string
	Title        string
	Embedded     bool
	ParentOrigin string
	ShowHeader   bool
	Test         bool

	ShopName   string
	LogoURL    string
	AmountText string
	// Register marks a form that only registers a card (REGISTER: its
	// amount is zero): its header shows no amount, its title is its own.
	Register  bool
	OrderText string
	// The shop's colour (shop.Palette), when it has one: the pay button's
	// background, the text on it, and its borders on white.
	Primary   template.CSS
	OnPrimary template.CSS
	PrimaryUI template.CSS

	// form
	Action       string
	Message      string
	AttemptsText string
	FieldErrors  map[string]string
	// Framed: the form comes back with mistakes into a frame
	// (FocusRefresh).
	Framed         bool
	Expiry         string
	Holder         string
	ShowSave       bool
	PayLabel       string
	Labels         map[string]string
	Placeholders   map[string]string
	ClientMessages string

	// buyer wallet (CUSTOMER_WALLET forms with saved cards)
	Wallet         []savedCardView
	WalletSingle   bool
	WalletDeletion string // AUTOMATIC | MANUAL
	WalletAction   string
	// WalletDeletePageAction is where the bin icons post without the
	// script; WalletMessage is the wallet's status line (a deletion's
	// outcome; above the card form once no saved card is left);
	// DeleteCard the card the confirmation page deletes.
	WalletDeletePageAction string
	WalletMessage          string
	DeleteCard             string
	WalletOneClick         bool // a one-click form: no deletion (the security code is asked for every saved card)
	// WalletTabAction and WalletTabParams are the form the tabs submit
	// without the script: a GET of this page (its path, and its parameters
	// as hidden fields: a GET form replaces its action's query), with
	// WalletTabField naming the tab chosen.
	WalletTabAction string
	WalletTabParams []formField
	// newCardChosen: the buyer chose the New card tab without the script
	// (page.newCard).
	newCardChosen bool
	FormAction    string

	// challenge
	Sealed     string
	CardEnding string

	// result
	Accepted bool
	Return   *returnForm
	Result   []formField

	// Detail follows Message on the result page, in normal weight.
	Detail string

	// message pages, and errors told to the merchant page
	ErrorCode    string
	ErrorMessage string
	// Heading is a message page's h1, the short name of what happened
	// (messageHeadings); Message explains it below.
	Heading string
	// ShopURL, on a message page of a known form shown full page, is the
	// origin of the shop's validated return address: a link back to the
	// shop, the buyer's next step.
	ShopURL string
	// CheckURL, on the page of a payment still being processed shown
	// full page, opens the payment page again: once the payment is
	// settled, the browser that paid reads its outcome there
	// (reloadedAfterEnd).
	CheckURL string
	// Notice marks a message page that informs rather than reports a
	// failure (noticeMessages): text colour and role="status", not the
	// error red of an alert.
	Notice bool
}

// formField is one hidden input of a browser-return form.
type formField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// returnForm is the form that takes the browser back to the merchant.
type returnForm struct {
	Action string      `json:"action"`
	Method string      `json:"method"`
	Fields []formField `json:"fields"`
}

// page is everything a handler knows when it renders.
type page struct {
	ctx      context.Context // the request's
	embedded bool
	params   pageParams
	lang     string
	form     Form
	token    string
	// newCard: the buyer chose the New card tab of a wallet without the
	// script (fieldTab): the page shows that panel, and a form posted
	// from it pays with the card typed there.
	newCard bool
	// deletedCard: the last digits of the saved card the buyer has just
	// deleted without the script (deletedCard), told as a status.
	deletedCard string
}

func (h *Handler) newView(pg page, kind string) *view {
	m := messages[pg.lang]
	v := &view{
		Lang:         pg.lang,
		M:            m,
		Nonce:        newNonce(),
		AssetVersion: assetVersion,
		Page:         kind,
		Title:        m["title"],
		Embedded:     pg.embedded,
		ParentOrigin: pg.params.origin,
		// No header before a form is known (unknown formToken, invalid
		// parameters): it would be an empty heading.
		ShowHeader: (!pg.embedded || pg.params.popin) && pg.form.ShopID != "",
		Test:       pg.form.Mode == "TEST" && !(pg.embedded && pg.params.hideTest),
		ShopName:   pg.form.ShopName,
		LogoURL:    shop.DisplayLogoURL(pg.form.LogoURL),
	}
	if pg.form.Currency != "" {
		v.AmountText = formatAmount(pg.form.Amount, pg.form.Currency, pg.lang)
	}
	if pg.form.FormAction == "REGISTER" {
		v.Register, v.Title = true, m["title_register"]
	}
	if pg.form.OrderID != "" {
		v.OrderText = fmt.Sprintf(m["order"], pg.form.OrderID)
	}
	if shop.ValidPrimaryColor(pg.form.PrimaryColor) {
		p := shop.PaletteFor(pg.form.PrimaryColor, "#1d4ed8") // tokens.css's --psp-primary
		v.Primary, v.OnPrimary, v.PrimaryUI = template.CSS(p.Color), template.CSS(p.On), template.CSS(p.UI)
	}
	return v
}

// formView fills in the card form.
func (h *Handler) formView(pg page) *view {
	v := h.newView(pg, pageForm)
	m := v.M
	v.Action = h.actionURL(pg, "")
	v.AttemptsText = attemptsText(m, pg.form.AttemptsLeft)
	v.FieldErrors = map[string]string{}
	register := pg.form.FormAction == "REGISTER"
	v.ShowSave = pg.form.FormAction == "ASK_REGISTER_PAY" || pg.form.FormAction == "CUSTOMER_WALLET"
	if register {
		v.PayLabel = m["register"]
	} else {
		v.PayLabel = fmt.Sprintf(m["pay"], v.AmountText)
	}
	t := pg.params.texts
	v.Labels = map[string]string{
		"pan":    or(t["kr-label-pan"], m["card_number"]),
		"expiry": or(t["kr-label-expiry"], m["expiry"]),
		"csc":    or(t["kr-label-security-code"], m["csc"]),
		"holder": or(t["kr-label-card-holder-name"], m["holder"]),
		"save":   or(t["kr-label-do-register"], m["save_card"]),
	}
	v.Placeholders = map[string]string{
		"pan":    t["kr-placeholder-pan"],
		"expiry": or(t["kr-placeholder-expiry"], mmYY(pg.lang)),
		"csc":    t["kr-placeholder-security-code"],
		"holder": t["kr-placeholder-card-holder-name"],
	}
	cm := map[string]string{}
	for _, k := range clientKeys {
		cm[k] = m[k]
	}
	v.ClientMessages, _ = jsonstr.Marshal(cm)
	v.FormAction = pg.form.FormAction
	h.fillWallet(pg, v)
	if pg.deletedCard != "" {
		// A status, also once the last card is gone and the wallet
		// with it: the template shows it above the card form then.
		v.WalletMessage = fmt.Sprintf(m["wallet_deleted"], pg.deletedCard)
	}
	return v
}

// actionURL is the URL of one of the page's own endpoints ("" for the form
// itself, "/3ds", "/3ds/complete"), carrying the page parameters forward.
func (h *Handler) actionURL(pg page, suffix string) string {
	u := pagePath(pg) + suffix
	if q := pg.params.query().Encode(); q != "" {
		u += "?" + q
	}
	return u
}

// pagePath is the path of the page's form, without its parameters.
func pagePath(pg page) string {
	prefix := "/pay/"
	if pg.embedded {
		prefix = "/embedded/"
	}
	return prefix + url.PathEscape(pg.token)
}

// render writes a page with its security headers.
func (h *Handler) render(w http.ResponseWriter, status int, pg page, v *view, extraFormAction ...string) {
	pol := pagePolicy{nonce: v.Nonce, embedded: pg.embedded}
	if pg.embedded {
		pol.frameAncestors = frameAncestors(pg.form.ReturnOrigins)
	}
	if !pg.embedded {
		pol.formAction = append(pg.params.returnOrigins(), extraFormAction...)
	}
	if o := originOf(v.LogoURL); o != "" {
		pol.imgSrc = []string{o}
	}
	// The title says what the page says (screen readers, tabs): a message
	// page's heading, short and apart from its sentence; a result's first
	// statement.
	switch {
	case v.Page == pageMessage && v.Heading != "":
		v.Title = v.Heading
	case (v.Page == pageMessage || v.Page == pageResult) && v.Message != "":
		v.Title = headline(v.Message)
	case v.Page == pageForm && len(v.FieldErrors) > 0:
		// A form sent back with mistakes says so first, as GOV.UK's do:
		// a screen reader reads the title as the page loads.
		v.Title = v.M["title_error"] + v.Title
	}
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, "page", v); err != nil {
		h.log.Error("hosted: rendering page", "page", v.Page, "err", err)
		plainError(w, "internal error", http.StatusInternalServerError, pg.embedded)
		return
	}
	setPageHeaders(w, pol)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func attemptsText(m map[string]string, n int) string {
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return m["attempts_left_one"]
	}
	return fmt.Sprintf(m["attempts_left_many"], n)
}

func formatAmount(amount int64, currency, lang string) string {
	c, ok := money.Lookup(currency)
	if !ok {
		return strconv.FormatInt(amount, 10) + "\u00a0" + currency
	}
	return money.FormatLocale(amount, c, lang)
}

// mmYY is the expiry placeholder in the language's own letters.
func mmYY(lang string) string {
	switch lang {
	case "fr", "es", "it":
		return "MM/AA"
	case "de":
		return "MM/JJ"
	}
	return "MM/YY"
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// headline is the first statement of a message, for the page's title: the
// text before the first colon or sentence end ("Payment accepted. Thank
// you!" → "Payment accepted"), without its closing punctuation.
func headline(msg string) string {
	end := len(msg)
	for _, sep := range []string{": ", "\u00a0:", ". ", "! ", "\u00a0!"} {
		if i := strings.Index(msg, sep); i >= 0 && i < end {
			end = i
		}
	}
	return strings.TrimRight(msg[:end], ".!… \u00a0")
}

// focusOrder is the order of the form's fields on the page (the saved
// card's security code first, above the new card's fields): the first one
// with an error takes the focus when the form is sent back without its
// script.
var focusOrder = []string{fieldSavedCSC, fieldPAN, fieldExpiry, fieldCSC, fieldHolder}

// focusIDs are the ids of the elements of those fields.
var focusIDs = map[string]string{fieldSavedCSC: "kr-saved-csc", fieldPAN: "kr-pan", fieldExpiry: "kr-expiry",
	fieldCSC: "kr-csc", fieldHolder: "kr-holder"}

func (v *view) firstError() string {
	return formfocus.First(focusOrder, func(f string) bool { return v.FieldErrors[f] != "" })
}

// Focus tells whether field is the first one with an error: it gets the
// autofocus attribute, so that a buyer whose form came back without its
// script lands on the mistake, its error read out by its
// aria-describedby.
func (v *view) Focus(field string) bool { return v.firstError() == field }

// WalletNewCard tells whether a wallet's page is rendered with the new
// card's tab open: the buyer chose it without the script, or the form
// comes back with its first mistake in the new card's fields (the script
// opens the tab otherwise, and may not have run), where the field to
// focus would be in a hidden panel and take no focus.
func (v *view) WalletNewCard() bool {
	first := v.firstError()
	return len(v.Wallet) > 0 && (v.newCardChosen || first != "" && first != fieldSavedCSC)
}

// WalletTabField is the name of the tab chosen without the script, in the
// query of the tabs' form and in a card form posted from the new card's
// panel (fieldTab).
func (v *view) WalletTabField() string { return fieldTab }

// FocusRefresh is, for a form sent back with mistakes into a frame (the
// embedded form, the pop-in), a refresh to the first invalid field's
// fragment, where Chromium ignores autofocus (formfocus.Refresh).
func (v *view) FocusRefresh() template.HTML {
	return formfocus.Refresh(v.Framed, focusIDs[v.firstError()])
}
