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

// Two openpsp copies on one PostgreSQL database, both running the
// background jobs, under concurrent payments sent to either: every payment
// is authorized once and captured once (the capture job of one copy never
// repeats the other's), and the merchant receives each notification exactly
// once (no copy delivers a message the other delivered).
func TestResilienceTwoCopiesOnePostgres(t *testing.T) {
	payments, clients := 200, 8
	if resilienceLong() {
		payments, clients = 2000, 32
	}
	d := newDeployment(t, "postgres")
	tokens := map[string]string{}
	for i := 0; i < clients; i++ {
		tokens[fmt.Sprintf("copy%02d", i)] = acceptedCard
	}
	d.seedTokens(t, tokens)
	// One acquirer for both copies, as in production: it refuses a second
	// capture of an authorization, so a double capture shows as a failure.
	sim := simulator.New(simulator.Config{})
	a := d.startApp(t, appOpts{acquirer: sim})
	b := d.startApp(t, appOpts{acquirer: sim})
	ipn := newIPNReceiver(t)
	ctx := context.Background()

	var mu sync.Mutex
	var results []payResult
	var wg sync.WaitGroup
	next := make(chan int)
	go func() {
		for i := 0; i < payments; i++ {
			next <- i
		}
		close(next)
	}()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := range next {
				base := a.URL
				if i%2 == 1 {
					base = b.URL
				}
				r := silentPay(ctx, base, fmt.Sprintf("copies-%d", i), fmt.Sprintf("copy%02d", c), ipn.URL())
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	for _, r := range results {
		if r.outcome != acknowledged || r.orderStatus != "PAID" {
			t.Fatalf("payment %s: %+v", r.orderID, r)
		}
	}
	if got := sim.Authorizations(); got != payments {
		t.Fatalf("%d payments, %d authorizations", payments, got)
	}
	t.Logf("%d payments through two copies (%d clients), %d authorizations", len(results), clients, sim.Authorizations())

	// Both copies' capture jobs race for the same transactions.
	err := pollUntil(recoveryDeadline(), 250*time.Millisecond, func() error {
		var open []string
		for _, r := range results {
			txs, err := orderGet(ctx, a.URL, r.orderID)
			if err != nil {
				return err
			}
			if len(txs) != 1 {
				return fmt.Errorf("%s has %d transactions", r.orderID, len(txs))
			}
			if txs[0].DetailedStatus != "CAPTURED" {
				open = append(open, r.orderID+":"+txs[0].DetailedStatus)
			}
		}
		if len(open) > 0 {
			sort.Strings(open)
			if len(open) > 10 {
				open = append(open[:10], "…")
			}
			return fmt.Errorf("not captured (a refused second capture leaves CAPTURE_FAILED): %s", strings.Join(open, " "))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Every payment's notifications arrive, each exactly once.
	err = pollUntil(ipnDeadline(), 250*time.Millisecond, func() error {
		for _, r := range results {
			if len(ipn.seen(r.orderID)) == 0 {
				return fmt.Errorf("no IPN yet for %s", r.orderID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Once every IPN message is DELIVERED no copy sends it again: count
	// then. Exactly once means as many deliveries as messages.
	var messages int
	err = pollUntil(ipnDeadline(), 250*time.Millisecond, func() error {
		var pending int
		if err := a.DB.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE channel = 'ipn' AND status <> 'DELIVERED'`).Scan(&pending); err != nil {
			return err
		}
		if pending > 0 {
			return fmt.Errorf("%d IPN messages not delivered yet", pending)
		}
		return a.DB.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE channel = 'ipn'`).Scan(&messages)
	})
	if err != nil {
		t.Fatal(err)
	}
	ipn.mu.Lock()
	t.Logf("%d IPN messages, %d deliveries received", messages, ipn.answered)
	if ipn.answered != messages {
		t.Errorf("%d IPN messages, %d deliveries received", messages, ipn.answered)
	}
	for order, seen := range ipn.byOrder {
		count := map[string]int{}
		for _, s := range seen {
			count[s.UUID+" "+s.DetailedStatus]++
		}
		for k, n := range count {
			if n > 1 {
				t.Errorf("order %s: IPN %s delivered %d times by two copies", order, k, n)
			}
		}
	}
	bad := ipn.badHash
	ipn.mu.Unlock()
	if bad > 0 {
		t.Fatalf("%d IPNs with a wrong kr-hash", bad)
	}

	// The idempotency storm across both copies: the idempotency_keys
	// table, not memory, decides.
	before := sim.Authorizations()
	storm := make([]payResult, 1000)
	var swg sync.WaitGroup
	start := make(chan struct{})
	for i := range storm {
		swg.Add(1)
		go func(i int) {
			defer swg.Done()
			<-start
			base := a.URL
			if i%2 == 1 {
				base = b.URL
			}
			storm[i] = silentPay(ctx, base, "copies-storm", "copy00", ipn.URL(), "Idempotency-Key", "copies-storm-key")
		}(i)
	}
	close(start)
	swg.Wait()
	if got := sim.Authorizations() - before; got != 1 {
		t.Fatalf("1000 identical requests on two copies made %d authorizations", got)
	}
	uuids := map[string]int{}
	codes := map[string]int{}
	for _, r := range storm {
		if r.outcome == acknowledged {
			uuids[r.uuid]++
		} else {
			codes[r.errorCode]++
		}
	}
	t.Logf("storm on two copies: successes per transaction %v, errors by code %v", uuids, codes)
	if len(uuids) != 1 {
		t.Fatalf("the storm's successes name %d transactions: %v", len(uuids), uuids)
	}

	// Subscriptions due today, created through either copy, then both
	// copies' schedulers racing for the instalments: each subscription is
	// charged once.
	subs := 40
	if resilienceLong() {
		subs = 400
	}
	type sub struct{ id, token, orderID string }
	var created []sub
	// Counted from before the first subscription exists: the copies' own
	// schedulers (every 50 ms) charge the first ones while the others are
	// being created.
	before = sim.Authorizations()
	for i := 0; i < subs; i++ {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		token := fmt.Sprintf("copy%02d", i%clients)
		orderID := fmt.Sprintf("copies-sub-%d", i)
		status, env, err := v4Call(ctx, base, "Charge/CreateSubscription", map[string]any{
			"amount": 990, "currency": "EUR", "effectDate": time.Now().UTC().Format("2006-01-02"),
			"paymentMethodToken": token, "rrule": "RRULE:FREQ=MONTHLY;COUNT=3", "orderId": orderID,
			"ipnTargetUrl": ipn.URL(),
		})
		if err != nil || status != 200 || env["status"] != "SUCCESS" {
			t.Fatalf("CreateSubscription: %d %v %v", status, env, err)
		}
		id, _ := answer(env)["subscriptionId"].(string)
		created = append(created, sub{id, token, orderID})
	}
	var cwg sync.WaitGroup
	for _, c := range []*server{a, b, a, b} {
		cwg.Add(1)
		go func(c *server) {
			defer cwg.Done()
			for i := 0; i < 3; i++ {
				if _, err := c.Subscriptions.ChargeDue(ctx, 200); err != nil {
					t.Errorf("ChargeDue: %v", err)
				}
			}
		}(c)
	}
	cwg.Wait()
	// An instalment a copy's scheduler claimed is skipped by the calls
	// above and may still be in flight when they return: wait (bounded) for
	// it, as a double charge would show as more authorizations than
	// subscriptions or as a second transaction of an order below.
	for deadline := time.Now().Add(60 * time.Second); sim.Authorizations()-before < subs && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if got := sim.Authorizations() - before; got != subs {
		t.Fatalf("%d subscriptions due today, %d charges by two copies", subs, got)
	}
	for _, sb := range created {
		txs, err := orderGet(ctx, a.URL, sb.orderID)
		if err != nil {
			t.Fatal(err)
		}
		if len(txs) != 1 {
			t.Fatalf("subscription %s: %d instalment transactions today, want 1: %+v", sb.id, len(txs), txs)
		}
	}
	t.Logf("%d subscriptions charged once each by two racing schedulers", subs)
}
