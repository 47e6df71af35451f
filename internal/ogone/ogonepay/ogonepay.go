// Package ogonepay adapts the payment service to ogone.Payments, so that a
// DirectLink order is an ordinary payment: V4 Transaction/Get, the IPNs and
// the back office see it like any other. It lives apart from package ogone
// because payment imports store, which imports ogone.
package ogonepay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// Shops finds a shop; *shop.Service implements it.
type Shops interface {
	Get(ctx context.Context, id string) (shop.Shop, error)
}

// Adapter implements ogone.Payments over *payment.Service.
type Adapter struct {
	p     *payment.Service
	shops Shops
}

var _ ogone.Payments = (*Adapter)(nil)

// New returns the adapter.
func New(p *payment.Service, shops Shops) *Adapter { return &Adapter{p: p, shops: shops} }

// Pay maps a DirectLink order onto a payment. RES and PAU wait for the
// merchant's capture (manual validation, as an Ogone authorisation waits for
// a maintenance SAL/SAS); SAL is captured at once. An ALIAS pays like a V4
// SILENT payment with a paymentMethodToken; a card pays like the hosted
// form, CVC included.
func (a *Adapter) Pay(ctx context.Context, req ogone.PayRequest) (ogone.PaymentTx, error) {
	sh, err := a.shops.Get(ctx, req.ShopID)
	if err != nil {
		return ogone.PaymentTx{}, err
	}
	creds := shop.Credentials{ShopID: req.ShopID, Mode: req.Mode}
	zero := 0
	who := initiator(req.ECI)
	in := payment.CreateInput{Amount: req.Amount, Currency: req.Currency, OrderID: req.OrderID, CaptureDelay: &zero,
		ManualValidation: "YES", Initiator: who, Origin: payment.OriginDirectLink}
	if req.Capture {
		in.ManualValidation = "NO"
	}
	if req.Email != "" {
		email := req.Email
		in.Customer.Email = &email
	}
	var t payment.Transaction
	if req.Token != "" {
		in.FormAction, in.PaymentMethodToken = payment.ActionSilent, req.Token
		in.OnStart = req.OnStart
		_, t, err = a.p.PayToken(ctx, sh, creds, in)
	} else {
		in.FormAction = payment.ActionPayment
		var formToken string
		_, formToken, err = a.p.CreatePayment(ctx, sh, creds, in)
		if err == nil {
			c := payment.CardInput{PAN: req.PAN, Expiry: req.Expiry, CVV: req.CVC, Holder: req.Holder, Initiator: who,
				KeepCard: req.KeepCard, KeepCardTemporary: req.KeepCardTemporary, OnStart: req.OnStart}
			_, t, err = a.p.PayCard(ctx, formToken, c)
		}
	}
	if err != nil {
		return ogone.PaymentTx{}, err
	}
	if req.Capture && t.DetailedStatus == payment.Authorised {
		uuid := t.UUID
		_, t, err = a.p.Capture(ctx, req.ShopID, uuid)
		if errors.Is(err, payment.ErrCaptureUnknown) {
			// No answer in time: t is the debit, its capture pending
			// for recovery, answered 91 as any pending capture.
			return convert(t), nil
		}
		if err != nil {
			// The capture job may have taken it first (captureDelay 0): a
			// sale that ends CAPTURED is what was asked for, so wait for
			// that capture's outcome while it is in flight.
			now, ok := a.awaitJobCapture(ctx, req.ShopID, uuid)
			if ok || now.UUID != "" {
				// The authorization stands whatever became of the
				// capture: answer with the debit as it is (91 while a
				// capture is pending, 5 if none is), never with an
				// error, which DirectLink answers as an order that
				// reached no acquirer and deletes (PAYID 0).
				return convert(now), nil
			}
			return ogone.PaymentTx{}, err
		}
	}
	return convert(t), nil
}

// OnKeptCardAccepted hands the card a DirectLink payment kept to fn once
// the payment service records the payment accepted.
func (a *Adapter) OnKeptCardAccepted(fn func(ctx context.Context, tx *sql.Tx, c ogone.KeptCard) (string, error)) {
	a.p.SetKeptCardHook(func(ctx context.Context, tx *sql.Tx, t payment.Transaction, c payment.StoredCard) (string, error) {
		return fn(ctx, tx, ogone.KeptCard{ShopID: t.ShopID, Mode: t.Mode, OrderID: t.OrderID, TransactionUUID: t.UUID,
			PAN: c.PAN, Expiry: c.Expiry, Holder: c.Holder, Temporary: c.Temporary})
	})
}

// initiator maps Ogone's ECI onto who starts the payment for the acquirer:
// 2 (recurring MOTO), 3 (instalment) and 9 (recurring after a first
// e-commerce payment) are the merchant's, with the buyer absent; 0, 1
// (MOTO), 4, 5, 6 and 7 (e-commerce) have the buyer there, with an alias as
// with a card.
func initiator(eci string) string {
	switch eci {
	case "2", "3", "9":
		return acquirer.InitiatorMIT
	}
	return acquirer.InitiatorCIT
}

// jobCaptureWait bounds how long a sale waits for a capture the capture job
// has in flight (the acquirer's answer, then its write).
const jobCaptureWait = 10 * time.Second

// awaitJobCapture polls a debit while a capture of it is pending and
// reports whether it ended CAPTURED.
func (a *Adapter) awaitJobCapture(ctx context.Context, shopID, uuid string) (payment.Transaction, bool) {
	ctx, cancel := context.WithTimeout(ctx, jobCaptureWait)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_, now, err := a.p.Get(ctx, shopID, uuid)
		if err != nil {
			return now, false
		}
		if now.DetailedStatus == payment.Captured {
			return now, true
		}
		if now.PendingOp == "" {
			return now, false
		}
		select {
		case <-ctx.Done():
			return now, false
		case <-tick.C:
		}
	}
}

// Capture captures amount (0: all) of a debit: a transaction waiting for
// validation is validated and an amount below the debit's lowers it (the
// rest is released), or, with keepRest, is captured as a part of the
// debit, which stays open for the rest; all in the write that claims the
// capture (payment.Service.CaptureAmount), as onClaim.
func (a *Adapter) Capture(ctx context.Context, shopID, uuid string, amount int64, keepRest bool, onClaim ogone.ClaimFunc) (ogone.PaymentTx, error) {
	_, t, err := a.p.CaptureAmount(ctx, shopID, uuid, amount, keepRest, claimOne(onClaim))
	if err != nil {
		return ogone.PaymentTx{}, err
	}
	return convert(t), nil
}

// Cancel cancels an authorization that is not captured, or lowers it by
// amount when amount is below the debit's (a partial cancellation,
// payment.Service.CancelOrRefund, which checks and lowers in one write).
// atLeast > 0 cancels all of it unless less than atLeast is left, checked
// in the same write (payment.CancelInput.AtLeastLeft).
func (a *Adapter) Cancel(ctx context.Context, shopID, uuid string, amount, atLeast int64, onClaim ogone.ClaimFunc) (ogone.PaymentTx, error) {
	in := payment.CancelInput{ResolutionMode: payment.ResolutionCancellation, OnClaim: claimOne(onClaim)}
	if amount > 0 {
		in.Amount = &amount
	} else if atLeast > 0 {
		in.AtLeastLeft = &atLeast
	}
	_, t, err := a.p.CancelOrRefund(ctx, shopID, uuid, in)
	if errors.Is(err, payment.ErrCancelUnknown) || errors.Is(err, payment.ErrCancelRefused) {
		// The debit as it is: its cancellation pending for recovery
		// (answered 61), or still authorised after the acquirer's
		// refusal (63, deletion refused). V4 answers both as errors.
		out := convert(t)
		out.CancelRefused = errors.Is(err, payment.ErrCancelRefused)
		return out, nil
	}
	if err != nil {
		return ogone.PaymentTx{}, err
	}
	return convert(t), nil
}

// Refund refunds part or all of a captured debit, or of what it and its
// parts captured (payment.Service.RefundCaptures).
func (a *Adapter) Refund(ctx context.Context, shopID, uuid string, amount int64, onClaim ogone.ClaimFunc) ([]ogone.PaymentTx, error) {
	var claimed func(tx *sql.Tx, cs []payment.Transaction) error
	if onClaim != nil {
		claimed = func(tx *sql.Tx, cs []payment.Transaction) error {
			made := make([]ogone.PaymentTx, len(cs))
			for i, c := range cs {
				made[i] = convert(c)
			}
			return onClaim(tx, made)
		}
	}
	_, cs, err := a.p.RefundCaptures(ctx, shopID, uuid, amount, claimed)
	if err != nil {
		return nil, err
	}
	out := make([]ogone.PaymentTx, 0, len(cs))
	for _, c := range cs {
		if c.OperationType != payment.Credit {
			return nil, errors.New("ogonepay: a refund answered no CREDIT transaction")
		}
		out = append(out, convert(c))
	}
	return out, nil
}

// Get returns a transaction; for a debit, whether one of its refunds, or
// of its parts', is accepted but not captured yet, and what its parts
// captured and had refunded.
func (a *Adapter) Get(ctx context.Context, shopID, uuid string) (ogone.PaymentTx, error) {
	p, t, err := a.p.Get(ctx, shopID, uuid)
	if err != nil {
		return ogone.PaymentTx{}, err
	}
	out := convert(t)
	mine := map[string]bool{t.UUID: true}
	for _, d := range p.Transactions {
		if d.IsPart() && d.ParentUUID == t.UUID {
			mine[d.UUID] = true
			out.PartsCaptured += d.CapturedAmount
			out.PartsRefunded += d.RefundedAmount
		}
	}
	for _, c := range p.Transactions {
		if c.OperationType == payment.Credit && mine[c.ParentUUID] &&
			(c.DetailedStatus == payment.Initial || c.DetailedStatus == payment.Authorised) {
			out.RefundPending = true
		}
	}
	return out, nil
}

// claimOne is onClaim as the payment service calls it for an operation on
// one transaction; nil for nil.
func claimOne(onClaim ogone.ClaimFunc) func(tx *sql.Tx, t payment.Transaction) error {
	if onClaim == nil {
		return nil
	}
	return func(tx *sql.Tx, t payment.Transaction) error { return onClaim(tx, []ogone.PaymentTx{convert(t)}) }
}

func convert(t payment.Transaction) ogone.PaymentTx {
	return ogone.PaymentTx{UUID: t.UUID, PaymentID: t.PaymentID, OperationType: t.OperationType,
		DetailedStatus: t.DetailedStatus, Amount: t.Amount, AuthAmount: t.AuthAmount, CapturedAmount: t.CapturedAmount,
		RefundedAmount: t.RefundedAmount, Currency: t.Currency, AuthNumber: t.AuthNumber, AuthResult: t.AuthResult,
		Brand: t.Brand, PANMasked: t.PANMasked, Token: t.Token, PendingOp: t.PendingOp, ParentUUID: debitParent(t)}
}

// debitParent is the debit a part was taken from, "" for any other
// transaction.
func debitParent(t payment.Transaction) string {
	if t.IsPart() {
		return t.ParentUUID
	}
	return ""
}

// SendPostSales makes every change of a DirectLink order's transaction
// after its answer queue Ingenico's post-sale request (ogone.PostSaleMessages)
// in the write that makes the change, for the PSPIDs that set a post-sale
// URL. Call it once, before the service is used.
func (a *Adapter) SendPostSales(st ogone.PostSaleStore) {
	a.p.SetStatusHook(func(ctx context.Context, tx *sql.Tx, p payment.Payment, before, after payment.Transaction, now time.Time) error {
		if p.Options.Origin != payment.OriginDirectLink {
			return nil // a V4 payment: nothing to build
		}
		card := after
		if after.OperationType == payment.Credit {
			d, ok := p.Transaction(after.ParentUUID)
			if !ok {
				return nil
			}
			card = d
		}
		// The order is bound to the debit a part was taken from.
		debit := card.UUID
		if card.IsPart() {
			debit = card.ParentUUID
		}
		ch := ogone.StatusChange{DirectLink: true, ShopID: after.ShopID, Mode: after.Mode, OrderID: p.OrderID, DebitUUID: debit,
			Before: convert(before), After: convert(after), Holder: card.CardHolderName, At: now}
		if after.OperationType == payment.Debit && !after.IsPart() {
			// The order's status counts its parts, as querydirect's (Get).
			for _, d := range p.Transactions {
				if d.IsPart() && d.ParentUUID == after.UUID {
					ch.Before.PartsCaptured += d.CapturedAmount
					ch.After.PartsCaptured += d.CapturedAmount
					ch.Before.PartsRefunded += d.RefundedAmount
					ch.After.PartsRefunded += d.RefundedAmount
				}
			}
		}
		if card.ExpiryMonth > 0 {
			ch.Expiry = fmt.Sprintf("%02d%02d", card.ExpiryMonth, card.ExpiryYear%100)
		}
		if ch.After.PANMasked == "" {
			ch.After.PANMasked, ch.After.Brand = card.PANMasked, card.Brand
		}
		msgs, err := ogone.PostSaleMessages(ctx, tx, st, ch)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if _, err := store.InsertOutbox(tx, m, now); err != nil {
				return err
			}
		}
		return nil
	})
}
