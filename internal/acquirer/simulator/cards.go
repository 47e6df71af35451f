package simulator

import (
	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/card"
)

// Behaviour is how the simulated acquirer answers Authorize and Verify for a
// test card.
type Behaviour int

// Behaviours of test cards.
const (
	// Approve: authorizations and verifications are approved.
	Approve Behaviour = iota
	// Refuse: every authorization and verification is refused with Code.
	Refuse
	// RefuseAmount: verifications (zero amount) are approved, so the card can
	// be stored as a token, but any authorization of an amount is refused
	// with Code.
	RefuseAmount
	// Unavailable: the acquirer answers with a technical error
	// (acquirer.ErrUnavailable) and records nothing.
	Unavailable
	// Timeout: the acquirer never answers before the caller's deadline
	// (acquirer.ErrTimeout), yet approves the operation, so Inquire finds
	// it approved afterwards.
	Timeout
	// Slow: the acquirer approves after Config.SlowDelay; a caller whose
	// deadline is shorter gets acquirer.ErrTimeout while the approval stands.
	Slow
)

// TestCard is one entry of the simulator's table of test cards. The table is
// the single source for the simulator's behaviour, its tests and
// docs/test-cards.md.
type TestCard struct {
	// PAN is the full card number (all pass the Luhn check).
	PAN string
	// Brand is the card's main brand (CB/VISA co-badged cards say CB).
	Brand card.Brand
	// Behaviour drives Authorize and Verify; Code is the response code of a
	// refusal.
	Behaviour Behaviour
	Code      string
	// ThreeDS is the status 3-D Secure Start returns for this card
	// (acquirer.ThreeDS* values); "C" cards finish with Complete.
	ThreeDS string
	// Outcome is the expected result in words, derived from the fields above.
	Outcome string
	// Description says what the card is for.
	Description string
	// Source says where the number comes from: "Lyra" for numbers published
	// by Lyra/PayZen (so merchants' existing test suites keep working),
	// "OpenPSP" for numbers chosen here.
	Source string
}

const (
	srcLyra    = "Lyra"
	srcOpenPSP = "OpenPSP"
)

// testCards is the table. Numbers of our own use the CB/VISA test BIN 497010
// followed by 99 and a scenario number, so they never collide with Lyra's.
var testCards = []TestCard{
	// Published Lyra/PayZen numbers.
	{PAN: "4970100000000055", Brand: card.CB, Behaviour: Approve, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "CB/VISA co-badged card, accepted (the card of the PayZen PCI examples)", Source: srcLyra},
	{PAN: "4970101000001002", Brand: card.CB, Behaviour: RefuseAmount, Code: acquirer.CodeExceedsLimit, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "token creation and verification accepted, any payment of an amount refused (limit exceeded): failing subscription instalments", Source: srcLyra},
	{PAN: "4970110000000013", Brand: card.CB, Behaviour: Approve, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "3DS2 frictionless authentication, accepted", Source: srcLyra},
	{PAN: "4970110000000021", Brand: card.CB, Behaviour: Approve, ThreeDS: acquirer.ThreeDSChallenge,
		Description: "3DS2 challenge: the buyer passes or fails it on the challenge page; accepted once authenticated", Source: srcLyra},
	{PAN: "4970110000001003", Brand: card.CB, Behaviour: Approve, ThreeDS: acquirer.ThreeDSChallenge,
		Description: "3DS2 challenge (Lyra: with the 3DS Method), accepted once authenticated", Source: srcLyra},
	{PAN: "4970110000000401", Brand: card.CB, Behaviour: Approve, ThreeDS: acquirer.ThreeDSRejected,
		Description: "3DS2 authentication rejected by the issuer (status R): the platform must not go on to authorize", Source: srcLyra},
	{PAN: "5100010000002045", Brand: card.Mastercard, Behaviour: Approve, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "MASTERCARD, 3DS2 frictionless, accepted", Source: srcLyra},
	{PAN: "5100010000000049", Brand: card.Mastercard, Behaviour: Approve, ThreeDS: acquirer.ThreeDSChallenge,
		Description: "MASTERCARD, 3DS2 challenge, accepted once authenticated", Source: srcLyra},
	{PAN: "375900000000008", Brand: card.Amex, Behaviour: Approve, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "AMEX, 3DS2 frictionless, accepted", Source: srcLyra},
	{PAN: "375900000000016", Brand: card.Amex, Behaviour: Approve, ThreeDS: acquirer.ThreeDSChallenge,
		Description: "AMEX, 3DS2 challenge, accepted once authenticated", Source: srcLyra},

	// Numbers of our own.
	{PAN: "6759000000000018", Brand: card.Maestro, Behaviour: Approve, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "MAESTRO, 3DS2 frictionless, accepted", Source: srcOpenPSP},
	{PAN: "4970109900000008", Brand: card.CB, Behaviour: Refuse, Code: acquirer.CodeDoNotHonour, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "refused: do not honour", Source: srcOpenPSP},
	{PAN: "4970109900000016", Brand: card.CB, Behaviour: RefuseAmount, Code: acquirer.CodeInsufficientFunds, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "refused: insufficient funds (a zero-amount verification passes)", Source: srcOpenPSP},
	{PAN: "4970109900000024", Brand: card.CB, Behaviour: Refuse, Code: acquirer.CodeExpiredCard, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "refused: expired card, whatever expiry date is entered", Source: srcOpenPSP},
	{PAN: "4970109900000032", Brand: card.CB, Behaviour: Refuse, Code: acquirer.CodeLostCard, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "refused: lost card", Source: srcOpenPSP},
	{PAN: "4970109900000040", Brand: card.CB, Behaviour: Refuse, Code: acquirer.CodeStolenCard, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "refused: stolen card", Source: srcOpenPSP},
	{PAN: "4970109900000057", Brand: card.CB, Behaviour: Refuse, Code: acquirer.CodeFraudSuspicion, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "refused: fraud suspicion", Source: srcOpenPSP},
	{PAN: "4970109900000123", Brand: card.CB, Behaviour: Refuse, Code: acquirer.CodeIssuerUnavailable, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "refused: issuer unavailable (an answer from the acquirer, not a technical error: the V4 transaction is REFUSED with 91; the payment page tells the buyer a technical problem stopped the payment)", Source: srcOpenPSP},
	{PAN: "4970109900000065", Brand: card.CB, Behaviour: Unavailable, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "technical error: the acquirer cannot be reached and records nothing; the V4 transaction is ERROR (ACQ_999), nothing is charged", Source: srcOpenPSP},
	{PAN: "4970109900000073", Brand: card.CB, Behaviour: Timeout, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "timeout: no answer before the deadline, but the acquirer approved it; recovery must Inquire", Source: srcOpenPSP},
	{PAN: "4970109900000081", Brand: card.CB, Behaviour: Slow, ThreeDS: acquirer.ThreeDSAuthenticated,
		Description: "slow answer: approved after the configured delay (2 s by default)", Source: srcOpenPSP},
	{PAN: "4970109900000099", Brand: card.CB, Behaviour: Approve, ThreeDS: acquirer.ThreeDSFailed,
		Description: "3DS2 authentication failed (status N), frictionless: the platform must not go on to authorize", Source: srcOpenPSP},
	{PAN: "4970109900000107", Brand: card.CB, Behaviour: Approve, ThreeDS: acquirer.ThreeDSUnavailable,
		Description: "3DS2 not enrolled / authentication unavailable (status U): accepted without liability shift", Source: srcOpenPSP},
	{PAN: "4970109900000115", Brand: card.CB, Behaviour: Approve, ThreeDS: acquirer.ThreeDSAttempted,
		Description: "3DS2 attempted (status A): accepted with liability shift", Source: srcOpenPSP},
}

// byPAN indexes the table.
var byPAN = func() map[string]TestCard {
	m := make(map[string]TestCard, len(testCards))
	for _, c := range testCards {
		c.Outcome = outcome(c)
		m[c.PAN] = c
	}
	return m
}()

// defaultCard is how an unknown but valid number behaves.
var defaultCard = TestCard{Behaviour: Approve, ThreeDS: acquirer.ThreeDSAuthenticated}

// TestCards returns the table of test cards, in documentation order.
func TestCards() []TestCard {
	out := make([]TestCard, len(testCards))
	for i, c := range testCards {
		out[i] = byPAN[c.PAN]
	}
	return out
}

// lookup returns the behaviour of a card number.
func lookup(pan string) TestCard {
	if c, ok := byPAN[pan]; ok {
		return c
	}
	return defaultCard
}

func outcome(c TestCard) string {
	switch c.Behaviour {
	case Approve:
		return "approved (" + acquirer.CodeApproved + ")"
	case Refuse:
		return "refused " + c.Code + " (" + acquirer.CodeMessage(c.Code) + ")"
	case RefuseAmount:
		return "verification approved; payment refused " + c.Code + " (" + acquirer.CodeMessage(c.Code) + ")"
	case Unavailable:
		return "error ErrUnavailable"
	case Timeout:
		return "error ErrTimeout; Inquire: approved"
	case Slow:
		return "approved after the delay; ErrTimeout if the deadline is shorter"
	}
	return "?"
}
