package ogone_test

import (
	"context"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
)

// An operation (SAL, SAS, RFD, DEL, DES) on a PAYID whose capture or
// cancellation is still pending at the acquirer answers one code either
// way: 40001011 "please try again" (NCSTATUS 4), the operation in
// progress may settle so that it is allowed; it used to be 50001127
// (wrong status, final) during a capture but 40001011 during a
// cancellation. Once the pending operation is settled, the order's
// status answers: 50001127 for what it no longer allows.
func TestDirectLinkOperationWhileAnotherIsInProgress(t *testing.T) {
	ctx := context.Background()
	ops := []string{"SAL", "SAS", "RFD", "DEL", "DES"}
	wantRetry := func(t *testing.T, e *env, payid, pending string) {
		t.Helper()
		for _, op := range ops {
			a := e.direct("maintenancedirect.asp", map[string]string{"PAYID": payid, "OPERATION": op})
			if a["NCERROR"] != "40001011" || a["NCSTATUS"] != "4" || a["NCERRORPLUS"] != "an operation on this order is in progress, please try again once it is settled" {
				t.Errorf("%s while a %s is pending: %v, want NCERROR 40001011 saying an operation is in progress", op, pending, a)
			}
		}
	}

	t.Run("capture", func(t *testing.T) {
		e := newEnv(t)
		r := e.order(map[string]string{"ORDERID": "IP-1", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
		e.acq.mu.Lock()
		e.acq.captureFault = simulator.FaultTimeout
		e.acq.mu.Unlock()
		c := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "SAS"})
		e.acq.mu.Lock()
		e.acq.captureFault = 0
		e.acq.mu.Unlock()
		if c["STATUS"] != "91" {
			t.Fatalf("capture whose answer was lost: %v, want 91", c)
		}
		wantRetry(t, e, r["PAYID"], "capture")
		e.clock.Advance(time.Hour)
		if _, err := e.payments.RecoverRunning(ctx, time.Minute, 100); err != nil {
			t.Fatal(err)
		}
		if d := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "DEL"}); d["NCERROR"] != "50001127" {
			t.Errorf("DEL once captured: %v, want 50001127", d)
		}
	})

	t.Run("cancellation", func(t *testing.T) {
		e := newEnv(t)
		r := e.order(map[string]string{"ORDERID": "IP-2", "CARDNO": "4970100000000055", "ED": "1232", "CVC": "123"})
		e.acq.mu.Lock()
		e.acq.cancelFault = simulator.FaultTimeout
		e.acq.mu.Unlock()
		d := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "DES"})
		e.acq.mu.Lock()
		e.acq.cancelFault = 0
		e.acq.mu.Unlock()
		if d["STATUS"] != "61" {
			t.Fatalf("deletion whose answer was lost: %v, want 61", d)
		}
		wantRetry(t, e, r["PAYID"], "cancellation")
		e.clock.Advance(time.Hour)
		if _, err := e.payments.RecoverRunning(ctx, time.Minute, 100); err != nil {
			t.Fatal(err)
		}
		if c := e.direct("maintenancedirect.asp", map[string]string{"PAYID": r["PAYID"], "OPERATION": "SAS"}); c["NCERROR"] != "50001127" {
			t.Errorf("SAS once deleted: %v, want 50001127", c)
		}
	})
}
