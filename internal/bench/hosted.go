package bench

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/openpsp/openpsp/internal/shop"
)

// checkoutScenario: Charge/CreatePayment, then the card submission of the
// hosted form as the page's script posts it (same-origin fetch, form
// encoded, JSON answer). One operation is both requests.
func checkoutScenario() *scenario {
	return &scenario{
		name: "checkout",
		what: "Charge/CreatePayment (formToken) + the hosted form's card submission as the page's script posts it (2 requests)",
		op: func(ctx context.Context, w *Worker) error {
			return envOf(ctx).checkout(ctx, w)
		},
		sample: func(e *runEnv) []byte { return e.createPaymentBody(e.runID + "-00-000000") },
	}
}

func (e *runEnv) createPaymentBody(orderID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"amount":       2500,
		"currency":     "EUR",
		"orderId":      orderID,
		"ipnTargetUrl": e.ipnURL,
		"customer":     map[string]any{"email": "buyer-" + orderID + "@bench.example"},
	})
	return b
}

// cardSubmission is what the hosted form posts for the accepted test card.
var cardSubmission = url.Values{"pan": {BenchCard}, "expiry": {"12/35"}, "csc": {"123"}}.Encode()

func (e *runEnv) checkout(ctx context.Context, w *Worker) error {
	var form struct {
		FormToken string `json:"formToken"`
	}
	if err := e.target.call(ctx, w.Client, "Charge/CreatePayment", e.createPaymentBody(e.orderID()), &form); err != nil {
		return err
	}
	if form.FormToken == "" {
		return fmt.Errorf("CreatePayment: no formToken")
	}
	req, _ := http.NewRequest(http.MethodPost, e.target.URL+"/pay/"+url.PathEscape(form.FormToken), strings.NewReader(cardSubmission))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", e.target.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	body, _, err := do(ctx, w.Client, req, http.StatusOK)
	if err != nil {
		return fmt.Errorf("hosted form submission: %w", err)
	}
	var out struct {
		Step     string `json:"step"`
		Accepted bool   `json:"accepted"`
		Message  string `json:"message"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return fmt.Errorf("hosted form submission: not JSON: %.200s", body)
	}
	if out.Step != "done" || !out.Accepted {
		return fmt.Errorf("hosted form submission: step %q accepted %v: %s", out.Step, out.Accepted, out.Message)
	}
	e.pay.Add(1)
	return nil
}

// tokenizeScenario: a FlexCheckout alias creation, as a buyer's browser
// does it: the merchant's signed link opens the page, the card form is
// posted, the answer redirects to the merchant's ACCEPTURL with
// Alias.Status 0. One operation is both requests.
func tokenizeScenario() *scenario {
	return &scenario{
		name: "tokenize",
		what: "FlexCheckout alias creation: the signed page opened, the card form posted, redirect to ACCEPTURL checked (2 requests)",
		op: func(ctx context.Context, w *Worker) error {
			return envOf(ctx).tokenize(ctx, w)
		},
		sample: func(e *runEnv) []byte { return []byte(e.flexParams("b0000-00-000000").Encode()) },
	}
}

// flexParams is a merchant's FlexCheckout request for the demo PSPID,
// signed with its SHA-IN passphrase (SHA-512, Ogone rules: names
// uppercased, empty values dropped, sorted, passphrase after each pair).
func (e *runEnv) flexParams(orderID string) url.Values {
	v := url.Values{
		"ACCOUNT.PSPID":           {shop.DemoPSPID},
		"ALIAS.ORDERID":           {orderID},
		"ALIAS.STOREPERMANENTLY":  {"Y"},
		"CARD.PAYMENTMETHOD":      {"CreditCard"},
		"LAYOUT.LANGUAGE":         {"en_GB"},
		"PARAMETERS.ACCEPTURL":    {"https://merchant.example/accept"},
		"PARAMETERS.EXCEPTIONURL": {"https://merchant.example/exception"},
		"PARAMETERS.DECLINEURL":   {"https://merchant.example/decline"},
		"PARAMETERS.PARAMPLUS":    {"bench=1"},
	}
	v.Set("SHASIGNATURE.SHASIGN", ogoneSHA(v, shop.DemoSHAPassphrase))
	return v
}

func ogoneSHA(v url.Values, passphrase string) string {
	names := make([]string, 0, len(v))
	up := map[string]string{}
	for k, vals := range v {
		if len(vals) == 0 || vals[0] == "" || strings.EqualFold(k, "SHASIGNATURE.SHASIGN") {
			continue
		}
		n := strings.ToUpper(k)
		up[n] = vals[0]
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + "=" + up[n] + passphrase)
	}
	sum := sha512.Sum512([]byte(b.String()))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

var flexActionRE = regexp.MustCompile(`action="(/Tokenization/HostedPage/[0-9a-fA-F]+)"`)

var flexCard = url.Values{"CARDNO": {BenchCard}, "CN": {"Bench Buyer"}, "EXPM": {"12"}, "EXPY": {"2035"}, "CVC": {"123"}}.Encode()

func (e *runEnv) tokenize(ctx context.Context, w *Worker) error {
	page, _, err := do(ctx, w.Client, mustGet(e.target.URL+"/Tokenization/HostedPage?"+e.flexParams(e.orderID()).Encode()), http.StatusOK)
	if err != nil {
		return fmt.Errorf("FlexCheckout page: %w", err)
	}
	m := flexActionRE.FindSubmatch(page)
	if m == nil {
		return fmt.Errorf("FlexCheckout page has no card form: %.200s", page)
	}
	req, _ := http.NewRequest(http.MethodPost, e.target.URL+string(m[1]), strings.NewReader(flexCard))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.target.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	_, resp, err := do(ctx, w.Client, req, http.StatusSeeOther)
	if err != nil {
		return fmt.Errorf("FlexCheckout card submission: %w", err)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), "https://merchant.example/accept") {
		return fmt.Errorf("FlexCheckout redirected to %q", resp.Header.Get("Location"))
	}
	q := loc.Query()
	if st := q.Get("Alias.Status"); st != "0" || q.Get("Alias.AliasId") == "" {
		return fmt.Errorf("FlexCheckout: Alias.Status %q NCError %q", st, q.Get("Alias.NCError"))
	}
	return nil
}

func mustGet(u string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	return req
}
