package v4_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	v4 "github.com/openpsp/openpsp/internal/api/v4"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

const (
	shopID   = "69876357"
	password = "testpassword_DEMOPRIVATEKEY23G4475zXZQ2UA5x7M"
)

type testAuth struct{ sh shop.Shop }

const prodPassword = "prodpassword_OTHERKEY"

func (a testAuth) Authenticate(_ context.Context, id, pw string) (shop.Shop, shop.Credentials, error) {
	switch {
	case id == a.sh.ID && pw == password:
		return a.sh, shop.Credentials{ShopID: id, Mode: shop.ModeTest, Password: pw}, nil
	case id == a.sh.ID && pw == prodPassword:
		return a.sh, shop.Credentials{ShopID: id, Mode: shop.ModeProduction, Password: pw}, nil
	}
	return shop.Shop{}, shop.Credentials{}, shop.ErrNotFound
}

// apiEnv is the V4 API of one openpsp copy over a real database; copies()
// adds more copies on the same database.
type apiEnv struct {
	t     *testing.T
	db    *store.DB
	clk   *clock.Fake
	sim   *simulator.Simulator
	vault *vault.Vault
	sh    shop.Shop
	svc   *payment.Service
	srv   *httptest.Server
}

func newAPIEnv(t *testing.T, db *store.DB) *apiEnv {
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
	e := &apiEnv{t: t, db: db, clk: clk, sim: simulator.New(simulator.Config{Clock: clk}), vault: vault.New(db, keys, clk), sh: sh}
	e.svc, e.srv = e.newCopy()
	return e
}

// newCopy starts one more openpsp copy (service, idempotency layer, server).
func (e *apiEnv) newCopy() (*payment.Service, *httptest.Server) {
	svc := payment.New(e.db, e.clk, e.sim, payment.CardVault(e.vault), payment.Config{AcquirerTimeout: time.Second})
	idem := v4.NewIdempotency(e.db, e.clk, nil)
	s := v4.New(v4.Options{Auth: testAuth{e.sh}, Clock: e.clk, Wrap: idem.Wrap})
	s.RegisterBase()
	s.RegisterPayments(svc)
	mux := http.NewServeMux()
	mux.Handle("/api-payment/V4/{name...}", s)
	srv := httptest.NewServer(mux)
	e.t.Cleanup(srv.Close)
	return svc, srv
}

type envelope struct {
	WebService string          `json:"webService"`
	Status     string          `json:"status"`
	Answer     json.RawMessage `json:"answer"`
	Type       string          `json:"_type"`
}

type errorAnswer struct {
	ErrorCode            string  `json:"errorCode"`
	ErrorMessage         string  `json:"errorMessage"`
	DetailedErrorMessage *string `json:"detailedErrorMessage"`
	Type                 string  `json:"_type"`
}

func post(t *testing.T, srv *httptest.Server, name string, body any, key string) envelope {
	t.Helper()
	return postAs(t, srv, password, name, body, key)
}

// postAs is post with another password of the shop (prodPassword: the
// PRODUCTION key set).
func postAs(t *testing.T, srv *httptest.Server, pw, name string, body any, key string) envelope {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api-payment/V4/"+name, bytes.NewReader(b))
	req.SetBasicAuth(shopID, pw)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s: %v: %s", name, err, raw)
	}
	if res.StatusCode != http.StatusOK || env.Type != "V4/WebService/Response" || env.WebService != name {
		t.Fatalf("%s: HTTP %d, envelope %s", name, res.StatusCode, raw)
	}
	return env
}

func (e *apiEnv) call(name string, body any) map[string]any {
	e.t.Helper()
	env := post(e.t, e.srv, name, body, "")
	if env.Status != "SUCCESS" {
		e.t.Fatalf("%s: %s", name, env.Answer)
	}
	var m map[string]any
	if err := json.Unmarshal(env.Answer, &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// fail calls a service that must fail with code; it returns the error answer.
func (e *apiEnv) fail(name string, body any, code string) errorAnswer {
	e.t.Helper()
	env := post(e.t, e.srv, name, body, "")
	var a errorAnswer
	_ = json.Unmarshal(env.Answer, &a)
	if env.Status != "ERROR" || a.ErrorCode != code || a.Type != "V4/WebService/WebServiceError" {
		e.t.Fatalf("%s %v: %s %s, want ERROR %s", name, body, env.Status, env.Answer, code)
	}
	return a
}

// payForm pays a formToken with a card, as the hosted form does.
func (e *apiEnv) payForm(formToken, pan string) payment.Transaction {
	e.t.Helper()
	p, err := card.ParsePAN(pan)
	if err != nil {
		e.t.Fatal(err)
	}
	cvv, _ := card.NewSecurityCode("123")
	_, tx, err := e.svc.PayCard(context.Background(), formToken, payment.CardInput{PAN: p, Expiry: card.Expiry{Month: 12, Year: 2031}, CVV: cvv})
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

func (e *apiEnv) pay(body map[string]any) string {
	e.t.Helper()
	a := e.call("Charge/CreatePayment", body)
	return e.payForm(a["formToken"].(string), "4970100000000055").UUID
}

func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func TestPaymentWebServices(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		a := e.call("Charge/CreatePayment", map[string]any{
			"amount": 990, "currency": "EUR", "orderId": "myOrderId-1",
			"customer":           map[string]any{"email": "sample@example.com", "billingDetails": map[string]any{"firstName": "Jane", "country": "fr"}},
			"transactionOptions": map[string]any{"cardOptions": map[string]any{"manualValidation": "YES", "captureDelay": 1}},
			"metadata":           map[string]any{"cart": "42"},
		})
		ft, _ := a["formToken"].(string)
		if a["_type"] != "V4/Charge/PaymentForm" || len(ft) < 40 {
			t.Fatalf("CreatePayment answer %v", a)
		}
		uuid := e.payForm(ft, "4970100000000055").UUID

		g := e.call("Transaction/Get", map[string]any{"uuid": uuid})
		if g["_type"] != "V4/Transaction" || g["detailedStatus"] != "AUTHORISED_TO_VALIDATE" || g["status"] != "RUNNING" ||
			g["operationType"] != "DEBIT" || g["amount"] != 990.0 || g["paymentMethodType"] != "CARD" ||
			path(g, "metadata", "cart") != "42" || path(g, "orderDetails", "orderId") != "myOrderId-1" ||
			path(g, "transactionDetails", "cardDetails", "manualValidation") != "YES" ||
			path(g, "transactionDetails", "cardDetails", "pan") != "497010XXXXXX0055" {
			t.Fatalf("Transaction/Get %v", g)
		}
		// transactionDetails.acquirerNetwork is a documented field of
		// Lyra's answer (paiement.systempay.fr/doc/en-EN/payment-method/
		// conecs/redirection-form/analyzing-the-response.html, "Acquirer
		// network code"): present, and null since OpenPSP names no
		// network, so a client reading the key finds it.
		if td, _ := g["transactionDetails"].(map[string]any); td == nil {
			t.Fatalf("Transaction/Get transactionDetails %v", g)
		} else if v, ok := td["acquirerNetwork"]; !ok || v != nil {
			t.Errorf("Transaction/Get transactionDetails.acquirerNetwork = %v (present %v), want null", v, ok)
		}

		o := e.call("Order/Get", map[string]any{"orderId": "myOrderId-1"})
		txs, _ := o["transactions"].([]any)
		if o["_type"] != "V4/OrderTransactions" || len(txs) != 1 || o["orderStatus"] != "RUNNING" {
			t.Fatalf("Order/Get %v", o)
		}

		u := e.call("Transaction/Update", map[string]any{"uuid": uuid, "cardUpdate": map[string]any{"amount": 800, "currency": "EUR", "expectedCaptureDate": "2030-03-12"}})
		if u["amount"] != 800.0 || path(u, "transactionDetails", "cardDetails", "expectedCaptureDate") != "2030-03-12T00:00:00+00:00" {
			t.Fatalf("Transaction/Update %v", u)
		}
		// The order's total stays what was ordered; its effective amount
		// is what will be charged, everywhere the order shows.
		for name, od := range map[string]any{
			"Transaction/Update": u["orderDetails"],
			"Transaction/Get":    e.call("Transaction/Get", map[string]any{"uuid": uuid})["orderDetails"],
			"Order/Get":          e.call("Order/Get", map[string]any{"orderId": "myOrderId-1"})["orderDetails"],
		} {
			m, _ := od.(map[string]any)
			if m["orderTotalAmount"] != 990.0 || m["orderEffectiveAmount"] != 800.0 {
				t.Errorf("%s after the amount was lowered: orderDetails %v", name, od)
			}
		}
		v := e.call("Transaction/Validate", map[string]any{"uuid": uuid, "comment": "ok"})
		if v["detailedStatus"] != "AUTHORISED" || v["status"] != "PAID" {
			t.Fatalf("Transaction/Validate %v", v)
		}
		c := e.call("Transaction/Capture", map[string]any{"uuids": []string{uuid}})
		if c["_type"] != "V4/Common/ResponseCodeAnswer" || c["responseCode"] != 0.0 {
			t.Fatalf("Transaction/Capture %v", c)
		}
		if g := e.call("Transaction/Get", map[string]any{"uuid": uuid}); g["detailedStatus"] != "CAPTURED" ||
			path(g, "transactionDetails", "cardDetails", "captureResponse", "captureDate") == nil {
			t.Fatalf("after capture %v", g)
		}

		r := e.call("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 300, "currency": "EUR", "resolutionMode": "REFUND_ONLY", "comment": "sorry"})
		// As Lyra answers it: the accepted refund is AUTHORISED (PAID), to
		// be captured at once, nothing captured yet.
		if r["operationType"] != "CREDIT" || r["amount"] != 300.0 || r["detailedStatus"] != "AUTHORISED" || r["status"] != "PAID" ||
			path(r, "transactionDetails", "parentTransactionUuid") != uuid || path(r, "transactionDetails", "sequenceNumber") != 2.0 ||
			path(r, "transactionDetails", "creationContext") != "REFUND" ||
			path(r, "transactionDetails", "cardDetails", "expectedCaptureDate") != r["creationDate"] ||
			path(r, "transactionDetails", "cardDetails", "captureResponse", "captureDate") != nil ||
			path(r, "transactionDetails", "cardDetails", "authorizationResponse", "amount") != 300.0 {
			t.Fatalf("refund %v", r)
		}
		if n, err := e.svc.CaptureDue(context.Background(), 10); err != nil || n != 1 {
			t.Fatalf("refund capture: %d %v", n, err)
		}
		if g := e.call("Transaction/Get", map[string]any{"uuid": r["uuid"]}); g["detailedStatus"] != "CAPTURED" || g["status"] != "PAID" ||
			path(g, "transactionDetails", "cardDetails", "captureResponse", "captureDate") == nil {
			t.Fatalf("refund after the capture job %v", g)
		}
		if g := e.call("Transaction/Get", map[string]any{"uuid": uuid}); g["detailedStatus"] != "CAPTURED" ||
			path(g, "transactionDetails", "cardDetails", "captureResponse", "refundAmount") != 300.0 ||
			path(g, "transactionDetails", "cardDetails", "captureResponse", "refundCurrency") != "EUR" {
			t.Fatalf("debit after its refund %v", g)
		}
		o = e.call("Order/Get", map[string]any{"orderId": "myOrderId-1", "operationType": "CREDIT"})
		if txs, _ := o["transactions"].([]any); len(txs) != 1 || o["orderStatus"] != "PAID" {
			t.Fatalf("Order/Get CREDIT %v", o)
		}

		// A cancellation answers the cancelled debit.
		u2 := e.pay(map[string]any{"amount": 500, "currency": "EUR"})
		x := e.call("Transaction/CancelOrRefund", map[string]any{"uuid": u2, "resolutionMode": "CANCELLATION_ONLY"})
		if x["uuid"] != u2 || x["detailedStatus"] != "CANCELLED" || x["status"] != "UNPAID" {
			t.Fatalf("cancellation %v", x)
		}
	})
}

// A refund accepted but not captured yet is cancelled with
// Transaction/CancelOrRefund on its own uuid: the answer is the refund,
// CANCELLED; its amount can be refunded again (at the acquirer too: the
// simulator runs over its journal), and the IPN of the cancellation reaches
// the merchant. A partial cancellation, REFUND_ONLY and a captured refund are
// refused.
func TestCancelRefundWebService(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		e.sim = simulator.New(simulator.Config{Clock: e.clk, Journal: db})
		e.svc, e.srv = e.newCopy()
		var mu sync.Mutex
		var ipns []string
		merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			mu.Lock()
			ipns = append(ipns, r.PostForm.Get("kr-answer"))
			mu.Unlock()
			io.WriteString(w, "OK")
		}))
		defer merchant.Close()

		uuid := e.pay(map[string]any{"amount": 1000, "currency": "EUR", "orderId": "refund-cancel", "ipnTargetUrl": merchant.URL + "/ipn"})
		e.call("Transaction/Capture", map[string]any{"uuid": uuid})
		r := e.call("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 400, "currency": "EUR"})
		refund, _ := r["uuid"].(string)
		if r["operationType"] != "CREDIT" || r["detailedStatus"] != "AUTHORISED" || refund == "" {
			t.Fatalf("refund %v", r)
		}
		e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": refund, "resolutionMode": "REFUND_ONLY"}, "PSP_076")
		if a := e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": refund, "amount": 100}, "PSP_020"); a.DetailedErrorMessage == nil ||
			!strings.Contains(*a.DetailedErrorMessage, "partial cancellation") {
			t.Fatalf("partial cancellation of a refund: %+v", a)
		}

		x := e.call("Transaction/CancelOrRefund", map[string]any{"uuid": refund, "amount": 400, "currency": "EUR",
			"resolutionMode": "CANCELLATION_ONLY", "comment": "kept after all"})
		if x["uuid"] != refund || x["operationType"] != "CREDIT" || x["detailedStatus"] != "CANCELLED" || x["status"] != "UNPAID" ||
			path(x, "transactionDetails", "parentTransactionUuid") != uuid ||
			path(x, "transactionDetails", "cardDetails", "captureResponse", "captureDate") != nil {
			t.Fatalf("cancelled refund %v", x)
		}
		e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": refund}, "PSP_011")
		if g := e.call("Transaction/Get", map[string]any{"uuid": uuid}); g["detailedStatus"] != "CAPTURED" ||
			(path(g, "transactionDetails", "cardDetails", "captureResponse", "refundAmount") != nil &&
				path(g, "transactionDetails", "cardDetails", "captureResponse", "refundAmount") != 0.0) {
			t.Fatalf("debit after its refund was cancelled %v", g)
		}

		// The whole capture is refundable again; the capture job remits
		// that refund, not the cancelled one, and a captured refund can no
		// longer be cancelled.
		r2 := e.call("Transaction/CancelOrRefund", map[string]any{"uuid": uuid})
		if r2["amount"] != 1000.0 || r2["detailedStatus"] != "AUTHORISED" {
			t.Fatalf("refund of everything %v", r2)
		}
		if n, err := e.svc.CaptureDue(context.Background(), 10); err != nil || n != 1 {
			t.Fatalf("refund capture: %d %v", n, err)
		}
		if g := e.call("Transaction/Get", map[string]any{"uuid": refund}); g["detailedStatus"] != "CANCELLED" {
			t.Fatalf("cancelled refund after the capture job %v", g)
		}
		e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": r2["uuid"]}, "PSP_011")

		// The IPNs reach the merchant; one tells the refund CANCELLED.
		signer := outbox.IPNSignerFunc(func(context.Context, string, string) (string, error) { return password, nil })
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{outbox.ChannelIPN: outbox.NewIPNDeliverer(signer, outbox.HTTPOptions{})},
			outbox.Options{Clock: e.clk})
		for range 20 {
			if n, err := d.RunOnce(context.Background()); err != nil || n == 0 {
				break
			}
		}
		mu.Lock()
		defer mu.Unlock()
		told := false
		for _, a := range ipns {
			var p struct {
				Transactions []struct {
					UUID           string `json:"uuid"`
					DetailedStatus string `json:"detailedStatus"`
				} `json:"transactions"`
			}
			if err := json.Unmarshal([]byte(a), &p); err != nil {
				t.Fatalf("IPN kr-answer %q: %v", a, err)
			}
			for _, tx := range p.Transactions {
				told = told || tx.UUID == refund && tx.DetailedStatus == "CANCELLED"
			}
		}
		if !told {
			t.Fatalf("no IPN told the refund's cancellation: %q", ipns)
		}
	})
}

// A currency that is not an ISO 4217 code (unknown, or lower case: the
// codes are upper case) is PSP_021 "unknown currency" wherever a
// currency is sent: Charge/CreatePayment answered it so, while
// Transaction/CancelOrRefund and Transaction/Update answered INT_902. A
// known currency other than the transaction's stays INT_902 (invalid
// input), the currency being known. Nothing changes on the transaction.
func TestOperationUnknownCurrencyIsPSP021(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		named := func(a errorAnswer, field string) {
			t.Helper()
			if a.DetailedErrorMessage == nil || !strings.Contains(*a.DetailedErrorMessage, "name="+field) {
				t.Fatalf("detail %v, want it to name %s", a.DetailedErrorMessage, field)
			}
		}
		named(e.fail("Charge/CreatePayment", map[string]any{"amount": 100, "currency": "eur"}, "PSP_021"), "currency")
		uuid := e.pay(map[string]any{"amount": 1000, "currency": "EUR", "orderId": "cur-order"})
		for _, cur := range []string{"eur", "ZZZ", "Eur"} {
			named(e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 100, "currency": cur}, "PSP_021"), "currency")
			named(e.fail("Transaction/Update", map[string]any{"uuid": uuid, "cardUpdate": map[string]any{"amount": 900, "currency": cur}}, "PSP_021"),
				"cardUpdate.currency")
		}
		named(e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 100, "currency": "USD"}, "INT_902"), "currency")
		named(e.fail("Transaction/Update", map[string]any{"uuid": uuid, "cardUpdate": map[string]any{"amount": 900, "currency": "USD"}}, "INT_902"),
			"cardUpdate.currency")
		if d := e.call("Transaction/Get", map[string]any{"uuid": uuid}); d["amount"] != 1000.0 || d["detailedStatus"] != "AUTHORISED" {
			t.Fatalf("after refused operations the debit is %v for %v", d["detailedStatus"], d["amount"])
		}
		// A refund not yet captured, cancelled with a currency.
		e.call("Transaction/Capture", map[string]any{"uuid": uuid})
		refund := e.call("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 300})["uuid"].(string)
		named(e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": refund, "currency": "eur"}, "PSP_021"), "currency")
		named(e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 100, "currency": "eur"}, "PSP_021"), "currency")
	})
}

func TestPaymentWebServiceErrors(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		detail := func(a errorAnswer, want string) {
			t.Helper()
			if a.DetailedErrorMessage == nil || !strings.Contains(*a.DetailedErrorMessage, want) {
				t.Fatalf("detail %v, want it to mention %q", a.DetailedErrorMessage, want)
			}
		}
		e.fail("Charge/CreatePayment", "[1, 2]", "INT_902")
		e.fail("Charge/CreatePayment", `{"amount": "x"`, "INT_902")
		detail(e.fail("Charge/CreatePayment", map[string]any{"currency": "EUR"}, "INT_902"), "name=amount")
		detail(e.fail("Charge/CreatePayment", map[string]any{"amount": 2.5, "currency": "EUR"}, "PSP_020"), "name=amount")
		detail(e.fail("Charge/CreatePayment", map[string]any{"amount": 0, "currency": "EUR"}, "PSP_020"), "name=amount")
		detail(e.fail("Charge/CreatePayment", map[string]any{"amount": 100, "currency": "ZZZ"}, "PSP_021"), "name=currency")
		detail(e.fail("Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR", "customer": map[string]any{"email": "nope"}}, "INT_015"), "name=customer.email")
		detail(e.fail("Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR", "formAction": "WHATEVER"}, "INT_902"), "name=formAction")
		detail(e.fail("Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR",
			"transactionOptions": map[string]any{"cardOptions": map[string]any{"manualValidation": "PERHAPS"}}}, "INT_902"), "name=transactionOptions.cardOptions.manualValidation")
		detail(e.fail("Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR", "formAction": "SILENT"}, "INT_902"), "name=paymentMethodToken")
		e.fail("Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR", "formAction": "SILENT", "paymentMethodToken": "0123456789abcdef0123456789abcdef"}, "PSP_030")

		unknown := "0123456789abcdef0123456789abcdef"
		detail(e.fail("Transaction/Get", map[string]any{}, "INT_902"), "name=uuid")
		e.fail("Transaction/Get", map[string]any{"uuid": unknown}, "PSP_010")
		e.fail("Transaction/Get", map[string]any{"uuid": "not-a-uuid"}, "PSP_010")
		e.fail("Order/Get", map[string]any{"orderId": "never-paid"}, "PSP_010")
		detail(e.fail("Order/Get", map[string]any{"orderId": "x", "operationType": "BOTH"}, "INT_902"), "name=operationType")
		e.fail("Transaction/Validate", map[string]any{"uuid": unknown}, "PSP_010")
		e.fail("Transaction/Capture", map[string]any{"uuids": []string{unknown}}, "PSP_010")
		detail(e.fail("Transaction/Capture", map[string]any{}, "INT_902"), "name=uuids")

		uuid := e.pay(map[string]any{"amount": 1000, "currency": "EUR", "orderId": "err-order"})
		e.fail("Transaction/Validate", map[string]any{"uuid": uuid}, "PSP_011")
		e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "resolutionMode": "REFUND_ONLY"}, "PSP_076")
		detail(e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "resolutionMode": "SOMETIMES"}, "INT_902"), "name=resolutionMode")
		detail(e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 100, "currency": "USD"}, "INT_902"), "name=currency")
		e.fail("Transaction/Update", map[string]any{"uuid": uuid, "cardUpdate": map[string]any{"amount": 1001}}, "PSP_040")
		e.fail("Transaction/Update", map[string]any{"uuid": uuid, "cardUpdate": map[string]any{}}, "PSP_014")
		detail(e.fail("Transaction/Update", map[string]any{"uuid": uuid, "cardUpdate": map[string]any{"expectedCaptureDate": "soon"}}, "INT_902"), "name=cardUpdate.expectedCaptureDate")
		e.fail("Transaction/Update", map[string]any{"uuid": uuid, "cardUpdate": map[string]any{"expectedCaptureDate": "2031-01-01"}}, "PSP_013")
		// The clock is 2030-03-10 09:00 UTC: a capture date before today is
		// refused, today (even earlier today) means today's capture.
		detail(e.fail("Transaction/Update", map[string]any{"uuid": uuid, "cardUpdate": map[string]any{"expectedCaptureDate": "2030-03-09T23:59:59Z"}}, "PSP_013"), "in the past")
		detail(e.fail("Transaction/Update", map[string]any{"uuid": uuid, "cardUpdate": map[string]any{"expectedCaptureDate": "2020-01-01"}}, "PSP_013"), "in the past")
		if u := e.call("Transaction/Update", map[string]any{"uuid": uuid, "cardUpdate": map[string]any{"expectedCaptureDate": "2030-03-10"}}); path(u, "transactionDetails", "cardDetails", "expectedCaptureDate") != "2030-03-10T00:00:00+00:00" {
			t.Fatalf("capture date today: %v", u)
		}
		// The order is paid: a second payment of it is refused.
		a := e.call("Charge/CreatePayment", map[string]any{"amount": 1000, "currency": "EUR", "orderId": "err-order"})
		p, _ := card.ParsePAN("4970100000000055")
		cvv, _ := card.NewSecurityCode("123")
		_, _, err := e.svc.PayCard(context.Background(), a["formToken"].(string), payment.CardInput{PAN: p, Expiry: card.Expiry{Month: 1, Year: 2031}, CVV: cvv})
		if err == nil || !strings.Contains(err.Error(), "PSP_016") {
			t.Fatalf("second payment of a paid order: %v", err)
		}
		e.call("Transaction/Capture", map[string]any{"uuid": uuid})
		e.fail("Transaction/Capture", map[string]any{"uuid": uuid}, "PSP_011")
		e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "resolutionMode": "CANCELLATION_ONLY"}, "PSP_075")
		e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 1001}, "PSP_020")
		// Refunded in full, a full refund (no amount) finds nothing left: it
		// says so, and names no amount the merchant did not send.
		e.call("Transaction/CancelOrRefund", map[string]any{"uuid": uuid})
		a0 := e.fail("Transaction/CancelOrRefund", map[string]any{"uuid": uuid}, "PSP_020")
		if detail(a0, "nothing left to refund"); strings.Contains(*a0.DetailedErrorMessage, "value=") {
			t.Fatalf("full refund of a refunded debit: %s", *a0.DetailedErrorMessage)
		}

		// The PRODUCTION key set does not see TEST transactions.
		for _, svc := range []string{"Transaction/Get", "Transaction/CancelOrRefund", "Order/Get"} {
			body := `{"uuid":"` + uuid + `","orderId":"err-order"}`
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api-payment/V4/"+svc, strings.NewReader(body))
			req.SetBasicAuth(shopID, prodPassword)
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if !strings.Contains(string(raw), `"PSP_010"`) {
				t.Fatalf("%s with the PRODUCTION key: %s", svc, raw)
			}
		}

		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api-payment/V4/Transaction/Get", strings.NewReader("{}"))
		req.SetBasicAuth(shopID, "wrong")
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(raw), `"INT_905"`) {
			t.Fatalf("wrong password: %s", raw)
		}
	})
}

// Transaction/Capture of several uuids captures all of them or none: a
// merchant told ERROR must not find some of them captured. A uuid listed
// twice is captured once.
func TestCaptureSeveral(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		authorised := e.pay(map[string]any{"amount": 100, "currency": "EUR"})
		captured := e.pay(map[string]any{"amount": 200, "currency": "EUR"})
		e.call("Transaction/Capture", map[string]any{"uuids": []string{captured}})

		a := e.fail("Transaction/Capture", map[string]any{"uuids": []string{authorised, captured}}, "PSP_011")
		if a.DetailedErrorMessage == nil || !strings.Contains(*a.DetailedErrorMessage, captured) {
			t.Fatalf("the error does not name the transaction that cannot be captured: %v", a.DetailedErrorMessage)
		}
		if g := e.call("Transaction/Get", map[string]any{"uuid": authorised}); g["detailedStatus"] != "AUTHORISED" {
			t.Fatalf("Capture answered ERROR but captured %s: %v", authorised, g["detailedStatus"])
		}

		c := e.call("Transaction/Capture", map[string]any{"uuids": []string{authorised, authorised}})
		if c["responseCode"] != 0.0 {
			t.Fatalf("Transaction/Capture of one uuid listed twice: %v", c)
		}
		if g := e.call("Transaction/Get", map[string]any{"uuid": authorised}); g["detailedStatus"] != "CAPTURED" {
			t.Fatalf("after capture: %v", g["detailedStatus"])
		}
	})
}

func TestSilentCreatePayment(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		tok := e.token("4970100000000055")
		a := e.call("Charge/CreatePayment", map[string]any{"amount": 250, "currency": "EUR", "orderId": "silent-1",
			"formAction": "SILENT", "paymentMethodToken": tok})
		txs, _ := a["transactions"].([]any)
		if a["_type"] != "V4/Payment" || a["orderStatus"] != "PAID" || len(txs) != 1 {
			t.Fatalf("SILENT answer %v", a)
		}
		tx := txs[0].(map[string]any)
		if tx["paymentMethodToken"] != tok || tx["_type"] != "V4/PaymentTransaction" ||
			path(tx, "transactionDetails", "cardDetails", "paymentMethodSource") != "TOKEN" {
			t.Fatalf("SILENT transaction %v", tx)
		}
		refused := e.call("Charge/CreatePayment", map[string]any{"amount": 250, "currency": "EUR", "formAction": "SILENT",
			"paymentMethodToken": e.token("4970109900000016")})
		if refused["orderStatus"] != "UNPAID" || path(refused["transactions"].([]any)[0].(map[string]any), "detailedErrorCode") != "51" {
			t.Fatalf("refused SILENT answer %v", refused)
		}
	})
}

// TestSilentWithBankAccountToken: a SEPA direct debit alias (FlexCheckout's
// direct debit page) cannot pay by card. A SILENT payment naming it is the
// merchant's mistake, PSP_031 as for any token that cannot pay, not an
// internal error; nothing is written.
func TestSilentWithBankAccountToken(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		iban, _ := vault.NewIBAN("DE89 3704 0044 0532 0130 00")
		err := db.Write(context.Background(), func(tx *sql.Tx) error {
			_, _, err := e.vault.SaveAccount(context.Background(), tx, vault.AccountRequest{ShopID: shopID, Mode: shop.ModeTest,
				Token: "sepa-1", IBAN: iban, HolderName: "Max Muster", Origin: "FLEXCHECKOUT"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		a := e.fail("Charge/CreatePayment", map[string]any{"amount": 250, "currency": "EUR", "orderId": "sdd-1",
			"formAction": "SILENT", "paymentMethodToken": "sepa-1"}, "PSP_031")
		if a.DetailedErrorMessage == nil || !strings.Contains(*a.DetailedErrorMessage, "bank account") {
			t.Fatalf("detail %v", a.DetailedErrorMessage)
		}
		var n int
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM payments`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d payments written (%v)", n, err)
		}
	})
}

func (e *apiEnv) token(pan string) string {
	e.t.Helper()
	p, _ := card.ParsePAN(pan)
	tok, err := e.vault.TokenizeNow(context.Background(), vault.TokenizeRequest{ShopID: shopID, Mode: shop.ModeTest, PAN: p, Expiry: card.Expiry{Month: 12, Year: 2031}})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.Value
}

func TestIdempotencyKey(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		body := map[string]any{"amount": 100, "currency": "EUR", "orderId": "idem-1"}
		first := post(t, e.srv, "Charge/CreatePayment", body, "key-1")
		// Same key, same request (other key order and spacing): the same bytes.
		again := post(t, e.srv, "Charge/CreatePayment", `{ "orderId":"idem-1", "currency":"EUR", "amount":100 }`, "key-1")
		if first.Status != "SUCCESS" || !bytes.Equal(first.Answer, again.Answer) {
			t.Fatalf("replay differs:\n%s\n%s", first.Answer, again.Answer)
		}
		// Same key, another request: refused.
		other := post(t, e.srv, "Charge/CreatePayment", map[string]any{"amount": 200, "currency": "EUR"}, "key-1")
		if other.Status != "ERROR" || !strings.Contains(string(other.Answer), "Idempotency-Key") {
			t.Fatalf("key reused for another body: %s", other.Answer)
		}
		// Without a key, every call is new.
		n1 := post(t, e.srv, "Charge/CreatePayment", body, "")
		n2 := post(t, e.srv, "Charge/CreatePayment", body, "")
		if bytes.Equal(n1.Answer, n2.Answer) {
			t.Fatal("two calls without a key gave the same formToken")
		}
		// Errors are replayed too.
		bad := map[string]any{"amount": 100, "currency": "ZZZ"}
		e1 := post(t, e.srv, "Charge/CreatePayment", bad, "key-2")
		e2 := post(t, e.srv, "Charge/CreatePayment", bad, "key-2")
		if e1.Status != "ERROR" || !bytes.Equal(e1.Answer, e2.Answer) {
			t.Fatalf("error replay: %s / %s", e1.Answer, e2.Answer)
		}
		// Reads ignore the key.
		uuid := e.pay(map[string]any{"amount": 300, "currency": "EUR"})
		g1 := post(t, e.srv, "Transaction/Get", map[string]any{"uuid": uuid}, "key-3")
		e.call("Transaction/Capture", map[string]any{"uuid": uuid})
		g2 := post(t, e.srv, "Transaction/Get", map[string]any{"uuid": uuid}, "key-3")
		if bytes.Equal(g1.Answer, g2.Answer) {
			t.Fatal("Transaction/Get answer was replayed")
		}
		// A malformed key is refused.
		long := post(t, e.srv, "Charge/CreatePayment", body, strings.Repeat("k", 256))
		if long.Status != "ERROR" {
			t.Fatalf("256-character key accepted: %s", long.Answer)
		}
		// The window is 24 hours: then the key is new again.
		e.clk.Advance(24*time.Hour + time.Second)
		later := post(t, e.srv, "Charge/CreatePayment", body, "key-1")
		if later.Status != "SUCCESS" || bytes.Equal(later.Answer, first.Answer) {
			t.Fatalf("key not forgotten after 24 h: %s", later.Answer)
		}
		if n, err := v4.NewIdempotency(db, e.clk, nil).PurgeIdempotencyKeys(context.Background(), 100); err != nil || n < 1 {
			t.Fatalf("purge: %d, %v", n, err)
		}
	})
}

// An Idempotency-Key is the merchant's within one mode: a PRODUCTION call
// must never be answered with what a TEST call of the same key got (a TEST
// formToken, paid on the test acquirer), nor the reverse.
func TestIdempotencyKeyPerMode(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		body := map[string]any{"amount": 100, "currency": "EUR", "orderId": "order-7"}
		test := post(t, e.srv, "Charge/CreatePayment", body, "order-7")
		prod := postAs(t, e.srv, prodPassword, "Charge/CreatePayment", body, "order-7")
		if test.Status != "SUCCESS" || prod.Status != "SUCCESS" || bytes.Equal(test.Answer, prod.Answer) {
			t.Fatalf("PRODUCTION call answered with the TEST call's answer:\nTEST %s\nPRODUCTION %s", test.Answer, prod.Answer)
		}
		// Each mode still replays its own answer.
		if again := postAs(t, e.srv, prodPassword, "Charge/CreatePayment", body, "order-7"); !bytes.Equal(again.Answer, prod.Answer) {
			t.Fatalf("PRODUCTION replay differs:\n%s\n%s", prod.Answer, again.Answer)
		}
		if again := post(t, e.srv, "Charge/CreatePayment", body, "order-7"); !bytes.Equal(again.Answer, test.Answer) {
			t.Fatalf("TEST replay differs:\n%s\n%s", test.Answer, again.Answer)
		}
	})
}

// TestIdempotencyUnderLoad sends 1,000 identical SILENT payments with one
// Idempotency-Key at once, spread over two openpsp copies sharing the
// database: the card is authorized once and every caller gets the same
// answer.
func TestIdempotencyUnderLoad(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		_, srv2 := e.newCopy()
		tok := e.token("4970100000000055")
		body := map[string]any{"amount": 4200, "currency": "EUR", "orderId": "load-1", "formAction": "SILENT", "paymentMethodToken": tok}
		const n = 1000
		answers := make([][]byte, n)
		statuses := make([]string, n)
		var wg sync.WaitGroup
		sem := make(chan struct{}, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				srv := e.srv
				if i%2 == 1 {
					srv = srv2
				}
				env := post(t, srv, "Charge/CreatePayment", body, "load-key")
				answers[i], statuses[i] = env.Answer, env.Status
			}()
		}
		wg.Wait()
		for i := range answers {
			if statuses[i] != "SUCCESS" || !bytes.Equal(answers[i], answers[0]) {
				t.Fatalf("answer %d (%s) differs from the first:\n%s\n%s", i, statuses[i], answers[i], answers[0])
			}
		}
		if got := e.sim.Authorizations(); got != 1 {
			t.Fatalf("%d authorizations, want 1", got)
		}
		var m map[string]any
		_ = json.Unmarshal(answers[0], &m)
		if m["orderStatus"] != "PAID" {
			t.Fatalf("answer %s", answers[0])
		}
	})
}

// TestOrderGetTooManyResults: Lyra's Order/Get answers at most 30
// transactions; beyond that it is PSP_015 "Too many results" (Order/Get web
// service reference; errors_psp list). The limit counts the transactions
// the answer would list, so of the operationType asked for when one is.
// Before, every transaction of the order was read and listed.
func TestOrderGetTooManyResults(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newAPIEnv(t, db)
		tok := e.token("4970109900000016") // refused: an order may have any number of refused attempts
		silent := func() {
			e.call("Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR", "orderId": "busy-1",
				"formAction": "SILENT", "paymentMethodToken": tok})
		}
		for range 30 {
			silent()
		}
		if txs, _ := e.call("Order/Get", map[string]any{"orderId": "busy-1"})["transactions"].([]any); len(txs) != 30 {
			t.Fatalf("Order/Get of 30 transactions listed %d", len(txs))
		}
		silent()
		a := e.fail("Order/Get", map[string]any{"orderId": "busy-1"}, "PSP_015")
		if a.ErrorMessage != "too many results" {
			t.Fatalf("PSP_015 message %q", a.ErrorMessage)
		}
		e.fail("Order/Get", map[string]any{"orderId": "busy-1", "operationType": "DEBIT"}, "PSP_015")
		if txs, ok := e.call("Order/Get", map[string]any{"orderId": "busy-1", "operationType": "CREDIT"})["transactions"].([]any); !ok || len(txs) != 0 {
			t.Fatalf("Order/Get CREDIT of 31 debits listed %v", txs)
		}
	})
}
