package ogone_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// directTry is env.direct for goroutines: an error instead of ending the
// test, for an answer that is not HTTP 200 with an ncresponse.
func (e *env) directTry(page string, params map[string]string) (map[string]string, error) {
	v := url.Values{"PSPID": {pspid}, "USERID": {shop.DemoAPIUser}, "PSWD": {shop.DemoAPIPassword}}
	for k, val := range params {
		if val != "" {
			v.Set(k, val)
		}
	}
	v.Set("SHASIGN", sign("SHA-512", v, passphrase, nil))
	resp, err := e.client.PostForm(e.srv.URL+"/ncol/test/"+page, v)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d %s", page, resp.StatusCode, body)
	}
	var doc struct {
		XMLName xml.Name
		Attrs   []xml.Attr `xml:",any,attr"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil || doc.XMLName.Local != "ncresponse" {
		return nil, fmt.Errorf("%s: not an ncresponse: %v %s", page, err, body)
	}
	m := map[string]string{}
	for _, a := range doc.Attrs {
		m[a.Name.Local] = a.Value
	}
	return m, nil
}

// A DES whose AMOUNT is below what is left of an authorisation closes the
// order (all of it is cancelled), but an AMOUNT above what is left is
// refused (TestDirectLinkMaintenanceAmounts, "DES after partial DEL
// above"). Raced by a partial DEL on the same PAYID (and, every other
// round, a SAS), whatever the order the answers must tell what happened:
// a DES answered 6 had its AMOUNT within what it cancelled and names that
// amount; a DEL answered 6 lowered the debit by its amount; a SAS answered
// 9 names what was captured. The acquirer's own journal agrees: at most one
// of capture and cancellation reached it, the one the debit shows, for the
// debit's amount. Both engines, real HTTP, bounded rounds.
func TestDirectLinkDeletionsAndCaptureRacingOnOnePAYID(t *testing.T) {
	rounds := 24
	if testing.Short() {
		rounds = 8
	}
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnvOn(t, eng.Open)
			// The acquirer over the database's journal, so that what it
			// recorded can be read back (the env's own simulator keeps it
			// in memory). Set before any operation is sent.
			e.acq.Connector = simulator.New(simulator.Config{Clock: e.clock, TimeoutHold: 50 * time.Millisecond, Journal: e.db})
			ctx := context.Background()
			const auth, desAmount, delAmount = 1000, 800, 300
			seen := map[string]int{}
			for i := range rounds {
				orderID := fmt.Sprintf("DLRACE-%s-%d", eng.Name, i)
				r := e.order(map[string]string{"ORDERID": orderID, "AMOUNT": fmt.Sprint(auth), "CARDNO": "4970100000000055",
					"ED": "1232", "CVC": "123", "ECI": "7"})
				if r["STATUS"] != "5" {
					t.Fatalf("authorisation: %v", r)
				}
				orders, err := e.db.OrdersByOrderID(ctx, shop.DemoShopID, "TEST", orderID)
				if err != nil || len(orders) != 1 {
					t.Fatal(orders, err)
				}
				uuid := orders[0].TransactionUUID
				ops := []map[string]string{
					{"OPERATION": "DES", "AMOUNT": fmt.Sprint(desAmount)},
					{"OPERATION": "DEL", "AMOUNT": fmt.Sprint(delAmount)},
				}
				if i%2 == 1 {
					ops = append(ops, map[string]string{"OPERATION": "SAS"})
				}
				got := make([]map[string]string, len(ops))
				errs := make([]error, len(ops))
				start := make(chan struct{})
				var wg sync.WaitGroup
				for k, op := range ops {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						op["PAYID"] = r["PAYID"]
						got[k], errs[k] = e.directTry("maintenancedirect.asp", op)
					}()
				}
				close(start)
				wg.Wait()
				for k := range ops {
					if errs[k] != nil {
						t.Fatalf("#%d %s: %v", i, ops[k]["OPERATION"], errs[k])
					}
				}
				_, d, err := e.payments.Get(ctx, shop.DemoShopID, uuid)
				if err != nil {
					t.Fatal(err)
				}
				amount := formatAmountTest(d.Amount)
				okd := map[string]bool{}
				var retry []string
				var outcome []string
				for k, a := range got {
					op := ops[k]["OPERATION"]
					outcome = append(outcome, op+":"+a["NCERROR"]+"/"+a["STATUS"])
					switch a["NCERROR"] {
					case "0":
						okd[op] = true
					case "50001111", "50001127":
						// Refused: amount above what is left, or the
						// order no longer in a status that allows it.
						continue
					case "40001011":
						// "Please try again": while a cancellation or a
						// capture of the order is pending at the
						// acquirer. Only then.
						retry = append(retry, op)
						continue
					default:
						t.Errorf("#%d %s: NCERROR %s (%s): a race must be answered with a refusal, not %v", i, op,
							a["NCERROR"], a["NCERRORPLUS"], a)
						continue
					}
					switch op {
					case "DES":
						if a["STATUS"] != "6" || d.DetailedStatus != payment.Cancelled || d.Amount < desAmount || a["amount"] != amount {
							t.Errorf("#%d: DES AMOUNT %d answered STATUS %s amount %s; the debit is %s for %d (DEL %s)", i, desAmount,
								a["STATUS"], a["amount"], d.DetailedStatus, d.Amount, got[1]["NCERROR"])
						}
					case "DEL":
						if a["STATUS"] != "6" || d.Amount != auth-delAmount || a["amount"] != "3" {
							t.Errorf("#%d: DEL AMOUNT %d answered STATUS %s amount %s; the debit is %s for %d", i, delAmount,
								a["STATUS"], a["amount"], d.DetailedStatus, d.Amount)
						}
					case "SAS":
						if (a["STATUS"] != "9" && a["STATUS"] != "91") || d.DetailedStatus != payment.Captured || a["amount"] != amount {
							t.Errorf("#%d: SAS answered STATUS %s amount %s; the debit is %s for %d", i, a["STATUS"], a["amount"],
								d.DetailedStatus, d.Amount)
						}
					}
				}
				seen[strings.Join(outcome, " ")]++
				cancelled := okd["DES"] && d.DetailedStatus == payment.Cancelled
				captured := okd["SAS"] && d.DetailedStatus == payment.Captured
				if len(retry) > 0 && !cancelled && !captured {
					t.Errorf("#%d: %v answered 40001011 with no cancellation or capture in progress: %v; the debit is %s", i, retry, outcome,
						d.DetailedStatus)
				}
				if !okd["DEL"] && d.Amount != auth {
					t.Errorf("#%d: no DEL performed, the debit is %s for %d", i, d.DetailedStatus, d.Amount)
				}
				if okd["DES"] && okd["SAS"] {
					t.Errorf("#%d: both DES and SAS performed: %v", i, outcome)
				}

				// The acquirer's journal: what it performed is what the
				// debit shows.
				capt, captured, err := e.db.LookupOperation(ctx, uuid+"-capture")
				if err != nil {
					t.Fatal(err)
				}
				canc, cancelled, err := e.db.LookupOperation(ctx, uuid+"-cancel")
				if err != nil {
					t.Fatal(err)
				}
				authz, found, err := e.db.LookupOperation(ctx, uuid)
				if err != nil || !found {
					t.Fatalf("#%d: the authorisation in the journal: %v %v", i, found, err)
				}
				if captured && cancelled {
					t.Errorf("#%d: both a capture (%+v) and a cancellation (%+v) reached the acquirer", i, capt.Result, canc.Result)
				}
				switch d.DetailedStatus {
				case payment.Captured:
					if !captured || !capt.Result.Approved || capt.Amount != d.Amount || authz.Captured != d.Amount || d.CapturedAmount != d.Amount {
						t.Errorf("#%d: debit CAPTURED for %d (%d captured); the acquirer: capture %v %+v, %d captured of the authorisation",
							i, d.Amount, d.CapturedAmount, captured, capt.Result, authz.Captured)
					}
				case payment.Cancelled:
					if !cancelled || !canc.Result.Approved || !authz.Cancelled || authz.Captured != 0 {
						t.Errorf("#%d: debit CANCELLED; the acquirer: cancellation %v %+v, authorisation cancelled %v captured %d",
							i, cancelled, canc.Result, authz.Cancelled, authz.Captured)
					}
				default:
					if captured || cancelled || authz.Cancelled || authz.Captured != 0 {
						t.Errorf("#%d: debit %s; the acquirer has capture %v, cancellation %v", i, d.DetailedStatus, captured, cancelled)
					}
				}
				// One operation recorded per answer that performed one.
				payid := mustPAYID(t, r["PAYID"])
				recorded, err := e.db.OrderOps(ctx, payid)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, op := range recorded {
					if op.NCError == "0" {
						n++
					}
				}
				if n != len(okd) {
					t.Errorf("#%d: %d operations recorded as performed, %d answered so: %v", i, n, len(okd), outcome)
				}
			}
			t.Logf("outcomes: %v", seen)
		})
	}
}

// formatAmountTest is an amount in cents as DirectLink answers it (12.5,
// 7, 0.05).
func formatAmountTest(cents int64) string {
	s := fmt.Sprintf("%d.%02d", cents/100, cents%100)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Refunds of one captured PAYID sent at once: two RFD of 4.00, an RFS of
// 3.00, an RFS without AMOUNT (what is left when it reserves it) and a DES
// (refused: the order is captured). Whatever the order, the refunds
// answered 0 add up to what the debit shows refunded, never more than the
// 10.00 captured; each names its amount, and the acquirer's journal holds
// each as an approved refund of that amount, its capture's refunded total
// being the debit's. Both engines, real HTTP, bounded rounds.
func TestDirectLinkRefundsRacingOnOnePAYID(t *testing.T) {
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newEnvOn(t, eng.Open)
			e.acq.Connector = simulator.New(simulator.Config{Clock: e.clock, TimeoutHold: 50 * time.Millisecond, Journal: e.db})
			ctx := context.Background()
			seen := map[string]int{}
			for i := range rounds {
				orderID := fmt.Sprintf("RFRACE-%s-%d", eng.Name, i)
				r := e.order(map[string]string{"ORDERID": orderID, "AMOUNT": "1000", "CARDNO": "4970100000000055",
					"ED": "1232", "CVC": "123", "ECI": "7"})
				if r["STATUS"] != "5" {
					t.Fatalf("authorisation: %v", r)
				}
				if m := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "SAS"}); m["NCERROR"] != "0" {
					t.Fatalf("capture: %v", m)
				}
				orders, err := e.db.OrdersByOrderID(ctx, shop.DemoShopID, "TEST", orderID)
				if err != nil || len(orders) != 1 {
					t.Fatal(orders, err)
				}
				uuid := orders[0].TransactionUUID
				ops := []map[string]string{
					{"OPERATION": "RFD", "AMOUNT": "400"},
					{"OPERATION": "RFD", "AMOUNT": "400"},
					{"OPERATION": "RFS", "AMOUNT": "300"},
					{"OPERATION": "RFS"},
					{"OPERATION": "DES"},
				}
				got := make([]map[string]string, len(ops))
				errs := make([]error, len(ops))
				start := make(chan struct{})
				var wg sync.WaitGroup
				for k, op := range ops {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						op["PAYID"] = r["PAYID"]
						got[k], errs[k] = e.directTry("maintenancedirect.asp", op)
					}()
				}
				close(start)
				wg.Wait()
				var sum int64
				allOK := false
				var outcome []string
				for k, a := range got {
					if errs[k] != nil {
						t.Fatalf("#%d %v: %v", i, ops[k], errs[k])
					}
					op := ops[k]["OPERATION"] + ops[k]["AMOUNT"]
					outcome = append(outcome, op+":"+a["NCERROR"])
					switch {
					case a["NCERROR"] == "0" && ops[k]["OPERATION"] != "DES":
						cents, err := parseCents(a["amount"])
						if err != nil || a["STATUS"] != "81" || (ops[k]["AMOUNT"] != "" && fmt.Sprint(cents) != ops[k]["AMOUNT"]) || cents <= 0 {
							t.Errorf("#%d %s: answered %v", i, op, a)
						}
						sum += cents
						allOK = allOK || ops[k]["AMOUNT"] == ""
					case a["NCERROR"] == "50001129" && ops[k]["OPERATION"] != "DES", a["NCERROR"] == "50001127":
					default:
						t.Errorf("#%d %s: NCERROR %s (%s)", i, op, a["NCERROR"], a["NCERRORPLUS"])
					}
				}
				seen[strings.Join(outcome, " ")]++
				_, d, err := e.payments.Get(ctx, shop.DemoShopID, uuid)
				if err != nil {
					t.Fatal(err)
				}
				if d.RefundedAmount != sum || sum > 1000 || (allOK && sum != 1000) {
					t.Errorf("#%d: refunds answered 0 add up to %d (RFS of the rest among them: %v); the debit: %s, %d captured, %d refunded",
						i, sum, allOK, d.DetailedStatus, d.CapturedAmount, d.RefundedAmount)
				}
				capt, found, err := e.db.LookupOperation(ctx, uuid+"-capture")
				if err != nil || !found || capt.Refunded != d.RefundedAmount {
					t.Errorf("#%d: the acquirer's capture: %v %v, %d refunded; the debit %d", i, found, err, capt.Refunded, d.RefundedAmount)
				}
				recorded, err := e.db.OrderOps(ctx, mustPAYID(t, r["PAYID"]))
				if err != nil {
					t.Fatal(err)
				}
				var recordedSum int64
				for _, op := range recorded {
					if op.Operation != "RFD" && op.Operation != "RFS" {
						continue
					}
					refund, found, err := e.db.LookupOperation(ctx, op.TransactionUUID)
					if err != nil || !found || !refund.Result.Approved || refund.Amount != op.Amount {
						t.Errorf("#%d: %s PAYIDSUB %d of %d: the acquirer's refund %v %v %+v amount %d", i, op.Operation, op.PAYIDSUB,
							op.Amount, found, err, refund.Result, refund.Amount)
					}
					recordedSum += op.Amount
				}
				if recordedSum != sum {
					t.Errorf("#%d: refunds recorded add up to %d, answered %d", i, recordedSum, sum)
				}
			}
			t.Logf("outcomes: %v", seen)
		})
	}
}

// parseCents reads a DirectLink answer's amount (12.5, 7) in cents.
func parseCents(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "00")[:2]
	var w, f int64
	if _, err := fmt.Sscan(whole, &w); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(frac, &f); err != nil {
		return 0, err
	}
	return w*100 + f, nil
}
