package simulator

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
)

var testNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// newSim returns a simulator whose slow card answers at once and whose
// timeout card gives up at once when the context has no deadline, so tests
// never wait for real delays unless they ask for them.
func newSim(t *testing.T) *Simulator {
	t.Helper()
	return newSimWith(t, Config{SlowDelay: time.Millisecond, TimeoutHold: time.Millisecond, Clock: clock.NewFake(testNow)})
}

// newSimWith returns New(cfg), over a journal on a fresh database when the
// test runs inside TestSuiteWithJournal.
func newSimWith(t *testing.T, cfg Config) *Simulator {
	t.Helper()
	if withJournal {
		cfg.Journal = OpenTestJournal(t)
	}
	return New(cfg)
}

// OpenTestJournal opens a journal on a fresh database. journal_test.go
// (package simulator_test, which may import the store) sets it.
var OpenTestJournal func(t testing.TB) Journal

// withJournal is set while TestSuiteWithJournal runs the suite again.
var withJournal bool

// TestSuiteWithJournal runs the behaviour tests again with a journal on a
// real (SQLite) database: every rule holds the same in both modes. The
// store's tests cover PostgreSQL, restarts and several copies.
func TestSuiteWithJournal(t *testing.T) {
	if OpenTestJournal == nil {
		t.Skip("no journal opener")
	}
	withJournal = true
	defer func() { withJournal = false }()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"EveryCardOutcome", TestEveryCardOutcome},
		{"UnknownValidCardIsApprovedFrictionless", TestUnknownValidCardIsApprovedFrictionless},
		{"RequestChecks", TestRequestChecks},
		{"InstalmentCardRefusesAmounts", TestInstalmentCardRefusesAmounts},
		{"IdempotencyStorm", TestIdempotencyStorm},
		{"IdempotencyStormWhileInProgress", TestIdempotencyStormWhileInProgress},
		{"DistinctOperationsInParallel", TestDistinctOperationsInParallel},
		{"SlowCard", TestSlowCard},
		{"TimeoutCard", TestTimeoutCard},
		{"InquireWhileInProgress", TestInquireWhileInProgress},
		{"InquireUnknown", TestInquireUnknown},
		{"TechnicalErrorCanBeResent", TestTechnicalErrorCanBeResent},
		{"CaptureTimeoutFault", TestCaptureTimeoutFault},
		{"CaptureRefusedFault", TestCaptureRefusedFault},
		{"CaptureLostFault", TestCaptureLostFault},
		{"CaptureRefundCancelRules", TestCaptureRefundCancelRules},
		{"CancelRefund", TestCancelRefund},
		{"ConcurrentCaptures", TestConcurrentCaptures},
		{"ThreeDSFrictionless", TestThreeDSFrictionless},
		{"ThreeDSChallenge", TestThreeDSChallenge},
		{"ThreeDSOtherStatuses", TestThreeDSOtherStatuses},
	} {
		t.Run(tc.name, tc.fn)
	}
}

func mustPAN(t *testing.T, s string) card.PAN {
	t.Helper()
	p, err := card.ParsePAN(s)
	if err != nil {
		t.Fatalf("ParsePAN(%s): %v", s, err)
	}
	return p
}

func authReq(t *testing.T, pan, opID string, amount int64) acquirer.AuthorizeRequest {
	t.Helper()
	exp, err := card.ParseExpiry("12", "2030")
	if err != nil {
		t.Fatal(err)
	}
	cvv, err := card.NewSecurityCode("123")
	if err != nil {
		t.Fatal(err)
	}
	p := mustPAN(t, pan)
	return acquirer.AuthorizeRequest{
		OperationID: opID, ShopID: "12345678", Amount: amount, Currency: "EUR",
		PAN: p, Expiry: exp, SecurityCode: cvv, Brand: p.Brand(), Initiator: acquirer.InitiatorCIT,
	}
}

func shortCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

var authNumberRE = regexp.MustCompile(`^[0-9]{6}$`)

func checkApproved(t *testing.T, what string, res acquirer.Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error %v", what, err)
	}
	if !res.Approved || res.ResponseCode != acquirer.CodeApproved || res.AcquirerReference == "" || res.Message == "" {
		t.Fatalf("%s: want approved with a reference, got %+v", what, res)
	}
}

func checkRefused(t *testing.T, what string, res acquirer.Result, err error, code string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: a refusal must not be an error, got %v", what, err)
	}
	if res.Approved || res.ResponseCode != code || res.AuthorizationNumber != "" || res.Message == "" {
		t.Fatalf("%s: want refused %s, got %+v", what, code, res)
	}
}

func TestTableIsConsistent(t *testing.T) {
	cards := TestCards()
	seen := map[string]bool{}
	for _, c := range cards {
		if seen[c.PAN] {
			t.Errorf("%s listed twice", c.PAN)
		}
		seen[c.PAN] = true
		if !luhn(c.PAN) {
			t.Errorf("%s fails the Luhn check", c.PAN)
		}
		p := mustPAN(t, c.PAN)
		if got := p.Brand(); got != c.Brand {
			t.Errorf("%s: table says %s, card.DetectBrands says %v", c.PAN, c.Brand, p.Brands())
		}
		if (c.Behaviour == Refuse || c.Behaviour == RefuseAmount) != (c.Code != "") {
			t.Errorf("%s: a code goes with refusals and only with them", c.PAN)
		}
		if c.Outcome == "" || c.Description == "" || c.Source == "" || c.ThreeDS == "" {
			t.Errorf("%s: incomplete entry %+v", c.PAN, c)
		}
	}

	// The scenarios the platform's tests rely on must all exist.
	has := func(f func(TestCard) bool) bool { return slices.ContainsFunc(cards, f) }
	for _, code := range []string{"05", "51", "54", "41", "43", "59"} {
		if !has(func(c TestCard) bool { return c.Code == code }) {
			t.Errorf("no card refused with %s", code)
		}
	}
	for _, b := range []Behaviour{Unavailable, Timeout, Slow, RefuseAmount} {
		if !has(func(c TestCard) bool { return c.Behaviour == b }) {
			t.Errorf("no card with behaviour %d", b)
		}
	}
	for _, s := range []string{"Y", "C", "N", "U", "R", "A"} {
		if !has(func(c TestCard) bool { return c.ThreeDS == s }) {
			t.Errorf("no card with 3DS status %s", s)
		}
	}
	for _, b := range []card.Brand{card.CB, card.Mastercard, card.Amex, card.Maestro} {
		if !has(func(c TestCard) bool { return c.Brand == b && c.Behaviour == Approve }) {
			t.Errorf("no accepted %s card", b)
		}
	}
	for _, pan := range []string{"4970100000000055", "4970101000001002"} {
		if !seen[pan] {
			t.Errorf("published card %s missing", pan)
		}
	}
}

func TestEveryCardOutcome(t *testing.T) {
	for _, c := range TestCards() {
		t.Run(c.PAN, func(t *testing.T) {
			s := newSim(t)
			ctx := context.Background()
			if c.Behaviour == Timeout {
				ctx = shortCtx(t)
			}
			res, err := s.Authorize(ctx, authReq(t, c.PAN, "auth-"+c.PAN, 1000))
			switch c.Behaviour {
			case Approve, Slow:
				checkApproved(t, "authorize", res, err)
				if !authNumberRE.MatchString(res.AuthorizationNumber) {
					t.Errorf("authorization number %q", res.AuthorizationNumber)
				}
			case Refuse, RefuseAmount:
				checkRefused(t, "authorize", res, err, c.Code)
			case Unavailable:
				if !errors.Is(err, acquirer.ErrUnavailable) {
					t.Fatalf("want ErrUnavailable, got %v %+v", err, res)
				}
				if _, found, err := s.Inquire(context.Background(), "auth-"+c.PAN); found || err != nil {
					t.Fatalf("a technical error must leave nothing behind: found=%v err=%v", found, err)
				}
			case Timeout:
				if !errors.Is(err, acquirer.ErrTimeout) {
					t.Fatalf("want ErrTimeout, got %v %+v", err, res)
				}
				got, found, err := s.Inquire(context.Background(), "auth-"+c.PAN)
				if !found {
					t.Fatalf("Inquire after timeout: not found (err %v)", err)
				}
				checkApproved(t, "inquire after timeout", got, err)
			}
			wantAuths := 0
			if c.Behaviour == Approve || c.Behaviour == Slow || c.Behaviour == Timeout {
				wantAuths = 1
			}
			if got := s.Authorizations(); got != wantAuths {
				t.Errorf("Authorizations() = %d, want %d", got, wantAuths)
			}

			// Verification: only RefuseAmount cards behave differently.
			vctx := context.Background()
			if c.Behaviour == Timeout {
				vctx = shortCtx(t)
			}
			vres, err := s.Verify(vctx, authReq(t, c.PAN, "verify-"+c.PAN, 0))
			switch c.Behaviour {
			case Approve, Slow, RefuseAmount:
				checkApproved(t, "verify", vres, err)
			case Refuse:
				checkRefused(t, "verify", vres, err, c.Code)
			case Unavailable:
				if !errors.Is(err, acquirer.ErrUnavailable) {
					t.Fatalf("verify: want ErrUnavailable, got %v", err)
				}
			case Timeout:
				if !errors.Is(err, acquirer.ErrTimeout) {
					t.Fatalf("verify: want ErrTimeout, got %v", err)
				}
			}

			// 3-D Secure.
			tds, err := s.Start(context.Background(), acquirer.AuthRequest{OperationID: "3ds-" + c.PAN, Amount: 1000, Currency: "EUR", PAN: mustPAN(t, c.PAN)})
			if err != nil {
				t.Fatalf("3DS start: %v", err)
			}
			if tds.Status != c.ThreeDS {
				t.Fatalf("3DS status %s, want %s", tds.Status, c.ThreeDS)
			}
			if c.ThreeDS == acquirer.ThreeDSChallenge {
				done, err := s.Complete(context.Background(), tds.DSTransID, true)
				if err != nil || done.Status != acquirer.ThreeDSAuthenticated || !done.Challenged || !done.LiabilityShift {
					t.Fatalf("challenge passed: %+v %v", done, err)
				}
			}
		})
	}
}

func TestUnknownValidCardIsApprovedFrictionless(t *testing.T) {
	s := newSim(t)
	res, err := s.Authorize(context.Background(), authReq(t, "4111111111111111", "op1", 500))
	checkApproved(t, "authorize", res, err)
	tds, err := s.Start(context.Background(), acquirer.AuthRequest{PAN: mustPAN(t, "4111111111111111"), Amount: 500, Currency: "EUR"})
	if err != nil || tds.Status != acquirer.ThreeDSAuthenticated || tds.Challenged {
		t.Fatalf("3DS: %+v %v", tds, err)
	}
}

func TestRequestChecks(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	const pan = "4970100000000055"

	r := authReq(t, pan, "", 100)
	if _, err := s.Authorize(ctx, r); !errors.Is(err, acquirer.ErrInvalidRequest) {
		t.Errorf("empty operation id: %v", err)
	}
	r = authReq(t, pan, "no-pan", 100)
	r.PAN = card.PAN{}
	if _, err := s.Authorize(ctx, r); !errors.Is(err, acquirer.ErrInvalidRequest) {
		t.Errorf("no PAN: %v", err)
	}
	res, err := s.Authorize(ctx, authReq(t, pan, "zero", 0))
	checkRefused(t, "zero amount", res, err, acquirer.CodeInvalidAmount)
	r = authReq(t, pan, "cur", 100)
	r.Currency = "eur"
	res, err = s.Authorize(ctx, r)
	checkRefused(t, "bad currency", res, err, acquirer.CodeFormatError)

	r = authReq(t, pan, "expired", 100)
	r.Expiry = card.Expiry{Month: 2, Year: 2026} // testNow is March 2026
	res, err = s.Authorize(ctx, r)
	checkRefused(t, "expired date", res, err, acquirer.CodeExpiredCard)
	r = authReq(t, pan, "this-month", 100)
	r.Expiry = card.Expiry{Month: 3, Year: 2026}
	res, err = s.Authorize(ctx, r)
	checkApproved(t, "expires this month", res, err)

	// A token payment: no security code, merchant-initiated.
	r = authReq(t, pan, "mit", 100)
	r.SecurityCode, r.Initiator = card.SecurityCode{}, acquirer.InitiatorMIT
	res, err = s.Authorize(ctx, r)
	checkApproved(t, "MIT without CVV", res, err)

	// A cancelled context: never sent.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Authorize(cctx, authReq(t, pan, "cancelled", 100))
	if !errors.Is(err, acquirer.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if _, found, _ := s.Inquire(ctx, "cancelled"); found {
		t.Error("an operation never sent was found")
	}
}

func TestInstalmentCardRefusesAmounts(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	const pan = "4970101000001002"
	res, err := s.Verify(ctx, authReq(t, pan, "token", 0))
	checkApproved(t, "verify", res, err)
	r := authReq(t, pan, "instalment", 1990)
	r.SecurityCode, r.Initiator = card.SecurityCode{}, acquirer.InitiatorMIT
	res, err = s.Authorize(ctx, r)
	checkRefused(t, "instalment", res, err, acquirer.CodeExceedsLimit)
}

func TestIdempotencyStorm(t *testing.T) {
	s := newSim(t)
	const n = 1000
	results := make([]acquirer.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	req := authReq(t, "4970100000000055", "storm", 4200)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = s.Authorize(context.Background(), req)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if results[i] != results[0] {
			t.Fatalf("call %d answered %+v, call 0 %+v", i, results[i], results[0])
		}
	}
	checkApproved(t, "storm", results[0], nil)
	if got := s.Authorizations(); got != 1 {
		t.Fatalf("Authorizations() = %d after %d calls with one operation id, want 1", got, n)
	}
}

// Callers that repeat an operation while the first call is still held by the
// acquirer wait for it; whoever gives up gets ErrTimeout, never a second
// authorization.
func TestIdempotencyStormWhileInProgress(t *testing.T) {
	s := newSimWith(t, Config{TimeoutHold: time.Hour, Clock: clock.NewFake(testNow)})
	const n = 200
	// The callers give up once the operation is held by the acquirer, not
	// at a fixed deadline: on a loaded machine the goroutines could all
	// start after it, and nothing would be in progress.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	results := make([]acquirer.Result, n)
	errs := make([]error, n)
	req := authReq(t, "4970109900000073", "held", 100)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Authorize(ctx, req)
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		_, held := s.ops["held"]
		s.mu.Unlock()
		if held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the operation never reached the acquirer")
		}
	}
	time.Sleep(20 * time.Millisecond) // let more callers join the wait
	cancel()
	wg.Wait()
	final, found, err := s.Inquire(context.Background(), "held")
	if err != nil || !found {
		t.Fatalf("inquire: found=%v err=%v", found, err)
	}
	checkApproved(t, "inquire", final, nil)
	timeouts := 0
	for i := range n {
		switch {
		case errors.Is(errs[i], acquirer.ErrTimeout):
			timeouts++
		case errors.Is(errs[i], acquirer.ErrUnavailable):
			// Gave up before sending: nothing was asked of the acquirer.
		case errs[i] != nil:
			t.Fatalf("call %d: want ErrTimeout or ErrUnavailable, got %v", i, errs[i])
		case results[i] != final:
			t.Fatalf("call %d: %+v, recorded %+v", i, results[i], final)
		}
	}
	if timeouts == 0 {
		t.Fatal("no caller gave up while the operation was in progress (ErrTimeout)")
	}
	if got := s.Authorizations(); got != 1 {
		t.Fatalf("Authorizations() = %d, want 1", got)
	}
}

func TestDistinctOperationsInParallel(t *testing.T) {
	s := newSim(t)
	const n = 200
	refs := make([]string, n)
	var wg sync.WaitGroup
	base := authReq(t, "5100010000002045", "", 100)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := base
			r.OperationID = fmt.Sprintf("op-%d", i)
			res, err := s.Authorize(context.Background(), r)
			if err == nil && res.Approved {
				refs[i] = res.AcquirerReference
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, r := range refs {
		if r == "" || seen[r] {
			t.Fatalf("operation %d: reference %q missing or repeated", i, r)
		}
		seen[r] = true
	}
	if got := s.Authorizations(); got != n {
		t.Fatalf("Authorizations() = %d, want %d", got, n)
	}
}

func TestSlowCard(t *testing.T) {
	const pan = "4970109900000081"
	// Answers after the delay when the caller waits long enough.
	s := newSim(t)
	res, err := s.Authorize(context.Background(), authReq(t, pan, "patient", 100))
	checkApproved(t, "slow, patient caller", res, err)

	// A caller with a shorter deadline gets ErrTimeout, but the acquirer
	// approved: Inquire and a resend both find the same approval.
	s = newSimWith(t, Config{SlowDelay: time.Hour, Clock: clock.NewFake(testNow)})
	_, err = s.Authorize(shortCtx(t), authReq(t, pan, "hasty", 100))
	if !errors.Is(err, acquirer.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	got, found, err := s.Inquire(context.Background(), "hasty")
	if !found {
		t.Fatalf("inquire: not found, err %v", err)
	}
	checkApproved(t, "inquire", got, err)
	again, err := s.Authorize(context.Background(), authReq(t, pan, "hasty", 100))
	if err != nil || again != got {
		t.Fatalf("resend: %+v %v, want %+v", again, err, got)
	}
	if s.Authorizations() != 1 {
		t.Fatalf("Authorizations() = %d, want 1", s.Authorizations())
	}
}

func TestTimeoutCard(t *testing.T) {
	const pan = "4970109900000073"
	s := newSim(t)
	// Without a deadline, the connector's own hold (TimeoutHold) applies.
	_, err := s.Authorize(context.Background(), authReq(t, pan, "t1", 100))
	if !errors.Is(err, acquirer.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	got, found, err := s.Inquire(context.Background(), "t1")
	if !found {
		t.Fatalf("inquire: not found, err %v", err)
	}
	checkApproved(t, "inquire", got, err)

	// Resend after the timeout: the first result, not a second authorization.
	again, err := s.Authorize(context.Background(), authReq(t, pan, "t1", 100))
	if err != nil || again != got {
		t.Fatalf("resend: %+v %v, want %+v", again, err, got)
	}
	if s.Authorizations() != 1 {
		t.Fatalf("Authorizations() = %d, want 1", s.Authorizations())
	}

	// The authorization found by Inquire is a real one: it can be captured.
	res, err := s.Capture(context.Background(), "t1-capture", got.AcquirerReference, 100, "EUR")
	checkApproved(t, "capture after recovery", res, err)
}

func TestInquireWhileInProgress(t *testing.T) {
	s := newSimWith(t, Config{TimeoutHold: time.Hour, Clock: clock.NewFake(testNow)})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	req := authReq(t, "4970109900000073", "pending", 100)
	go func() {
		_, err := s.Authorize(ctx, req)
		errc <- err
	}()
	// Wait (bounded) until the acquirer holds the operation.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		_, held := s.ops["pending"]
		s.mu.Unlock()
		if held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("operation never reached the acquirer")
		}
		time.Sleep(time.Millisecond)
	}
	if _, _, err := s.Inquire(shortCtx(t), "pending"); !errors.Is(err, acquirer.ErrTimeout) {
		t.Fatalf("inquire on a held operation: want ErrTimeout, got %v", err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, acquirer.ErrTimeout) {
		t.Fatalf("held authorization: want ErrTimeout, got %v", err)
	}
	got, found, err := s.Inquire(context.Background(), "pending")
	if !found {
		t.Fatalf("not found, err %v", err)
	}
	checkApproved(t, "inquire", got, err)
}

func TestInquireUnknown(t *testing.T) {
	s := newSim(t)
	res, found, err := s.Inquire(context.Background(), "never-sent")
	if err != nil || found || res != (acquirer.Result{}) {
		t.Fatalf("got %+v %v %v", res, found, err)
	}
}

func TestTechnicalErrorCanBeResent(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	s.InjectFault("op", FaultUnavailable)
	_, err := s.Authorize(ctx, authReq(t, "4970100000000055", "op", 100))
	if !errors.Is(err, acquirer.ErrUnavailable) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
	if _, found, _ := s.Inquire(ctx, "op"); found {
		t.Fatal("nothing should have been recorded")
	}
	res, err := s.Authorize(ctx, authReq(t, "4970100000000055", "op", 100))
	checkApproved(t, "resend after technical error", res, err)
	if s.Authorizations() != 1 {
		t.Fatalf("Authorizations() = %d", s.Authorizations())
	}
}

func TestCaptureTimeoutFault(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	auth, err := s.Authorize(ctx, authReq(t, "4970100000000055", "a", 1000))
	checkApproved(t, "authorize", auth, err)
	s.InjectFault("c", FaultTimeout)
	if _, err := s.Capture(shortCtx(t), "c", auth.AcquirerReference, 1000, "EUR"); !errors.Is(err, acquirer.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	got, found, err := s.Inquire(ctx, "c")
	if !found {
		t.Fatalf("capture not found: %v", err)
	}
	checkApproved(t, "inquire capture", got, err)
	res, err := s.Capture(ctx, "c2", auth.AcquirerReference, 1, "EUR")
	checkRefused(t, "capture beyond the amount", res, err, acquirer.CodeInvalidAmount)
}

// A refusal injected into a capture is recorded as such (the same id
// answers it again, Inquire finds it) and takes nothing from the
// authorization: another capture may take all of it.
func TestCaptureRefusedFault(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	auth, err := s.Authorize(ctx, authReq(t, "4970100000000055", "a", 1000))
	checkApproved(t, "authorize", auth, err)
	s.InjectFault("c", FaultRefused)
	res, err := s.Capture(ctx, "c", auth.AcquirerReference, 1000, "EUR")
	checkRefused(t, "capture with a refusal injected", res, err, acquirer.CodeDoNotHonour)
	again, err := s.Capture(ctx, "c", auth.AcquirerReference, 1000, "EUR")
	checkRefused(t, "same capture again", again, err, acquirer.CodeDoNotHonour)
	got, found, err := s.Inquire(ctx, "c")
	if !found {
		t.Fatalf("refused capture not found: %v", err)
	}
	checkRefused(t, "inquire refused capture", got, err, acquirer.CodeDoNotHonour)
	res, err = s.Capture(ctx, "c2", auth.AcquirerReference, 1000, "EUR")
	checkApproved(t, "another capture of the whole amount", res, err)
}

// A capture lost on its way (FaultLost) times out like FaultTimeout but is
// not performed: Inquire finds nothing, and the same id sent again captures
// the whole amount once.
func TestCaptureLostFault(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	auth, err := s.Authorize(ctx, authReq(t, "4970100000000055", "a", 1000))
	checkApproved(t, "authorize", auth, err)
	s.InjectFault("c", FaultLost)
	if _, err := s.Capture(shortCtx(t), "c", auth.AcquirerReference, 1000, "EUR"); !errors.Is(err, acquirer.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	if res, found, err := s.Inquire(ctx, "c"); found || err != nil || res != (acquirer.Result{}) {
		t.Fatalf("lost capture should not be recorded: %+v %v %v", res, found, err)
	}
	res, err := s.Capture(ctx, "c", auth.AcquirerReference, 1000, "EUR")
	checkApproved(t, "same capture sent again", res, err)
	res, err = s.Capture(ctx, "c2", auth.AcquirerReference, 1, "EUR")
	checkRefused(t, "capture beyond the amount", res, err, acquirer.CodeInvalidAmount)
}

func TestCaptureRefundCancelRules(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	auth, err := s.Authorize(ctx, authReq(t, "4970100000000055", "auth", 1000))
	checkApproved(t, "authorize", auth, err)
	ref := auth.AcquirerReference

	c1, err := s.Capture(ctx, "cap1", ref, 600, "EUR")
	checkApproved(t, "capture 600", c1, err)
	if c1.AcquirerReference == ref {
		t.Fatal("a capture needs its own reference")
	}
	// Same operation id again: the same capture, not a second one.
	c1b, err := s.Capture(ctx, "cap1", ref, 600, "EUR")
	if err != nil || c1b != c1 {
		t.Fatalf("capture replay %+v %v", c1b, err)
	}
	res, err := s.Capture(ctx, "cap2", ref, 500, "EUR")
	checkRefused(t, "capture over the rest", res, err, acquirer.CodeInvalidAmount)
	res, err = s.Capture(ctx, "cap3", ref, 100, "USD")
	checkRefused(t, "capture in another currency", res, err, acquirer.CodeInvalidTransaction)
	res, err = s.Capture(ctx, "cap4", ref, 0, "EUR")
	checkRefused(t, "capture of zero", res, err, acquirer.CodeInvalidAmount)
	c5, err := s.Capture(ctx, "cap5", ref, 400, "EUR")
	checkApproved(t, "capture the rest", c5, err)
	res, err = s.Capture(ctx, "cap6", ref, 1, "EUR")
	checkRefused(t, "capture after everything", res, err, acquirer.CodeInvalidAmount)
	res, err = s.Capture(ctx, "cap7", "no-such-ref", 1, "EUR")
	checkRefused(t, "capture of unknown reference", res, err, acquirer.CodeRecordNotFound)
	res, err = s.Capture(ctx, "cap8", c1.AcquirerReference, 1, "EUR")
	checkRefused(t, "capture of a capture", res, err, acquirer.CodeInvalidTransaction)

	res, err = s.Cancel(ctx, "cancel1", ref)
	checkRefused(t, "cancel a captured authorization", res, err, acquirer.CodeInvalidTransaction)

	res, err = s.Refund(ctx, "ref1", c1.AcquirerReference, 700, "EUR")
	checkRefused(t, "refund more than captured", res, err, acquirer.CodeInvalidAmount)
	res, err = s.Refund(ctx, "ref2", c1.AcquirerReference, 100, "GBP")
	checkRefused(t, "refund in another currency", res, err, acquirer.CodeInvalidTransaction)
	r3, err := s.Refund(ctx, "ref3", c1.AcquirerReference, 200, "EUR")
	checkApproved(t, "refund 200", r3, err)
	res, err = s.Refund(ctx, "ref4", c1.AcquirerReference, 401, "EUR")
	checkRefused(t, "refund over the rest", res, err, acquirer.CodeInvalidAmount)
	res, err = s.Refund(ctx, "ref5", c1.AcquirerReference, 400, "EUR")
	checkApproved(t, "refund the rest", res, err)
	res, err = s.Refund(ctx, "ref6", ref, 100, "EUR")
	checkRefused(t, "refund of an authorization", res, err, acquirer.CodeInvalidTransaction)
	res, err = s.Refund(ctx, "ref7", "no-such-ref", 100, "EUR")
	checkRefused(t, "refund of unknown reference", res, err, acquirer.CodeRecordNotFound)

	// An operation id is for one operation only.
	res, err = s.Refund(ctx, "cap1", c5.AcquirerReference, 1, "EUR")
	checkRefused(t, "operation id reused for another kind", res, err, acquirer.CodeDuplicate)

	// Cancel: only an authorization nothing was captured of, only once.
	a2, err := s.Authorize(ctx, authReq(t, "4970100000000055", "auth2", 300))
	checkApproved(t, "authorize 2", a2, err)
	res, err = s.Cancel(ctx, "cancel2", a2.AcquirerReference)
	checkApproved(t, "cancel", res, err)
	res, err = s.Cancel(ctx, "cancel3", a2.AcquirerReference)
	checkRefused(t, "cancel twice", res, err, acquirer.CodeInvalidTransaction)
	res, err = s.Capture(ctx, "cap9", a2.AcquirerReference, 100, "EUR")
	checkRefused(t, "capture after cancel", res, err, acquirer.CodeInvalidTransaction)

	// A refused authorization cannot be captured.
	bad, err := s.Authorize(ctx, authReq(t, "4970109900000008", "auth3", 300))
	checkRefused(t, "refused authorization", bad, err, acquirer.CodeDoNotHonour)
	res, err = s.Capture(ctx, "cap10", bad.AcquirerReference, 100, "EUR")
	checkRefused(t, "capture of a refusal", res, err, acquirer.CodeInvalidTransaction)

	// A sale is captured with its authorization and refunded on its reference.
	saleReq := authReq(t, "4970100000000055", "sale", 500)
	saleReq.Capture = true
	sale, err := s.Authorize(ctx, saleReq)
	checkApproved(t, "sale", sale, err)
	res, err = s.Capture(ctx, "cap11", sale.AcquirerReference, 1, "EUR")
	checkRefused(t, "capture of a sale", res, err, acquirer.CodeInvalidAmount)
	res, err = s.Cancel(ctx, "cancel4", sale.AcquirerReference)
	checkRefused(t, "cancel a sale", res, err, acquirer.CodeInvalidTransaction)
	res, err = s.Refund(ctx, "ref8", sale.AcquirerReference, 500, "EUR")
	checkApproved(t, "refund a sale", res, err)
	res, err = s.Refund(ctx, "ref9", sale.AcquirerReference, 1, "EUR")
	checkRefused(t, "refund a sale twice", res, err, acquirer.CodeInvalidAmount)
}

// A refund can be cancelled (withdrawn) once; its amount can then be
// refunded again, and a replayed cancellation changes nothing more.
func TestCancelRefund(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	auth, err := s.Authorize(ctx, authReq(t, "4970100000000055", "auth", 1000))
	checkApproved(t, "authorize", auth, err)
	capt, err := s.Capture(ctx, "cap", auth.AcquirerReference, 1000, "EUR")
	checkApproved(t, "capture", capt, err)
	r1, err := s.Refund(ctx, "ref1", capt.AcquirerReference, 700, "EUR")
	checkApproved(t, "refund 700", r1, err)
	res, err := s.Refund(ctx, "ref2", capt.AcquirerReference, 400, "EUR")
	checkRefused(t, "refund over the rest", res, err, acquirer.CodeInvalidAmount)

	c1, err := s.Cancel(ctx, "ref1-cancel", r1.AcquirerReference)
	checkApproved(t, "cancel the refund", c1, err)
	again, err := s.Cancel(ctx, "ref1-cancel", r1.AcquirerReference)
	if err != nil || again != c1 {
		t.Fatalf("cancellation replay %+v %v", again, err)
	}
	res, err = s.Cancel(ctx, "ref1-cancel2", r1.AcquirerReference)
	checkRefused(t, "cancel a refund twice", res, err, acquirer.CodeInvalidTransaction)
	if got, found, err := s.Inquire(ctx, "ref1-cancel"); err != nil || !found || got != c1 {
		t.Fatalf("inquire the cancellation: %+v %v %v", got, found, err)
	}
	// The 700 are back on the capture, once (the replay gave nothing more).
	r3, err := s.Refund(ctx, "ref3", capt.AcquirerReference, 1000, "EUR")
	checkApproved(t, "refund everything after the cancellation", r3, err)
	res, err = s.Refund(ctx, "ref4", capt.AcquirerReference, 1, "EUR")
	checkRefused(t, "refund beyond the capture", res, err, acquirer.CodeInvalidAmount)

	bad, err := s.Refund(ctx, "ref5", capt.AcquirerReference, 1, "EUR")
	checkRefused(t, "refused refund", bad, err, acquirer.CodeInvalidAmount)
	res, err = s.Cancel(ctx, "ref5-cancel", bad.AcquirerReference)
	checkRefused(t, "cancel a refused refund", res, err, acquirer.CodeInvalidTransaction)
}

// Concurrent captures with different operation ids never take more than was
// authorized.
func TestConcurrentCaptures(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	auth, err := s.Authorize(ctx, authReq(t, "375900000000008", "auth", 1000))
	checkApproved(t, "authorize", auth, err)
	const n = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	approvedN := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A repeat of the authorization, answered while captures
			// change what is left of it, gives the first answer.
			if again, err := s.Authorize(ctx, authReq(t, "375900000000008", "auth", 1000)); err != nil || again != auth {
				t.Errorf("repeat during captures: %+v %v", again, err)
			}
			res, err := s.Capture(ctx, fmt.Sprintf("cap-%d", i), auth.AcquirerReference, 100, "EUR")
			if err != nil {
				t.Error(err)
				return
			}
			if res.Approved {
				mu.Lock()
				approvedN++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if approvedN != 10 {
		t.Fatalf("%d captures of 100 approved on an authorization of 1000, want 10", approvedN)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func start3DS(t *testing.T, s *Simulator, pan string, challenge bool) acquirer.ThreeDSResult {
	t.Helper()
	res, err := s.Start(context.Background(), acquirer.AuthRequest{
		OperationID: "op", Amount: 2500, Currency: "EUR", PAN: mustPAN(t, pan), ChallengeRequested: challenge,
	})
	if err != nil {
		t.Fatalf("start %s: %v", pan, err)
	}
	if !uuidRE.MatchString(res.DSTransID) || res.Version != acquirer.ThreeDSVersion {
		t.Fatalf("start %s: %+v", pan, res)
	}
	return res
}

func TestThreeDSFrictionless(t *testing.T) {
	s := newSim(t)
	visa := start3DS(t, s, "4970110000000013", false)
	if visa.Status != "Y" || visa.ECI != "05" || visa.AuthenticationValue == "" || !visa.LiabilityShift || visa.Challenged {
		t.Fatalf("visa frictionless: %+v", visa)
	}
	mc := start3DS(t, s, "5100010000002045", false)
	if mc.Status != "Y" || mc.ECI != "02" {
		t.Fatalf("mastercard frictionless: %+v", mc)
	}
	if _, err := s.Complete(context.Background(), visa.DSTransID, true); !errors.Is(err, acquirer.ErrInvalidRequest) {
		t.Fatalf("complete of a frictionless authentication: %v", err)
	}
	// The merchant asks for a challenge: an enrolled card gives one.
	if got := start3DS(t, s, "4970110000000013", true); got.Status != "C" {
		t.Fatalf("challenge requested: %+v", got)
	}
}

func TestThreeDSChallenge(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	const pan = "4970110000000021"

	c := start3DS(t, s, pan, false)
	if c.Status != "C" || c.ECI != "" || c.AuthenticationValue != "" || c.LiabilityShift {
		t.Fatalf("challenge start: %+v", c)
	}
	ok, err := s.Complete(ctx, c.DSTransID, true)
	if err != nil || ok.Status != "Y" || ok.ECI != "05" || !ok.Challenged || !ok.LiabilityShift || ok.AuthenticationValue == "" || ok.DSTransID != c.DSTransID {
		t.Fatalf("challenge passed: %+v %v", ok, err)
	}
	// The first answer stands.
	again, err := s.Complete(ctx, c.DSTransID, false)
	if err != nil || again != ok {
		t.Fatalf("second complete: %+v %v", again, err)
	}
	// The authenticated payment goes through.
	r := authReq(t, pan, "pay", 2500)
	r.ThreeDS = &ok
	res, err := s.Authorize(ctx, r)
	checkApproved(t, "authorize after challenge", res, err)

	f := start3DS(t, s, pan, false)
	failed, err := s.Complete(ctx, f.DSTransID, false)
	if err != nil || failed.Status != "N" || failed.ECI != "07" || failed.LiabilityShift || !failed.Challenged {
		t.Fatalf("challenge failed: %+v %v", failed, err)
	}
	mc := start3DS(t, s, "5100010000000049", false)
	mcOK, err := s.Complete(ctx, mc.DSTransID, true)
	if err != nil || mcOK.ECI != "02" {
		t.Fatalf("mastercard challenge: %+v %v", mcOK, err)
	}

	if _, err := s.Complete(ctx, "00000000-0000-4000-8000-000000000000", true); !errors.Is(err, acquirer.ErrNotFound) {
		t.Fatalf("unknown dsTransID: %v", err)
	}
}

func TestThreeDSOtherStatuses(t *testing.T) {
	s := newSim(t)
	for _, tc := range []struct {
		pan, status, eci string
		shift            bool
	}{
		{"4970109900000099", "N", "07", false},
		{"4970109900000107", "U", "07", false},
		{"4970110000000401", "R", "07", false},
		{"4970109900000115", "A", "06", true},
	} {
		got := start3DS(t, s, tc.pan, false)
		if got.Status != tc.status || got.ECI != tc.eci || got.LiabilityShift != tc.shift || got.Challenged {
			t.Errorf("%s: %+v", tc.pan, got)
		}
		// A card that is not enrolled is not challenged either.
		if got := start3DS(t, s, tc.pan, true); got.Status != tc.status {
			t.Errorf("%s with challenge requested: %+v", tc.pan, got)
		}
	}
	if _, err := s.Start(context.Background(), acquirer.AuthRequest{}); !errors.Is(err, acquirer.ErrInvalidRequest) {
		t.Errorf("start without a card: %v", err)
	}
}

// The journal's unique index on the acquirer reference must grow at its end
// (package ids): references made one after the other sort in that order.
func TestReferencesAreTimeOrdered(t *testing.T) {
	prev := newReference()
	for range 200 {
		ref := newReference()
		if len(ref) != 32 || ref <= prev {
			t.Fatalf("reference %q after %q: want 32 hex digits, sorting after the previous one", ref, prev)
		}
		prev = ref
	}
}
