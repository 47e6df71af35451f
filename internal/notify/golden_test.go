package notify

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
)

// The golden test pins every byte the renderer produces: each template in
// each language, for contents chosen to take every branch of the templates
// (names or not, accepted or refused, TEST or PRODUCTION, hostile strings
// in every field a buyer or merchant controls, branding set, missing or
// unsafe, shop overrides good and broken). testdata/render.golden keeps one
// hash per case, so that an optimisation of the renderer can be shown to
// change nothing. A change of a template or catalog changes the hashes on
// purpose: check the new output (-golden.dump), then rewrite the file with
// -golden.update.
var (
	goldenUpdate = flag.Bool("golden.update", false, "rewrite testdata/render.golden from the current renderer")
	goldenDump   = flag.String("golden.dump", "", "write every golden case's full output into this directory (to diff two versions)")
)

const goldenFile = "testdata/render.golden"

// goldenVariant changes a template's sample content; apply reports false
// when the variant means nothing for that content (then it is skipped).
type goldenVariant struct {
	name  string
	apply func(c *Content) bool
}

// hostile are strings that need escaping in every HTML context the
// templates use, with placeholders that must not be expanded twice.
const (
	hostileShop  = `<script>alert("x")</script> & 'Zoë' "Ça" {amount} </title>`
	hostileBuyer = "Zoë \"<b>O'Brien</b>\" & {shop} \u00a0Ω\u2028 --> <!--"
	hostileOrder = `"><img src=x onerror=alert(1)>&amp;é{order}`
)

func paymentOnly(f func(p *PaymentView)) func(c *Content) bool {
	return func(c *Content) bool {
		if c.Payment == nil {
			return false
		}
		f(c.Payment)
		return true
	}
}

var goldenVariants = []goldenVariant{
	{"sample", func(c *Content) bool { return true }},
	{"production", func(c *Content) bool { c.Mode = "PRODUCTION"; return true }},
	{"mode-empty", func(c *Content) bool { c.Mode = ""; return true }},
	{"no-buyer-name", func(c *Content) bool { c.Buyer.Name = ""; return true }},
	{"recipient-swapped", func(c *Content) bool {
		c.Recipient = map[string]string{"buyer": "merchant", "merchant": "buyer"}[c.Recipient]
		return true
	}},
	{"accepted-flipped", paymentOnly(func(p *PaymentView) { p.Accepted = !p.Accepted })},
	{"hostile", func(c *Content) bool { hostile(c); return true }},
	{"branding-6", func(c *Content) bool {
		c.Shop.Color, c.Shop.LogoURL = "#FFD700", `https://shop.example/logo.png?a=1&b=<2>"`
		c.Shop.URL = `https://shop.example/?q="<x>&y=1`
		details(c, `https://psp.example/bo/payments/pay-1?x=<y>&z="1"`)
		return true
	}},
	{"branding-3", func(c *Content) bool {
		c.Shop.Color, c.Shop.LogoURL, c.Shop.URL = "#000", "http://shop.example/l.png", "HTTP://Shop.Example/path with space"
		details(c, "https://psp.example/bo/x")
		return true
	}},
	{"branding-unsafe", func(c *Content) bool {
		c.Shop.Color, c.Shop.LogoURL, c.Shop.URL = "red;background:url(https://evil)", "javascript:alert(1)", "javascript:alert(2)"
		c.Shop.Email = `not an "email" <x>`
		details(c, "data:text/html,<script>x</script>")
		return true
	}},
	{"bare", func(c *Content) bool {
		c.Shop = ShopView{ID: c.Shop.ID, Name: c.Shop.Name}
		c.Buyer.Email = ""
		if p := c.Payment; p != nil {
			p.OrderID, p.TransactionID, p.Brand, p.PANMasked, p.At = "", "", "", "", time.Time{}
		}
		if t := c.Token; t != nil {
			t.Brand, t.PANMasked, t.ExpiryMonth, t.ExpiryYear, t.CustomerReference, t.At = "", "", 0, 0, "", time.Time{}
		}
		if in := c.Instalment; in != nil {
			in.OrderID, in.ErrorCode, in.ErrorDetail, in.DueAt, in.At = "", "", "", time.Time{}, time.Time{}
		}
		return true
	}},
	{"short-pan", func(c *Content) bool {
		p := panOf(c)
		if p == nil {
			return false
		}
		*p = "XX55"
		return true
	}},
	{"whitespace-unicode", func(c *Content) bool {
		c.Shop.Name = "  Le\tPetit\n\nCafé «Zoé» — 日本 😀\r\n"
		c.Buyer.Name = "\r\nἈθηνᾶ\u00a0Ω\t"
		return true
	}},
	{"usd", paymentOnly(func(p *PaymentView) { p.Currency, p.Amount = "USD", 5 })},
	{"jpy", paymentOnly(func(p *PaymentView) { p.Currency, p.Amount = "JPY", 1234567 })},
	{"unknown-currency", paymentOnly(func(p *PaymentView) { p.Currency, p.Amount = "XYZ<", -42 })},
	{"dates", func(c *Content) bool {
		// Midnight past New Year in UTC+2 is the old year in UTC.
		at := time.Date(2031, 1, 1, 0, 30, 0, 0, time.FixedZone("X", 2*3600))
		if c.Payment != nil {
			c.Payment.At = at
		}
		if c.Token != nil {
			c.Token.At = at
		}
		if c.Instalment != nil {
			c.Instalment.At, c.Instalment.DueAt = at, at
		}
		return true
	}},
	{"payment-and-token", func(c *Content) bool {
		if c.Payment == nil && c.Token == nil {
			return false
		}
		s := SampleContent(TplTokenMerchant)
		if c.Payment == nil {
			s = SampleContent(TplPaymentMerchant)
			c.Payment = s.Payment
		} else {
			c.Token = s.Token
		}
		c.Token.Brand, c.Token.PANMasked = "MASTERCARD", "513000XXXXXX0004"
		return true
	}},
	{"hostile-production-branded", func(c *Content) bool {
		hostile(c)
		c.Mode, c.Buyer.Name = "PRODUCTION", ""
		c.Shop.Color, c.Shop.LogoURL = "#fff", `https://cdn.example/"logo".png`
		return true
	}},
	// Shop overrides: goldenOverrides answers by shop id.
	{"override", func(c *Content) bool { c.Shop.ID = "ovr-good"; return true }},
	{"override-hostile", func(c *Content) bool { hostile(c); c.Shop.ID = "ovr-good"; return true }},
	{"override-bare", func(c *Content) bool {
		c.Shop = ShopView{ID: "ovr-good", Name: c.Shop.Name}
		return true
	}},
	{"override-broken", func(c *Content) bool { c.Shop.ID = "ovr-broken"; return true }},
	{"override-row-short", func(c *Content) bool { c.Shop.ID = "ovr-row"; return true }},
	{"override-text-only", func(c *Content) bool { c.Shop.ID = "ovr-text"; return true }},
	{"technical-error", paymentOnly(func(p *PaymentView) { p.Accepted, p.TechnicalError = false, true })},
	{"deferred-debit-error", paymentOnly(func(p *PaymentView) { p.Accepted, p.TechnicalError, p.DebitAfterCheck = false, true, true })},
	{"instalment-retry", paymentOnly(func(p *PaymentView) {
		at := time.Date(2030, 3, 5, 10, 30, 0, 0, time.UTC)
		p.Accepted, p.RetryAt = false, &at
	})},
	{"instalment-failed", paymentOnly(func(p *PaymentView) { p.Accepted, p.InstalmentFailed = false, true })},
	{"instalment-not-validated", instalmentOnly(func(in *InstalmentView) { in.Reason = InstalmentNotValidated })},
	{"instalment-cancelled", instalmentOnly(func(in *InstalmentView) { in.Reason = InstalmentCancelled })},
	// The shop's time zone: every time written there with its abbreviation
	// (or offset), in winter and in summer; instalment dates stay dates. A
	// name no zone has (a payload written by hand) is UTC.
	{"zone-paris-winter", zoned("Europe/Paris", time.Date(2030, 1, 15, 23, 10, 0, 0, time.UTC))},
	{"zone-paris-summer", zoned("Europe/Paris", time.Date(2030, 7, 15, 22, 10, 0, 0, time.UTC))},
	{"zone-new-york", zoned("America/New_York", time.Date(2030, 11, 3, 5, 30, 0, 0, time.UTC))},
	{"zone-offset", zoned("Asia/Kathmandu", time.Date(2030, 3, 4, 20, 0, 0, 0, time.UTC))},
	{"zone-unknown", zoned("Mars/Olympus_Mons", time.Date(2030, 3, 4, 20, 0, 0, 0, time.UTC))},
}

// zoned puts the shop in zone and the event at at, with a debit, a retry
// and an instalment due the day after.
func zoned(zone string, at time.Time) func(c *Content) bool {
	return func(c *Content) bool {
		setZoned(c, zone, at)
		return true
	}
}

func setZoned(c *Content, zone string, at time.Time) {
	c.TimeZone = zone
	next := at.Add(24 * time.Hour)
	if p := c.Payment; p != nil {
		p.At = at
		if p.Accepted {
			p.DebitOn = &next
		} else {
			p.RetryAt = &next
		}
	}
	if t := c.Token; t != nil {
		t.At = at
	}
	if in := c.Instalment; in != nil {
		in.At = at
		y, m, d := next.Date()
		in.DueAt = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
}

func instalmentOnly(f func(in *InstalmentView)) func(c *Content) bool {
	return func(c *Content) bool {
		if c.Instalment == nil {
			return false
		}
		f(c.Instalment)
		return true
	}
}

func hostile(c *Content) {
	c.Shop.Name, c.Buyer.Name = hostileShop, hostileBuyer
	c.Shop.Email = `shop+"&<>"@example.com`
	c.Buyer.Email = `"zoe<x>"@example.com`
	if p := c.Payment; p != nil {
		p.OrderID, p.TransactionID, p.Brand = hostileOrder, `tx<'&">`, "VI<SA>&"
	}
	if t := c.Token; t != nil {
		t.Token, t.CustomerReference, t.Brand = `tok<&>"'{token}`, "cust</td><script>", "VI<SA>&"
	}
	if in := c.Instalment; in != nil {
		in.OrderID, in.Token, in.ErrorDetail = hostileOrder, `tok<&>"'{token}`, `</td><script>{amount}`
	}
}

func details(c *Content, u string) {
	if c.Payment != nil {
		c.Payment.DetailsURL = u
	}
	if c.Token != nil {
		c.Token.DetailsURL = u
	}
	if c.Instalment != nil {
		c.Instalment.DetailsURL = u
	}
}

func panOf(c *Content) *string {
	if c.Payment != nil {
		return &c.Payment.PANMasked
	}
	if c.Token == nil {
		return nil
	}
	return &c.Token.PANMasked
}

// goldenOverrides are shops' own templates, the same for every template id
// and language, by shop id.
type goldenOverrides map[string]store.NotifyTemplate

func (g goldenOverrides) NotifyTemplate(_ context.Context, shopID, _, _ string) (store.NotifyTemplate, error) {
	if t, ok := g[shopID]; ok {
		return t, nil
	}
	return store.NotifyTemplate{}, store.ErrNotFound
}

var overrides = goldenOverrides{
	"ovr-good": {
		Subject: `{{.T "greeting"}} {{.Buyer.Name}}	{{.Shop.Name}}{{if .Payment}} {{.Payment.Amount}} {{.Payment.OrderID}}{{end}}{{if .Token}} {{.Token.Card}}{{end}}`,
		HTML: `<p class="own" title="{{.Buyer.Name}}">{{.Greeting}} {{.T "footer"}}</p><a href="{{.Links.Shop}}">{{.Shop.Name}}</a>
{{if .Payment}}{{template "payment-rows" .}}{{end}}{{if .Token}}{{template "token-rows" .}}{{end}}
{{template "button" (list .Links.Details (.T "details") .Color .OnColor)}}
<script>var n = {{.Buyer.Name}}, o = {{.}};</script><style>p{color:{{.Color}}}</style>
<a href="/x?shop={{.Shop.Name}}&amp;b={{.Buyer.Name}}" onclick="f({{.Shop.Name}})">{{.TLink "contact" "email" .Links.Contact}}</a>
<table>{{template "row" (list "Label <&>" .Buyer.Name)}}{{template "row" (list (.TLink "contact" "email" .Links.Contact) 42)}}{{template "row" (list .Shop.Name .Links.Shop "extra")}}</table>`,
		Text: "{{template \"test\" .}}{{.Greeting}}   \n\n\n\n{{if .Payment}}{{template \"payment-rows\" .}}{{end}}\n\t\n{{.T \"visit\"}} {{.Subject}}\n{{template \"footer\" .}}\n\n",
	},
	"ovr-broken": {Subject: "{{.Broken", HTML: "{{.Nope}}", Text: "{{.Payment.Nope}}"},
	"ovr-row":    {HTML: `<table>{{template "row" (list "only")}}</table>`},
	"ovr-text":   {Text: "{{.Shop.Name}} : {{if .Token}}{{.Token.Card}} {{.T \"sms.token.created\"}}{{else}}{{.T \"pay.ok.intro\"}}{{end}}"},
}

// goldenCase renders one case into h (every part, length-prefixed); with
// dump set it also returns the output as text.
func goldenCase(t *testing.T, r *Renderer, d *EmailDeliverer, c Content, h hash.Hash) string {
	t.Helper()
	var parts []string
	if c.Template == TplTokenSMSBuyer || c.Template == TplTokenSMSMerchant {
		s, err := r.SMS(context.Background(), c)
		parts = append(parts, s, fmt.Sprint(err))
	} else {
		out, err := r.Email(context.Background(), c)
		parts = append(parts, out.Subject, out.Text, out.HTML, fmt.Sprint(err))
		// The deliverer's view of the same content, through its JSON payload.
		payload, jerr := json.Marshal(c)
		if jerr != nil {
			t.Fatal(jerr)
		}
		e, _, err := d.Compose(context.Background(), outbox.Delivery{Message: outbox.Message{ID: "m-1", Event: "payment.accepted",
			Target: "to@example.com", Payload: string(payload)}, CreatedAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)})
		headers, _ := json.Marshal(e.Headers)
		parts = append(parts, e.ID, e.From.String(), e.To, e.ReplyTo, e.Subject, e.Text, e.HTML, e.Lang, e.Date.String(), string(headers), fmt.Sprint(err))
	}
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
		b.WriteString(p)
		b.WriteString("\n----------------\n")
	}
	return b.String()
}

// goldenHashes renders every case with the current code.
func goldenHashes(t *testing.T) map[string]string {
	r := NewRenderer(overrides, slog.New(slog.DiscardHandler))
	d, err := NewEmailDeliverer(EmailOptions{Templates: overrides, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ids := append(append([]string{}, emailTemplates...), TplTokenSMSBuyer, TplTokenSMSMerchant)
	got := map[string]string{}
	for _, id := range ids {
		for _, lang := range append(append([]string{}, Languages...), "pt-BR") {
			for vi, v := range goldenVariants {
				if lang == "pt-BR" && vi > 0 {
					continue // an unsupported language is English: once is enough
				}
				// Token templates: every kind (an unknown one too) in one hash.
				kinds := []string{""}
				if SampleContent(id).Token != nil {
					kinds = []string{"created", "updated", "cancelled", "bogus"}
				}
				key := id + "/" + lang + "/" + v.name
				h := sha256.New()
				var dump strings.Builder
				applies := true
				for mi, kind := range kinds {
					c := SampleContent(id)
					c.Lang = lang
					if c.Token != nil {
						c.Token.Kind = kind
					}
					// Spread the dates over the twelve months.
					month := time.Month((len(key)+vi+mi)%12 + 1)
					if c.Payment != nil {
						c.Payment.At = time.Date(2030, month, 9+vi, 7, vi, 0, 0, time.UTC)
					}
					if c.Token != nil {
						c.Token.At = time.Date(2031, month, 9+vi, 23, 59, 0, 0, time.UTC)
					}
					if applies = v.apply(&c); !applies {
						break
					}
					dump.WriteString(goldenCase(t, r, d, c, h))
				}
				if !applies {
					continue
				}
				// 64 bits of SHA-256 are plenty to notice a change; the file
				// stays small.
				got[key] = hex.EncodeToString(h.Sum(nil)[:8])
				if *goldenDump != "" {
					if err := os.WriteFile(filepath.Join(*goldenDump, strings.ReplaceAll(key, "/", " ")+".txt"), []byte(dump.String()), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	return got
}

func TestRenderGolden(t *testing.T) {
	if *goldenDump != "" {
		if err := os.MkdirAll(*goldenDump, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := goldenHashes(t)
	if *goldenUpdate {
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s %s\n", k, got[k])
		}
		if err := os.WriteFile(goldenFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d cases to %s", len(keys), goldenFile)
		return
	}
	f, err := os.Open(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		want[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: output changed (hash %s, golden %s)", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: not in %s", k, goldenFile)
		}
	}
}
