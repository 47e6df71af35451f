package ogone

import (
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/openpsp/openpsp/internal/money"
	"github.com/openpsp/openpsp/internal/typography"
)

func TestIBAN(t *testing.T) {
	for _, ok := range []string{"DE89370400440532013000", "de89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
		"FR1420041010050500013M02606", "NL91ABNA0417164300", "BE68539007547034"} {
		i, err := ParseIBAN(ok)
		if err != nil {
			t.Errorf("%s: %v", ok, err)
			continue
		}
		if strings.Contains(i.String(), i.Reveal()[4:len(i.Reveal())-4]) {
			t.Errorf("%s prints unmasked: %s", ok, i)
		}
	}
	for in, want := range map[string]error{
		"DE89370400440532013001": ErrIBANChecksum, "DE8937040044053201300": ErrIBANLength, "US12345678901234567890": ErrIBANCountry,
		"DE89-3704!": ErrIBANFormat, "": ErrIBANFormat, "89DE370400440532013000": ErrIBANFormat,
	} {
		if _, err := ParseIBAN(in); err != want {
			t.Errorf("%q: %v, want %v", in, err, want)
		}
	}
	if MaskIBAN("DE89370400440532013000") != "DE89XXXXXXXXXXXXXX3000" {
		t.Fatal(MaskIBAN("DE89370400440532013000"))
	}
	for s, want := range map[string]bool{"COBADEFF": true, "COBADEFFXXX": true, "COBADEF": false, "C0BADEFF": false, "cobadeff": false} {
		if ValidBIC(s) != want {
			t.Errorf("BIC %s", s)
		}
	}
}

func FuzzParseIBAN(f *testing.F) {
	f.Add("DE89 3704 0044 0532 0130 00")
	f.Add("GB82WEST12345698765432")
	f.Fuzz(func(t *testing.T, s string) {
		i, err := ParseIBAN(s)
		if err != nil {
			return
		}
		if again, err := ParseIBAN(i.Reveal()); err != nil || again != i || mod97(i.Reveal()[4:]+i.Reveal()[:4]) != 1 {
			t.Fatalf("%q accepted as %q but does not round-trip", s, i.Reveal())
		}
	})
}

func TestSanitizeTemplate(t *testing.T) {
	src := `<!DOCTYPE html><html><head><meta http-equiv="refresh" content="0;url=https://evil"><base href="https://evil/">
<link rel="stylesheet" href="https://cdn.example/s.css"><link rel="preload" href="https://x"><script src="x.js"></script>
<style>body{background:url(javascript:x)}</style><style>.ok{color:red}</style></head>
<body onload="x()"><form action="https://evil"><input name="CARDNO"></form><svg><script>1</script></svg>
<img src="https://cdn.example/logo.png" onerror="x()"><img src="data:image/svg+xml,<svg>"><a href="javascript:x" target="_top">a</a>
<p style="behavior:url(x)">p</p><!-- comment -->$$$PAYMENT ZONE$$$<object data="x"></object></body></html>`
	out, err := SanitizeTemplate([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"refresh", "<base", "preload", "<script", "javascript", "onload", "<form", "<input",
		"<svg", "onerror", "data:image/svg", "behavior", "comment", "<object", "_top"} {
		if strings.Contains(out, bad) {
			t.Errorf("kept %q:\n%s", bad, out)
		}
	}
	for _, good := range []string{`href="https://cdn.example/s.css"`, `.ok{color:red}`, `src="https://cdn.example/logo.png"`, PaymentZone} {
		if !strings.Contains(out, good) {
			t.Errorf("lost %q:\n%s", good, out)
		}
	}
	for _, bad := range []string{"<p>no zone</p>", PaymentZone + PaymentZone, `<p title="` + PaymentZone + `">x</p>`,
		"<title>" + PaymentZone + "</title>", "\xff" + PaymentZone} {
		if _, err := SanitizeTemplate([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	for name, ok := range map[string]bool{"new_user.html": true, "a.htm": true, "../a.html": false, "a.txt": false, ".html": false, "a b.html": false} {
		if ValidTemplateName(name) != ok {
			t.Errorf("template name %q", name)
		}
	}
}

func FuzzSanitizeTemplate(f *testing.F) {
	f.Add("<html><body>" + PaymentZone + "</body></html>")
	f.Add(`<div onclick=x>` + PaymentZone + `<script>x</script><a href="javascript:1">`)
	f.Fuzz(func(t *testing.T, s string) {
		out, err := SanitizeTemplate([]byte(s))
		if err != nil {
			return
		}
		doc, err := html.Parse(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				if !keptElements[n.DataAtom] {
					t.Fatalf("element %s kept from %q:\n%s", n.Data, s, out)
				}
				for _, a := range n.Attr {
					v := strings.ToLower(strings.TrimSpace(a.Val))
					if strings.HasPrefix(a.Key, "on") || ((a.Key == "href" || a.Key == "src") &&
						!strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") &&
						!strings.HasPrefix(v, "data:image/") && !strings.HasPrefix(v, "mailto:")) {
						t.Fatalf("attribute %s=%q kept from %q", a.Key, a.Val, s)
					}
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		if strings.Count(out, PaymentZone) != 1 {
			t.Fatalf("payment zone lost in %q", out)
		}
		// Sanitising is stable: a served template sanitises to itself.
		if again, err := SanitizeTemplate([]byte(out)); err != nil || again != out {
			t.Fatalf("not idempotent: %v\n%s\n%s", err, out, again)
		}
	})
}

func TestAmounts(t *testing.T) {
	eur, _ := money.Lookup("EUR")
	jpy, _ := money.Lookup("JPY")
	kwd, _ := money.Lookup("KWD")
	for _, tc := range []struct {
		in   string
		c    money.Currency
		want int64
		code string
	}{
		{"1250", eur, 1250, ""}, {"150000", jpy, 1500, ""}, {"150", jpy, 0, ncInvalidDecimals}, {"1250", kwd, 12500, ""},
		{"12.50", eur, 0, ncAmountNotNumber}, {"0", eur, 0, ncDataValidation}, {"", eur, 0, ncAmountNotNumber},
		{"1234567890123456", eur, 0, ncAmountNotNumber}, {"-5", eur, 0, ncAmountNotNumber},
	} {
		got, code, _ := parseOgoneAmount(tc.in, tc.c)
		if got != tc.want || code != tc.code {
			t.Errorf("%s %s: %d %s", tc.in, tc.c.Code, got, code)
		}
	}
	for minor, want := range map[int64]string{100: "1", 450: "4.5", 1234: "12.34", 5: "0.05"} {
		if got := formatAmount(minor, "EUR"); got != want {
			t.Errorf("format %d: %s", minor, got)
		}
	}
	if formatAmount(1500, "JPY") != "1500" {
		t.Error("JPY")
	}
}

func TestLanguageAndSettings(t *testing.T) {
	for in, want := range map[string]string{"en_GB": "en", "nl_BE": "nl", "fr_FR": "fr", "ES": "es", "it": "it", "de_DE": "de", "pt_PT": "en", "": "en", "x": "en"} {
		if got := language(in); got != want {
			t.Errorf("%q: %s", in, got)
		}
	}
	for _, lang := range Languages {
		for key := range messages["en"] {
			if messages[lang][key] == "" {
				t.Errorf("%s has no %s", lang, key)
			}
		}
	}
	for o, ok := range map[string]bool{"https://shop.example": true, "https://shop.example:8443": true, "https://*.shop.example": true,
		"http://127.0.0.1:3000/": true, "https://shop.example/path": false, "shop.example": false, "'self'": false,
		"https://a.example https://b.example": false, "javascript:x": false} {
		if (ValidFrameAncestor(o) == nil) != ok {
			t.Errorf("frame ancestor %q", o)
		}
	}
	if f, err := NormalizeReturnFields([]string{"alias.aliasid", " CARD.BRAND", "ALIAS.ALIASID"}); err != nil || len(f) != 2 || f[0] != "ALIAS.ALIASID" {
		t.Errorf("return fields %v %v", f, err)
	}
	if _, err := NormalizeReturnFields([]string{"SHASIGN"}); err == nil {
		t.Error("SHASIGN accepted as a configurable field")
	}
	if acquirerNCError("05") != "30051001" || acquirerNCError("") != ncPaymentRefused || ncStatus("50001111") != "5" || ncStatus("0") != "0" {
		t.Error("NCERROR mapping")
	}
}

// TestTypography checks no French text of the FlexCheckout catalogue has
// : ; ! ? » without a no-break space before it, and no French or Italian
// text a straight apostrophe where their typography (and the hosted
// pages) use the typographic one, U+2019: "n’est", "l’IBAN".
func TestTypography(t *testing.T) {
	for lang, catalogue := range messages {
		for k, v := range catalogue {
			for _, p := range typography.Problems(lang, v) {
				t.Errorf("%s %q: %s: %q", lang, k, p, v)
			}
		}
	}
}

// Every FlexCheckout text addresses the buyer formally (vous, Sie, usted,
// u), and Italian with infinitives ("Inserire il numero della carta"), in
// the register of the payment pages and the emails (Lei); the words of the
// other registers: typography.RegisterProblems. Spanish says "póngase en
// contacto con" in every catalogue, the merchant is the shop (boutique,
// tienda, negozio, Shop: FlexCheckout said marchand, comerciante,
// commerciante, Händler) and the German security code a Sicherheitscode,
// not a Prüfnummer (typography.WordingProblems).
func TestRegister(t *testing.T) {
	for lang, catalogue := range messages {
		for k, v := range catalogue {
			for _, p := range typography.RegisterProblems(lang, v) {
				t.Errorf("%s %q: %s: %q", lang, k, p, v)
			}
			for _, p := range typography.WordingProblems(lang, v) {
				t.Errorf("%s %q: %s: %q", lang, k, p, v)
			}
		}
	}
}
