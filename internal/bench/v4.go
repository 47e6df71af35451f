package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

// Target is the server under load and the shop whose keys the load uses.
type Target struct {
	URL      string
	ShopID   string
	Password string // REST API password (TEST mode)
}

// authHeader is computed per request: the load's goroutines share the
// Target, and a lazily cached value was a data race.
func (t *Target) authHeader() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(t.ShopID+":"+t.Password))
}

// envelope is the part of a V4 answer the scenarios check.
type envelope struct {
	Status string          `json:"status"`
	Answer json.RawMessage `json:"answer"`
}

type v4Error struct {
	ErrorCode            string `json:"errorCode"`
	ErrorMessage         string `json:"errorMessage"`
	DetailedErrorMessage string `json:"detailedErrorMessage"`
}

// V4Error is a web-service answer with status ERROR.
type V4Error struct {
	Service string
	Code    string
	Message string
}

func (e *V4Error) Error() string {
	return fmt.Sprintf("%s: %s %s", e.Service, e.Code, e.Message)
}

// v4Request builds a web-service call as a merchant's server sends it.
func (t *Target) v4Request(service string, body []byte) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, t.URL+"/api-payment/V4/"+service, bytes.NewReader(body))
	req.Header.Set("Authorization", t.authHeader())
	req.Header.Set("Content-Type", "application/json")
	return req
}

// call sends a V4 web-service call and decodes the answer into out (when
// not nil). A V4 ERROR answer is returned as *V4Error.
func (t *Target) call(ctx context.Context, c *http.Client, service string, body []byte, out any) error {
	raw, _, err := do(ctx, c, t.v4Request(service, body), http.StatusOK)
	if err != nil {
		return fmt.Errorf("%s: %w", service, err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s: answer is not JSON: %.200s", service, raw)
	}
	if env.Status != "SUCCESS" {
		var e v4Error
		_ = json.Unmarshal(env.Answer, &e)
		msg := e.ErrorMessage
		if e.DetailedErrorMessage != "" {
			msg += " (" + e.DetailedErrorMessage + ")"
		}
		return &V4Error{Service: service, Code: e.ErrorCode, Message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(env.Answer, out); err != nil {
			return fmt.Errorf("%s: answer: %w", service, err)
		}
	}
	return nil
}

// paymentAnswer is the part of a V4/Payment the scenarios check.
type paymentAnswer struct {
	Type         string `json:"_type"`
	OrderStatus  string `json:"orderStatus"`
	OrderDetails struct {
		OrderID string `json:"orderId"`
	} `json:"orderDetails"`
	Transactions []struct {
		UUID           string `json:"uuid"`
		Status         string `json:"status"`
		DetailedStatus string `json:"detailedStatus"`
	} `json:"transactions"`
}
