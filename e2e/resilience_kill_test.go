package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// kill -9 of the server at random moments while clients pay: after a
// restart on the same data, every payment acknowledged to a client is there
// with its state, none is duplicated, none stays RUNNING, and every
// acknowledged payment's IPN reaches the merchant.
func TestResilienceKill9UnderPayments(t *testing.T) {
	rounds, clients, maxRound := 10, 6, 600*time.Millisecond
	if resilienceLong() {
		rounds, clients, maxRound = 50, 24, 3*time.Second
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			// The engines run side by side: most of each run waits for
			// the recovery job.
			t.Parallel()
			killRounds(t, engine, rounds, clients, maxRound)
		})
	}
}

// killEnv: a short acquirer deadline, so that recovery may settle the
// transactions a killed process left RUNNING soon after the restart (it
// waits the deadline plus 5 s, to never take a call still waiting for its
// answer for a lost one).
var killEnv = []string{"OPENPSP_ACQUIRER_TIMEOUT=1s"}

func killRounds(t *testing.T, engine string, rounds, clients int, maxRound time.Duration) {
	d := newDeployment(t, engine)
	tokens := map[string]string{}
	for i := 0; i < clients; i++ {
		tokens[fmt.Sprintf("kill%02d", i)] = acceptedCard
	}
	d.seedTokens(t, tokens)
	ipn := newIPNReceiver(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (random kill moments)", seed)
	rng := rand.New(rand.NewPCG(seed, 9))

	var all []payResult
	loaded := 0 // rounds killed only after their first acknowledged payment
	began := time.Now()
	for round := 0; round < rounds; round++ {
		p := startBinary(t, t.TempDir(), d.env(killEnv...)...)
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				token := fmt.Sprintf("kill%02d", c)
				for seq := 0; ctx.Err() == nil; seq++ {
					r := silentPayWith(ctx, p.URL, fmt.Sprintf("k%d-%d-%d", round, c, seq), token, ipn.URL(), nil)
					mu.Lock()
					all = append(all, r)
					mu.Unlock()
					if r.outcome == uncertain {
						return // the server is gone
					}
				}
			}(c)
		}
		// Kill at a random moment of the round: one round in four before
		// the first answer may have come, the others once the load runs
		// (a slow start, e.g. PostgreSQL under the race detector, must not
		// leave every round without a single payment), in the middle of
		// group commits, captures and IPN deliveries.
		if rng.IntN(4) == 0 {
			time.Sleep(time.Duration(rng.Int64N(int64(maxRound))))
		} else {
			loaded++
			waitFirstAck(t, &mu, &all, len(all), 30*time.Second)
			time.Sleep(time.Duration(rng.Int64N(int64(maxRound))))
		}
		killProcess(t, p)
		wg.Wait()
		cancel()
	}

	// A last start on the same data: recovery, then the checks.
	t.Logf("%d kill rounds in %s", rounds, time.Since(began).Round(time.Millisecond))
	p := startBinary(t, t.TempDir(), d.env(killEnv...)...)
	ctx := context.Background()
	restarted0 := time.Now()
	var acked, unsure, refused int
	for _, r := range all {
		switch r.outcome {
		case acknowledged:
			acked++
		case uncertain:
			unsure++
		case declined:
			refused++
		}
	}
	t.Logf("%d rounds: %d payments acknowledged, %d uncertain (cut by the kill), %d declined", rounds, acked, unsure, refused)
	if acked < loaded {
		t.Fatalf("only %d payments acknowledged in %d rounds killed under load: the load did not run", acked, loaded)
	}
	for _, r := range all {
		if r.outcome == declined {
			t.Errorf("order %s declined while the server was up: %v", r.orderID, r.err)
		}
	}

	// Acknowledged: there, once, in the state the client was told (or
	// later: captured), and not RUNNING. Uncertain: at most once, and
	// decided (not RUNNING) once recovery has run.
	var ids []string
	for _, r := range all {
		if r.outcome != declined {
			ids = append(ids, r.orderID)
		}
	}
	check := func() error {
		got, err := orderGetAll(ctx, p.URL, ids)
		if err != nil {
			return err
		}
		var problems []string
		for _, r := range all {
			if r.outcome == declined {
				continue
			}
			txs := got[r.orderID]
			switch {
			case r.outcome == acknowledged && len(txs) != 1:
				problems = append(problems, fmt.Sprintf("acknowledged %s has %d transactions", r.orderID, len(txs)))
			case r.outcome == uncertain && len(txs) > 1:
				problems = append(problems, fmt.Sprintf("uncertain %s has %d transactions", r.orderID, len(txs)))
			}
			for _, tx := range txs {
				if tx.Status == "RUNNING" {
					problems = append(problems, fmt.Sprintf("%s %s still RUNNING (%s)", r.orderID, tx.UUID, tx.DetailedStatus))
				}
				if r.outcome == acknowledged {
					if tx.UUID != r.uuid {
						problems = append(problems, fmt.Sprintf("acknowledged %s: uuid %s, client was told %s", r.orderID, tx.UUID, r.uuid))
					}
					if !laterOrSame(r.detailed, tx.DetailedStatus) {
						problems = append(problems, fmt.Sprintf("acknowledged %s: %s after restart, client was told %s", r.orderID, tx.DetailedStatus, r.detailed))
					}
				}
			}
		}
		if len(problems) > 0 {
			sort.Strings(problems)
			if len(problems) > 20 {
				problems = append(problems[:20], fmt.Sprintf("… and %d more", len(problems)-20))
			}
			return fmt.Errorf("%s", strings.Join(problems, "\n"))
		}
		return nil
	}
	// Duplicates and losses are final at once; RUNNING ones may need the
	// recovery job: poll with a bound.
	if err := pollUntil(60*time.Second, 500*time.Millisecond, check); err != nil {
		t.Fatalf("after kill -9 and restart:\n%s", err)
	}

	t.Logf("payments checked %s after the restart", time.Since(restarted0).Round(time.Millisecond))
	// Every acknowledged payment's IPN is in the outbox, durably, about the
	// transaction the client was told.
	restarted := time.Now()
	queued := d.outboxIPNs(t)
	for _, r := range all {
		if r.outcome != acknowledged {
			continue
		}
		msgs := queued[r.orderID]
		if len(msgs) == 0 {
			t.Fatalf("acknowledged %s has no IPN in the outbox after the restart", r.orderID)
		}
		for _, m := range msgs {
			if m.uuid != r.uuid {
				t.Fatalf("IPN of %s names transaction %s, the client was told %s", r.orderID, m.uuid, r.uuid)
			}
		}
	}
	// Then delivered. Messages a killed process had claimed wait for its
	// lease to end (the delivery timeout plus 30 s: 1 minute by default) before another process retries
	// them: the short form waits for every other message and checks that
	// those are still PENDING under a lease that ends; the long form
	// (OPENPSP_RESILIENCE_LONG=1) waits for all of them.
	ipnCheck := func() error {
		missing, held := 0, 0
		var first string
		var queued map[string][]queuedIPN
		for _, r := range all {
			if r.outcome != acknowledged || len(ipn.seen(r.orderID)) > 0 {
				continue
			}
			if queued == nil {
				queued = d.outboxIPNs(t)
			}
			heldByDead := false
			for _, m := range queued[r.orderID] {
				if m.status == "PENDING" && m.lockedUntil.After(restarted) {
					heldByDead = true
					if m.lockedUntil.After(restarted.Add(5 * time.Minute)) {
						return fmt.Errorf("IPN of %s is claimed until %s: too long after the crash", r.orderID, m.lockedUntil)
					}
				}
			}
			if heldByDead && !resilienceLong() {
				held++
				continue
			}
			if missing == 0 {
				first = r.orderID
			}
			missing++
		}
		if missing > 0 {
			return fmt.Errorf("%d acknowledged payments have had no IPN yet (first: %s)", missing, first)
		}
		if held > 0 {
			t.Logf("%d IPNs claimed by a killed process wait for the claim's lease to end (checked: PENDING, lease ends)", held)
		}
		return nil
	}
	deadline := 60 * time.Second
	if resilienceLong() {
		deadline = ipnDeadline()
	}
	if err := pollUntil(deadline, 500*time.Millisecond, ipnCheck); err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		for _, s := range ipn.seen(r.orderID) {
			if r.outcome == acknowledged && s.UUID != r.uuid {
				t.Fatalf("IPN of %s names transaction %s, the client was told %s", r.orderID, s.UUID, r.uuid)
			}
		}
	}
	ipn.mu.Lock()
	defer ipn.mu.Unlock()
	if ipn.badHash > 0 {
		t.Fatalf("%d IPNs with a wrong kr-hash", ipn.badHash)
	}
	// An order gets one IPN per decision (authorization, then capture); a
	// duplicate is the same notification about the same state twice.
	dups := 0
	for _, s := range ipn.byOrder {
		once := map[ipnSeen]bool{}
		for _, n := range s {
			if once[n] {
				dups++
				break
			}
			once[n] = true
		}
	}
	// At-least-once: a kill between the merchant's 200 and the commit that
	// records it makes one more delivery of that message, never more than
	// the number of kills.
	t.Logf("IPNs: %d received, %d orders notified more than once (redelivered after a kill)", ipn.answered, dups)
	if dups > rounds*clients {
		t.Fatalf("%d orders notified more than once in %d kills", dups, rounds)
	}
}

// ipnDeadline bounds the wait for IPNs after the last restart. Messages a
// killed process had claimed wait for their lease to end.
func ipnDeadline() time.Duration { return 3 * time.Minute }

// laterOrSame tells whether status b is a(n) or a later state of it after a
// restart (an AUTHORISED payment may have been captured meanwhile).
func laterOrSame(a, b string) bool {
	if a == b {
		return true
	}
	return a == "AUTHORISED" && (b == "CAPTURED" || b == "CAPTURE_PENDING")
}

// waitFirstAck waits until one of the results appended after index from is
// acknowledged.
func waitFirstAck(t *testing.T, mu *sync.Mutex, all *[]payResult, from int, bound time.Duration) {
	t.Helper()
	err := pollUntil(bound, 10*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range (*all)[from:] {
			if r.outcome == acknowledged {
				return nil
			}
		}
		return fmt.Errorf("no payment acknowledged within %s of the start", bound)
	})
	if err != nil {
		t.Fatal(err)
	}
}
