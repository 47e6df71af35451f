package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/clock"
)

// Cancellations that recovery settles, through real HTTP on both engines:
// a refund's cancellation lost before the acquirer is sent again as a
// debit's, and a cancellation recovery sees refused is told the merchant
// by an IPN (cancel_faults_test.go has the debit's accepted cases).

// refundJobs is the job interval of the servers that cancel a refund: the
// capture job remits a refund at its first run after it (its capture date
// is its creation), 50ms later on the harness's; it runs at the server's
// start, then when the test calls CaptureAllDue.
const refundJobs = time.Hour

// capturedRefund captures the debit uuid of cancelFaultServer and refunds
// 300 of it; it returns the refund's uuid (AUTHORISED, not remitted yet).
// The IPNs of the capture and of the refund are taken.
func capturedRefund(t *testing.T, s *server, uuid string, ipns <-chan string) string {
	t.Helper()
	if env, err := s.v4Try("Transaction/Capture", map[string]any{"uuids": []string{uuid}}); err != nil || env["status"] != "SUCCESS" {
		t.Fatalf("capture: %v %v", env, err)
	}
	env, err := s.v4Try("Transaction/CancelOrRefund", map[string]any{"uuid": uuid, "amount": 300, "currency": "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	a := answer(env)
	credit, _ := a["uuid"].(string)
	if env["status"] != "SUCCESS" || a["operationType"] != "CREDIT" || a["detailedStatus"] != "AUTHORISED" {
		t.Fatalf("refund: %v %v", env["status"], a)
	}
	if got := ipnStatuses(t, ipns, credit, 5*time.Second, 2); len(got) != 2 || got[1] != "AUTHORISED" {
		t.Fatalf("IPNs of the capture and the refund: %v", got)
	}
	return credit
}

// lostCancelCall asks the cancellation of uuid, lost before the acquirer
// (FaultLost): INT_999 "being checked".
func lostCancelCall(t *testing.T, s *server, uuid string) {
	t.Helper()
	s.Sim.InjectFault(uuid+"-cancel", simulator.FaultLost)
	env := cancelCall(t, s, uuid)
	e := answer(env)
	detail, _ := e["detailedErrorMessage"].(string)
	if env["status"] != "ERROR" || e["errorCode"] != "INT_999" || !strings.Contains(detail, "being checked") {
		t.Fatalf("cancellation, the acquirer's answer unknown: %v %v", env["status"], e)
	}
}

func debitRefunded(t *testing.T, s *server, uuid string) any {
	t.Helper()
	cr, _ := cardDetail(answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid})), "captureResponse").(map[string]any)
	return cr["refundAmount"]
}

// A refund's cancellation (Transaction/CancelOrRefund on the AUTHORISED
// refund) that never reached the acquirer and that the merchant does not
// retry: recovery sends it again under the same operation id, the refund
// is CANCELLED with one IPN, its amount back on the debit; the capture job
// never remits it, and the acquirer made the one cancellation.
func TestV4RefundCancelLostBeforeTheAcquirerIsSentAgainByRecovery(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // each engine has its own server and database; most of a run is waiting
			s, clk, uuid, ipns := cancelFaultServerJobs(t, engine, "refund-cancel-resent", refundJobs)
			credit := capturedRefund(t, s, uuid, ipns)
			lostCancelCall(t, s, credit)
			if _, found, err := s.Sim.Inquire(context.Background(), credit+"-cancel"); err != nil || found {
				t.Fatalf("before recovery the acquirer should know no cancellation: found %v, %v", found, err)
			}

			recoverUntil(t, s, clk, credit, "CANCELLED")
			if got := settledIPNStatuses(t, s, ipns, credit); len(got) != 1 || got[0] != "CANCELLED" {
				t.Fatalf("IPN of the cancellation recovery sent again: %v", got)
			}
			if res, found, err := s.Sim.Inquire(context.Background(), credit+"-cancel"); err != nil || !found || !res.Approved {
				t.Fatalf("the acquirer's cancellation: %+v found %v, %v", res, found, err)
			}
			if r := debitRefunded(t, s, uuid); r != float64(0) {
				t.Fatalf("the debit's refundAmount after the refund's cancellation: %v", r)
			}
			clk.Advance(24 * time.Hour)
			if _, err := s.Payments.CaptureAllDue(context.Background(), 10); err != nil {
				t.Fatal(err)
			}
			if st := debitStatus(t, s, credit); st != "CANCELLED" {
				t.Fatalf("after the capture job the refund is %v", st)
			}
			if r := debitRefunded(t, s, uuid); r != float64(0) {
				t.Fatalf("the debit's refundAmount after the capture job: %v", r)
			}
		})
	}
}

// A cancellation lost before the acquirer that recovery sends again and
// the acquirer refuses: the debit stays AUTHORISED (and is captured at its
// date), the refund AUTHORISED (and remitted), and the merchant, answered
// INT_999 "being checked", is told by one IPN with the transaction as it
// is and the refusal in errorCode ACQ_001 / detailedErrorCode, as
// Transaction/Get shows it.
func TestV4CancelRefusedWhenRecoverySendsItAgainIsTold(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel() // each engine has its own server and database; most of a run is waiting
			s, clk, uuid, ipns := cancelFaultServerJobs(t, engine, "cancel-resent-refused", refundJobs)
			refusedByRecovery := func(uuid string) {
				t.Helper()
				lostCancelCall(t, s, uuid)
				s.Sim.InjectFault(uuid+"-cancel", simulator.FaultRefused)
				recoverUntilErrorCode(t, s, clk, uuid)
				tx := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))
				detail, _ := tx["detailedErrorMessage"].(string)
				if tx["detailedStatus"] != "AUTHORISED" || tx["detailedErrorCode"] != "05" || !strings.Contains(detail, "refused the cancellation") {
					t.Fatalf("Transaction/Get after the refused cancellation: %v", tx)
				}
				got := settledIPNTransactions(t, s, ipns, uuid)
				if len(got) != 1 || got[0]["detailedStatus"] != "AUTHORISED" || got[0]["errorCode"] != "ACQ_001" ||
					got[0]["detailedErrorCode"] != "05" || got[0]["detailedErrorMessage"] != detail {
					t.Fatalf("IPN of the refused cancellation: %v", got)
				}
			}

			refusedByRecovery(uuid)
			credit := capturedRefund(t, s, uuid, ipns)
			refusedByRecovery(credit)
			clk.Advance(24 * time.Hour)
			if _, err := s.Payments.CaptureAllDue(context.Background(), 10); err != nil {
				t.Fatal(err)
			}
			if st := debitStatus(t, s, credit); st != "CAPTURED" {
				t.Fatalf("the refund whose cancellation was refused, after the capture job: %v", st)
			}
			if r := debitRefunded(t, s, uuid); r != float64(300) {
				t.Fatalf("the debit's refundAmount: %v", r)
			}
		})
	}
}

// recoverUntilErrorCode runs recovery (after the clock passed the acquirer
// timeout) until transaction uuid has an errorCode.
func recoverUntilErrorCode(t *testing.T, s *server, clk *clock.Fake, uuid string) {
	t.Helper()
	clk.Advance(time.Minute)
	err := pollUntil(recoveryDeadline(), 50*time.Millisecond, func() error {
		if _, err := s.Payments.RecoverRunning(context.Background(), 0, 10); err != nil {
			return err
		}
		if tx := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid})); tx["errorCode"] != "ACQ_001" {
			return fmt.Errorf("after recovery the transaction is %v, errorCode %v", tx["detailedStatus"], tx["errorCode"])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// settledIPNTransactions is transaction uuid as each IPN that holds it
// tells it, of those that arrived by the time the server's outbox settled
// (settledIPNs).
func settledIPNTransactions(t *testing.T, s *server, ipns <-chan string, uuid string) []map[string]any {
	t.Helper()
	var got []map[string]any
	for _, raw := range settledIPNs(t, s, ipns) {
		if tx := ipnTransaction(t, raw, uuid); tx != nil {
			got = append(got, tx)
		}
	}
	return got
}
