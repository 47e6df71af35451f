package acquirer

import (
	"context"

	"github.com/openpsp/openpsp/internal/card"
)

// 3-D Secure 2 transaction status values (EMVCo transStatus) carried in
// ThreeDSResult.Status.
const (
	ThreeDSAuthenticated = "Y" // authentication successful
	ThreeDSFailed        = "N" // not authenticated, transaction denied
	ThreeDSAttempted     = "A" // attempt: the issuer could not authenticate but proves the attempt
	ThreeDSUnavailable   = "U" // authentication could not be performed (card not enrolled, technical)
	ThreeDSRejected      = "R" // rejected by the issuer; do not authorize
	ThreeDSChallenge     = "C" // challenge required: the buyer must go through the issuer's page
)

// ThreeDSVersion is the protocol version OpenPSP speaks.
const ThreeDSVersion = "2.2.0"

// ThreeDSResult is the outcome of a 3-D Secure authentication, passed to the
// acquirer with the authorization.
type ThreeDSResult struct {
	// Status is one of the ThreeDS* status values.
	Status string
	// ECI is the electronic commerce indicator: 05/06/07 for Visa, CB and
	// Amex, 02/01/00 for Mastercard and Maestro (full, attempted, none).
	ECI string
	// AuthenticationValue is the cryptogram (CAVV / AAV), base64.
	AuthenticationValue string
	// DSTransID is the directory server's transaction id (a UUID); Complete
	// refers to it.
	DSTransID string
	// Version is the protocol version, ThreeDSVersion.
	Version string
	// Challenged is true when the buyer went through a challenge.
	Challenged bool
	// LiabilityShift is true when fraud liability moves to the issuer.
	LiabilityShift bool
}

// AuthRequest asks a 3-D Secure server to authenticate the cardholder.
type AuthRequest struct {
	// OperationID is our id for the payment being authenticated.
	OperationID string
	// ShopID and MerchantID identify the merchant, as in AuthorizeRequest.
	ShopID, MerchantID string
	// Amount and Currency of the payment (zero amount for card registration).
	Amount   int64
	Currency string
	// PAN, Expiry and Brand of the card.
	PAN    card.PAN
	Expiry card.Expiry
	Brand  card.Brand
	// ChallengeRequested asks the issuer for a challenge (PSD2 card
	// registration, merchant preference); an enrolled card then answers "C".
	ChallengeRequested bool
}

// Authenticator is a 3-D Secure server.
type Authenticator interface {
	// Start authenticates; Status "C" means the buyer must take a challenge,
	// after which Complete gives the final result.
	Start(ctx context.Context, req AuthRequest) (ThreeDSResult, error)
	// Complete finishes a challenged authentication identified by its
	// DSTransID; approved tells whether the buyer passed the challenge.
	// Calling it again returns the first result.
	Complete(ctx context.Context, dsTransID string, approved bool) (ThreeDSResult, error)
}
