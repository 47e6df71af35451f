package e2e

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// ogoneAccount is what a merchant holds of its PSPID.
type ogoneAccount struct {
	PSPID, User, Password, SHAIn, Algo string
}

// directLink posts a DirectLink request page ("orderdirect", "querydirect",
// "maintenancedirect") signed with the account's SHA-IN and returns the
// attributes of the ncresponse.
func directLink(t *testing.T, s *server, page string, acct ogoneAccount, fields map[string]string) map[string]string {
	t.Helper()
	return directLinkEnv(t, s, "test", page, acct, fields)
}

// directLinkEnv is directLink on /ncol/{env}/ ("test" or "prod").
func directLinkEnv(t *testing.T, s *server, env, page string, acct ogoneAccount, fields map[string]string) map[string]string {
	t.Helper()
	ps := ogone.Params{{Name: "PSPID", Value: acct.PSPID}, {Name: "USERID", Value: acct.User}, {Name: "PSWD", Value: acct.Password}}
	for k, v := range fields {
		ps = append(ps, ogone.Param{Name: k, Value: v})
	}
	sig, err := ogone.Sign(acct.Algo, ps, acct.SHAIn, nil)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"SHASIGN": {sig}}
	for _, p := range ps {
		form.Set(p.Name, p.Value)
	}
	resp, err := http.PostForm(s.URL+"/ncol/"+env+"/"+page+"_utf8.asp", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var x struct {
		Attrs []xml.Attr `xml:",any,attr"`
	}
	if err := xml.Unmarshal(body, &x); err != nil {
		t.Fatalf("%s: answer is not XML: %s", page, body)
	}
	out := map[string]string{"_raw": string(body)}
	for _, a := range x.Attrs {
		out[a.Name.Local] = a.Value
	}
	return out
}

// v4Raw calls a V4 web service and returns the envelope and its raw text.
func v4Raw(t *testing.T, s *server, user, password, name string, body any) (map[string]any, string) {
	t.Helper()
	return v4Key(t, s, user, password, "", name, body)
}

// A shop's credentials reach nothing of another shop's: every V4 web
// service, DirectLink query, maintenance and alias order, FlexCheckout's
// alias update and templates, and the embedded form given another shop's
// formToken. Each call with shop A's keys names shop B's objects; each must
// be refused without telling anything of them, and shop B's objects must be
// as they were afterwards.
func TestTenantIsolation(t *testing.T) {
	s := startServer(t, serverOpts{})
	ctx := context.Background()
	b, err := s.Shops.Create(ctx, shop.CreateInput{Name: "Shop B", Settings: shop.Settings{PaymentByToken: true, TokenDeletion: shop.DeletionManual}})
	if err != nil {
		t.Fatal(err)
	}
	bID, bPass := b.Shop.ID, b.Test.Password
	bAcct := ogoneAccount{PSPID: b.PSPID, User: b.APIUser, Password: b.APIPassword, SHAIn: b.SHAIn, Algo: b.SHAAlgo}
	aAcct := ogoneAccount{PSPID: shop.DemoPSPID, User: shop.DemoAPIUser, Password: shop.DemoAPIPassword, SHAIn: shop.DemoSHAPassphrase, Algo: ogone.SHA512}

	// Shop B's objects.
	pan, _ := card.ParsePAN("5100010000002045")
	tok, err := s.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: bID, Mode: shop.ModeTest, PAN: pan,
		Expiry: card.Expiry{Month: 12, Year: time.Now().Year() + 3}, HolderName: "B Buyer", Origin: "V4"})
	if err != nil {
		t.Fatal(err)
	}
	bToken := tok.Value
	paid, _ := v4Raw(t, s, bID, bPass, "Charge/CreatePayment", map[string]any{"amount": 1000, "currency": "EUR",
		"orderId": "b-paid", "formAction": "SILENT", "paymentMethodToken": bToken})
	if answer(paid)["orderStatus"] != "PAID" {
		t.Fatalf("shop B's SILENT payment: %v", paid)
	}
	bPaidUUID := answer(paid)["transactions"].([]any)[0].(map[string]any)["uuid"].(string)
	// The capture job settles it in the background: wait for it here, so
	// that the end of the test compares shop B's payment with a state that
	// no longer moves by itself (under load the job may not have run yet).
	pollFor(t, 30*time.Second, "shop B's SILENT payment captured", func() string {
		got := answer(s.v4As(t, bID, bPass, "Transaction/Get", map[string]any{"uuid": bPaidUUID}))
		if d, _ := got["detailedStatus"].(string); d != "CAPTURED" {
			return "detailedStatus " + d
		}
		return ""
	})
	held, _ := v4Raw(t, s, bID, bPass, "Charge/CreatePayment", map[string]any{"amount": 2000, "currency": "EUR",
		"orderId": "b-held", "formAction": "SILENT", "paymentMethodToken": bToken,
		"transactionOptions": map[string]any{"cardOptions": map[string]any{"manualValidation": "YES"}}})
	heldTx, _ := answer(held)["transactions"].([]any)
	if len(heldTx) != 1 {
		t.Fatalf("shop B's payment to validate: %v", held)
	}
	bHeldUUID := heldTx[0].(map[string]any)["uuid"].(string)
	sub, _ := v4Raw(t, s, bID, bPass, "Charge/CreateSubscription", map[string]any{"amount": 500, "currency": "EUR",
		"paymentMethodToken": bToken, "effectDate": time.Now().AddDate(0, 1, 0).UTC().Format("2006-01-02T15:04:05+00:00"),
		"rrule": "RRULE:FREQ=MONTHLY;COUNT=3", "orderId": "b-sub"})
	bSubID, _ := answer(sub)["subscriptionId"].(string)
	if bSubID == "" {
		t.Fatalf("shop B's subscription: %v", sub)
	}
	wallet, _ := v4Raw(t, s, bID, bPass, "CustomerWallet/Update", map[string]any{"customerReference": "b-customer",
		"paymentMethodToken": bToken})
	_ = wallet
	dlOrder := directLink(t, s, "orderdirect", bAcct, map[string]string{"ORDERID": "b-dl", "AMOUNT": "1500", "CURRENCY": "EUR",
		"CARDNO": "4970100000000055", "ED": "12" + futureExpiry()[2:], "CVC": "123", "ALIAS": "B-ALIAS-1", "OPERATION": "SAL", "ECI": "7"})
	bPAYID := dlOrder["PAYID"]
	if dlOrder["STATUS"] != "9" || bPAYID == "" || bPAYID == "0" {
		t.Fatalf("shop B's DirectLink order: %s", dlOrder["_raw"])
	}
	if err := s.DB.PutTemplate(ctx, ogone.Template{ShopID: bID, Name: "b-only.html",
		HTML: "<html><body>" + ogone.PaymentZone + "</body></html>", UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	bForm, _ := v4Raw(t, s, bID, bPass, "Charge/CreatePayment", map[string]any{"amount": 700, "currency": "EUR", "orderId": "b-form"})
	bFormToken, _ := answer(bForm)["formToken"].(string)
	if bFormToken == "" {
		t.Fatalf("shop B's formToken: %v", bForm)
	}

	// V4 with shop A's keys on shop B's identifiers.
	v4Calls := []struct {
		name string
		body map[string]any
	}{
		{"Order/Get", map[string]any{"orderId": "b-paid"}},
		{"Transaction/Get", map[string]any{"uuid": bPaidUUID}},
		{"Transaction/Capture", map[string]any{"uuids": []string{bHeldUUID}}},
		{"Transaction/Validate", map[string]any{"uuid": bHeldUUID}},
		{"Transaction/Update", map[string]any{"uuid": bHeldUUID, "cardUpdate": map[string]any{"amount": 100, "currency": "EUR"}}},
		{"Transaction/CancelOrRefund", map[string]any{"uuid": bPaidUUID, "amount": 1000, "currency": "EUR"}},
		{"Transaction/CancelOrRefund", map[string]any{"uuid": bHeldUUID}},
		{"Charge/CreateTokenFromTransaction", map[string]any{"uuid": bPaidUUID}},
		{"Token/Get", map[string]any{"paymentMethodToken": bToken}},
		{"Token/Cancel", map[string]any{"paymentMethodToken": bToken}},
		{"Token/Reactivate", map[string]any{"paymentMethodToken": bToken}},
		// Token/Update makes a form whose card replaces the token's: with
		// currency, or it stops at INT_902 before the token is looked at.
		{"Token/Update", map[string]any{"paymentMethodToken": bToken, "currency": "EUR", "customer": map[string]any{"email": "thief@example.com"}}},
		{"Token/Update", map[string]any{"paymentMethodToken": "B-ALIAS-1", "currency": "EUR"}},
		// A one-click form with shop B's card.
		{"Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR", "orderId": "a-steal-3", "paymentMethodToken": bToken}},
		{"Token/UpdateCustomerDetails", map[string]any{"paymentMethodToken": bToken, "customer": map[string]any{"email": "thief@example.com"}}},
		{"Token/Get", map[string]any{"paymentMethodToken": "B-ALIAS-1"}},
		{"CustomerWallet/Get", map[string]any{"customerReference": "b-customer"}},
		{"CustomerWallet/Update", map[string]any{"customerReference": "a-customer", "paymentMethodToken": bToken}},
		{"Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR", "orderId": "a-steal", "formAction": "SILENT", "paymentMethodToken": bToken}},
		{"Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR", "orderId": "a-steal-2", "formAction": "SILENT", "paymentMethodToken": "B-ALIAS-1"}},
		{"Charge/CreateSubscription", map[string]any{"amount": 100, "currency": "EUR", "paymentMethodToken": bToken,
			"effectDate": time.Now().AddDate(0, 1, 0).UTC().Format("2006-01-02T15:04:05+00:00"), "rrule": "RRULE:FREQ=MONTHLY;COUNT=2"}},
		{"Subscription/Get", map[string]any{"subscriptionId": bSubID, "paymentMethodToken": bToken}},
		{"Subscription/Update", map[string]any{"subscriptionId": bSubID, "paymentMethodToken": bToken, "amount": 1, "currency": "EUR",
			"rrule": "RRULE:FREQ=MONTHLY;COUNT=3", "effectDate": time.Now().AddDate(0, 1, 0).UTC().Format("2006-01-02T15:04:05+00:00")}},
		{"Subscription/Cancel", map[string]any{"subscriptionId": bSubID, "paymentMethodToken": bToken}},
	}
	for _, c := range v4Calls {
		env, raw := v4Raw(t, s, shop.DemoShopID, shop.DemoTestPassword, c.name, c.body)
		ans := answer(env)
		switch {
		case env["status"] == "ERROR":
		case c.name == "Subscription/Cancel" && ans["responseCode"] != float64(0):
			// V4 answers an unknown subscription with a response code.
		case c.name == "CustomerWallet/Get" && len(ans["tokens"].([]any)) == 0:
			// Customer references are the shop's own: shop A's is empty.
		default:
			t.Errorf("V4 %s with shop A's keys on shop B's %v: %s", c.name, c.body, raw)
		}
		sent, _ := json.Marshal(c.body)
		for _, secret := range []string{bID, "b-paid", "b-held", "B Buyer", "b-customer", "XXXXXXXXXXXX2045", "510001XXXXXX2045", bPaidUUID, bHeldUUID} {
			if strings.Contains(raw, secret) && !strings.Contains(string(sent), secret) {
				t.Errorf("V4 %s with shop A's keys tells of shop B's %q: %s", c.name, secret, raw)
			}
		}
	}

	// DirectLink with shop A's PSPID, user, password and SHA-IN.
	dlCalls := []struct {
		page   string
		fields map[string]string
	}{
		{"querydirect", map[string]string{"PAYID": bPAYID}},
		{"querydirect", map[string]string{"ORDERID": "b-dl"}},
		{"maintenancedirect", map[string]string{"PAYID": bPAYID, "OPERATION": "RFD", "AMOUNT": "1500"}},
		{"maintenancedirect", map[string]string{"ORDERID": "b-dl", "OPERATION": "RFS", "AMOUNT": "1500"}},
		{"maintenancedirect", map[string]string{"PAYID": bPAYID, "OPERATION": "DES"}},
		{"orderdirect", map[string]string{"ORDERID": "a-dl-steal", "AMOUNT": "100", "CURRENCY": "EUR", "ALIAS": "B-ALIAS-1", "OPERATION": "SAL", "ECI": "9"}},
		{"orderdirect", map[string]string{"ORDERID": "a-dl-steal-2", "AMOUNT": "100", "CURRENCY": "EUR", "ALIAS": bToken, "OPERATION": "SAL", "ECI": "9"}},
	}
	for _, c := range dlCalls {
		got := directLink(t, s, c.page, aAcct, c.fields)
		if got["NCERROR"] == "0" || got["STATUS"] == "9" || got["STATUS"] == "5" || got["STATUS"] == "8" || got["STATUS"] == "7" {
			t.Errorf("DirectLink %s with shop A's account on shop B's %v: %s", c.page, c.fields, got["_raw"])
		}
		for _, secret := range []string{bPAYID, "b-dl\"", "2045", "0055"} {
			if c.fields["PAYID"] == bPAYID && secret == bPAYID {
				continue // echoed as sent
			}
			if c.fields["ORDERID"] == "b-dl" && secret == "b-dl\"" {
				continue
			}
			if strings.Contains(got["_raw"], secret) {
				t.Errorf("DirectLink %s with shop A's account tells of shop B's %q: %s", c.page, secret, got["_raw"])
			}
		}
	}

	// FlexCheckout with shop A's PSPID: shop B's template is unknown, and
	// shop B's alias id names an alias of shop A's own (aliases are per
	// PSPID), never shop B's card.
	base := ogone.Params{{Name: "PARAMETERS.ACCEPTURL", Value: "https://merchant.example/ok"},
		{Name: "PARAMETERS.EXCEPTIONURL", Value: "https://merchant.example/ko"}, {Name: "CARD.PAYMENTMETHOD", Value: "CreditCard"}}
	if code, body := openFlexCheckout(t, s, aAcct, append(base, ogone.Param{Name: "ALIAS.ORDERID", Value: "a-flex-1"},
		ogone.Param{Name: "LAYOUT.TEMPLATENAME", Value: "b-only.html"})); code == http.StatusOK {
		t.Errorf("FlexCheckout with shop A's PSPID showed shop B's template: %d %s", code, body)
	}
	code, body := openFlexCheckout(t, s, aAcct, append(base, ogone.Param{Name: "ALIAS.ORDERID", Value: "a-flex-2"},
		ogone.Param{Name: "ALIAS.ALIASID", Value: "B-ALIAS-1"}))
	if code != http.StatusOK {
		t.Fatalf("FlexCheckout with an alias id: %d %s", code, body)
	}
	if loc := submitFlexCheckout(t, s, body, url.Values{"CARDNO": {"4970100000000055"}, "CN": {"A Buyer"}, "EXPM": {"12"},
		"EXPY": {"20" + futureExpiry()[2:]}, "CVC": {"123"}}); !strings.HasPrefix(loc, "https://merchant.example/ok") {
		t.Errorf("FlexCheckout submit with shop B's alias id under shop A went to %q", loc)
	}

	// A wallet form of shop A under shop B's customer reference is shop
	// A's own wallet of that name: it offers none of shop B's cards.
	wform, wraw := v4Raw(t, s, shop.DemoShopID, shop.DemoTestPassword, "Charge/CreatePayment", map[string]any{"amount": 100,
		"currency": "EUR", "orderId": "a-wallet", "formAction": "CUSTOMER_WALLET", "customer": map[string]any{"reference": "b-customer"}})
	if ft, _ := answer(wform)["formToken"].(string); ft == "" {
		t.Errorf("shop A's wallet form: %s", wraw)
	} else if code, page := getPage(t, s.URL+"/pay/"+ft); code != http.StatusOK || strings.Contains(page, "2045") || strings.Contains(page, "B Buyer") {
		t.Errorf("shop A's wallet form for reference b-customer shows shop B's card (HTTP %d)", code)
	}

	// The embedded form refuses another shop's formToken with shop A's
	// public key.
	q := url.Values{"kr-public-key": {shop.DemoTestPublicKey}, "origin": {"https://merchant.example"}}
	eresp, err := http.Get(s.URL + "/embedded/" + bFormToken + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	ebody, _ := io.ReadAll(eresp.Body)
	eresp.Body.Close()
	if eresp.StatusCode == http.StatusOK || strings.Contains(string(ebody), `id="kr-pan"`) {
		t.Errorf("the embedded form with shop A's public key shows shop B's payment: %d", eresp.StatusCode)
	}

	// Shop B's objects are as they were.
	if got := answer(s.v4As(t, bID, bPass, "Token/Get", map[string]any{"paymentMethodToken": bToken})); got["status"] != "ACTIVE" ||
		got["customer"].(map[string]any)["email"] == "thief@example.com" {
		t.Errorf("shop B's token changed: %v", got)
	}
	for uuid, want := range map[string]string{bPaidUUID: "CAPTURED", bHeldUUID: "AUTHORISED_TO_VALIDATE"} {
		got := answer(s.v4As(t, bID, bPass, "Transaction/Get", map[string]any{"uuid": uuid}))
		if d, _ := got["detailedStatus"].(string); d != want || got["amount"] == float64(100) {
			t.Errorf("shop B's transaction %s: detailedStatus %q amount %v, want %s", uuid, d, got["amount"], want)
		}
	}
	if got := answer(s.v4As(t, bID, bPass, "Subscription/Get", map[string]any{"subscriptionId": bSubID, "paymentMethodToken": bToken})); got["cancelDate"] != nil || got["amount"] != float64(500) {
		t.Errorf("shop B's subscription changed: %v", got)
	}
	if got := directLink(t, s, "querydirect", bAcct, map[string]string{"PAYID": bPAYID}); got["STATUS"] != "9" {
		t.Errorf("shop B's DirectLink order changed: %s", got["_raw"])
	}
	bAlias, _, _, err := s.Vault.Card(ctx, bID, "TEST", "B-ALIAS-1")
	if err != nil || bAlias.Reveal() != "4970100000000055" {
		t.Errorf("shop B's alias lost its card: %v", err)
	}
}

// getPage fetches a page and returns its status and body.
func getPage(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// openFlexCheckout opens FlexCheckout with the account's PSPID and ps,
// signed with its SHA-IN, and returns the status and page.
func openFlexCheckout(t *testing.T, s *server, acct ogoneAccount, ps ogone.Params) (int, string) {
	t.Helper()
	ps = append(ogone.Params{{Name: "ACCOUNT.PSPID", Value: acct.PSPID}}, ps...)
	sig, err := ogone.Sign(acct.Algo, ps, acct.SHAIn, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"SHASIGNATURE.SHASIGN": {sig}}
	for _, p := range ps {
		q.Set(p.Name, p.Value)
	}
	resp, err := http.Get(s.URL + ogone.FlexCheckoutPath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// submitFlexCheckout posts the card fields to the form of page and returns
// where FlexCheckout sends the browser.
func submitFlexCheckout(t *testing.T, s *server, page string, fields url.Values) string {
	t.Helper()
	m := regexp.MustCompile(`action="([^"]*/Tokenization/HostedPage/[0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no FlexCheckout form in %s", page)
	}
	action := html.UnescapeString(m[1])
	if strings.HasPrefix(action, "/") {
		action = s.URL + action
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(action, fields)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}
