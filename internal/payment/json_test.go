package payment

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/errs"
)

// The field names and _type values below are those of the V4/Payment
// samples of lyra/rest-php-sdk (src/Lyra/Tests/ClientTest.php): an
// integration that reads PayZen's kr-answer must find every one of them.
var wantObjects = map[string]struct {
	typ  string
	keys string
}{
	"":                                      {"V4/Payment", "shopId orderCycle orderStatus serverDate orderDetails customer transactions subMerchantDetails"},
	"orderDetails":                          {"V4/OrderDetails", "orderTotalAmount orderEffectiveAmount orderCurrency mode orderId metadata"},
	"customer":                              {"V4/Customer/Customer", "billingDetails email reference shippingDetails extraDetails shoppingCart"},
	"customer.billingDetails":               {"V4/Customer/BillingDetails", "address category cellPhoneNumber city country district firstName identityCode language lastName phoneNumber state streetNumber title zipCode"},
	"customer.shippingDetails":              {"V4/Customer/ShippingDetails", "address address2 category city country deliveryCompanyName district firstName identityCode lastName legalName phoneNumber shippingMethod shippingSpeed state streetNumber zipCode"},
	"customer.extraDetails":                 {"V4/Customer/ExtraDetails", "browserAccept fingerPrintId ipAddress browserUserAgent"},
	"customer.shoppingCart":                 {"V4/Customer/ShoppingCart", "insuranceAmount shippingAmount taxAmount cartItemInfo"},
	"tx":                                    {"V4/PaymentTransaction", "shopId uuid amount currency paymentMethodType paymentMethodToken status detailedStatus operationType effectiveStrongAuthentication creationDate errorCode errorMessage detailedErrorCode detailedErrorMessage metadata transactionDetails"},
	"tx.transactionDetails":                 {"V4/TransactionDetails", "liabilityShift effectiveAmount effectiveCurrency creationContext cardDetails fraudManagement subscriptionDetails parentTransactionUuid mid sequenceNumber acquirerNetwork additionalFields"},
	"tx.transactionDetails.fraudManagement": {"V4/PaymentMethod/Details/FraudManagement", ""},
	"tx.transactionDetails.subscriptionDetails":                                  {"V4/PaymentMethod/Details/SubscriptionDetails", "subscriptionId"},
	"tx.transactionDetails.additionalFields":                                     {"V4/PaymentMethod/Details/AdditionalFields", "installmentNumber"},
	"tx.transactionDetails.cardDetails":                                          {"V4/PaymentMethod/Details/CardDetails", "paymentSource manualValidation expectedCaptureDate effectiveBrand pan expiryMonth expiryYear country issuerCode issuerName effectiveProductCode legacyTransId legacyTransDate paymentMethodSource authorizationResponse captureResponse threeDSResponse installmentNumber installmentCode markAuthorizationResponse cardHolderName identityDocumentNumber identityDocumentType initialIssuerTransactionIdentifier"},
	"tx.transactionDetails.cardDetails.authorizationResponse":                    {"V4/PaymentMethod/Details/Cards/CardAuthorizationResponse", "amount currency authorizationDate authorizationNumber authorizationResult authorizationMode"},
	"tx.transactionDetails.cardDetails.captureResponse":                          {"V4/PaymentMethod/Details/Cards/CardCaptureResponse", "refundAmount refundCurrency captureDate captureFileNumber effectiveRefundAmount effectiveRefundCurrency"},
	"tx.transactionDetails.cardDetails.threeDSResponse":                          {"V4/PaymentMethod/Details/Cards/ThreeDSResponse", "authenticationResultData"},
	"tx.transactionDetails.cardDetails.threeDSResponse.authenticationResultData": {"V4/PaymentMethod/Details/Cards/CardAuthenticationResponse", "transactionCondition enrolled status eci xid cavvAlgorithm cavv signValid brand"},
	"tx.transactionDetails.cardDetails.markAuthorizationResponse":                {"V4/PaymentMethod/Details/Cards/MarkAuthorizationResponse", "amount currency authorizationDate authorizationNumber authorizationResult"},
}

var dateRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$`)

func samplePayment() Payment {
	now := mustTime("2018-12-11T19:03:45Z")
	email := "sample@example.com"
	lang := "EN"
	return Payment{
		ID: "p1", ShopID: "69876357", Mode: "TEST", OrderID: "myOrderId-618776", Amount: 990, Currency: "EUR",
		FormAction: ActionPayment, OrderStatus: StatusPaid, OrderCycle: CycleClosed,
		Customer: Customer{Email: &email, BillingDetails: BillingDetails{Language: &lang}},
		Options:  Options{MaxAttempts: 3},
		Transactions: []Transaction{{
			UUID: "017574bda28e4f1d8413b97fc65c8197", ShopID: "69876357", PaymentID: "p1", Mode: "TEST",
			OperationType: Debit, Amount: 990, Currency: "EUR", Status: StatusPaid, DetailedStatus: Captured,
			PaymentMethodSource: "NEW", Brand: "CB", PANMasked: "497010XXXXXX0055", ExpiryMonth: 11, ExpiryYear: 2021,
			ExpectedCaptureAt: now, AuthNumber: "3fd0e3", AuthResult: acquirer.CodeApproved, AuthAt: now,
			AuthAmount: 990, CapturedAmount: 990, CapturedAt: now.Add(time1min), SequenceNumber: 1, CreatedAt: now,
		}},
	}
}

func TestAnswerShape(t *testing.T) {
	b, err := Answer(samplePayment(), mustTime("2018-12-11T19:09:32Z"))
	if err != nil {
		t.Fatal(err)
	}
	root := decode(t, b)
	objects := map[string]map[string]any{"": root}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				p := strings.TrimPrefix(prefix+"."+k, ".")
				objects[p] = sub
				walk(p, sub)
			}
		}
	}
	walk("", root)
	tx := root["transactions"].([]any)[0].(map[string]any)
	objects["tx"] = tx
	walk("tx", tx)
	for path, want := range wantObjects {
		obj, ok := objects[path]
		if !ok {
			t.Errorf("%q: object missing", path)
			continue
		}
		if obj["_type"] != want.typ {
			t.Errorf("%q: _type %v, want %s", path, obj["_type"], want.typ)
		}
		for _, k := range strings.Fields(want.keys) {
			if _, ok := obj[k]; !ok {
				t.Errorf("%q: field %s missing", path, k)
			}
		}
	}
	// Values a merchant's code reads.
	checks := map[string]any{
		"serverDate": "2018-12-11T19:09:32+00:00", "orderStatus": "PAID", "orderCycle": "CLOSED", "shopId": "69876357",
	}
	for k, v := range checks {
		if root[k] != v {
			t.Errorf("%s = %v, want %v", k, root[k], v)
		}
	}
	od := root["orderDetails"].(map[string]any)
	if od["orderTotalAmount"] != 990.0 || od["orderCurrency"] != "EUR" || od["mode"] != "TEST" || od["orderId"] != "myOrderId-618776" {
		t.Errorf("orderDetails %v", od)
	}
	cd := tx["transactionDetails"].(map[string]any)["cardDetails"].(map[string]any)
	ar := cd["authorizationResponse"].(map[string]any)
	if cd["pan"] != "497010XXXXXX0055" || cd["expiryMonth"] != 11.0 || cd["expiryYear"] != 2021.0 ||
		cd["manualValidation"] != "NO" || cd["paymentSource"] != "EC" || cd["effectiveBrand"] != "CB" ||
		!regexp.MustCompile(`^\d{6}$`).MatchString(cd["legacyTransId"].(string)) {
		t.Errorf("cardDetails %v", cd)
	}
	if ar["authorizationResult"] != "0" || ar["authorizationMode"] != "FULL" || ar["amount"] != 990.0 || ar["authorizationNumber"] != "3fd0e3" {
		t.Errorf("authorizationResponse %v", ar)
	}
	if cr := cd["captureResponse"].(map[string]any); cr["captureDate"] != "2018-12-11T19:04:45+00:00" || cr["refundAmount"] != 0.0 {
		t.Errorf("captureResponse %v", cr)
	}
	for _, d := range []any{tx["creationDate"], cd["expectedCaptureDate"], cd["legacyTransDate"], ar["authorizationDate"]} {
		if s, _ := d.(string); !dateRE.MatchString(s) {
			t.Errorf("date %v is not in the PayZen format", d)
		}
	}
	if tx["paymentMethodToken"] != nil || tx["errorCode"] != nil || tx["metadata"] != nil {
		t.Errorf("absent values must be null: %v %v %v", tx["paymentMethodToken"], tx["errorCode"], tx["metadata"])
	}
	// The first keys come in PayZen's order (some parsers are naive).
	if !bytes.HasPrefix(b, []byte(`{"shopId":"69876357","orderCycle":"CLOSED","orderStatus":"PAID","serverDate":`)) {
		t.Errorf("answer starts %s", b[:80])
	}
	// Answer is deterministic: the same payment gives the same bytes.
	b2, _ := Answer(samplePayment(), mustTime("2018-12-11T19:09:32Z"))
	if !bytes.Equal(b, b2) {
		t.Error("Answer is not deterministic")
	}
}

func TestTransactionAndOrderObjects(t *testing.T) {
	p := samplePayment()
	tb, _ := json.Marshal(TransactionObject(p, p.Transactions[0]))
	tj := decode(t, tb)
	if tj["_type"] != "V4/Transaction" || tj["orderDetails"].(map[string]any)["orderId"] != "myOrderId-618776" {
		t.Fatalf("transaction object %s", tb)
	}
	credit := Transaction{UUID: "c1", OperationType: Credit, Amount: 100, Currency: "EUR", Status: StatusPaid,
		DetailedStatus: Captured, ParentUUID: p.Transactions[0].UUID, SequenceNumber: 2, CreatedAt: p.Transactions[0].CreatedAt}
	p.Transactions = append(p.Transactions, credit)
	ob, _ := json.Marshal(OrderObject([]Payment{p}, Credit, mustTime("2019-01-01T00:00:00Z")))
	oj := decode(t, ob)
	txs := oj["transactions"].([]any)
	if oj["_type"] != "V4/OrderTransactions" || oj["orderStatus"] != "PAID" || len(txs) != 1 {
		t.Fatalf("order object %s", ob)
	}
	td := txs[0].(map[string]any)["transactionDetails"].(map[string]any)
	if td["parentTransactionUuid"] != p.Transactions[0].UUID || td["creationContext"] != "REFUND" || td["sequenceNumber"] != 2.0 {
		t.Fatalf("credit details %v", td)
	}
	var keys []string
	for k := range oj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, " ") != "_type orderCycle orderDetails orderStatus serverDate shopId transactions" {
		t.Fatalf("order keys %v", keys)
	}
}

func TestCustomerNormalize(t *testing.T) {
	s := func(v string) *string { return &v }
	c := Customer{Email: s(" buyer@example.com "), Reference: s(""), BillingDetails: BillingDetails{Country: s("fr"), Language: s("fr")}}
	if err := c.normalize(); err != nil {
		t.Fatal(err)
	}
	if *c.Email != "buyer@example.com" || c.Reference != nil || *c.BillingDetails.Country != "FR" || *c.BillingDetails.Language != "FR" {
		t.Fatalf("normalized %+v", c)
	}
	for _, bad := range []Customer{
		{Email: s("a@b")},
		{Email: s("Jane <jane@example.com>")},
		{BillingDetails: BillingDetails{Country: s("FRA")}},
		{ShippingDetails: ShippingDetails{FirstName: s("a\x00b")}},
		{ShoppingCart: ShoppingCart{CartItemInfo: []CartItem{{ProductQty: ptr64(-1)}}}},
	} {
		if err := bad.normalize(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func ptr64(v int64) *int64 { return &v }

// A V4/Transaction (Transaction/Get, Order/Get, the Transaction/* answers)
// carries the buyer of its payment as a customer object, as Lyra's
// Transaction object does; a V4/PaymentTransaction inside a V4/Payment
// does not repeat it (the Payment has it).
func TestTransactionObjectCustomer(t *testing.T) {
	p := samplePayment()
	ref, ip := "cust-001", "203.0.113.7"
	p.Customer.Reference = &ref
	p.Customer.ExtraDetails.IPAddress = &ip
	tb, _ := json.Marshal(TransactionObject(p, p.Transactions[0]))
	c, ok := decode(t, tb)["customer"].(map[string]any)
	if !ok || c["_type"] != "V4/Customer/Customer" || c["email"] != "sample@example.com" || c["reference"] != ref {
		t.Fatalf("transaction customer %s", tb)
	}
	if x := c["extraDetails"].(map[string]any); x["ipAddress"] != ip || x["_type"] != "V4/Customer/ExtraDetails" {
		t.Fatalf("extraDetails %v", x)
	}
	if b := c["billingDetails"].(map[string]any); b["language"] != "EN" || b["_type"] != "V4/Customer/BillingDetails" {
		t.Fatalf("billingDetails %v", b)
	}
	ob, _ := json.Marshal(OrderObject([]Payment{p}, "", mustTime("2019-01-01T00:00:00Z")))
	tx := decode(t, ob)["transactions"].([]any)[0].(map[string]any)
	if c, ok := tx["customer"].(map[string]any); !ok || c["reference"] != ref {
		t.Fatalf("Order/Get transaction customer %s", ob)
	}
	ab, _ := Answer(p, mustTime("2019-01-01T00:00:00Z"))
	if _, has := decode(t, ab)["transactions"].([]any)[0].(map[string]any)["customer"]; has {
		t.Fatalf("V4/PaymentTransaction repeats the customer: %s", ab)
	}
}

// Order/Get describes the order by the payment that makes its status: a
// refused attempt made after the order was paid (same orderId) does not
// replace the paid payment's orderDetails.
func TestOrderObjectDetailsOfDecidingPayment(t *testing.T) {
	paid := samplePayment()
	later := samplePayment()
	later.ID, later.Amount, later.OrderStatus, later.OrderCycle = "p2", 500, StatusUnpaid, CycleOpen
	later.Transactions = []Transaction{{UUID: "b2", ShopID: later.ShopID, PaymentID: "p2", Mode: "TEST",
		OperationType: Debit, Amount: 500, Currency: "EUR", Status: StatusUnpaid, DetailedStatus: "REFUSED",
		SequenceNumber: 1, CreatedAt: paid.Transactions[0].CreatedAt.Add(time1min)}}
	ob, _ := json.Marshal(OrderObject([]Payment{paid, later}, "", mustTime("2019-01-01T00:00:00Z")))
	oj := decode(t, ob)
	od := oj["orderDetails"].(map[string]any)
	if oj["orderStatus"] != StatusPaid || oj["orderCycle"] != CycleClosed || len(oj["transactions"].([]any)) != 2 ||
		od["orderTotalAmount"] != 990.0 || od["orderEffectiveAmount"] != 990.0 {
		t.Fatalf("order object %s", ob)
	}
}

// Lyra's current kr-answer example (the "Inicio rápido" page,
// docs.lyra.com/es-ES/rest/V4.0/javascript/redirection/quick_start_smartform.html,
// whose example was read from the Micuentaweb copy of the page) writes orderDetails with a metadata field after orderId: null when the
// payment was created without metadata, as the transactions' metadata.
func TestOrderDetailsMetadata(t *testing.T) {
	p := samplePayment()
	b, _ := Answer(p, mustTime("2019-01-01T00:00:00Z"))
	if !bytes.Contains(b, []byte(`"orderId":"myOrderId-618776","metadata":null,"_type":"V4/OrderDetails"`)) {
		t.Fatalf("orderDetails without metadata: %s", b)
	}
	p.Options.Metadata = map[string]string{"cart": "42"}
	for name, obj := range map[string]any{
		"V4/Payment":           Object(p, mustTime("2019-01-01T00:00:00Z")),
		"V4/Transaction":       TransactionObject(p, p.Transactions[0]),
		"V4/OrderTransactions": OrderObject([]Payment{p}, "", mustTime("2019-01-01T00:00:00Z")),
	} {
		ob, _ := json.Marshal(obj)
		md, _ := decode(t, ob)["orderDetails"].(map[string]any)["metadata"].(map[string]any)
		if md["cart"] != "42" {
			t.Errorf("%s orderDetails.metadata: %s", name, ob)
		}
	}
}

// The same kr-answer example ends the V4/Payment with
// "subMerchantDetails":null after the transactions (OpenPSP has no
// sub-merchants, so it is always null).
func TestPaymentSubMerchantDetails(t *testing.T) {
	b, _ := Answer(samplePayment(), mustTime("2019-01-01T00:00:00Z"))
	if !bytes.HasSuffix(b, []byte(`}],"subMerchantDetails":null,"_type":"V4/Payment"}`)) {
		t.Fatalf("V4/Payment ends %s", b[len(b)-80:])
	}
}

// The same kr-answer example writes captureResponse as refundAmount,
// refundCurrency, captureDate, captureFileNumber, effectiveRefundAmount,
// effectiveRefundCurrency. OpenPSP converts no currency, so the effective
// refund is the refund.
func TestCaptureResponseEffectiveRefund(t *testing.T) {
	p := samplePayment()
	b, _ := Answer(p, mustTime("2019-01-01T00:00:00Z"))
	want := `"captureResponse":{"refundAmount":0,"refundCurrency":null,"captureDate":"2018-12-11T19:04:45+00:00",` +
		`"captureFileNumber":null,"effectiveRefundAmount":0,"effectiveRefundCurrency":null,"_type":"V4/PaymentMethod/Details/Cards/CardCaptureResponse"}`
	if !bytes.Contains(b, []byte(want)) {
		t.Fatalf("captured, not refunded: %s", b)
	}
	p.Transactions[0].RefundedAmount = 300
	b, _ = json.Marshal(TransactionObject(p, p.Transactions[0]))
	want = `"captureResponse":{"refundAmount":300,"refundCurrency":"EUR","captureDate":"2018-12-11T19:04:45+00:00",` +
		`"captureFileNumber":null,"effectiveRefundAmount":300,"effectiveRefundCurrency":"EUR","_type":"V4/PaymentMethod/Details/Cards/CardCaptureResponse"}`
	if !bytes.Contains(b, []byte(want)) {
		t.Fatalf("refunded: %s", b)
	}
	p.Transactions[0].CapturedAt = time.Time{}
	b, _ = json.Marshal(TransactionObject(p, p.Transactions[0]))
	want = `"captureResponse":{"refundAmount":null,"refundCurrency":null,"captureDate":null,` +
		`"captureFileNumber":null,"effectiveRefundAmount":null,"effectiveRefundCurrency":null,`
	if !bytes.Contains(b, []byte(want)) {
		t.Fatalf("not captured: %s", b)
	}
}

// cardDetails has the fields of Lyra's current kr-answer example, in its
// order (docs.lyra.com …/javascript/redirection/quick_start_smartform.html:
// issuerCode and issuerName where the 2018 samples had emisorCode, and the
// installment, holder and identity document fields, null when unknown),
// and initialIssuerTransactionIdentifier, the chaining reference Lyra's
// zero-click page tells merchants to read there
// (docs.lyra.com/en-EN/rest/V4.0/api/kb/zero_click_payment.html). Not
// authenticationResponse: see the comment on cardDetailsJSON.
func TestCardDetailsFields(t *testing.T) {
	b, _ := Answer(samplePayment(), mustTime("2019-01-01T00:00:00Z"))
	var a struct {
		Transactions []struct {
			TransactionDetails struct {
				CardDetails json.RawMessage `json:"cardDetails"`
			} `json:"transactionDetails"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	raw := a.Transactions[0].TransactionDetails.CardDetails
	want := "paymentSource manualValidation expectedCaptureDate effectiveBrand pan expiryMonth expiryYear country " +
		"issuerCode issuerName effectiveProductCode legacyTransId legacyTransDate paymentMethodSource " +
		"authorizationResponse captureResponse threeDSResponse installmentNumber installmentCode markAuthorizationResponse " +
		"cardHolderName identityDocumentNumber identityDocumentType initialIssuerTransactionIdentifier _type"
	if got := strings.Join(topKeys(t, raw), " "); got != want {
		t.Fatalf("cardDetails keys\n got %s\nwant %s", got, want)
	}
	cd := decode(t, raw)
	for _, k := range []string{"issuerCode", "issuerName", "installmentNumber", "installmentCode", "cardHolderName",
		"identityDocumentNumber", "identityDocumentType", "initialIssuerTransactionIdentifier"} {
		if cd[k] != nil {
			t.Errorf("%s = %v, want null", k, cd[k])
		}
	}
}

// topKeys lists the keys of a JSON object in the order they are written.
func topKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	var keys []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if depth == 1 {
				keys = append(keys, v)
				// Read the value whole, so that every string met at
				// depth 1 is a key.
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return keys
}

// transactionDetails has subscriptionDetails after fraudManagement, as in
// Lyra's current kr-answer example (docs.lyra.com …/javascript/redirection/
// quick_start_smartform.html, where a one-off payment writes
// {"subscriptionId":null,"_type":"V4/PaymentMethod/Details/SubscriptionDetails"}):
// an instalment of a subscription names its subscription there.
func TestTransactionSubscriptionDetails(t *testing.T) {
	p := samplePayment()
	b, _ := Answer(p, mustTime("2019-01-01T00:00:00Z"))
	want := `"fraudManagement":{"_type":"V4/PaymentMethod/Details/FraudManagement"},"subscriptionDetails":{"subscriptionId":null,"_type":"V4/PaymentMethod/Details/SubscriptionDetails"},"parentTransactionUuid"`
	if !bytes.Contains(b, []byte(want)) {
		t.Fatalf("one-off payment: %s", b)
	}
	p.Options.SubscriptionID = "3f1c9a7e5b2d4c6e8a0b1d3f5e7c9a2b"
	b, _ = json.Marshal(TransactionObject(p, p.Transactions[0]))
	if !bytes.Contains(b, []byte(`"subscriptionDetails":{"subscriptionId":"3f1c9a7e5b2d4c6e8a0b1d3f5e7c9a2b",`)) {
		t.Fatalf("instalment: %s", b)
	}
}

// fraudManagement is an object, {"_type":"V4/PaymentMethod/Details/FraudManagement"}
// when no risk control ran, as in Lyra's current kr-answer example
// (docs.lyra.com …/javascript/redirection/quick_start_smartform.html), not
// null: code reading fraudManagement.riskControl must not meet a null.
func TestFraudManagementObject(t *testing.T) {
	b, _ := Answer(samplePayment(), mustTime("2019-01-01T00:00:00Z"))
	if !bytes.Contains(b, []byte(`"fraudManagement":{"_type":"V4/PaymentMethod/Details/FraudManagement"},"subscriptionDetails"`)) {
		t.Fatalf("fraudManagement: %s", b)
	}
}

// The card holder's name is kept as typed, its white space tidied; one too
// long, not UTF-8 or with control characters is refused with an error that
// names the field and never echoes the name.
func TestHolderName(t *testing.T) {
	for in, want := range map[string]string{"": "", "  Ada \t Lovelace ": "Ada Lovelace", "Zoë O’Brien": "Zoë O’Brien",
		strings.Repeat("é", MaxHolderName): strings.Repeat("é", MaxHolderName)} {
		if got, err := HolderName(in); err != nil || got != want {
			t.Errorf("HolderName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{strings.Repeat("a", MaxHolderName+1), "Ada\x00Lovelace", "Ada \xff", "Ada\u0085Lovelace\u200b\x7f"} {
		_, err := HolderName(in)
		e, ok := errs.As(err)
		if !ok || e.Code != errs.InputInvalid || e.Field != "cardHolderName" || strings.Contains(err.Error()+e.Detail, "Ada") {
			t.Errorf("HolderName(%q): %v", in, err)
		}
	}
}
