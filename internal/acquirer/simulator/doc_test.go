package simulator

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/acquirer"
)

var update = flag.Bool("update", false, "rewrite docs/test-cards.md from the test card table")

const docPath = "../../../docs/test-cards.md"

var threeDSWords = map[string]string{
	acquirer.ThreeDSAuthenticated: "Y — frictionless, authenticated",
	acquirer.ThreeDSChallenge:     "C — challenge; then Y (passed) or N (failed)",
	acquirer.ThreeDSFailed:        "N — authentication failed",
	acquirer.ThreeDSUnavailable:   "U — not enrolled / unavailable",
	acquirer.ThreeDSRejected:      "R — rejected by the issuer",
	acquirer.ThreeDSAttempted:     "A — attempted",
}

// renderDoc writes docs/test-cards.md from TestCards.
func renderDoc() []byte {
	var b bytes.Buffer
	b.WriteString(`# Test cards

<!-- Generated from simulator.TestCards() (internal/acquirer/simulator/cards.go).
     Do not edit: run go test ./internal/acquirer/simulator -run TestCardsDoc -update -->

In TEST mode OpenPSP sends payments to its built-in test acquirer and 3-D Secure server
(internal/acquirer/simulator). What they answer depends on the card number below. Use any expiry
date in the future (OpenPSP refuses a past one before the acquirer sees it: the payment page says
the card has expired, DirectLink answers 50001183) and any security code of the card's length
(4 digits for American Express, 3 for the others); its value is never checked.

- A valid number that is not in the table is approved, with frictionless 3-D Secure.
- A number that fails the Luhn check is refused before it reaches the acquirer.
- "Payment" is what the acquirer answers when asked to authorize; a payment whose 3-D Secure
  status is N or R is refused by the platform before that.
- "Verification" is the zero-amount card check made when a card is registered without payment.
- The slow card's delay is ` + "`simulator.Config.SlowDelay`" + ` (2 s by default). The timeout card holds the
  request past the caller's deadline, yet approves it: the payment must be recovered by inquiry.
- Under 3-D Secure, "C" cards show the challenge page, where the buyer passes or fails.
  Merchants that ask for a challenge get one on every enrolled card ("Y" cards).
- Source "Lyra": numbers published by Lyra (PayZen, Systempay, Sogecommerce …), so existing
  merchant test suites keep working. "OpenPSP": numbers chosen here, in 497010 99xxxxxxxx or
  the Maestro range, which no Lyra documentation uses.

| Card number | Brand | Payment | 3-D Secure | Use | Source |
|---|---|---|---|---|---|
`)
	for _, c := range TestCards() {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n",
			c.PAN, c.Brand, c.Outcome, threeDSWords[c.ThreeDS], c.Description, c.Source)
	}
	b.WriteString(`
## Published numbers not used

The PayZen test card guide v1.5 (2016, docslib.org/doc/1401786/test-card-guide) lists
4970100000000000 (accepted with 3-D Secure), 4970100000000009 (interactive 3-D Secure) and
4970100000000003 (accepted, merchant not enrolled). None of the three passes the Luhn check, as
transcribed there, so the platform refuses them as invalid numbers like any other mistyped card;
they are not in the table. Their scenarios are covered by the current Lyra 3DS2 cards above
(4970110000000013 frictionless, 4970110000000021 challenge) and by 4970109900000107 (not enrolled).

Lyra also publishes 3DS2 "data only" cards (4970115000002117 …) for a flow OpenPSP does not
implement; they behave as unknown valid numbers (approved, frictionless).

## Sources

- 4970100000000055: PayZen REST examples (rest-php-examples www/PCI.php).
- 4970101000001002: Sogecommerce (Lyra) subscription test cards, form-payment/subscription-token/test-cards.
- 3DS2 cards: docs.lyra.com/en/rest/V4.0/pci/v2/authenticate/3ds2/ (frictionless.html,
  challenge.html, challenge_fingerprint.html, rejected.html).
`)
	return b.Bytes()
}

func TestCardsDoc(t *testing.T) {
	want := renderDoc()
	if *update {
		if err := os.WriteFile(docPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		abs, _ := filepath.Abs(docPath)
		t.Fatalf("%s is stale: run go test ./internal/acquirer/simulator -run TestCardsDoc -update", abs)
	}
	// Every card of the table is in the document.
	for _, c := range TestCards() {
		if !strings.Contains(string(got), "`"+c.PAN+"`") {
			t.Errorf("%s missing from the document", c.PAN)
		}
	}
}
