package ogone_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

var guidRE = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)

func TestFlexCreateTemporaryAlias(t *testing.T) {
	e := newEnv(t)
	action, page := e.open(e.flexParams(map[string]string{"ALIAS.ORDERID": "ORD-1", "ALIAS.STOREPERMANENTLY": "N",
		"PARAMETERS.PARAMPLUS": "session=abc&lang=fr", "LAYOUT.LANGUAGE": "en_GB"}))
	if !strings.Contains(page, "Card number") || !strings.Contains(page, "MasterCard") {
		t.Fatalf("page: %s", page)
	}
	path, q := e.returned(e.post(action, cardForm(visa)))
	if path != "/accept" {
		t.Fatalf("returned to %s", path)
	}
	checkSHAOut(t, q)
	alias := q.Get("Alias.AliasId")
	want := map[string]string{"Alias.OrderId": "ORD-1", "Alias.Status": "0", "Alias.StorePermanently": "N",
		"Alias.NCError": "0", "Card.Brand": "VISA", "Card.Bin": "411111", "Card.CardNumber": "XXXXXXXXXXXX1111",
		"Card.Cvc": "XXX", "Card.ExpiryDate": "1232", "Card.CardHolderName": "Jean Dupont", "session": "abc", "lang": "fr"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if !guidRE.MatchString(alias) {
		t.Fatalf("generated alias %q is not a GUID", alias)
	}
	// The alias is a temporary token of the vault.
	tok, err := e.vault.Get(context.Background(), shop.DemoShopID, "TEST", alias)
	if err != nil || tok.Permanent || !tok.ExpiresAt.Equal(e.clock.Now().Add(2*time.Hour)) || tok.Origin != "FLEXCHECKOUT" || tok.Mode != "TEST" {
		t.Fatalf("token %+v %v", tok, err)
	}
	// The page is one-shot.
	if resp, _ := e.post(action, cardForm(visa)); resp.StatusCode != http.StatusGone {
		t.Fatalf("second submit: %d", resp.StatusCode)
	}
}

func TestFlexSignatureRefused(t *testing.T) {
	e := newEnv(t)
	params := e.flexParams(nil)
	u := e.flexURL(params)
	bad := strings.Replace(u, "SHASIGNATURE.SHASIGN=", "SHASIGNATURE.SHASIGN=00", 1)
	for name, link := range map[string]string{
		"wrong":     bad,
		"missing":   e.srv.URL + ogone.FlexCheckoutPath + "?" + e.flexParams(nil).Encode(),
		"tampered":  strings.Replace(u, "accept", "evil", 1),
		"unknown":   e.flexURL(e.flexParams(map[string]string{"ACCOUNT.PSPID": "nobody"})),
		"no pspid":  e.flexURL(e.flexParams(map[string]string{"ACCOUNT.PSPID": ""})),
		"bad query": e.srv.URL + ogone.FlexCheckoutPath + "?a=%zz",
	} {
		resp, body := e.get(link)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, ogone.GenericError("en")) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	if n := e.count("ogone_flex_sessions"); n != 0 {
		t.Fatalf("%d sessions created", n)
	}
	log, err := e.admin.ErrorLog(context.Background(), shop.DemoShopID, 10)
	if err != nil || len(log) != 3 {
		t.Fatalf("error log %+v %v", log, err)
	}
	codes := map[string]int{}
	for _, l := range log {
		codes[l.Code]++
	}
	if codes["SHA_MISMATCH"] != 2 || codes["SHA_MISSING"] != 1 {
		t.Fatalf("codes %v", codes)
	}
}

func TestFlexUpdateAndDuplicateOrderID(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	open := func(orderID, lang string) string {
		a, _ := e.open(e.flexParams(map[string]string{"ALIAS.ALIASID": "customer-42", "ALIAS.ORDERID": orderID, "LAYOUT.LANGUAGE": lang}))
		return a
	}
	_, q := e.returned(e.post(open("O1", ""), cardForm(visa)))
	if q.Get("Alias.Status") != "0" || q.Get("Alias.AliasId") != "customer-42" || q.Get("Alias.StorePermanently") != "Y" {
		t.Fatalf("create: %v", q)
	}
	_, q = e.returned(e.post(open("O2", ""), cardForm(mastercard)))
	if q.Get("Alias.Status") != "2" || q.Get("Card.Brand") != "MasterCard" {
		t.Fatalf("update: %v", q)
	}
	checkSHAOut(t, q)
	// A captured link of O1 replayed with other card data is refused.
	resp, body := e.post(open("O1", "es_ES"), cardForm(visa))
	generic := "Se ha producido un error al procesar la solicitud. Inténtelo de nuevo más tarde o póngase en contacto con la tienda."
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, generic) {
		t.Fatalf("duplicate: %d %s", resp.StatusCode, body)
	}
	pan, _, tok, err := e.vault.Card(ctx, shop.DemoShopID, "TEST", "customer-42")
	if err != nil || pan.Reveal() != mastercard || !tok.Permanent {
		t.Fatalf("alias after the refusal: %v %+v %v", pan, tok, err)
	}
	log, _ := e.admin.ErrorLog(ctx, shop.DemoShopID, 10)
	if len(log) != 1 || log[0].Code != "DUPLICATE_ORDERID" || log[0].Details["orderId"] != "O1" {
		t.Fatalf("error log %+v", log)
	}
	// Without ALIAS.ALIASID there is no check: a new alias is created.
	a, _ := e.open(e.flexParams(map[string]string{"ALIAS.ORDERID": "O1"}))
	if _, q = e.returned(e.post(a, cardForm(visa))); q.Get("Alias.Status") != "0" || q.Get("Alias.AliasId") == "customer-42" {
		t.Fatalf("no alias id: %v", q)
	}
}

func TestFlexFormErrorsThenDecline(t *testing.T) {
	e := newEnv(t)
	action, _ := e.open(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": "fr_FR", "PARAMETERS.EXCLUDEDPAYMENTMETHODS": "VISA;JCB",
		"ALIAS.ALIASID": "A-7", "ALIAS.ORDERID": "X"}))
	bad := cardForm("4111111111111112") // Luhn fails
	resp, body := e.post(action, bad)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Le numéro de carte n’est pas valide.") {
		t.Fatalf("first error: %d %s", resp.StatusCode, body)
	}
	resp, body = e.post(action, cardForm(visa)) // excluded brand
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Ce type de carte n’est pas accepté.") {
		t.Fatalf("excluded brand: %d %s", resp.StatusCode, body)
	}
	expired := cardForm(mastercard)
	expired.Set("EXPY", "2030")
	expired.Set("EXPM", "01")
	path, q := e.returned(e.post(action, expired))
	if path != "/decline" || q.Get("Alias.Status") != "1" || q.Get("Alias.NCError") != "55555555" ||
		q.Get("Alias.NCErrorED") != "50001183" || q.Get("Alias.NCErrorCardNo") != "0" || q.Get("Card.CardNumber") != "XXXXXXXXXXXX2045" {
		t.Fatalf("decline: %s %v", path, q)
	}
	checkSHAOut(t, q)
	if _, err := e.vault.Get(context.Background(), shop.DemoShopID, "TEST", "A-7"); err == nil {
		t.Fatal("an alias was created")
	}
}

func TestFlexCancelOptInAndReturnFields(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	yes, fields := true, []string{"alias.aliasid", "ALIAS.STATUS", "ALIAS.STOREPERMANENTLY"}
	if _, err := e.admin.UpdateSettings(ctx, shop.DemoShopID, ogone.SettingsChange{AliasOptIn: &yes, ReturnFields: &fields}); err != nil {
		t.Fatal(err)
	}
	action, page := e.open(e.flexParams(map[string]string{"ALIAS.STOREPERMANENTLY": "Y"}))
	if !strings.Contains(page, `name="STORE"`) {
		t.Fatal("no opt-in box")
	}
	// The box is unchecked: it overrides STOREPERMANENTLY=Y.
	_, q := e.returned(e.post(action, cardForm(visa)))
	if len(q) != 4 || q.Get("Alias.StorePermanently") != "N" || q.Get("Card.Brand") != "" {
		t.Fatalf("restricted return: %v", q)
	}
	checkSHAOut(t, q)
	tok, _ := e.vault.Get(ctx, shop.DemoShopID, "TEST", q.Get("Alias.AliasId"))
	if tok.Permanent {
		t.Fatal("alias kept without the buyer's consent")
	}
	action, _ = e.open(e.flexParams(map[string]string{"ALIAS.ALIASID": "keep-me", "PARAMETERS.DECLINEURL": ""}))
	path, q := e.returned(e.post(action+"/cancel", nil))
	if path != "/exception" || q.Get("Alias.Status") != "3" || q.Get("Alias.AliasId") != "keep-me" {
		t.Fatalf("cancel: %s %v", path, q)
	}
}

func TestFlexTemplate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src := `<html><head><title>Shop</title><script>steal()</script><style>.brand{color:red}</style></head>
<body><div class="brand" onclick="x()">My shop</div><iframe src="https://evil.example"></iframe>$$$PAYMENT ZONE$$$<a href="javascript:alert(1)">x</a></body></html>`
	if _, err := e.admin.UploadTemplate(ctx, shop.DemoShopID, "new_user.html", []byte(src)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.UploadTemplate(ctx, shop.DemoShopID, "nozone.html", []byte("<p>x</p>")); err == nil {
		t.Fatal("a template without the payment zone was accepted")
	}
	resp, body := e.get(e.flexURL(e.flexParams(map[string]string{"LAYOUT.TEMPLATENAME": "new_user.html"})))
	if resp.StatusCode != 200 || !strings.Contains(body, "My shop") || !strings.Contains(body, `name="CARDNO"`) {
		t.Fatalf("template page: %d %s", resp.StatusCode, body)
	}
	for _, bad := range []string{"<script", "steal", "onclick", "<iframe", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("served template contains %q", bad)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'none'") || !strings.Contains(csp, "frame-ancestors 'self' "+e.merchant.srv.URL+";") {
		t.Fatalf("CSP %q", csp)
	}
	resp, _ = e.get(e.flexURL(e.flexParams(map[string]string{"LAYOUT.TEMPLATENAME": "missing.html"})))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("missing template: %d", resp.StatusCode)
	}
}

// fakeAccounts is the bank-account side of the vault that *vault.Vault does
// not have yet: it records what FlexCheckout asks it to keep.
type fakeAccounts struct {
	saved map[string]ogone.AccountRequest
}

func (f *fakeAccounts) SaveAccount(_ context.Context, _ *sql.Tx, req ogone.AccountRequest) (bool, bool, error) {
	prev, updated := f.saved[req.Token]
	f.saved[req.Token] = req
	return updated, req.TTL == 0 || (updated && prev.TTL == 0), nil
}

func TestFlexDirectDebit(t *testing.T) {
	acc := &fakeAccounts{saved: map[string]ogone.AccountRequest{}}
	e := newEnv(t, func(o *ogone.Options) { o.BankAccounts = acc })
	action, page := e.open(e.flexParams(map[string]string{"CARD.PAYMENTMETHOD": "Direct Debits DE", "LAYOUT.LANGUAGE": "de_DE", "ALIAS.ALIASID": "sepa-1"}))
	if !strings.Contains(page, "Kontoinhaber") || !strings.Contains(page, `name="IBAN"`) {
		t.Fatalf("page %s", page)
	}
	resp, body := e.post(action, url.Values{"HOLDER": {"Max Muster"}, "IBAN": {"DE89 3704 0044 0532 0130 01"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Die IBAN ist ungültig.") {
		t.Fatalf("bad checksum accepted: %d", resp.StatusCode)
	}
	_, q := e.returned(e.post(action, url.Values{"HOLDER": {"Max Muster"}, "IBAN": {"de89 3704 0044 0532 0130 00"}, "BIC": {"COBADEFFXXX"}}))
	if q.Get("Alias.Status") != "0" || q.Get("Card.CardNumber") != "DE89XXXXXXXXXXXXXX3000" || q.Get("Card.Bic") != "COBADEFFXXX" ||
		q.Get("Card.Brand") != "Direct Debits DE" || q.Get("Card.CardHolderName") != "Max Muster" {
		t.Fatalf("return %v", q)
	}
	checkSHAOut(t, q)
	if got := acc.saved["sepa-1"]; got.IBAN.Reveal() != "DE89370400440532013000" || got.TTL != 0 || got.Mode != "TEST" {
		t.Fatalf("saved %+v", got)
	}
	// Without a bank-account vault the method is not offered.
	e2 := newEnv(t)
	resp, _ = e2.get(e2.flexURL(e2.flexParams(map[string]string{"CARD.PAYMENTMETHOD": "DirectDebit"})))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("direct debit without an account vault: %d", resp.StatusCode)
	}
}

func TestFlexInputRules(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("x", 51)
	for name, extra := range map[string]map[string]string{
		"no accept url":     {"PARAMETERS.ACCEPTURL": ""},
		"no exception url":  {"PARAMETERS.EXCEPTIONURL": ""},
		"relative url":      {"PARAMETERS.ACCEPTURL": "/ok"},
		"javascript url":    {"PARAMETERS.ACCEPTURL": "javascript:alert(1)"},
		"no brand nor pm":   {"CARD.PAYMENTMETHOD": ""},
		"unknown pm":        {"CARD.PAYMENTMETHOD": "Bitcoin"},
		"unknown brand":     {"CARD.BRAND": "Nope"},
		"alias too long":    {"ALIAS.ALIASID": long},
		"alias chars":       {"ALIAS.ALIASID": "a b"},
		"order id too long": {"ALIAS.ORDERID": long},
		"store permanently": {"ALIAS.STOREPERMANENTLY": "X"},
		"bin":               {"CARD.BIN": "41x"},
		"all excluded":      {"CARD.BRAND": "VISA", "PARAMETERS.EXCLUDEDPAYMENTMETHODS": "VISA"},
		"paramplus":         {"PARAMETERS.PARAMPLUS": strings.Repeat("p", 1001)},
		"template name":     {"LAYOUT.TEMPLATENAME": "../x.html"},
	} {
		resp, body := e.get(e.flexURL(e.flexParams(extra)))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, ogone.GenericError("en")) {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	// CARD.BRAND alone is enough and fixes the form's brand.
	_, page := e.open(e.flexParams(map[string]string{"CARD.PAYMENTMETHOD": "", "CARD.BRAND": "mastercard", "LAYOUT.LANGUAGE": "nl_BE"}))
	if !strings.Contains(page, `id="brand">MasterCard<`) || !strings.Contains(page, "Kaartnummer") {
		t.Fatalf("brand page %s", page)
	}
}

func TestTemporaryAliasExpiryAndPersistedAfterUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	create := func(id string) {
		a, _ := e.open(e.flexParams(map[string]string{"ALIAS.ALIASID": id, "ALIAS.STOREPERMANENTLY": "N"}))
		if _, q := e.returned(e.post(a, cardForm(mastercard))); q.Get("Alias.Status") != "0" {
			t.Fatalf("create %s: %v", id, q)
		}
	}
	create("tmp-kept")
	create("tmp-gone")
	create("tmp-used-n")
	e.clock.Advance(time.Hour)
	// A payment within the two hours keeps the alias, unless it says N.
	if r := e.order(map[string]string{"ALIAS": "tmp-kept", "ORDERID": "K1", "ALIASPERSISTEDAFTERUSE": "Y"}); r["STATUS"] != "5" {
		t.Fatalf("payment with a temporary alias: %v", r)
	}
	if r := e.order(map[string]string{"ALIAS": "tmp-used-n", "ORDERID": "K2", "ALIASPERSISTEDAFTERUSE": "N"}); r["STATUS"] != "5" {
		t.Fatalf("payment with N: %v", r)
	}
	e.clock.Advance(time.Hour + time.Second)
	if n, err := e.vault.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil || n != 2 {
		t.Fatalf("expired %d %v", n, err)
	}
	if _, _, _, err := e.vault.Card(ctx, shop.DemoShopID, "TEST", "tmp-kept"); err != nil {
		t.Fatalf("kept alias: %v", err)
	}
	for _, id := range []string{"tmp-gone", "tmp-used-n"} {
		if _, _, _, err := e.vault.Card(ctx, shop.DemoShopID, "TEST", id); err != vault.ErrTokenPurged {
			t.Fatalf("%s after two hours: %v", id, err)
		}
		if r := e.order(map[string]string{"ALIAS": id, "ORDERID": "L-" + id}); r["NCERROR"] != "50001111" || r["STATUS"] != "0" {
			t.Fatalf("payment with a deleted alias: %v", r)
		}
	}
}

// A temporary alias used within its two hours survives the payment even
// when its time is up while the acquirer answers and the expiry job runs
// meanwhile: the payment and the alias end consistent (the debit names the
// alias, which still holds its card). With ALIASPERSISTEDAFTERUSE=N the alias
// goes at its time and the payment is not disturbed. An alias whose time was
// up before the order is still refused.
func TestTemporaryAliasUsedInTimeSurvivesASlowAcquirer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, id := range []string{"slow-kept", "slow-n", "late"} {
		a, _ := e.open(e.flexParams(map[string]string{"ALIAS.ALIASID": id, "ALIAS.STOREPERMANENTLY": "N"}))
		if _, q := e.returned(e.post(a, cardForm(mastercard))); q.Get("Alias.Status") != "0" {
			t.Fatalf("create %s: %v", id, q)
		}
	}
	e.clock.Advance(2*time.Hour - time.Second)
	purged := -1
	e.acq.setDuring(func() {
		e.clock.Advance(2 * time.Second)
		n, err := e.vault.ExpireTemporary(ctx, vault.PurgeOptions{})
		if err != nil {
			t.Errorf("expiry job: %v", err)
		}
		purged = n
	})
	r := e.order(map[string]string{"ALIAS": "slow-kept", "ORDERID": "S1"})
	if r["STATUS"] != "5" || r["ALIAS"] != "slow-kept" {
		t.Fatalf("payment with a temporary alias used in time: %v", r)
	}
	if purged != 2 {
		t.Errorf("the expiry job during the payment purged %d aliases, want 2 (slow-n and late, not slow-kept)", purged)
	}
	tok, err := e.vault.Get(ctx, shop.DemoShopID, "TEST", "slow-kept")
	if err != nil || !tok.Permanent || tok.StatusAt(e.clock.Now()) != vault.StatusActive {
		t.Fatalf("the alias used in time was not kept: %+v %v", tok, err)
	}
	if _, _, _, err := e.vault.Card(ctx, shop.DemoShopID, "TEST", "slow-kept"); err != nil {
		t.Fatalf("the kept alias lost its card: %v", err)
	}
	o, err := e.db.OrdersByOrderID(ctx, shop.DemoShopID, "TEST", "S1")
	if err != nil || len(o) != 1 {
		t.Fatal(o, err)
	}
	if _, tx, err := e.payments.Get(ctx, shop.DemoShopID, o[0].TransactionUUID); err != nil ||
		tx.DetailedStatus != "AUTHORISED_TO_VALIDATE" || tx.Token != "slow-kept" {
		t.Fatalf("the payment: %+v %v", tx, err)
	}
	if r := e.order(map[string]string{"ALIAS": "slow-kept", "ORDERID": "S2"}); r["STATUS"] != "5" {
		t.Fatalf("the kept alias pays again: %v", r)
	}

	// ALIASPERSISTEDAFTERUSE=N: the alias is not kept, the payment is.
	e.acq.setDuring(nil)
	a, _ := e.open(e.flexParams(map[string]string{"ALIAS.ALIASID": "slow-n2", "ALIAS.STOREPERMANENTLY": "N"}))
	if _, q := e.returned(e.post(a, cardForm(mastercard))); q.Get("Alias.Status") != "0" {
		t.Fatalf("create slow-n2: %v", q)
	}
	e.clock.Advance(2*time.Hour - time.Second)
	e.acq.setDuring(func() {
		e.clock.Advance(2 * time.Second)
		if n, err := e.vault.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil || n != 1 {
			t.Errorf("expiry job with N: %d %v", n, err)
		}
	})
	if r := e.order(map[string]string{"ALIAS": "slow-n2", "ORDERID": "S3", "ALIASPERSISTEDAFTERUSE": "N"}); r["STATUS"] != "5" {
		t.Fatalf("payment with N: %v", r)
	}
	if _, _, _, err := e.vault.Card(ctx, shop.DemoShopID, "TEST", "slow-n2"); err != vault.ErrTokenPurged {
		t.Fatalf("the alias used with N after its time: %v", err)
	}
	e.acq.setDuring(nil)

	// An alias whose time was up before the order arrived is refused, and
	// nothing reaches the acquirer.
	before := e.acq.authorizations()
	if r := e.order(map[string]string{"ALIAS": "late", "ORDERID": "S4"}); r["NCERROR"] != "50001111" || r["STATUS"] != "0" {
		t.Fatalf("payment with an alias past its time: %v", r)
	}
	if e.acq.authorizations() != before {
		t.Fatal("an alias past its time reached the acquirer")
	}
}

// lateVault is the vault with the clock moving on between DirectLink's
// check of the alias and the write that starts the payment.
type lateVault struct {
	*vault.Vault
	clk *clock.Fake
}

func (v lateVault) MakePermanentTx(tx *sql.Tx, shopID, mode, token string) error {
	v.clk.Advance(2 * time.Second)
	return v.Vault.MakePermanentTx(tx, shopID, mode, token)
}

// A temporary alias whose time is up when the payment starts (after the
// order's checks) stops the payment: nothing reaches the acquirer, the
// order answers "unknown alias" and the alias goes with the expiry job.
func TestTemporaryAliasOverWhenThePaymentStarts(t *testing.T) {
	e := newEnv(t, func(o *ogone.Options) { o.Vault = lateVault{o.Vault.(*vault.Vault), o.Clock.(*clock.Fake)} })
	ctx := context.Background()
	a, _ := e.open(e.flexParams(map[string]string{"ALIAS.ALIASID": "just-late", "ALIAS.STOREPERMANENTLY": "N"}))
	if _, q := e.returned(e.post(a, cardForm(mastercard))); q.Get("Alias.Status") != "0" {
		t.Fatalf("create: %v", q)
	}
	e.clock.Advance(2*time.Hour - time.Second)
	before := e.acq.authorizations()
	if r := e.order(map[string]string{"ALIAS": "just-late", "ORDERID": "J1"}); r["NCERROR"] != "50001111" || r["STATUS"] != "0" {
		t.Fatalf("payment with an alias over when it starts: %v", r)
	}
	if e.acq.authorizations() != before {
		t.Fatal("the alias over when the payment started reached the acquirer")
	}
	if n, err := e.vault.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil || n != 1 {
		t.Fatalf("expiry job: %d %v", n, err)
	}
}

func TestAdminCLI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	run := func(stdin string, args ...string) string {
		t.Helper()
		var out strings.Builder
		if err := e.admin.RunCLI(ctx, args, strings.NewReader(stdin), &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	out := run("", "settings", "set", shop.DemoShopID, "-frame-ancestors", "https://shop.example http://127.0.0.1:8080", "-alias-opt-in", "true", "-return-fields", "alias.aliasid,ALIAS.STATUS")
	if !strings.Contains(out, "frame-ancestors: https://shop.example http://127.0.0.1:8080") || !strings.Contains(out, "alias-opt-in: true") ||
		!strings.Contains(out, "return-fields: ALIAS.ALIASID,ALIAS.STATUS") || !strings.Contains(out, "mode: TEST") {
		t.Fatalf("settings: %s", out)
	}
	resp, _ := e.get(e.flexURL(e.flexParams(nil)))
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' https://shop.example http://127.0.0.1:8080;") ||
		!strings.Contains(csp, "form-action 'self' "+e.merchant.srv.URL+";") {
		t.Fatalf("CSP %q", csp)
	}
	for _, bad := range [][]string{
		{"settings", "set", shop.DemoShopID, "-frame-ancestors", "https://a.example/path"},
		{"settings", "set", shop.DemoShopID, "-return-fields", "NOPE"},
		{"settings", "set", shop.DemoShopID, "-mode", "LIVE"},
		{"templates", "upload", shop.DemoShopID, "x.html", "-"},
		{"bogus"},
	} {
		if err := e.admin.RunCLI(ctx, bad, strings.NewReader("<p>no zone</p>"), io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	run("<h1>Shop</h1>$$$PAYMENT ZONE$$$", "templates", "upload", shop.DemoShopID, "t.html", "-")
	if out := run("", "templates", "list", shop.DemoShopID); !strings.Contains(out, "t.html") {
		t.Fatalf("list: %s", out)
	}
	if out := run("", "templates", "show", shop.DemoShopID, "t.html"); !strings.Contains(out, "<h1>Shop</h1>") {
		t.Fatalf("show: %s", out)
	}
	run("", "templates", "delete", shop.DemoShopID, "t.html")
	run("", "settings", "set", shop.DemoShopID, "-frame-ancestors", "none", "-return-fields", "all")
	if s, _ := e.admin.Settings(ctx, shop.DemoShopID); len(s.FrameAncestors) != 1 || len(s.ReturnFields) != 0 || !s.AliasOptIn {
		t.Fatalf("settings after reset: %+v", s)
	}
	// With none OpenPSP's own pages (the demo) still frame the page: the
	// operator is told so, not that it cannot be framed.
	resp, _ = e.get(e.flexURL(e.flexParams(nil)))
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self';") {
		t.Fatalf("CSP with no frame-ancestors %q", csp)
	}
	if out := run("", "settings", "show", shop.DemoShopID); !strings.Contains(out, "frame-ancestors: none (only OpenPSP's own pages may frame FlexCheckout)") {
		t.Fatalf("settings show with no frame-ancestors: %s", out)
	}
	e.get(e.flexURL(e.flexParams(map[string]string{"ACCOUNT.PSPID": pspid, "CARD.BRAND": "nope"})))
	if out := run("", "errors", shop.DemoShopID, "-limit", "5"); !strings.Contains(out, "INVALID_PARAMETER") {
		t.Fatalf("errors: %s", out)
	}
}

func TestFlexAlgorithmOfThePSPID(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, algo := range []string{"SHA-1", "SHA-256"} {
		if err := e.shops.UpdateOgone(ctx, shop.DemoShopID, shop.OgoneSettings{}, "", "", algo, ""); err != nil {
			t.Fatal(err)
		}
		p := e.flexParams(nil)
		resp, _ := e.get(e.flexURL(p)) // signed with SHA-512
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s PSPID accepted a SHA-512 signature", algo)
		}
		p = e.flexParams(nil)
		p.Set("SHASIGNATURE.SHASIGN", strings.ToLower(sign(algo, p, passphrase, nil)))
		resp, body := e.get(e.srv.URL + ogone.FlexCheckoutPath + "?" + p.Encode())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s signature refused: %s", algo, body)
		}
		a := actionRE.FindStringSubmatch(body)[1]
		_, q := e.returned(e.post(a, cardForm(visa)))
		if got, want := q.Get("SHASign"), sign(algo, q, passphrase, flexOut); got != want {
			t.Fatalf("%s SHA-OUT %s, want %s", algo, got, want)
		}
	}
}

// TestFlexFormErrorKeepsEntries: a form shown again after a mistake keeps
// what the buyer chose that is not sensitive (the cardholder name and the
// expiry date; never the card number or the code), so that correcting the
// code alone does not send an expiry reset to January; and each field in
// error says so to assistive technology (aria-invalid, aria-describedby).
func TestFlexFormErrorKeepsEntries(t *testing.T) {
	e := newEnv(t)
	action, _ := e.open(e.flexParams(nil))
	f := cardForm(mastercard)
	f.Set("CVC", "12")
	f.Set("EXPM", "11")
	resp, body := e.post(action, f)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="err-cvc"`) {
		t.Fatalf("not the form with the CVC error: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{`value="Jean Dupont"`, `<option value="11" selected>`, `<option value="2032" selected>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the form lost %s", want)
		}
	}
	cvc := regexp.MustCompile(`<input id="cvc"[^>]*>`).FindString(body)
	if strings.Contains(body, mastercard) || strings.Contains(cvc, "value=") {
		t.Error("the card number or the code is shown again")
	}
	if !strings.Contains(cvc, `aria-invalid="true"`) || !strings.Contains(cvc, `aria-describedby="err-cvc"`) {
		t.Errorf("the CVC field does not point to its error: %s", cvc)
	}
	if cn := regexp.MustCompile(`<input id="cn"[^>]*>`).FindString(body); strings.Contains(cn, "aria-invalid") {
		t.Errorf("a valid field is marked invalid: %s", cn)
	}
}

// A page that names an alias which cannot take a card (purged) returns
// ALIAS.STATUS 1 and is over, as every other refusal:
// it cannot be submitted again.
func TestFlexRefusedAliasClosesThePage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, _ := e.open(e.flexParams(map[string]string{"ALIAS.ALIASID": "gone-1", "ALIAS.STOREPERMANENTLY": "N"}))
	if _, q := e.returned(e.post(a, cardForm(visa))); q.Get("Alias.Status") != "0" {
		t.Fatalf("create: %v", q)
	}
	e.clock.Advance(2*time.Hour + time.Second)
	if n, err := e.vault.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil || n != 1 {
		t.Fatalf("expired %d %v", n, err)
	}
	action, _ := e.open(e.flexParams(map[string]string{"ALIAS.ALIASID": "gone-1"}))
	path, q := e.returned(e.post(action, cardForm(mastercard)))
	if path != "/decline" || q.Get("Alias.Status") != "1" || q.Get("Alias.NCError") != "55555555" {
		t.Fatalf("purged alias: %s %v", path, q)
	}
	if resp, body := e.post(action, cardForm(mastercard)); resp.StatusCode != http.StatusGone {
		t.Fatalf("the page took a second submit after the refusal: %d %s", resp.StatusCode, body)
	}
}

// An update never makes a permanent alias temporary again, so the return
// says Y even when the request (or the buyer's unchecked box) said N.
func TestFlexUpdateOfAPermanentAliasSaysItIsKept(t *testing.T) {
	e := newEnv(t, func(o *ogone.Options) { o.BankAccounts = ogone.NewVaultAccounts(o.Vault.(*vault.Vault)) })
	ctx := context.Background()
	for _, c := range []struct {
		alias string
		form  url.Values
		extra map[string]string
	}{
		{"perm-card", cardForm(visa), nil},
		{"perm-sepa", url.Values{"HOLDER": {"Max Muster"}, "IBAN": {"DE89 3704 0044 0532 0130 00"}},
			map[string]string{"CARD.PAYMENTMETHOD": "Direct Debits DE"}},
	} {
		params := func(store string) url.Values {
			p := e.flexParams(c.extra)
			p.Set("ALIAS.ALIASID", c.alias)
			p.Set("ALIAS.STOREPERMANENTLY", store)
			return p
		}
		a, _ := e.open(params("Y"))
		if _, q := e.returned(e.post(a, c.form)); q.Get("Alias.Status") != "0" || q.Get("Alias.StorePermanently") != "Y" {
			t.Fatalf("%s create: %v", c.alias, q)
		}
		a, _ = e.open(params("N"))
		_, q := e.returned(e.post(a, c.form))
		checkSHAOut(t, q)
		tok, err := e.vault.Get(ctx, shop.DemoShopID, "TEST", c.alias)
		if err != nil || !tok.Permanent {
			t.Fatalf("%s after the update: %+v %v", c.alias, tok, err)
		}
		if q.Get("Alias.Status") != "2" || q.Get("Alias.StorePermanently") != "Y" {
			t.Errorf("%s update of a permanent alias with N returned %v", c.alias, q)
		}
	}
}

// TestFlexFrenchTypography checks the French FlexCheckout page puts a
// no-break space before the colon after "Cartes acceptées", as French
// typography wants (the template used to glue ':' to the text in every
// language), while the other languages keep their colon right after the word.
func TestFlexFrenchTypography(t *testing.T) {
	e := newEnv(t)
	for lang, want := range map[string]string{
		"fr_FR": "<span>Cartes acceptées\u00a0:</span>",
		"en_GB": "<span>Accepted cards:</span>",
		"de_DE": "<span>Akzeptierte Karten:</span>",
	} {
		if _, page := e.open(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": lang})); !strings.Contains(page, want) {
			t.Errorf("%s page lacks %q", lang, want)
		}
	}
}

// TestFlexBarePARAMPLUS: Odoo's FlexCheckout request (odoo/odoo
// addons/payment_ogone/models/payment_acquirer.py, ogone_form_generate_values)
// sends its return data as PARAMPLUS, not PARAMETERS.PARAMPLUS, signs it
// with the rest, and reads it back on its feedback route; document 004's
// output table names the returned field PARAMPLUS too. Ours dropped it.
func TestFlexBarePARAMPLUS(t *testing.T) {
	e := newEnv(t)
	action, _ := e.open(e.flexParams(map[string]string{"ALIAS.ORDERID": "ODOO-1", "LAYOUT.LANGUAGE": "fr-BE",
		"PARAMPLUS": "acquirerId=7&partnerId=3&flow=direct"}))
	path, q := e.returned(e.post(action, cardForm(visa)))
	if path != "/accept" {
		t.Fatalf("returned to %s", path)
	}
	checkSHAOut(t, q)
	for k, v := range map[string]string{"acquirerId": "7", "partnerId": "3", "flow": "direct", "Alias.Status": "0"} {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	// PARAMETERS.PARAMPLUS, the documented name, wins when both are sent.
	action, _ = e.open(e.flexParams(map[string]string{"PARAMPLUS": "a=bare", "PARAMETERS.PARAMPLUS": "a=doc"}))
	if _, q := e.returned(e.post(action, cardForm(visa))); q.Get("a") != "doc" || len(q["a"]) != 1 {
		t.Errorf("both names: a = %v, want [doc]", q["a"])
	}
}

// TestFlexExpiryStartsOnAValidDate: the expiry selects of a new form start
// on the current month and year (the first expiry that is not past). They
// started on January of the current year: from February on, a buyer who
// left them was told the card had expired (seen on the demo in November).
// After a mistake the buyer's own choice is kept.
func TestFlexExpiryStartsOnAValidDate(t *testing.T) {
	e := newEnv(t) // the clock says 2030-03-10
	selected := func(body, id string) []string {
		sel := regexp.MustCompile(`(?s)<select id="` + id + `".*?</select>`).FindString(body)
		return regexp.MustCompile(`<option value="(\d+)" selected>`).FindAllString(sel, -1)
	}
	action, body := e.open(e.flexParams(nil))
	if m, y := selected(body, "expm"), selected(body, "expy"); len(m) != 1 || !strings.Contains(m[0], `"03"`) || len(y) != 1 || !strings.Contains(y[0], `"2030"`) {
		t.Errorf("new form: month %v, year %v selected; want 03/2030", m, y)
	}
	bad := cardForm("4111111111111112") // Luhn fails: the form comes back
	bad.Set("EXPM", "11")
	bad.Set("EXPY", "2031")
	_, body = e.post(action, bad)
	if m, y := selected(body, "expm"), selected(body, "expy"); len(m) != 1 || !strings.Contains(m[0], `"11"`) || len(y) != 1 || !strings.Contains(y[0], `"2031"`) {
		t.Errorf("form after a mistake: month %v, year %v selected; want the buyer's 11/2031", m, y)
	}
}

// TestFlexBareSHASIGN: a FlexCheckout request may carry its signature as
// SHASIGN, the name of every other Ogone page, instead of
// SHASIGNATURE.SHASIGN: a production ePDQ integration opens
// payments.epdq.co.uk/Tokenization/HostedPage with
// new URLSearchParams({...params, SHASIGN: shasign}) (public code, "pitch"
// Payment.tsx and its server.js /pitch/get-shasign). The signature is
// checked the same; a wrong one is refused.
func TestFlexBareSHASIGN(t *testing.T) {
	e := newEnv(t)
	params := e.flexParams(map[string]string{"ALIAS.ORDERID": "EPDQ-1", "LAYOUT.LANGUAGE": "en_GB"})
	params.Set("SHASIGN", sign("SHA-512", params, passphrase, nil))
	resp, body := e.get(e.srv.URL + ogone.FlexCheckoutPath + "?" + params.Encode())
	m := actionRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("bare SHASIGN: %d, want the card form:\n%.300s", resp.StatusCode, body)
	}
	path, q := e.returned(e.post(m[1], cardForm(visa)))
	if path != "/accept" || q.Get("Alias.OrderId") != "EPDQ-1" {
		t.Fatalf("returned to %s %v", path, q)
	}
	checkSHAOut(t, q)
	params.Set("SHASIGN", strings.Repeat("0", 128))
	if resp, body := e.get(e.srv.URL + ogone.FlexCheckoutPath + "?" + params.Encode()); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, ogone.GenericError("en")) {
		t.Errorf("wrong bare SHASIGN: %d, want the generic error", resp.StatusCode)
	}
}

// frameAncestorsOf returns the frame-ancestors directive of a CSP.
func frameAncestorsOf(csp string) string {
	for _, d := range strings.Split(csp, ";") {
		if d = strings.TrimSpace(d); strings.HasPrefix(d, "frame-ancestors ") {
			return d
		}
	}
	return ""
}

// Ingenico lets a merchant show FlexCheckout in an iframe of its checkout
// (Odoo's payment_ogone, limegrow's inline mode); with no frame-ancestors
// set for the PSPID, OpenPSP let only its own pages frame the page, so
// such an integration broke until the operator listed the shop. Now, with
// none set, the origins of the signed request's return URLs may frame it
// (https, or on a PRODUCTION PSPID http only on loopback; no wildcard); a
// list set for the PSPID replaces them, and "none" lets no other site.
func TestFlexFrameAncestorsDefaultToReturnOrigins(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	page := func(extra map[string]string) (int, string, string) {
		t.Helper()
		resp, body := e.get(e.flexURL(e.flexParams(extra)))
		// No cookie: a browser blocking third-party cookies runs the
		// framed page (the session is in the form's address).
		if c := resp.Header.Values("Set-Cookie"); len(c) > 0 {
			t.Fatalf("the page sets cookies %v", c)
		}
		return resp.StatusCode, frameAncestorsOf(resp.Header.Get("Content-Security-Policy")), body
	}
	urls := map[string]string{"PARAMETERS.ACCEPTURL": "https://SHOP.example/ok?x=1",
		"PARAMETERS.EXCEPTIONURL": "https://shop.example:8443/nok", "PARAMETERS.DECLINEURL": "http://pay.shop.example/decline"}
	code, fa, body := page(urls)
	if code != http.StatusOK || !strings.Contains(body, `name="CARDNO"`) ||
		fa != "frame-ancestors 'self' https://shop.example https://shop.example:8443 http://pay.shop.example" {
		t.Fatalf("no list set: %d %q", code, fa)
	}
	// The merchant of the other tests: a loopback origin, with a port.
	if _, fa, _ := page(nil); fa != "frame-ancestors 'self' "+e.merchant.srv.URL {
		t.Fatalf("loopback merchant: %q", fa)
	}
	// A wildcard, or a host a CSP would read otherwise, is no origin.
	if _, fa, _ := page(map[string]string{"PARAMETERS.ACCEPTURL": "https://*.shop.example/ok",
		"PARAMETERS.EXCEPTIONURL": "https://shop.example:8443/nok", "PARAMETERS.DECLINEURL": ""}); fa != "frame-ancestors 'self' https://shop.example:8443" {
		t.Fatalf("wildcard return URL: %q", fa)
	}
	// Nor does form-action take such a host: a ";" would end the directive
	// and start one the URL chose.
	resp, _ := e.get(e.flexURL(e.flexParams(map[string]string{"PARAMETERS.ACCEPTURL": "https://shop.example;script-src*/ok",
		"PARAMETERS.EXCEPTIONURL": "https://shop.example:8443/nok", "PARAMETERS.DECLINEURL": ""})))
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "script-src*") || !strings.Contains(csp, "form-action 'self' https://shop.example:8443;") {
		t.Fatalf("a return URL's host with a semicolon: %q", csp)
	}
	// A wrong signature shows no form, and so frames nothing.
	bad := e.flexParams(urls)
	u := e.flexURL(bad)
	resp, body = e.get(strings.Replace(u, "SHASIGNATURE.SHASIGN=", "SHASIGNATURE.SHASIGN=0", 1))
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(body, `name="CARDNO"`) {
		t.Fatalf("wrong signature: %d", resp.StatusCode)
	}

	// PRODUCTION: plain http only on loopback, as the hosted page's returns.
	prod := shop.ModeProduction
	if _, err := e.admin.UpdateSettings(ctx, shop.DemoShopID, ogone.SettingsChange{Mode: &prod}); err != nil {
		t.Fatal(err)
	}
	if _, fa, _ := page(map[string]string{"PARAMETERS.ACCEPTURL": "https://shop.example/ok",
		"PARAMETERS.EXCEPTIONURL": "http://shop.example/nok", "PARAMETERS.DECLINEURL": "http://localhost:8069/decline"}); fa != "frame-ancestors 'self' https://shop.example http://localhost:8069" {
		t.Fatalf("PRODUCTION: %q", fa)
	}

	// A list set for the PSPID replaces the return URLs' origins.
	list := []string{"https://checkout.example"}
	if _, err := e.admin.UpdateSettings(ctx, shop.DemoShopID, ogone.SettingsChange{FrameAncestors: &list}); err != nil {
		t.Fatal(err)
	}
	if _, fa, _ := page(urls); fa != "frame-ancestors 'self' https://checkout.example" {
		t.Fatalf("list set: %q", fa)
	}
	run := func(args ...string) string {
		t.Helper()
		var out strings.Builder
		if err := e.admin.RunCLI(ctx, args, strings.NewReader(""), &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	// none: no other site at all.
	if out := run("settings", "set", shop.DemoShopID, "-frame-ancestors", "none"); !strings.Contains(out, "frame-ancestors: none (only OpenPSP's own pages may frame FlexCheckout)") {
		t.Fatalf("none: %s", out)
	}
	if _, fa, _ := page(urls); fa != "frame-ancestors 'self'" {
		t.Fatalf("none: %q", fa)
	}
	// return-urls: back to the default.
	if out := run("settings", "set", shop.DemoShopID, "-frame-ancestors", "return-urls"); !strings.Contains(out, "frame-ancestors: return-urls (") {
		t.Fatalf("return-urls: %s", out)
	}
	if _, fa, _ := page(urls); fa != "frame-ancestors 'self' https://shop.example https://shop.example:8443" {
		t.Fatalf("return-urls: %q", fa)
	}
}

// An empty field's error asks for it; a wrong one says it is not valid.
// The empty security code read "Der Sicherheitscode ist ungültig." under
// "Bitte geben Sie die Kartennummer ein." for the empty card number, and
// an empty IBAN "Die IBAN ist ungültig.": the buyer had typed nothing.
func TestFlexEmptyFieldAsksForIt(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ locale, empty, wrong string }{
		{"en_US", "Please enter the security code.", "The security code is not valid."},
		{"fr_FR", "Veuillez saisir le cryptogramme visuel.", "Le cryptogramme visuel n’est pas valide."},
		{"es_ES", "Introduzca el código de seguridad.", "El código de seguridad no es válido."},
		{"it_IT", "Inserire il codice di sicurezza.", "Il codice di sicurezza non è valido."},
		{"de_DE", "Bitte geben Sie den Sicherheitscode ein.", "Der Sicherheitscode ist ungültig."},
		{"nl_NL", "Voer de beveiligingscode in.", "De beveiligingscode is ongeldig."},
	} {
		action, _ := e.open(e.flexParams(map[string]string{"LAYOUT.LANGUAGE": c.locale}))
		for cvc, want := range map[string]string{"": c.empty, "12": c.wrong} {
			f := cardForm(mastercard)
			f.Set("CVC", cvc)
			if _, body := e.post(action, f); !strings.Contains(body, want) {
				t.Errorf("%s, security code %q: no %q", c.locale, cvc, want)
			}
		}
	}
	acc := &fakeAccounts{saved: map[string]ogone.AccountRequest{}}
	e = newEnv(t, func(o *ogone.Options) { o.BankAccounts = acc })
	for _, c := range []struct{ locale, empty string }{
		{"en_US", "Please enter the IBAN."}, {"fr_FR", "Veuillez saisir l’IBAN."}, {"es_ES", "Introduzca el IBAN."},
		{"it_IT", "Inserire l’IBAN."}, {"de_DE", "Bitte geben Sie die IBAN ein."}, {"nl_NL", "Voer de IBAN in."},
	} {
		action, _ := e.open(e.flexParams(map[string]string{"CARD.PAYMENTMETHOD": "Direct Debits DE", "LAYOUT.LANGUAGE": c.locale}))
		if _, body := e.post(action, url.Values{"HOLDER": {"Max Muster"}, "IBAN": {" "}}); !strings.Contains(body, c.empty) {
			t.Errorf("%s, no IBAN: no %q", c.locale, c.empty)
		}
	}
}
