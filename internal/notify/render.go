package notify

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"log/slog"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/langpref"
	"github.com/openpsp/openpsp/internal/money"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

//go:embed templates
var files embed.FS

// Languages are the languages every built-in template exists in.
var Languages = []string(langpref.Spoken)

// Template ids: one per message a shop may reword (see TemplateStore).
const (
	TplPaymentAcceptedBuyer = "payment.accepted.buyer"           // email: order confirmation
	TplPaymentRefusedBuyer  = "payment.refused.buyer"            // email: payment not accepted
	TplPaymentMerchant      = "payment.merchant"                 // email: notice to the merchant
	TplTokenBuyer           = "token.buyer"                      // email: card saved, updated, removed
	TplTokenMerchant        = "token.merchant"                   // email: token created, updated, cancelled
	TplTokenSMSBuyer        = "token.sms.buyer"                  // SMS to the buyer
	TplTokenSMSMerchant     = "token.sms.merchant"               // SMS to the merchant
	TplInstalmentMerchant   = "subscription.instalment.merchant" // email: an instalment failed before any payment
)

var emailTemplates = []string{TplPaymentAcceptedBuyer, TplPaymentRefusedBuyer, TplPaymentMerchant, TplTokenBuyer, TplTokenMerchant,
	TplInstalmentMerchant}

var (
	catalogs  = map[string]map[string]string{}
	htmlTmpls = map[string]*template.Template{}
	textTmpls = map[string]*texttemplate.Template{}
	// The layouts a shop's template goes into, parsed once: each message
	// clones them rather than read and parse the files again (which made
	// a reworded email several times as costly as a built-in one).
	htmlLayout *template.Template
	textBlocks *texttemplate.Template
)

// funcs are the helpers templates may call besides Data's methods. The
// built-in templates call t, label and labelled rather than Data.T: for a
// method, text/template looks the name up through reflection at every call
// (about a sixth of the rendering time), a function is found in a map; and
// each call a template makes costs, so the frequent pairs are done in one.
var funcs = map[string]any{
	"list": func(v ...any) []any { return v },
	// t is Data.T.
	"t": func(d *Data, key string) string { return d.T(key) },
	// label is a label of the text part with its colon: "Order: ".
	"label": func(d *Data, key string) string { return d.T(key) + d.T("colon") },
	// labelled is the argument of "label-row": the text of key, and value.
	"labelled": func(d *Data, key string, value any) labelValue { return labelValue{d.T(key), value} },
	// pair is labelled for a label already written ("row" of shops'
	// templates).
	"pair": func(label, value any) labelValue { return labelValue{label, value} },
	// edge is the border of a button of background colour bg: the hosted
	// pages' edge colour (shop.PaletteFor's UI, at least 3:1 on white), so
	// that a light colour's button keeps a visible edge on the white mail.
	// "button" derives it from its background, so shops' templates that
	// call it with (href, label, .Color, .OnColor) get it too; a value
	// that is not #rgb or #rrggbb is its own border, as before.
	"edge": func(bg any) any {
		if s, ok := bg.(string); ok && shop.ValidPrimaryColor(s) {
			return palette(s).UI
		}
		return bg
	},
}

// labelValue is a row of a details table ("label-row").
type labelValue struct{ Label, Value any }

func init() {
	for _, lang := range Languages {
		b, err := files.ReadFile("templates/i18n/" + lang + ".json")
		if err != nil {
			panic(err)
		}
		c := map[string]string{}
		if err := json.Unmarshal(b, &c); err != nil {
			panic(fmt.Sprintf("notify: %s.json: %v", lang, err))
		}
		catalogs[lang] = c
	}
	htmlLayout = template.Must(template.New("layout").Funcs(funcs).ParseFS(files, "templates/email/layout.html"))
	textBlocks = texttemplate.Must(texttemplate.New("layout").Funcs(funcs).ParseFS(files, "templates/email/text.txt"))
	for _, id := range emailTemplates {
		htmlTmpls[id] = template.Must(template.New("layout").Funcs(funcs).ParseFS(files,
			"templates/email/layout.html", "templates/email/"+id+".html"))
		textTmpls[id] = texttemplate.Must(texttemplate.New("layout").Funcs(funcs).ParseFS(files,
			"templates/email/text.txt", "templates/email/"+id+".txt"))
	}
}

// Language picks the language of the first of tags that names one the
// templates exist in, else English. A tag is a language tag in any of its
// spellings ("fr-FR", "de_CH") or an Accept-Language value, read with its
// weights by the payment pages' parser (langpref): "de;q=0.1, fr;q=0.9"
// is French, "fr;q=0" names no language.
func Language(tags ...string) string {
	for _, t := range tags {
		if l, ok := langpref.Set(Languages).Preferred(t); ok {
			return l
		}
	}
	return "en"
}

// ShopView is the shop as a message shows it, captured when the event
// happened.
type ShopView struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	LogoURL string `json:"logoUrl,omitempty"`
	Color   string `json:"color,omitempty"`
	Email   string `json:"email,omitempty"`
	Phone   string `json:"phone,omitempty"`
	URL     string `json:"url,omitempty"` // the merchant's site, linked from buyer emails
}

// PaymentView is what a payment message tells. Card data is masked only.
type PaymentView struct {
	ID            string    `json:"id"`
	OrderID       string    `json:"orderId,omitempty"`
	TransactionID string    `json:"transactionId,omitempty"`
	Accepted      bool      `json:"accepted"`
	Amount        int64     `json:"amount"`
	Currency      string    `json:"currency"`
	Brand         string    `json:"brand,omitempty"`
	PANMasked     string    `json:"pan,omitempty"`
	At            time.Time `json:"at"`
	DetailsURL    string    `json:"detailsUrl,omitempty"`
	// TechnicalError: not refused, the acquirer could not be reached and
	// nothing was charged (PaymentFacts.TechnicalError).
	TechnicalError bool `json:"technicalError,omitempty"`
	// DebitAfterCheck, with TechnicalError: a deferred debit that could
	// not be made on its date, after the buyer's card was checked
	// (PaymentFacts.DebitAfterCheck): the buyer is not at the form to
	// try again.
	DebitAfterCheck bool `json:"debitAfterCheck,omitempty"`
	// RetryAt, for a refused subscription instalment, is when it is tried
	// again; InstalmentFailed: it is not, the instalment has failed.
	RetryAt          *time.Time `json:"retryAt,omitempty"`
	InstalmentFailed bool       `json:"instalmentFailed,omitempty"`
	// DebitOn, for a deferred payment whose card was only checked, is the
	// day its amount is to be debited (the transaction's expected capture
	// date): the buyer is told nothing else when the debit happens.
	DebitOn *time.Time `json:"debitOn,omitempty"`
}

// TokenView is what a token message tells.
type TokenView struct {
	Kind              string    `json:"kind"` // created | updated | cancelled
	Token             string    `json:"token"`
	Brand             string    `json:"brand,omitempty"`
	PANMasked         string    `json:"pan,omitempty"`
	ExpiryMonth       int       `json:"expiryMonth,omitempty"`
	ExpiryYear        int       `json:"expiryYear,omitempty"`
	CustomerReference string    `json:"customerReference,omitempty"`
	At                time.Time `json:"at"`
	DetailsURL        string    `json:"detailsUrl,omitempty"`
}

// InstalmentView is what the notice of a subscription's instalment that
// failed before any payment tells.
type InstalmentView struct {
	SubscriptionID string    `json:"subscriptionId"`
	Token          string    `json:"token"`
	OrderID        string    `json:"orderId,omitempty"`
	Sequence       int       `json:"sequence"`
	Amount         int64     `json:"amount"`
	Currency       string    `json:"currency"`
	DueAt          time.Time `json:"dueAt"`
	ErrorCode      string    `json:"errorCode,omitempty"`
	ErrorDetail    string    `json:"errorDetail,omitempty"`
	// Reason: InstalmentFacts.Reason (empty: a charge failed).
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
	DetailsURL string    `json:"detailsUrl,omitempty"`
}

// BuyerView names the buyer.
type BuyerView struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// Content is the stored payload of an email or SMS message: what to say, not
// yet rendered. Rendering at delivery keeps the producer's transaction short
// and lets a corrected template apply to messages still being retried.
type Content struct {
	Template  string       `json:"template"`
	Lang      string       `json:"lang"`
	Mode      string       `json:"mode"`      // TEST or PRODUCTION
	Recipient string       `json:"recipient"` // buyer | merchant
	Shop      ShopView     `json:"shop"`
	Buyer     BuyerView    `json:"buyer"`
	Payment   *PaymentView `json:"payment,omitempty"`
	Token     *TokenView   `json:"token,omitempty"`
	// Instalment: a subscription's instalment that failed before any payment.
	Instalment *InstalmentView `json:"instalment,omitempty"`
	// TimeZone is the shop's time zone (an IANA name) when the event
	// happened: the message writes its times there. Empty (every message
	// queued before shops had one, and shops that set none): UTC.
	TimeZone string `json:"timeZone,omitempty"`
}

// Data is what templates see: the content with every value already written
// for the message's language. Shop templates use the same fields.
type Data struct {
	Lang      string
	Test      bool   // TEST mode: say that no real money moved
	Subject   string // the rendered subject (HTML <title>)
	Recipient string // buyer | merchant
	Greeting  string // "Hello Zoë," / "Bonjour,"
	Shop      ShopView
	Buyer     BuyerView
	Payment   *PaymentData
	Token     *TokenData
	// Instalment: a subscription's instalment that failed before any payment.
	Instalment *InstalmentData `json:",omitempty"`
	Links      Links
	Color      string // the shop's colour (#rrggbb), a safe default otherwise
	OnColor    string // black or white, whichever reads on Color

	cat  map[string]string
	vars map[string]string // placeholder name → value (see fill)
	loc  *time.Location    // the shop's time zone (nil: UTC)
}

// PaymentData is a payment written for one language.
type PaymentData struct {
	OrderID       string
	TransactionID string
	Accepted      bool
	// TechnicalError: the acquirer could not be reached, nothing was
	// charged (Accepted is false).
	TechnicalError bool
	// DebitAfterCheck: the technical error ended a deferred debit
	// (PaymentView.DebitAfterCheck).
	DebitAfterCheck bool
	Status          string // "Accepted" / "Refusé" / "Technical error" …
	// Retry, for a refused subscription instalment, is when it is tried
	// again (written for the language); InstalmentFailed: it is not.
	Retry            string
	InstalmentFailed bool
	Debit            string // DebitOn, formatted: the debit is deferred to that day
	Amount           string // "€12.50" / "12,50 €"
	Date             string
	Card             string // "VISA •••• 0055"
}

// TokenData is a token written for one language.
type TokenData struct {
	Kind              string
	Token             string
	Card              string
	Expiry            string // MM/YYYY
	CustomerReference string
	Date              string
}

// InstalmentData is a failed instalment written for one language.
type InstalmentData struct {
	SubscriptionID string
	Token          string
	OrderID        string
	Sequence       int
	Amount         string
	DueDate        string // the date only: instalments fall on dates
	Date           string // when it failed
	// Error: the cause in the message's language with its code ("The
	// token was cancelled: … (PSP_031)", instalmentErrorKey); for a
	// Reason, the reason in the message's language.
	Error string
	// Reason: "not_validated" or "cancelled" when the merchant ended the
	// instalment's debit, which the notice says instead of a failed charge.
	// Left out of {{.}} when empty, which then prints as it did before.
	Reason string `json:",omitempty"`
}

// Links are the URLs a message may show.
type Links struct {
	Shop    string // the merchant's site
	Contact string // mailto: the shop
	Details string // the back office page of the payment or token
}

// String is what {{.}} prints in a shop's template: the fields the
// template can use. fmt's own printing showed the unexported ones too: the
// language's whole catalog and the placeholder values, in the message.
func (d *Data) String() string {
	v := reflect.ValueOf(d).Elem()
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range reflect.VisibleFields(v.Type()) {
		if !f.IsExported() {
			continue
		}
		// Instalment, added later, is shown only when set: messages that
		// have none print as they did before it existed.
		if f.Name == "Instalment" && d.Instalment == nil {
			continue
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%+v", f.Name, v.FieldByIndex(f.Index).Interface())
	}
	b.WriteByte('}')
	return b.String()
}

// T returns the catalog text for key in the message's language, with the
// placeholders ({shop}, {amount}, {order} …) filled in.
func (d *Data) T(key string) string {
	return fill(d.raw(key), d.value)
}

// value is the value of placeholder {name}; ok is false for a name the
// message has no value for (its placeholder stays as it is).
func (d *Data) value(name string) (v string, ok bool) {
	v, ok = d.vars[name]
	return v, ok
}

// fill replaces each {name} in s with value(name), leaving the names value
// does not know as they are; inserted values are not scanned again. This
// is what strings.NewReplacer("{shop}", shop, …).Replace did, without
// building a replacer for every message and date: a message has a handful
// of placeholders, and most catalog texts have none.
func fill(s string, value func(name string) (string, bool)) string {
	i := strings.IndexByte(s, '{')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 64)
	for i >= 0 {
		// A placeholder ends at the first '}': no name contains one.
		j := strings.IndexByte(s[i+1:], '}')
		if j < 0 {
			break
		}
		if v, ok := value(s[i+1 : i+1+j]); ok {
			b.WriteString(s[:i])
			b.WriteString(v)
			s = s[i+1+j+1:]
		} else {
			// Not a placeholder: keep the brace and look again after it
			// ("{{shop}" is a brace and a placeholder).
			b.WriteString(s[:i+1])
			s = s[i+1:]
		}
		i = strings.IndexByte(s, '{')
	}
	b.WriteString(s)
	return b.String()
}

// raw returns the catalog text for key without filling placeholders
// (English when the language lacks it, the key itself when both do).
func (d *Data) raw(key string) string {
	if s, ok := d.cat[key]; ok {
		return s
	}
	if s, ok := catalogs["en"][key]; ok {
		return s
	}
	return key
}

// TLink is T for HTML with one placeholder turned into a link to href.
func (d *Data) TLink(key, placeholder, href string) template.HTML {
	value := fill("{"+placeholder+"}", d.value)
	parts := strings.Split(d.raw(key), "{"+placeholder+"}")
	for i, p := range parts {
		parts[i] = html.EscapeString(fill(p, d.value))
	}
	link := `<a href="` + html.EscapeString(safeURL(href, "mailto", "http", "https")) + `" style="color:#1d4ed8">` + html.EscapeString(value) + `</a>`
	return template.HTML(strings.Join(parts, link))
}

const defaultColor = "#1e3a8a"

// palettes keeps shop.PaletteFor(colour, defaultColor) by colour. It took
// 11-15 us for a light colour (up to 100 darkening steps, each two WCAG
// luminances with math.Pow), twice per buyer email (newData and the
// button's edge): more than a tenth of composing one. A pure function of
// its argument; the map stops growing at maxPalettes colours (a shop has
// one at a time), after which the others are computed each time.
var palettes struct {
	sync.RWMutex
	m map[string]shop.Palette
}

const maxPalettes = 4096

func palette(color string) shop.Palette {
	palettes.RLock()
	p, ok := palettes.m[color]
	palettes.RUnlock()
	if ok {
		return p
	}
	p = shop.PaletteFor(color, defaultColor)
	palettes.Lock()
	if palettes.m == nil {
		palettes.m = map[string]shop.Palette{}
	}
	if len(palettes.m) < maxPalettes {
		palettes.m[color] = p
	}
	palettes.Unlock()
	return p
}

// newData prepares content for rendering in its language.
func newData(c Content, sms bool) *Data {
	lang := Language(c.Lang)
	d := &Data{
		Lang: lang, Test: c.Mode != shop.ModeProduction, Recipient: c.Recipient, Shop: c.Shop, Buyer: c.Buyer,
		cat: catalogs[lang], loc: shop.Zone(c.TimeZone),
	}
	// The hosted page's rule (https, no credentials); a path on OpenPSP is
	// left out as well: a mail client has no page to resolve it against.
	d.Shop.LogoURL = shop.DisplayLogoURL(c.Shop.LogoURL)
	if strings.HasPrefix(d.Shop.LogoURL, "/") {
		d.Shop.LogoURL = ""
	}
	d.Shop.URL = safeURL(c.Shop.URL, "https", "http")
	// The hosted page's palette: text on the colour at 4.5:1 whatever it is.
	pal := palette(c.Shop.Color)
	d.Color, d.OnColor = pal.Color, pal.On
	d.Links.Shop = d.Shop.URL
	if c.Shop.Email != "" {
		d.Links.Contact = (&url.URL{Scheme: "mailto", Opaque: c.Shop.Email}).String()
	}
	vars := map[string]string{"shop": c.Shop.Name, "buyer": c.Buyer.Name, "email": c.Shop.Email}
	d.vars = vars
	// The buyer reads the brand as the payment page shows it; the merchant,
	// as the API returns it.
	brand := func(code string) string {
		if c.Recipient == "buyer" {
			return card.Brand(code).BuyerName()
		}
		return code
	}
	if p := c.Payment; p != nil {
		pd := &PaymentData{OrderID: p.OrderID, TransactionID: p.TransactionID, Accepted: p.Accepted,
			Amount: formatAmount(p.Amount, p.Currency, lang), Date: d.formatDate(p.At), Card: cardText(brand(p.Brand), p.PANMasked, sms)}
		pd.Status = catalogs[lang]["status.refused"]
		switch {
		case p.Accepted:
			pd.Status = catalogs[lang]["status.accepted"]
		case p.TechnicalError:
			pd.TechnicalError, pd.Status = true, catalogs[lang]["status.error"]
			pd.DebitAfterCheck = p.DebitAfterCheck
		}
		if p.RetryAt != nil {
			pd.Retry = d.formatDate(*p.RetryAt)
		}
		pd.InstalmentFailed = p.InstalmentFailed && !p.Accepted
		if p.DebitOn != nil && p.Accepted {
			pd.Debit = d.formatDay(*p.DebitOn)
		}
		vars["retry"], vars["debit"] = pd.Retry, pd.Debit
		d.Payment = pd
		d.Links.Details = safeURL(p.DetailsURL, "https", "http")
		order := p.OrderID
		if order == "" {
			order = p.ID
		}
		vars["order"], vars["amount"], vars["brand"], vars["pan"] = order, pd.Amount, brand(p.Brand), last4(p.PANMasked, sms)
	}
	if t := c.Token; t != nil {
		td := &TokenData{Kind: t.Kind, Token: t.Token, Card: cardText(brand(t.Brand), t.PANMasked, sms), CustomerReference: t.CustomerReference, Date: d.formatDate(t.At)}
		if t.ExpiryMonth > 0 && t.ExpiryYear > 0 {
			td.Expiry = fmt.Sprintf("%02d/%d", t.ExpiryMonth, t.ExpiryYear)
		}
		d.Token = td
		d.Links.Details = safeURL(t.DetailsURL, "https", "http")
		vars["token"], vars["brand"], vars["pan"], vars["expiry"] = t.Token, brand(t.Brand), last4(t.PANMasked, sms), td.Expiry
	}
	if in := c.Instalment; in != nil {
		id := &InstalmentData{SubscriptionID: in.SubscriptionID, Token: in.Token, OrderID: in.OrderID, Sequence: in.Sequence,
			Amount: formatAmount(in.Amount, in.Currency, lang), DueDate: d.formatDueDay(in.DueAt), Date: d.formatDate(in.At),
			Error: strings.TrimSpace(in.ErrorCode + " " + in.ErrorDetail), Reason: in.Reason}
		// The merchant's own decision, or the cause of a failed charge
		// with its code (what support asks for), in the merchant's
		// language: the error detail the instalment keeps is English, for
		// programs (the webhook) and logs.
		if key := "merchant.inst.reason." + in.Reason; in.Reason != "" && catalogs["en"][key] != "" {
			id.Error = d.T(key)
		} else if in.ErrorCode != "" || in.ErrorDetail != "" {
			id.Error = d.T(instalmentErrorKey(in.ErrorCode, in.ErrorDetail))
			if in.ErrorCode != "" {
				id.Error += " (" + in.ErrorCode + ")"
			}
		}
		d.Instalment = id
		d.Links.Details = safeURL(in.DetailsURL, "https", "http")
		order := in.OrderID
		if order == "" {
			order = in.SubscriptionID
		}
		vars["order"], vars["amount"], vars["sequence"], vars["token"] = order, id.Amount, strconv.Itoa(in.Sequence), in.Token
	}
	d.Greeting = d.T("greeting")
	if c.Buyer.Name != "" && c.Recipient == "buyer" {
		d.Greeting = d.T("greeting.name")
	}
	return d
}

// instalmentErrorKey is the catalogue key of the sentence that tells the
// merchant why an instalment failed before any payment, from the code and
// the English detail subscription records (payment's token errors, the
// acquirer's or an internal technical error); "other" for any other.
func instalmentErrorKey(code, detail string) string {
	const p = "merchant.inst.error."
	switch code {
	case errs.TokenInvalid: // the detail says why (payment.tokenError, payment.NotCardToken)
		switch {
		case strings.Contains(detail, errs.DetailTokenCancelled):
			return p + "token_cancelled"
		case strings.Contains(detail, errs.DetailCardExpired):
			return p + "card_expired"
		case strings.Contains(detail, errs.DetailNotCard):
			return p + "not_card"
		}
		return p + "token_invalid"
	case errs.TokenNotFound:
		return p + "token_not_found"
	case errs.TokenPurged:
		return p + "token_purged"
	case errs.Unauthorized: // the shop no longer allows the payment
		return p + "not_allowed"
	case errs.Internal, "ACQ_999": // payment.CodeAcquirerError
		return p + "technical"
	}
	return p + "other"
}

// formatDate writes the time of t in the shop's zone, the zone named
// ("March 4, 2030 at 11:30 CET").
func (d *Data) formatDate(t time.Time) string { return d.formatTime("date", t, d.loc) }

// formatDay writes the day of t in the shop's zone, without the time
// ("March 4, 2030"): the day a deferred debit is made there.
func (d *Data) formatDay(t time.Time) string { return d.formatTime("day", t, d.loc) }

// formatDueDay writes a date that is a date, not an instant: an
// instalment's due date, kept as its midnight UTC (subscription.Day). It
// is the same day in every zone: written in the shop's zone, March 4
// would read March 3 in New York.
func (d *Data) formatDueDay(t time.Time) string { return d.formatTime("day", t, time.UTC) }

// FormatDay writes the date of t without the time in a language of the
// messages (English for another), as the buyer's emails write it: the
// payment pages tell the same day in the same words (a deferred payment's
// debit date) without a second date format. The day is UTC's: FormatDayIn
// writes it in a shop's zone.
func FormatDay(lang string, t time.Time) string {
	return FormatDayIn(lang, "", t)
}

// FormatDayIn is FormatDay with the day of t in the time zone zone (a
// shop's TimeZone setting; "" or an unknown name is UTC).
func FormatDayIn(lang, zone string, t time.Time) string {
	return (&Data{cat: catalogs[Language(lang)], loc: shop.Zone(zone)}).formatDay(t)
}

// formatTime fills the catalogue's pattern (date, day) with the parts of t
// in loc (nil: UTC); a pattern uses the parts it names.
func (d *Data) formatTime(pattern string, t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	return fill(d.raw(pattern), func(name string) (string, bool) {
		switch name {
		case "day":
			return strconv.Itoa(t.Day()), true
		case "month":
			return d.raw("month." + strconv.Itoa(int(t.Month()))), true
		case "year":
			return strconv.Itoa(t.Year()), true
		case "time":
			return t.Format("15:04"), true
		case "zone":
			return zoneLabel(d.Lang, t), true
		}
		return "", false
	})
}

// zoneLabel names the zone of t as readers of lang write it. The tz
// database's abbreviations (CET, CEST, EST, GMT, BST) are English ones:
// English writes them; German writes its own for the European zones
// (zoneNames); a language with no name for the zone writes the offset
// from UTC ("UTC+1", "UTC-5", "UTC+5:45"), as French, Spanish and Italian
// do in prose (CLDR has no short names for these zones in them), and as
// every language does for a zone whose abbreviation is only its offset
// (the tz database writes "+0545"). UTC is "UTC" in every language.
func zoneLabel(lang string, t time.Time) string {
	abbr, off := t.Zone()
	if abbr != "" && abbr[0] != '+' && abbr[0] != '-' {
		if lang == "en" {
			return abbr
		}
		if name, ok := zoneNames[lang][abbr]; ok {
			return name
		}
	}
	if off == 0 {
		return "UTC"
	}
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	h, m := off/3600, off%3600/60
	if m != 0 {
		return fmt.Sprintf("UTC%s%d:%02d", sign, h, m)
	}
	return fmt.Sprintf("UTC%s%d", sign, h)
}

// zoneNames are, by language, the names of the tz database's
// abbreviations its readers use: CLDR's short zone names that a language
// commonly uses. Of OpenPSP's languages only German has them (for the
// European zones); English writes the abbreviations themselves.
var zoneNames = map[string]map[string]string{
	"de": {"CET": "MEZ", "CEST": "MESZ", "EET": "OEZ", "EEST": "OESZ", "WET": "WEZ", "WEST": "WESZ"},
}

func formatAmount(amount int64, currency, lang string) string {
	c, ok := money.Lookup(currency)
	if !ok {
		return strconv.FormatInt(amount, 10) + " " + currency
	}
	return money.FormatLocale(amount, c, lang)
}

// last4 shows the end of a masked PAN: "•••• 0055" (ASCII stars in SMS,
// whose GSM alphabet has no bullet).
func last4(masked string, sms bool) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, masked)
	if len(masked) < 4 || len(digits) < 4 {
		return ""
	}
	end := masked[len(masked)-4:]
	if sms {
		return "****" + end
	}
	return "•••• " + end
}

func cardText(brand, masked string, sms bool) string {
	return strings.TrimSpace(brand + " " + last4(masked, sms))
}

func safeURL(raw string, schemes ...string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) && (u.Host != "" || u.Opaque != "") {
			return raw
		}
	}
	return ""
}

func subjectKey(c Content) string {
	kind := ""
	if c.Token != nil {
		kind = c.Token.Kind
	}
	switch c.Template {
	case TplPaymentAcceptedBuyer:
		return "pay.ok.subject"
	case TplPaymentRefusedBuyer:
		switch {
		case c.Payment != nil && c.Payment.RetryAt != nil:
			return "pay.retry.subject"
		case c.Payment != nil && c.Payment.InstalmentFailed:
			return "pay.failed.subject"
		case c.Payment != nil && c.Payment.TechnicalError:
			return "pay.err.subject"
		}
		return "pay.ko.subject"
	case TplPaymentMerchant:
		switch {
		case c.Payment != nil && c.Payment.Accepted:
			return "merchant.pay.ok.subject"
		case c.Payment != nil && c.Payment.TechnicalError:
			return "merchant.pay.err.subject"
		}
		return "merchant.pay.ko.subject"
	case TplTokenBuyer:
		return "token." + kind + ".subject"
	case TplTokenMerchant:
		return "merchant.token." + kind + ".subject"
	case TplInstalmentMerchant:
		return "merchant.inst.failed.subject"
	case TplTokenSMSBuyer:
		return "sms.token." + kind
	case TplTokenSMSMerchant:
		return "sms.merchant.token." + kind
	}
	return ""
}

// TemplateStore gives a shop's own wording of a message (*store.DB
// implements it). It returns store.ErrNotFound when the shop has none.
type TemplateStore interface {
	NotifyTemplate(ctx context.Context, shopID, template, lang string) (store.NotifyTemplate, error)
}

// Rendered is a message ready to send.
type Rendered struct {
	Subject string
	Text    string
	HTML    string // empty for SMS
}

// Renderer renders contents with the built-in templates or the shop's own.
type Renderer struct {
	ts  TemplateStore
	log *slog.Logger
}

// NewRenderer returns a renderer; ts may be nil (built-in templates only).
func NewRenderer(ts TemplateStore, log *slog.Logger) *Renderer {
	if log == nil {
		log = slog.Default()
	}
	return &Renderer{ts: ts, log: log}
}

// Email renders an email. A shop's template that fails to render is logged
// and replaced by the built-in one: a typo must not lose a confirmation.
func (r *Renderer) Email(ctx context.Context, c Content) (Rendered, error) {
	if htmlTmpls[c.Template] == nil {
		return Rendered{}, fmt.Errorf("notify: unknown email template %q", c.Template)
	}
	d := newData(c, false)
	o := r.override(ctx, c, d.Lang)
	var out Rendered
	var err error
	if out.Subject, err = renderSubject(d, c, o.Subject); err != nil {
		r.log.Warn("notify: shop subject template failed, using the built-in one", "shop", c.Shop.ID, "template", c.Template, "err", err)
		out.Subject, _ = renderSubject(d, c, "")
	}
	d.Subject = out.Subject
	if out.HTML, err = renderHTML(d, c.Template, o.HTML); err != nil {
		r.log.Warn("notify: shop HTML template failed, using the built-in one", "shop", c.Shop.ID, "template", c.Template, "err", err)
		if out.HTML, err = renderHTML(d, c.Template, ""); err != nil {
			return out, err
		}
	}
	if out.Text, err = renderText(d, c.Template, o.Text); err != nil {
		r.log.Warn("notify: shop text template failed, using the built-in one", "shop", c.Shop.ID, "template", c.Template, "err", err)
		if out.Text, err = renderText(d, c.Template, ""); err != nil {
			return out, err
		}
	}
	return out, nil
}

// SMS renders an SMS text, in the GSM 7-bit alphabet where it can be
// (ToGSM7): the catalogs' typography (French no-break spaces, ’) and
// merchants' texts would otherwise make the gateway send it as UCS-2, 70
// characters a part instead of 160.
func (r *Renderer) SMS(ctx context.Context, c Content) (string, error) {
	s, err := r.sms(ctx, c)
	return ToGSM7(s), err
}

func (r *Renderer) sms(ctx context.Context, c Content) (string, error) {
	if c.Template != TplTokenSMSBuyer && c.Template != TplTokenSMSMerchant {
		return "", fmt.Errorf("notify: unknown SMS template %q", c.Template)
	}
	d := newData(c, true)
	o := r.override(ctx, c, d.Lang)
	if o.Text != "" {
		s, err := execText(d, o.Text)
		if err == nil {
			return strings.TrimSpace(s), nil
		}
		r.log.Warn("notify: shop SMS template failed, using the built-in one", "shop", c.Shop.ID, "template", c.Template, "err", err)
	}
	s := d.T(subjectKey(c))
	if d.Test {
		s = "[TEST] " + s
	}
	return s, nil
}

func (r *Renderer) override(ctx context.Context, c Content, lang string) store.NotifyTemplate {
	if r.ts == nil || c.Shop.ID == "" {
		return store.NotifyTemplate{}
	}
	o, err := r.ts.NotifyTemplate(ctx, c.Shop.ID, c.Template, lang)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			r.log.Warn("notify: reading the shop's template failed, using the built-in one", "shop", c.Shop.ID, "err", err)
		}
		return store.NotifyTemplate{}
	}
	return o
}

func renderSubject(d *Data, c Content, override string) (string, error) {
	var s string
	if override != "" {
		var err error
		if s, err = execText(d, override); err != nil {
			return "", err
		}
	} else {
		s = d.T(subjectKey(c))
	}
	// A header must be one line. Only ASCII whitespace is folded: the
	// no-break spaces of French typography and of amounts stay. Most
	// subjects are one line already: they are kept as they are.
	if strings.ContainsAny(s, "\t\n\r") || strings.Contains(s, "  ") || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }), " ")
	}
	if d.Test {
		s = "[TEST] " + s
	}
	return s, nil
}

// renderHTML executes the layout with the built-in content block, or with
// the shop's content block (its HTML replaces what sits between the header
// with the logo and the footer).
func renderHTML(d *Data, id, override string) (string, error) {
	t := htmlTmpls[id]
	if override != "" {
		var err error
		if t, err = shopHTML(override); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	b.Grow(htmlSize)
	if err := t.ExecuteTemplate(&b, "layout", d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// parsedShopTemplates keeps shops' templates parsed, by source: each
// message cloned the layout, parsed the shop's source into it and, for
// HTML, had html/template escape the whole layout again, several times the
// cost of the message itself. The same source parses to the same template,
// which runs the same whatever the message (html/template escapes it once,
// at its first run, and keeps an escaping error to return it at every
// run), so a message renders as it did. A source that does not parse is
// not kept: it fails as before. The map is emptied when it reaches
// maxShopTemplates sources (sources tried by ValidateOverride count too).
type parsedShopTemplates[T any] struct {
	mu sync.Mutex
	m  map[string]T
}

const maxShopTemplates = 256

// get returns the template parsed from src, parsing it with parse the
// first time.
func (c *parsedShopTemplates[T]) get(src string, parse func(string) (T, error)) (T, error) {
	c.mu.Lock()
	t, ok := c.m[src]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := parse(src)
	if err != nil {
		return t, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxShopTemplates {
		c.m = map[string]T{}
	}
	c.m[src] = t
	c.mu.Unlock()
	return t, nil
}

var (
	shopHTMLTemplates parsedShopTemplates[*template.Template]
	shopTextTemplates parsedShopTemplates[*texttemplate.Template]
)

// shopHTML is the layout with a shop's content block (see renderHTML).
func shopHTML(src string) (*template.Template, error) {
	return shopHTMLTemplates.get(src, func(src string) (*template.Template, error) {
		t, err := htmlLayout.Clone()
		if err == nil {
			_, err = t.Parse(`{{define "content"}}` + src + `{{end}}`)
		}
		return t, err
	})
}

// shopText is a shop's text template with the built-in text blocks (see
// execText).
func shopText(src string) (*texttemplate.Template, error) {
	return shopTextTemplates.get(src, func(src string) (*texttemplate.Template, error) {
		base, err := textBlocks.Clone()
		if err != nil {
			return nil, err
		}
		return base.New("shop").Parse(src)
	})
}

// Sizes to reserve for a message's parts: a little more than the built-in
// payment emails take (HTML 3-4 kB, text under 1 kB), so that one
// allocation holds the whole part.
const (
	htmlSize = 5 << 10
	textSize = 1 << 10
)

func renderText(d *Data, id, override string) (string, error) {
	if override != "" {
		return execText(d, override)
	}
	var b strings.Builder
	b.Grow(textSize)
	if err := textTmpls[id].ExecuteTemplate(&b, id+".txt", d); err != nil {
		return "", err
	}
	return tidyText(b.String()), nil
}

// execText runs a shop's text template; the built-in text blocks
// ("payment-rows", "footer", "test") are available to it.
func execText(d *Data, src string) (string, error) {
	t, err := shopText(src)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(textSize)
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return tidyText(b.String()), nil
}

// tidyText collapses runs of blank lines that optional parts leave behind,
// drops trailing blanks of lines and ends the text with one newline.
func tidyText(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	b.Grow(len(s) + 1)
	blank := false
	for {
		l, rest, more := strings.Cut(s, "\n")
		l = strings.TrimRight(l, " \t")
		if l != "" || !blank {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		blank = l == ""
		if !more {
			return b.String()
		}
		s = rest
	}
}

// ValidateOverride checks a shop's template before it is saved: it must
// parse and render a sample in every language.
func ValidateOverride(id, subject, htmlSrc, textSrc string) error {
	sample := SampleContent(id)
	if sample.Template == "" {
		return fmt.Errorf("notify: unknown template %q", id)
	}
	// Bytes of another encoding (a file saved as Latin-1) parse and
	// render, then PostgreSQL refuses them with its driver's error and
	// SQLite keeps them for the buyer's mailbox.
	for _, p := range [][2]string{{"subject", subject}, {"HTML", htmlSrc}, {"text", textSrc}} {
		if i := invalidUTF8(p[1]); i >= 0 {
			return fmt.Errorf("%s: not UTF-8 text (byte %d): write it in UTF-8 (not a file saved as Latin-1 or Windows-1252)", p[0], i+1)
		}
	}
	for _, lang := range Languages {
		sample.Lang = lang
		d := newData(sample, id == TplTokenSMSBuyer || id == TplTokenSMSMerchant)
		if subject != "" {
			if _, err := renderSubject(d, sample, subject); err != nil {
				return fmt.Errorf("subject: %w", err)
			}
		}
		if htmlSrc != "" {
			if htmlTmpls[id] == nil {
				return fmt.Errorf("notify: %s is an SMS: it has no HTML part", id)
			}
			if _, err := renderHTML(d, id, htmlSrc); err != nil {
				return fmt.Errorf("HTML: %w", err)
			}
		}
		if textSrc != "" {
			if _, err := execText(d, textSrc); err != nil {
				return fmt.Errorf("text: %w", err)
			}
		}
	}
	return nil
}

// invalidUTF8 is the offset of the first byte of s that is not UTF-8, or -1.
func invalidUTF8(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return -1
}

// SampleContent returns example content for a template id (previews,
// validation, the demo page); Template is empty for an unknown id.
func SampleContent(id string) Content {
	at := time.Date(2030, 3, 4, 10, 30, 0, 0, time.UTC)
	c := Content{
		Template: id, Lang: "en", Mode: "TEST", Recipient: "buyer",
		Shop:  ShopView{ID: "69876357", Name: "Demo shop", Email: "shop@example.com", URL: "https://shop.example.com/"},
		Buyer: BuyerView{Name: "Zoë Martin", Email: "zoe@example.com"},
	}
	pay := &PaymentView{ID: "pay-1", OrderID: "order-1001", TransactionID: "8f0b5c1e2d3a4b5c6d7e8f9a0b1c2d3e", Accepted: true,
		Amount: 123450, Currency: "EUR", Brand: "VISA", PANMasked: "497010XXXXXX0055", At: at}
	tok := &TokenView{Kind: "created", Token: "b6e7d9a1c3f54e2a8d0c6b4a2e8f1d3c", Brand: "VISA", PANMasked: "497010XXXXXX0055",
		ExpiryMonth: 12, ExpiryYear: 2031, CustomerReference: "cust-001", At: at}
	switch id {
	case TplPaymentAcceptedBuyer:
		c.Payment = pay
	case TplPaymentRefusedBuyer:
		pay.Accepted = false
		c.Payment = pay
	case TplPaymentMerchant:
		c.Payment, c.Recipient = pay, "merchant"
	case TplTokenBuyer, TplTokenSMSBuyer:
		c.Token = tok
	case TplTokenMerchant, TplTokenSMSMerchant:
		c.Token, c.Recipient = tok, "merchant"
	case TplInstalmentMerchant:
		c.Recipient, c.Buyer = "merchant", BuyerView{}
		c.Instalment = &InstalmentView{SubscriptionID: "3f1c9a7e5b2d4c6e8a0b1d3f5e7c9a2b", Token: tok.Token, OrderID: "sub-1001",
			Sequence: 3, Amount: 990, Currency: "EUR", DueAt: time.Date(2030, 3, 4, 0, 0, 0, 0, time.UTC),
			ErrorCode: "PSP_031", ErrorDetail: errs.DetailTokenCancelled, At: at}
	default:
		return Content{}
	}
	return c
}

var _ fs.FS = files
