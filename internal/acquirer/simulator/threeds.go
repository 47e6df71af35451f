package simulator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/card"
)

// Start implements acquirer.Authenticator. The status comes from the test
// card table (unknown valid numbers: frictionless success); an enrolled card
// answers "C" when the merchant asks for a challenge.
func (s *Simulator) Start(ctx context.Context, req acquirer.AuthRequest) (acquirer.ThreeDSResult, error) {
	if err := ctx.Err(); err != nil {
		return acquirer.ThreeDSResult{}, fmt.Errorf("simulator 3ds: %w: %w", acquirer.ErrUnavailable, err)
	}
	if req.PAN.IsZero() {
		return acquirer.ThreeDSResult{}, fmt.Errorf("simulator 3ds: %w: no card number", acquirer.ErrInvalidRequest)
	}
	if !luhn(req.PAN.Reveal()) {
		return acquirer.ThreeDSResult{}, fmt.Errorf("simulator 3ds: %w: invalid card number", acquirer.ErrInvalidRequest)
	}
	tc := lookup(req.PAN.Reveal())
	brand := req.Brand
	if brand == "" {
		brand = req.PAN.Brand()
	}
	status := tc.ThreeDS
	if req.ChallengeRequested && status == acquirer.ThreeDSAuthenticated {
		status = acquirer.ThreeDSChallenge
	}

	res := outcome3DS(status, brand, false)
	res.DSTransID = newUUID()
	sess := Session{DSTransID: res.DSTransID, Brand: brand, Completed: status != acquirer.ThreeDSChallenge, Result: res, At: s.cfg.Clock.Now()}
	if j := s.cfg.Journal; j != nil {
		// Every transaction is recorded, frictionless ones too, so that
		// Complete tells "not challenged" from "unknown" on any copy.
		if err := j.StartSession(ctx, sess); err != nil {
			return acquirer.ThreeDSResult{}, fmt.Errorf("simulator 3ds: %w: journal: %w", acquirer.ErrUnavailable, err)
		}
		return res, nil
	}
	s.mu.Lock()
	s.ds[res.DSTransID] = &sess
	s.mu.Unlock()
	return res, nil
}

// Complete implements acquirer.Authenticator: approved says whether the buyer
// passed the challenge. A second call returns the first result.
func (s *Simulator) Complete(ctx context.Context, dsTransID string, approved bool) (acquirer.ThreeDSResult, error) {
	if err := ctx.Err(); err != nil {
		return acquirer.ThreeDSResult{}, fmt.Errorf("simulator 3ds: %w: %w", acquirer.ErrUnavailable, err)
	}
	complete := func(sess Session) Session {
		status := acquirer.ThreeDSFailed
		if approved {
			status = acquirer.ThreeDSAuthenticated
		}
		res := outcome3DS(status, sess.Brand, true)
		res.DSTransID = sess.DSTransID
		sess.Result, sess.Completed = res, true
		return sess
	}
	var sess Session
	if j := s.cfg.Journal; j != nil {
		got, found, err := j.CompleteSession(ctx, dsTransID, complete)
		if err != nil {
			// Completing again is harmless: it returns the first result.
			return acquirer.ThreeDSResult{}, fmt.Errorf("simulator 3ds: %w: journal: %w", acquirer.ErrUnavailable, err)
		}
		if !found {
			return acquirer.ThreeDSResult{}, fmt.Errorf("simulator 3ds: %w: unknown dsTransID", acquirer.ErrNotFound)
		}
		sess = got
	} else {
		s.mu.Lock()
		p, ok := s.ds[dsTransID]
		if !ok {
			s.mu.Unlock()
			return acquirer.ThreeDSResult{}, fmt.Errorf("simulator 3ds: %w: unknown dsTransID", acquirer.ErrNotFound)
		}
		if !p.Completed {
			*p = complete(*p)
		}
		sess = *p
		s.mu.Unlock()
	}
	if !sess.Result.Challenged {
		return acquirer.ThreeDSResult{}, fmt.Errorf("simulator 3ds: %w: transaction was not challenged", acquirer.ErrInvalidRequest)
	}
	return sess.Result, nil
}

// outcome3DS fills in what a directory server returns with a status.
func outcome3DS(status string, brand card.Brand, challenged bool) acquirer.ThreeDSResult {
	res := acquirer.ThreeDSResult{Status: status, Version: acquirer.ThreeDSVersion, Challenged: challenged}
	// Mastercard and Maestro number their ECIs differently from the others.
	full, attempt, none := "05", "06", "07"
	if brand == card.Mastercard || brand == card.Maestro {
		full, attempt, none = "02", "01", "00"
	}
	switch status {
	case acquirer.ThreeDSAuthenticated:
		res.ECI, res.LiabilityShift, res.AuthenticationValue = full, true, newCAVV()
	case acquirer.ThreeDSAttempted:
		res.ECI, res.LiabilityShift, res.AuthenticationValue = attempt, true, newCAVV()
	case acquirer.ThreeDSChallenge:
		// Nothing yet: the result comes with Complete.
	default:
		res.ECI = none
	}
	return res
}

// newCAVV returns a 20-byte cryptogram in base64, the shape of a CAVV/AAV.
func newCAVV() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// newUUID returns a random (version 4) UUID, the shape of a dsTransID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
