package app

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
	"github.com/openpsp/openpsp/internal/wallet"
)

// liveFormVariants are the payments a live form is made for: a plain
// payment, one that saves the card, the wallet, a challenge asked for and
// 3-D Secure turned off.
var liveFormVariants = []string{
	`{"amount":1250,"currency":"EUR","orderId":"fz-form","customer":{"email":"buyer@example.com"}}`,
	`{"amount":990,"currency":"EUR","orderId":"fz-form","formAction":"REGISTER_PAY","customer":{"email":"buyer@example.com","reference":"fz-cust"}}`,
	`{"amount":990,"currency":"EUR","orderId":"fz-form","formAction":"CUSTOMER_WALLET","customer":{"email":"buyer@example.com","reference":"fz-cust"}}`,
	`{"amount":5000,"currency":"EUR","orderId":"fz-form","strongAuthentication":"CHALLENGE_REQUESTED","customer":{"email":"buyer@example.com"}}`,
	`{"amount":100,"currency":"JPY","orderId":"fz-form","strongAuthentication":"DISABLED"}`,
}

// liveFormSuffixes are the addresses of a live form a buyer's browser
// posts to: the card form, its 3-D Secure steps, and the saved card's
// deletion, by the form script (JSON) and without it (pages).
var liveFormSuffixes = []string{"", "/3ds", "/3ds/complete", "/wallet/delete", walletDeletePage}

// walletDeletePage is the saved card's deletion without the script: its
// confirmation page, then the form's page again (303).
const walletDeletePage = "/wallet/delete/page"

// sealedMark in a fuzzed body stands for the sealed card of a challenge
// really started on the same form, so that the 3-D Secure step posts are
// reached past the seal.
const sealedMark = "SEALED"

// savedCardMark in a fuzzed body stands for the id of a saved card of the
// wallet's customer (fz-cust), saved first when the wallet has none, so
// that the deletion goes past its unknown-card answer.
const savedCardMark = "SAVEDCARD"

// FuzzLiveFormPosts posts any form, query string and Accept-Language to the
// payment pages of a form that exists and can be paid (FuzzBuyerPagePosts
// only reaches unknown forms): the card form (hosted and embedded), its
// 3-D Secure steps (with a real sealed card when the body says SEALED) and
// the saved-card deletion, with and without the script (of a real saved
// card when the body says SAVEDCARD). Whatever comes in, the buyer gets a page in one
// of the pages' languages, or the form script the JSON answer it reads,
// never a 5xx, or a redirection to the form's own page; the card number
// posted is never written back into the answer; and a post that is refused
// (4xx) writes no payment, transaction, token or notification.
func FuzzLiveFormPosts(f *testing.F) {
	a, h := fuzzApp(f)
	const good = "pan=4970100000000055&expiry=12%2F39&csc=123&holder=Jane+Doe"
	const challenge = "pan=4970110000000021&expiry=12%2F39&csc=123"
	for _, s := range []struct {
		which       uint8
		query, lang string
		body        string
	}{
		{0, "", "", good}, {0, "kr-language=fr", "", "pan=4970100000000056&expiry=13%2F39&csc=12&holder=" + strings.Repeat("x", 300)},
		{1, "", "de-DE", "pan=&expiry=&csc="}, {2, "", "", "pan=%zz"}, {3, "", "", challenge},
		{3 | 2<<4, "kr-language=it", "", "sealed=" + sealedMark + "&decision=approve"},
		{3 | 2<<4, "", "", "sealed=" + sealedMark + "x&decision=approve"},
		{3 | 1<<4, "", "", "sealed=" + sealedMark}, {3 | 1<<4, "", "", "sealed=v1.AAAA"},
		{2 | 3<<4, "", "", "saved=00000000-0000-0000-0000-000000000000"},
		{2, "", "", "saved=x&saved_csc=123"}, {4, "", "es", "pan=378282246310005&expiry=1%2F2039&csc=1234"},
		{0 | 8, "origin=https://merchant.example&kr-public-key=" + url.QueryEscape(shop.DemoTestPublicKey), "", good},
		{0 | 8 | 64, "origin=https://merchant.example", "", good}, {0 | 64, "kr-post-url-success=javascript:alert(1)", "", good},
		{1 | 64, "", "", "pan=4970100000000055&pan=5555555555554444&expiry=12%2F39&csc=123&save=on"},
		{0, "", "", "pan=%EF%BC%94970100000000055&expiry=12%2F39&csc=123"},
		// The deletion without the script (suffix 4: bit 7): the
		// confirmation page, the confirmed deletion (hosted, embedded),
		// an unknown card, a form without a wallet, a body that does not
		// parse, a card number where the card's id goes.
		{2 | 128, "kr-language=de", "", "card=" + savedCardMark},
		{2 | 128, "kr-language=fr&kr-post-url-success=https://merchant.example/ok", "", "card=" + savedCardMark + "&confirm=yes"},
		{2 | 8 | 128, "origin=https://merchant.example&kr-public-key=" + url.QueryEscape(shop.DemoTestPublicKey), "it", "card=" + savedCardMark + "&confirm=yes"},
		{2 | 128 | 64, "", "es", "card=x&confirm=yes"}, {0 | 128, "", "", "card=" + savedCardMark + "&confirm=yes"},
		{2 | 128, "", "fr", "card=%zz"}, {2 | 128, "kr-language=en", "", "card=4970100000000055&pan=4970100000000055&confirm=yes"},
	} {
		f.Add(s.which, s.query, s.lang, s.body)
	}
	orders := 0
	type jsonAnswer struct {
		Step string `json:"step"`
	}
	f.Fuzz(func(t *testing.T, which uint8, query, lang, body string) {
		if len(body) > 8192 || len(query) > 2048 || len(lang) > 256 || strings.ContainsAny(lang, "\r\n\x00") {
			return
		}
		variant := liveFormVariants[int(which&7)%len(liveFormVariants)]
		embedded := which&8 != 0
		// Bits 4, 5 and 7: the first four suffixes keep the bits they
		// had before the fifth came.
		suffix := liveFormSuffixes[(int(which>>4)&3|int(which>>5)&4)%len(liveFormSuffixes)]
		asJSON := which&64 != 0

		post := func(target, body string, asJSON bool) *httptest.ResponseRecorder {
			req := httptest.NewRequest("POST", target, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			if lang != "" {
				req.Header.Set("Accept-Language", lang)
			}
			if asJSON {
				req.Header.Set("Accept", "application/json")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w
		}

		// A fresh form, so that every post meets one that can be paid.
		// Each its own order: a second payment of an order already paid
		// stops at "in progress" and would reach no further.
		orders++
		variant = strings.Replace(variant, `"fz-form"`, `"fz-form-`+strconv.Itoa(orders)+`"`, 1)
		req := httptest.NewRequest("POST", "/api-payment/V4/Charge/CreatePayment", strings.NewReader(variant))
		req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var created struct {
			Answer struct {
				FormToken string `json:"formToken"`
			} `json:"answer"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.Answer.FormToken == "" {
			t.Fatalf("CreatePayment %s: %s", variant, w.Body.String())
		}
		base := "/pay/" + created.Answer.FormToken
		if embedded {
			base = "/embedded/" + created.Answer.FormToken
		}
		if strings.Contains(body, sealedMark) {
			w := post(base+"?kr-language=en", challenge, true)
			var res struct {
				Step   string `json:"step"`
				Sealed string `json:"sealed"`
			}
			if json.Unmarshal(w.Body.Bytes(), &res) != nil {
				t.Fatalf("challenge card: %d %s", w.Code, w.Body.String())
			}
			// Only the forms that ask for a challenge (or a shop in its
			// default settings) give one; the others stand as they are.
			body = strings.ReplaceAll(body, sealedMark, url.QueryEscape(res.Sealed))
		}
		if strings.Contains(body, savedCardMark) {
			body = strings.ReplaceAll(body, savedCardMark, url.QueryEscape(savedCardID(t, a)))
		}
		target := base + suffix
		if query != "" {
			if strings.ContainsAny(query, " #\r\n\t") {
				return
			}
			target += "?" + query
		}
		if _, err := url.ParseRequestURI(target); err != nil {
			return
		}
		before := rowCounts(t, a)
		w = post(target, body, asJSON)
		if w.Code >= 500 {
			t.Fatalf("POST %s %q (Accept-Language %q): HTTP %d: %.300s", target, body, lang, w.Code, w.Body.String())
		}
		ct := w.Header().Get("Content-Type")
		// The saved-card deletion answers JSON whatever Accept says (its
		// fetch reads JSON only); the challenge page (/3ds) is HTML
		// whatever Accept says (form.js navigates to it with a form post).
		// The deletion without the script answers pages whatever Accept
		// says: no script reads them.
		if asJSON && suffix != "/3ds" && suffix != walletDeletePage || suffix == "/wallet/delete" && strings.HasPrefix(ct, "application/json") {
			var ans jsonAnswer
			if !strings.HasPrefix(ct, "application/json") || json.Unmarshal(w.Body.Bytes(), &ans) != nil {
				t.Fatalf("POST %s %q: HTTP %d %q is not the form script's JSON: %.300s", target, body, w.Code, ct, w.Body.String())
			}
		} else if w.Code >= 300 && w.Code < 400 {
			// Only a deletion done without the script redirects: to the
			// form's own page, its status line.
			loc := w.Header().Get("Location")
			if suffix != walletDeletePage || w.Code != 303 || !strings.HasPrefix(loc, base+"?") || !strings.HasSuffix(loc, "#kr-wallet-msg") {
				t.Fatalf("POST %s %q: HTTP %d to %q, not the form's page", target, body, w.Code, loc)
			}
		} else {
			l := pageLanguage.FindStringSubmatch(w.Body.String())
			if !strings.HasPrefix(ct, "text/html") || l == nil || !slices.Contains([]string{"en", "fr", "es", "it", "de"}, l[1]) {
				t.Fatalf("POST %s %q: HTTP %d %q is not a buyer's page: %.300s", target, body, w.Code, ct, w.Body.String())
			}
		}
		if form, err := url.ParseQuery(body); err == nil {
			for _, pan := range form["pan"] {
				digits := strings.Map(func(r rune) rune {
					if r >= '0' && r <= '9' {
						return r
					}
					return -1
				}, pan)
				if len(digits) >= 13 && (strings.Contains(w.Body.String(), digits) || strings.Contains(w.Header().Get("Location"), digits)) {
					t.Fatalf("POST %s %q: the card number is written back in the answer: %.300s", target, body, w.Body.String())
				}
			}
		}
		if w.Code >= 400 {
			if after := rowCounts(t, a); !maps.Equal(before, after) {
				t.Fatalf("POST %s %q refused with HTTP %d but wrote rows: %v → %v", target, body, w.Code, before, after)
			}
		}
	})
}

// savedCardID is the id a page names a saved card of the fuzzed wallet's
// customer by (fz-cust, the demo shop's TEST mode): one of its active
// cards, saved now when it has none (a fuzzed deletion took the last).
func savedCardID(t *testing.T, a *App) string {
	ctx := context.Background()
	tokens, err := a.Wallet.Tokens(ctx, shop.DemoShopID, shop.ModeTest, "fz-cust", wallet.FilterActive)
	if err != nil {
		t.Fatalf("the wallet of fz-cust: %v", err)
	}
	if len(tokens) > 0 {
		return tokens[0].ID
	}
	pan, _ := card.ParsePAN("4970100000000055")
	tok, err := a.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: shop.DemoShopID, Mode: shop.ModeTest, PAN: pan,
		Expiry: card.Expiry{Month: 12, Year: 2039}, CustomerReference: "fz-cust", Customer: json.RawMessage(`{}`), Origin: "V4"})
	if err != nil {
		t.Fatalf("saving a card for fz-cust: %v", err)
	}
	return tok.ID
}
