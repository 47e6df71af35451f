package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// v4Key calls a V4 web service with an Idempotency-Key (none when key is
// empty) and returns the envelope and its raw text.
func v4Key(t *testing.T, s *server, user, password, key, name string, body any) (map[string]any, string) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.URL+"/api-payment/V4/"+name, bytes.NewReader(raw))
	req.SetBasicAuth(user, password)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env map[string]any
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%s: HTTP %d, not JSON: %s", name, resp.StatusCode, b)
	}
	return env, string(b)
}

// keySet is one mode's V4 keys of a shop.
type keySet struct {
	label, shopID, password, publicKey, mode string
}

// modeObjects are a shop's objects of one mode, made with that mode's keys.
type modeObjects struct {
	keys                  keySet
	token, tokenID        string // the token in the wallet "shared-customer"
	last4                 string // of its card
	paidUUID, heldUUID    string
	sharedUUID            string // of the orderId "shared-order"
	paidOrder, heldOrder  string
	subscriptionID        string
	formToken, walletForm string // a payment form; a CUSTOMER_WALLET form of "shared-customer"
}

// TestTenantIsolationMatrix tries, on both engines, every way a holder of
// one shop's keys could reach another shop's objects, and every way a
// shop's TEST keys could reach its PRODUCTION objects (and the reverse):
// each V4 web service on each object, DirectLink and FlexCheckout on
// another PSPID's orders and aliases, another shop's formToken on the
// embedded form, saved cards of another wallet on the hosted form, wallet
// references that two shops (and two modes) share, Idempotency-Keys that
// two shops (and two modes) send, and the demo pages. Each attempt must
// get the caller's not-found error (the same as for an identifier that
// exists nowhere), tell nothing of the object, send no IPN, and leave the
// object as it was.
func TestTenantIsolationMatrix(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // one server and database each
			testTenantIsolationMatrix(t, engine)
		})
	}
}

func testTenantIsolationMatrix(t *testing.T, engine string) {
	// Any IPN is a leak: no attempt below may pay, save or change anything.
	var ipns atomic.Int32
	var lastIPN atomic.Value
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		ipns.Add(1)
		lastIPN.Store(r.PostForm.Get("kr-answer"))
		io.WriteString(w, "OK")
	})
	merchant := httptest.NewServer(receiver)
	t.Cleanup(merchant.Close)
	s := startServer(t, serverOpts{engine: engine})
	ctx := context.Background()
	settings := shop.Settings{PaymentByToken: true}
	a, err := s.Shops.Create(ctx, shop.CreateInput{Name: "Shop A", Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Shops.Create(ctx, shop.CreateInput{Name: "Shop B", Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	keysOf := func(label string, c shop.Credentials) keySet {
		return keySet{label: label, shopID: c.ShopID, password: c.Password, publicKey: c.PublicKey, mode: c.Mode}
	}
	aTest, aProd := keysOf("shop A TEST", a.Test), keysOf("shop A PRODUCTION", a.Prod)
	bTest, bProd := keysOf("shop B TEST", b.Test), keysOf("shop B PRODUCTION", b.Prod)
	effect := time.Now().AddDate(0, 1, 0).UTC().Format("2006-01-02T15:04:05+00:00")

	// makeObjects creates a shop's objects of one mode with that mode's keys.
	makeObjects := func(k keySet, pan string) modeObjects {
		t.Helper()
		o := modeObjects{keys: k, last4: pan[len(pan)-4:]}
		p, _ := card.ParsePAN(pan)
		tok, err := s.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: k.shopID, Mode: k.mode, PAN: p,
			Expiry: card.Expiry{Month: 12, Year: time.Now().Year() + 3}, HolderName: "Holder " + o.last4,
			CustomerReference: "shared-customer", Origin: "V4"})
		if err != nil {
			t.Fatal(err)
		}
		o.token, o.tokenID = tok.Value, tok.ID
		tag := strings.ToLower(strings.ReplaceAll(k.label, " ", "-"))
		o.paidOrder, o.heldOrder = tag+"-paid", tag+"-held"
		paid, raw := v4Key(t, s, k.shopID, k.password, "", "Charge/CreatePayment", map[string]any{"amount": 1000, "currency": "EUR",
			"orderId": o.paidOrder, "formAction": "SILENT", "paymentMethodToken": o.token})
		if answer(paid)["orderStatus"] != "PAID" {
			t.Fatalf("%s: SILENT payment: %s", k.label, raw)
		}
		o.paidUUID = answer(paid)["transactions"].([]any)[0].(map[string]any)["uuid"].(string)
		held, raw := v4Key(t, s, k.shopID, k.password, "", "Charge/CreatePayment", map[string]any{"amount": 2000, "currency": "EUR",
			"orderId": o.heldOrder, "formAction": "SILENT", "paymentMethodToken": o.token,
			"transactionOptions": map[string]any{"cardOptions": map[string]any{"manualValidation": "YES"}}})
		if tx, _ := answer(held)["transactions"].([]any); len(tx) == 1 {
			o.heldUUID = tx[0].(map[string]any)["uuid"].(string)
		} else {
			t.Fatalf("%s: payment to validate: %s", k.label, raw)
		}
		// An orderId every shop and mode uses (Order/Get is checked below).
		shared, raw := v4Key(t, s, k.shopID, k.password, "", "Charge/CreatePayment", map[string]any{"amount": 1100, "currency": "EUR",
			"orderId": "shared-order", "formAction": "SILENT", "paymentMethodToken": o.token})
		if o.sharedUUID, _ = answer(shared)["transactions"].([]any)[0].(map[string]any)["uuid"].(string); o.sharedUUID == "" {
			t.Fatalf("%s: payment of the shared orderId: %s", k.label, raw)
		}
		sub, raw := v4Key(t, s, k.shopID, k.password, "", "Charge/CreateSubscription", map[string]any{"amount": 500, "currency": "EUR",
			"paymentMethodToken": o.token, "effectDate": effect, "rrule": "RRULE:FREQ=MONTHLY;COUNT=3", "orderId": tag + "-sub"})
		if o.subscriptionID, _ = answer(sub)["subscriptionId"].(string); o.subscriptionID == "" {
			t.Fatalf("%s: subscription: %s", k.label, raw)
		}
		form, raw := v4Key(t, s, k.shopID, k.password, "", "Charge/CreatePayment", map[string]any{"amount": 700, "currency": "EUR",
			"orderId": tag + "-form"})
		if o.formToken, _ = answer(form)["formToken"].(string); o.formToken == "" {
			t.Fatalf("%s: formToken: %s", k.label, raw)
		}
		wform, raw := v4Key(t, s, k.shopID, k.password, "", "Charge/CreatePayment", map[string]any{"amount": 300, "currency": "EUR",
			"orderId": tag + "-wallet", "formAction": "CUSTOMER_WALLET", "customer": map[string]any{"reference": "shared-customer"}})
		if o.walletForm, _ = answer(wform)["formToken"].(string); o.walletForm == "" {
			t.Fatalf("%s: wallet formToken: %s", k.label, raw)
		}
		return o
	}
	objects := map[string]modeObjects{}
	for _, x := range []struct {
		k   keySet
		pan string
	}{{aTest, "4970100000000055"}, {aProd, "4970109900000107"}, {bTest, "5100010000002045"}, {bProd, "4970110000000013"}} {
		objects[x.k.label] = makeObjects(x.k, x.pan)
	}
	// The capture job settles the SILENT payments in the background: wait
	// for it, so that the end compares states that no longer move.
	for _, o := range objects {
		pollFor(t, 30*time.Second, o.keys.label+"'s SILENT payment captured", func() string {
			env, _ := v4Key(t, s, o.keys.shopID, o.keys.password, "", "Transaction/Get", map[string]any{"uuid": o.paidUUID})
			if d, _ := answer(env)["detailedStatus"].(string); d != "CAPTURED" {
				return "detailedStatus " + d
			}
			return ""
		})
	}

	// Who attacks whose objects: the other shop's keys of both modes, and
	// the same shop's keys of the other mode.
	type attack struct {
		caller keySet
		target modeObjects
	}
	var attacks []attack
	for _, target := range []string{"shop B TEST", "shop B PRODUCTION"} {
		o := objects[target]
		other := bProd
		if o.keys.mode == shop.ModeProduction {
			other = bTest
		}
		for _, caller := range []keySet{aTest, aProd, other} {
			attacks = append(attacks, attack{caller, o})
		}
	}
	// Shop A's objects attacked by shop B's keys, too: isolation must not
	// depend on which shop was made first.
	for _, target := range []string{"shop A TEST", "shop A PRODUCTION"} {
		attacks = append(attacks, attack{bTest, objects[target]}, attack{bProd, objects[target]})
	}

	// Each V4 service on the target's object, and the not-found answer it
	// must give: the same as for an identifier that exists nowhere.
	ipnURL := merchant.URL + "/ipn"
	v4Calls := []struct {
		name string
		body func(caller keySet, o modeObjects) map[string]any
		code string // errorCode; "" for the services checked by check
		// check, when set, checks a SUCCESS answer instead.
		check func(o modeObjects, ans map[string]any) string
	}{
		{name: "Order/Get", body: func(_ keySet, o modeObjects) map[string]any { return map[string]any{"orderId": o.paidOrder} }, code: "PSP_010"},
		{name: "Order/Get", body: func(_ keySet, o modeObjects) map[string]any { return map[string]any{"orderId": o.heldOrder} }, code: "PSP_010"},
		{name: "Transaction/Get", body: func(_ keySet, o modeObjects) map[string]any { return map[string]any{"uuid": o.paidUUID} }, code: "PSP_010"},
		{name: "Transaction/Capture", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"uuids": []string{o.heldUUID}}
		}, code: "PSP_010"},
		{name: "Transaction/Validate", body: func(_ keySet, o modeObjects) map[string]any { return map[string]any{"uuid": o.heldUUID} }, code: "PSP_010"},
		{name: "Transaction/Update", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"uuid": o.heldUUID, "cardUpdate": map[string]any{"amount": 100, "currency": "EUR"}}
		}, code: "PSP_010"},
		{name: "Transaction/CancelOrRefund", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"uuid": o.paidUUID, "amount": 1000, "currency": "EUR"}
		}, code: "PSP_010"},
		{name: "Transaction/CancelOrRefund", body: func(_ keySet, o modeObjects) map[string]any { return map[string]any{"uuid": o.heldUUID} }, code: "PSP_010"},
		{name: "Charge/CreateTokenFromTransaction", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"uuid": o.paidUUID}
		}, code: "PSP_010"},
		{name: "Token/Get", body: func(_ keySet, o modeObjects) map[string]any { return map[string]any{"paymentMethodToken": o.token} }, code: "PSP_030"},
		{name: "Token/Cancel", body: func(_ keySet, o modeObjects) map[string]any { return map[string]any{"paymentMethodToken": o.token} }, code: "PSP_030"},
		{name: "Token/Reactivate", body: func(_ keySet, o modeObjects) map[string]any { return map[string]any{"paymentMethodToken": o.token} }, code: "PSP_030"},
		{name: "Token/Update", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"paymentMethodToken": o.token, "currency": "EUR", "ipnTargetUrl": ipnURL}
		}, code: "PSP_030"},
		{name: "Token/UpdateCustomerDetails", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"paymentMethodToken": o.token, "customer": map[string]any{"email": "thief@example.com"}}
		}, code: "PSP_030"},
		{name: "Charge/CreatePayment", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"amount": 100, "currency": "EUR", "formAction": "SILENT", "paymentMethodToken": o.token, "ipnTargetUrl": ipnURL}
		}, code: "PSP_030"},
		{name: "Charge/CreatePayment", body: func(_ keySet, o modeObjects) map[string]any { // a one-click form with the target's card
			return map[string]any{"amount": 100, "currency": "EUR", "paymentMethodToken": o.token, "ipnTargetUrl": ipnURL}
		}, code: "PSP_030"},
		{name: "Charge/CreateSubscription", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"amount": 100, "currency": "EUR", "paymentMethodToken": o.token, "effectDate": effect,
				"rrule": "RRULE:FREQ=MONTHLY;COUNT=2", "ipnTargetUrl": ipnURL}
		}, code: "PSP_030"},
		{name: "Subscription/Get", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"subscriptionId": o.subscriptionID, "paymentMethodToken": o.token}
		}, code: "PSP_032"},
		{name: "Subscription/Update", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"subscriptionId": o.subscriptionID, "paymentMethodToken": o.token, "amount": 1, "currency": "EUR",
				"rrule": "RRULE:FREQ=MONTHLY;COUNT=3", "effectDate": effect}
		}, code: "PSP_032"},
		{name: "Subscription/Cancel", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"subscriptionId": o.subscriptionID, "paymentMethodToken": o.token}
		}, check: func(_ modeObjects, ans map[string]any) string {
			// V4 answers an unknown subscription with response code 32.
			if ans["responseCode"] != float64(32) {
				return "want responseCode 32"
			}
			return ""
		}},
		{name: "CustomerWallet/Get", body: func(_ keySet, o modeObjects) map[string]any {
			return map[string]any{"customerReference": "shared-customer", "tokenStatus": "ALL"}
		}, check: nil}, // checked per caller below: its own card only
		{name: "CustomerWallet/Update", body: func(caller keySet, _ modeObjects) map[string]any {
			return map[string]any{"customerReference": "shared-customer", "customer": map[string]any{"email": walletEmail(caller)}}
		}, check: nil},
	}
	secretsOf := func(o modeObjects) []string {
		return []string{o.paidOrder, o.heldOrder, o.paidUUID, o.heldUUID, o.subscriptionID, o.token, "Holder " + o.last4,
			"XXXXXX" + o.last4, "XXXXXXXXXXXX" + o.last4}
	}
	ownCardOf := func(k keySet) modeObjects { return objects[k.label] }
	for _, at := range attacks {
		for _, c := range v4Calls {
			body := c.body(at.caller, at.target)
			env, raw := v4Key(t, s, at.caller.shopID, at.caller.password, "", c.name, body)
			ans := answer(env)
			what := c.name + " with " + at.caller.label + "'s keys on " + at.target.keys.label + "'s object"
			switch {
			case c.code != "":
				if env["status"] != "ERROR" || ans["errorCode"] != c.code {
					t.Errorf("%s %v: want %s, got %s", what, body, c.code, raw)
				}
			case c.check != nil:
				if env["status"] != "SUCCESS" {
					t.Errorf("%s: %s", what, raw)
				} else if msg := c.check(at.target, ans); msg != "" {
					t.Errorf("%s: %s: %s", what, msg, raw)
				}
			default:
				// The wallet services: the caller's own wallet of that
				// reference, with its own card of its own mode only.
				own := ownCardOf(at.caller)
				toks, _ := ans["tokens"].([]any)
				if env["status"] != "SUCCESS" || len(toks) != 1 || toks[0].(map[string]any)["paymentMethodToken"] != own.token {
					t.Errorf("%s: want %s's own wallet (token %s only), got %s", what, at.caller.label, own.token, raw)
				}
			}
			sent, _ := json.Marshal(body)
			for _, secret := range secretsOf(at.target) {
				if strings.Contains(raw, secret) && !strings.Contains(string(sent), secret) {
					t.Errorf("%s tells of its %q: %s", what, secret, raw)
				}
			}
		}
	}
	// An orderId that both shops and both modes use lists the caller's own
	// transaction only.
	for _, o := range objects {
		env, raw := v4Key(t, s, o.keys.shopID, o.keys.password, "", "Order/Get", map[string]any{"orderId": "shared-order"})
		txs, _ := answer(env)["transactions"].([]any)
		if len(txs) != 1 || txs[0].(map[string]any)["uuid"] != o.sharedUUID {
			t.Errorf("Order/Get of the shared orderId with %s's keys: want its own transaction %s only, got %s", o.keys.label, o.sharedUUID, raw)
		}
	}
	// Services OpenPSP does not serve (Transaction/Refund and /Duplicate:
	// refunds go through CancelOrRefund) are unknown whoever calls.
	for _, name := range []string{"Transaction/Refund", "Transaction/Duplicate"} {
		o := objects["shop B TEST"]
		env, raw := v4Key(t, s, aTest.shopID, aTest.password, "", name, map[string]any{"uuid": o.paidUUID, "amount": 100, "currency": "EUR"})
		if answer(env)["errorCode"] != "INT_901" || strings.Contains(raw, o.paidOrder) {
			t.Errorf("%s with shop A's keys on shop B's transaction: %s", name, raw)
		}
	}

	// Idempotency-Keys are the caller's own: the same key and body from
	// another shop or mode runs its own call (a body of its own is no
	// mismatch) and never replays the first caller's answer.
	shared := map[string]any{"amount": 900, "currency": "EUR", "orderId": "idem-order"}
	first, raw := v4Key(t, s, bTest.shopID, bTest.password, "shared-key", "Charge/CreatePayment", shared)
	bForm, _ := answer(first)["formToken"].(string)
	if bForm == "" {
		t.Fatalf("shop B's call with an Idempotency-Key: %s", raw)
	}
	for _, k := range []keySet{aTest, aProd, bProd} {
		env, raw := v4Key(t, s, k.shopID, k.password, "shared-key", "Charge/CreatePayment", shared)
		if ft, _ := answer(env)["formToken"].(string); ft == "" || ft == bForm {
			t.Errorf("%s's call with shop B TEST's Idempotency-Key and body: want a formToken of its own (shop B's is %s), got %s",
				k.label, bForm, raw)
		}
	}
	// A body of the caller's own under a key only shop B TEST used is no
	// mismatch: the key spaces are apart.
	if env, raw := v4Key(t, s, bTest.shopID, bTest.password, "b-only-key", "Charge/CreatePayment", shared); answer(env)["formToken"] == nil {
		t.Fatalf("shop B TEST: %s", raw)
	}
	for _, k := range []keySet{aTest, aProd, bProd} {
		env, raw := v4Key(t, s, k.shopID, k.password, "b-only-key", "Charge/CreatePayment", map[string]any{"amount": 902, "currency": "EUR"})
		if answer(env)["formToken"] == nil {
			t.Errorf("%s with a key only shop B TEST used, another body: want a formToken, got %s", k.label, raw)
		}
	}
	if env, _ := v4Key(t, s, bTest.shopID, bTest.password, "shared-key", "Charge/CreatePayment", shared); answer(env)["formToken"] != bForm {
		t.Errorf("shop B TEST's own retry with its Idempotency-Key no longer replays its answer: %v", env)
	}

	// The embedded form: a formToken with the public key of another shop,
	// or of the other mode of its shop, shows no form.
	for _, x := range []struct {
		form modeObjects
		key  keySet
	}{{objects["shop B TEST"], aTest}, {objects["shop B TEST"], bProd}, {objects["shop B PRODUCTION"], bTest}, {objects["shop B PRODUCTION"], aProd}} {
		q := url.Values{"kr-public-key": {x.key.publicKey}, "origin": {"https://merchant.example"}}
		code, page := getPage(t, s.URL+"/embedded/"+x.form.formToken+"?"+q.Encode())
		if code == http.StatusOK || strings.Contains(page, `id="kr-pan"`) {
			t.Errorf("the embedded form of %s's formToken with %s's public key: HTTP %d", x.form.keys.label, x.key.label, code)
		}
	}
	// The hosted wallet form of a reference two shops and two modes share
	// shows, pays with and deletes the form's own card only.
	for _, own := range objects {
		code, page := getPage(t, s.URL+"/pay/"+own.walletForm)
		if code != http.StatusOK || !strings.Contains(page, own.last4) {
			t.Errorf("%s's wallet form does not show its own card (HTTP %d)", own.keys.label, code)
		}
		for _, other := range objects {
			if other.keys == own.keys {
				continue
			}
			if strings.Contains(page, other.last4) || strings.Contains(page, other.tokenID) {
				t.Errorf("%s's wallet form shows %s's card", own.keys.label, other.keys.label)
			}
			code, body := postPage(t, s, "/pay/"+own.walletForm, url.Values{"saved": {other.tokenID}, "saved_csc": {"123"}})
			if code == http.StatusOK || !strings.Contains(body, "CLIENT_311") {
				t.Errorf("%s's wallet form paid with %s's card: HTTP %d %s", own.keys.label, other.keys.label, code, body)
			}
			for _, p := range []string{"/wallet/delete", "/wallet/delete/page"} {
				code, body := postPage(t, s, "/pay/"+own.walletForm+p, url.Values{"card": {other.tokenID}, "confirm": {"yes"}})
				if code != http.StatusNotFound {
					t.Errorf("%s's wallet form%s deleting %s's card: HTTP %d %s", own.keys.label, p, other.keys.label, code, body)
				}
			}
		}
	}

	// Ogone: shop B's PSPID (TEST) has an alias and an order; shop A's
	// PSPID names them, and shop B's own PSPID names its PRODUCTION token.
	aAcct := ogoneAccount{PSPID: a.PSPID, User: a.APIUser, Password: a.APIPassword, SHAIn: a.SHAIn, Algo: a.SHAAlgo}
	bAcct := ogoneAccount{PSPID: b.PSPID, User: b.APIUser, Password: b.APIPassword, SHAIn: b.SHAIn, Algo: b.SHAAlgo}
	dlOrder := directLink(t, s, "orderdirect", bAcct, map[string]string{"ORDERID": "b-dl", "AMOUNT": "1500", "CURRENCY": "EUR",
		"CARDNO": "4970109900000115", "ED": "12" + futureExpiry()[2:], "CVC": "123", "ALIAS": "B-ALIAS-1", "OPERATION": "SAL", "ECI": "7"})
	bPAYID := dlOrder["PAYID"]
	if dlOrder["STATUS"] != "9" || bPAYID == "" || bPAYID == "0" {
		t.Fatalf("shop B's DirectLink order: %s", dlOrder["_raw"])
	}
	dlCalls := []struct {
		acct   ogoneAccount
		page   string
		fields map[string]string
		ncerr  string
	}{
		{aAcct, "querydirect", map[string]string{"PAYID": bPAYID}, "50001130"},
		{aAcct, "querydirect", map[string]string{"ORDERID": "b-dl"}, "50001130"},
		{aAcct, "maintenancedirect", map[string]string{"PAYID": bPAYID, "OPERATION": "RFD", "AMOUNT": "1500"}, "50001130"},
		{aAcct, "maintenancedirect", map[string]string{"ORDERID": "b-dl", "OPERATION": "RFS", "AMOUNT": "1500"}, "50001130"},
		{aAcct, "maintenancedirect", map[string]string{"PAYID": bPAYID, "OPERATION": "DES"}, "50001130"},
		{aAcct, "orderdirect", map[string]string{"ORDERID": "a-dl-1", "AMOUNT": "100", "CURRENCY": "EUR", "ALIAS": "B-ALIAS-1",
			"OPERATION": "SAL", "ECI": "9"}, ""},
		{aAcct, "orderdirect", map[string]string{"ORDERID": "a-dl-2", "AMOUNT": "100", "CURRENCY": "EUR",
			"ALIAS": objects["shop B TEST"].token, "OPERATION": "SAL", "ECI": "9"}, ""},
		// Shop B's own TEST PSPID on its PRODUCTION V4 token: not charged.
		{bAcct, "orderdirect", map[string]string{"ORDERID": "b-dl-prod", "AMOUNT": "100", "CURRENCY": "EUR",
			"ALIAS": objects["shop B PRODUCTION"].token, "OPERATION": "SAL", "ECI": "9"}, ""},
	}
	unknownAlias := directLink(t, s, "orderdirect", aAcct, map[string]string{"ORDERID": "a-dl-0", "AMOUNT": "100", "CURRENCY": "EUR",
		"ALIAS": "NO-SUCH-ALIAS", "OPERATION": "SAL", "ECI": "9"})["NCERROR"]
	if unknownAlias == "" || unknownAlias == "0" {
		t.Fatalf("DirectLink with an alias that exists nowhere: NCERROR %q", unknownAlias)
	}
	for _, c := range dlCalls {
		want := c.ncerr
		if want == "" {
			want = unknownAlias
		}
		got := directLink(t, s, c.page, c.acct, c.fields)
		if got["NCERROR"] != want || got["STATUS"] == "9" || got["STATUS"] == "5" {
			t.Errorf("DirectLink %s with %s on %v: want NCERROR %s, got %s", c.page, c.acct.PSPID, c.fields, want, got["_raw"])
		}
		for _, secret := range []string{"0115", "2045", "0013", `"b-dl"`} {
			if strings.Contains(got["_raw"], secret) && c.fields["ORDERID"] != "b-dl" {
				t.Errorf("DirectLink %s with %s tells %q: %s", c.page, c.acct.PSPID, secret, got["_raw"])
			}
		}
	}
	// Shop B's own TEST PSPID naming its PRODUCTION V4 token's value with a
	// card stores a TEST alias of that name (a token value is unique per
	// shop and mode, as Ingenico's test and production aliases are
	// separate): it pays with the card given, and the PRODUCTION token
	// keeps its own card (checked at the end).
	if got := directLink(t, s, "orderdirect", bAcct, map[string]string{"ORDERID": "b-dl-prod-2", "AMOUNT": "100", "CURRENCY": "EUR",
		"CARDNO": "4970100000000055", "ED": "12" + futureExpiry()[2:], "CVC": "123",
		"ALIAS": objects["shop B PRODUCTION"].token, "OPERATION": "SAL", "ECI": "7"}); got["STATUS"] != "9" || got["CARDNO"] != "XXXXXXXXXXXX0055" {
		t.Errorf("DirectLink TEST order with a card and the value of shop B's PRODUCTION token: %s", got["_raw"])
	}
	// /ncol/prod/ does not know shop B's TEST PSPID.
	if got := directLinkEnv(t, s, "prod", "querydirect", bAcct, map[string]string{"PAYID": bPAYID}); got["NCERROR"] != "50001118" {
		t.Errorf("DirectLink /ncol/prod/ with shop B's TEST PSPID: %s", got["_raw"])
	}
	// The DirectLink alias is a TEST token of shop B: the other keys and
	// mode do not see it.
	for _, k := range []keySet{aTest, aProd, bProd} {
		env, raw := v4Key(t, s, k.shopID, k.password, "", "Token/Get", map[string]any{"paymentMethodToken": "B-ALIAS-1"})
		if answer(env)["errorCode"] != "PSP_030" {
			t.Errorf("Token/Get with %s's keys on shop B's DirectLink alias: %s", k.label, raw)
		}
	}
	// FlexCheckout with shop A's PSPID and shop B's alias id makes an alias
	// of shop A's own.
	base := ogone.Params{{Name: "PARAMETERS.ACCEPTURL", Value: "https://merchant.example/ok"},
		{Name: "PARAMETERS.EXCEPTIONURL", Value: "https://merchant.example/ko"}, {Name: "CARD.PAYMENTMETHOD", Value: "CreditCard"},
		{Name: "ALIAS.ORDERID", Value: "a-flex"}, {Name: "ALIAS.ALIASID", Value: "B-ALIAS-1"}}
	if code, page := openFlexCheckout(t, s, aAcct, base); code != http.StatusOK {
		t.Errorf("FlexCheckout with an alias id: %d %s", code, page)
	} else if loc := submitFlexCheckout(t, s, page, url.Values{"CARDNO": {"4970100000000055"}, "CN": {"A Buyer"}, "EXPM": {"12"},
		"EXPY": {"20" + futureExpiry()[2:]}, "CVC": {"123"}}); !strings.HasPrefix(loc, "https://merchant.example/ok") {
		t.Errorf("FlexCheckout with shop B's alias id under shop A went to %q", loc)
	}

	// FlexCheckout with shop B's TEST PSPID does not give its PRODUCTION
	// token another card: the alias id names the TEST alias of that value
	// (the order above made it), whose card it updates; the PRODUCTION
	// token keeps its own (checked at the end).
	prodBase := append(base[:3:3], ogone.Param{Name: "ALIAS.ORDERID", Value: "b-flex"},
		ogone.Param{Name: "ALIAS.ALIASID", Value: objects["shop B PRODUCTION"].token})
	if code, page := openFlexCheckout(t, s, bAcct, prodBase); code != http.StatusOK {
		t.Errorf("FlexCheckout with shop B's TEST PSPID and its TEST alias id: %d %s", code, page)
	} else if loc := submitFlexCheckout(t, s, page, url.Values{"CARDNO": {"5100010000002045"}, "CN": {"B Buyer"}, "EXPM": {"12"},
		"EXPY": {"20" + futureExpiry()[2:]}, "CVC": {"123"}}); !strings.HasPrefix(loc, "https://merchant.example/ok") || !strings.Contains(loc, "Alias.Status=2") {
		t.Errorf("FlexCheckout with shop B's TEST PSPID on its TEST alias: %s, want the alias updated", loc)
	}

	// The demo pages act as the demo shop: another shop's wallet and alias
	// are not theirs.
	if code, page := getPage(t, s.URL+"/demo/wallet?account=shared-customer"); code != http.StatusOK {
		t.Errorf("/demo/wallet: HTTP %d", code)
	} else {
		for _, o := range objects {
			// The layout names test cards: look for the masked number.
			if strings.Contains(page, "XXXXXX"+o.last4) || strings.Contains(page, o.token) {
				t.Errorf("/demo/wallet shows %s's card", o.keys.label)
			}
		}
	}
	if code, page := postPage(t, s, "/demo/flexcheckout/charge", url.Values{"alias": {"B-ALIAS-1"}}); strings.Contains(page, `STATUS="9"`) ||
		strings.Contains(page, "0115") {
		t.Errorf("/demo/flexcheckout/charge with shop B's alias: HTTP %d %s", code, page)
	}

	// Crossed credentials: a shop id with another shop's password, a PSPID
	// with another PSPID's API user and password.
	for _, x := range []struct{ user, password string }{{aTest.shopID, bTest.password}, {aTest.shopID, bProd.password},
		{bTest.shopID, aTest.password}, {bTest.shopID, aProd.password}} {
		env, raw := v4Key(t, s, x.user, x.password, "", "Token/Get", map[string]any{"paymentMethodToken": objects["shop B TEST"].token})
		if answer(env)["errorCode"] != "INT_905" {
			t.Errorf("V4 with shop id %s and another shop's password: want INT_905, got %s", x.user, raw)
		}
	}
	for _, x := range []struct {
		acct  ogoneAccount
		ncerr string
	}{
		{ogoneAccount{PSPID: a.PSPID, User: b.APIUser, Password: b.APIPassword, SHAIn: b.SHAIn, Algo: b.SHAAlgo}, "50001111"},
		{ogoneAccount{PSPID: a.PSPID, User: b.APIUser, Password: b.APIPassword, SHAIn: a.SHAIn, Algo: a.SHAAlgo}, "50001119"},
	} {
		got := directLink(t, s, "maintenancedirect", x.acct, map[string]string{"PAYID": bPAYID, "OPERATION": "RFD", "AMOUNT": "1500"})
		if got["NCERROR"] != x.ncerr {
			t.Errorf("DirectLink with shop A's PSPID and shop B's credentials: want NCERROR %s, got %s", x.ncerr, got["_raw"])
		}
	}

	// Nothing was paid nor saved for anyone, and every object is as it was.
	time.Sleep(200 * time.Millisecond) // the outbox runs every 50 ms
	if n := ipns.Load(); n != 0 {
		t.Errorf("%d IPN(s) sent to the attackers' URL, the last: %v", n, lastIPN.Load())
	}
	for _, o := range objects {
		k := o.keys
		tok, raw := v4Key(t, s, k.shopID, k.password, "", "Token/Get", map[string]any{"paymentMethodToken": o.token})
		// Its email is none, or the one its own keys gave its wallet.
		email, _ := answer(tok)["customer"].(map[string]any)["email"].(string)
		if got := answer(tok); got["status"] != "ACTIVE" || (email != "" && email != walletEmail(k)) {
			t.Errorf("%s's token changed: %s", k.label, raw)
		}
		if pan, _, _, err := s.Vault.Card(ctx, k.shopID, k.mode, o.token); err != nil || !strings.HasSuffix(pan.Reveal(), o.last4) {
			t.Errorf("%s's token lost its card: %v", k.label, err)
		}
		for uuid, want := range map[string]string{o.paidUUID: "CAPTURED", o.heldUUID: "AUTHORISED_TO_VALIDATE"} {
			env, raw := v4Key(t, s, k.shopID, k.password, "", "Transaction/Get", map[string]any{"uuid": uuid})
			if got := answer(env); got["detailedStatus"] != want || got["amount"] == float64(100) {
				t.Errorf("%s's transaction: want %s, got %s", k.label, want, raw)
			}
		}
		env, raw := v4Key(t, s, k.shopID, k.password, "", "Subscription/Get", map[string]any{"subscriptionId": o.subscriptionID,
			"paymentMethodToken": o.token})
		if got := answer(env); got["cancelDate"] != nil || got["amount"] != float64(500) {
			t.Errorf("%s's subscription changed: %s", k.label, raw)
		}
	}
	if got := directLink(t, s, "querydirect", bAcct, map[string]string{"PAYID": bPAYID}); got["STATUS"] != "9" {
		t.Errorf("shop B's DirectLink order changed: %s", got["_raw"])
	}
	if pan, _, _, err := s.Vault.Card(ctx, b.Shop.ID, "TEST", "B-ALIAS-1"); err != nil || pan.Reveal() != "4970109900000115" {
		t.Errorf("shop B's alias lost its card: %v", err)
	}
}

// walletEmail is the email a caller's CustomerWallet/Update gives its own
// wallet "shared-customer".
func walletEmail(k keySet) string {
	return "wallet-" + k.shopID + "-" + strings.ToLower(k.mode) + "@example.com"
}
