package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// Transaction/Capture, Transaction/CancelOrRefund (CANCELLATION_ONLY, the
// whole debit) and Transaction/Update lowering the amount, three of each
// at once on one AUTHORISED debit, over real HTTP, many rounds: on SQLite,
// on PostgreSQL, and on PostgreSQL through two openpsp copies (calls sent
// to either). The claim on the transaction serializes them, so whatever
// the order:
//   - every call gets a V4 answer (HTTP 200): SUCCESS, or the status error
//     of a loser (PSP_011, PSP_075 for a cancellation of a captured debit),
//     or INT_999 only as the documented "in progress" of a capture or
//     cancellation under way; never another internal error;
//   - the acquirer's own journal holds at most one of capture and
//     cancellation, the one the debit shows, approved, for the debit's
//     amount (and the authorization records the same);
//   - a capture answered SUCCESS means CAPTURED, a cancellation answered
//     SUCCESS means CANCELLED; an Update answered SUCCESS is never undone
//     by a capture of the whole 1000;
//   - the outbox holds exactly one IPN for the capture or cancellation
//     (none when neither happened), whose payment (orderStatus,
//     orderEffectiveAmount, the debit's status and amount) is the final
//     one.
//
// On one copy, two rounds in three widen the window with the simulator's
// own faults on the capture and the cancellation (whichever is sent):
// FaultTimeout (held past the 300ms acquirer timeout, then performed) or
// FaultLost (held, never performed). The call that sent it answers
// INT_999 "being checked", the others meanwhile "in progress" or PSP_011;
// recovery settles it (a lost capture released, a lost cancellation sent
// again), and the same checks hold once it has.
func TestV4CaptureCancelUpdateRacingOnOneDebit(t *testing.T) {
	rounds := 10
	if testing.Short() {
		rounds = 4
	}
	run := func(t *testing.T, copies []*server, clk *clock.Fake) {
		s := copies[0]
		ctx := context.Background()
		ipnSink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(ipnSink.Close)
		pan, _ := card.ParsePAN("4970100000000055")
		tok, err := s.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: shop.DemoShopID, Mode: shop.ModeTest, PAN: pan,
			Expiry: card.Expiry{Month: 12, Year: time.Now().Year() + 3}, HolderName: "Claim Race", Origin: "V4"})
		if err != nil {
			t.Fatal(err)
		}
		const n = 3
		seen := map[string]int{}
		for i := range rounds {
			// Captured in three days: no capture job takes it meanwhile.
			a := answer(s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 1000, "currency": "EUR",
				"orderId": fmt.Sprintf("claim-race-%d", i), "formAction": "SILENT", "paymentMethodToken": tok.Value,
				"ipnTargetUrl":       ipnSink.URL + "/ipn",
				"transactionOptions": map[string]any{"cardOptions": map[string]any{"captureDelay": 3}}}))
			txs, _ := a["transactions"].([]any)
			if len(txs) != 1 || txs[0].(map[string]any)["detailedStatus"] != "AUTHORISED" {
				t.Fatalf("payment: %v", a)
			}
			uuid := txs[0].(map[string]any)["uuid"].(string)
			ipnsBefore := outboxEvents(t, s, uuid)
			fault := simulator.Fault(0)
			if clk != nil {
				fault = [...]simulator.Fault{0, simulator.FaultTimeout, simulator.FaultLost}[i%3]
			}
			if fault != 0 {
				s.Sim.InjectFault(uuid+"-capture", fault)
				s.Sim.InjectFault(uuid+"-cancel", fault)
			}

			type call struct {
				kind, name string
				body       map[string]any
			}
			var calls []call
			for k := range n {
				calls = append(calls,
					call{"capture", "Transaction/Capture", map[string]any{"uuids": []string{uuid}}},
					call{"cancel", "Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "resolutionMode": "CANCELLATION_ONLY"}},
					call{"update", "Transaction/Update", map[string]any{"uuid": uuid,
						"cardUpdate": map[string]any{"amount": 900 - 100*k, "currency": "EUR"}}})
			}
			got := make([]string, len(calls))
			start := make(chan struct{})
			var wg sync.WaitGroup
			for k, c := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					env, err := copies[k%len(copies)].v4Try(c.name, c.body)
					switch {
					case err != nil:
						got[k] = "FAILED " + err.Error()
					case env["status"] == "SUCCESS":
						got[k] = "SUCCESS"
					default:
						e := answer(env)
						got[k] = fmt.Sprintf("ERROR %v %v", e["errorCode"], e["detailedErrorMessage"])
					}
				}()
			}
			close(start)
			wg.Wait()

			if fault != 0 {
				// Recovery asks the acquirer about the operation whose
				// answer was lost (FaultTimeout: made; FaultLost: not).
				clk.Advance(time.Minute)
				err := pollUntil(recoveryDeadline(), 50*time.Millisecond, func() error {
					if _, err := s.Payments.RecoverRunning(ctx, 0, 10); err != nil {
						return err
					}
					if _, tx, err := s.Payments.Get(ctx, shop.DemoShopID, uuid); err != nil || tx.PendingOp != "" {
						return fmt.Errorf("after recovery: %s pending %q, %v", tx.DetailedStatus, tx.PendingOp, err)
					}
					return nil
				})
				if err != nil {
					t.Fatalf("#%d: %v (answers %v)", i, err, got)
				}
			}
			d := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))
			st, _ := d["detailedStatus"].(string)
			amount, _ := d["amount"].(float64)
			ok := map[string]int{}
			checked := map[string]int{} // answered "being checked"
			var updatedTo []float64
			for k, c := range calls {
				g := got[k]
				allowed := g == "SUCCESS" || strings.HasPrefix(g, "ERROR PSP_011 ")
				switch c.kind {
				case "capture":
					allowed = allowed || strings.HasPrefix(g, "ERROR INT_999 ") && strings.Contains(g, "a capture is in progress")
				case "cancel":
					allowed = allowed || strings.HasPrefix(g, "ERROR PSP_075 ") ||
						strings.HasPrefix(g, "ERROR INT_999 ") && strings.Contains(g, "a cancellation is in progress")
				}
				if fault != 0 && c.kind != "update" && strings.HasPrefix(g, "ERROR INT_999 ") && strings.Contains(g, "no answer from the acquirer in time") {
					allowed = true
					checked[c.kind]++
				}
				if !allowed {
					t.Errorf("#%d %s %v: %s", i, c.name, c.body, g)
				}
				if g == "SUCCESS" {
					ok[c.kind]++
					if c.kind == "update" {
						updatedTo = append(updatedTo, float64(c.body["cardUpdate"].(map[string]any)["amount"].(int)))
					}
				}
			}
			kinds := []string{}
			for k, g := range got {
				if f := strings.Fields(g); len(f) > 1 && f[0] == "ERROR" {
					g = f[1]
				}
				kinds = append(kinds, calls[k].kind+":"+g)
			}
			sort.Strings(kinds)
			seen[st+" "+strings.Join(kinds, ",")]++

			sent := ok["capture"] + ok["cancel"] + checked["capture"] + checked["cancel"]
			switch {
			case sent > 1:
				t.Errorf("#%d: %d captures and %d cancellations answered SUCCESS, %v being checked: %v", i, ok["capture"], ok["cancel"],
					checked, got)
			case fault != 0 && sent != 0 && ok["capture"]+ok["cancel"] != 0:
				t.Errorf("#%d: an operation answered SUCCESS with the acquirer's answer lost: %v", i, got)
			case ok["capture"] == 1 && st != "CAPTURED", ok["cancel"] == 1 && st != "CANCELLED":
				t.Errorf("#%d: capture %d, cancel %d answered SUCCESS; the debit is %s", i, ok["capture"], ok["cancel"], st)
			case st == "CAPTURED" && ok["capture"]+checked["capture"] != 1, st == "CANCELLED" && ok["cancel"]+checked["cancel"] != 1:
				t.Errorf("#%d: the debit is %s; answers %v", i, st, got)
			// A lost capture is released for a later one; a lost
			// cancellation is sent again by recovery itself.
			case fault == simulator.FaultLost && checked["capture"] == 1 && st != "AUTHORISED",
				fault == simulator.FaultLost && checked["cancel"] == 1 && st != "CANCELLED",
				fault == simulator.FaultTimeout && sent == 1 && st == "AUTHORISED":
				t.Errorf("#%d: fault %d, the debit is %s after recovery; answers %v", i, fault, st, got)
			case st != "CAPTURED" && st != "CANCELLED" && st != "AUTHORISED":
				t.Errorf("#%d: the debit is %s", i, st)
			}
			// The amount is 1000 only if no Update was accepted, else one
			// of the amounts an accepted Update set.
			if len(updatedTo) == 0 && amount != 1000 || len(updatedTo) > 0 && !containsFloat(updatedTo, amount) {
				t.Errorf("#%d: Updates accepted to %v; the debit is %s for %v", i, updatedTo, st, amount)
			}

			// The acquirer's journal.
			capt, captured, err := s.DB.LookupOperation(ctx, uuid+"-capture")
			if err != nil {
				t.Fatal(err)
			}
			canc, cancelled, err := s.DB.LookupOperation(ctx, uuid+"-cancel")
			if err != nil {
				t.Fatal(err)
			}
			authz, found, err := s.DB.LookupOperation(ctx, uuid)
			if err != nil || !found {
				t.Fatalf("#%d: the authorization in the journal: %v %v", i, found, err)
			}
			if captured && cancelled {
				t.Errorf("#%d: a capture (%+v) and a cancellation (%+v) both reached the acquirer", i, capt.Result, canc.Result)
			}
			switch st {
			case "CAPTURED":
				if !captured || !capt.Result.Approved || float64(capt.Amount) != amount || float64(authz.Captured) != amount {
					t.Errorf("#%d: CAPTURED for %v; the acquirer: capture %v %+v amount %d, authorization captured %d", i, amount,
						captured, capt.Result, capt.Amount, authz.Captured)
				}
			case "CANCELLED":
				if !cancelled || !canc.Result.Approved || !authz.Cancelled || authz.Captured != 0 {
					t.Errorf("#%d: CANCELLED; the acquirer: cancellation %v %+v, authorization cancelled %v captured %d", i,
						cancelled, canc.Result, authz.Cancelled, authz.Captured)
				}
			default:
				if captured || cancelled || authz.Cancelled || authz.Captured != 0 {
					t.Errorf("#%d: %s; the acquirer has capture %v, cancellation %v", i, st, captured, cancelled)
				}
			}

			// The IPNs this round wrote: one for the state change.
			ipns := outboxEvents(t, s, uuid)[len(ipnsBefore):]
			want := map[string]string{"CAPTURED": "payment.captured", "CANCELLED": "payment.cancelled"}[st]
			switch {
			case want == "" && len(ipns) != 0, want != "" && (len(ipns) != 1 || ipns[0].event != want):
				var evs []string
				for _, m := range ipns {
					evs = append(evs, m.event)
				}
				t.Errorf("#%d: the debit is %s; IPNs written: %v", i, st, evs)
			case want != "":
				var p struct {
					OrderStatus  string `json:"orderStatus"`
					OrderDetails struct {
						Effective float64 `json:"orderEffectiveAmount"`
					} `json:"orderDetails"`
					Transactions []struct {
						UUID, DetailedStatus, Status string
						Amount                       float64
					} `json:"transactions"`
				}
				if err := json.Unmarshal([]byte(ipns[0].payload), &p); err != nil {
					t.Fatal(err)
				}
				wantOrder := map[string]string{"CAPTURED": "PAID", "CANCELLED": "UNPAID"}[st]
				if len(p.Transactions) != 1 || p.Transactions[0].DetailedStatus != st || p.Transactions[0].Amount != amount ||
					p.OrderStatus != wantOrder || (st == "CAPTURED" && p.OrderDetails.Effective != amount) {
					t.Errorf("#%d: the debit is %s for %v; its IPN: %s", i, st, amount, ipns[0].payload)
				}
			}
		}
		t.Logf("outcomes: %v", seen)
	}

	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			clk := clock.NewFake(time.Now().UTC())
			run(t, []*server{startServer(t, serverOpts{engine: engine, clock: clk,
				env: map[string]string{"OPENPSP_ACQUIRER_TIMEOUT": "300ms"}})}, clk)
		})
	}
	t.Run("postgres-two-copies", func(t *testing.T) {
		// Each copy's test acquirer is over the shared database's
		// journal: one acquirer, as in production.
		d := newDeployment(t, "postgres")
		a := d.startApp(t, appOpts{})
		b := d.startApp(t, appOpts{})
		run(t, []*server{a, b}, nil)
	})
}

func containsFloat(list []float64, v float64) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

type outboxIPN struct{ event, payload string }

// outboxEvents lists the IPNs written for the payment of debit uuid,
// oldest first.
func outboxEvents(t testing.TB, s *server, uuid string) []outboxIPN {
	t.Helper()
	rows, err := s.DB.Reader().Query(`SELECT event, payload FROM outbox WHERE channel = 'ipn' AND payload LIKE $1
		ORDER BY created_at, id`, "%"+uuid+"%")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxIPN
	for rows.Next() {
		var m outboxIPN
		if err := rows.Scan(&m.event, &m.payload); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The DirectLink race of internal/ogone's
// TestDirectLinkDeletionsAndCaptureRacingOnOnePAYID through two openpsp
// copies on one PostgreSQL database, the calls sent to either: a DES of
// 8.00, a partial DEL of 3.00 and a SAS on one PAYID of 10.00. A DES
// answered 6 cancelled at least its AMOUNT and names what it cancelled; a
// DEL answered 6 left 7.00; a SAS answered 9 names what was captured; the
// acquirer's journal (one for both copies) holds at most one of capture and
// cancellation, the one the debit shows.
func TestDirectLinkDeletionsAndCaptureRacingThroughTwoCopies(t *testing.T) {
	d := newDeployment(t, "postgres")
	copies := []*server{d.startApp(t, appOpts{}), d.startApp(t, appOpts{})}
	s := copies[0]
	ctx := context.Background()
	seen := map[string]int{}
	for i := range 12 {
		orderID := fmt.Sprintf("dl-copies-%d", i)
		o, err := directLinkCall(s, "orderdirect", demoAccount, map[string]string{"ORDERID": orderID, "AMOUNT": "1000",
			"CURRENCY": "EUR", "CARDNO": "4970100000000055", "ED": futureExpiry(), "CVC": "123", "OPERATION": "RES", "ECI": "7"})
		if err != nil || o["STATUS"] != "5" {
			t.Fatalf("order: %v %v", o, err)
		}
		ord := answer(s.v4(t, "Order/Get", map[string]any{"orderId": orderID}))
		uuid := ord["transactions"].([]any)[0].(map[string]any)["uuid"].(string)
		ops := []map[string]string{{"OPERATION": "DES", "AMOUNT": "800"}, {"OPERATION": "DEL", "AMOUNT": "300"}, {"OPERATION": "SAS"}}
		got := make([]map[string]string, len(ops))
		errs := make([]error, len(ops))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for k, op := range ops {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				op["PAYID"] = o["PAYID"]
				got[k], errs[k] = directLinkCall(copies[(i+k)%2], "maintenancedirect", demoAccount, op)
			}()
		}
		close(start)
		wg.Wait()
		_, debit, err := s.Payments.Get(ctx, shop.DemoShopID, uuid)
		if err != nil {
			t.Fatal(err)
		}
		amount := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%d.%02d", debit.Amount/100, debit.Amount%100), "0"), ".")
		var outcome, retry []string
		okd := map[string]bool{}
		for k, a := range got {
			op := ops[k]["OPERATION"]
			if errs[k] != nil {
				t.Fatalf("#%d %s: %v", i, op, errs[k])
			}
			outcome = append(outcome, op+":"+a["NCERROR"]+"/"+a["STATUS"])
			switch a["NCERROR"] {
			case "0":
				okd[op] = true
			case "50001111", "50001127":
				continue
			case "40001011":
				// "Please try again" while a cancellation or a capture of
				// the order is pending at the acquirer (as V4's INT_999):
				// checked below, once the winner is known.
				retry = append(retry, op)
				continue
			default:
				t.Errorf("#%d %s: NCERROR %s (%s)", i, op, a["NCERROR"], a["NCERRORPLUS"])
				continue
			}
			switch {
			case op == "DES" && (a["STATUS"] != "6" || debit.DetailedStatus != "CANCELLED" || debit.Amount < 800 || a["amount"] != amount),
				op == "DEL" && (a["STATUS"] != "6" || debit.Amount != 700 || a["amount"] != "3"),
				op == "SAS" && ((a["STATUS"] != "9" && a["STATUS"] != "91") || debit.DetailedStatus != "CAPTURED" || a["amount"] != amount):
				t.Errorf("#%d %s: STATUS %s amount %s; the debit is %s for %d (%v)", i, op, a["STATUS"], a["amount"],
					debit.DetailedStatus, debit.Amount, outcome)
			}
		}
		seen[strings.Join(outcome, " ")]++
		cancelling := okd["DES"] && debit.DetailedStatus == "CANCELLED"
		capturing := okd["SAS"] && debit.DetailedStatus == "CAPTURED"
		for _, op := range retry {
			if op == "DES" && !capturing || op == "SAS" && !cancelling || op == "DEL" && !cancelling && !capturing {
				t.Errorf("#%d %s: 40001011 with no other operation in progress: %v; the debit is %s", i, op, outcome, debit.DetailedStatus)
			}
		}
		if okd["DES"] && okd["SAS"] || !okd["DEL"] && debit.Amount != 1000 {
			t.Errorf("#%d: %v; the debit is %s for %d", i, outcome, debit.DetailedStatus, debit.Amount)
		}
		capt, captured, err := s.DB.LookupOperation(ctx, uuid+"-capture")
		if err != nil {
			t.Fatal(err)
		}
		_, cancelled, err := s.DB.LookupOperation(ctx, uuid+"-cancel")
		if err != nil {
			t.Fatal(err)
		}
		authz, _, err := s.DB.LookupOperation(ctx, uuid)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case captured && cancelled,
			debit.DetailedStatus == "CAPTURED" && (!captured || capt.Amount != debit.Amount || authz.Captured != debit.Amount),
			debit.DetailedStatus == "CANCELLED" && (!cancelled || !authz.Cancelled),
			debit.DetailedStatus == "AUTHORISED" && (captured || cancelled):
			t.Errorf("#%d: the debit is %s for %d; the acquirer: capture %v (%d), cancellation %v", i, debit.DetailedStatus,
				debit.Amount, captured, capt.Amount, cancelled)
		}
	}
	t.Logf("outcomes: %v", seen)
}
