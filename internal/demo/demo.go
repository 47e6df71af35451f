// Package demo is a small merchant shop served in TEST mode at /demo, so a
// newcomer sees a payment end to end within a minute: a product page, a
// checkout with the embedded payment form, a return page that verifies
// kr-hash, and the list of IPNs received with their signature check.
//
// It is written the way a merchant would write it: it calls the REST API V4
// over HTTP with the demo shop's keys and verifies signatures with its own
// code, not with OpenPSP's internals.
package demo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/money"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/webstatic"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// IPNStore keeps the IPNs the demo merchant receives.
type IPNStore interface {
	// InsertDemoIPN keeps n and deletes all but the newest keep copies.
	InsertDemoIPN(ctx context.Context, n store.DemoIPN, keep int) error
	DemoIPNs(ctx context.Context, limit int) ([]store.DemoIPN, error)
}

// Options configures the demo merchant.
type Options struct {
	// BaseURL returns OpenPSP's base URL, for the API calls and the JS client.
	BaseURL func() string
	IPNs    IPNStore
	// Shops finds the demo shop, whose time zone the IPN list writes the
	// times in, as /demo/mail does; nil, or the shop not found: UTC.
	Shops  notify.ShopFinder
	Logger *slog.Logger
	Now    func() time.Time
	// Extra links for the navigation (e.g. FlexCheckout, mailbox), label → path.
	Links []Link
	// ErrorPage tells a browser an error in its language: the payment
	// pages' message page (hosted.Handler.MessagePage), whose message
	// keys key names. Nil: plain text.
	ErrorPage func(w http.ResponseWriter, r *http.Request, status int, key, lang string)
	// Language picks the payment form's language from ?lang= (tag) and the
	// browser's Accept-Language: the payment pages' choice
	// (hosted.PageLanguage), so the demo and the form agree. Nil: English.
	Language func(tag, acceptLanguage string) string
}

// Message keys of ErrorPage (those of the payment pages).
const (
	msgInvalidRequest = "invalid_request"
	msgTechnical      = "technical_error"
)

// fail answers a browser's request with the error page in the shop's
// language (?lang= or the form's), else the browser's.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, key string) {
	if h.opts.ErrorPage == nil {
		http.Error(w, http.StatusText(status), status)
		return
	}
	l := r.URL.Query().Get("lang")
	if r.Form != nil {
		l = r.Form.Get("lang")
	}
	h.opts.ErrorPage(w, r, status, key, l)
}

// Link is a navigation entry.
type Link struct{ Label, Path string }

// Handler serves /demo.
type Handler struct {
	opts   Options
	tmpl   *template.Template
	client *http.Client
}

// Product is something the demo shop sells.
type Product struct {
	ID, Name, Description string
	Amount                int64 // EUR cents
}

// Products are the demo catalogue.
var Products = []Product{
	{"mug", "OpenPSP mug", "A sturdy mug for long integration sessions.", 1250},
	{"tshirt", "T-shirt", "Organic cotton, printed with the PayZen V4 envelope.", 2490},
	{"book", "Payments handbook", "Everything about authorizations, captures and refunds.", 3999},
}

// New returns the demo merchant.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	funcs := template.FuncMap{
		"price": func(amount int64, lang string) string {
			c, _ := money.Lookup("EUR")
			return money.FormatLocale(amount, c, lang)
		},
	}
	t := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
	return &Handler{opts: o, tmpl: t, client: &http.Client{Timeout: 15 * time.Second}}
}

// maxDemoBody bounds what a demo form post may send (an IPN is the
// largest): FormValue alone reads 10 MB of a url-encoded body into memory
// and a multipart body of any size to disk.
const maxDemoBody = 1 << 20

// limitBody refuses to read more than maxDemoBody of a request: the form
// then does not parse and the handler answers its invalid-request page.
func limitBody(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxDemoBody)
		next(w, r)
	}
}

// Register mounts the demo routes.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /demo", h.index)
	mux.HandleFunc("GET /demo/{$}", h.index)
	mux.HandleFunc("POST /demo/checkout", limitBody(h.checkout))
	mux.HandleFunc("POST /demo/return", limitBody(h.returnPage))
	mux.HandleFunc("GET /demo/return", h.returnPage)
	mux.HandleFunc("POST /demo/ipn", limitBody(h.receiveIPN))
	mux.HandleFunc("GET /demo/ipn", h.listIPN)
	mux.HandleFunc("GET /demo/wallet", h.walletPage)
	mux.HandleFunc("GET /demo/flexcheckout", h.flexPage)
	mux.HandleFunc("GET /demo/flexcheckout/result", h.flexResult)
	mux.HandleFunc("POST /demo/flexcheckout/charge", limitBody(h.flexCharge))
	sub, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /demo/static/", http.StripPrefix("/demo/static/", webstatic.Files(sub)))
}

var languages = []struct{ Code, Name string }{
	{"en", "English"}, {"fr", "Français"}, {"es", "Español"}, {"it", "Italiano"}, {"de", "Deutsch"},
}

// lang is the buyer's language for the payment form: ?lang= (or the
// form's lang), else the browser's, as the payment pages choose it.
func (h *Handler) lang(r *http.Request) string {
	if h.opts.Language == nil {
		return "en"
	}
	return h.opts.Language(r.FormValue("lang"), r.Header.Get("Accept-Language"))
}

type page struct {
	Title     string
	Lang      string
	Languages any
	Links     []Link
	Products  []Product
	Data      map[string]any
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, name string, p page, csp string) {
	p.Languages = languages
	p.Links = h.opts.Links
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		h.opts.Logger.Error("demo: render", "template", name, "err", err)
		h.fail(w, r, http.StatusInternalServerError, msgTechnical)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

const strictCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "index.html", page{Title: "Products", Lang: h.lang(r), Products: Products}, strictCSP)
}

// checkout creates the payment through the REST API, as a merchant server
// does, and shows the embedded form with the formToken.
func (h *Handler) checkout(w http.ResponseWriter, r *http.Request) {
	l := h.lang(r)
	var product *Product
	for i := range Products {
		if Products[i].ID == r.FormValue("product") {
			product = &Products[i]
		}
	}
	if product == nil {
		h.fail(w, r, http.StatusBadRequest, msgInvalidRequest)
		return
	}
	qty, err := strconv.Atoi(r.FormValue("quantity"))
	if err != nil || qty < 1 || qty > 10 {
		qty = 1
	}
	email := strings.TrimSpace(r.FormValue("email"))
	if email == "" {
		email = "buyer@example.com"
	}
	orderID := "demo-" + ids.RandomHex(5)
	customer := map[string]any{"email": email, "billingDetails": map[string]any{"language": l}}
	body := map[string]any{
		"amount": product.Amount * int64(qty), "currency": "EUR", "orderId": orderID,
		"customer": customer, "ipnTargetUrl": h.opts.BaseURL() + "/demo/ipn",
	}
	// A returning buyer: the shop's account id is the customer reference of
	// the buyer's wallet of saved cards (formAction CUSTOMER_WALLET).
	account := strings.TrimSpace(r.FormValue("account"))
	if account != "" {
		customer["reference"] = account
		body["formAction"] = "CUSTOMER_WALLET"
	}
	formToken, apiErr, err := h.createPayment(r.Context(), body)
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "demo: CreatePayment failed", "err", err)
		h.fail(w, r, http.StatusBadGateway, msgTechnical)
		return
	}
	if apiErr != "" {
		h.opts.Logger.WarnContext(r.Context(), "demo: CreatePayment answered an error", "error", apiErr)
		h.fail(w, r, http.StatusBadGateway, msgTechnical)
		return
	}
	base := h.opts.BaseURL()
	csp := "default-src 'none'; style-src 'self' " + base + "; img-src 'self' data: " + base + "; script-src " + base +
		"; frame-src " + base + "; connect-src " + base + "; form-action 'self' " + base + "; frame-ancestors 'none'; base-uri 'none'"
	h.render(w, r, "checkout.html", page{Title: "Checkout", Lang: l, Data: map[string]any{
		"Product": product, "Quantity": qty, "Total": product.Amount * int64(qty), "OrderID": orderID,
		"FormToken": formToken, "PublicKey": shop.DemoTestPublicKey, "Base": base, "Email": email,
		"HostedURL": hostedURL(base, formToken, l), "Account": account,
	}}, csp)
}

// hostedURL is the link to the hosted payment page: the buyer's language
// goes to the page (kr-language) and back to the return page (?lang=), as
// with the embedded form.
func hostedURL(base, formToken, lang string) string {
	ret := base + "/demo/return?lang=" + url.QueryEscape(lang)
	q := url.Values{"kr-language": {lang}, "kr-post-url-success": {ret}, "kr-post-url-refused": {ret}}
	return base + "/pay/" + url.PathEscape(formToken) + "?" + q.Encode()
}

// callV4 calls a web service with the demo shop's TEST keys, as the
// merchant's server does, and returns the raw answer.
func (h *Handler) callV4(ctx context.Context, name string, body any) ([]byte, int, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.opts.BaseURL()+"/api-payment/V4/"+name, bytes.NewReader(b))
	if err != nil {
		return nil, 0, err
	}
	req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return raw, resp.StatusCode, err
}

func (h *Handler) createPayment(ctx context.Context, body map[string]any) (formToken, apiErr string, err error) {
	raw, code, err := h.callV4(ctx, "Charge/CreatePayment", body)
	if err != nil {
		return "", "", err
	}
	var env struct {
		Status string `json:"status"`
		Answer struct {
			FormToken    string `json:"formToken"`
			ErrorCode    string `json:"errorCode"`
			ErrorMessage string `json:"errorMessage"`
		} `json:"answer"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return "", "", fmt.Errorf("unreadable answer (HTTP %d)", code)
	}
	if env.Status != "SUCCESS" {
		return "", env.Answer.ErrorCode + " " + env.Answer.ErrorMessage, nil
	}
	return env.Answer.FormToken, "", nil
}

// verify checks kr-hash the way the PayZen documentation tells merchants
// to: lowercase hex HMAC-SHA256 of kr-answer, exactly as posted, under key.
func verify(answer, hash, key string) bool {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(answer))
	return hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(strings.ToLower(hash)))
}

type summary struct {
	OrderStatus, OrderID, Amount, Brand, PAN, DetailedStatus, UUID, Error string
}

func summarize(answer, l string) summary {
	var p struct {
		OrderStatus  string `json:"orderStatus"`
		OrderDetails struct {
			OrderID          string `json:"orderId"`
			OrderTotalAmount int64  `json:"orderTotalAmount"`
			OrderCurrency    string `json:"orderCurrency"`
		} `json:"orderDetails"`
		Transactions []struct {
			UUID               string `json:"uuid"`
			DetailedStatus     string `json:"detailedStatus"`
			ErrorMessage       string `json:"errorMessage"`
			TransactionDetails struct {
				CardDetails struct {
					EffectiveBrand string `json:"effectiveBrand"`
					PAN            string `json:"pan"`
				} `json:"cardDetails"`
			} `json:"transactionDetails"`
		} `json:"transactions"`
	}
	_ = json.Unmarshal([]byte(answer), &p)
	s := summary{OrderStatus: p.OrderStatus, OrderID: p.OrderDetails.OrderID}
	if c, ok := money.Lookup(p.OrderDetails.OrderCurrency); ok {
		s.Amount = money.FormatLocale(p.OrderDetails.OrderTotalAmount, c, l)
	}
	if n := len(p.Transactions); n > 0 {
		t := p.Transactions[n-1]
		s.UUID, s.DetailedStatus, s.Error = t.UUID, t.DetailedStatus, t.ErrorMessage
		s.Brand, s.PAN = t.TransactionDetails.CardDetails.EffectiveBrand, t.TransactionDetails.CardDetails.PAN
	}
	return s
}

// returnPage is kr-post-url-success / kr-post-url-refused: the browser comes
// back with kr-answer and kr-hash, which the merchant must verify.
func (h *Handler) returnPage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, msgInvalidRequest)
		return
	}
	answer := r.Form.Get("kr-answer")
	hash := r.Form.Get("kr-hash")
	ok := answer != "" && r.Form.Get("kr-hash-algorithm") == "sha256_hmac" && verify(answer, hash, shop.DemoTestHMACKey)
	l := h.lang(r)
	h.render(w, r, "return.html", page{Title: "Payment result", Lang: l, Data: map[string]any{
		"SignatureOK": ok, "Present": answer != "", "Summary": summarize(answer, l), "Answer": prettyJSON(answer),
		"HashKey": r.Form.Get("kr-hash-key"), "AnswerType": r.Form.Get("kr-answer-type"),
	}}, strictCSP)
}

// receiveIPN is the demo shop's notification URL. The IPN is signed with the
// REST password (kr-hash-key=password).
func (h *Handler) receiveIPN(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	answer := r.PostForm.Get("kr-answer")
	key := shop.DemoTestPassword
	if r.PostForm.Get("kr-hash-key") == "sha256_hmac" {
		key = shop.DemoTestHMACKey
	}
	ok := answer != "" && verify(answer, r.PostForm.Get("kr-hash"), key)
	s := summarize(answer, "en")
	if !ok {
		// Anyone can post here: a forged IPN is shown as INVALID, its
		// beginning is enough for that.
		answer = cutUTF8(answer, maxForgedIPN)
	}
	if err := h.opts.IPNs.InsertDemoIPN(r.Context(), store.DemoIPN{ReceivedAt: h.opts.Now().UTC(), OrderID: cutUTF8(s.OrderID, 64),
		OrderStatus: cutUTF8(s.OrderStatus, 64), HashKey: cutUTF8(r.PostForm.Get("kr-hash-key"), 64), SignatureOK: ok, Answer: answer}, keptIPNs); err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "demo: store IPN", "err", err)
		http.Error(w, "could not store the IPN", http.StatusServiceUnavailable)
		return
	}
	if !ok {
		http.Error(w, "invalid signature", http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, "OK")
}

// The IPNs the receiver keeps: the newest keptIPNs (the page shows 100),
// a forged one cut to maxForgedIPN bytes, so that posts from anyone (up to
// maxDemoBody each) cannot fill the database's disk. A signed one is kept
// whole: OpenPSP wrote it.
const (
	keptIPNs     = 200
	maxForgedIPN = 16 << 10
)

// cutUTF8 cuts s to at most n bytes, at the start of a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (h *Handler) listIPN(w http.ResponseWriter, r *http.Request) {
	list, err := h.opts.IPNs.DemoIPNs(r.Context(), 100)
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "demo: read IPNs", "err", err)
		h.fail(w, r, http.StatusServiceUnavailable, msgTechnical)
		return
	}
	// The IPNs are the demo shop's (signed with its password): their times
	// in its zone of today. Unlike an email, which /demo/mail dates in the
	// zone it wrote its times in, an IPN writes none of its own (its dates
	// are UTC): the page is the shop's log of what it received.
	zone, err := notify.ShopZone(r.Context(), h.opts.Shops, shop.DemoShopID)
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "demo: read the demo shop", "err", err)
		h.fail(w, r, http.StatusServiceUnavailable, msgTechnical)
		return
	}
	type row struct {
		store.DemoIPN
		When    notify.DemoWhen
		Summary summary
		Pretty  string
	}
	rows := make([]row, 0, len(list))
	for _, n := range list {
		rows = append(rows, row{n, notify.DemoTime(n.ReceivedAt, zone), summarize(n.Answer, "en"), prettyJSON(n.Answer)})
	}
	h.render(w, r, "ipn.html", page{Title: "IPNs received", Lang: h.lang(r), Data: map[string]any{"IPNs": rows}}, strictCSP)
}

// prettyJSON indents an answer for the return page and the IPN list, which
// show what anyone posted. Indenting adds two spaces per level to every
// line, so "[[[…]]]" nested n deep grows to about n² bytes (16 KB became
// 128 MB): an answer nested deeper than maxPrettyDepth, or whose indented
// form would be more than maxPrettyGrowth times its size, is shown as
// posted. A V4 answer nests about 7 deep and grows 2 to 3 times.
func prettyJSON(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil || deeperThan(v, maxPrettyDepth) {
		return s
	}
	// Indent the bytes as sent, not v: its fields in their order, its
	// numbers as written (v sorts the keys and rounds past 2^53).
	var b bytes.Buffer
	if json.Indent(&b, []byte(s), "", "  ") != nil || b.Len() > maxPrettyGrowth*len(s)+1024 {
		return s
	}
	return b.String()
}

const (
	maxPrettyDepth  = 20
	maxPrettyGrowth = 8
)

// deeperThan reports whether v holds arrays or objects nested more than n
// deep. It stops at the first branch that is: its recursion is at most n+1
// deep whatever v holds.
func deeperThan(v any, n int) bool {
	switch v := v.(type) {
	case []any:
		if n == 0 {
			return true
		}
		for _, e := range v {
			if deeperThan(e, n-1) {
				return true
			}
		}
	case map[string]any:
		if n == 0 {
			return true
		}
		for _, e := range v {
			if deeperThan(e, n-1) {
				return true
			}
		}
	}
	return false
}

// walletPage is the merchant's view of a buyer's wallet (CustomerWallet/Get
// with tokenStatus ALL): cancelled cards stay visible to the merchant.
func (h *Handler) walletPage(w http.ResponseWriter, r *http.Request) {
	ref := strings.TrimSpace(r.FormValue("account"))
	type tokenRow struct {
		Token, Status, Brand, PAN, Expiry, Created, Cancelled string
	}
	var rows []tokenRow
	apiErr := ""
	if ref != "" {
		raw, _, err := h.callV4(r.Context(), "CustomerWallet/Get", map[string]any{"customerReference": ref, "tokenStatus": "ALL"})
		var env struct {
			Status string `json:"status"`
			Answer struct {
				ErrorCode    string `json:"errorCode"`
				ErrorMessage string `json:"errorMessage"`
				Tokens       []struct {
					Status             string  `json:"status"`
					PaymentMethodToken string  `json:"paymentMethodToken"`
					CreationDate       string  `json:"creationDate"`
					CancellationDate   *string `json:"cancellationDate"`
					TokenDetails       struct {
						PAN            string `json:"pan"`
						ExpiryMonth    int    `json:"expiryMonth"`
						ExpiryYear     int    `json:"expiryYear"`
						EffectiveBrand string `json:"effectiveBrand"`
					} `json:"tokenDetails"`
				} `json:"tokens"`
			} `json:"answer"`
		}
		switch {
		case err != nil:
			apiErr = err.Error()
		case json.Unmarshal(raw, &env) != nil:
			apiErr = "unreadable answer"
		case env.Status != "SUCCESS":
			apiErr = env.Answer.ErrorCode + " " + env.Answer.ErrorMessage
		}
		for _, t := range env.Answer.Tokens {
			row := tokenRow{Token: t.PaymentMethodToken, Status: t.Status, Brand: t.TokenDetails.EffectiveBrand, PAN: t.TokenDetails.PAN,
				Expiry: fmt.Sprintf("%02d/%d", t.TokenDetails.ExpiryMonth, t.TokenDetails.ExpiryYear), Created: t.CreationDate}
			if t.CancellationDate != nil {
				row.Cancelled = *t.CancellationDate
			}
			rows = append(rows, row)
		}
	}
	h.render(w, r, "wallet.html", page{Title: "Customer wallet", Lang: h.lang(r), Data: map[string]any{
		"Account": ref, "Tokens": rows, "Error": apiErr,
	}}, strictCSP)
}
