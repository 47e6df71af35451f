package subscription

import "github.com/openpsp/openpsp/internal/payment"

// The PayZen V4 answers of the subscription web services. Field names
// follow the public descriptions of V4/Subscription (Subscription/Get) and
// V4/Charge/SubscriptionCreated: the Lyra playground lists, and the SDKs
// and adapters that read them (docs/subscriptions.md names them).

type subscriptionJSON struct {
	SubscriptionID      string            `json:"subscriptionId"`
	ShopID              string            `json:"shopId"`
	PaymentMethodToken  string            `json:"paymentMethodToken"`
	OrderID             *string           `json:"orderId"`
	Metadata            map[string]string `json:"metadata"`
	EffectDate          string            `json:"effectDate"`
	CancelDate          *string           `json:"cancelDate"`
	InitialAmount       *int64            `json:"initialAmount"`
	InitialAmountNumber int               `json:"initialAmountNumber"`
	Amount              int64             `json:"amount"`
	Currency            string            `json:"currency"`
	PastPaymentsNumber  int               `json:"pastPaymentsNumber"`
	TotalPaymentsNumber int               `json:"totalPaymentsNumber"`
	RRule               string            `json:"rrule"`
	Description         *string           `json:"description"`
	Type                string            `json:"_type"`
}

type createdJSON struct {
	ShopID             string  `json:"shopId"`
	OrderID            *string `json:"orderId"`
	SubscriptionID     string  `json:"subscriptionId"`
	PaymentMethodToken string  `json:"paymentMethodToken"`
	Type               string  `json:"_type"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Object returns sub as the V4/Subscription answer of Subscription/Get. It
// has no status field, as PayZen's: a cancelDate that has passed means
// cancelled, pastPaymentsNumber reaching a non-zero totalPaymentsNumber
// means over.
func Object(sub Subscription) any {
	j := subscriptionJSON{
		SubscriptionID: sub.ID, ShopID: sub.ShopID, PaymentMethodToken: sub.Token, OrderID: optString(sub.OrderID),
		Metadata: sub.Metadata, EffectDate: payment.Date(sub.EffectDate), InitialAmount: sub.InitialAmount,
		InitialAmountNumber: sub.InitialAmountNumber, Amount: sub.Amount, Currency: sub.Currency,
		PastPaymentsNumber: sub.PastPayments, TotalPaymentsNumber: sub.TotalPayments, RRule: sub.RRule,
		Description: optString(sub.Description), Type: "V4/Subscription",
	}
	if !sub.CancelDate.IsZero() {
		d := payment.Date(sub.CancelDate)
		j.CancelDate = &d
	}
	return j
}

// CreatedObject returns the Charge/CreateSubscription answer
// (V4/Charge/SubscriptionCreated).
func CreatedObject(sub Subscription) any {
	return createdJSON{ShopID: sub.ShopID, OrderID: optString(sub.OrderID), SubscriptionID: sub.ID,
		PaymentMethodToken: sub.Token, Type: "V4/Charge/SubscriptionCreated"}
}
