package v4

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/subscription"
)

// subscriptionsAPI serves the subscription web services over
// subscription.Service: Charge/CreateSubscription, Subscription/Get,
// Subscription/Update and Subscription/Cancel (docs/subscriptions.md).
// Every service sees the subscriptions of the key set's mode only.
type subscriptionsAPI struct {
	svc *subscription.Service
}

type cardOptionsRequest struct {
	CaptureDelay     *json.Number `json:"captureDelay"`
	ManualValidation *string      `json:"manualValidation"`
	PaymentSource    *string      `json:"paymentSource"`
}

type subscriptionRequest struct {
	SubscriptionID      *string           `json:"subscriptionId"`
	PaymentMethodToken  *string           `json:"paymentMethodToken"`
	Amount              *json.Number      `json:"amount"`
	Currency            *string           `json:"currency"`
	EffectDate          *string           `json:"effectDate"`
	RRule               *string           `json:"rrule"`
	OrderID             *string           `json:"orderId"`
	Description         *string           `json:"description"`
	Comment             *string           `json:"comment"`
	InitialAmount       *json.Number      `json:"initialAmount"`
	InitialAmountNumber *json.Number      `json:"initialAmountNumber"`
	Metadata            map[string]string `json:"metadata"`
	IPNTargetURL        *string           `json:"ipnTargetUrl"`
	TerminationDate     *string           `json:"terminationDate"`
	TransactionOptions  *struct {
		CardOptions *cardOptionsRequest `json:"cardOptions"`
	} `json:"transactionOptions"`
}

func (r subscriptionRequest) cardOptions() *cardOptionsRequest {
	if r.TransactionOptions == nil {
		return nil
	}
	return r.TransactionOptions.CardOptions
}

// money reads the amounts common to create and update: amount (required),
// initialAmount and initialAmountNumber.
func (r subscriptionRequest) money() (amount int64, initial *int64, number *int, err error) {
	if r.Amount == nil {
		return 0, nil, nil, invalidField("amount", "null")
	}
	a, err := amountField("amount", r.Amount)
	if err != nil {
		return 0, nil, nil, err
	}
	if initial, err = amountField("initialAmount", r.InitialAmount); err != nil {
		return 0, nil, nil, err
	}
	if r.InitialAmountNumber != nil {
		n, err := strconv.Atoi(r.InitialAmountNumber.String())
		if err != nil {
			return 0, nil, nil, invalidField("initialAmountNumber", r.InitialAmountNumber.String())
		}
		number = &n
	}
	return *a, initial, number, nil
}

func requiredField(field string, s *string) (string, error) {
	if s == nil || *s == "" {
		return "", invalidField(field, "null")
	}
	return *s, nil
}

// createSubscription is Charge/CreateSubscription: amount, currency,
// effectDate, paymentMethodToken and rrule (required), orderId,
// description, comment, initialAmount, initialAmountNumber, metadata,
// ipnTargetUrl, transactionOptions.cardOptions (captureDelay,
// manualValidation, paymentSource). Answers V4/Charge/SubscriptionCreated.
func (a *subscriptionsAPI) createSubscription(c *Call) (any, error) {
	var r subscriptionRequest
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	amount, initial, number, err := r.money()
	if err != nil {
		return nil, err
	}
	effect, err := dateField("effectDate", r.EffectDate)
	if err != nil {
		return nil, err
	}
	in := subscription.CreateInput{
		Amount: amount, Currency: str(r.Currency), EffectDate: effect, PaymentMethodToken: str(r.PaymentMethodToken),
		RRule: str(r.RRule), OrderID: str(r.OrderID), Description: str(r.Description), InitialAmount: initial,
		Metadata: r.Metadata, Options: subscription.Options{IPNTargetURL: str(r.IPNTargetURL), Comment: str(r.Comment)},
	}
	if number != nil {
		in.InitialAmountNumber = *number
	}
	if co := r.cardOptions(); co != nil {
		if co.CaptureDelay != nil {
			d, err := strconv.Atoi(co.CaptureDelay.String())
			if err != nil {
				return nil, invalidField("transactionOptions.cardOptions.captureDelay", co.CaptureDelay.String())
			}
			in.Options.CaptureDelay = &d
		}
		in.Options.ManualValidation, in.Options.PaymentSource = str(co.ManualValidation), str(co.PaymentSource)
	}
	sub, err := a.svc.Create(c.Ctx, c.Shop, c.Creds, in)
	if err != nil {
		return nil, err
	}
	return subscription.CreatedObject(sub), nil
}

// subscriptionGet is Subscription/Get: subscriptionId and
// paymentMethodToken, both required (PayZen keys a subscription by the
// two). Answers V4/Subscription.
func (a *subscriptionsAPI) subscriptionGet(c *Call) (any, error) {
	var r subscriptionRequest
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	id, err := requiredField("subscriptionId", r.SubscriptionID)
	if err != nil {
		return nil, err
	}
	token, err := requiredField("paymentMethodToken", r.PaymentMethodToken)
	if err != nil {
		return nil, err
	}
	sub, err := a.svc.Get(c.Ctx, c.Shop.ID, c.Creds.Mode, id, token)
	if err != nil {
		return nil, err
	}
	return subscription.Object(sub), nil
}

// subscriptionUpdate is Subscription/Update: subscriptionId,
// paymentMethodToken, amount, currency, effectDate and rrule (required),
// initialAmount, initialAmountNumber, description,
// transactionOptions.cardOptions. Answers V4/Common/ResponseCodeAnswer.
func (a *subscriptionsAPI) subscriptionUpdate(c *Call) (any, error) {
	var r subscriptionRequest
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	id, err := requiredField("subscriptionId", r.SubscriptionID)
	if err != nil {
		return nil, err
	}
	token, err := requiredField("paymentMethodToken", r.PaymentMethodToken)
	if err != nil {
		return nil, err
	}
	amount, initial, number, err := r.money()
	if err != nil {
		return nil, err
	}
	effect, err := dateField("effectDate", r.EffectDate)
	if err != nil {
		return nil, err
	}
	rrule, err := requiredField("rrule", r.RRule)
	if err != nil {
		return nil, err
	}
	in := subscription.UpdateInput{
		SubscriptionID: id, PaymentMethodToken: token, Amount: amount, Currency: str(r.Currency), EffectDate: effect,
		RRule: rrule, InitialAmount: initial, InitialAmountNumber: number, Description: r.Description,
	}
	if co := r.cardOptions(); co != nil {
		if co.CaptureDelay != nil {
			d, err := strconv.Atoi(co.CaptureDelay.String())
			if err != nil {
				return nil, invalidField("transactionOptions.cardOptions.captureDelay", co.CaptureDelay.String())
			}
			in.CaptureDelay = &d
		}
		in.ManualValidation, in.PaymentSource = co.ManualValidation, co.PaymentSource
	}
	if _, err := a.svc.Update(c.Ctx, c.Shop, c.Creds, in); err != nil {
		return nil, err
	}
	return responseCodeAnswer{ResponseCode: 0, ResponseCodeDetail: "subscription updated", Type: "V4/Common/ResponseCodeAnswer"}, nil
}

// Response codes of Subscription/Cancel (PayZen's playground table).
const (
	cancelDone             = 0
	cancelTokenNotFound    = 30
	cancelNotFound         = 32
	cancelDetailDone       = "Recurring payment successfully terminated"
	cancelDetailNoToken    = "Token not found"
	cancelDetailNoSuchSubs = "Subscription not found"
)

// subscriptionCancel is Subscription/Cancel: subscriptionId and
// paymentMethodToken (required), terminationDate (optional: the
// subscription ends then instead of now). As PayZen documents it, it
// answers V4/Common/ResponseCodeAnswer with responseCode 0 (terminated),
// 30 (token not found) or 32 (subscription not found); a subscription
// already cancelled is an error, PSP_033.
func (a *subscriptionsAPI) subscriptionCancel(c *Call) (any, error) {
	var r subscriptionRequest
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	id, err := requiredField("subscriptionId", r.SubscriptionID)
	if err != nil {
		return nil, err
	}
	token, err := requiredField("paymentMethodToken", r.PaymentMethodToken)
	if err != nil {
		return nil, err
	}
	var termination time.Time
	if r.TerminationDate != nil && *r.TerminationDate != "" {
		if termination, err = dateField("terminationDate", r.TerminationDate); err != nil {
			return nil, err
		}
	}
	_, err = a.svc.Cancel(c.Ctx, c.Shop.ID, c.Creds.Mode, id, token, termination)
	if e, ok := errs.As(err); ok {
		switch e.Code {
		case errs.SubNotFound:
			return responseCodeAnswer{ResponseCode: cancelNotFound, ResponseCodeDetail: cancelDetailNoSuchSubs, Type: "V4/Common/ResponseCodeAnswer"}, nil
		case errs.TokenNotFound:
			return responseCodeAnswer{ResponseCode: cancelTokenNotFound, ResponseCodeDetail: cancelDetailNoToken, Type: "V4/Common/ResponseCodeAnswer"}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return responseCodeAnswer{ResponseCode: cancelDone, ResponseCodeDetail: cancelDetailDone, Type: "V4/Common/ResponseCodeAnswer"}, nil
}
