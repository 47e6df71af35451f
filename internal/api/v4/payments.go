package v4

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/payment"
)

// paymentsAPI serves the card payment web services over payment.Service:
// Charge/CreatePayment, Order/Get, Transaction/Get, Transaction/Capture,
// Transaction/Validate, Transaction/Update and Transaction/CancelOrRefund.
type paymentsAPI struct {
	svc *payment.Service
}

const msgInvalid = "web-service input data validation error"

func invalidField(field string, value any) error {
	return errs.Invalid(errs.InputInvalid, msgInvalid, field, value)
}

// amountField reads an integer amount in minor units.
func amountField(field string, n *json.Number) (*int64, error) {
	if n == nil {
		return nil, nil
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return nil, errs.Invalid(errs.BadAmount, "invalid amount", field, n.String())
	}
	return &v, nil
}

// dateField is the one reader of V4 dates (effectDate, terminationDate,
// cardUpdate.expectedCaptureDate): an ISO 8601 date-time, with or without
// offset, or a plain date (midnight UTC). It keeps the offset written, so
// the date the merchant wrote is the one that counts (effectDate
// 2030-04-01T00:00:00+02:00 is April 1, not March 31 in UTC); services
// that keep an instant convert to UTC themselves. Missing is "null", like
// the other required fields; optional dates are checked by the caller.
func dateField(field string, s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, invalidField(field, "null")
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, *s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, invalidField(field, *s)
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

// uuidField checks a transaction uuid; a well-formed unknown one is PSP_010
// from the service.
func uuidField(field string, s *string) (string, error) {
	if s == nil || *s == "" {
		return "", invalidField(field, "null")
	}
	if !uuidPattern.MatchString(*s) {
		return "", errs.Invalid(errs.TxNotFound, "transaction not found", field, *s)
	}
	return strings.ToLower(*s), nil
}

// inMode checks that a transaction belongs to the mode of the key set used:
// a TEST key neither sees nor changes PRODUCTION transactions, and the
// reverse. A transaction of the other mode is not found. It returns the
// transaction as it is now.
func (a *paymentsAPI) inMode(c *Call, uuid string) (payment.Transaction, error) {
	_, t, err := a.svc.Get(c.Ctx, c.Shop.ID, uuid)
	if err != nil {
		return t, err
	}
	if t.Mode != c.Creds.Mode {
		return payment.Transaction{}, errs.Invalid(errs.TxNotFound, "transaction not found", "uuid", uuid)
	}
	return t, nil
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

type createPaymentRequest struct {
	Amount             *json.Number      `json:"amount"`
	Currency           *string           `json:"currency"`
	OrderID            *string           `json:"orderId"`
	FormAction         *string           `json:"formAction"`
	PaymentMethodToken *string           `json:"paymentMethodToken"`
	Customer           *payment.Customer `json:"customer"`
	IPNTargetURL       *string           `json:"ipnTargetUrl"`
	TransactionOptions *struct {
		CardOptions *struct {
			CaptureDelay     *json.Number `json:"captureDelay"`
			ManualValidation *string      `json:"manualValidation"`
			PaymentSource    *string      `json:"paymentSource"`
		} `json:"cardOptions"`
	} `json:"transactionOptions"`
	StrongAuthentication *string           `json:"strongAuthentication"`
	Metadata             map[string]string `json:"metadata"`
	PaymentMethods       []string          `json:"paymentMethods"`
}

// createPayment is Charge/CreatePayment: a formToken for the hosted form
// (V4/Charge/PaymentForm), or for formAction SILENT the payment itself
// (V4/Payment).
func (a *paymentsAPI) createPayment(c *Call) (any, error) {
	var r createPaymentRequest
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	if r.Amount == nil {
		return nil, invalidField("amount", "null")
	}
	amount, err := amountField("amount", r.Amount)
	if err != nil {
		return nil, err
	}
	in := payment.CreateInput{
		Amount: *amount, Currency: str(r.Currency), OrderID: str(r.OrderID), FormAction: str(r.FormAction),
		PaymentMethodToken: str(r.PaymentMethodToken), IPNTargetURL: str(r.IPNTargetURL),
		StrongAuthentication: str(r.StrongAuthentication), Metadata: r.Metadata, PaymentMethods: r.PaymentMethods,
	}
	if r.Customer != nil {
		in.Customer = *r.Customer
	}
	if r.TransactionOptions != nil && r.TransactionOptions.CardOptions != nil {
		co := r.TransactionOptions.CardOptions
		if co.CaptureDelay != nil {
			d, err := strconv.Atoi(co.CaptureDelay.String())
			if err != nil {
				return nil, invalidField("transactionOptions.cardOptions.captureDelay", co.CaptureDelay.String())
			}
			in.CaptureDelay = &d
		}
		in.ManualValidation, in.PaymentSource = str(co.ManualValidation), str(co.PaymentSource)
	}
	if in.FormAction == payment.ActionSilent {
		p, _, err := a.svc.PayToken(c.Ctx, c.Shop, c.Creds, in)
		if err != nil {
			return nil, err
		}
		return payment.Object(p, a.svc.Now()), nil
	}
	_, formToken, err := a.svc.CreatePayment(c.Ctx, c.Shop, c.Creds, in)
	if err != nil {
		return nil, err
	}
	return paymentFormAnswer(formToken), nil
}

// transactionGet is Transaction/Get.
func (a *paymentsAPI) transactionGet(c *Call) (any, error) {
	var r struct {
		UUID *string `json:"uuid"`
	}
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	uuid, err := uuidField("uuid", r.UUID)
	if err != nil {
		return nil, err
	}
	p, t, err := a.svc.Get(c.Ctx, c.Shop.ID, uuid)
	if err != nil {
		return nil, err
	}
	if t.Mode != c.Creds.Mode {
		return nil, errs.Invalid(errs.TxNotFound, "transaction not found", "uuid", uuid)
	}
	return payment.TransactionObject(p, t), nil
}

// orderGet is Order/Get: every transaction of an orderId (optionally of one
// operation type) as V4/OrderTransactions, at most payment.MaxOrderResults
// of them (PSP_015 beyond).
func (a *paymentsAPI) orderGet(c *Call) (any, error) {
	var r struct {
		OrderID       *string `json:"orderId"`
		OperationType *string `json:"operationType"`
	}
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	if str(r.OrderID) == "" {
		return nil, invalidField("orderId", "null")
	}
	op := str(r.OperationType)
	switch op {
	case "", payment.Debit, payment.Credit, payment.Verification:
	default:
		return nil, invalidField("operationType", op)
	}
	ps, err := a.svc.OrderGet(c.Ctx, c.Shop.ID, c.Creds.Mode, *r.OrderID, op)
	if err != nil {
		return nil, err
	}
	return payment.OrderObject(ps, op, a.svc.Now()), nil
}

// capture is Transaction/Capture: capture now the AUTHORISED transactions
// listed in uuids (the single "uuid" is accepted too). It answers
// V4/Common/ResponseCodeAnswer.
func (a *paymentsAPI) capture(c *Call) (any, error) {
	var r struct {
		UUIDs []string `json:"uuids"`
		UUID  *string  `json:"uuid"`
	}
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	uuids := r.UUIDs
	if len(uuids) == 0 && r.UUID != nil {
		uuids = []string{*r.UUID}
	}
	if len(uuids) == 0 {
		return nil, invalidField("uuids", "null")
	}
	if len(uuids) > 100 {
		return nil, invalidField("uuids", len(uuids))
	}
	var checked []string
	seen := map[string]bool{}
	for i := range uuids {
		field := "uuids[" + strconv.Itoa(i) + "]"
		u, err := uuidField(field, &uuids[i])
		if err != nil {
			return nil, err
		}
		if seen[u] {
			continue // listed twice: captured once
		}
		seen[u] = true
		// Every transaction is checked before any is captured: an ERROR
		// answer must mean that nothing was captured (but for a race
		// with another call or an acquirer failure).
		t, err := a.inMode(c, u)
		if err != nil {
			return nil, err
		}
		if err := t.Capturable(); err != nil {
			e, _ := errs.As(err)
			return nil, &errs.Error{Code: e.Code, Message: e.Message, Field: field, Detail: "transaction " + u + ": " + e.Detail, Err: e.Err}
		}
		checked = append(checked, u)
	}
	for _, u := range checked {
		if _, _, err := a.svc.Capture(c.Ctx, c.Shop.ID, u); err != nil {
			if e, ok := errs.As(err); ok && e.Detail != "" {
				// Of several uuids, the merchant must know which one
				// was not captured (those before it were).
				ne := *e
				ne.Detail = "transaction " + u + ": " + e.Detail
				return nil, &ne
			}
			return nil, err
		}
	}
	return responseCodeAnswer{ResponseCode: 0, ResponseCodeDetail: "transactions captured", Type: "V4/Common/ResponseCodeAnswer"}, nil
}

type responseCodeAnswer struct {
	ResponseCode       int    `json:"responseCode"`
	ResponseCodeDetail string `json:"responseCodeDetail"`
	Type               string `json:"_type"`
}

// validate is Transaction/Validate.
func (a *paymentsAPI) validate(c *Call) (any, error) {
	var r struct {
		UUID    *string `json:"uuid"`
		Comment *string `json:"comment"`
	}
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	uuid, err := uuidField("uuid", r.UUID)
	if err != nil {
		return nil, err
	}
	if _, err := a.inMode(c, uuid); err != nil {
		return nil, err
	}
	p, t, err := a.svc.Validate(c.Ctx, c.Shop.ID, uuid)
	if err != nil {
		return nil, err
	}
	return payment.TransactionObject(p, t), nil
}

// update is Transaction/Update: cardUpdate {amount, currency,
// expectedCaptureDate, manualValidation}.
func (a *paymentsAPI) update(c *Call) (any, error) {
	var r struct {
		UUID       *string `json:"uuid"`
		CardUpdate *struct {
			Amount              *json.Number `json:"amount"`
			Currency            *string      `json:"currency"`
			ExpectedCaptureDate *string      `json:"expectedCaptureDate"`
			ManualValidation    *string      `json:"manualValidation"`
		} `json:"cardUpdate"`
		Comment *string `json:"comment"`
	}
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	uuid, err := uuidField("uuid", r.UUID)
	if err != nil {
		return nil, err
	}
	if r.CardUpdate == nil {
		return nil, invalidField("cardUpdate", "null")
	}
	cu := r.CardUpdate
	in := payment.UpdateInput{Currency: str(cu.Currency), ManualValidation: str(cu.ManualValidation)}
	if in.Amount, err = amountField("cardUpdate.amount", cu.Amount); err != nil {
		return nil, err
	}
	if str(cu.ExpectedCaptureDate) != "" {
		t, err := dateField("cardUpdate.expectedCaptureDate", cu.ExpectedCaptureDate)
		if err != nil {
			return nil, err
		}
		in.ExpectedCaptureDate = &t
	}
	if in.Amount == nil && in.ExpectedCaptureDate == nil && in.ManualValidation == "" {
		return nil, &errs.Error{Code: errs.NoChange, Message: "no change", Field: "cardUpdate",
			Detail: "cardUpdate changes nothing: give amount, expectedCaptureDate or manualValidation"}
	}
	if _, err := a.inMode(c, uuid); err != nil {
		return nil, err
	}
	p, t, err := a.svc.Update(c.Ctx, c.Shop.ID, uuid, in)
	if err != nil {
		return nil, err
	}
	return payment.TransactionObject(p, t), nil
}

// cancelOrRefund is Transaction/CancelOrRefund: the answer is the
// transaction produced, the cancelled debit or the refund (CREDIT).
func (a *paymentsAPI) cancelOrRefund(c *Call) (any, error) {
	var r struct {
		UUID           *string      `json:"uuid"`
		Amount         *json.Number `json:"amount"`
		Currency       *string      `json:"currency"`
		ResolutionMode *string      `json:"resolutionMode"`
		Comment        *string      `json:"comment"`
	}
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	uuid, err := uuidField("uuid", r.UUID)
	if err != nil {
		return nil, err
	}
	in := payment.CancelInput{Currency: str(r.Currency), ResolutionMode: str(r.ResolutionMode), Comment: str(r.Comment)}
	if in.Amount, err = amountField("amount", r.Amount); err != nil {
		return nil, err
	}
	if _, err := a.inMode(c, uuid); err != nil {
		return nil, err
	}
	p, t, err := a.svc.CancelOrRefund(c.Ctx, c.Shop.ID, uuid, in)
	if err != nil {
		return nil, err
	}
	return payment.TransactionObject(p, t), nil
}
