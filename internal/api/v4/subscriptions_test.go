package v4_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	v4 "github.com/openpsp/openpsp/internal/api/v4"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/subscription"
	"github.com/openpsp/openpsp/internal/vault"
)

// subEnv is the V4 API with the subscription web services over a real
// database, the payment service and the simulator.
type subEnv struct {
	t     *testing.T
	clk   *clock.Fake
	vault *vault.Vault
	sim   *simulator.Simulator
	svc   *subscription.Service
	srv   *httptest.Server
}

func newSubEnv(t *testing.T, db *store.DB) *subEnv {
	t.Helper()
	clk := clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
	sh := shop.Shop{ID: shopID, Name: "Demo", Currency: "EUR", Language: "en", NotificationURL: "https://merchant.example/ipn",
		Settings: shop.Settings{PaymentByToken: true}}
	if err := db.InsertShop(context.Background(), sh, nil, nil, clk.Now()); err != nil {
		t.Fatal(err)
	}
	keys, err := vault.LoadKeyring(filepath.Join(t.TempDir(), "keyring.json"), "", true)
	if err != nil {
		t.Fatal(err)
	}
	e := &subEnv{t: t, clk: clk, vault: vault.New(db, keys, clk), sim: simulator.New(simulator.Config{Clock: clk})}
	pay := payment.New(db, clk, e.sim, payment.CardVault(e.vault), payment.Config{AcquirerTimeout: time.Second})
	e.svc = subscription.New(db, clk, pay, e.vault, subscription.Config{})
	s := v4.New(v4.Options{Auth: testAuth{sh}, Clock: clk, Wrap: v4.NewIdempotency(db, clk, nil).Wrap})
	s.RegisterBase()
	s.RegisterSubscriptions(e.svc)
	mux := http.NewServeMux()
	mux.Handle("/api-payment/V4/{name...}", s)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *subEnv) token(pan string, mode string) string {
	e.t.Helper()
	p, _ := card.ParsePAN(pan)
	tok, err := e.vault.TokenizeNow(context.Background(), vault.TokenizeRequest{ShopID: shopID, Mode: mode, PAN: p,
		Expiry: card.Expiry{Month: 12, Year: 2035}})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.Value
}

// callAs posts with a key set's password and returns the envelope.
func (e *subEnv) callAs(pw, name string, body any) (string, map[string]any) {
	e.t.Helper()
	var b []byte
	if s, ok := body.(string); ok {
		b = []byte(s)
	} else {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api-payment/V4/"+name, bytes.NewReader(b))
	req.SetBasicAuth(shopID, pw)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var env struct {
		WebService string         `json:"webService"`
		Status     string         `json:"status"`
		Answer     map[string]any `json:"answer"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || res.StatusCode != http.StatusOK || env.WebService != name {
		e.t.Fatalf("%s: HTTP %d %s (%v)", name, res.StatusCode, raw, err)
	}
	return env.Status, env.Answer
}

func (e *subEnv) ok(name string, body any) map[string]any {
	e.t.Helper()
	status, a := e.callAs(password, name, body)
	if status != "SUCCESS" {
		e.t.Fatalf("%s %v: %v", name, body, a)
	}
	return a
}

func (e *subEnv) fail(name string, body any, code, field string) {
	e.t.Helper()
	status, a := e.callAs(password, name, body)
	if status != "ERROR" || a["errorCode"] != code || a["_type"] != "V4/WebService/WebServiceError" {
		e.t.Fatalf("%s %v: %s %v, want ERROR %s", name, body, status, a, code)
	}
	if d, _ := a["detailedErrorMessage"].(string); field != "" && !bytes.Contains([]byte(d), []byte(field)) {
		e.t.Fatalf("%s %v: detail %q does not name %s", name, body, d, field)
	}
}

func TestSubscriptionWebServices(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newSubEnv(t, db)
		tok := e.token("4970100000000055", shop.ModeTest)
		created := e.ok("Charge/CreateSubscription", map[string]any{
			"amount": 1000, "currency": "EUR", "effectDate": "2030-03-10T00:00:00+00:00", "paymentMethodToken": tok,
			"rrule": "RRULE:FREQ=MONTHLY;COUNT=12", "orderId": "sub-1", "description": "Gold", "comment": "first",
			"initialAmount": 500, "initialAmountNumber": 1, "metadata": map[string]string{"plan": "gold"},
			"transactionOptions": map[string]any{"cardOptions": map[string]any{"captureDelay": 2, "paymentSource": "EC"}},
		})
		id, _ := created["subscriptionId"].(string)
		if created["_type"] != "V4/Charge/SubscriptionCreated" || len(id) != 32 || created["paymentMethodToken"] != tok ||
			created["orderId"] != "sub-1" || created["shopId"] != shopID {
			t.Fatalf("created %v", created)
		}
		key := map[string]any{"subscriptionId": id, "paymentMethodToken": tok}
		got := e.ok("Subscription/Get", key)
		want := map[string]any{"_type": "V4/Subscription", "subscriptionId": id, "shopId": shopID, "paymentMethodToken": tok,
			"orderId": "sub-1", "effectDate": "2030-03-10T00:00:00+00:00", "cancelDate": nil, "initialAmount": 500.0,
			"initialAmountNumber": 1.0, "amount": 1000.0, "currency": "EUR", "pastPaymentsNumber": 0.0,
			"totalPaymentsNumber": 12.0, "rrule": "RRULE:FREQ=MONTHLY;COUNT=12", "description": "Gold"}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("Subscription/Get %s = %v, want %v (%v)", k, got[k], v, got)
			}
		}
		if md, _ := got["metadata"].(map[string]any); md["plan"] != "gold" {
			t.Fatalf("metadata %v", got["metadata"])
		}
		if n, err := e.svc.ChargeDue(context.Background(), 10); err != nil || n != 1 {
			t.Fatalf("ChargeDue = %d, %v", n, err)
		}
		if got := e.ok("Subscription/Get", key); got["pastPaymentsNumber"] != 1.0 {
			t.Fatalf("after the first instalment %v", got)
		}
		// The instalment's payment carries the card options.
		is, _ := e.svc.Instalments(context.Background(), shopID, id)
		if len(is) != 1 || is[0].Amount != 500 || is[0].Status != store.InstalmentPaid {
			t.Fatalf("instalments %+v", is)
		}

		up := map[string]any{"subscriptionId": id, "paymentMethodToken": tok, "amount": 1500, "currency": "EUR",
			"effectDate": "2030-03-10T00:00:00+00:00", "rrule": "RRULE:FREQ=MONTHLY;COUNT=12", "description": "Platinum"}
		if a := e.ok("Subscription/Update", up); a["responseCode"] != 0.0 || a["_type"] != "V4/Common/ResponseCodeAnswer" {
			t.Fatalf("Subscription/Update %v", a)
		}
		if got := e.ok("Subscription/Get", key); got["amount"] != 1500.0 || got["description"] != "Platinum" {
			t.Fatalf("after update %v", got)
		}

		// Errors of each service.
		other := e.token("4970100000000055", shop.ModeTest)
		e.fail("Subscription/Get", map[string]any{"paymentMethodToken": tok}, "INT_902", "subscriptionId")
		e.fail("Subscription/Get", map[string]any{"subscriptionId": id}, "INT_902", "paymentMethodToken")
		e.fail("Subscription/Get", map[string]any{"subscriptionId": "f00", "paymentMethodToken": tok}, "PSP_032", "subscriptionId")
		e.fail("Subscription/Get", map[string]any{"subscriptionId": id, "paymentMethodToken": other}, "PSP_030", "paymentMethodToken")
		e.fail("Subscription/Get", `[1]`, "INT_902", "")
		if status, a := e.callAs(prodPassword, "Subscription/Get", key); status != "ERROR" || a["errorCode"] != "PSP_032" {
			t.Fatalf("a PRODUCTION key reads a TEST subscription: %s %v", status, a)
		}
		e.fail("Subscription/Update", map[string]any{"subscriptionId": id, "paymentMethodToken": tok, "amount": 1500,
			"currency": "EUR", "effectDate": "2030-03-10"}, "INT_902", "rrule")
		e.fail("Subscription/Update", map[string]any{"subscriptionId": id, "paymentMethodToken": tok, "currency": "EUR",
			"effectDate": "2030-03-10", "rrule": "FREQ=DAILY"}, "INT_902", "amount")
		e.fail("Subscription/Update", map[string]any{"subscriptionId": "f00", "paymentMethodToken": tok, "amount": 1,
			"currency": "EUR", "effectDate": "2030-03-10", "rrule": "FREQ=DAILY"}, "PSP_032", "subscriptionId")
		e.fail("Subscription/Update", map[string]any{"subscriptionId": id, "paymentMethodToken": tok, "amount": 1,
			"currency": "EUR", "effectDate": "2030-03-20", "rrule": "FREQ=SOMETIMES"}, "PSP_033", "FREQ")
		e.fail("Subscription/Cancel", map[string]any{"paymentMethodToken": tok}, "INT_902", "subscriptionId")
		e.fail("Subscription/Cancel", map[string]any{"subscriptionId": id, "paymentMethodToken": tok, "terminationDate": "soon"},
			"INT_902", "terminationDate")
		for _, c := range []struct {
			body map[string]any
			code float64
		}{
			{map[string]any{"subscriptionId": "f00", "paymentMethodToken": tok}, 32},
			{map[string]any{"subscriptionId": id, "paymentMethodToken": other}, 30},
			{key, 0},
		} {
			if a := e.ok("Subscription/Cancel", c.body); a["responseCode"] != c.code || a["_type"] != "V4/Common/ResponseCodeAnswer" {
				t.Fatalf("Subscription/Cancel %v: %v", c.body, a)
			}
		}
		if got := e.ok("Subscription/Get", key); got["cancelDate"] != "2030-03-10T09:00:00+00:00" {
			t.Fatalf("after cancel %v", got)
		}
		e.fail("Subscription/Cancel", key, "PSP_033", "cancelled")
		e.fail("Subscription/Update", up, "PSP_033", "cancelled")

		// A termination date.
		later := e.ok("Charge/CreateSubscription", map[string]any{"amount": 100, "currency": "EUR",
			"effectDate": "2030-03-11", "paymentMethodToken": tok, "rrule": "FREQ=DAILY"})
		lk := map[string]any{"subscriptionId": later["subscriptionId"], "paymentMethodToken": tok, "terminationDate": "2030-03-20T00:00:00Z"}
		if a := e.ok("Subscription/Cancel", lk); a["responseCode"] != 0.0 {
			t.Fatalf("cancel with termination date %v", a)
		}
		if got := e.ok("Subscription/Get", lk); got["cancelDate"] != "2030-03-20T00:00:00+00:00" {
			t.Fatalf("termination date %v", got)
		}
	})
}

func TestCreateSubscriptionErrors(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newSubEnv(t, db)
		tok := e.token("4970100000000055", shop.ModeTest)
		cancelled := e.token("4970100000000055", shop.ModeTest)
		if _, err := e.vault.Cancel(context.Background(), shopID, "TEST", cancelled); err != nil {
			t.Fatal(err)
		}
		p, _ := card.ParsePAN("4970100000000055")
		temp, err := e.vault.TokenizeNow(context.Background(), vault.TokenizeRequest{ShopID: shopID, Mode: shop.ModeTest, PAN: p,
			Expiry: card.Expiry{Month: 12, Year: 2035}, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(2 * time.Minute)
		body := func(change map[string]any) map[string]any {
			b := map[string]any{"amount": 990, "currency": "EUR", "effectDate": "2030-03-10", "paymentMethodToken": tok,
				"rrule": "RRULE:FREQ=MONTHLY"}
			for k, v := range change {
				if v == nil {
					delete(b, k)
				} else {
					b[k] = v
				}
			}
			return b
		}
		for _, c := range []struct {
			change      map[string]any
			code, field string
		}{
			{map[string]any{"amount": nil}, "INT_902", "amount"},
			{map[string]any{"amount": 12.5}, "PSP_020", "amount"},
			{map[string]any{"amount": 0}, "PSP_020", "amount"},
			{map[string]any{"currency": "XXQ"}, "PSP_021", "currency"},
			{map[string]any{"currency": nil}, "INT_902", "currency"},
			{map[string]any{"effectDate": nil}, "INT_902", "effectDate"},
			{map[string]any{"effectDate": "10/03/2030"}, "INT_902", "effectDate"},
			{map[string]any{"effectDate": "2030-03-01"}, "INT_902", "effectDate"},
			{map[string]any{"effectDate": "2045-01-01"}, "PSP_013", "effectDate"},
			{map[string]any{"rrule": nil}, "INT_902", "rrule"},
			{map[string]any{"rrule": "RRULE:FREQ=MONTHLY;BYMONTHDAY=0"}, "PSP_033", "BYMONTHDAY"},
			{map[string]any{"rrule": "RRULE:FREQ=MONTHLY;COUNT=2;UNTIL=20301231"}, "PSP_033", "COUNT and UNTIL"},
			{map[string]any{"paymentMethodToken": nil}, "INT_902", "paymentMethodToken"},
			{map[string]any{"paymentMethodToken": "0123456789abcdef0123456789abcdef"}, "PSP_030", "paymentMethodToken"},
			{map[string]any{"paymentMethodToken": e.token("4970100000000055", shop.ModeProduction)}, "PSP_030", "paymentMethodToken"},
			{map[string]any{"paymentMethodToken": cancelled}, "PSP_031", "cancelled"},
			{map[string]any{"paymentMethodToken": temp.Value}, "PSP_036", ""},
			{map[string]any{"initialAmount": "x"}, "INT_902", "JSON"},
			{map[string]any{"initialAmountNumber": 2}, "INT_902", "initialAmount"},
			{map[string]any{"initialAmount": 100, "initialAmountNumber": 1.5}, "INT_902", "initialAmountNumber"},
			// A number is taken as its text (Lyra's own plugins send
			// some, TestPHPIntegersWhereStringsAreDocumented); an object
			// is not a metadata value.
			{map[string]any{"metadata": map[string]any{"n": map[string]any{"x": 1}}}, "INT_902", "metadata"},
			{map[string]any{"ipnTargetUrl": "not a url"}, "INT_902", "ipnTargetUrl"},
			{map[string]any{"transactionOptions": map[string]any{"cardOptions": map[string]any{"captureDelay": 1.5}}}, "INT_902", "captureDelay"},
			{map[string]any{"transactionOptions": map[string]any{"cardOptions": map[string]any{"paymentSource": "TV"}}}, "INT_902", "paymentSource"},
		} {
			e.fail("Charge/CreateSubscription", body(c.change), c.code, c.field)
		}
		e.fail("Charge/CreateSubscription", "not json", "INT_902", "JSON")
		var n int
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM subscriptions`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d subscriptions stored by refused calls", n)
		}
		e.ok("Charge/CreateSubscription", body(nil))

		// An Idempotency-Key makes a retried creation answer the first
		// subscription instead of creating a second one.
		first := post(t, e.srv, "Charge/CreateSubscription", body(nil), "sub-key-1")
		again := post(t, e.srv, "Charge/CreateSubscription", body(nil), "sub-key-1")
		if first.Status != "SUCCESS" || string(first.Answer) != string(again.Answer) {
			t.Fatalf("replay %s / %s", first.Answer, again.Answer)
		}
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM subscriptions`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d subscriptions after a replayed creation", n)
		}
	})
}

// An effectDate with a UTC offset is the date the merchant wrote: midnight
// in Paris on April 1 is April 1 (not March 31, 22:00 UTC, which made a
// monthly subscription charge on the 31st and skip the short months), and
// 21:00 in Lima on March 10 is March 10, today there, although UTC is on
// March 11 already.
func TestSubscriptionEffectDateOffset(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newSubEnv(t, db)
		tok := e.token("4970100000000055", shop.ModeTest)
		paris := e.ok("Charge/CreateSubscription", map[string]any{"amount": 1000, "currency": "EUR",
			"effectDate": "2030-04-01T00:00:00+02:00", "paymentMethodToken": tok, "rrule": "FREQ=MONTHLY;COUNT=3"})
		id, _ := paris["subscriptionId"].(string)
		// Same rule and effectDate, as given at creation or as Get shows
		// it: the schedule goes on unchanged.
		for _, effect := range []string{"2030-04-01T00:00:00+02:00", "2030-03-31T22:00:00+00:00"} {
			e.ok("Subscription/Update", map[string]any{"subscriptionId": id, "paymentMethodToken": tok, "amount": 1200,
				"currency": "EUR", "effectDate": effect, "rrule": "FREQ=MONTHLY;COUNT=3"})
		}
		e.clk.Set(time.Date(2030, 3, 11, 2, 0, 0, 0, time.UTC))
		lima := e.ok("Charge/CreateSubscription", map[string]any{"amount": 500, "currency": "PEN",
			"effectDate": "2030-03-10T21:00:00-05:00", "paymentMethodToken": tok, "rrule": "FREQ=MONTHLY;COUNT=2"})
		e.clk.Set(time.Date(2030, 7, 1, 9, 0, 0, 0, time.UTC))
		for _, c := range []struct{ id, want string }{
			{id, "2030-04-01 2030-05-01 2030-06-01"},
			{lima["subscriptionId"].(string), "2030-03-10 2030-04-10"},
		} {
			if _, err := e.svc.ChargeDue(context.Background(), 10); err != nil {
				t.Fatal(err)
			}
			is, _ := e.svc.Instalments(context.Background(), shopID, c.id)
			var got []string
			for _, x := range is {
				got = append(got, x.DueAt.Format("2006-01-02"))
			}
			if s := strings.Join(got, " "); s != c.want {
				t.Fatalf("due dates %s, want %s", s, c.want)
			}
		}
	})
}

// Subscription/Get shows effectDate as the date the merchant wrote (at
// midnight, in UTC as every V4 date), not the UTC instant of its midnight
// elsewhere: "2030-04-01T00:00:00+02:00" is April 1, not March 31 at 22:00.
// Sending that value back to Subscription/Update keeps the schedule.
func TestSubscriptionGetShowsTheWrittenEffectDate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newSubEnv(t, db)
		tok := e.token("4970100000000055", shop.ModeTest)
		for _, c := range []struct{ effect, want string }{
			{"2030-04-01T00:00:00+02:00", "2030-04-01T00:00:00+00:00"},
			{"2030-03-10T21:00:00-05:00", "2030-03-10T00:00:00+00:00"},
			{"2030-03-12", "2030-03-12T00:00:00+00:00"},
		} {
			created := e.ok("Charge/CreateSubscription", map[string]any{"amount": 1000, "currency": "EUR",
				"effectDate": c.effect, "paymentMethodToken": tok, "rrule": "FREQ=MONTHLY;COUNT=3"})
			id, _ := created["subscriptionId"].(string)
			got := e.ok("Subscription/Get", map[string]any{"subscriptionId": id, "paymentMethodToken": tok})
			if got["effectDate"] != c.want {
				t.Errorf("effectDate %s: Get shows %v, want %s", c.effect, got["effectDate"], c.want)
			}
			e.ok("Subscription/Update", map[string]any{"subscriptionId": id, "paymentMethodToken": tok, "amount": 1200,
				"currency": "EUR", "effectDate": got["effectDate"], "rrule": "FREQ=MONTHLY;COUNT=3"})
			if again := e.ok("Subscription/Get", map[string]any{"subscriptionId": id, "paymentMethodToken": tok}); again["effectDate"] != c.want {
				t.Errorf("effectDate %s after an update with the same date: %v", c.effect, again["effectDate"])
			}
		}
	})
}
