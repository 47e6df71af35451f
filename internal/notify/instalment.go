package notify

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/openpsp/openpsp/internal/contact"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/shop"
)

// EventInstalmentFailed: a subscription's instalment failed before any
// payment was made (the token cannot pay, or too many technical failures):
// there is no payment, so no IPN, and this is how the merchant learns it.
// It also tells of an instalment whose debit expired unvalidated or was
// cancelled by the merchant, whose IPN does not say that the instalment is
// over (InstalmentFacts.Reason).
const EventInstalmentFailed = "subscription.instalment_failed"

// Why an instalment failed by the merchant's own decision
// (InstalmentFacts.Reason): its debit, waiting for the merchant's
// validation, expired unvalidated, or the merchant cancelled it. Nothing
// is wrong with the card then, and the notice must not say so. The empty
// reason is a charge that failed.
const (
	InstalmentNotValidated = "not_validated"
	InstalmentCancelled    = "cancelled"
)

// InstalmentFacts describe an instalment that failed before any payment.
type InstalmentFacts struct {
	SubscriptionID string // ordering key: messages of one subscription go out in order
	Token          string
	OrderID        string
	Mode           string // TEST or PRODUCTION
	Sequence       int
	Amount         int64 // minor units
	Currency       string
	DueAt          time.Time
	Attempts       int // attempts made before it failed (0: none was possible)
	ErrorCode      string
	ErrorDetail    string
	// Reason: InstalmentNotValidated or InstalmentCancelled when the
	// merchant ended the instalment's debit, empty when a charge failed.
	Reason     string
	At         time.Time // when it failed
	DetailsURL string    // back-office page of the subscription (optional)
	// NotificationURL overrides the shop's notification URL (the
	// subscription's ipnTargetUrl).
	NotificationURL string
}

// InstalmentFailed queues, in tx, what tells the merchant that an
// instalment failed before any payment: a signed OpenPSP webhook to the
// notification URL (the subscription's, else the shop's) and an email to
// the merchant. Neither depends on a shop switch: with no payment there is
// no IPN nor payment notice, and a merchant living on recurring revenue
// must hear of it. Missing recipients are reported in Skipped.
func InstalmentFailed(tx *sql.Tx, now time.Time, s shop.Shop, f InstalmentFacts) (Enqueued, error) {
	var out Enqueued
	if tx == nil {
		return out, fmt.Errorf("notify: no transaction to queue the notifications in")
	}
	if err := checkMode(f.Mode); err != nil {
		return out, err
	}
	if f.Reason != "" && f.Reason != InstalmentNotValidated && f.Reason != InstalmentCancelled {
		// Worded as a failed charge, it would send the merchant to check a
		// card that has nothing to do with it.
		return out, fmt.Errorf("notify: unknown reason %q for a failed instalment", f.Reason)
	}
	if f.At.IsZero() {
		f.At = now
	}
	key := "subscription:" + f.SubscriptionID
	target := f.NotificationURL
	if target == "" {
		target = s.NotificationURL
	}
	if target == "" {
		out.skip(outbox.ChannelWebhook, "url", "no notification URL")
	} else {
		id := ids.New()
		body, err := outbox.WebhookEnvelope(id, EventInstalmentFailed, s.ID, f.Mode, f.At, instalmentWebhookData(f))
		if err != nil {
			return out, err
		}
		if err := out.add(tx, now, outbox.Message{ID: id, ShopID: s.ID, Channel: outbox.ChannelWebhook, Event: EventInstalmentFailed,
			OrderingKey: key, Target: target, Payload: body}, nil); err != nil {
			return out, err
		}
	}
	to := merchantEmail(s)
	if !contact.ValidEmail(to) {
		out.skip(outbox.ChannelEmail, "merchant", "no valid merchant email")
		return out, nil
	}
	view := &InstalmentView{SubscriptionID: f.SubscriptionID, Token: f.Token, OrderID: f.OrderID, Sequence: f.Sequence,
		Amount: f.Amount, Currency: f.Currency, DueAt: f.DueAt, ErrorCode: f.ErrorCode, ErrorDetail: f.ErrorDetail,
		Reason: f.Reason, At: f.At, DetailsURL: f.DetailsURL}
	c := Content{Template: TplInstalmentMerchant, Lang: Language(s.Language), Mode: f.Mode, Recipient: "merchant",
		Shop: shopView(s, ""), Instalment: view, TimeZone: s.Settings.TimeZone}
	if err := out.add(tx, now, outbox.Message{ShopID: s.ID, Channel: outbox.ChannelEmail, Event: EventInstalmentFailed,
		OrderingKey: key + "/merchant", Target: to}, c); err != nil {
		return out, err
	}
	return out, nil
}

// instalmentWebhookData is the "data" of a subscription.instalment_failed
// webhook; field names follow the V4 API where one exists.
func instalmentWebhookData(f InstalmentFacts) any {
	type instalment struct {
		Sequence    int    `json:"sequence"`
		DueDate     string `json:"dueDate"`
		Amount      int64  `json:"amount"`
		Currency    string `json:"currency"`
		Attempts    int    `json:"attempts"`
		ErrorCode   string `json:"errorCode,omitempty"`
		ErrorDetail string `json:"errorDetail,omitempty"`
		// Reason is InstalmentNotValidated or InstalmentCancelled when the
		// merchant's own decision ended the instalment (omitted otherwise).
		Reason string `json:"reason,omitempty"`
	}
	return struct {
		SubscriptionID     string     `json:"subscriptionId"`
		PaymentMethodToken string     `json:"paymentMethodToken"`
		OrderID            string     `json:"orderId,omitempty"`
		Instalment         instalment `json:"instalment"`
	}{f.SubscriptionID, f.Token, f.OrderID, instalment{f.Sequence, f.DueAt.UTC().Format(time.DateOnly), f.Amount, f.Currency,
		f.Attempts, f.ErrorCode, f.ErrorDetail, f.Reason}}
}
