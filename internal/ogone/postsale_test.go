package ogone_test

import (
	"context"
	"crypto/sha512"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// postSaleOut is the e-Commerce SHA-OUT allow-list as compat.md §2.4 gives
// it (marlon-ogone ShaOutParameterFilter), written out here apart from the
// package's own list, restricted to the names a post-sale request can carry.
var postSaleOut = map[string]bool{"ACCEPTANCE": true, "ALIAS": true, "AMOUNT": true, "BRAND": true, "CARDNO": true,
	"CN": true, "CURRENCY": true, "ECI": true, "ED": true, "NCERROR": true, "ORDERID": true, "PAYID": true,
	"PAYIDSUB": true, "PM": true, "STATUS": true, "TRXDATE": true}

// postSaleReceiver is the merchant's post-sale URL on loopback: it keeps
// the method and the parameters of every request.
type postSaleReceiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	methods []string
	queries []url.Values // the URL's own query
	got     []url.Values
}

func newPostSaleReceiver(t *testing.T) *postSaleReceiver {
	r := &postSaleReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		v, err := url.ParseQuery(string(body))
		if req.Method == http.MethodGet {
			v, err = url.ParseQuery(req.URL.RawQuery)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.methods = append(r.methods, req.Method)
		r.queries = append(r.queries, req.URL.Query())
		r.got = append(r.got, v)
		r.mu.Unlock()
		io.WriteString(w, "OK")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *postSaleReceiver) requests() ([]string, []url.Values) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.methods...), append([]url.Values(nil), r.got...)
}

// postSales lists the queued post-sale messages.
func (e *env) postSales(t *testing.T) []outbox.Entry {
	t.Helper()
	list, err := e.db.ListOutbox(context.Background(), outbox.Filter{Channel: ogone.ChannelPostSale})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// deliverPostSales sends the queued post-sale messages, as the dispatcher
// does, through the package's deliverer.
func (e *env) deliverPostSales(t *testing.T, list []outbox.Entry) {
	t.Helper()
	d := ogone.NewPostSaleDeliverer(e.shops, outbox.HTTPOptions{})
	for _, m := range list {
		if _, err := d.Deliver(context.Background(), outbox.Delivery{Message: m.Message}); err != nil {
			t.Fatalf("delivery of %s: %v", m.ID, err)
		}
		deliveredPostSales[m.ID] = true
	}
}

// newPostSales leaves out of list the messages delivered already.
func (e *env) newPostSales(list []outbox.Entry) []outbox.Entry {
	var out []outbox.Entry
	for _, m := range list {
		if !deliveredPostSales[m.ID] {
			out = append(out, m)
		}
	}
	return out
}

var deliveredPostSales = map[string]bool{}

func (e *env) setPostSale(t *testing.T, u, method string) {
	t.Helper()
	ch := ogone.SettingsChange{PostSaleURL: &u}
	if method != "" {
		ch.PostSaleMethod = &method
	}
	if _, err := e.admin.UpdateSettings(context.Background(), shop.DemoShopID, ch); err != nil {
		t.Fatal(err)
	}
}

// checkPostSale checks one post-sale request's fields and its SHASIGN,
// computed as the merchant would (sign, over postSaleOut).
func checkPostSale(t *testing.T, q url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("post-sale %s = %q, want %q (%v)", k, q.Get(k), v, q)
		}
	}
	if got, want := q.Get("SHASIGN"), sign("SHA-512", q, shop.DemoSHAPassphrase, postSaleOut); got == "" || got != want {
		t.Errorf("post-sale SHASIGN %q, merchant computes %q (%v)", got, want, q)
	}
	for k := range q {
		if k != "SHASIGN" && !postSaleOut[strings.ToUpper(k)] {
			t.Errorf("post-sale parameter %s is not on the SHA-OUT list: the merchant cannot trust it", k)
		}
	}
}

// TestPostSaleOfPendingOperations: Ingenico's "HTTP request for status
// changes" goes to the PSPID's post-sale URL when an order's status
// changes after its answer. A capture answered 91 (the acquirer could not
// take it) that the capture job makes later sends one request with STATUS
// 9 and the capture's PAYIDSUB; a refund answered 81 sends 8 once the
// capture job remits it (here with GET, the other method Ingenico
// offers); a deletion answered 61 sends 6 once recovery learns it was
// made. Nothing is sent for what the DirectLink answers themselves say,
// and nothing without a URL. Both engines: the message is queued in the
// write of the change.
func TestPostSaleOfPendingOperations(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnvOn(t, eng.Open)
			ctx := context.Background()
			recv := newPostSaleReceiver(t)
			setFault := func(capture, cancel simulator.Fault) {
				e.acq.mu.Lock()
				e.acq.captureFault, e.acq.cancelFault = capture, cancel
				e.acq.mu.Unlock()
			}

			// Without a URL: nothing, whatever changes.
			r := e.order(map[string]string{"ORDERID": "PS-0", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
			setFault(simulator.FaultUnavailable, 0)
			if c := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "SAS"}); c["STATUS"] != "91" {
				t.Fatalf("capture the acquirer could not take: %v", c)
			}
			setFault(0, 0)
			e.clock.Advance(24 * time.Hour)
			if _, err := e.payments.CaptureAllDue(ctx, 100); err != nil {
				t.Fatal(err)
			}
			if q := e.direct("querydirect_utf8.asp", map[string]string{"PAYID": r["PAYID"]}); q["STATUS"] != "9" {
				t.Fatalf("the order once captured: %v", q)
			}
			if l := e.postSales(t); len(l) != 0 {
				t.Fatalf("post-sale requests without a post-sale URL: %+v", l)
			}

			e.setPostSale(t, recv.srv.URL+"/ogone/postsale?shop=1", "")
			r = e.order(map[string]string{"ORDERID": "PS-1", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123",
				"CN": "Post Sale"})
			if r["STATUS"] != "5" {
				t.Fatalf("authorisation: %v", r)
			}
			setFault(simulator.FaultUnavailable, 0)
			c := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "SAS"})
			setFault(0, 0)
			if c["STATUS"] != "91" || c["PAYIDSUB"] != "1" {
				t.Fatalf("capture the acquirer could not take: %v", c)
			}
			if l := e.postSales(t); len(l) != 0 {
				t.Fatalf("post-sale requests for what the answers said: %+v", l)
			}
			e.clock.Advance(24 * time.Hour)
			if _, err := e.payments.CaptureAllDue(ctx, 100); err != nil {
				t.Fatal(err)
			}
			l := e.postSales(t)
			if len(l) != 1 || l[0].Target != recv.srv.URL+"/ogone/postsale?shop=1" || l[0].ShopID != shop.DemoShopID {
				t.Fatalf("post-sale requests once the capture is made: %+v", l)
			}
			e.deliverPostSales(t, l)
			methods, got := recv.requests()
			if len(got) != 1 || methods[0] != http.MethodPost {
				t.Fatalf("the merchant received %v %v", methods, got)
			}
			recv.mu.Lock()
			if recv.queries[0].Get("shop") != "1" {
				t.Errorf("the URL's own query was lost: %v", recv.queries[0])
			}
			recv.mu.Unlock()
			day := e.clock.Now().UTC().Format("01/02/06")
			checkPostSale(t, got[0], map[string]string{"orderID": "PS-1", "PAYID": r["PAYID"], "PAYIDSUB": "1", "STATUS": "9",
				"NCERROR": "0", "amount": "12.5", "currency": "EUR", "CARDNO": "XXXXXXXXXXXX0055", "BRAND": r["BRAND"],
				"ED": "1232", "PM": "CreditCard", "TRXDATE": day, "ACCEPTANCE": r["ACCEPTANCE"], "ECI": "9"})

			// A refund: 81 in its answer, 8 when the capture job remits
			// it, sent with GET.
			e.setPostSale(t, recv.srv.URL+"/ogone/postsale", "GET")
			rf := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "RFD", "AMOUNT": "500"})
			if rf["STATUS"] != "81" || rf["PAYIDSUB"] != "2" {
				t.Fatalf("refund: %v", rf)
			}
			if l := e.postSales(t); len(l) != 1 {
				t.Fatalf("post-sale requests after the refund's answer: %d, want still 1", len(l))
			}
			e.clock.Advance(time.Hour)
			if _, err := e.payments.CaptureAllDue(ctx, 100); err != nil {
				t.Fatal(err)
			}
			l = e.postSales(t)
			if len(l) != 2 {
				t.Fatalf("post-sale requests once the refund is remitted: %d, want 2", len(l))
			}
			e.deliverPostSales(t, e.newPostSales(l))
			methods, got = recv.requests()
			if len(got) != 2 || methods[1] != http.MethodGet {
				t.Fatalf("the merchant received %v %v", methods, got)
			}
			checkPostSale(t, got[1], map[string]string{"orderID": "PS-1", "PAYID": r["PAYID"], "PAYIDSUB": "2", "STATUS": "8",
				"NCERROR": "0", "amount": "5", "currency": "EUR", "CARDNO": "XXXXXXXXXXXX0055"})

			// A deletion whose answer was lost: 61, then 6 by recovery.
			e.setPostSale(t, recv.srv.URL+"/ogone/postsale", "POST")
			d := e.order(map[string]string{"ORDERID": "PS-2", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
			setFault(0, simulator.FaultTimeout)
			del := e.direct("maintenancedirect.asp", map[string]string{"PAYID": d["PAYID"], "OPERATION": "DES"})
			setFault(0, 0)
			if del["STATUS"] != "61" || del["PAYIDSUB"] != "1" {
				t.Fatalf("deletion whose answer was lost: %v", del)
			}
			if l := e.postSales(t); len(l) != 2 {
				t.Fatalf("post-sale requests after the deletion's answer: %d, want still 2", len(l))
			}
			e.clock.Advance(time.Hour)
			if _, err := e.payments.RecoverRunning(ctx, time.Minute, 100); err != nil {
				t.Fatal(err)
			}
			l = e.postSales(t)
			if len(l) != 3 {
				t.Fatalf("post-sale requests once the deletion is known: %d, want 3", len(l))
			}
			e.deliverPostSales(t, e.newPostSales(l))
			_, got = recv.requests()
			if len(got) != 3 {
				t.Fatalf("the merchant received %d requests, want 3", len(got))
			}
			checkPostSale(t, got[2], map[string]string{"orderID": "PS-2", "PAYID": d["PAYID"], "PAYIDSUB": "1", "STATUS": "6",
				"NCERROR": "0", "amount": "12.5"})
		})
	}
}

// TestSignPostSaleIndependently checks SignPostSale against a SHA-512
// written out by hand from compat.md §2.4 (names uppercased and sorted,
// empty values left out, the passphrase after each pair, a merchant's own
// parameter not on the SHA-OUT list unsigned), in UTF-8 and in ISO-8859-1.
func TestSignPostSaleIndependently(t *testing.T) {
	ps := ogone.Params{{Name: "orderID", Value: "Cmd-é1"}, {Name: "currency", Value: "EUR"}, {Name: "amount", Value: "12.5"},
		{Name: "STATUS", Value: "9"}, {Name: "PAYID", Value: "3012345678"}, {Name: "PAYIDSUB", Value: "1"},
		{Name: "NCERROR", Value: "0"}, {Name: "CN", Value: ""}, {Name: "COMPLUS", Value: "x"}, {Name: "MYFIELD", Value: "y"}}
	pass := "Mysecretsig1875!?"
	str := "AMOUNT=12.5" + pass + "COMPLUS=x" + pass + "CURRENCY=EUR" + pass + "NCERROR=0" + pass + "ORDERID=Cmd-é1" + pass +
		"PAYID=3012345678" + pass + "PAYIDSUB=1" + pass + "STATUS=9" + pass
	for _, cs := range []string{ogone.CharsetUTF8, ogone.CharsetISO88591} {
		acct := shop.Ogone{SHAAlgorithm: "SHA-512", SHAOut: pass, Settings: shop.OgoneSettings{Charset: cs}}
		form, err := ogone.SignPostSale(acct, ps)
		if err != nil {
			t.Fatal(err)
		}
		raw := []byte(str)
		order := "Cmd-%C3%A91"
		if cs == ogone.CharsetISO88591 {
			raw = []byte(strings.ReplaceAll(str, "é", "\xe9"))
			order = "Cmd-%E91"
		}
		want := fmt.Sprintf("%X", sha512.Sum512(raw))
		if !strings.HasSuffix(string(form), "&SHASIGN="+want) || !strings.Contains(string(form), "orderID="+order+"&") {
			t.Errorf("%s: form %s, want SHASIGN=%s and orderID=%s", cs, form, want, order)
		}
		if strings.Contains(string(form), "CN=") {
			t.Errorf("%s: empty CN sent: %s", cs, form)
		}
	}
}

// countingPostSaleStore is the real store, counting the reads the
// post-sale request makes.
type countingPostSaleStore struct {
	ogone.PostSaleStore
	reads int
}

func (c *countingPostSaleStore) OrderOfTransactionTx(tx *sql.Tx, shopID, mode, orderID, uuid string) (ogone.Order, error) {
	c.reads++
	return c.PostSaleStore.OrderOfTransactionTx(tx, shopID, mode, orderID, uuid)
}

func (c *countingPostSaleStore) OrderOpsTx(tx *sql.Tx, payid int64) ([]ogone.OrderOp, error) {
	c.reads++
	return c.PostSaleStore.OrderOpsTx(tx, payid)
}

func (c *countingPostSaleStore) OgoneSettingsTx(tx *sql.Tx, shopID string) (shop.OgoneSettings, error) {
	c.reads++
	return c.PostSaleStore.OgoneSettingsTx(tx, shopID)
}

// The hook runs in the write of every status change of every payment:
// one that is no DirectLink order (a V4 payment) is passed over before
// any read, even for a shop whose PSPID sets a post-sale URL; a
// DirectLink order's change reads its order.
func TestPostSaleReadsNothingForOtherPayments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.setPostSale(t, "https://merchant.example/postsale", "")
	st := &countingPostSaleStore{PostSaleStore: e.db}
	change := func(directLink bool) (msgs []outbox.Message, err error) {
		werr := e.db.WriteTx(ctx, func(tx *sql.Tx) error {
			msgs, err = ogone.PostSaleMessages(ctx, tx, st, ogone.StatusChange{DirectLink: directLink, ShopID: shop.DemoShopID,
				Mode: "TEST", OrderID: "V4-1", DebitUUID: "0123456789abcdef0123456789abcdef",
				Before: ogone.PaymentTx{OperationType: "DEBIT", DetailedStatus: "AUTHORISED", Amount: 1000, Currency: "EUR"},
				After:  ogone.PaymentTx{OperationType: "DEBIT", DetailedStatus: "CAPTURED", Amount: 1000, Currency: "EUR"}})
			return nil
		})
		if werr != nil {
			t.Fatal(werr)
		}
		return msgs, err
	}
	if msgs, err := change(false); err != nil || len(msgs) != 0 || st.reads != 0 {
		t.Fatalf("a V4 payment's capture: %d messages, %v, %d reads; want none", len(msgs), err, st.reads)
	}
	if msgs, err := change(true); err != nil || len(msgs) != 0 || st.reads == 0 {
		t.Fatalf("a DirectLink order's capture (no such order): %d messages, %v, %d reads; want its order looked up", len(msgs), err, st.reads)
	}
}
