package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// CardInput is the card a buyer entered on the hosted form, after 3-D
// Secure when it ran. The CVV lives in memory for this one authorization.
type CardInput struct {
	PAN      card.PAN
	Expiry   card.Expiry
	CVV      card.SecurityCode
	Holder   string
	SaveCard bool // the buyer asked to save the card (ASK_REGISTER_PAY, CUSTOMER_WALLET)
	ThreeDS  *acquirer.ThreeDSResult
	// Initiator is acquirer.InitiatorCIT (empty) or InitiatorMIT; DirectLink
	// sets it from Ogone's ECI.
	Initiator string
	// BuyerIP is the address of the buyer's browser on the hosted pages
	// ("" elsewhere): customer.extraDetails.ipAddress when the merchant
	// sent none.
	BuyerIP string
	// BuyerLanguage is the language of the hosted page the buyer paid on
	// ("en", "fr" …; "" elsewhere): customer.billingDetails.language when
	// the merchant sent none, so that the buyer's email and SMS speak the
	// language the buyer paid in.
	BuyerLanguage string
	// KeepCard seals the card in the vault, as a deferred debit's is, in
	// the write that starts the payment, so that what the caller does
	// with it on acceptance does not depend on this process living until
	// the acquirer answers: the write that records the authorization
	// accepted — this call's, or recovery's (RecoverRunning) for an answer
	// lost — hands it to the service's KeptCardHook (SetKeptCardHook);
	// any other end erases it, as a deferred debit's card is erased.
	// DirectLink keeps the card of an order that names an ALIAS this way.
	KeepCard bool
	// KeepCardTemporary marks the kept card as one for a temporary token
	// (StoredCard.Temporary), whose time to live the hook gives it when it
	// stores it: the kept card itself lasts until the payment ends, however
	// late recovery settles it.
	KeepCardTemporary bool
	// OnStart, if set, runs inside the write that starts the payment,
	// after the RUNNING transaction is inserted; its error stops the
	// payment (nothing of the attempt is written).
	OnStart func(tx *sql.Tx, paymentID, transactionUUID string) error
}

// KeptCardHook runs inside the write that records accepted the
// authorization of a transaction whose card was kept (CardInput.KeepCard),
// in a savepoint of its own, with that card: its error undoes its own
// writes only, and the accepted payment stands without them. The token it
// returns, if any, is the transaction's paymentMethodToken. The kept card
// is erased in the same write, whatever the hook did. It must only touch
// the database.
type KeptCardHook func(ctx context.Context, tx *sql.Tx, t Transaction, c StoredCard) (token string, err error)

// SetKeptCardHook sets the hook that receives kept cards on acceptance; it
// is called once, while the application is wired, before any payment.
func (s *Service) SetKeptCardHook(h KeptCardHook) { s.keptCardHook = h }

// card data for one authorization, from the form or from the vault.
type cardData struct {
	pan       card.PAN
	expiry    card.Expiry
	cvv       card.SecurityCode
	brand     card.Brand
	holder    string
	initiator string
	threeDS   *acquirer.ThreeDSResult
	save      bool
	lastUsed  time.Time // a saved card's last recorded use; zero otherwise
}

// onAccept is what the write that records an accepted authorization does
// besides: the card saved as a new token (tok). The zero value does
// nothing. (A kept card's hook, CardInput.KeepCard, is derived from what is
// stored, so that recovery runs it too.)
type onAccept struct {
	tok *TokenizeRequest
}

// PayCard pays (or, for REGISTER, verifies) the payment of a formToken with
// the card the buyer entered. A refusal is not an error: the transaction
// comes back REFUSED, and the form may offer another attempt while
// AttemptsLeft allows. A transaction whose acquirer call timed out comes
// back RUNNING; RecoverRunning settles it. A 3-D Secure authentication
// (c.ThreeDS with a DSTransID) pays one attempt: given again, for instance by
// a challenge completion posted twice, PayCard makes no attempt and returns
// the transaction of the first (startAttempt).
func (s *Service) PayCard(ctx context.Context, formToken string, c CardInput) (Payment, Transaction, error) {
	now := s.clock.Now()
	if c.PAN.IsZero() {
		return Payment{}, Transaction{}, invalid("pan", "null")
	}
	if c.Expiry.IsZero() || c.Expiry.Expired(now) {
		return Payment{}, Transaction{}, errs.Invalid(errs.BadExpiry, "invalid expiry date", "expiryDate", c.Expiry.MMYY())
	}
	if c.CVV.IsZero() {
		return Payment{}, Transaction{}, &errs.Error{Code: errs.CVVRequired, Message: "CVV mandatory", Field: "securityCode"}
	}
	initiator, err := initiatorOr(c.Initiator, acquirer.InitiatorCIT)
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	if c.Holder, err = HolderName(c.Holder); err != nil {
		return Payment{}, Transaction{}, err
	}
	threeDSFailed := false
	if c.ThreeDS != nil {
		switch c.ThreeDS.Status {
		case acquirer.ThreeDSChallenge:
			// The challenge must be completed before paying.
			return Payment{}, Transaction{}, invalid("threeDS.status", c.ThreeDS.Status)
		case acquirer.ThreeDSFailed, acquirer.ThreeDSRejected:
			threeDSFailed = true
		}
	}
	var p Payment
	var t Transaction
	var gone *errs.Error
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		p, t, err = s.startCard(ctx, tx, formToken, c)
		if err == nil && c.OnStart != nil {
			err = c.OnStart(tx, p.ID, t.UUID)
		}
		if err == nil {
			gone, err = s.updateTokenGone(ctx, p, now)
		}
		return err
	})
	if used, ok := errors.AsType[*challengeUsed](err); ok {
		return used.p, used.t, nil
	}
	if err != nil {
		return Payment{}, Transaction{}, s.startError(err, p)
	}
	cd := cardData{pan: c.PAN, expiry: c.Expiry, cvv: c.CVV, brand: c.PAN.Brand(), holder: c.Holder,
		initiator: initiator, threeDS: c.ThreeDS}
	switch p.FormAction {
	case ActionRegister, ActionRegisterPay:
		cd.save = true
	case ActionAskRegisterPay:
		cd.save = c.SaveCard
	case ActionCustomerWallet:
		// The wallet keeps only the brands the wallet document lists.
		cd.save = c.SaveCard && WalletEligible(c.PAN)
	}
	if threeDSFailed {
		return s.settleAuthorization(ctx, p, t, outcome{threeDSFailed: c.ThreeDS.Status}, onAccept{}, time.Time{})
	}
	if gone != nil {
		// Token/Update of a token cancelled or purged since the form was
		// made: the card has nothing to replace, so it is not checked.
		return s.settleAuthorization(ctx, p, t, outcome{tokenGone: gone}, onAccept{}, time.Time{})
	}
	return s.authorize(ctx, p, t, cd)
}

// updateTokenGone checks, for a Token/Update form (Options.UpdateToken),
// that its token may still get a new card: nil if so (or for any other
// form), else the merchant's error (PSP_030, PSP_031, PSP_036) that the
// attempt is refused with. A technical error is returned as the error.
func (s *Service) updateTokenGone(ctx context.Context, p Payment, now time.Time) (*errs.Error, error) {
	if p.Options.UpdateToken == "" || s.vault == nil {
		return nil, nil
	}
	err := s.vault.UpdatableToken(ctx, p.ShopID, p.Mode, p.Options.UpdateToken, now)
	if e, ok := errs.As(err); ok && tokenGoneCode(e.Code) {
		return e, nil
	}
	return nil, err
}

// tokenGoneCode tells whether an error code says that a merchant's token
// can no longer be used: unknown, cancelled (or holding no card), purged.
func tokenGoneCode(code string) bool {
	return code == errs.TokenNotFound || code == errs.TokenInvalid || code == errs.TokenPurged
}

// startCard commits the attempt of a card the buyer typed (startAttempt).
func (s *Service) startCard(ctx context.Context, tx *sql.Tx, formToken string, c CardInput) (Payment, Transaction, error) {
	return s.startAttempt(ctx, tx, formToken, c.ThreeDS, buyerBrowser{ip: c.BuyerIP, language: c.BuyerLanguage}, func(p *Payment, t *Transaction) (bool, error) {
		t.PaymentMethodSource = "NEW"
		t.Brand, t.PANMasked = string(c.PAN.Brand()), c.PAN.Masked()
		t.ExpiryMonth, t.ExpiryYear = c.Expiry.Month, c.Expiry.Year
		t.CardHolderName = c.Holder
		t.ThreeDS = c.ThreeDS
		deferred := deferredDebit(p, t)
		if (deferred || c.KeepCard) && s.vault != nil {
			// The card is needed again for the authorization the day
			// before the capture date, or by the kept card hook once the
			// payment is accepted (KeepCard): it is sealed in this write,
			// with the transaction that refers to it, so neither exists
			// without the other. Without a vault the payment is
			// authorized at once, as before, and no card is kept.
			req := DeferredCardRequest{ShopID: p.ShopID, Mode: p.Mode, PAN: c.PAN, Expiry: c.Expiry, TransactionUUID: t.UUID}
			if !deferred {
				req.Holder, req.Temporary = c.Holder, c.KeepCardTemporary
			}
			ref, err := s.vault.SealDeferredCard(tx, req)
			if err != nil {
				return false, err
			}
			t.deferredCard = ref
		}
		return false, nil
	})
}

// startAttempt commits the attempt: it checks the form, counts the attempt
// and inserts the transaction RUNNING, after fill has described the card
// (and may have changed the payment's customer, which it reports) and the
// buyer's address and page language (b, empty when unknown) have been
// recorded as the customer's ipAddress and language if the merchant sent
// none. The unique indexes refuse
// a second live debit of the payment or of the order. An attempt whose 3-D
// Secure authentication (threeDS, nil when none) an attempt of the payment
// already used is refused with a *challengeUsed: the authentication is
// consumed by the write that records its attempt, under the payment's lock.
func (s *Service) startAttempt(ctx context.Context, tx *sql.Tx, formToken string, threeDS *acquirer.ThreeDSResult, b buyerBrowser, fill func(p *Payment, t *Transaction) (customerChanged bool, err error)) (Payment, Transaction, error) {
	now := s.clock.Now()
	prec, err := store.PaymentByFormToken(ctx, tx, formToken)
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, Transaction{}, errs.New(CodeFormToken, "invalid or expired formToken")
	}
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	if prec, err = store.LockPayment(tx, s.db.Dialect(), prec.ID); err != nil {
		return Payment{}, Transaction{}, err
	}
	if !now.Before(prec.FormExpiresAt) {
		return Payment{}, Transaction{}, &errs.Error{Code: CodeFormToken, Message: "invalid or expired formToken", Detail: "the formToken has expired"}
	}
	p, err := s.withTransactions(ctx, tx, paymentFromRecord(prec))
	if err != nil {
		return p, Transaction{}, err
	}
	for _, t := range p.Transactions {
		if t.OperationType != Credit && t.Status != StatusUnpaid {
			return p, Transaction{}, duplicate(p)
		}
	}
	for _, t := range p.Transactions {
		if threeDS != nil && threeDS.DSTransID != "" && t.ThreeDS != nil && t.ThreeDS.DSTransID == threeDS.DSTransID {
			return p, Transaction{}, &challengeUsed{p: p, t: t}
		}
	}
	ok, err := store.TakeAttempt(tx, p.ID, p.Options.MaxAttempts, now)
	if err != nil {
		return p, Transaction{}, err
	}
	if !ok {
		return p, Transaction{}, &errs.Error{Code: errs.Unauthorized, Message: "unauthorized action", Detail: "no payment attempt left for this formToken"}
	}
	p.Attempts++
	t := s.newTransaction(p, now)
	changed, err := fill(&p, &t)
	if err != nil {
		return p, Transaction{}, err
	}
	if recordBuyer(&p.Customer, b) || changed {
		if err := setCustomer(tx, p.ID, p.Customer); err != nil {
			return p, Transaction{}, err
		}
	}
	return s.insertStarted(tx, p, t, now)
}

// challengeUsed is startAttempt's error when the attempt's 3-D Secure
// authentication was already used by transaction t of payment p: the write
// makes nothing, and the caller answers with that transaction.
type challengeUsed struct {
	p Payment
	t Transaction
}

func (e *challengeUsed) Error() string {
	return "payment: 3-D Secure authentication " + e.t.ThreeDS.DSTransID + " already used by transaction " + e.t.UUID
}

// newTransaction returns the RUNNING transaction of a payment attempt.
func (s *Service) newTransaction(p Payment, now time.Time) Transaction {
	op := Debit
	if p.FormAction == ActionRegister {
		op = Verification
	}
	t := Transaction{
		UUID: ids.NewHex(), ShopID: p.ShopID, PaymentID: p.ID, Mode: p.Mode, OrderID: p.OrderID,
		OperationType: op, Amount: p.Amount, Currency: p.Currency, Status: StatusRunning, DetailedStatus: Initial,
		ManualValidation: p.Options.ManualValidation && op == Debit, Metadata: p.Options.Metadata,
		CreatedAt: now, UpdatedAt: now,
	}
	if op == Debit && p.OrderID != "" && !p.Options.AllowDuplicate {
		t.orderGuard = p.Mode + ":" + p.OrderID
	}
	return t
}

func (s *Service) insertStarted(tx *sql.Tx, p Payment, t Transaction, now time.Time) (Payment, Transaction, error) {
	seq, err := store.NextSequenceNumber(tx, p.ID)
	if err != nil {
		return p, t, err
	}
	t.SequenceNumber = seq
	t.version = 1
	if err := store.InsertTransaction(tx, t.record()); err != nil {
		return p, t, err
	}
	p.Transactions = append(p.Transactions, t)
	return p, t, s.savePayment(tx, &p, "", now)
}

// startError turns the error of a start write into the caller's error.
func (s *Service) startError(err error, p Payment) error {
	if _, ok := errs.As(err); ok {
		return err
	}
	if isDuplicate(err) {
		return duplicate(p)
	}
	return internal(err)
}

// PayToken runs a SILENT payment: server to server, with the card of a
// paymentMethodToken, no buyer present. It creates the payment and its
// debit and authorizes at once. A refusal comes back as an UNPAID payment.
func (s *Service) PayToken(ctx context.Context, sh shop.Shop, creds shop.Credentials, in CreateInput) (Payment, Transaction, error) {
	if in.FormAction == "" {
		in.FormAction = ActionSilent
	}
	if in.FormAction != ActionSilent {
		return Payment{}, Transaction{}, invalid("formAction", in.FormAction)
	}
	o, err := in.validate(sh)
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	initiator, err := initiatorOr(in.Initiator, acquirer.InitiatorMIT)
	if err != nil {
		return Payment{}, Transaction{}, err
	}
	if s.vault == nil {
		return Payment{}, Transaction{}, internal(errors.New("payment: no card vault configured"))
	}
	mode := creds.Mode
	if mode == "" {
		mode = shop.ModeTest
	}
	sc, err := s.vault.Card(ctx, sh.ID, mode, in.PaymentMethodToken)
	if err != nil {
		if _, ok := errs.As(err); ok {
			return Payment{}, Transaction{}, err
		}
		return Payment{}, Transaction{}, internal(err)
	}
	if sc.Mode != "" && sc.Mode != mode {
		// A TEST key never pays with a PRODUCTION card, nor the reverse.
		return Payment{}, Transaction{}, errs.Invalid(errs.TokenNotFound, "token not found", "paymentMethodToken", in.PaymentMethodToken)
	}
	in.Customer, _ = carryOver(in.Customer, sc)
	if in.Instalment != nil {
		// The decision is written further down the settle path, which
		// takes only the context along.
		ctx = context.WithValue(ctx, instalmentKey{}, in.Instalment)
	}
	// The payment and its RUNNING debit are new: they are inserted as they
	// are (sequence 1, order status derived), built before the write so
	// that the single writer only runs the two INSERTs.
	p := s.newPayment(sh, creds, in, o)
	now := s.clock.Now()
	p.Attempts = 1
	t := s.newTransaction(p, now)
	t.PaymentMethodSource, t.Token = "TOKEN", in.PaymentMethodToken
	t.Brand, t.PANMasked = string(sc.Brand), sc.PAN.Masked()
	t.ExpiryMonth, t.ExpiryYear = sc.Expiry.Month, sc.Expiry.Year
	t.CardHolderName = storedHolder(sc.Holder)
	t.SequenceNumber, t.version = 1, 1
	p.Transactions = []Transaction{t}
	p.deriveOrder(now)
	p.UpdatedAt = now
	prec, trec := p.record(), t.record()
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := s.db.InsertPaymentWithTransaction(tx, prec, trec); err != nil {
			return err
		}
		if in.OnStart != nil {
			return in.OnStart(tx, p.ID, t.UUID)
		}
		return nil
	})
	if err != nil {
		return Payment{}, Transaction{}, s.startError(err, p)
	}
	brand := sc.Brand
	if brand == "" {
		brand = sc.PAN.Brand()
	}
	return s.authorize(ctx, p, t, cardData{pan: sc.PAN, expiry: sc.Expiry, brand: brand, holder: sc.Holder,
		initiator: initiator, lastUsed: sc.LastUsedAt})
}

// MaxHolderName is the longest card holder name kept with a transaction,
// in characters: Lyra's cardHolderName (vads_card_holder_name, ans..255).
const MaxHolderName = 255

// HolderName normalizes the card holder name typed with a card (runs of
// white space become one space, none at either end) and refuses one too
// long, not UTF-8 or with control characters. The error names the field
// only: the name is cardholder data, never echoed in an error or a log.
func HolderName(s string) (string, error) {
	name := strings.Join(strings.Fields(s), " ")
	bad := !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxHolderName
	for _, r := range name {
		bad = bad || unicode.IsControl(r)
	}
	if bad {
		return "", &errs.Error{Code: errs.InputInvalid, Message: msgInvalid, Field: "cardHolderName",
			Detail: fmt.Sprintf("Invalid input value [name=cardHolderName]: at most %d printable characters", MaxHolderName)}
	}
	return name, nil
}

// storedHolder is the holder name a saved card holds, as HolderName keeps
// it; a name the vault holds that HolderName refuses is not shown.
func storedHolder(s string) string {
	name, err := HolderName(s)
	if err != nil {
		return ""
	}
	return name
}

// initiatorOr is the initiator a caller chose (CIT or MIT), or def.
func initiatorOr(chosen, def string) (string, error) {
	switch chosen {
	case "":
		return def, nil
	case acquirer.InitiatorCIT, acquirer.InitiatorMIT:
		return chosen, nil
	}
	return "", invalid("initiator", chosen)
}

// authorize sends the authorization (or verification) of t, which is
// committed RUNNING, and records the outcome.
func (s *Service) authorize(ctx context.Context, p Payment, t Transaction, c cardData) (Payment, Transaction, error) {
	req := acquirer.AuthorizeRequest{
		OperationID: t.UUID, ShopID: p.ShopID, Amount: t.Amount, Currency: t.Currency, PAN: c.pan,
		Expiry: c.expiry, SecurityCode: c.cvv, Brand: c.brand, Initiator: c.initiator, ThreeDS: c.threeDS,
	}
	actx, cancel := s.acquirerContext(ctx)
	var res acquirer.Result
	var err error
	if t.OperationType == Verification || deferredAuthorization(&p, &t) {
		if t.OperationType == Debit {
			// The card check instead of the authorization: nothing is
			// reserved until AuthorizeDue asks for the full amount.
			req.Amount = 0
		}
		res, err = s.acq.Verify(actx, req)
	} else {
		res, err = s.acq.Authorize(actx, req)
	}
	cancel()
	accept := onAccept{}
	if c.save {
		accept.tok = &TokenizeRequest{ShopID: p.ShopID, Mode: p.Mode, PAN: c.pan, Expiry: c.expiry, Brand: c.brand,
			Holder: c.holder, Customer: p.Customer, OrderID: p.OrderID, TransactionUUID: t.UUID,
			Token: p.Options.UpdateToken}
		// A card saved with the buyer's reference joins that buyer's wallet
		// (CUSTOMER_WALLET, Charge/CreateToken with customer.reference …),
		// if the wallet accepts its brand; without a reference the token
		// exists outside any wallet.
		if p.Customer.Reference != nil && WalletEligible(c.pan) {
			accept.tok.CustomerReference = *p.Customer.Reference
		}
	}
	np, nt, err := s.settleAuthorization(ctx, p, t, outcome{res: res, err: err}, accept, c.lastUsed)
	if err != nil {
		// The card may have been charged: the caller must know (its code,
		// errs.As, is the caller's answer as before).
		return np, nt, fmt.Errorf("%w: %w", ErrOutcomeUnrecorded, err)
	}
	return np, nt, nil
}

// ErrOutcomeUnrecorded is in the error of a payment attempt (PayCard,
// PaySaved, PayToken) that failed after the acquirer was asked: the write
// that records its answer, or the read of a payment left for recovery,
// failed. The acquirer may have authorised it: the transaction stays
// RUNNING until recovery (RecoverRunning) asks the acquirer and settles
// it, with its notifications. Whoever tells the buyer must not say that
// the card was not charged. An attempt's error without it came before the
// acquirer was asked.
var ErrOutcomeUnrecorded = errors.New("payment: authorization sent, its outcome not recorded")

// deferredAuthorization reports whether the debit t of p, still INITIAL,
// is verified now and authorized only the day before its capture date
// (WAITING_AUTHORISATION): its capture delay is beyond the authorization's
// validity, so an authorization made now would have expired when it is
// captured. The card must be available then, without its security code:
// a token payment's, or a typed card the start write sealed in the vault
// (deferredCard). It is derived from what is stored so that recovery,
// settling a verification whose answer was lost, reaches the same
// decision.
func deferredAuthorization(p *Payment, t *Transaction) bool {
	return deferredDebit(p, t) && (t.PaymentMethodSource == "TOKEN" && t.Token != "" || t.deferredCard != "")
}

// deferredDebit reports whether t is a debit of p whose capture delay is
// beyond the authorization's validity.
func deferredDebit(p *Payment, t *Transaction) bool {
	return t.OperationType == Debit && p.Options.CaptureDelay > max(p.Options.ValidityDays, 1)
}

// keptCard reports whether t, a debit or verification of p, holds a card
// kept for the kept card hook (CardInput.KeepCard): a sealed card that is
// not a deferred debit's. It is derived from what is stored, so that
// recovery, settling an authorization whose answer was lost, hands the
// card to the hook as the call that lost it would have.
func keptCard(p *Payment, t *Transaction) bool {
	return t.deferredCard != "" && !deferredDebit(p, t)
}

// keptCardAccepted is the acceptance hook of a transaction with a kept card
// (keptCard): it opens the card and gives it to the service's KeptCardHook.
// Without a hook there is nothing to do: the card is erased all the same.
func (s *Service) keptCardAccepted(ctx context.Context) func(tx *sql.Tx, t Transaction) (string, error) {
	return func(tx *sql.Tx, t Transaction) (string, error) {
		if s.keptCardHook == nil || s.vault == nil {
			return "", errors.New("payment: a kept card and no hook to take it")
		}
		c, err := s.vault.DeferredCard(ctx, t.ShopID, t.Mode, t.deferredCard)
		if err != nil {
			return "", err
		}
		return s.keptCardHook(ctx, tx, t, c)
	}
}

// releaseDeferredCard takes the internal card off t once t no longer waits
// for its deferred authorization (authorized, refused, cancelled, expired,
// in error) and returns its reference, for the caller to erase in the
// write that records t ("" when there is nothing to erase).
func (t *Transaction) releaseDeferredCard() string {
	switch t.DetailedStatus {
	case Initial, WaitingAuthorisation, WaitingAuthorisationToValidate:
		return ""
	}
	ref := t.deferredCard
	t.deferredCard = ""
	return ref
}

// eraseDeferredCard erases, inside tx, the internal card ref
// (releaseDeferredCard) of transaction t's shop and mode; "" erases nothing.
func (s *Service) eraseDeferredCard(tx *sql.Tx, t *Transaction, ref string) error {
	if ref == "" || s.vault == nil {
		return nil
	}
	return s.vault.EraseDeferredCard(tx, t.ShopID, t.Mode, ref)
}

// outcome is what the acquirer (or 3-D Secure) said about an operation.
type outcome struct {
	res           acquirer.Result
	err           error
	threeDSFailed string // the 3-D Secure status that stopped the payment before the acquirer
	// tokenGone: the token of a Token/Update form could no longer take
	// the card (cancelled, purged), found before the acquirer was called
	// (res empty) or when its approval was being recorded.
	tokenGone *errs.Error
	// notRegistered: the card of a Token/Update form was approved but
	// could not be written into its token (a technical failure of the
	// vault or the database): the verification is not accepted.
	notRegistered bool
}

// unknown reports whether the operation may or may not have been
// performed: the transaction stays as it is until the acquirer is asked.
func (o outcome) unknown() bool {
	return o.err != nil && !errors.Is(o.err, acquirer.ErrUnavailable) && !errors.Is(o.err, acquirer.ErrInvalidRequest)
}

// settleAuthorization records the outcome of the authorization of t, a
// RUNNING transaction of p as the start write committed them, unless it
// was settled already (by recovery), with what an acceptance brings
// (accept). lastUsed is when the token that paid was last used, zero when
// unknown or no token paid.
func (s *Service) settleAuthorization(ctx context.Context, p Payment, t Transaction, o outcome, accept onAccept, lastUsed time.Time) (Payment, Transaction, error) {
	if o.unknown() {
		s.log.Warn("payment: authorization outcome unknown, left RUNNING for recovery", "transaction", t.UUID, "err", o.err)
		np, err := s.payment(writeContext(ctx), s.db.Reader(), p.ShopID, p.ID)
		if err != nil {
			return Payment{}, Transaction{}, err
		}
		nt, _ := np.Transaction(t.UUID)
		return np, nt, nil
	}
	if accept.tok == nil && !keptCard(&p, &t) && p.version > 0 && t.version > 0 {
		decide := func(p *Payment, t *Transaction, now time.Time) (string, error) {
			return decideAuthorization(p, t, o, now)
		}
		np, nt, err := s.settleKnown(writeContext(ctx), p, t, decide, true, lastUsed)
		if !errors.Is(err, errStale) {
			return np, nt, err
		}
	}
	return s.apply(writeContext(ctx), p.ShopID, t.UUID, func(tx *sql.Tx, p *Payment, t *Transaction) (string, error) {
		if t.DetailedStatus != Initial {
			return "", errNoChange
		}
		return s.authorizationOutcome(ctx, tx, p, t, o, accept)
	})
}

// errStale: the payment or transaction changed since it was read; the
// caller takes the path that reads and locks them.
var errStale = errors.New("payment: stale read")

// decision changes t (of p) in memory at now and names the IPN event ("" for
// none); errNoChange means there is nothing to write.
type decision func(p *Payment, t *Transaction, now time.Time) (event string, err error)

// settleKnown is the settle write of the common case, a payment nobody
// touched while the acquirer answered: the new state, the IPN payload and
// the notifications are computed from copies read before (the start write's
// own, or a read after the claim), before the write, so that the writer
// (one for the whole database on SQLite) only runs the statements. The
// version checks of the UPDATEs make it errStale, with nothing written,
// when the payment or the transaction changed meanwhile. notifyBuyer adds
// the buyer's and merchant's notifications of a decided debit; lastUsed is
// when the token that paid was last used (zero: unknown or no token).
func (s *Service) settleKnown(ctx context.Context, p Payment, t Transaction, decide decision, notifyBuyer bool, lastUsed time.Time) (Payment, Transaction, error) {
	now := s.clock.Now()
	p.Transactions = append([]Transaction(nil), p.Transactions...)
	before := t
	from, fromAmount := t.DetailedStatus, t.Amount
	event, err := decide(&p, &t, now)
	if errors.Is(err, errNoChange) {
		return p, t, nil
	}
	if err != nil {
		return p, t, errStale // the locked path reports it
	}
	t.UpdatedAt = now
	erase := t.releaseDeferredCard()
	replace(&p, t)
	p.deriveOrder(now)
	p.UpdatedAt = now
	trec, prec := t.record(), p.stateRecord()
	var msgs []outbox.Message
	if event != "" && p.Options.IPNTarget != "" {
		payload, err := answerString(p, now)
		if err != nil {
			return p, t, internal(err)
		}
		msgs = append(msgs, s.ipnMessage(&p, event, payload))
	}
	if notifyBuyer {
		msgs = append(msgs, s.decisionMessages(ctx, &p, &t, now)...)
	}
	var use *store.TokenUse
	if event == eventAccepted && s.needsTouch(&t, lastUsed, now) {
		use = &store.TokenUse{ShopID: t.ShopID, Mode: t.Mode, Token: t.Token, At: now}
	}
	var r *outbox.Reservation
	if s.local != nil {
		r = s.local.Reserve(len(msgs))
	}
	var claimed []outbox.Delivery
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		tr, pr := trec, prec
		var err error
		claimed, err = s.db.WriteSettlement(tx, &tr, &pr, msgs, use, r, now)
		if err != nil {
			return err
		}
		if err := s.eraseDeferredCard(tx, &t, erase); err != nil {
			return err
		}
		if err := s.followStatus(ctx, tx, &p, before, &t, now); err != nil {
			return err
		}
		return s.followDebit(ctx, tx, &p, from, fromAmount, &t, now)
	})
	if err != nil {
		r.Drop()
	} else {
		r.Hand(claimed)
	}
	if errors.Is(err, store.ErrConflict) {
		return p, t, errStale
	}
	if err != nil {
		return Payment{}, Transaction{}, internal(err)
	}
	t.version, p.version = trec.Version+1, prec.Version+1
	replace(&p, t)
	return p, t, nil
}

// lastUseResolution is how stale a token's recorded last use may get. The
// retention purge counts 15 months from it; writing it on every payment
// made each token payment write the token's row too (and, on PostgreSQL,
// wait for its lock when one card paid twice at once) for a precision the
// purge has no use for.
const lastUseResolution = time.Hour

// needsTouch tells whether the payment with t must record its token's use:
// a token payment, approved, whose token's last recorded use (zero when
// unknown) is older than lastUseResolution.
func (s *Service) needsTouch(t *Transaction, lastUsed, now time.Time) bool {
	return s.vault != nil && t.PaymentMethodSource == "TOKEN" && t.Token != "" &&
		(lastUsed.IsZero() || now.Sub(lastUsed) >= lastUseResolution)
}

// The IPN events of an authorization.
const (
	eventAccepted = "payment.accepted"
	eventRefused  = "payment.refused"
	// eventAuthorised: a WAITING_AUTHORISATION debit authorized by
	// AuthorizeDue (its refusal is eventRefused).
	eventAuthorised = "payment.authorised"
)

// decideAuthorization moves a RUNNING debit or verification, in memory, to
// the state the outcome gives, and names the IPN event.
func decideAuthorization(p *Payment, t *Transaction, o outcome, now time.Time) (string, error) {
	switch {
	case o.tokenGone != nil:
		// Lyra's code for the token (compat.md §1.7: PSP_031 a cancelled
		// token, PSP_036 a purged one) names the refusal. A zero-amount
		// verification the acquirer approved reserved nothing: there is
		// nothing to release, its reference is kept for the record.
		t.ErrorCode, t.ErrorMessage = o.tokenGone.Code, o.tokenGone.Message
		t.DetailedErrorMessage = o.tokenGone.Detail
		if o.res.Approved {
			t.AuthResult, t.AuthAt, t.AcquirerRef = o.res.ResponseCode, now, o.res.AcquirerReference
			t.DetailedErrorMessage = strings.TrimPrefix(t.DetailedErrorMessage+"; ", "; ") +
				"the card was checked but not registered: the token became unusable meanwhile"
		}
		return eventRefused, t.transition(Refused)
	case o.notRegistered:
		// The approval and the new card of a Token/Update are one outcome:
		// without the card written, the verification is no success. It
		// is a technical error of ours (INT_999), the form may be tried
		// again; the check's reference is kept for the record.
		t.AuthResult, t.AuthAt, t.AcquirerRef = o.res.ResponseCode, now, o.res.AcquirerReference
		t.ErrorCode, t.ErrorMessage = errs.Internal, "technical error, card not registered"
		t.DetailedErrorMessage = "the card was checked but not registered: the token keeps its card"
		return eventRefused, t.transition(Error)
	case o.threeDSFailed != "":
		t.ErrorCode, t.ErrorMessage = CodeRefused, "payment refused"
		t.DetailedErrorCode = "3DS_FAILED"
		t.DetailedErrorMessage = "3-D Secure authentication failed (status " + o.threeDSFailed + ")"
		return eventRefused, t.transition(Refused)
	case o.err != nil:
		t.ErrorCode, t.ErrorMessage = CodeAcquirerError, "acquirer unavailable, payment not performed"
		return eventRefused, t.transition(Error)
	case !o.res.Approved:
		t.AuthResult, t.AuthAt, t.AcquirerRef = o.res.ResponseCode, now, o.res.AcquirerReference
		t.ErrorCode, t.ErrorMessage = CodeRefused, "payment refused"
		t.DetailedErrorCode = o.res.ResponseCode
		t.DetailedErrorMessage = acquirer.CodeMessage(o.res.ResponseCode)
		return eventRefused, t.transition(Refused)
	}
	if deferredAuthorization(p, t) {
		// The card was verified: the authorization is AuthorizeDue's, and
		// until then authorizationResponse stays empty (nothing was
		// authorized). Lyra reports the check apart, as
		// markAuthorizationResponse, for the check's amount: authorize
		// sends it for 0.
		t.MarkAuthNumber, t.MarkAuthResult, t.MarkAuthAt = o.res.AuthorizationNumber, o.res.ResponseCode, now
		t.MarkAuthAmount = 0
		t.ExpectedCaptureAt = now.AddDate(0, 0, p.Options.CaptureDelay)
		to := WaitingAuthorisation
		if t.ManualValidation {
			to = WaitingAuthorisationToValidate
		}
		return eventAccepted, t.transition(to)
	}
	t.AuthNumber, t.AuthResult, t.AuthAt = o.res.AuthorizationNumber, o.res.ResponseCode, now
	t.AuthAmount, t.AcquirerRef = t.Amount, o.res.AcquirerReference
	to := Accepted
	if t.OperationType == Debit {
		to = Authorised
		if t.ManualValidation {
			to = AuthorisedToValidate
		}
		t.ExpectedCaptureAt = now.AddDate(0, 0, p.Options.CaptureDelay)
		t.AuthExpiresAt = now.AddDate(0, 0, max(p.Options.ValidityDays, 1))
	}
	return eventAccepted, t.transition(to)
}

// authorizationOutcome moves a RUNNING debit or verification to its final
// state inside tx, with its effects: on acceptance the card saved
// (accept.tok) or the kept card handed to its hook, the token's use
// recorded; the buyer's and merchant's notifications queued.
func (s *Service) authorizationOutcome(ctx context.Context, tx *sql.Tx, p *Payment, t *Transaction, o outcome, accept onAccept) (string, error) {
	now := s.clock.Now()
	replaced := ""
	approved := o.err == nil && o.threeDSFailed == "" && o.tokenGone == nil && o.res.Approved
	if approved && p.Options.UpdateToken != "" && t.OperationType == Verification && (accept.tok == nil || accept.tok.Token == "") {
		// A Token/Update check settled without its card (recovery, after
		// the acquirer's answer was lost: the card typed is gone) cannot
		// replace the token's: it is not accepted either.
		o.notRegistered = true
	}
	if accept.tok != nil && accept.tok.Token != "" && approved {
		// Token/Update: the card replaces the token's in this write, before
		// the verification is decided. A token cancelled or purged since
		// the check made when the card was submitted (the merchant's
		// Token/Cancel while the acquirer answered) refuses the
		// verification: the buyer is not told a card was registered that
		// is not. A cancellation committed after this write cancels the
		// updated token.
		// Any other failure to write the card makes the verification an
		// error (outcome.notRegistered), not an acceptance without it.
		var gone *errs.Error
		replaced, gone = s.replaceCard(ctx, tx, *accept.tok)
		switch {
		case gone != nil:
			o.tokenGone = gone
		case replaced == "":
			o.notRegistered = true
		}
	}
	event, err := decideAuthorization(p, t, o, now)
	if err != nil {
		return "", err
	}
	if event == eventAccepted {
		if accept.tok != nil {
			kind := notify.TokenUpdated
			if accept.tok.Token != "" {
				t.Token = replaced
			} else {
				var err error
				if t.Token, kind, err = s.tokenize(ctx, tx, *accept.tok); err != nil {
					return "", err
				}
			}
			if t.Token != "" && kind != "" {
				// kind "": the card was already in the buyer's
				// wallet, whose token t names, unchanged: nothing
				// was saved to tell of.
				s.notifyToken(ctx, tx, p, t, kind, now)
			}
		}
		if keptCard(p, t) {
			hook := s.keptCardAccepted(ctx)
			if err := s.inSavepoint(tx, "on_accepted", t.UUID, func() error {
				token, err := hook(tx, *t)
				if err == nil && token != "" {
					t.Token = token
				}
				return err
			}); err != nil {
				return "", err
			}
		}
		if s.needsTouch(t, time.Time{}, now) {
			token := t.Token
			if err := s.inSavepoint(tx, "mark_used", t.UUID, func() error { return s.vault.MarkUsed(tx, t.ShopID, t.Mode, token) }); err != nil {
				return "", err
			}
		}
	}
	s.notifyDecision(ctx, tx, p, t, now)
	return event, nil
}

// tokenize stores the card in its own savepoint: a vault failure must not
// undo the record of an approved payment, which stands without its token.
// It returns the token and the notification it calls for (Vault.Tokenize).
// A deadlock is no vault failure: PostgreSQL broke a wait on the wallet's
// lock (a card saved in a buyer's wallet, store.WalletCardTx) that another
// transaction's locks closed into a cycle; the error is handed on so that
// the whole write runs again (store.Write), saving the card then.
func (s *Service) tokenize(ctx context.Context, tx *sql.Tx, req TokenizeRequest) (string, notify.TokenKind, error) {
	if s.vault == nil {
		s.log.Error("payment: card not saved: no card vault configured", "transaction", req.TransactionUUID)
		return "", "", nil
	}
	var token string
	var kind notify.TokenKind
	err := store.InSavepoint(tx, "tokenize", func() error {
		var err error
		token, kind, err = s.vault.Tokenize(ctx, tx, req)
		return err
	})
	if store.IsDeadlock(err) {
		return "", "", err
	}
	if err != nil {
		s.log.Error("payment: tokenize", "transaction", req.TransactionUUID, "err", err)
	}
	if token == "" {
		return "", "", nil
	}
	return token, kind, nil
}

// replaceCard is tokenize for a Token/Update (req.Token set): the token
// whose card was replaced, or, when the token can no longer take it, the
// merchant's error (tokenGoneCode) and nothing written. Other failures are
// logged and undone alone, and give "": the caller does not accept the
// verification (outcome.notRegistered).
func (s *Service) replaceCard(ctx context.Context, tx *sql.Tx, req TokenizeRequest) (string, *errs.Error) {
	if s.vault == nil {
		token, _, _ := s.tokenize(ctx, tx, req) // no vault: no error
		return token, nil
	}
	var token string
	err := store.InSavepoint(tx, "tokenize", func() error {
		var err error
		token, _, err = s.vault.Tokenize(ctx, tx, req)
		return err
	})
	if e, ok := errs.As(err); ok && tokenGoneCode(e.Code) {
		return "", e
	}
	if err != nil {
		s.log.Error("payment: tokenize", "transaction", req.TransactionUUID, "err", err)
		return "", nil
	}
	return token, nil
}

// inSavepoint runs fn in a savepoint of tx; a failure is logged and undone
// alone, the rest of the transaction goes on. A deadlock is no failure of
// fn's (see tokenize): it is returned, for the caller to hand on so that
// the whole write runs again.
func (s *Service) inSavepoint(tx *sql.Tx, name, uuid string, fn func() error) error {
	err := store.InSavepoint(tx, name, fn)
	if store.IsDeadlock(err) {
		return err
	}
	if err != nil {
		s.log.Error("payment: "+name, "transaction", uuid, "err", err)
	}
	return nil
}
