package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
)

// Acquirer timeouts and slow answers: the payment call returns within the
// acquirer deadline whatever the acquirer does, no payment stays RUNNING
// (recovery asks the acquirer), approved-late payments end authorized and
// are captured exactly once, and an unreachable acquirer leaves nothing
// half-done.
func TestResilienceAcquirerTimeoutsAndSlowAnswers(t *testing.T) {
	per := 6
	if resilienceLong() {
		per = 40
	}
	cards := map[string]string{
		"slow":        "4970109900000081", // approved after SlowDelay, past the deadline
		"timeout":     "4970109900000073", // no answer before the deadline; Inquire: approved
		"unavailable": "4970109900000065", // the acquirer cannot be reached; nothing recorded
		"fine":        acceptedCard,
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			// The engines run side by side: most of each run waits for
			// the recovery job.
			t.Parallel()
			d := newDeployment(t, engine)
			d.seedTokens(t, cards)
			sim := simulator.New(simulator.Config{SlowDelay: 1500 * time.Millisecond, TimeoutHold: 3 * time.Second})
			s := d.startApp(t, appOpts{acquirer: sim, env: map[string]string{"OPENPSP_ACQUIRER_TIMEOUT": "500ms"}})
			ipn := newIPNReceiver(t)
			ctx := context.Background()

			type call struct {
				token string
				r     payResult
				took  time.Duration
			}
			var mu sync.Mutex
			var calls []call
			var wg sync.WaitGroup
			for token := range cards {
				for i := 0; i < per; i++ {
					wg.Add(1)
					go func(token string, i int) {
						defer wg.Done()
						t0 := time.Now()
						r := silentPay(ctx, s.URL, fmt.Sprintf("acq-%s-%d", token, i), token, ipn.URL())
						mu.Lock()
						calls = append(calls, call{token, r, time.Since(t0)})
						mu.Unlock()
					}(token, i)
				}
			}
			wg.Wait()
			for _, c := range calls {
				// The deadline is 500ms; allow for the database and a busy machine.
				if c.took > 10*time.Second {
					t.Errorf("%s payment %s took %s with a 500ms acquirer deadline", c.token, c.r.orderID, c.took)
				}
				if c.r.outcome == uncertain {
					t.Errorf("%s payment %s got no answer: %v", c.token, c.r.orderID, c.r.err)
				}
				if c.token == "fine" && (c.r.outcome != acknowledged || c.r.orderStatus != "PAID") {
					t.Errorf("accepted card beside slow ones: %+v", c.r)
				}
			}

			// Recovery settles every RUNNING transaction; the late approvals
			// end authorized, then captured once; nothing of the unreachable
			// acquirer stays open.
			final := map[string][]orderTx{}
			err := pollUntil(recoveryDeadline(), 250*time.Millisecond, func() error {
				var open []string
				for _, c := range calls {
					txs, err := orderGet(ctx, s.URL, c.r.orderID)
					if err != nil {
						return err
					}
					if len(txs) > 1 {
						return fmt.Errorf("order %s has %d transactions", c.r.orderID, len(txs))
					}
					for _, tx := range txs {
						if tx.Status == "RUNNING" || (c.token != "unavailable" && tx.DetailedStatus != "CAPTURED") {
							open = append(open, c.r.orderID+":"+tx.DetailedStatus)
						}
					}
					final[c.r.orderID] = txs
				}
				if len(open) > 0 {
					sort.Strings(open)
					return fmt.Errorf("not settled yet: %s", strings.Join(open, " "))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range calls {
				txs := final[c.r.orderID]
				switch c.token {
				case "unavailable":
					for _, tx := range txs {
						if tx.Status == "PAID" {
							t.Errorf("unreachable acquirer, yet %s is PAID", c.r.orderID)
						}
					}
				default:
					if len(txs) != 1 || txs[0].DetailedStatus != "CAPTURED" {
						t.Errorf("%s payment %s: %+v", c.token, c.r.orderID, txs)
					}
				}
			}
			// Every capture was sent once: a second capture of the same
			// authorization would have been refused by the acquirer and left
			// a CAPTURE_FAILED (checked above), and the acquirer approved one
			// authorization per approved payment.
			if got, want := sim.Authorizations(), 3*per; got != want {
				t.Fatalf("acquirer approved %d authorizations, want %d (slow, timeout and fine cards)", got, want)
			}
		})
	}
}

// recoveryDeadline bounds the wait for the recovery job to settle RUNNING
// transactions.
func recoveryDeadline() time.Duration { return 2 * time.Minute }
