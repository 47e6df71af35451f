// Package subscription runs PayZen-style subscriptions: a recurring payment
// with a saved card (paymentMethodToken), an amount, an RFC 5545 rule of
// dates counted from an effectDate, and optionally a different amount for
// the first instalments (Charge/CreateSubscription, Subscription/Get,
// Subscription/Update, Subscription/Cancel).
//
// A scheduler job (ChargeDue) turns each date that has come into an
// instalment row (unique per subscription and sequence number), claims
// instalments to charge with SKIP LOCKED, and charges each with
// payment.PayToken as a merchant-initiated payment. The payment is linked
// to the instalment inside the very transaction that creates it, and only
// by the copy holding the claim: however many openpsp copies run the job on
// one database, an instalment attempt is charged at most once. Each attempt
// is a payment of its own, with its own IPN. Refused instalments are tried
// again following RetryPolicy (docs/subscriptions.md).
package subscription

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/money"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/vault"
)

// Payments is what subscriptions need from the payments core
// (*payment.Service): a SILENT payment with a token, and reading a
// transaction back.
type Payments interface {
	PayToken(ctx context.Context, sh shop.Shop, creds shop.Credentials, in payment.CreateInput) (payment.Payment, payment.Transaction, error)
	Get(ctx context.Context, shopID, uuid string) (payment.Payment, payment.Transaction, error)
	// SetInstalmentLookup is how New tells the payments' recovery what
	// a late refusal of an instalment means.
	SetInstalmentLookup(f payment.InstalmentLookup)
	// SetDebitHook is how New makes an instalment follow its debit in
	// the write that moves it (cancelled, refused at capture, authorized
	// at D-1, validated, expired).
	SetDebitHook(f payment.DebitHook)
}

// Tokens is what subscriptions need from the card vault (*vault.Vault):
// the state of a token, to refuse a subscription on an unusable one.
type Tokens interface {
	Get(ctx context.Context, shopID, mode, token string) (vault.Token, error)
}

// RetryPolicy says when a failed instalment is tried again.
type RetryPolicy struct {
	// Refused are the delays after the due date of the attempts that
	// follow an issuer refusal (default 1, 3 and 7 days). An attempt never
	// comes sooner after the previous one than the gap between their
	// delays, so an instalment charged late keeps the same spacing. After
	// the last one is refused, the instalment is FAILED and the
	// subscription goes on with the next.
	Refused []time.Duration
	// Technical is the delay after a technical failure (the acquirer could
	// not be reached: nothing was charged); default 1 hour.
	Technical time.Duration
	// MaxTechnical is how many technical failures an instalment takes
	// before it is FAILED (default 24).
	MaxTechnical int
}

// DefaultRetryPolicy is the policy of docs/subscriptions.md.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Refused: []time.Duration{24 * time.Hour, 72 * time.Hour, 168 * time.Hour},
		Technical: time.Hour, MaxTechnical: 24}
}

// Config tunes the service. Zero values mean the defaults.
type Config struct {
	Retry RetryPolicy
	// Lease is how long a claim on an instalment lasts (default 10
	// minutes): longer than an acquirer call. A claim that expires without
	// a payment is taken again; one with a payment is settled from it.
	Lease time.Duration
	// Workers charge the claimed instalments of one run in parallel
	// (default 4).
	Workers int
	// Logger receives technical errors (default slog.Default()).
	Logger *slog.Logger
}

// Service runs subscriptions. Safe for concurrent use; any number of
// openpsp copies may run it against one PostgreSQL database.
type Service struct {
	db     *store.DB
	clock  clock.Clock
	pay    Payments
	tokens Tokens
	cfg    Config
	log    *slog.Logger
}

// New returns a subscription service.
func New(db *store.DB, clk clock.Clock, pay Payments, tokens Tokens, cfg Config) *Service {
	if clk == nil {
		clk = clock.Real{}
	}
	if cfg.Retry.Refused == nil && cfg.Retry.Technical == 0 && cfg.Retry.MaxTechnical == 0 {
		cfg.Retry = DefaultRetryPolicy()
	}
	if cfg.Retry.Technical <= 0 {
		cfg.Retry.Technical = time.Hour
	}
	if cfg.Retry.MaxTechnical <= 0 {
		cfg.Retry.MaxTechnical = 24
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Minute
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{db: db, clock: clk, pay: pay, tokens: tokens, cfg: cfg, log: cfg.Logger}
	pay.SetInstalmentLookup(s.recoveredInstalment)
	pay.SetDebitHook(s.followDebit)
	return s
}

// Now is the service's clock, for the serverDate of answers.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Subscription statuses as stored; a subscription whose cancelDate has
// passed is cancelled whatever its stored status.
const (
	StatusActive    = "ACTIVE"
	StatusCancelled = "CANCELLED"
)

// Subscription is a subscription as the web services show it.
type Subscription struct {
	ID                  string // subscriptionId
	ShopID              string
	Mode                string
	Token               string // paymentMethodToken
	OrderID             string
	Description         string
	Metadata            map[string]string
	Amount              int64
	Currency            string
	InitialAmount       *int64
	InitialAmountNumber int
	EffectDate          time.Time
	RRule               string // as given
	CancelDate          time.Time
	// PastPayments counts the instalments that are over: paid, or failed
	// after every retry.
	PastPayments int
	// PaidPayments counts the paid instalments.
	PaidPayments int
	// PaidAmount is what the paid instalments collected (minor units):
	// less than their amounts when the merchant lowered a debit before
	// its capture.
	PaidAmount int64
	// TotalPayments is how many instalments the rule gives in all; 0 for
	// a subscription without end.
	TotalPayments int
	// NextDueAt is the date of the next instalment to come; zero when no
	// other instalment will be created.
	NextDueAt time.Time
	Options   Options
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Cancelled reports whether the subscription is cancelled at now.
func (s Subscription) Cancelled(now time.Time) bool {
	return !s.CancelDate.IsZero() && !s.CancelDate.After(now)
}

// Options are the options a subscription's instalments are paid with.
type Options struct {
	IPNTargetURL     string `json:"ipnTargetUrl,omitempty"`
	CaptureDelay     *int   `json:"captureDelay,omitempty"`
	ManualValidation string `json:"manualValidation,omitempty"`
	PaymentSource    string `json:"paymentSource,omitempty"`
	Comment          string `json:"comment,omitempty"`
}

// CreateInput is a Charge/CreateSubscription request.
type CreateInput struct {
	Amount              int64
	Currency            string
	EffectDate          time.Time
	PaymentMethodToken  string
	RRule               string
	OrderID             string
	Description         string
	InitialAmount       *int64
	InitialAmountNumber int
	Metadata            map[string]string
	Options             Options
}

// UpdateInput is a Subscription/Update request. Amount, Currency,
// EffectDate and RRule are required, as PayZen requires them; the others
// keep their value when nil.
type UpdateInput struct {
	SubscriptionID      string
	PaymentMethodToken  string
	Amount              int64
	Currency            string
	EffectDate          time.Time
	RRule               string
	InitialAmount       *int64
	InitialAmountNumber *int
	Description         *string
	CaptureDelay        *int
	ManualValidation    *string
	PaymentSource       *string
}

// Error messages of the codes this package answers.
const (
	msgInvalid     = "web-service input data validation error"
	msgNotFound    = "subscriptionId not found"
	msgBadRule     = "invalid rrule"
	msgCancelled   = "subscription cancelled"
	msgTokenAbsent = "token not found"
)

// codeDateTooFar is PSP_013 (compat.md §1.7).
const codeDateTooFar = "PSP_013"

// maxAmount bounds amounts to what every currency's 12 digits allow.
const maxAmount = 999_999_999_999

// maxAhead bounds effectDate: further is PSP_013 (date too far).
const maxAhead = 10 * 365 * 24 * time.Hour

func invalid(field string, value any) error {
	return errs.Invalid(errs.InputInvalid, msgInvalid, field, value)
}

func internal(err error) error {
	return &errs.Error{Code: errs.Internal, Message: "internal error, please retry later", Err: err}
}

func notFound(id string) error {
	return errs.Invalid(errs.SubNotFound, msgNotFound, "subscriptionId", id)
}

func tokenMismatch(token string) error {
	return &errs.Error{Code: errs.TokenNotFound, Message: msgTokenAbsent, Field: "paymentMethodToken",
		Detail: fmt.Sprintf("Invalid input value [name=paymentMethodToken, value=%s]: not the token of this subscription", clip(token))}
}

func cancelledErr(id string) error {
	return &errs.Error{Code: errs.SubInvalid, Message: msgCancelled, Field: "subscriptionId",
		Detail: "subscription " + id + " is cancelled"}
}

func badRule(err error) error {
	return &errs.Error{Code: errs.SubInvalid, Message: msgBadRule, Field: "rrule", Detail: err.Error()}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func badText(s string, max int) bool {
	return utf8.RuneCountInString(s) > max || !utf8.ValidString(s) || strings.ContainsFunc(s, isControl)
}

// checkAmounts validates the money of a create or update.
func checkAmounts(amount int64, currency string, initial *int64, initialNumber int) error {
	if amount <= 0 || amount > maxAmount {
		return errs.Invalid(errs.BadAmount, "invalid amount", "amount", amount)
	}
	if currency == "" {
		return invalid("currency", "null")
	}
	if _, ok := money.Lookup(currency); !ok {
		return errs.Invalid(errs.BadCurrency, "unknown currency", "currency", currency)
	}
	if initialNumber < 0 || initialNumber > 999 {
		return invalid("initialAmountNumber", initialNumber)
	}
	if initial != nil && (*initial <= 0 || *initial > maxAmount) {
		return errs.Invalid(errs.BadAmount, "invalid amount", "initialAmount", *initial)
	}
	if initialNumber > 0 && initial == nil {
		return invalid("initialAmount", "null")
	}
	return nil
}

// checkOptions validates the card options of the instalments.
func checkOptions(o Options) error {
	if o.IPNTargetURL != "" {
		u, err := url.Parse(o.IPNTargetURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(o.IPNTargetURL) > 2048 {
			return invalid("ipnTargetUrl", clip(o.IPNTargetURL))
		}
	}
	if o.CaptureDelay != nil && (*o.CaptureDelay < 0 || *o.CaptureDelay > 365) {
		return invalid("transactionOptions.cardOptions.captureDelay", *o.CaptureDelay)
	}
	switch o.ManualValidation {
	case "", "YES", "NO":
	default:
		return invalid("transactionOptions.cardOptions.manualValidation", clip(o.ManualValidation))
	}
	switch o.PaymentSource {
	case "", "EC", "MOTO", "CC", "OTHER":
	default:
		return invalid("transactionOptions.cardOptions.paymentSource", clip(o.PaymentSource))
	}
	if badText(o.Comment, 255) {
		return invalid("comment", clip(o.Comment))
	}
	return nil
}

func checkMetadata(md map[string]string) error {
	if len(md) > 100 {
		return invalid("metadata", len(md))
	}
	for k, v := range md {
		if k == "" || len(k) > 255 || len(v) > 4096 || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return invalid("metadata."+clip(k), clip(v))
		}
	}
	return nil
}

// checkToken refuses a token the shop does not have in this mode, or one
// that cannot pay any more.
func (s *Service) checkToken(ctx context.Context, shopID, mode, token string) error {
	if token == "" {
		return invalid("paymentMethodToken", "null")
	}
	if len(token) > vault.MaxTokenLength {
		return errs.Invalid(errs.TokenNotFound, msgTokenAbsent, "paymentMethodToken", clip(token))
	}
	if s.tokens == nil {
		return internal(errors.New("subscription: no card vault configured"))
	}
	t, err := s.tokens.Get(ctx, shopID, mode, token)
	switch {
	case errors.Is(err, vault.ErrTokenNotFound), errors.Is(err, vault.ErrInvalidToken):
		return errs.Invalid(errs.TokenNotFound, msgTokenAbsent, "paymentMethodToken", token)
	case err != nil:
		return internal(err)
	case t.Mode != "" && t.Mode != mode:
		// A TEST key never subscribes a PRODUCTION card, nor the reverse.
		return errs.Invalid(errs.TokenNotFound, msgTokenAbsent, "paymentMethodToken", token)
	case t.Method == vault.MethodSDD:
		// Instalments are card payments: a bank-account alias would fail
		// every one of them.
		return payment.NotCardToken()
	}
	return statusErr(t.StatusAt(s.clock.Now()))
}

// statusErr refuses a token in a status that cannot pay.
func statusErr(st vault.Status) error {
	switch st {
	case vault.StatusCancelled:
		return &errs.Error{Code: errs.TokenInvalid, Message: "invalid token", Field: "paymentMethodToken", Detail: "the token is cancelled"}
	case vault.StatusExpired:
		return &errs.Error{Code: errs.TokenInvalid, Message: "invalid token", Field: "paymentMethodToken", Detail: "the card of this token has expired"}
	case vault.StatusPurged:
		return &errs.Error{Code: errs.TokenPurged, Message: "paymentMethodToken purged", Field: "paymentMethodToken"}
	}
	return nil
}

// insertOnActiveToken stores r inside tx if its token is still ACTIVE:
// the buyer may have deleted the card (or retention purged it) since
// checkToken read it. The token's lock (store.LockTokenStatus) orders this
// write with the deletion's, which refuses a card that pays a subscription
// (wallet): either the deletion sees this subscription, or this sees the
// deletion.
func insertOnActiveToken(tx *sql.Tx, d store.Dialect, r store.SubscriptionRecord) error {
	st, err := store.LockTokenStatus(tx, d, r.ShopID, r.Mode, r.Token)
	if err != nil {
		return err
	}
	if st == "" {
		return errs.Invalid(errs.TokenNotFound, msgTokenAbsent, "paymentMethodToken", r.Token)
	}
	if err := statusErr(vault.Status(st)); err != nil {
		return err
	}
	return store.InsertSubscription(tx, r)
}

// schedule checks a rule and an effect date and returns the parsed rule,
// the first instalment date and the number of dates in all (0: no end).
func (s *Service) schedule(rrule string, effect time.Time, after time.Time) (Rule, time.Time, int, error) {
	if strings.TrimSpace(rrule) == "" {
		return Rule{}, time.Time{}, 0, invalid("rrule", "null")
	}
	rule, err := ParseRule(rrule)
	if err != nil {
		return Rule{}, time.Time{}, 0, badRule(err)
	}
	now := s.clock.Now()
	start := effectDay(effect)
	switch {
	case effect.IsZero():
		return Rule{}, time.Time{}, 0, invalid("effectDate", "null")
	case start.Before(effectDay(now.In(effect.Location()))):
		return Rule{}, time.Time{}, 0, &errs.Error{Code: errs.InputInvalid, Message: msgInvalid, Field: "effectDate",
			Detail: "Invalid input value [name=effectDate, value=" + payment.Date(effect) + "]: effectDate must be today or later"}
	case effect.After(now.Add(maxAhead)):
		return Rule{}, time.Time{}, 0, errs.Invalid(codeDateTooFar, "date too far", "effectDate", payment.Date(effect))
	case !after.IsZero() && !start.After(day(after)):
		return Rule{}, time.Time{}, 0, &errs.Error{Code: errs.InputInvalid, Message: msgInvalid, Field: "effectDate",
			Detail: "Invalid input value [name=effectDate, value=" + payment.Date(effect) + "]: a new schedule must start after the last instalment, of " + day(after).Format("2006-01-02")}
	}
	first, ok := rule.Next(start, time.Time{}, 0)
	if !ok {
		return Rule{}, time.Time{}, 0, badRule(&RuleError{Msg: "gives no instalment date from effectDate " + start.Format("2006-01-02")})
	}
	return rule, first, rule.Total(start), nil
}

// effectDay is the date of an effectDate as the merchant wrote it, in its
// own UTC offset (midnight in Paris on April 1 is April 1, not March 31 in
// UTC), as a midnight UTC date like every instalment date.
func effectDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Create stores a subscription (Charge/CreateSubscription). Its first
// instalment is charged by ChargeDue once its date has come (the same day
// when effectDate is today and the rule gives that day).
func (s *Service) Create(ctx context.Context, sh shop.Shop, creds shop.Credentials, in CreateInput) (Subscription, error) {
	mode := creds.Mode
	if mode == "" {
		mode = shop.ModeTest
	}
	if !sh.Settings.PaymentByToken {
		return Subscription{}, &errs.Error{Code: errs.Unauthorized, Message: "unauthorized action",
			Detail: "payment by token is not enabled for this shop: subscriptions need it"}
	}
	if err := checkAmounts(in.Amount, in.Currency, in.InitialAmount, in.InitialAmountNumber); err != nil {
		return Subscription{}, err
	}
	in.OrderID = strings.TrimSpace(in.OrderID)
	switch {
	case badText(in.OrderID, 64):
		return Subscription{}, invalid("orderId", clip(in.OrderID))
	case badText(in.Description, 255):
		return Subscription{}, invalid("description", clip(in.Description))
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return Subscription{}, err
	}
	if err := checkOptions(in.Options); err != nil {
		return Subscription{}, err
	}
	_, first, total, err := s.schedule(in.RRule, in.EffectDate, time.Time{})
	if err != nil {
		return Subscription{}, err
	}
	if err := s.checkToken(ctx, sh.ID, mode, in.PaymentMethodToken); err != nil {
		return Subscription{}, err
	}
	md, _ := json.Marshal(in.Metadata)
	if in.Metadata == nil {
		md = []byte("{}")
	}
	opts, _ := json.Marshal(in.Options)
	now := s.clock.Now()
	rec := store.SubscriptionRecord{
		ID: ids.NewHex(), ShopID: sh.ID, Mode: mode, Token: in.PaymentMethodToken, OrderID: in.OrderID,
		Description: in.Description, Metadata: string(md), Options: string(opts), Amount: in.Amount,
		Currency: in.Currency, InitialAmount: in.InitialAmount, InitialAmountNumber: in.InitialAmountNumber,
		EffectDate: in.EffectDate.UTC(), RRule: strings.TrimSpace(in.RRule), ScheduleStart: effectDay(in.EffectDate),
		TotalPayments: total, NextSequence: 1, NextDueAt: first, Status: StatusActive, Version: 1,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := s.db.Write(ctx, func(tx *sql.Tx) error { return insertOnActiveToken(tx, s.db.Dialect(), rec) }); err != nil {
		if _, ok := errs.As(err); ok {
			return Subscription{}, err
		}
		return Subscription{}, internal(err)
	}
	return fromRecord(rec, 0, 0), nil
}

// Get returns a shop's subscription (Subscription/Get) in the mode of the
// key set used. token, when given, must be the subscription's: PayZen keys
// subscriptions by subscriptionId and paymentMethodToken together.
func (s *Service) Get(ctx context.Context, shopID, mode, id, token string) (Subscription, error) {
	if id == "" {
		return Subscription{}, invalid("subscriptionId", "null")
	}
	r, err := store.GetSubscription(ctx, s.db.Reader(), shopID, id)
	if err := s.found(r, err, mode, id, token); err != nil {
		return Subscription{}, err
	}
	return s.withCounts(ctx, s.db.Reader(), r)
}

// found turns the outcome of a subscription look-up into the caller's error.
func (s *Service) found(r store.SubscriptionRecord, err error, mode, id, token string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(id)
	case err != nil:
		return internal(err)
	case mode != "" && r.Mode != mode:
		// A key set neither sees nor changes the other mode's subscriptions.
		return notFound(id)
	case token != "" && token != r.Token:
		return tokenMismatch(token)
	}
	return nil
}

func (s *Service) withCounts(ctx context.Context, q store.Querier, r store.SubscriptionRecord) (Subscription, error) {
	paid, err := store.CountInstalments(ctx, q, r.ID, store.InstalmentPaid)
	if err != nil {
		return Subscription{}, internal(err)
	}
	failed, err := store.CountInstalments(ctx, q, r.ID, store.InstalmentFailed)
	if err != nil {
		return Subscription{}, internal(err)
	}
	amount, err := store.PaidAmount(ctx, q, r.ID)
	if err != nil {
		return Subscription{}, internal(err)
	}
	sub := fromRecord(r, paid+failed, paid)
	sub.PaidAmount = amount
	return sub, nil
}

// shownEffectDate is the effectDate Subscription/Get shows: the date the
// merchant wrote, at midnight UTC like every instalment date (the schedule
// start), not the UTC instant of a midnight written with an offset
// ("2030-04-01T00:00:00+02:00" is April 1, not March 31 at 22:00).
func shownEffectDate(r store.SubscriptionRecord) time.Time { return r.ScheduleStart }

func fromRecord(r store.SubscriptionRecord, past, paid int) Subscription {
	sub := Subscription{
		ID: r.ID, ShopID: r.ShopID, Mode: r.Mode, Token: r.Token, OrderID: r.OrderID, Description: r.Description,
		Amount: r.Amount, Currency: r.Currency, InitialAmount: r.InitialAmount, InitialAmountNumber: r.InitialAmountNumber,
		EffectDate: shownEffectDate(r), RRule: r.RRule, CancelDate: r.CancelDate, PastPayments: past, PaidPayments: paid,
		TotalPayments: r.TotalPayments, NextDueAt: r.NextDueAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	if r.Metadata != "" && r.Metadata != "{}" {
		_ = json.Unmarshal([]byte(r.Metadata), &sub.Metadata)
	}
	_ = json.Unmarshal([]byte(r.Options), &sub.Options)
	return sub
}

// Update changes a subscription that is not cancelled (Subscription/Update).
// New amounts apply to the instalments not created yet. A new rrule or
// effectDate replaces the schedule: its dates count from the new
// effectDate, which must be today or later and after the last instalment
// created; the instalments made so far keep their sequence numbers.
func (s *Service) Update(ctx context.Context, sh shop.Shop, creds shop.Credentials, in UpdateInput) (Subscription, error) {
	if in.SubscriptionID == "" {
		return Subscription{}, invalid("subscriptionId", "null")
	}
	if in.PaymentMethodToken == "" {
		return Subscription{}, invalid("paymentMethodToken", "null")
	}
	mode := creds.Mode
	if mode == "" {
		mode = shop.ModeTest
	}
	var out store.SubscriptionRecord
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		r, err := store.LockSubscription(tx, s.db.Dialect(), sh.ID, in.SubscriptionID)
		if err := s.found(r, err, mode, in.SubscriptionID, in.PaymentMethodToken); err != nil {
			return err
		}
		now := s.clock.Now()
		if r.Status == StatusCancelled || (!r.CancelDate.IsZero() && !r.CancelDate.After(now)) {
			return cancelledErr(r.ID)
		}
		// The dates that have come are owed under the rule and amounts they
		// fell under, even if the scheduler has not created them yet (it
		// was stopped): create them first, or a new schedule drops them.
		for !r.NextDueAt.IsZero() && !r.NextDueAt.After(now) {
			if err := s.createInstalments(tx, &r, now); err != nil {
				return err
			}
		}
		initial, number := r.InitialAmount, r.InitialAmountNumber
		if in.InitialAmount != nil {
			initial = in.InitialAmount
		}
		if in.InitialAmountNumber != nil {
			number = *in.InitialAmountNumber
		}
		if err := checkAmounts(in.Amount, in.Currency, initial, number); err != nil {
			return err
		}
		var opts Options
		_ = json.Unmarshal([]byte(r.Options), &opts)
		if in.CaptureDelay != nil {
			opts.CaptureDelay = in.CaptureDelay
		}
		if in.ManualValidation != nil {
			opts.ManualValidation = *in.ManualValidation
		}
		if in.PaymentSource != nil {
			opts.PaymentSource = *in.PaymentSource
		}
		if err := checkOptions(opts); err != nil {
			return err
		}
		if in.Description != nil {
			if badText(*in.Description, 255) {
				return invalid("description", clip(*in.Description))
			}
			r.Description = *in.Description
		}
		if strings.TrimSpace(in.RRule) == "" {
			return invalid("rrule", "null")
		}
		newRule, err := ParseRule(in.RRule)
		if err != nil {
			return badRule(err)
		}
		oldRule, oldErr := ParseRule(r.RRule)
		if in.EffectDate.IsZero() {
			return invalid("effectDate", "null")
		}
		// The same effectDate is the same written date (which
		// Subscription/Get shows), or the UTC instant of the one given
		// (which Subscription/Get showed before).
		sameEffect := effectDay(in.EffectDate).Equal(r.ScheduleStart) || in.EffectDate.Equal(r.EffectDate)
		if oldErr != nil || newRule.String() != oldRule.String() || !sameEffect {
			_, first, total, err := s.schedule(in.RRule, in.EffectDate, r.LastDueAt)
			if err != nil {
				return err
			}
			r.ScheduleBase = r.NextSequence - 1
			r.ScheduleDone = 0
			r.ScheduleStart = effectDay(in.EffectDate)
			r.NextDueAt = first
			r.TotalPayments = 0
			if total > 0 {
				r.TotalPayments = r.ScheduleBase + total
			}
			r.EffectDate = in.EffectDate.UTC()
		}
		r.RRule = strings.TrimSpace(in.RRule)
		o, _ := json.Marshal(opts)
		r.Options = string(o)
		r.Amount, r.Currency, r.InitialAmount, r.InitialAmountNumber = in.Amount, in.Currency, initial, number
		r.UpdatedAt = now
		if err := store.UpdateSubscription(tx, &r); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return Subscription{}, err
		}
		return Subscription{}, internal(err)
	}
	return s.withCounts(ctx, s.db.Reader(), out)
}

// Cancel ends a subscription (Subscription/Cancel) at termination, or now
// when termination is zero or past: no instalment due after that date is
// created, and, once it has come, those waiting for a retry are cancelled.
// An instalment whose payment is already under way finishes.
func (s *Service) Cancel(ctx context.Context, shopID, mode, id, token string, termination time.Time) (Subscription, error) {
	if id == "" {
		return Subscription{}, invalid("subscriptionId", "null")
	}
	var out store.SubscriptionRecord
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		r, err := store.LockSubscription(tx, s.db.Dialect(), shopID, id)
		if err := s.found(r, err, mode, id, token); err != nil {
			return err
		}
		now := s.clock.Now()
		if r.Status == StatusCancelled || (!r.CancelDate.IsZero() && !r.CancelDate.After(now)) {
			return cancelledErr(r.ID)
		}
		if err := cancelTx(tx, &r, termination, now); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return Subscription{}, err
		}
		return Subscription{}, internal(err)
	}
	return s.withCounts(ctx, s.db.Reader(), out)
}

// cancelTx cancels r, locked in tx, at termination (now if zero or past).
func cancelTx(tx *sql.Tx, r *store.SubscriptionRecord, termination, now time.Time) error {
	when := now
	if termination.After(now) {
		when = termination
	}
	// A termination date that has passed stays the cancelDate: only
	// Token/Cancel stops such a subscription (Subscription/Cancel refuses
	// it), to end the retries of the instalments due before that date.
	if r.CancelDate.IsZero() || r.CancelDate.After(now) {
		r.CancelDate = when
	}
	if r.NextDueAt.IsZero() && when.After(now) {
		// An earlier termination date may have ended the schedule before
		// its next date: a later one brings back the dates up to it.
		if rule, err := ParseRule(r.RRule); err == nil {
			if next, ok := rule.Next(r.ScheduleStart, r.LastDueAt, r.ScheduleDone); ok {
				r.NextDueAt = next
			}
		}
	}
	if !r.NextDueAt.IsZero() && r.NextDueAt.After(when) {
		r.NextDueAt = time.Time{}
	}
	if !when.After(now) {
		r.Status, r.NextDueAt = StatusCancelled, time.Time{}
		if _, err := store.CancelDueInstalments(tx, r.ID, now); err != nil {
			return err
		}
	}
	r.UpdatedAt = now
	return store.UpdateSubscription(tx, r)
}

// ActiveOnToken reports whether a shop's token of one mode carries a
// subscription that still charges it: not cancelled, with an instalment to
// come or under way. The wallet form uses it to warn before a card is
// deleted.
func (s *Service) ActiveOnToken(ctx context.Context, shopID, mode, token string) (bool, error) {
	ok, err := store.ActiveSubscriptionOnToken(ctx, s.db.Reader(), shopID, mode, token, s.clock.Now())
	if err != nil {
		return false, internal(err)
	}
	return ok, nil
}

// CancelForToken cancels now every subscription of a shop's mode paid with
// token that is not cancelled yet (Token/Cancel: subscriptions on a
// cancelled token stop). It returns how many it cancelled (not counting
// those whose termination date had passed, whose retries it stops).
func (s *Service) CancelForToken(ctx context.Context, shopID, mode, token string) (int, error) {
	n := 0
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.CancelForTokenTx(ctx, tx, shopID, mode, token)
		return err
	})
	if err != nil {
		return 0, internal(err)
	}
	return n, nil
}

// CancelForTokenTx is CancelForToken inside the caller's write transaction
// (the one that cancels the token), so that both commit together.
func (s *Service) CancelForTokenTx(ctx context.Context, tx *sql.Tx, shopID, mode, token string) (int, error) {
	subs, err := store.LockSubscriptionsOnToken(tx, s.db.Dialect(), shopID, mode, token)
	if err != nil {
		return 0, err
	}
	now := s.clock.Now()
	n := 0
	for i := range subs {
		r := &subs[i]
		// One whose termination date has passed is stopped too: its
		// status stays ACTIVE while instalments due before that date wait
		// for a retry, which Token/Reactivate would otherwise let charge.
		if r.Status == StatusCancelled {
			continue
		}
		ended := !r.CancelDate.IsZero() && !r.CancelDate.After(now)
		if err := cancelTx(tx, r, time.Time{}, now); err != nil {
			return n, err
		}
		if !ended {
			n++
		}
	}
	return n, nil
}

// ForWallet adapts the service to what the wallet service asks of
// subscriptions (wallet.SubscriptionChecker): ActiveOnToken, and
// ActiveOnTokenTx and CancelForToken inside the token cancellation's
// transaction.
func (s *Service) ForWallet() WalletHook { return WalletHook{s} }

// WalletHook is the service as the wallet service uses it.
type WalletHook struct{ s *Service }

// ActiveOnToken is Service.ActiveOnToken.
func (w WalletHook) ActiveOnToken(ctx context.Context, shopID, mode, token string) (bool, error) {
	return w.s.ActiveOnToken(ctx, shopID, mode, token)
}

// ActiveOnTokenTx is ActiveOnToken inside the write transaction that
// cancels the token, after the token's row is locked (its UPDATE): a
// subscription Create stored meanwhile has committed and is seen.
func (w WalletHook) ActiveOnTokenTx(ctx context.Context, tx *sql.Tx, shopID, mode, token string) (bool, error) {
	return store.ActiveSubscriptionOnToken(ctx, tx, shopID, mode, token, w.s.clock.Now())
}

// CancelForToken stops, inside tx, the subscriptions paid with token.
func (w WalletHook) CancelForToken(ctx context.Context, tx *sql.Tx, shopID, mode, token string) error {
	_, err := w.s.CancelForTokenTx(ctx, tx, shopID, mode, token)
	return err
}

// Instalment is one instalment of a subscription, for operators and tests.
type Instalment struct {
	Sequence int
	DueAt    time.Time
	Amount   int64 // due
	// PaidAmount is what a PAID instalment collected: its debit's amount,
	// lower than Amount when the merchant lowered the debit before its
	// capture.
	PaidAmount      int64
	Currency        string
	Status          string // DUE | CHARGING | PAID | FAILED | CANCELLED
	Attempts        int
	Refusals        int
	NextAttemptAt   time.Time
	PaymentID       string // of the last attempt
	TransactionUUID string
	ErrorCode       string
	ErrorDetail     string
}

// Instalments returns the instalments created so far of a shop's
// subscription, in sequence order.
func (s *Service) Instalments(ctx context.Context, shopID, id string) ([]Instalment, error) {
	r, err := store.GetSubscription(ctx, s.db.Reader(), shopID, id)
	if err := s.found(r, err, "", id, ""); err != nil {
		return nil, err
	}
	recs, err := store.Instalments(ctx, s.db.Reader(), id)
	if err != nil {
		return nil, internal(err)
	}
	out := make([]Instalment, len(recs))
	for i, x := range recs {
		out[i] = Instalment{Sequence: x.Sequence, DueAt: x.DueAt, Amount: x.Amount, PaidAmount: x.PaidAmount,
			Currency: x.Currency, Status: x.Status,
			Attempts: x.Attempts, Refusals: x.Refusals, NextAttemptAt: x.NextAttemptAt, PaymentID: x.PaymentID,
			TransactionUUID: x.TransactionUUID, ErrorCode: x.ErrorCode, ErrorDetail: x.ErrorDetail}
	}
	return out, nil
}
