package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// sharedDB opens handles on one migrated database, like openpsp copies (or
// successive runs of one copy) on the same data: each call of open returns
// a new *store.DB with its own pools and write queue.
func sharedDB(t testing.TB, engine string) (open func() *store.DB) {
	t.Helper()
	var opts store.Options
	switch engine {
	case "sqlite":
		opts.SQLitePath = filepath.Join(t.TempDir(), "openpsp.db")
	case "postgres":
		opts.URL = storetest.NewMigratedPostgresDatabase(t)
	}
	open = func() *store.DB {
		t.Helper()
		db, err := store.Open(context.Background(), opts)
		if err != nil {
			t.Fatalf("open %s: %v", engine, err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	if _, err := open().Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	return open
}

func forEachEngine(t *testing.T, fn func(t *testing.T, open func() *store.DB)) {
	for _, e := range []string{"sqlite", "postgres"} {
		t.Run(e, func(t *testing.T) { fn(t, sharedDB(t, e)) })
	}
}

func simOver(db *store.DB) *simulator.Simulator {
	return simulator.New(simulator.Config{Journal: db, SlowDelay: time.Millisecond, TimeoutHold: time.Millisecond})
}

func simAuth(t testing.TB, pan, opID string, amount int64, capture bool) acquirer.AuthorizeRequest {
	t.Helper()
	p, err := card.ParsePAN(pan)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := card.ParseExpiry("12", "2030")
	if err != nil {
		t.Fatal(err)
	}
	cvv, err := card.NewSecurityCode("123")
	if err != nil {
		t.Fatal(err)
	}
	return acquirer.AuthorizeRequest{OperationID: opID, ShopID: "12345678", Amount: amount, Currency: "EUR",
		PAN: p, Expiry: exp, SecurityCode: cvv, Brand: p.Brand(), Capture: capture, Initiator: acquirer.InitiatorCIT}
}

const (
	simAccepted  = "4970100000000055"
	simTimeout   = "4970109900000073"
	simRefused   = "4970109900000008"
	simChallenge = "4970110000000021"
)

func wantApproved(t *testing.T, what string, res acquirer.Result, err error) {
	t.Helper()
	if err != nil || !res.Approved || res.AcquirerReference == "" {
		t.Fatalf("%s: want approved, got %+v %v", what, res, err)
	}
}

func wantRefused(t *testing.T, what string, res acquirer.Result, err error, code string) {
	t.Helper()
	if err != nil || res.Approved || res.ResponseCode != code {
		t.Fatalf("%s: want refused %s, got %+v %v", what, code, res, err)
	}
}

// What one run of openpsp got from the acquirer is still there for the next
// run (a new Simulator over a new handle on the same database, as after
// kill -9 and a restart): captures, refunds, cancellations, inquiries and
// repeats all work on it.
func TestSimulatorJournalSurvivesRestart(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func() *store.DB) {
		ctx := context.Background()
		db1 := open()
		before := simOver(db1)
		auth, err := before.Authorize(ctx, simAuth(t, simAccepted, "auth", 1000, false))
		wantApproved(t, "authorize", auth, err)
		sale, err := before.Authorize(ctx, simAuth(t, simAccepted, "sale", 500, true))
		wantApproved(t, "sale", sale, err)
		toCancel, err := before.Authorize(ctx, simAuth(t, simAccepted, "to-cancel", 300, false))
		wantApproved(t, "authorize to cancel", toCancel, err)
		bad, err := before.Authorize(ctx, simAuth(t, simRefused, "refused", 300, false))
		wantRefused(t, "refused card", bad, err, acquirer.CodeDoNotHonour)
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err = before.Authorize(short, simAuth(t, simTimeout, "timed-out", 700, false))
		cancel()
		if !errors.Is(err, acquirer.ErrTimeout) {
			t.Fatalf("timeout card: want ErrTimeout, got %v", err)
		}
		c1, err := before.Capture(ctx, "cap1", auth.AcquirerReference, 400, "EUR")
		wantApproved(t, "capture before the restart", c1, err)
		ch, err := before.Start(ctx, acquirer.AuthRequest{OperationID: "3ds", Amount: 100, Currency: "EUR", PAN: simAuth(t, simChallenge, "x", 1, false).PAN})
		if err != nil || ch.Status != acquirer.ThreeDSChallenge {
			t.Fatalf("3DS start: %+v %v", ch, err)
		}
		if err := db1.Close(); err != nil {
			t.Fatal(err)
		}

		after := simOver(open())
		// Repeats answer what was answered.
		again, err := after.Authorize(ctx, simAuth(t, simAccepted, "auth", 1000, false))
		if err != nil || again != auth {
			t.Fatalf("repeat after restart: %+v %v, want %+v", again, err, auth)
		}
		c1b, err := after.Capture(ctx, "cap1", auth.AcquirerReference, 400, "EUR")
		if err != nil || c1b != c1 {
			t.Fatalf("repeated capture: %+v %v, want %+v", c1b, err, c1)
		}
		// The authorization remembers what was captured of it.
		res, err := after.Capture(ctx, "cap2", auth.AcquirerReference, 601, "EUR")
		wantRefused(t, "capture over the rest", res, err, acquirer.CodeInvalidAmount)
		c2, err := after.Capture(ctx, "cap3", auth.AcquirerReference, 600, "EUR")
		wantApproved(t, "capture the rest", c2, err)
		r1, err := after.Refund(ctx, "ref1", c1.AcquirerReference, 400, "EUR")
		wantApproved(t, "refund a capture made before the restart", r1, err)
		res, err = after.Refund(ctx, "ref2", c1.AcquirerReference, 1, "EUR")
		wantRefused(t, "refund twice", res, err, acquirer.CodeInvalidAmount)
		r2, err := after.Refund(ctx, "ref3", sale.AcquirerReference, 200, "EUR")
		wantApproved(t, "refund a sale", r2, err)
		res, err = after.Cancel(ctx, "cancel1", toCancel.AcquirerReference)
		wantApproved(t, "cancel", res, err)
		res, err = after.Capture(ctx, "cap4", toCancel.AcquirerReference, 1, "EUR")
		wantRefused(t, "capture a cancelled authorization", res, err, acquirer.CodeInvalidTransaction)
		res, err = after.Capture(ctx, "cap5", bad.AcquirerReference, 1, "EUR")
		wantRefused(t, "capture a refusal", res, err, acquirer.CodeInvalidTransaction)
		res, err = after.Capture(ctx, "cap6", "no-such-reference", 1, "EUR")
		wantRefused(t, "capture of an unknown reference", res, err, acquirer.CodeRecordNotFound)
		res, err = after.Verify(ctx, simAuth(t, simAccepted, "cap1", 0, false))
		wantRefused(t, "operation id reused for another kind", res, err, acquirer.CodeDuplicate)

		// The approval the timed-out caller never saw is found, and real.
		got, found, err := after.Inquire(ctx, "timed-out")
		if err != nil || !found {
			t.Fatalf("inquire after restart: found=%v err=%v", found, err)
		}
		wantApproved(t, "inquire", got, nil)
		res, err = after.Capture(ctx, "cap-recovered", got.AcquirerReference, 700, "EUR")
		wantApproved(t, "capture of the recovered authorization", res, err)
		if _, found, err := after.Inquire(ctx, "never-sent"); found || err != nil {
			t.Fatalf("inquire of an unknown operation: found=%v err=%v", found, err)
		}

		done, err := after.Complete(ctx, ch.DSTransID, true)
		if err != nil || done.Status != acquirer.ThreeDSAuthenticated || !done.Challenged || done.DSTransID != ch.DSTransID {
			t.Fatalf("3DS complete after restart: %+v %v", done, err)
		}
		if n := after.Authorizations(); n != 4 {
			t.Fatalf("Authorizations() = %d, want 4 (auth, sale, to-cancel, timed-out)", n)
		}
	})
}

// Two copies of openpsp on one database see one acquirer: one authorization
// for one operation id however the repeats are spread, captures never
// exceeding the authorization, and either copy finishing what the other
// started.
func TestSimulatorJournalTwoCopies(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func() *store.DB) {
		ctx := context.Background()
		a, b := simOver(open()), simOver(open())
		copies := []*simulator.Simulator{a, b}

		const n = 200
		results := make([]acquirer.Result, n)
		errs := make([]error, n)
		req := simAuth(t, simAccepted, "storm", 4200, false)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = copies[i%2].Authorize(ctx, req)
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || results[i] != results[0] {
				t.Fatalf("call %d: %+v %v; call 0: %+v", i, results[i], errs[i], results[0])
			}
		}
		wantApproved(t, "storm", results[0], nil)
		if na, nb := a.Authorizations(), b.Authorizations(); na != 1 || nb != 1 {
			t.Fatalf("Authorizations() = %d and %d, want 1 on both copies", na, nb)
		}

		// Concurrent partial captures from both copies.
		auth, err := a.Authorize(ctx, simAuth(t, simAccepted, "auth", 1000, false))
		wantApproved(t, "authorize", auth, err)
		const captures = 40
		var approvedN, approvedSum atomic.Int64
		refs := make([]string, captures)
		for i := range captures {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := copies[i%2].Capture(ctx, fmt.Sprintf("cap-%d", i), auth.AcquirerReference, 100, "EUR")
				if err != nil {
					t.Error(err)
					return
				}
				if res.Approved {
					approvedN.Add(1)
					approvedSum.Add(100)
					refs[i] = res.AcquirerReference
				} else if res.ResponseCode != acquirer.CodeInvalidAmount {
					t.Errorf("capture %d: %+v", i, res)
				}
			}()
		}
		wg.Wait()
		if approvedN.Load() != 10 {
			t.Fatalf("%d captures of 100 approved on an authorization of 1000, want 10", approvedN.Load())
		}
		e, found, err := open().LookupOperation(ctx, "auth")
		if err != nil || !found || e.Captured != 1000 || e.Kind != simulator.KindAuthorization {
			t.Fatalf("authorization as recorded: %+v %v %v", e, found, err)
		}

		// Concurrent refunds of one capture from both copies, repeats
		// included: 100 refunded at most, each operation id once.
		var capRef string
		for _, r := range refs {
			if r != "" {
				capRef = r
				break
			}
		}
		var refundedSum atomic.Int64
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := copies[i%2].Refund(ctx, fmt.Sprintf("ref-%d", i/2), capRef, 30, "EUR")
				if err != nil {
					t.Error(err)
					return
				}
				if res.Approved && i%2 == 0 {
					refundedSum.Add(30) // count each operation id once
				}
			}()
		}
		wg.Wait()
		if got := refundedSum.Load(); got != 90 {
			t.Fatalf("refunded %d of a capture of 100 in refunds of 30, want 90", got)
		}

		// Either copy inquires, captures and completes what the other did.
		got, found, err := b.Inquire(ctx, "auth")
		if err != nil || !found || got != auth {
			t.Fatalf("inquire on the other copy: %+v %v %v", got, found, err)
		}
		a2, err := a.Authorize(ctx, simAuth(t, simAccepted, "auth2", 300, false))
		wantApproved(t, "authorize on A", a2, err)
		res, err := b.Capture(ctx, "auth2-cap", a2.AcquirerReference, 300, "EUR")
		wantApproved(t, "capture on B", res, err)
		res, err = b.Verify(ctx, simAuth(t, simAccepted, "auth2", 0, false))
		wantRefused(t, "operation id of A reused on B for another kind", res, err, acquirer.CodeDuplicate)

		// The timeout card: held at A, recorded; B finds it and answers a
		// repeat at once instead of holding it again.
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err = a.Authorize(short, simAuth(t, simTimeout, "held", 100, false))
		cancel()
		if !errors.Is(err, acquirer.ErrTimeout) {
			t.Fatalf("timeout card: %v", err)
		}
		held, found, err := b.Inquire(ctx, "held")
		if err != nil || !found {
			t.Fatalf("inquire of A's timed-out operation on B: %v %v", found, err)
		}
		wantApproved(t, "held", held, nil)
		slowB := simulator.New(simulator.Config{Journal: open(), TimeoutHold: time.Hour})
		bounded, cancel := context.WithTimeout(ctx, 10*time.Second)
		again, err := slowB.Authorize(bounded, simAuth(t, simTimeout, "held", 100, false))
		cancel()
		if err != nil || again != held {
			t.Fatalf("repeat on another copy: %+v %v, want %+v", again, err, held)
		}

		// 3-D Secure: started on A, the challenge answer reaches B; answers
		// racing on both copies all get the first result.
		pan := simAuth(t, simChallenge, "x", 1, false).PAN
		ch, err := a.Start(ctx, acquirer.AuthRequest{OperationID: "pay", Amount: 100, Currency: "EUR", PAN: pan})
		if err != nil || ch.Status != acquirer.ThreeDSChallenge {
			t.Fatalf("start: %+v %v", ch, err)
		}
		answers := make([]acquirer.ThreeDSResult, 20)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				answers[i], err = copies[(i+1)%2].Complete(ctx, ch.DSTransID, i%3 != 0)
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for i, ans := range answers {
			if ans != answers[0] || !ans.Challenged || ans.DSTransID != ch.DSTransID {
				t.Fatalf("complete %d: %+v, first %+v", i, ans, answers[0])
			}
		}
		fr, err := b.Start(ctx, acquirer.AuthRequest{OperationID: "pay2", Amount: 100, Currency: "EUR", PAN: simAuth(t, simAccepted, "x", 1, false).PAN})
		if err != nil || fr.Status != acquirer.ThreeDSAuthenticated {
			t.Fatalf("frictionless start: %+v %v", fr, err)
		}
		if _, err := a.Complete(ctx, fr.DSTransID, true); !errors.Is(err, acquirer.ErrInvalidRequest) {
			t.Fatalf("complete of a frictionless transaction of the other copy: %v", err)
		}
		if _, err := a.Complete(ctx, "00000000-0000-4000-8000-000000000000", true); !errors.Is(err, acquirer.ErrNotFound) {
			t.Fatalf("complete of an unknown transaction: %v", err)
		}
	})
}

// The journal itself, without the simulator's in-process grouping of
// repeats: concurrent records of one operation id from two handles insert
// once and all return the winner's entry.
func TestSimulatorJournalRecordOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func() *store.DB) {
		ctx := context.Background()
		dbs := []*store.DB{open(), open()}
		var decided atomic.Int64
		const n = 40
		got := make([]simulator.Entry, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = dbs[i%2].RecordOperation(ctx, "once", "", func(orig *simulator.Entry) simulator.Entry {
					decided.Add(1)
					return simulator.Entry{Kind: simulator.KindAuthorization, Amount: 100, Currency: "EUR",
						Result: acquirer.Result{Approved: true, ResponseCode: "00", AcquirerReference: fmt.Sprintf("ref-%d", i), Message: "approved"}}
				})
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || got[i].OperationID != "once" || got[i].Result != got[0].Result {
				t.Fatalf("record %d: %+v %v; first %+v", i, got[i], errs[i], got[0])
			}
		}
		if c, err := dbs[0].CountAuthorizations(ctx); err != nil || c != 1 {
			t.Fatalf("CountAuthorizations = %d %v, want 1", c, err)
		}
		if decided.Load() == 0 {
			t.Fatal("decide never ran")
		}
	})
}

// BenchmarkSimulatorJournalAuthorize measures Authorize with a journal:
// distinct operations from 64 goroutines (with GOMAXPROCS=2), as under a
// payment load.
func BenchmarkSimulatorJournalAuthorize(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			db := sharedDB(b, engine)()
			sim := simulator.New(simulator.Config{Journal: db})
			req := simAuth(b, simAccepted, "", 1000, false)
			var seq atomic.Int64
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := req
				for pb.Next() {
					r.OperationID = fmt.Sprintf("bench-%d", seq.Add(1))
					res, err := sim.Authorize(context.Background(), r)
					if err != nil || !res.Approved {
						b.Errorf("%+v %v", res, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "auth/s")
		})
	}
}
