package wallet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/hosted"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// Hosted returns the wallet as the buyer pages use it
// (hosted.Options.Wallet).
func (s *Service) Hosted() hosted.Wallets { return hostedWallets{s: s} }

type hostedWallets struct{ s *Service }

// walletOf returns the payment of a formToken and the cards its buyer may
// pay with: active, not expired tokens of the payment's shop, mode and
// customer reference, of a brand a wallet keeps; on a one-click form, the
// merchant's token if it can still pay. Any other form has none.
func (h hostedWallets) walletOf(ctx context.Context, formToken string) (payment.Payment, []vault.Token, error) {
	p, err := h.s.pay.PaymentForToken(ctx, formToken)
	if err != nil {
		if e, ok := errs.As(err); ok && e.Code == payment.CodeFormToken {
			return payment.Payment{}, nil, fmt.Errorf("wallet: %w", hosted.ErrFormNotFound)
		}
		return payment.Payment{}, nil, err
	}
	if p.OneClick() {
		t, err := h.s.vault.Get(ctx, p.ShopID, p.Mode, p.Options.PaymentMethodToken)
		switch {
		case vault.IsTokenError(err):
			// Gone since CreatePayment checked it: a new card is left.
			return p, nil, nil
		case err != nil:
			return p, nil, err
		case t.Mode != p.Mode || t.Method == vault.MethodSDD || t.StatusAt(h.s.clock.Now()) != vault.StatusActive:
			return p, nil, nil
		}
		return p, []vault.Token{t}, nil
	}
	if p.FormAction != payment.ActionCustomerWallet || p.Customer.Reference == nil {
		return p, nil, nil
	}
	tokens, err := h.s.Tokens(ctx, p.ShopID, p.Mode, *p.Customer.Reference, FilterActive)
	if err != nil {
		return p, nil, err
	}
	out := tokens[:0]
	for _, t := range tokens {
		if walletToken(t) {
			out = append(out, t)
		}
	}
	return p, out, nil
}

// walletToken reports whether a wallet keeps a token's card.
func walletToken(t vault.Token) bool {
	if payment.WalletBrand(t.Brand) {
		return true
	}
	for _, b := range t.Brands {
		if payment.WalletBrand(b) {
			return true
		}
	}
	return false
}

// find returns the card of the form's wallet with that id.
func (h hostedWallets) find(ctx context.Context, formToken, cardID string) (payment.Payment, vault.Token, error) {
	p, tokens, err := h.walletOf(ctx, formToken)
	if err != nil {
		return p, vault.Token{}, err
	}
	for _, t := range tokens {
		if t.ID == cardID {
			return p, t, nil
		}
	}
	return p, vault.Token{}, hosted.ErrCardNotFound
}

func (h hostedWallets) Wallet(ctx context.Context, formToken string) (hosted.Wallet, error) {
	p, tokens, err := h.walletOf(ctx, formToken)
	if err != nil || len(tokens) == 0 {
		return hosted.Wallet{}, err
	}
	sh, err := h.s.shopOf(ctx, p.ShopID)
	if err != nil {
		return hosted.Wallet{}, err
	}
	w := hosted.Wallet{ManualDeletion: sh.Settings.Effective().TokenDeletion == shop.DeletionManual}
	for _, t := range tokens {
		inSub, err := h.s.activeSubscription(ctx, p.ShopID, t.Mode, t.Value)
		if err != nil {
			return hosted.Wallet{}, err
		}
		w.Cards = append(w.Cards, hosted.SavedCard{ID: t.ID, Brand: string(t.Brand), PANMasked: t.PANMasked,
			ExpiryMonth: t.Expiry.Month, ExpiryYear: t.Expiry.Year, InSubscription: inSub})
	}
	return w, nil
}

func (h hostedWallets) SavedCard(ctx context.Context, formToken, cardID string) (card.PAN, card.Expiry, error) {
	p, t, err := h.find(ctx, formToken, cardID)
	if err != nil {
		return card.PAN{}, card.Expiry{}, err
	}
	pan, exp, _, err := h.s.vault.Card(ctx, p.ShopID, t.Mode, t.Value)
	if vault.IsTokenError(err) {
		// Cancelled, purged or expired since the page was shown.
		return card.PAN{}, card.Expiry{}, hosted.ErrCardNotFound
	}
	return pan, exp, err
}

func (h hostedWallets) PaySaved(ctx context.Context, formToken string, in hosted.CardInput) (hosted.Outcome, error) {
	_, t, err := h.find(ctx, formToken, in.Saved)
	if err != nil {
		return hosted.Outcome{}, err
	}
	p, tx, err := h.s.pay.PaySaved(ctx, formToken, payment.SavedCardInput{Token: t.Value, CVV: in.CVV, ThreeDS: in.ThreeDS, BuyerIP: in.BuyerIP, BuyerLanguage: in.Language})
	if err != nil {
		return hosted.Outcome{}, HostedError(err)
	}
	return HostedOutcome(p, tx, h.s.pay.Now())
}

func (h hostedWallets) Delete(ctx context.Context, formToken, cardID string) (string, error) {
	p, t, err := h.find(ctx, formToken, cardID)
	if err != nil {
		return "", err
	}
	if p.OneClick() {
		// The merchant's token is not the buyer's to delete.
		return "", hosted.ErrCardNotFound
	}
	sh, err := h.s.shopOf(ctx, p.ShopID)
	if err != nil {
		return "", err
	}
	if sh.Settings.Effective().TokenDeletion == shop.DeletionManual {
		return hosted.DeleteManual, nil
	}
	// A first look, without the writer, for a card that pays a
	// subscription; cancel decides again in its write, where a
	// subscription created since is seen.
	inSub, err := h.s.activeSubscription(ctx, p.ShopID, t.Mode, t.Value)
	if err != nil {
		return "", err
	}
	if inSub {
		return hosted.DeleteSubscription, nil
	}
	if _, err := h.s.cancel(ctx, p.ShopID, p.Mode, t.Value, true); err != nil {
		if errors.Is(err, errSubscribed) {
			return hosted.DeleteSubscription, nil
		}
		if e, ok := errs.As(err); ok && e.Code != errs.Internal {
			// Gone since the page was shown: the card is no longer there.
			return "", errors.Join(hosted.ErrCardNotFound, err)
		}
		return "", err
	}
	return hosted.DeleteDone, nil
}

// activeSubscription asks the subscriptions, when there are any.
func (s *Service) activeSubscription(ctx context.Context, shopID, mode, token string) (bool, error) {
	if s.subs == nil {
		return false, nil
	}
	return s.subs.ActiveOnToken(ctx, shopID, mode, token)
}

// HostedOutcome turns a payment attempt into what the buyer's pages need:
// accepted, final, the buyer-facing reason of a refusal, and the kr-answer
// once the form is over. The one mapping for card and saved-card attempts.
func HostedOutcome(p payment.Payment, t payment.Transaction, now time.Time) (hosted.Outcome, error) {
	out := hosted.Outcome{Accepted: t.Accepted(), AttemptsLeft: p.AttemptsLeft(),
		CardMasked: t.PANMasked, CardExpiry: card.Expiry{Month: t.ExpiryMonth, Year: t.ExpiryYear}}
	out.Final = out.Accepted || p.Completed()
	if t.AwaitingAuthorisation() {
		// A deferred debit: only the card was checked; the buyer is told
		// the day the amount is debited, as the confirmation email does.
		out.DebitOn = t.ExpectedCaptureAt
	}
	if attemptRunning(t) {
		// The acquirer did not answer in time: not refused, not accepted.
		out.Pending = true
		return out, nil
	}
	if !out.Accepted {
		switch {
		case p.UpdateTokenGone():
			// The merchant cancelled the token (or it was purged) while its
			// Token/Update form was open: the form is no longer valid.
			out.Message = hosted.ReasonFormInvalid
		case t.DetailedErrorCode == "3DS_FAILED":
			out.Message = hosted.ReasonThreeDSFailed
		case t.DetailedStatus == payment.Error:
			out.Message = hosted.ReasonTechnical
		default:
			out.Message = hosted.ReasonForCode(t.DetailedErrorCode)
		}
	}
	if out.Final {
		var err error
		if out.KRAnswer, err = payment.Answer(p, now); err != nil {
			return hosted.Outcome{}, err
		}
	}
	return out, nil
}

// HostedFinalOutcome is the outcome of a form that is over
// (hosted.Payments.Outcome): its last attempt, paid or finally refused or
// failed, mapped as HostedOutcome mapped it then. A form not over, or whose
// last attempt has since become something else (cancelled), gives
// hosted.ErrNoOutcome.
func HostedFinalOutcome(p payment.Payment, now time.Time) (hosted.Outcome, error) {
	t, ok := finalAttempt(p)
	if !ok {
		return hosted.Outcome{}, hosted.ErrNoOutcome
	}
	return HostedOutcome(p, t, now)
}

// HostedFinalOutcome is what hosted.Payments.Outcome returns: the package's
// HostedFinalOutcome and, when the last attempt paid with a token, the id
// under which the buyer's pages name that token's card
// (hosted.Outcome.SavedCard, hosted.SavedCard.ID: the vault's id of the
// token, as Wallet gives it, never its value). A token the vault no longer
// knows leaves it empty.
func (s *Service) HostedFinalOutcome(ctx context.Context, p payment.Payment) (hosted.Outcome, error) {
	t, ok := finalAttempt(p)
	if !ok {
		return hosted.Outcome{}, hosted.ErrNoOutcome
	}
	out, err := HostedOutcome(p, t, s.pay.Now())
	if err != nil || t.Token == "" {
		return out, err
	}
	tok, err := s.vault.Get(ctx, p.ShopID, t.Mode, t.Token)
	switch {
	case vault.IsTokenError(err):
		return out, nil
	case err != nil:
		return hosted.Outcome{}, err
	}
	out.SavedCard = tok.ID
	return out, nil
}

// finalAttempt is the last attempt of a form that is over: paid, or
// finally refused or failed; none when the form is not over or its last
// attempt has since become something else (cancelled).
func finalAttempt(p payment.Payment) (payment.Transaction, bool) {
	if !p.Completed() {
		return payment.Transaction{}, false
	}
	for i := len(p.Transactions) - 1; i >= 0; i-- {
		t := p.Transactions[i]
		if t.OperationType == payment.Credit {
			continue
		}
		if t.Accepted() || t.DetailedStatus == payment.Refused || t.DetailedStatus == payment.Error {
			return t, true
		}
		break
	}
	return payment.Transaction{}, false
}

// HostedError turns the error of a card or saved-card attempt into what the
// buyer's pages tell: the refusal of a second live debit of the payment or
// of its order (PSP_016: the form submitted twice, or the order paid
// meanwhile) is hosted.ErrInProgress, not a technical error; a failure
// after the acquirer was asked (payment.ErrOutcomeUnrecorded) is
// hosted.ErrUnconfirmed: the card may have been charged.
func HostedError(err error) error {
	if e, ok := errs.As(err); ok && e.Code == errs.DupForbidden {
		return errors.Join(hosted.ErrInProgress, err)
	}
	if errors.Is(err, payment.ErrOutcomeUnrecorded) {
		return errors.Join(hosted.ErrUnconfirmed, err)
	}
	return err
}

// HostedInProgress reports whether an attempt of the payment waits for the
// acquirer's answer (hosted.Form.InProgress): its call timed out and
// recovery will ask the acquirer.
func HostedInProgress(p payment.Payment) bool {
	for _, t := range p.Transactions {
		if attemptRunning(t) {
			return true
		}
	}
	return false
}

// attemptRunning reports whether a debit or verification has no answer
// from the acquirer yet (RUNNING/INITIAL; AUTHORISED_TO_VALIDATE is RUNNING
// too, but answered).
func attemptRunning(t payment.Transaction) bool {
	return t.OperationType != payment.Credit && t.DetailedStatus == payment.Initial
}
