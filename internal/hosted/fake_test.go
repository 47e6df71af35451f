package hosted

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
)

// Demo shop keys (compat.md §1.2).
const (
	demoShop      = "69876357"
	demoPublicKey = "69876357:testpublickey_DEMOPUBLICKEY95me92597fd28tGD4r5"
	demoHMACKey   = "38453613e7f44dc58732bad3dca2bca3"
	otherShop     = "11112222"
	otherPublic   = "11112222:testpublickey_OTHER"
)

// payCall is what the fake payment service saw of one PayCard call.
type payCall struct {
	Token   string
	Masked  string
	Last4   string
	Expiry  string
	CVV     string
	Holder  string
	Save    bool
	ThreeDS *acquirer.ThreeDSResult
}

// fakePayments is the payment service at this package's boundary: forms in
// a map, outcomes by card number, a V4/Payment answer of the right shape.
// It refuses N/R 3-D Secure results without "authorizing", as
// CardInput.ThreeDS requires of the real one.
type fakePayments struct {
	mu         sync.Mutex
	forms      map[string]*Form
	calls      []payCall
	authorized int
	formErr    error
	// racing: another submission's attempt has started since the form
	// was read, so PayCard refuses with ErrInProgress.
	racing bool
	// final is the outcome of each form that is over.
	final map[string]Outcome
	// debitOn, when set, makes accepted attempts deferred payments whose
	// card was only checked, to be debited that day.
	debitOn time.Time
	// hold, when set, keeps PayCard waiting until it is closed: the page
	// stays in its busy state meanwhile.
	hold chan struct{}
	// started counts the PayCard calls received, held or not: the posts
	// of a card that reached the payment service.
	started int
	// cut, when set, makes PayCard authorize and then cut the connection
	// without an answer (http.ErrAbortHandler), as a proxy or a network
	// that drops the answer of a payment made does.
	cut bool
}

func newFakePayments() *fakePayments { return &fakePayments{forms: map[string]*Form{}} }

func (f *fakePayments) add(fm Form) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := fm
	f.forms[fm.FormToken] = &c
}

func (f *fakePayments) Form(_ context.Context, token string) (Form, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.formErr != nil {
		return Form{}, f.formErr
	}
	fm, ok := f.forms[token]
	if !ok {
		return Form{}, fmt.Errorf("payment: %w", ErrFormNotFound)
	}
	return *fm, nil
}

func (f *fakePayments) PayCard(ctx context.Context, token string, in CardInput) (Outcome, error) {
	f.mu.Lock()
	hold := f.hold
	f.started++
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return Outcome{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		f.authorized++
		panic(http.ErrAbortHandler)
	}
	fm, ok := f.forms[token]
	if !ok {
		return Outcome{}, ErrFormNotFound
	}
	if fm.Completed || fm.AttemptsLeft <= 0 {
		return Outcome{}, errors.New("form is over")
	}
	f.calls = append(f.calls, payCall{
		Token: token, Masked: in.PAN.Masked(), Last4: in.PAN.Last4(), Expiry: in.Expiry.MMYY(),
		CVV: in.CVV.Reveal(), Holder: in.Holder, Save: in.Save, ThreeDS: in.ThreeDS,
	})
	reason := ""
	switch {
	case in.ThreeDS != nil && (in.ThreeDS.Status == acquirer.ThreeDSFailed || in.ThreeDS.Status == acquirer.ThreeDSRejected):
		reason = ReasonThreeDSFailed
	case in.PAN.Reveal() == "4970109900000065":
		return Outcome{}, errors.New("acquirer unavailable")
	case f.racing:
		return Outcome{}, fmt.Errorf("payment: %w", ErrInProgress)
	case in.PAN.Reveal() == "4970109900000073":
		// The acquirer's answer did not come in time.
		f.authorized++
		fm.AttemptsLeft--
		fm.InProgress = true
		return Outcome{Pending: true, AttemptsLeft: fm.AttemptsLeft}, nil
	case in.PAN.Reveal() == "4970109900000016":
		f.authorized++
		reason = ReasonInsufficientFunds
	case in.PAN.Reveal() == "4970109900000008":
		f.authorized++
		reason = ReasonRefused
	default:
		f.authorized++
	}
	out := Outcome{Accepted: reason == "", CardMasked: in.PAN.Masked(), CardExpiry: in.Expiry}
	if out.Accepted {
		fm.Completed = true
		out.Final = true
		out.DebitOn = f.debitOn
	} else {
		fm.AttemptsLeft--
		out.Final = fm.AttemptsLeft == 0
		fm.Completed = out.Final
		out.Message = reason
	}
	out.AttemptsLeft = fm.AttemptsLeft
	out.KRAnswer = fakeAnswer(fm, in, out.Accepted)
	if out.Final {
		if f.final == nil {
			f.final = map[string]Outcome{}
		}
		f.final[token] = out
	}
	return out, nil
}

func (f *fakePayments) Outcome(_ context.Context, token string) (Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out, ok := f.final[token]
	if !ok {
		return Outcome{}, ErrNoOutcome
	}
	return out, nil
}

func (f *fakePayments) lastCall(t *testing.T) payCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("PayCard was not called")
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakePayments) startedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started
}

func (f *fakePayments) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// fakeAnswer builds a V4/Payment answer with what matters to the browser
// return: non-ASCII text, "/", "<", so escaping mistakes break the hash.
func fakeAnswer(fm *Form, in CardInput, accepted bool) []byte {
	status, detailed := "UNPAID", "REFUSED"
	if accepted {
		status, detailed = "PAID", "AUTHORISED"
	}
	var tds any
	if in.ThreeDS != nil {
		tds = map[string]any{"authenticationResultData": map[string]any{"transactionCondition": in.ThreeDS.Status, "eci": in.ThreeDS.ECI}}
	}
	a := map[string]any{
		"shopId":      fm.ShopID,
		"orderCycle":  "CLOSED",
		"orderStatus": status,
		"serverDate":  "2026-03-01T10:00:00+00:00",
		"orderDetails": map[string]any{
			"orderTotalAmount": fm.Amount, "orderCurrency": fm.Currency, "mode": fm.Mode,
			"orderId": fm.OrderID, "_type": "V4/OrderDetails",
		},
		"customer": map[string]any{"reference": "Zoë <b>&</b> / Ünïcode"},
		"transactions": []any{map[string]any{
			"shopId": fm.ShopID, "amount": fm.Amount, "currency": fm.Currency, "status": status,
			"detailedStatus": detailed, "paymentMethodType": "CARD",
			"transactionDetails": map[string]any{"cardDetails": map[string]any{
				"pan": in.PAN.Masked(), "threeDSResponse": tds,
			}},
			"_type": "V4/PaymentTransaction",
		}},
		"_type": "V4/Payment",
	}
	b, _ := json.Marshal(a)
	return b
}

// fakeKeys knows the demo shop and one other shop.
type fakeKeys struct{}

func (fakeKeys) HMACKey(_ context.Context, shopID, mode string) (string, error) {
	if shopID == demoShop {
		return demoHMACKey, nil
	}
	return "", errors.New("unknown shop")
}

func (fakeKeys) PublicKeyShop(_ context.Context, pk string) (string, string, error) {
	switch pk {
	case demoPublicKey:
		return demoShop, "TEST", nil
	case otherPublic:
		return otherShop, "TEST", nil
	}
	return "", "", errors.New("unknown public key")
}

// testSealKey is the key tests give New; two handlers with it stand for two
// copies of openpsp.
var testSealKey = []byte("0123456789abcdef0123456789abcdef")

type env struct {
	h   *Handler
	mux *http.ServeMux
	pay *fakePayments
	clk *clock.Fake
	sim *simulator.Simulator
}

// newEnv builds a Handler on the fake payments, the real 3-D Secure
// simulator and a fake clock set to 2026-03-01.
func newEnv(t *testing.T) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	sim := simulator.New(simulator.Config{})
	pay := newFakePayments()
	h := New(Options{Payments: pay, Keys: fakeKeys{}, Authenticator: sim, SealKey: testSealKey, Clock: clk})
	mux := http.NewServeMux()
	h.Register(mux)
	return &env{h: h, mux: mux, pay: pay, clk: clk, sim: sim}
}

// demoForm is a TEST form of the demo shop for 12.50 EUR.
func demoForm(token string) Form {
	return Form{
		FormToken: token, ShopID: demoShop, ShopName: "Café <Démo>", Mode: "TEST",
		Amount: 1250, Currency: "EUR", OrderID: "order-42", AttemptsLeft: 3, FormAction: "PAYMENT",
	}
}

// verifyHash checks kr-hash with code of its own, independent of the
// package's signing: lowercase hex HMAC-SHA-256 of kr-answer's bytes.
func verifyHash(t *testing.T, key, answer, hash string) {
	t.Helper()
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(answer))
	want := hex.EncodeToString(m.Sum(nil))
	if hash != want {
		t.Fatalf("kr-hash = %q, want %q", hash, want)
	}
}

// settle is recovery settling the form's unanswered attempt (the pending
// card's): accepted, or refused on its last attempt; the form is over.
func (f *fakePayments) settle(t *testing.T, token string, accepted bool) {
	t.Helper()
	call := f.lastCall(t)
	pan, err := card.ParsePAN("4970109900000073")
	if err != nil || pan.Masked() != call.Masked {
		t.Fatalf("settle: the last attempt is not the pending card's: %+v", call)
	}
	exp, err := card.ParseExpiry(call.Expiry[:2], call.Expiry[2:])
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fm := f.forms[token]
	fm.InProgress, fm.Completed = false, true
	out := Outcome{Accepted: accepted, Final: true, CardMasked: call.Masked, CardExpiry: exp, AttemptsLeft: fm.AttemptsLeft}
	if !accepted {
		fm.AttemptsLeft, out.AttemptsLeft, out.Message = 0, 0, ReasonInsufficientFunds
	}
	out.KRAnswer = fakeAnswer(fm, CardInput{PAN: pan, Expiry: exp}, accepted)
	if f.final == nil {
		f.final = map[string]Outcome{}
	}
	f.final[token] = out
}
