package notify

import (
	"context"
	"errors"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/typography"
)

var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

func placeholders(s string) string {
	p := placeholder.FindAllString(s, -1)
	sort.Strings(p)
	return strings.Join(p, ",")
}

// Every language has every English key, with the same placeholders, and
// nothing else.
func TestCatalogsComplete(t *testing.T) {
	en := catalogs["en"]
	for _, lang := range Languages {
		c := catalogs[lang]
		for k, v := range en {
			tr, ok := c[k]
			if !ok || strings.TrimSpace(tr) == "" {
				t.Errorf("%s: missing %q", lang, k)
				continue
			}
			if placeholders(tr) != placeholders(v) {
				t.Errorf("%s %q: placeholders %s, English has %s", lang, k, placeholders(tr), placeholders(v))
			}
		}
		for k := range c {
			if _, ok := en[k]; !ok {
				t.Errorf("%s: key %q is not in en.json", lang, k)
			}
		}
	}
}

// French and Italian texts use the typographic apostrophe, as the hosted
// payment pages and FlexCheckout do (TestTypography in internal/hosted and
// internal/ogone), and French a no-break space (U+00A0 or U+202F) before
// : ; ! ? and », after «. Every key is checked, SMS texts included: the
// SMS folding (ToGSM7) turns ’ into the GSM-7 apostrophe, which
// TestSMSIsGSM7 checks for every language.
func TestTypography(t *testing.T) {
	for lang, catalog := range catalogs {
		for k, v := range catalog {
			for _, p := range typography.Problems(lang, v) {
				t.Errorf("%s %q: %s: %q", lang, k, p, v)
			}
		}
	}
}

// Every email and SMS text addresses its reader, buyer or merchant, in its
// language's formal register: vous, Sie, usted, Lei; the Italian notices of
// instalments said voi to the merchant whose footer said Lei. Why these
// registers, and the words of the others: typography.RegisterProblems.
// Spanish says "póngase en contacto con" in every catalogue, the merchant
// is the shop and the card's codes and dates have one name each
// (typography.WordingProblems).
func TestRegister(t *testing.T) {
	for lang, catalog := range catalogs {
		for k, v := range catalog {
			for _, p := range typography.RegisterProblems(lang, v) {
				t.Errorf("%s %q: %s: %q", lang, k, p, v)
			}
			for _, p := range typography.WordingProblems(lang, v) {
				t.Errorf("%s %q: %s: %q", lang, k, p, v)
			}
		}
	}
}

var amounts = map[string]string{"en": "€1,234.50", "fr": "1\u202f234,50\u00a0€", "de": "1.234,50\u00a0€", "es": "1234,50\u00a0€", "it": "1234,50\u00a0€"}

// Every template renders in every language, with the amount written for
// the language, no placeholder or catalog key left over.
func TestEveryTemplateInEveryLanguage(t *testing.T) {
	r := NewRenderer(nil, nil)
	leftover := regexp.MustCompile(`\{[a-z]+\}|\b(pay|merchant|token|sms|label|status)\.[a-z.]+\b`)
	for _, id := range append(append([]string{}, emailTemplates...), TplTokenSMSBuyer, TplTokenSMSMerchant) {
		for _, lang := range Languages {
			for _, kind := range []string{"created", "updated", "cancelled"} {
				c := SampleContent(id)
				c.Lang = lang
				if c.Token != nil {
					c.Token.Kind = kind
				} else if kind != "created" {
					continue
				}
				var all string
				if strings.Contains(id, ".sms.") {
					s, err := r.SMS(context.Background(), c)
					if err != nil {
						t.Fatal(err)
					}
					if !strings.Contains(s, "****0055") || strings.Contains(s, "•") || len([]rune(s)) > 160 {
						t.Errorf("%s %s %s SMS: %q (%d characters)", id, lang, kind, s, len([]rune(s)))
					}
					all = s
				} else {
					out, err := r.Email(context.Background(), c)
					if err != nil {
						t.Fatalf("%s %s: %v", id, lang, err)
					}
					if !strings.Contains(out.HTML, `<html lang="`+lang+`">`) || !strings.HasPrefix(out.Subject, "[TEST] ") {
						t.Errorf("%s %s: lang or subject: %q", id, lang, out.Subject)
					}
					if c.Payment != nil && (!strings.Contains(out.Text, amounts[lang]) || !strings.Contains(out.HTML, amounts[lang])) {
						t.Errorf("%s %s: amount %q not in the message:\n%s", id, lang, amounts[lang], out.Text)
					}
					if strings.Contains(out.Subject, "\n") {
						t.Errorf("%s %s: multi-line subject", id, lang)
					}
					all = out.Subject + out.Text + out.HTML
				}
				if m := leftover.FindString(all); m != "" {
					t.Errorf("%s %s %s: leftover %q", id, lang, kind, m)
				}
			}
		}
	}
}

func TestLanguage(t *testing.T) {
	for in, want := range map[string]string{"fr-FR": "fr", "de_CH": "de", "IT": "it", "es-419,es;q=0.9": "es", "pt-BR": "en", "": "en"} {
		if got := Language(in); got != want {
			t.Errorf("Language(%q) = %q, want %q", in, got, want)
		}
	}
	if Language("pt", "it") != "it" {
		t.Error("fallback to the second tag")
	}
	// An Accept-Language value is read with its weights (RFC 9110
	// §12.5.4), by the parser the payment pages use: its first entry
	// sent a German email to a buyer who prefers French, and a French
	// one to a buyer who refuses it.
	for in, want := range map[[2]string]string{
		{"de;q=0.1, fr;q=0.9", ""}: "fr", {"fr;q=0", "it"}: "it", {"fr;q=0", ""}: "en",
		{"ja, es;q=0.2, de;q=0.3", "fr"}: "de", {"pt-BR, pt;q=0.9", "es"}: "es",
	} {
		if got := Language(in[0], in[1]); got != want {
			t.Errorf("Language(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

func TestBranding(t *testing.T) {
	// The header's and the buttons' text reads on the shop's colour at
	// 4.5:1: orange and mid green had white text at 2.9:1 and 3.5:1 (a
	// brightness threshold picked it).
	for col, want := range map[string]string{"#ffffff": "#111827", "#000": "#ffffff", "#FFD700": "#111827", "#1e3a8a": "#ffffff",
		"#ff6600": "#111827", "#00a000": "#111827", "": "#ffffff"} {
		c := SampleContent(TplPaymentAcceptedBuyer)
		c.Shop.Color = col
		d := newData(c, false)
		if d.OnColor != want || shop.ContrastRatio(d.OnColor, d.Color) < 4.5 {
			t.Errorf("shop colour %q: %s text on %s (%.2f:1), want %s", col, d.OnColor, d.Color, shop.ContrastRatio(d.OnColor, d.Color), want)
		}
	}
	c := SampleContent(TplPaymentAcceptedBuyer)
	c.Shop.Color = "red;background:url(https://evil)"
	c.Shop.LogoURL = "javascript:alert(1)"
	c.Shop.URL = "javascript:alert(2)"
	c.Shop.Name = `<script>alert("x")</script>`
	out, err := NewRenderer(nil, nil).Email(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"evil", "javascript:", "<script>"} {
		if strings.Contains(out.HTML, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if !strings.Contains(out.HTML, defaultColor) || !strings.Contains(out.HTML, "&lt;script&gt;") {
		t.Error("unsafe branding not replaced by defaults / not escaped")
	}
}

type fakeTemplates map[string]store.NotifyTemplate

func (f fakeTemplates) NotifyTemplate(_ context.Context, shopID, id, lang string) (store.NotifyTemplate, error) {
	if t, ok := f[shopID+"/"+id+"/"+lang]; ok {
		return t, nil
	}
	return store.NotifyTemplate{}, store.ErrNotFound
}

// A shop's own wording replaces the built-in one in its language only; a
// broken one falls back to the built-in one.
func TestShopOverrides(t *testing.T) {
	ts := fakeTemplates{
		"69876357/payment.accepted.buyer/fr": {Subject: "Merci {{.Buyer.Name}} ! Commande {{.Payment.OrderID}}",
			HTML: `<p class="own">Merci pour {{.Payment.Amount}}, {{.Buyer.Name}}</p>`, Text: "Merci {{.Payment.Amount}}\n{{template \"footer\" .}}"},
		"69876357/payment.accepted.buyer/de": {Subject: "{{.Broken", HTML: "{{.Nope}}"},
		"69876357/token.sms.buyer/fr":        {Text: "{{.Shop.Name}} : carte {{.Token.Card}} OK"},
	}
	r := NewRenderer(ts, nil)
	c := SampleContent(TplPaymentAcceptedBuyer)
	c.Lang = "fr"
	out, err := r.Email(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Subject != "[TEST] Merci Zoë Martin ! Commande order-1001" || !strings.Contains(out.HTML, `<p class="own">Merci pour 1`) ||
		!strings.Contains(out.HTML, "Demo shop</span>") || !strings.HasPrefix(out.Text, "Merci 1") || !strings.Contains(out.Text, "Demo shop via OpenPSP") {
		t.Fatalf("override not applied:\n%s\n%s\n%s", out.Subject, out.Text, out.HTML)
	}
	c.Lang = "de"
	out, err = r.Email(context.Background(), c)
	if err != nil || !strings.Contains(out.Subject, "Zahlung bestätigt") || !strings.Contains(out.HTML, "Vielen Dank") {
		t.Fatalf("broken override did not fall back: %q %v", out.Subject, err)
	}
	c.Lang = "es"
	if out, _ = r.Email(context.Background(), c); !strings.Contains(out.Subject, "Pago confirmado") {
		t.Fatalf("other language affected: %q", out.Subject)
	}
	s := SampleContent(TplTokenSMSBuyer)
	s.Lang = "fr"
	if got, _ := r.SMS(context.Background(), s); got != "Demo shop : carte Visa ****0055 OK" {
		t.Fatalf("SMS override: %q", got)
	}

	if err := ValidateOverride(TplPaymentAcceptedBuyer, "Hi {{.Buyer.Name}}", "<p>{{.Payment.Amount}}</p>", "{{.Payment.Amount}}"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][3]string{{"{{.Nope}}", "", ""}, {"", "{{if}}", ""}, {"", "", "{{.Payment.Nope}}"}} {
		if err := ValidateOverride(TplPaymentAcceptedBuyer, bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if err := ValidateOverride(TplTokenSMSBuyer, "", "<p>x</p>", ""); err == nil {
		t.Error("HTML for an SMS accepted")
	}
	if err := ValidateOverride("nope", "", "", ""); err == nil {
		t.Error("unknown template accepted")
	}
	_ = errors.New
}

// {{.}} in a shop's template shows what the template can use, not the
// language's whole catalog and the placeholder values Data keeps for T.
func TestShopTemplateDot(t *testing.T) {
	ts := fakeTemplates{"69876357/payment.accepted.buyer/fr": {Text: "{{.}}", HTML: "<pre>{{.}}</pre>"}}
	c := SampleContent(TplPaymentAcceptedBuyer)
	c.Lang = "fr"
	out, err := NewRenderer(ts, nil).Email(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{out.Text, out.HTML} {
		if strings.Contains(part, catalogs["fr"]["pay.ko.subject"]) || strings.Contains(part, "map[") {
			t.Errorf("{{.}} printed Data's internals:\n%s", part)
		}
		if !strings.Contains(part, "order-1001") {
			t.Errorf("{{.}} does not show the payment:\n%s", part)
		}
	}
}

// fill does what the strings.Replacer of "{name}" → value it replaced did,
// whatever the text and values.
func FuzzFill(f *testing.F) {
	for _, s := range []string{"", "no placeholder", "{shop}", "Hello {buyer}, {shop}: {amount}.", "{{shop}", "{shop}}", "{shop",
		"shop}", "{}", "{unknown} {shop}", "{shop}{shop}{order}", "{sh{shop}op}", "{buyer}é{shop}ü", "{ shop}", "{{}}"} {
		f.Add(s, "Zoë {order} & <b>", "")
	}
	f.Fuzz(func(t *testing.T, s, shop, buyer string) {
		vars := map[string]string{"shop": shop, "buyer": buyer, "order": "{shop}", "amount": ""}
		var pairs []string
		for k, v := range vars {
			pairs = append(pairs, "{"+k+"}", v)
		}
		want := strings.NewReplacer(pairs...).Replace(s)
		got := fill(s, func(name string) (string, bool) { v, ok := vars[name]; return v, ok })
		if got != want {
			t.Errorf("fill(%q) = %q, strings.Replacer gives %q", s, got, want)
		}
	})
}

// A shop's wording is parsed once, not for every message: a fresh read and
// parse of the layout files made it 4.5 times the allocations of a built-in
// email, and a clone of the parsed layout, with html/template escaping it
// again, still 2.5 to 4 times. This short wording now takes no more than
// the built-in email.
func TestShopTemplateCost(t *testing.T) {
	ts := fakeTemplates{"69876357/payment.accepted.buyer/fr": {Subject: "Merci {{.Payment.OrderID}}",
		HTML: "<p>{{.Payment.Amount}}</p>", Text: "Merci {{.Payment.Amount}}\n{{template \"footer\" .}}"}}
	r := NewRenderer(ts, nil)
	c := SampleContent(TplPaymentAcceptedBuyer)
	allocs := func(lang string) float64 {
		c.Lang = lang
		return testing.AllocsPerRun(20, func() { _, _ = r.Email(context.Background(), c) })
	}
	own, builtIn := allocs("fr"), allocs("es")
	if own > builtIn {
		t.Fatalf("a reworded email takes %.0f allocations, a built-in one %.0f", own, builtIn)
	}
}

// Emails showed an http:// logo (and one carrying a user name and
// password) that the hosted page leaves out: both now keep a logo by the
// same rule (shop.DisplayLogoURL), https only. A path on OpenPSP is left out
// of emails as well: a mail client has no page to resolve it against.
func TestEmailLogoFollowsTheHostedPageRule(t *testing.T) {
	for logo, shown := range map[string]bool{
		"https://cdn.example/logo.png":         true,
		"http://cdn.example/logo.png":          false,
		"HTTP://cdn.example/logo.png":          false,
		"https://user:pw@cdn.example/logo.png": false,
		"//cdn.example/logo.png":               false,
		"/static/logo.png":                     false,
		"javascript:alert(1)":                  false,
	} {
		c := SampleContent(TplPaymentAcceptedBuyer)
		c.Shop.LogoURL = logo
		out, err := NewRenderer(nil, nil).Email(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.HTML, "logo.png"); got != shown {
			t.Errorf("logo %q: shown %v, want %v", logo, got, shown)
		}
	}
}

// An email's button has a 2px border: in forced-colours (Windows high
// contrast) and some dark-mode mail clients the background is dropped, and
// a button without a border was bare text. The border is the hosted pages'
// edge colour (shop.PaletteFor's UI: the colour darkened to 3:1 on white),
// so that a light shop colour (#ffff00) still has a visible edge on the
// white mail. A shop's own template calling "button" with the documented
// arguments (href, label, .Color, .OnColor) gets the same edge.
func TestEmailButtonBorder(t *testing.T) {
	button := regexp.MustCompile(`<a href="[^"]*" style="([^"]*)"`)
	own := goldenOverrides{"own-button": {HTML: `{{template "button" (list .Links.Details (.T "details") .Color .OnColor)}}`}}
	for _, shopID := range []string{"", "own-button"} {
		for _, col := range []string{"#ffff00", "#ffd700", "#1e3a8a", ""} {
			c := SampleContent(TplPaymentAcceptedBuyer)
			c.Shop.ID = shopID
			c.Shop.Color = col
			c.Shop.URL = "https://shop.example/"
			out, err := NewRenderer(own, nil).Email(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			pal := shop.PaletteFor(col, defaultColor)
			if r := shop.ContrastRatio(pal.UI, "#ffffff"); r < 3 {
				t.Fatalf("shop colour %q: PaletteFor's UI %s has %.2f:1 on white", col, pal.UI, r)
			}
			m := button.FindAllStringSubmatch(out.HTML, -1)
			n := 0
			for _, s := range m {
				if !strings.Contains(s[1], "background-color:"+pal.Color) {
					continue
				}
				n++
				if !strings.Contains(s[1], "border:2px solid "+pal.UI+";") {
					t.Errorf("shop %q, colour %q: button style %q has no 2px border of %s", shopID, col, s[1], pal.UI)
				}
			}
			if n == 0 {
				t.Errorf("shop %q, colour %q: no button in the email:\n%s", shopID, col, out.HTML)
			}
		}
	}
}

// A shop's template is parsed once and then run by every message that
// uses it, from the deliverers' goroutines at once (run with -race): each
// gets the email a lone render gives.
func TestShopTemplateShared(t *testing.T) {
	ts := fakeTemplates{"69876357/payment.accepted.buyer/en": {Subject: "Thanks {{.Payment.OrderID}}",
		// A source no other test uses: its first run, the one html/template
		// escapes it in, happens in the goroutines.
		HTML: `<p title="{{.Buyer.Name}}">{{.Payment.Amount}}</p>{{template "payment-rows" .}}<!-- shared -->`, Text: "{{.Payment.Amount}}\n{{template \"footer\" .}}"}}
	r := NewRenderer(ts, nil)
	c := SampleContent(TplPaymentAcceptedBuyer)
	var wg sync.WaitGroup
	outs := make([]Rendered, 8)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := r.Email(context.Background(), c)
			if err != nil {
				t.Error(err)
			}
			outs[i] = out
		}()
	}
	wg.Wait()
	for _, out := range outs[1:] {
		if out != outs[0] {
			t.Fatalf("renders differ:\n%+v\n%+v", out, outs[0])
		}
	}
	if !strings.Contains(outs[0].HTML, `<p title="Zoë Martin">`) {
		t.Fatalf("not the shop's template: %s", outs[0].HTML)
	}
}

// A buyer reads the card's brand as the payment page shows it
// ("Mastercard", "American Express"), not as the API's code: the
// confirmation read "MASTERCARD •••• 2045" under a page that said
// "Mastercard". The merchant's messages keep the code the API returns.
func TestBuyerReadsTheBrandsName(t *testing.T) {
	r := NewRenderer(nil, nil)
	for _, c := range []struct{ id, brand, buyer string }{
		{TplPaymentAcceptedBuyer, "MASTERCARD", "Mastercard •••• 0055"},
		{TplPaymentRefusedBuyer, "AMEX", "American Express •••• 0055"},
		{TplTokenBuyer, "UNION_PAY", "UnionPay •••• 0055"},
		{TplPaymentAcceptedBuyer, "CB", "CB •••• 0055"},
		{TplPaymentMerchant, "MASTERCARD", "MASTERCARD •••• 0055"},
		{TplTokenMerchant, "AMEX", "AMEX •••• 0055"},
	} {
		content := SampleContent(c.id)
		if content.Payment != nil {
			content.Payment.Brand = c.brand
		} else {
			content.Token.Brand = c.brand
		}
		out, err := r.Email(context.Background(), content)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.Text, c.buyer) || !strings.Contains(out.HTML, c.buyer) {
			t.Errorf("%s with %s: %q is not in the message:\n%s", c.id, c.brand, c.buyer, out.Text)
		}
	}
	sms, err := r.SMS(context.Background(), func() Content {
		c := SampleContent(TplTokenSMSBuyer)
		c.Token.Brand = "MASTERCARD"
		return c
	}())
	if err != nil || !strings.Contains(sms, "your Mastercard card ****0055") {
		t.Errorf("buyer's SMS: %q, %v", sms, err)
	}
}
