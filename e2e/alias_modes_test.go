package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// TestAliasNamesPerMode: a merchant who tested with its customer ids as
// alias names ("CUST42") goes live and stores the same names again in
// PRODUCTION. Ingenico's test and production platforms are separate
// accounts, so each mode has its own alias of that name, and pays with its
// own card: the TEST alias is not replaced, refused or reached from
// PRODUCTION, nor the reverse. On both engines (the uniqueness is the
// tokens table's), through real HTTP: DirectLink on /ncol/test/ and
// /ncol/prod/ as the PSPID's mode changes, and the V4 API with each mode's
// keys. V4 tokens (random values) still reach their own mode only.
func TestAliasNamesPerMode(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // one server and database each
			testAliasNamesPerMode(t, engine)
		})
	}
}

func testAliasNamesPerMode(t *testing.T, engine string) {
	s := startServer(t, serverOpts{engine: engine})
	ctx := context.Background()
	sh, err := s.Shops.Create(ctx, shop.CreateInput{Name: "Alias Shop", Settings: shop.Settings{PaymentByToken: true}})
	if err != nil {
		t.Fatal(err)
	}
	acct := ogoneAccount{PSPID: sh.PSPID, User: sh.APIUser, Password: sh.APIPassword, SHAIn: sh.SHAIn, Algo: sh.SHAAlgo}
	admin := ogone.NewAdmin(s.Shops, s.DB, s.Clock)
	setMode := func(mode string) {
		t.Helper()
		if _, err := admin.UpdateSettings(ctx, sh.Shop.ID, ogone.SettingsChange{Mode: &mode}); err != nil {
			t.Fatal(err)
		}
	}
	const testCard, prodCard = "4970109900000115", "4970100000000055"
	order := func(env, orderID string, fields map[string]string) map[string]string {
		t.Helper()
		f := map[string]string{"ORDERID": orderID, "AMOUNT": "1500", "CURRENCY": "EUR", "OPERATION": "SAL", "ALIAS": "CUST42"}
		for k, v := range fields {
			f[k] = v
		}
		return directLinkEnv(t, s, env, "orderdirect", acct, f)
	}
	withCard := func(pan string) map[string]string {
		return map[string]string{"CARDNO": pan, "ED": futureExpiry(), "CVC": "123", "ECI": "7"}
	}
	masked := func(pan string) string { return "XXXXXXXXXXXX" + pan[len(pan)-4:] }

	// TEST: the alias is created with the test card.
	if r := order("test", "t-create", withCard(testCard)); r["STATUS"] != "9" || r["ALIAS"] != "CUST42" {
		t.Fatalf("TEST order creating CUST42: %s", r["_raw"])
	}
	// PRODUCTION, the same PSPID gone live: the same name is free there.
	setMode(shop.ModeProduction)
	if r := order("prod", "p-create", withCard(prodCard)); r["STATUS"] != "9" || r["ALIAS"] != "CUST42" {
		t.Fatalf("PRODUCTION order creating CUST42 (a TEST alias has that name): %s", r["_raw"])
	}
	// Each mode pays with its own card.
	if r := order("prod", "p-pay", map[string]string{"ECI": "9"}); r["STATUS"] != "9" || r["CARDNO"] != masked(prodCard) {
		t.Fatalf("PRODUCTION payment with CUST42: %s, want the card %s", r["_raw"], masked(prodCard))
	}
	setMode(shop.ModeTest)
	if r := order("test", "t-pay", map[string]string{"ECI": "9"}); r["STATUS"] != "9" || r["CARDNO"] != masked(testCard) {
		t.Fatalf("TEST payment with CUST42: %s, want the card %s", r["_raw"], masked(testCard))
	}
	// The V4 API with each mode's keys sees and charges that mode's alias.
	for _, k := range []struct {
		creds shop.Credentials
		pan   string
	}{{sh.Test, testCard}, {sh.Prod, prodCard}} {
		env, raw := v4Raw(t, s, k.creds.ShopID, k.creds.Password, "Token/Get", map[string]any{"paymentMethodToken": "CUST42"})
		td, _ := answer(env)["tokenDetails"].(map[string]any)
		if pan, _ := td["pan"].(string); !strings.HasSuffix(pan, k.pan[len(k.pan)-4:]) {
			t.Errorf("Token/Get CUST42 with the %s keys: %s, want the card ending %s", k.creds.Mode, raw, k.pan[len(k.pan)-4:])
		}
		env, raw = v4Raw(t, s, k.creds.ShopID, k.creds.Password, "Charge/CreatePayment", map[string]any{"amount": 700,
			"currency": "EUR", "orderId": "v4-" + k.creds.Mode, "formAction": "SILENT", "paymentMethodToken": "CUST42"})
		if answer(env)["orderStatus"] != "PAID" || !strings.Contains(raw, k.pan[len(k.pan)-4:]) {
			t.Errorf("SILENT payment with CUST42 and the %s keys: %s, want PAID with the card ending %s", k.creds.Mode, raw, k.pan[len(k.pan)-4:])
		}
	}
	// Updating one mode's alias (an accepted card with ALIAS) leaves the
	// other's card alone.
	if r := order("test", "t-update", withCard("5100010000002045")); r["STATUS"] != "9" || r["ALIAS"] != "CUST42" {
		t.Fatalf("TEST order updating CUST42: %s", r["_raw"])
	}
	setMode(shop.ModeProduction)
	if r := order("prod", "p-pay-2", map[string]string{"ECI": "9"}); r["STATUS"] != "9" || r["CARDNO"] != masked(prodCard) {
		t.Fatalf("PRODUCTION payment with CUST42 after the TEST update: %s, want the card %s", r["_raw"], masked(prodCard))
	}

	// V4 tokens: random values, each mode's keys reach and charge their
	// own only.
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	v4Tokens := map[string]string{}
	for _, c := range []shop.Credentials{sh.Test, sh.Prod} {
		p, _ := card.ParsePAN(testCard)
		tok, err := s.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: c.ShopID, Mode: c.Mode, PAN: p,
			Expiry: card.Expiry{Month: 12, Year: time.Now().Year() + 3}, Origin: "V4"})
		if err != nil || !hex32.MatchString(tok.Value) {
			t.Fatalf("V4 token of the %s mode: %q, %v", c.Mode, tok.Value, err)
		}
		v4Tokens[c.Mode] = tok.Value
	}
	for _, c := range []struct {
		creds      shop.Credentials
		own, other string
	}{{sh.Test, v4Tokens[shop.ModeTest], v4Tokens[shop.ModeProduction]}, {sh.Prod, v4Tokens[shop.ModeProduction], v4Tokens[shop.ModeTest]}} {
		if env, raw := v4Raw(t, s, c.creds.ShopID, c.creds.Password, "Charge/CreatePayment", map[string]any{"amount": 300, "currency": "EUR",
			"orderId": "v4-token-" + c.creds.Mode, "formAction": "SILENT", "paymentMethodToken": c.own}); answer(env)["orderStatus"] != "PAID" {
			t.Errorf("SILENT payment with its own V4 token and the %s keys: %s", c.creds.Mode, raw)
		}
		if env, raw := v4Raw(t, s, c.creds.ShopID, c.creds.Password, "Token/Get", map[string]any{"paymentMethodToken": c.other}); answer(env)["errorCode"] != "PSP_030" {
			t.Errorf("Token/Get of the other mode's V4 token with the %s keys: %s", c.creds.Mode, raw)
		}
	}
}
