package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
)

// Scenarios lists the -scenario values.
var Scenarios = []string{"silent", "checkout", "tokenize", "get", "mixed", "sdktest", "purge"}

// scenario is one kind of load.
type scenario struct {
	name string
	// what is printed under the table: what one operation is.
	what string
	// setup prepares state before the measured run (payments for get …).
	setup func(ctx context.Context, e *runEnv) error
	op    Op
	// sample is a representative request body, whose size the echo ceiling
	// uses.
	sample func(e *runEnv) []byte
	// payByToken: the scenario pays with the bench's vault tokens, which
	// the bench puts there first (the others make what they need).
	payByToken bool
}

// runEnv is what scenarios share during one run.
type runEnv struct {
	target  *Target
	client  *http.Client
	tokens  int    // tokens "bench%010d" 0..tokens-1 exist in the vault
	runID   string // unique per run: order ids never collide across runs on one database
	ipnURL  string // where IPNs go (the bench's own receiver)
	conc    int
	uuidsMu sync.RWMutex
	uuids   []string // transactions for the get scenario
	pay     atomic.Int64
	orders  atomic.Int64 // the last order number given (orderID)
}

// TokenValue is the value of the i-th token the bench puts in the vault.
func TokenValue(i int) string { return fmt.Sprintf("bench%010d", i) }

// orderID numbers the run's orders in one sequence, as shops number
// theirs: 64 clients drawing from 64 sequences of their own inserted the
// order indexes at 64 places at once, which no shop does.
func (e *runEnv) orderID() string {
	return fmt.Sprintf("%s-%09d", e.runID, e.orders.Add(1))
}

func (e *runEnv) silentBody(orderID, token string) []byte {
	b, _ := json.Marshal(map[string]any{
		"amount":             1990,
		"currency":           "EUR",
		"orderId":            orderID,
		"formAction":         "SILENT",
		"paymentMethodToken": token,
		"ipnTargetUrl":       e.ipnURL,
		// One buyer per payment, as in a shop: notifications to one
		// recipient are delivered in order, one at a time.
		"customer": map[string]any{"email": "buyer-" + orderID + "@bench.example", "reference": "buyer-" + orderID},
	})
	return b
}

// silentPay makes one SILENT payment with a random vault token and checks
// it is PAID.
func (e *runEnv) silentPay(ctx context.Context, w *Worker) (string, error) {
	tok := TokenValue(w.Rand.IntN(e.tokens))
	var p paymentAnswer
	if err := e.target.call(ctx, w.Client, "Charge/CreatePayment", e.silentBody(e.orderID(), tok), &p); err != nil {
		return "", err
	}
	if p.OrderStatus != "PAID" || len(p.Transactions) == 0 {
		return "", fmt.Errorf("SILENT payment: orderStatus %q, %d transactions", p.OrderStatus, len(p.Transactions))
	}
	e.pay.Add(1)
	return p.Transactions[0].UUID, nil
}

func silentScenario() *scenario {
	return &scenario{
		name: "silent",
		what: "one Charge/CreatePayment formAction SILENT with a saved token (authorization, capture scheduled, IPN queued), answer checked PAID",
		setup: func(ctx context.Context, e *runEnv) error {
			if e.tokens == 0 {
				return errors.New("silent needs tokens in the vault (none were created)")
			}
			return nil
		},
		op: func(ctx context.Context, w *Worker) error {
			_, err := envOf(ctx).silentPay(ctx, w)
			return err
		},
		sample:     func(e *runEnv) []byte { return e.silentBody(e.runID+"-00-000000", TokenValue(0)) },
		payByToken: true,
	}
}

func getScenario() *scenario {
	return &scenario{
		name: "get",
		what: "one Transaction/Get of a random earlier payment",
		setup: func(ctx context.Context, e *runEnv) error {
			return e.makePayments(ctx, 2000)
		},
		op: func(ctx context.Context, w *Worker) error {
			e := envOf(ctx)
			e.uuidsMu.RLock()
			uuid := e.uuids[w.Rand.IntN(len(e.uuids))]
			e.uuidsMu.RUnlock()
			return e.getTransaction(ctx, w, uuid)
		},
		sample:     func(e *runEnv) []byte { return getBody("0196a1b2c3d4e5f60718293a4b5c6d7e") },
		payByToken: true, // its payments first
	}
}

func getBody(uuid string) []byte {
	b, _ := json.Marshal(map[string]string{"uuid": uuid})
	return b
}

func (e *runEnv) getTransaction(ctx context.Context, w *Worker, uuid string) error {
	var tx struct {
		Type string `json:"_type"`
		UUID string `json:"uuid"`
	}
	if err := e.target.call(ctx, w.Client, "Transaction/Get", getBody(uuid), &tx); err != nil {
		return err
	}
	if tx.UUID != uuid {
		return fmt.Errorf("Transaction/Get answered uuid %q for %q", tx.UUID, uuid)
	}
	return nil
}

// makePayments creates n SILENT payments (at the run's concurrency) and
// keeps their transaction uuids for the get scenario.
func (e *runEnv) makePayments(ctx context.Context, n int) error {
	if e.tokens == 0 {
		return errors.New("get needs tokens in the vault to make payments first")
	}
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := 0; i < e.conc; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := &Worker{ID: 1_000_000 + i, Client: e.client, Rand: newRand(i)}
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				uuid, err := e.silentPay(ctx, w)
				w.Seq++
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				e.uuidsMu.Lock()
				e.uuids = append(e.uuids, uuid)
				e.uuidsMu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return fmt.Errorf("making payments for the get scenario: %w", err)
	}
	return ctx.Err()
}

// sdktestScenario measures the V4 framework alone: Basic authentication,
// JSON envelope, no database write. It is not one of the scenarios;
// it shows the cost under every web service.
func sdktestScenario() *scenario {
	body := []byte(`{"value":"bench"}`)
	return &scenario{
		name: "sdktest",
		what: "one Charge/SDKTest (authentication + V4 envelope, no write): the framework's own cost",
		op: func(ctx context.Context, w *Worker) error {
			e := envOf(ctx)
			var out struct {
				Value string `json:"value"`
			}
			if err := e.target.call(ctx, w.Client, "Charge/SDKTest", body, &out); err != nil {
				return err
			}
			if out.Value != "bench" {
				return fmt.Errorf("SDKTest echoed %q", out.Value)
			}
			return nil
		},
		sample: func(*runEnv) []byte { return body },
	}
}

// mixedScenario is a blend of what a busy shop sees: many zero-click
// payments, status look-ups, checkouts by buyers and card registrations.
func mixedScenario(parts map[string]*scenario) *scenario {
	type part struct {
		s      *scenario
		weight int
	}
	blend := []part{{parts["silent"], 40}, {parts["get"], 30}, {parts["checkout"], 20}, {parts["tokenize"], 10}}
	total := 0
	for _, p := range blend {
		total += p.weight
	}
	return &scenario{
		name: "mixed",
		what: "40% silent, 30% get, 20% checkout, 10% tokenize (one operation each)",
		setup: func(ctx context.Context, e *runEnv) error {
			for _, p := range blend {
				if p.s.setup != nil {
					if err := p.s.setup(ctx, e); err != nil {
						return fmt.Errorf("%s: %w", p.s.name, err)
					}
				}
			}
			return nil
		},
		op: func(ctx context.Context, w *Worker) error {
			n := w.Rand.IntN(total)
			for _, p := range blend {
				if n < p.weight {
					return p.s.op(ctx, w)
				}
				n -= p.weight
			}
			return nil
		},
		sample:     parts["silent"].sample,
		payByToken: true,
	}
}

type envKey struct{}

func withEnv(ctx context.Context, e *runEnv) context.Context {
	return context.WithValue(ctx, envKey{}, e)
}

func envOf(ctx context.Context) *runEnv { return ctx.Value(envKey{}).(*runEnv) }
