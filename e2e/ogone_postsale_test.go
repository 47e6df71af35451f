package e2e

import (
	"bytes"
	"context"
	"crypto/sha512"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
)

// TestDirectLinkPostSaleAfterPendingCapture: a DirectLink capture (SAS)
// that does not go through during the request is answered STATUS 91 and
// settled later, either way with the post-sale request telling the
// merchant. Its acquirer answer lost (simulator.FaultTimeout: the acquirer
// makes it, the answer comes too late), recovery learns the capture was
// made; the acquirer unreachable (simulator.FaultUnavailable: nothing
// made), the capture stays the platform's to make (the debit validated,
// its claim released with a retry time, as V4 Transaction/Capture leaves
// it) and the running server's capture job makes it once that time has
// come. The merchant's post-sale URL (Ingenico's "HTTP request for status
// changes", set with `openpsp ogone settings set -postsale-url`) then
// receives, through the outbox dispatcher of the running server, one POST
// with STATUS 9 and the capture's PAYIDSUB, signed with the PSPID's
// SHA-OUT passphrase (SHA-512, checked here from the rules of compat.md
// §2.4), and querydirect says 9 for the order and for that PAYIDSUB.
// Nothing is queued for the 91 the answer itself told. Both engines.
func TestDirectLinkPostSaleAfterPendingCapture(t *testing.T) {
	for _, run := range []struct {
		engine string
		fault  simulator.Fault
		name   string
	}{
		{"sqlite", simulator.FaultTimeout, "lost"}, {"sqlite", simulator.FaultUnavailable, "unavailable"},
		{"postgres", simulator.FaultTimeout, "lost"}, {"postgres", simulator.FaultUnavailable, "unavailable"},
	} {
		engine := run.engine
		t.Run(engine+"/"+run.name, func(t *testing.T) {
			clk := clock.NewFake(time.Now().UTC())
			s := startServer(t, serverOpts{engine: engine, clock: clk, env: map[string]string{"OPENPSP_ACQUIRER_TIMEOUT": "300ms"}})
			ctx := context.Background()

			rec := newPostSaleRecorder(t)
			recv, received := rec.srv, rec.received

			// The operator sets the PSPID's post-sale URL.
			var out bytes.Buffer
			admin := ogone.NewAdmin(s.Shops, s.DB, clk)
			if err := admin.RunCLI(ctx, []string{"settings", "set", shop.DemoShopID, "-postsale-url", recv.URL + "/ogone/postsale"},
				nil, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "postsale-url: "+recv.URL+"/ogone/postsale") || !strings.Contains(out.String(), "postsale-method: POST") {
				t.Fatalf("settings after set:\n%s", out.String())
			}

			o, err := directLinkCall(s, "orderdirect", demoAccount, map[string]string{"ORDERID": "postsale-91", "AMOUNT": "1000",
				"CURRENCY": "EUR", "CARDNO": "4970100000000055", "ED": futureExpiry(), "CVC": "123", "OPERATION": "RES", "ECI": "7"})
			if err != nil || o["STATUS"] != "5" {
				t.Fatalf("order: %v %v", o, err)
			}
			ord := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "postsale-91"}))
			uuid := ord["transactions"].([]any)[0].(map[string]any)["uuid"].(string)

			s.Sim.InjectFault(uuid+"-capture", run.fault)
			c, err := directLinkCall(s, "maintenancedirect", demoAccount, map[string]string{"PAYID": o["PAYID"], "OPERATION": "SAS"})
			if err != nil || c["STATUS"] != "91" || c["NCERROR"] != "0" || c["PAYIDSUB"] != "1" {
				t.Fatalf("capture not made during the request (%s): %v %v, want STATUS 91", run.name, c, err)
			}
			postSales := func() []outbox.Entry {
				t.Helper()
				l, err := s.DB.ListOutbox(ctx, outbox.Filter{Channel: ogone.ChannelPostSale})
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			if l := postSales(); len(l) != 0 {
				t.Fatalf("post-sale requests queued for the 91 the answer told: %+v", l)
			}

			// Lost: recovery asks the acquirer, which made the capture.
			// Unavailable: the server's capture job (every 50ms here)
			// sends it again once its retry time has come.
			clk.Advance(time.Minute)
			err = pollUntil(recoveryDeadline(), 50*time.Millisecond, func() error {
				if run.fault == simulator.FaultTimeout {
					if _, err := s.Payments.RecoverRunning(ctx, 0, 10); err != nil {
						return err
					}
				}
				if got, _ := received(); len(got) == 0 {
					return fmt.Errorf("no post-sale request yet; the outbox has %+v", postSales())
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if q, err := directLinkCall(s, "querydirect", demoAccount, map[string]string{"PAYID": o["PAYID"]}); err != nil || q["STATUS"] != "9" {
				t.Fatalf("the order once settled: %v %v", q, err)
			}
			if q, err := directLinkCall(s, "querydirect", demoAccount, map[string]string{"PAYID": o["PAYID"], "PAYIDSUB": "1"}); err != nil ||
				q["STATUS"] != "9" || q["NCERROR"] != "0" {
				t.Fatalf("the capture (PAYIDSUB 1) once settled: %v %v", q, err)
			}
			// The dispatcher records the delivery after the merchant's answer
			// arrives, so the receiver may see the POST a moment before the
			// outbox says DELIVERED.
			err = pollUntil(recoveryDeadline(), 20*time.Millisecond, func() error {
				if l := postSales(); len(l) != 1 || l[0].Status != "DELIVERED" {
					return fmt.Errorf("post-sale messages: %+v, want one DELIVERED", l)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got, kind := received()
			if len(got) != 1 || kind[0] != "POST /ogone/postsale application/x-www-form-urlencoded" {
				t.Fatalf("the merchant received %v %v, want one POST", kind, got)
			}
			q := got[0]
			want := map[string]string{"orderID": "postsale-91", "PAYID": o["PAYID"], "PAYIDSUB": "1", "STATUS": "9", "NCERROR": "0",
				"amount": "10", "currency": "EUR", "CARDNO": "XXXXXXXXXXXX0055", "BRAND": o["BRAND"], "ACCEPTANCE": o["ACCEPTANCE"],
				"PM": "CreditCard", "ED": futureExpiry()}
			for k, v := range want {
				if q.Get(k) != v {
					t.Errorf("post-sale %s = %q, want %q (%v)", k, q.Get(k), v, q)
				}
			}
			if got, want := q.Get("SHASIGN"), postSaleSHA(q, shop.DemoSHAPassphrase); got != want {
				t.Errorf("post-sale SHASIGN %q, the merchant computes %q (%v)", got, want, q)
			}
		})
	}
}

// postSaleRecorder is a merchant's post-sale URL on loopback: it answers
// OK and keeps every request's form and "METHOD path Content-Type".
type postSaleRecorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	forms []url.Values
	kinds []string
}

func newPostSaleRecorder(t *testing.T) *postSaleRecorder {
	r := &postSaleRecorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		v, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.forms = append(r.forms, v)
		r.kinds = append(r.kinds, req.Method+" "+req.URL.Path+" "+req.Header.Get("Content-Type"))
		r.mu.Unlock()
		io.WriteString(w, "OK")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// received returns the requests received so far.
func (r *postSaleRecorder) received() ([]url.Values, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]url.Values(nil), r.forms...), append([]string(nil), r.kinds...)
}

// postSaleSHA is the merchant's SHA-OUT of a post-sale request, SHA-512:
// every parameter on the e-Commerce SHA-OUT list that it carries (the names
// a post-sale request uses), name uppercased, empty values left out,
// sorted, each NAME=value followed by the passphrase.
func postSaleSHA(q url.Values, pass string) string {
	allow := map[string]bool{"ACCEPTANCE": true, "ALIAS": true, "AMOUNT": true, "BRAND": true, "CARDNO": true, "CN": true,
		"CURRENCY": true, "ECI": true, "ED": true, "NCERROR": true, "ORDERID": true, "PAYID": true, "PAYIDSUB": true,
		"PM": true, "STATUS": true, "TRXDATE": true}
	var keys []string
	vals := map[string]string{}
	for k, v := range q {
		K := strings.ToUpper(k)
		if allow[K] && v[0] != "" {
			keys = append(keys, K)
			vals[K] = v[0]
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + vals[k] + pass)
	}
	return fmt.Sprintf("%X", sha512.Sum512([]byte(b.String())))
}
