package acquirer

import "testing"

func TestCodeMessage(t *testing.T) {
	for _, code := range []string{CodeApproved, CodeDoNotHonour, CodeInsufficientFunds, CodeExpiredCard,
		CodeLostCard, CodeStolenCard, CodeFraudSuspicion, CodeSystemMalfunction, CodeIssuerUnavailable} {
		if m := CodeMessage(code); m == "" || m == "refused (code "+code+")" {
			t.Errorf("code %s has no message", code)
		}
	}
	if got := CodeMessage("Z9"); got != "refused (code Z9)" {
		t.Errorf("unknown code: %q", got)
	}
}
