package payment

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/errs"
)

// Lyra documents detailedErrorMessage up to 127 characters. Transaction/
// Capture answers "transaction <uuid>: " and the detail of the error of
// each transaction it cannot capture: every detail it can produce must fit
// after that prefix (they were about 150 characters long).
func TestCaptureDetailsFitV4(t *testing.T) {
	const prefix = "transaction 0123456789abcdef0123456789abcdef: "
	fits := func(what, detail string) {
		t.Helper()
		if n := utf8.RuneCountInString(prefix + detail); n > 127 {
			t.Errorf("%s: detailedErrorMessage of %d characters, want at most 127: %q", what, n, prefix+detail)
		}
	}
	fits("unreachable", detailCaptureUnreachable)
	fits("unknown", detailCaptureUnknown)
	fits("pending", detailCapturePending)
	for _, msg := range []string{"do not honour", strings.Repeat("a very long acquirer message ", 10)} {
		d := captureRefusedDetail(msg)
		fits("refused "+msg, d)
		if !strings.HasPrefix(d, "the acquirer refused the capture: ") {
			t.Errorf("refused detail %q", d)
		}
	}
	if d := captureRefusedDetail("do not honour"); d != "the acquirer refused the capture: do not honour" {
		t.Errorf("a short refusal message is clipped: %q", d)
	}
	pending := Transaction{OperationType: Debit, DetailedStatus: Authorised, PendingOp: opCapture}
	if e, ok := errs.As(pending.Capturable()); !ok || e.Detail != detailCapturePending {
		t.Errorf("Capturable of a pending capture: %v", pending.Capturable())
	}
	statuses := []string{Initial, Authorised, AuthorisedToValidate, Captured, CaptureFailed, Cancelled, Expired,
		Refused, Accepted, WaitingAuthorisation, WaitingAuthorisationToValidate, Error}
	for _, op := range []string{Debit, Credit, Verification} {
		for _, st := range statuses {
			if op != Debit && (st == WaitingAuthorisation || st == WaitingAuthorisationToValidate || st == AuthorisedToValidate) {
				continue // a debit's statuses only
			}
			tr := Transaction{OperationType: op, DetailedStatus: st, PendingOp: "REFUND"}
			err := tr.Capturable()
			e, ok := errs.As(err)
			if !ok {
				t.Fatalf("Capturable of %s %s: %v", op, st, err)
			}
			fits("Capturable of "+op+" "+st, e.Detail)
		}
	}
}
