package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/payment"
)

// The hosted page against the real payment service: a refused card (the
// reason shown, an attempt used), then a 3-D Secure challenge approved by
// the buyer; the kr-answer records the challenge and the liability shift.
func TestHostedPageRefusalThenChallenge(t *testing.T) {
	s := startServer(t, serverOpts{})
	answers := make(chan url.Values, 2)
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		answers <- r.PostForm
		io.WriteString(w, "<!doctype html><title>ok</title><h1 id=back>back</h1>")
	}))
	defer merchant.Close()
	env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 2000, "currency": "EUR", "orderId": "hosted-flow-1",
		"customer": map[string]any{"email": "a@example.com", "billingDetails": map[string]any{"language": "es"}}})
	formToken, _ := answer(env)["formToken"].(string)
	ctx := browsertest.New(t)
	must := mustDo(t)
	must(chromedp.Do(ctx,
		chromedp.Navigate(s.URL+"/pay/"+formToken+"?kr-post-url-success="+url.QueryEscape(merchant.URL+"/ok")+"&kr-post-url-refused="+url.QueryEscape(merchant.URL+"/ko")),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970109900000008"),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-form-error")),
	), "paying with a refused card")
	msg, err := chromedp.Run(ctx, browsertest.Text("#kr-form-error"))
	must(err, "reading the refusal")
	attempts, err := chromedp.Run(ctx, browsertest.Text("#kr-attempts"))
	must(err, "reading the attempts")
	if msg == "" || !strings.Contains(attempts, "2") {
		t.Fatalf("refusal %q, attempts %q", msg, attempts)
	}
	must(chromedp.Do(ctx,
		// The page keeps no card data after a refusal; empty what may remain.
		chromedp.SetValue(chromedp.CSS("#kr-pan"), ""),
		chromedp.SetValue(chromedp.CSS("#kr-expiry"), ""),
		chromedp.SetValue(chromedp.CSS("#kr-csc"), ""),
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "4970110000000021"),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), "123"),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#kr-acs-approve")),
		chromedp.Click(chromedp.CSS("#kr-acs-approve")),
		chromedp.WaitVisible(chromedp.CSS("#back")),
	), "paying with a challenge card")
	browsertest.NoConsoleErrors(t, ctx)
	var got url.Values
	select {
	case got = <-answers:
	case <-time.After(10 * time.Second):
		t.Fatal("no browser return")
	}
	var p struct {
		OrderStatus  string `json:"orderStatus"`
		Transactions []struct {
			DetailedStatus                string `json:"detailedStatus"`
			EffectiveStrongAuthentication string `json:"effectiveStrongAuthentication"`
			TransactionDetails            struct {
				LiabilityShift string `json:"liabilityShift"`
				CardDetails    struct {
					ThreeDSResponse map[string]any `json:"threeDSResponse"`
				} `json:"cardDetails"`
			} `json:"transactionDetails"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal([]byte(got.Get("kr-answer")), &p); err != nil || p.OrderStatus != "PAID" {
		t.Fatalf("kr-answer: %v %s", err, got.Get("kr-answer"))
	}
	last := p.Transactions[len(p.Transactions)-1]
	if last.EffectiveStrongAuthentication != "ENABLED" || last.TransactionDetails.LiabilityShift != "YES" {
		t.Fatalf("3-D Secure outcome not recorded: %+v", last)
	}
	order := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "hosted-flow-1"}))
	txs, _ := order["transactions"].([]any)
	if len(txs) != 2 {
		t.Fatalf("Order/Get: want the refused attempt and the paid one, got %d: %v", len(txs), order)
	}
}

// postCard submits the hosted page's card form as its script does (JSON
// answer) and returns the decoded answer.
func postCard(t *testing.T, s *server, formToken, pan string) map[string]any {
	t.Helper()
	var out map[string]any
	postCardForm(t, s, formToken+"?kr-language=en", url.Values{"pan": {pan}, "expiry": {"12/" + futureExpiry()[2:]}, "csc": {"123"}}, &out)
	return out
}

// postCardForm posts form to the hosted page /pay/{page} as its script
// does and decodes the JSON answer into out.
func postCardForm(t *testing.T, s *server, page string, form url.Values, out any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/pay/"+page, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", s.URL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
}

// An acquirer that does not answer in time leaves the attempt RUNNING:
// recovery will ask the acquirer later, and this test card is approved
// then. The buyer must not read "refused, try another card" (the card will
// be charged), and a second card must not be tried meanwhile, nor be
// answered "technical error, your card was not charged, try again".
// Likewise the loser of two submissions at once (a double click without
// the script, two tabs) learns that the payment is under way.
func TestHostedPageAcquirerTimeoutAndDoubleSubmission(t *testing.T) {
	s := startServer(t, serverOpts{env: map[string]string{"OPENPSP_ACQUIRER_TIMEOUT": "300ms"}})
	create := func(orderID string) string {
		env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 1500, "currency": "EUR", "orderId": orderID})
		ft, _ := answer(env)["formToken"].(string)
		return ft
	}
	const inProgress = "being processed"

	ft := create("hosted-timeout-1")
	first := postCard(t, s, ft, "4970109900000073") // timeout; approved on inquiry
	if msg, _ := first["message"].(string); first["step"] != "done" || first["accepted"] == true || !strings.Contains(msg, inProgress) {
		t.Errorf("acquirer timeout answered %v; want the payment shown as being processed, no retry", first)
	}
	again := postCard(t, s, ft, acceptedCard)
	if msg, _ := again["message"].(string); !strings.Contains(msg, inProgress) {
		t.Errorf("a second card while the first is RUNNING answered %v", again)
	}
	req, _ := http.NewRequest("GET", s.URL+"/pay/"+ft+"?kr-language=en", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(page), `id="kr-pan"`) || !strings.Contains(string(page), inProgress) {
		t.Errorf("the page of a RUNNING payment offers the card form again or does not say why:\n%s", page)
	}

	// Two submissions at once of the slow card (approved after 2 s, within
	// the default deadline): the loser is told the payment is under way.
	s = startServer(t, serverOpts{})
	ft = create("hosted-double-1")
	answers := make(chan map[string]any, 2)
	for range 2 {
		go func() { answers <- postCard(t, s, ft, "4970109900000081") }()
	}
	accepted := 0
	for range 2 {
		a := <-answers
		msg, _ := a["message"].(string)
		switch {
		case a["accepted"] == true:
			accepted++
		case !strings.Contains(msg, inProgress):
			t.Errorf("the second of two submissions answered %v", a)
		}
	}
	if accepted != 1 {
		t.Errorf("%d of two submissions at once accepted, want 1", accepted)
	}
}

// TestHostedOneClick: Lyra's one-click payment through the real server:
// a card saved by a REGISTER_PAY payment, then Charge/CreatePayment with
// only amount, currency and its paymentMethodToken; the hosted page offers
// the saved card with a security code field, and the card pays once the
// buyer gives the code. Order/Get shows the token payment.
func TestHostedOneClick(t *testing.T) {
	s := startServer(t, serverOpts{})
	env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 100, "currency": "EUR", "orderId": "oc-save", "formAction": "REGISTER_PAY"})
	ft, _ := answer(env)["formToken"].(string)
	if out := postCard(t, s, ft, "4970100000000055"); out["accepted"] != true {
		t.Fatalf("saving the card: %v", out)
	}
	saved := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "oc-save"}))
	txs, _ := saved["transactions"].([]any)
	if len(txs) != 1 {
		t.Fatalf("Order/Get oc-save: %v", saved)
	}
	tok, _ := txs[0].(map[string]any)["paymentMethodToken"].(string)
	if tok == "" {
		t.Fatalf("no token saved: %v", txs[0])
	}

	env = s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 990, "currency": "EUR", "orderId": "oc-pay", "paymentMethodToken": tok})
	ft, _ = answer(env)["formToken"].(string)
	if ft == "" {
		t.Fatalf("one-click CreatePayment: %v", env)
	}
	resp, err := http.Get(s.URL + "/pay/" + ft + "?kr-language=en")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := regexp.MustCompile(`name="saved" id="[^"]*" value="([^"]+)" checked`).FindSubmatch(page)
	if id == nil || !strings.Contains(string(page), "497010XXXXXX0055") || !strings.Contains(string(page), `id="kr-saved-csc"`) ||
		strings.Contains(string(page), tok) {
		t.Fatalf("one-click page:\n%s", page)
	}
	post := func(v url.Values) map[string]any {
		req, _ := http.NewRequest("POST", s.URL+"/pay/"+ft+"?kr-language=en", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Origin", s.URL)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		return out
	}
	if out := post(url.Values{"saved": {string(id[1])}}); out["step"] != "form" || out["accepted"] == true {
		t.Fatalf("without the security code: %v", out)
	}
	if out := post(url.Values{"saved": {string(id[1])}, "saved_csc": {"123"}}); out["accepted"] != true {
		t.Fatalf("with the security code: %v", out)
	}
	paid := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "oc-pay"}))
	txs, _ = paid["transactions"].([]any)
	if len(txs) != 1 {
		t.Fatalf("Order/Get oc-pay: %v", paid)
	}
	tx := txs[0].(map[string]any)
	cd, _ := tx["transactionDetails"].(map[string]any)["cardDetails"].(map[string]any)
	if tx["paymentMethodToken"] != tok || tx["status"] != "PAID" || cd["paymentMethodSource"] != "TOKEN" {
		t.Fatalf("one-click transaction %v", tx)
	}

	// The saved card posted again once the form is over (back button and
	// "resend", a second tab) shows the outcome, page and JSON, and pays
	// nothing; another saved card reads that the form is over.
	if out := post(url.Values{"saved": {string(id[1])}, "saved_csc": {"123"}}); out["step"] != "done" || out["accepted"] != true {
		t.Errorf("the saved card posted again answered %v", out)
	}
	pageReq, _ := http.NewRequest("POST", s.URL+"/pay/"+ft+"?kr-language=en",
		strings.NewReader(url.Values{"saved": {string(id[1])}, "saved_csc": {"123"}}.Encode()))
	pageReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	pageReq.Header.Set("Origin", s.URL)
	resp, err = http.DefaultClient.Do(pageReq)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `data-page="result"`) || strings.Contains(string(page), "already been processed") ||
		strings.Contains(string(page), tok) {
		t.Errorf("the saved card posted again as a page: %d\n%s", resp.StatusCode, page)
	}
	if out := post(url.Values{"saved": {"0190a0a0-0000-7000-8000-000000000000"}, "saved_csc": {"123"}}); out["accepted"] == true || out["message"] != "This payment has already been processed." {
		t.Errorf("another saved card posted to the paid form answered %v", out)
	}
	if txs, _ := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "oc-pay"}))["transactions"].([]any); len(txs) != 1 {
		t.Errorf("paid then replayed: %d transactions, want 1", len(txs))
	}
}

// postForm posts fields to a hosted page path as the form script does
// (JSON answer) and returns the decoded answer.
func postForm(t *testing.T, s *server, path string, fields url.Values) map[string]any {
	t.Helper()
	_, body := postPage(t, s, path, fields)
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return out
}

// postPage posts fields to a path of s as a page of s does (asking for
// JSON where the page answers it), not following a redirect, and returns
// the status and body.
func postPage(t *testing.T, s *server, path string, fields url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", s.URL)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A 3-D Secure challenge completes once. The sealed card stays valid 10
// minutes in the buyer's page, so the buyer (or anyone holding the page)
// can post the completion again, with the other answer, or twice at once:
// no replay may make a second attempt (a second authorization, a second
// transaction, an attempt used), and the replay shows the outcome of the
// first completion.
func TestHostedChallengeCompletesOnce(t *testing.T) {
	s := startServer(t, serverOpts{})
	challenge := func(orderID, pan, sa string) (formToken, sealed string) {
		t.Helper()
		req := map[string]any{"amount": 1200, "currency": "EUR", "orderId": orderID}
		if sa != "" {
			req["strongAuthentication"] = sa
		}
		ft, _ := answer(s.v4(t, "Charge/CreatePayment", req))["formToken"].(string)
		res := postCard(t, s, ft, pan)
		sealed, _ = res["sealed"].(string)
		if res["step"] != "challenge" || sealed == "" {
			t.Fatalf("%s: no challenge: %v", orderID, res)
		}
		return ft, sealed
	}
	complete := func(ft, sealed, decision string) map[string]any {
		return postForm(t, s, "/pay/"+ft+"/3ds/complete?kr-language=en", url.Values{"sealed": {sealed}, "decision": {decision}})
	}
	transactions := func(orderID string) []any {
		t.Helper()
		txs, _ := answer(s.v4(t, "Order/Get", map[string]any{"orderId": orderID}))["transactions"].([]any)
		return txs
	}

	// (1) Fail, then the same sealed card posted again with Approve.
	ft, sealed := challenge("challenge-once-1", "4970110000000021", "")
	first := complete(ft, sealed, "fail")
	if first["step"] != "form" || first["accepted"] == true {
		t.Fatalf("failed challenge answered %v", first)
	}
	replay := complete(ft, sealed, "approve")
	if replay["accepted"] == true || replay["message"] != first["message"] || replay["attemptsText"] != first["attemptsText"] {
		t.Errorf("replay after a failed challenge answered %v; the first completion answered %v", replay, first)
	}
	if txs := transactions("challenge-once-1"); len(txs) != 1 {
		t.Errorf("replay after a failed challenge: %d transactions, want 1", len(txs))
	}

	// (2) Approve on a card the acquirer refuses, then the completion
	// again: the authentication must not be sent to the acquirer twice.
	ft, sealed = challenge("challenge-once-2", "4970109900000008", "CHALLENGE_REQUESTED")
	first = complete(ft, sealed, "approve")
	if first["step"] != "form" || first["accepted"] == true {
		t.Fatalf("refused card after the challenge answered %v", first)
	}
	replay = complete(ft, sealed, "approve")
	if replay["accepted"] == true || replay["message"] != first["message"] || replay["attemptsText"] != first["attemptsText"] {
		t.Errorf("replay of an approved challenge answered %v; the first completion answered %v", replay, first)
	}
	if txs := transactions("challenge-once-2"); len(txs) != 1 {
		t.Errorf("replay of an approved challenge: %d transactions, want 1", len(txs))
	}

	// (2b) Approve on an accepted card, then the completion again.
	ft, sealed = challenge("challenge-once-3", "4970110000000021", "")
	if first = complete(ft, sealed, "approve"); first["accepted"] != true {
		t.Fatalf("approved challenge answered %v", first)
	}
	// The form is over: the replay shows the payment's outcome (paid),
	// not "already processed", and writes nothing.
	if replay = complete(ft, sealed, "approve"); replay["step"] != "done" || replay["accepted"] != true || replay["message"] != first["message"] {
		t.Errorf("replay of a paid challenge answered %v; the first completion answered %v", replay, first)
	}
	fr := postForm(t, s, "/pay/"+ft+"/3ds/complete?kr-language=fr", url.Values{"sealed": {sealed}, "decision": {"approve"}})
	if fr["step"] != "done" || fr["accepted"] != true || fr["message"] != "Paiement accepté. Merci\u00a0!" {
		t.Errorf("replay of a paid challenge in French answered %v", fr)
	}
	if txs := transactions("challenge-once-3"); len(txs) != 1 {
		t.Errorf("replay of a paid challenge: %d transactions, want 1", len(txs))
	}

	// (2c) Every attempt failed: the replay of the first challenge shows
	// the final refusal, as the last completion did.
	ft, sealed = challenge("challenge-once-5", "4970110000000021", "")
	complete(ft, sealed, "fail")
	var last map[string]any
	for range 2 {
		res := postCard(t, s, ft, "4970110000000021")
		next, _ := res["sealed"].(string)
		if res["step"] != "challenge" || next == "" {
			t.Fatalf("no challenge for another attempt: %v", res)
		}
		last = complete(ft, next, "fail")
	}
	if last["step"] != "done" || last["accepted"] == true {
		t.Fatalf("last failed attempt answered %v", last)
	}
	if replay = complete(ft, sealed, "approve"); replay["step"] != "done" || replay["accepted"] == true || replay["message"] != last["message"] {
		t.Errorf("replay after the form ended refused answered %v; the last completion answered %v", replay, last)
	}
	if txs := transactions("challenge-once-5"); len(txs) != 3 {
		t.Errorf("replay after the form ended refused: %d transactions, want 3", len(txs))
	}

	// (3) Two completions at once.
	ft, sealed = challenge("challenge-once-4", "4970109900000008", "CHALLENGE_REQUESTED")
	answers := make(chan map[string]any, 2)
	for range 2 {
		go func() { answers <- complete(ft, sealed, "approve") }()
	}
	for range 2 {
		if a := <-answers; a["accepted"] == true {
			t.Errorf("concurrent completion answered %v", a)
		}
	}
	if txs := transactions("challenge-once-4"); len(txs) != 1 {
		t.Errorf("two completions at once: %d transactions, want 1", len(txs))
	}
}

// A card form posted again once the form is over (the back button and
// "resend", a double click, a second tab) said "already processed": it
// shows the payment's outcome, paid or finally refused, as the first
// answer did, and writes nothing. Only a post of the payment's own card
// (masked number and expiry) learns the outcome; any other card reads
// that the form is over, as before.
func TestHostedSubmitReplayedAfterEndShowsTheOutcome(t *testing.T) {
	s := startServer(t, serverOpts{})
	transactions := func(orderID string) []any {
		t.Helper()
		txs, _ := answer(s.v4(t, "Order/Get", map[string]any{"orderId": orderID}))["transactions"].([]any)
		return txs
	}
	form := func(orderID string) string {
		t.Helper()
		ft, _ := answer(s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 1500, "currency": "EUR", "orderId": orderID}))["formToken"].(string)
		return ft
	}

	// Paid.
	ft := form("replay-paid")
	first := postCard(t, s, ft, "4970100000000055")
	if first["step"] != "done" || first["accepted"] != true {
		t.Fatalf("payment answered %v", first)
	}
	if replay := postCard(t, s, ft, "4970100000000055"); replay["step"] != "done" || replay["accepted"] != true || replay["message"] != first["message"] {
		t.Errorf("the same card posted again answered %v; the first post answered %v", replay, first)
	}
	if other := postCard(t, s, ft, "5100010000002045"); other["accepted"] == true || other["message"] != "This payment has already been processed." {
		t.Errorf("another card posted to the paid form answered %v", other)
	}
	if txs := transactions("replay-paid"); len(txs) != 1 {
		t.Errorf("paid then replayed: %d transactions, want 1", len(txs))
	}

	// Every attempt refused: the replay shows the final refusal.
	ft = form("replay-refused")
	var last map[string]any
	for range 3 {
		last = postCard(t, s, ft, "4970109900000008")
	}
	if last["step"] != "done" || last["accepted"] == true {
		t.Fatalf("last refused attempt answered %v", last)
	}
	if replay := postCard(t, s, ft, "4970109900000008"); replay["step"] != "done" || replay["accepted"] == true || replay["message"] != last["message"] {
		t.Errorf("the last refused card posted again answered %v; the last attempt answered %v", replay, last)
	}
	if txs := transactions("replay-refused"); len(txs) != 3 {
		t.Errorf("refused then replayed: %d transactions, want 3", len(txs))
	}
}

// A form that expired unpaid tells the buyer so (410, "expired"), also
// once the expiry job has closed its order cycle: it read "This payment
// has already been processed." then, as if the buyer had paid. A form
// paid before it expired still reads that it was processed.
func TestHostedExpiredFormSaysExpired(t *testing.T) {
	clk := clock.NewFake(time.Now())
	s := startServer(t, serverOpts{clock: clk})
	create := func(orderID string) string {
		ft, _ := answer(s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 700, "currency": "EUR", "orderId": orderID}))["formToken"].(string)
		return ft
	}
	untouched, refused, paid := create("exp-untouched"), create("exp-refused"), create("exp-paid")
	if out := postCard(t, s, refused, "4970109900000008"); out["step"] != "form" {
		t.Fatalf("a refusal with attempts left answered %v", out)
	}
	if out := postCard(t, s, paid, acceptedCard); out["accepted"] != true {
		t.Fatalf("paying: %v", out)
	}
	clk.Advance(16 * time.Minute)
	if err := s.RunJobsOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, ft := range []string{untouched, refused} {
		if p, err := s.Payments.PaymentForToken(context.Background(), ft); err != nil || p.OrderCycle != payment.CycleClosed {
			t.Fatalf("the expiry job left %s %v (%v)", ft, p.OrderCycle, err)
		}
	}
	for _, c := range []struct {
		ft     string
		status int
		want   string
	}{
		{untouched, http.StatusGone, "This payment session has expired."},
		{refused, http.StatusGone, "This payment session has expired."},
		{paid, http.StatusOK, "This payment has already been processed."},
	} {
		resp, err := http.Get(s.URL + "/pay/" + c.ft + "?kr-language=en")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(page), c.want) {
			t.Errorf("%s: %d, want %d and %q:\n%s", c.ft, resp.StatusCode, c.status, c.want, page)
		}
		// Another card than the paid one's (whose post shows its outcome).
		if out := postCard(t, s, c.ft, "5100010000002045"); out["accepted"] == true || !strings.Contains(fmt.Sprint(out["message"]), c.want) {
			t.Errorf("%s: a card posted answered %v, want %q", c.ft, out, c.want)
		}
	}
}
