package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// Transaction/CancelOrRefund on an AUTHORISED debit (a cancellation) when
// the acquirer's answer is not "cancelled", through real HTTP on both
// engines, as the capture tests of money_exact_test.go do for
// Transaction/Capture. The merchant must never read SUCCESS with a debit
// that is not CANCELLED, nor an IPN with a cancellation that was not made.

// cancelFaultServer starts a server whose acquirer answers within 1s (short,
// as the faults that hold a call wait that long; 300ms failed the first
// payment with ACQ_999 on a loaded machine with the engines side by side) and
// an IPN receiver, and pays an AUTHORISED debit (captured in three days)
// whose IPN goes to the receiver; the authorization's IPN is taken.
func cancelFaultServer(t *testing.T, engine, orderID string) (*server, *clock.Fake, string, <-chan string) {
	t.Helper()
	return cancelFaultServerJobs(t, engine, orderID, 0)
}

// cancelFaultServerJobs is cancelFaultServer whose jobs without an
// interval of their own run every jobs (0: the harness's 50ms); with an
// interval of its own, it returns once the capture job made its first run.
func cancelFaultServerJobs(t *testing.T, engine, orderID string, jobs time.Duration) (*server, *clock.Fake, string, <-chan string) {
	t.Helper()
	clk := clock.NewFake(time.Now().UTC())
	s := startServer(t, serverOpts{engine: engine, clock: clk, env: map[string]string{"OPENPSP_ACQUIRER_TIMEOUT": "1s"}, jobs: jobs})
	if jobs > 0 {
		captureJobRan(t, s)
	}
	merchant, ipns := krAnswerMerchant(t)
	pan, _ := card.ParsePAN("4970100000000055")
	tok, err := s.Vault.TokenizeNow(context.Background(), vault.TokenizeRequest{ShopID: shop.DemoShopID, Mode: shop.ModeTest,
		PAN: pan, Expiry: card.Expiry{Month: 12, Year: time.Now().Year() + 3}, HolderName: "Cancel Buyer", Origin: "V4"})
	if err != nil {
		t.Fatal(err)
	}
	a := answer(s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 1000, "currency": "EUR", "orderId": orderID,
		"formAction": "SILENT", "paymentMethodToken": tok.Value, "ipnTargetUrl": merchant.URL + "/ipn",
		"transactionOptions": map[string]any{"cardOptions": map[string]any{"captureDelay": 3}}}))
	txs, _ := a["transactions"].([]any)
	if len(txs) != 1 || txs[0].(map[string]any)["detailedStatus"] != "AUTHORISED" {
		t.Fatalf("payment: %v", a)
	}
	uuid := txs[0].(map[string]any)["uuid"].(string)
	if got := ipnStatuses(t, ipns, uuid, 15*time.Second, 1); len(got) != 1 || got[0] != "AUTHORISED" {
		t.Fatalf("the payment's IPN: %v", got)
	}
	return s, clk, uuid, ipns
}

// captureJobRan waits for the first run of the server's capture job, which
// is at its start, not one interval later: until then a refund made by the
// test (due at once) could be remitted by it between two steps of the test,
// as happened on a loaded machine (the refund CAPTURED before the test
// cancelled it). After it, the next run is one interval later.
func captureJobRan(t *testing.T, s *server) {
	t.Helper()
	err := pollUntil(30*time.Second, 20*time.Millisecond, func() error {
		for _, outcome := range []string{"ok", "error"} {
			if metricValue(t, s, `openpsp_job_runs_total{job="payments.capture-due",outcome="`+outcome+`"}`) > 0 {
				return nil
			}
		}
		return fmt.Errorf("the capture job has not run yet")
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ipnStatuses returns the detailedStatus of transaction uuid in each IPN
// that arrives within wait, stopping once it has want of them.
func ipnStatuses(t *testing.T, ipns <-chan string, uuid string, wait time.Duration, want int) []string {
	t.Helper()
	if want <= 0 {
		t.Fatalf("ipnStatuses waits for want > 0 IPNs; settledIPNStatuses tells all of them, or none")
	}
	var got []string
	end := time.After(wait)
	for len(got) < want {
		select {
		case raw := <-ipns:
			got = append(got, ipnStatus(t, raw, uuid))
		case <-end:
			return got
		}
	}
	return got
}

// settledIPNStatuses is the detailedStatus of transaction uuid in each IPN
// that arrived by the time the server's outbox settled (settledIPNs).
func settledIPNStatuses(t *testing.T, s *server, ipns <-chan string, uuid string) []string {
	t.Helper()
	var got []string
	for _, raw := range settledIPNs(t, s, ipns) {
		got = append(got, ipnStatus(t, raw, uuid))
	}
	return got
}

// ipnStatus is the detailedStatus of transaction uuid in an IPN's
// kr-answer, "absent" when the IPN does not hold it.
func ipnStatus(t *testing.T, raw, uuid string) string {
	t.Helper()
	if tx := ipnTransaction(t, raw, uuid); tx != nil {
		return fmt.Sprint(tx["detailedStatus"])
	}
	return "absent"
}

// ipnTransaction is transaction uuid as an IPN's kr-answer tells it, nil
// when the IPN does not hold it.
func ipnTransaction(t *testing.T, raw, uuid string) map[string]any {
	t.Helper()
	var p struct {
		Transactions []map[string]any `json:"transactions"`
	}
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatalf("IPN kr-answer: %v %q", err, raw)
	}
	for _, tx := range p.Transactions {
		if tx["uuid"] == uuid {
			return tx
		}
	}
	return nil
}

// settledIPNs waits until the server's outbox holds no IPN still to be
// delivered, then returns the IPNs (kr-answer) the receiver took. An IPN
// is written in the transaction of the change it tells, so once the change
// is visible, and the outbox settled, every IPN it caused has reached the
// receiver (which takes it before answering): a test expecting none, or
// exactly one, sees an extra one without waiting a quiet window for it.
func settledIPNs(t *testing.T, s *server, ipns <-chan string) []string {
	t.Helper()
	err := pollUntil(recoveryDeadline(), 20*time.Millisecond, func() error {
		l, err := s.DB.ListOutbox(context.Background(), outbox.Filter{Channel: outbox.ChannelIPN, Statuses: []string{outbox.StatusPending}, Limit: 1})
		if err != nil {
			return err
		}
		if len(l) > 0 {
			return fmt.Errorf("IPN %s (%s) not delivered yet: %d attempts, last error %q", l[0].ID, l[0].Event, l[0].Attempts, l[0].LastError)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		select {
		case raw := <-ipns:
			got = append(got, raw)
		default:
			return got
		}
	}
}

// cancelCall sends Transaction/CancelOrRefund of the whole debit.
func cancelCall(t *testing.T, s *server, uuid string, header ...string) map[string]any {
	t.Helper()
	env, err := s.v4Try("Transaction/CancelOrRefund", map[string]any{"uuid": uuid}, header...)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func debitStatus(t *testing.T, s *server, uuid string) any {
	t.Helper()
	return answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))["detailedStatus"]
}

// recoverUntil runs recovery (after the clock passed the acquirer timeout)
// until the debit is want.
func recoverUntil(t *testing.T, s *server, clk *clock.Fake, uuid, want string) {
	t.Helper()
	clk.Advance(time.Minute)
	err := pollUntil(recoveryDeadline(), 50*time.Millisecond, func() error {
		if _, err := s.Payments.RecoverRunning(context.Background(), 0, 10); err != nil {
			return err
		}
		if st := debitStatus(t, s, uuid); st != want {
			return fmt.Errorf("after recovery the debit is %v, want %s", st, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A cancellation the acquirer cannot take (unreachable) was not made: it
// answers INT_999, the debit stays AUTHORISED, no IPN; a retry with the
// same Idempotency-Key (an INT_999 is not kept under it) cancels, once.
func TestV4CancelTheAcquirerCannotTakeIsAnError(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // each engine has its own server and database; most of a run is waiting
			s, _, uuid, ipns := cancelFaultServer(t, engine, "cancel-down")
			key := "cancel-down-" + engine
			s.Sim.InjectFault(uuid+"-cancel", simulator.FaultUnavailable)
			env := cancelCall(t, s, uuid, "Idempotency-Key", key)
			if e := answer(env); env["status"] != "ERROR" || e["errorCode"] != "INT_999" || debitStatus(t, s, uuid) != "AUTHORISED" {
				t.Fatalf("cancellation the acquirer could not take: %v %v; the debit is %v", env["status"], e, debitStatus(t, s, uuid))
			}
			if got := settledIPNStatuses(t, s, ipns, uuid); len(got) != 0 {
				t.Fatalf("IPN after a cancellation not made: %v", got)
			}
			env = cancelCall(t, s, uuid, "Idempotency-Key", key)
			if a := answer(env); env["status"] != "SUCCESS" || a["detailedStatus"] != "CANCELLED" || debitStatus(t, s, uuid) != "CANCELLED" {
				t.Fatalf("cancellation retried: %v %v", env["status"], a)
			}
			if got := settledIPNStatuses(t, s, ipns, uuid); len(got) != 1 || got[0] != "CANCELLED" {
				t.Fatalf("IPN of the cancellation: %v", got)
			}
			if res, found, err := s.Sim.Inquire(context.Background(), uuid+"-cancel"); err != nil || !found || !res.Approved {
				t.Fatalf("the acquirer's cancellation: %+v found %v, %v", res, found, err)
			}
		})
	}
}

// A cancellation the acquirer refuses was not made: ERROR PSP_003 (payment
// refused, as a refused capture answers) with the acquirer's response code
// in detailedErrorCode, the same under the same Idempotency-Key; the debit
// stays AUTHORISED, no IPN, and Transaction/Get shows the refusal as after
// one recovery settles refused (errorCode ACQ_001, the acquirer's code).
func TestV4CancelTheAcquirerRefusesIsAnError(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // each engine has its own server and database; most of a run is waiting
			s, _, uuid, ipns := cancelFaultServer(t, engine, "cancel-refused")
			key := "cancel-refused-" + engine
			s.Sim.InjectFault(uuid+"-cancel", simulator.FaultRefused)
			for i := range 2 {
				env := cancelCall(t, s, uuid, "Idempotency-Key", key)
				e := answer(env)
				detail, _ := e["detailedErrorMessage"].(string)
				if env["status"] != "ERROR" || e["errorCode"] != "PSP_003" || e["detailedErrorCode"] != "05" ||
					!strings.Contains(detail, "refused the cancellation") || len([]rune(detail)) > 127 ||
					debitStatus(t, s, uuid) != "AUTHORISED" {
					t.Fatalf("call %d: cancellation the acquirer refused: %v %v; the debit is %v", i+1, env["status"], e, debitStatus(t, s, uuid))
				}
			}
			if got := settledIPNStatuses(t, s, ipns, uuid); len(got) != 0 {
				t.Fatalf("IPN after a refused cancellation: %v", got)
			}
			tx := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))
			if detail, _ := tx["detailedErrorMessage"].(string); tx["errorCode"] != "ACQ_001" || tx["detailedErrorCode"] != "05" ||
				!strings.Contains(detail, "refused the cancellation") {
				t.Fatalf("Transaction/Get after the refused cancellation: %v", tx)
			}
		})
	}
}

// A cancellation whose answer is lost after the acquirer made it
// (FaultTimeout): nobody knows yet, so INT_999 "being checked", not kept
// under the Idempotency-Key; a retry with or without the key answers the
// same while it is pending, sends nothing twice and no IPN tells anything;
// recovery asks the acquirer and records CANCELLED with one IPN; retries
// after that answer PSP_011 (already cancelled), nothing more is sent.
func TestV4CancelTheAcquirerDoesNotAnswerIsCheckedThenCancelled(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // each engine has its own server and database; most of a run is waiting
			s, clk, uuid, ipns := cancelFaultServer(t, engine, "cancel-lost")
			key := "cancel-lost-" + engine
			s.Sim.InjectFault(uuid+"-cancel", simulator.FaultTimeout)
			pending := func(what string, env map[string]any) {
				t.Helper()
				e := answer(env)
				detail, _ := e["detailedErrorMessage"].(string)
				if st := debitStatus(t, s, uuid); env["status"] != "ERROR" || e["errorCode"] != "INT_999" ||
					!strings.Contains(detail, "being checked") || len([]rune(detail)) > 127 || st == "CANCELLED" {
					t.Fatalf("%s, the acquirer's answer unknown: %v %v; the debit is %v", what, env["status"], e, st)
				}
			}
			pending("cancellation", cancelCall(t, s, uuid, "Idempotency-Key", key))
			pending("cancellation retried with its key", cancelCall(t, s, uuid, "Idempotency-Key", key))
			pending("cancellation retried without a key", cancelCall(t, s, uuid))
			if got := settledIPNStatuses(t, s, ipns, uuid); len(got) != 0 {
				t.Fatalf("IPN while the cancellation is being checked: %v", got)
			}

			recoverUntil(t, s, clk, uuid, "CANCELLED")
			if got := settledIPNStatuses(t, s, ipns, uuid); len(got) != 1 || got[0] != "CANCELLED" {
				t.Fatalf("IPN of the cancellation recovery found: %v", got)
			}
			for _, h := range [][]string{{"Idempotency-Key", key}, nil} {
				env := cancelCall(t, s, uuid, h...)
				if e := answer(env); env["status"] != "ERROR" || e["errorCode"] != "PSP_011" {
					t.Fatalf("cancellation retried (%v) after recovery: %v %v", h, env["status"], e)
				}
			}
			if res, found, err := s.Sim.Inquire(context.Background(), uuid+"-cancel"); err != nil || !found || !res.Approved {
				t.Fatalf("the acquirer's cancellation: %+v found %v, %v", res, found, err)
			}
			if got := settledIPNStatuses(t, s, ipns, uuid); len(got) != 0 || debitStatus(t, s, uuid) != "CANCELLED" {
				t.Fatalf("after the retries: IPN %v, the debit is %v", got, debitStatus(t, s, uuid))
			}
		})
	}
}

// A cancellation whose request never reached the acquirer, its answer lost
// as in a timeout (FaultLost): INT_999 "being checked"; recovery finds no
// such cancellation and sends it again under the same operation id, which
// cancels the debit with one IPN; a retry then (same key: the INT_999 was
// not kept, or none) answers PSP_011, the debit being cancelled, and sends
// nothing more.
func TestV4CancelLostBeforeTheAcquirerRetriedAfterRecovery(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // each engine has its own server and database; most of a run is waiting
			s, clk, uuid, ipns := cancelFaultServer(t, engine, "cancel-never-sent")
			key := "cancel-never-sent-" + engine
			s.Sim.InjectFault(uuid+"-cancel", simulator.FaultLost)
			env := cancelCall(t, s, uuid, "Idempotency-Key", key)
			e := answer(env)
			detail, _ := e["detailedErrorMessage"].(string)
			if env["status"] != "ERROR" || e["errorCode"] != "INT_999" || !strings.Contains(detail, "being checked") {
				t.Fatalf("cancellation, the acquirer's answer unknown: %v %v; the debit is %v", env["status"], e, debitStatus(t, s, uuid))
			}

			recoverUntil(t, s, clk, uuid, "CANCELLED")
			if got := settledIPNStatuses(t, s, ipns, uuid); len(got) != 1 || got[0] != "CANCELLED" {
				t.Fatalf("IPN of the cancellation: %v", got)
			}
			if res, found, err := s.Sim.Inquire(context.Background(), uuid+"-cancel"); err != nil || !found || !res.Approved {
				t.Fatalf("the acquirer's cancellation: %+v found %v, %v", res, found, err)
			}
			for _, h := range [][]string{{"Idempotency-Key", key}, nil} {
				env := cancelCall(t, s, uuid, h...)
				if e := answer(env); env["status"] != "ERROR" || e["errorCode"] != "PSP_011" {
					t.Fatalf("cancellation retried (%v) after recovery: %v %v", h, env["status"], e)
				}
			}
			if got := settledIPNStatuses(t, s, ipns, uuid); len(got) != 0 || debitStatus(t, s, uuid) != "CANCELLED" {
				t.Fatalf("after the retries: IPN %v, the debit is %v", got, debitStatus(t, s, uuid))
			}
		})
	}
}

// A refund (CancelOrRefund on a CAPTURED debit) under the same faults. As
// for a payment, the answer is SUCCESS with the refund (CREDIT) as it is,
// which tells the truth: never PAID for a refund not made. Unreachable:
// ERROR (ACQ_999), its amount back on the debit, an IPN; refused: REFUSED
// (ACQ_001, the acquirer's 05), the same; no answer (made or lost): RUNNING
// with its amount reserved, no IPN yet; recovery makes the one the
// acquirer made AUTHORISED (PAID) and the lost one ERROR, its amount given
// back, each with one IPN. The same Idempotency-Key replays the first
// answer and refunds nothing more.
func TestV4RefundUnderAcquirerFaults(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // each engine has its own server and database; most of a run is waiting
			for _, f := range []struct {
				name                      string
				fault                     simulator.Fault
				status, errorCode         string // the answer's CREDIT
				reserved                  float64
				ipn, recovered            string // "" none
				recoveredStatus           string
				recoveredReserved         float64
				acquirerHas, acquirerMade bool
			}{
				{"unavailable", simulator.FaultUnavailable, "ERROR", "ACQ_999", 0, "ERROR", "", "ERROR", 0, false, false},
				{"refused", simulator.FaultRefused, "REFUSED", "ACQ_001", 0, "REFUSED", "", "REFUSED", 0, true, false},
				{"timeout", simulator.FaultTimeout, "INITIAL", "<nil>", 300, "", "AUTHORISED", "AUTHORISED", 300, true, true},
				{"lost", simulator.FaultLost, "INITIAL", "<nil>", 300, "", "ERROR", "ERROR", 0, false, false},
			} {
				// Hourly jobs: with the harness's 50ms capture job, the
				// refund recovery makes AUTHORISED could be remitted
				// (CAPTURED) before Transaction/Get sees it.
				s, clk, uuid, ipns := cancelFaultServerJobs(t, engine, "refund-"+f.name, time.Hour)
				if env, err := s.v4Try("Transaction/Capture", map[string]any{"uuids": []string{uuid}}); err != nil || env["status"] != "SUCCESS" {
					t.Fatalf("capture: %v %v", env, err)
				}
				settledIPNStatuses(t, s, ipns, uuid) // the capture's, if any
				refunded := func() any {
					d := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))
					cr, _ := cardDetail(d, "captureResponse").(map[string]any)
					return cr["refundAmount"]
				}
				s.Sim.InjectNextFault(simulator.KindRefund, f.fault)
				key := "refund-" + f.name
				refund := func() map[string]any {
					env, err := s.v4Try("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 300, "currency": "EUR"}, "Idempotency-Key", key)
					if err != nil {
						t.Fatal(err)
					}
					return env
				}
				env := refund()
				a := answer(env)
				credit, _ := a["uuid"].(string)
				if env["status"] != "SUCCESS" || a["operationType"] != "CREDIT" || a["detailedStatus"] != f.status ||
					fmt.Sprint(a["errorCode"]) != f.errorCode || a["status"] == "PAID" || refunded() != f.reserved {
					t.Fatalf("%s: refund answered %v %v; the debit's refundAmount %v", f.name, env["status"], a, refunded())
				}
				var want []string
				if f.ipn != "" {
					want = []string{f.ipn}
				}
				if got := settledIPNStatuses(t, s, ipns, credit); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s: IPN %v, want %v", f.name, got, want)
				}
				if env := refund(); answer(env)["uuid"] != credit || answer(env)["detailedStatus"] != f.status {
					t.Fatalf("%s: retried with its key: %v", f.name, env)
				}
				clk.Advance(time.Minute)
				err := pollUntil(recoveryDeadline(), 50*time.Millisecond, func() error {
					if _, err := s.Payments.RecoverRunning(context.Background(), 0, 10); err != nil {
						return err
					}
					if c := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": credit})); c["detailedStatus"] != f.recoveredStatus {
						return fmt.Errorf("%s: after recovery the refund is %v", f.name, c["detailedStatus"])
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				want = nil
				if f.recovered != "" {
					want = []string{f.recovered}
				}
				if got := settledIPNStatuses(t, s, ipns, credit); fmt.Sprint(got) != fmt.Sprint(want) || refunded() != f.recoveredReserved {
					t.Fatalf("%s: after recovery IPN %v (want %v), the debit's refundAmount %v", f.name, got, want, refunded())
				}
				res, found, err := s.Sim.Inquire(context.Background(), credit)
				if err != nil || found != f.acquirerHas || res.Approved != f.acquirerMade {
					t.Fatalf("%s: the acquirer's refund: found %v approved %v, %v", f.name, found, res.Approved, err)
				}
			}
		})
	}
}

// A cancellation whose request never reached the acquirer (FaultLost) and
// that the merchant does not retry: recovery finds no such cancellation at
// the acquirer and sends it again under the same operation id, then
// records CANCELLED with one IPN. The capture job, at the capture date,
// never captures it; the acquirer made exactly one cancellation.
func TestV4CancelLostBeforeTheAcquirerIsSentAgainByRecovery(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // each engine has its own server and database; most of a run is waiting
			s, clk, uuid, ipns := cancelFaultServer(t, engine, "cancel-resent")
			s.Sim.InjectFault(uuid+"-cancel", simulator.FaultLost)
			env := cancelCall(t, s, uuid)
			e := answer(env)
			detail, _ := e["detailedErrorMessage"].(string)
			if env["status"] != "ERROR" || e["errorCode"] != "INT_999" || !strings.Contains(detail, "being checked") {
				t.Fatalf("cancellation, the acquirer's answer unknown: %v %v; the debit is %v", env["status"], e, debitStatus(t, s, uuid))
			}
			if _, found, err := s.Sim.Inquire(context.Background(), uuid+"-cancel"); err != nil || found {
				t.Fatalf("before recovery the acquirer should know no cancellation: found %v, %v", found, err)
			}

			recoverUntil(t, s, clk, uuid, "CANCELLED")
			if got := settledIPNStatuses(t, s, ipns, uuid); len(got) != 1 || got[0] != "CANCELLED" {
				t.Fatalf("IPN of the cancellation recovery sent again: %v", got)
			}
			if res, found, err := s.Sim.Inquire(context.Background(), uuid+"-cancel"); err != nil || !found || !res.Approved {
				t.Fatalf("the acquirer's cancellation: %+v found %v, %v", res, found, err)
			}

			// Past the capture date (three days): the capture job leaves it.
			clk.Advance(4 * 24 * time.Hour)
			if _, err := s.Payments.CaptureAllDue(context.Background(), 10); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Payments.RecoverRunning(context.Background(), 0, 10); err != nil {
				t.Fatal(err)
			}
			if st := debitStatus(t, s, uuid); st != "CANCELLED" {
				t.Fatalf("after the capture date the debit is %v", st)
			}
			if _, found, err := s.Sim.Inquire(context.Background(), uuid+"-capture"); err != nil || found {
				t.Fatalf("the acquirer has a capture of a cancelled debit: found %v, %v", found, err)
			}
			// Exactly one cancellation: cancelling the authorization again
			// under another operation id is refused as already cancelled.
			_, tx, err := s.Payments.Get(context.Background(), shop.DemoShopID, uuid)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := s.Sim.Cancel(context.Background(), "probe-"+uuid, tx.AcquirerRef); err != nil || res.Approved {
				t.Fatalf("a second cancellation of the authorization: %+v, %v", res, err)
			}
			if got := settledIPNStatuses(t, s, ipns, uuid); len(got) != 0 {
				t.Fatalf("IPN after the cancellation: %v", got)
			}
			if env := cancelCall(t, s, uuid); answer(env)["errorCode"] != "PSP_011" {
				t.Fatalf("cancellation of a cancelled debit: %v", env)
			}
		})
	}
}
