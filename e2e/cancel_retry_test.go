package e2e

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
)

// metricValue reads one series of the server's /metrics ("absent": -1).
func metricValue(t *testing.T, s *server, series string) float64 {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return f
		}
	}
	return -1
}

// Through real HTTP on both engines, a debit whose cancellation the
// acquirer refused (PSP_003) is cancelled again by the merchant: a new
// cancellation at the acquirer, under an operation id of its own (the
// first one's would be answered the same refusal). That one, lost before
// the acquirer and sent again by recovery while the acquirer is
// unreachable, stays pending: /metrics shows its age across the recovery
// rounds (openpsp_pending_operation_oldest_seconds{op="cancel"}), for an
// operator's alert. Refused too when recovery can send it, the merchant is
// told (IPN, errorCode ACQ_001); the debit then captured reads CAPTURED
// without that refusal in Transaction/Get and in the capture's IPN.
func TestV4CancelRefusedAskedAgainThenCaptured(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			s, clk, uuid, ipns := cancelFaultServerJobs(t, engine, "cancel-asked-again", refundJobs)
			const oldest = `openpsp_pending_operation_oldest_seconds{op="cancel"}`
			if v := metricValue(t, s, oldest); v != 0 {
				t.Fatalf("%s with nothing pending: %v", oldest, v)
			}

			s.Sim.InjectFault(uuid+"-cancel", simulator.FaultRefused)
			if e := answer(cancelCall(t, s, uuid)); e["errorCode"] != "PSP_003" || e["detailedErrorCode"] != "05" {
				t.Fatalf("refused cancellation: %v", e)
			}

			// Asked again: a new operation, lost before the acquirer.
			second := uuid + "-cancel-2"
			s.Sim.InjectFault(second, simulator.FaultLost)
			if e := answer(cancelCall(t, s, uuid)); e["errorCode"] != "INT_999" {
				t.Fatalf("cancellation asked again, its answer lost: %v", e)
			}
			for range 11 {
				s.Sim.InjectFault(second, simulator.FaultUnavailable)
				clk.Advance(time.Minute)
				if _, err := s.Payments.RecoverRunning(context.Background(), 0, 10); err != nil {
					t.Fatal(err)
				}
			}
			if n := metricValue(t, s, `openpsp_pending_operations{op="cancel"}`); n != 1 {
				t.Fatalf("pending cancellations: %v", n)
			}
			if v := metricValue(t, s, oldest); v < 11*60 {
				t.Fatalf("%s after 11 minutes stuck: %v", oldest, v)
			}

			s.Sim.InjectFault(second, simulator.FaultRefused)
			recoverUntilErrorCode(t, s, clk, uuid)
			if res, found, err := s.Sim.Inquire(context.Background(), second); err != nil || !found || res.Approved {
				t.Fatalf("the acquirer's second cancellation: %+v found %v, %v", res, found, err)
			}
			if got := settledIPNTransactions(t, s, ipns, uuid); len(got) != 1 || got[0]["errorCode"] != "ACQ_001" {
				t.Fatalf("IPN of the refused cancellation: %v", got)
			}
			if v := metricValue(t, s, oldest); v != 0 {
				t.Fatalf("%s once settled: %v", oldest, v)
			}

			if env, err := s.v4Try("Transaction/Capture", map[string]any{"uuids": []string{uuid}}); err != nil || env["status"] != "SUCCESS" {
				t.Fatalf("capture: %v %v", env, err)
			}
			tx := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))
			if tx["detailedStatus"] != "CAPTURED" || tx["errorCode"] != nil || tx["detailedErrorCode"] != nil || tx["detailedErrorMessage"] != nil {
				t.Fatalf("Transaction/Get of the captured debit: %v", tx)
			}
			got := settledIPNTransactions(t, s, ipns, uuid)
			if len(got) != 1 || got[0]["detailedStatus"] != "CAPTURED" || got[0]["errorCode"] != nil || got[0]["detailedErrorCode"] != nil {
				t.Fatalf("IPN of the capture: %v", got)
			}
		})
	}
}

// A cancellation the acquirer refused, asked again through real HTTP, is
// made: SUCCESS, CANCELLED, without the refusal's errors.
func TestV4CancelRefusedAskedAgainIsMade(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			s, _, uuid, _ := cancelFaultServerJobs(t, engine, "cancel-made-again", refundJobs)
			s.Sim.InjectFault(uuid+"-cancel", simulator.FaultRefused)
			if e := answer(cancelCall(t, s, uuid)); e["errorCode"] != "PSP_003" {
				t.Fatalf("refused cancellation: %v", e)
			}
			env := cancelCall(t, s, uuid)
			if a := answer(env); env["status"] != "SUCCESS" || a["detailedStatus"] != "CANCELLED" || a["errorCode"] != nil {
				t.Fatalf("cancellation asked again: %v %v", env["status"], a)
			}
			if st := debitStatus(t, s, uuid); st != "CANCELLED" {
				t.Fatalf("Transaction/Get: %v", st)
			}
		})
	}
}
