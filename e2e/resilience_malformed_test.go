package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/shop"
)

// v4Services are the web services the malformed-input test sends garbage
// to; names not (yet) served answer INT_901, which is fine too.
var v4Services = []string{
	"Charge/SDKTest", "Charge/CreatePayment", "Order/Get", "Transaction/Get", "Transaction/Capture",
	"Transaction/Validate", "Transaction/Update", "Transaction/CancelOrRefund", "Transaction/Duplicate",
	"Charge/CreateToken", "Charge/CreateTokenFromTransaction", "Token/Get", "Token/Cancel", "Token/Reactivate",
	"Token/Update", "Token/UpdateCustomerDetails", "CustomerWallet/Get", "CustomerWallet/Update",
	"Charge/CreatePaymentOrder", "Charge/PaymentOrder/Get", "Charge/PaymentOrder/Update",
	"Charge/CreateSubscription", "Subscription/Get", "Subscription/Update", "Subscription/Cancel",
	"PCI/Charge/CreatePayment", "PCI/Charge/CreateToken", "Charge/UpdatePaymentAmount",
}

// malformedBodies are invalid on purpose: none may create anything.
func malformedBodies() map[string][]byte {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	return map[string][]byte{
		"empty":             nil,
		"truncated":         []byte(`{"amount":`),
		"array":             []byte(`[1,2,3]`),
		"null":              []byte(`null`),
		"binary":            {0x00, 0xff, 0xfe, 0x7b, 0x22, 0x00},
		"invalid utf8":      []byte("{\"orderId\":\"\xff\xfe\",\"amount\":\"x\"}"),
		"amount string":     []byte(`{"amount":"ten","currency":"EUR","orderId":"m1"}`),
		"amount negative":   []byte(`{"amount":-100,"currency":"EUR","orderId":"m2","formAction":"SILENT","paymentMethodToken":"malformed"}`),
		"amount float":      []byte(`{"amount":10.5,"currency":"EUR","orderId":"m3","formAction":"SILENT","paymentMethodToken":"malformed"}`),
		"amount huge":       []byte(`{"amount":1e400,"currency":"EUR","orderId":"m4"}`),
		"amount overflow":   []byte(`{"amount":99999999999999999999999,"currency":"EUR","orderId":"m5","formAction":"SILENT","paymentMethodToken":"malformed"}`),
		"currency unknown":  []byte(`{"amount":100,"currency":"XXX1","orderId":"m6","formAction":"SILENT","paymentMethodToken":"malformed"}`),
		"token wrong type":  []byte(`{"amount":100,"currency":"EUR","orderId":"m7","formAction":"SILENT","paymentMethodToken":{"a":1}}`),
		"token unknown":     []byte(`{"amount":100,"currency":"EUR","orderId":"m8","formAction":"SILENT","paymentMethodToken":"doesnotexist00000000000000000000"}`),
		"form action bogus": []byte(`{"amount":100,"currency":"EUR","orderId":"m9","formAction":"DROP TABLE"}`),
		"uuid traversal":    []byte(`{"uuid":"../../../../etc/passwd","amount":1}`),
		"uuids wrong type":  []byte(`{"uuids":"a","uuid":12}`),
		"deep nesting":      []byte(deep),
		"huge string":       []byte(`{"orderId":"` + strings.Repeat("A", 2<<20) + `"}`),
		"trailing data":     []byte(`{"value":"x"} {"value":"y"}`),
		"duplicate keys":    []byte(`{"amount":100,"amount":"x","currency":"EUR"}`),
		"customer bad":      []byte(`{"amount":100,"currency":"EUR","orderId":"m10","customer":{"email":["x"]},"formAction":"SILENT","paymentMethodToken":"malformed"}`),
		"email bad":         []byte(`{"amount":100,"currency":"EUR","orderId":"m11","customer":{"email":"not-an-email"},"formAction":"SILENT","paymentMethodToken":"malformed"}`),
		"ipn url bad":       []byte(`{"amount":100,"currency":"EUR","orderId":"m12","ipnTargetUrl":"javascript:alert(1)","formAction":"SILENT","paymentMethodToken":"malformed"}`),
		"metadata huge":     []byte(`{"amount":100,"currency":"EUR","orderId":"m13","metadata":{"k":"` + strings.Repeat("m", 70000) + `"},"formAction":"SILENT","paymentMethodToken":"malformed"}`),
	}
}

// otherEntryPoints are the non-V4 entry points: browser pages, FlexCheckout,
// DirectLink, the demo merchant, health.
var otherEntryPoints = []struct{ method, path string }{
	{"GET", "/pay/x"}, {"POST", "/pay/x"}, {"POST", "/pay/x/3ds"}, {"POST", "/pay/x/3ds/complete"},
	{"GET", "/embedded/x"}, {"POST", "/embedded/x"},
	{"GET", "/pay/" + strings.Repeat("z", 5000)},
	{"GET", "/Tokenization/HostedPage"}, {"POST", "/Tokenization/HostedPage"},
	{"GET", "/Tokenization/HostedPage?ACCOUNT.PSPID=" + shop.DemoPSPID + "&SHASIGNATURE.SHASIGN=00&CARD.PAYMENTMETHOD=CreditCard"},
	{"GET", "/Tokenization/HostedPage?%zz=%zz&ACCOUNT.PSPID=%ff"},
	{"POST", "/Tokenization/HostedPage/abc"}, {"POST", "/Tokenization/HostedPage/abc/cancel"},
	{"POST", "/ncol/test/orderdirect.asp"}, {"POST", "/ncol/test/orderdirect_utf8.asp"},
	{"POST", "/ncol/test/maintenancedirect.asp"}, {"POST", "/ncol/test/querydirect.asp"},
	{"GET", "/ncol/prod/orderdirect.asp?PSPID=" + shop.DemoPSPID + "&AMOUNT=-1&ALIAS=%00"},
	{"POST", "/demo/checkout"}, {"POST", "/demo/return"}, {"POST", "/demo/ipn"}, {"GET", "/demo/return?kr-answer=%7B"},
	{"GET", "/healthz"}, {"GET", "/readyz"},
}

// Malformed input at every entry point: no crash, no HTTP 500, no partial
// record (the row counts of every payment, token and notification table are
// unchanged), and the server answers normally afterwards. A seeded random
// mutation of valid requests follows (the seed is logged).
func TestResilienceMalformedInput(t *testing.T) {
	mutations := 300
	if resilienceLong() {
		mutations = 5000
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			// The engines run side by side.
			t.Parallel()
			d := newDeployment(t, engine)
			// The malformed bodies name a token "malformed" that does not
			// exist; the mutations start from valid requests with "mutant".
			d.seedTokens(t, map[string]string{"mutant": acceptedCard})
			s := d.startApp(t, appOpts{acquirer: simulator.New(simulator.Config{})})
			ctx := context.Background()
			before := tableCounts(t, s)
			send := func(method, path string, body []byte, header map[string]string) (int, string) {
				ctx, cancel := context.WithTimeout(ctx, resilienceCallTimeout)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
				for k, v := range header {
					req.Header.Set(k, v)
				}
				resp, err := resilienceClient.Do(req)
				if err != nil {
					t.Fatalf("%s %s: no answer (crash?): %v", method, trimPath(path), err)
				}
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				return resp.StatusCode, string(b)
			}
			basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(shop.DemoShopID+":"+shop.DemoTestPassword))
			headers := []map[string]string{
				{"Authorization": basic, "Content-Type": "application/json"},
				{"Authorization": basic, "Content-Type": "application/x-www-form-urlencoded"},
				{"Authorization": "Basic !!!notbase64", "Content-Type": "application/json"},
				{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("9", 4000)+":x"))},
			}
			n := 0
			for _, svc := range v4Services {
				for name, body := range malformedBodies() {
					for hi, h := range headers {
						if hi > 0 && name != "truncated" && name != "empty" {
							continue // other headers with a couple of bodies
						}
						code, b := send("POST", "/api-payment/V4/"+svc, body, h)
						n++
						if code >= 500 {
							t.Errorf("%s with %s body (headers %d): HTTP %d %.200s", svc, name, hi, code, b)
						}
						if code == http.StatusOK && hi == 0 && name != "empty" && svc != "Charge/SDKTest" && strings.Contains(b, `"status":"SUCCESS"`) && !strings.HasSuffix(svc, "/Get") {
							t.Errorf("%s accepted a malformed %s body: %.300s", svc, name, b)
						}
					}
				}
			}
			for _, ep := range otherEntryPoints {
				for name, body := range malformedBodies() {
					if ep.method == "GET" && name != "empty" {
						continue
					}
					code, b := send(ep.method, ep.path, body, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
					n++
					if code >= 500 {
						t.Errorf("%s %s with %s body: HTTP %d %.200s", ep.method, trimPath(ep.path), name, code, b)
					}
				}
			}
			if after := tableCounts(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("malformed input left records: before %v, after %v", before, after)
			}

			// Random mutations of valid requests: any answer but a 5xx.
			seed := uint64(time.Now().UnixNano())
			t.Logf("%d malformed requests; mutation seed %d", n, seed)
			rng := rand.New(rand.NewPCG(seed, 3))
			valid := [][]byte{
				[]byte(`{"amount":1234,"currency":"EUR","orderId":"mut","formAction":"SILENT","paymentMethodToken":"mutant","customer":{"email":"a@b.example","reference":"r"},"metadata":{"k":"v"}}`),
				[]byte(`{"amount":990,"currency":"EUR","orderId":"mut-form","customer":{"email":"a@b.example"}}`),
			}
			for i := 0; i < mutations; i++ {
				body := mutate(rng, valid[i%len(valid)])
				code, b := send("POST", "/api-payment/V4/Charge/CreatePayment", body, headers[0])
				if code >= 500 {
					t.Errorf("mutated request %q: HTTP %d %.200s", body, code, b)
				}
			}
			if strings.Contains(s.Logs.String(), "panic") {
				t.Errorf("a request panicked:\n%s", grepLines(s.Logs.String(), "panic"))
			}
			status, env, err := v4Call(ctx, s.URL, "Charge/SDKTest", map[string]string{"value": "still here"})
			if err != nil || status != 200 || env["status"] != "SUCCESS" {
				t.Fatalf("server after malformed input: %d %v %v", status, env, err)
			}
			// Mutated payments that were valid enough to run are settled.
			if err := pollUntil(recoveryDeadline(), 250*time.Millisecond, func() error {
				var running int
				if err := s.DB.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM transactions WHERE status = 'RUNNING'`).Scan(&running); err != nil {
					return err
				}
				if running > 0 {
					return fmt.Errorf("%d transactions RUNNING", running)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// tableCounts counts the rows of every table a request could write.
func tableCounts(t *testing.T, s *server) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"payments", "transactions", "tokens", "data_keys", "outbox", "idempotency_keys"} {
		var n int
		if err := s.DB.Reader().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

// mutate flips, drops, duplicates or inserts a few bytes of a JSON body.
func mutate(rng *rand.Rand, valid []byte) []byte {
	b := append([]byte(nil), valid...)
	specials := []byte(`{}[]":,-0123456789.eE\ ` + "\x00\xff")
	for k := 0; k < 1+rng.IntN(4); k++ {
		if len(b) == 0 {
			break
		}
		i := rng.IntN(len(b))
		switch rng.IntN(4) {
		case 0:
			b[i] = specials[rng.IntN(len(specials))]
		case 1:
			b = append(b[:i], b[i+1:]...)
		case 2:
			b = append(b[:i], append([]byte{b[i]}, b[i:]...)...)
		case 3:
			b = append(b[:i], append([]byte{byte(rng.IntN(256))}, b[i:]...)...)
		}
	}
	return b
}

func trimPath(p string) string {
	if len(p) > 80 {
		return p[:80] + "…"
	}
	return p
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
			if len(out) > 5 {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
