package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
)

// The idempotency storm: 1,000 concurrent identical SILENT payments (same
// body, same Idempotency-Key) make one authorization, and every client that
// gets a success gets that same payment. Without a key, the same orderId
// still makes one authorization: the others are refused as duplicates.
func TestResilienceIdempotencyStorm(t *testing.T) {
	n := 1000
	if resilienceLong() {
		n = 5000
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			// The engines run side by side.
			t.Parallel()
			d := newDeployment(t, engine)
			d.seedTokens(t, map[string]string{"storm": acceptedCard})
			sim := simulator.New(simulator.Config{})
			s := d.startApp(t, appOpts{acquirer: sim})
			ipn := newIPNReceiver(t)

			for _, withKey := range []bool{true, false} {
				name := "same Idempotency-Key"
				if !withKey {
					name = "same orderId, no key"
				}
				t.Run(name, func(t *testing.T) {
					before := sim.Authorizations()
					orderID := fmt.Sprintf("storm-%v", withKey)
					var header []string
					if withKey {
						header = []string{"Idempotency-Key", "storm-key-" + orderID}
					}
					// What the storm checks is how many authorizations 1,000
					// identical requests make, not how fast they are answered:
					// with the race detector, both engines storming side by
					// side and a busy machine, the last answers came after
					// the 60 s a single call is given elsewhere (CI, load 20).
					// A server that hangs still fails, after 5 minutes.
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
					defer cancel()
					results := make([]payResult, n)
					var wg sync.WaitGroup
					start := make(chan struct{})
					for i := 0; i < n; i++ {
						wg.Add(1)
						go func(i int) {
							defer wg.Done()
							<-start
							results[i] = silentPay(ctx, s.URL, orderID, "storm", ipn.URL(), header...)
						}(i)
					}
					close(start)
					wg.Wait()

					if got := sim.Authorizations() - before; got != 1 {
						t.Fatalf("%d identical requests made %d authorizations", n, got)
					}
					uuids := map[string]int{}
					codes := map[string]int{}
					for _, r := range results {
						switch r.outcome {
						case acknowledged:
							uuids[r.uuid]++
						case declined:
							codes[r.errorCode]++
						default:
							t.Fatalf("request without an answer: %v", r.err)
						}
					}
					t.Logf("%d requests: successes per transaction %v, errors by code %v", n, uuids, codes)
					if len(uuids) != 1 {
						t.Fatalf("successes name %d different transactions: %v", len(uuids), uuids)
					}
					if withKey && codes["INT_999"] > 0 {
						t.Fatalf("internal errors in the storm: %v", codes)
					}
					if !withKey {
						for code := range codes {
							if code != "PSP_016" {
								t.Fatalf("duplicate payments must be refused with PSP_016 (duplication forbidden), got %v", codes)
							}
						}
					}
					txs, err := orderGet(context.Background(), s.URL, orderID)
					if err != nil {
						t.Fatal(err)
					}
					if len(txs) != 1 {
						t.Fatalf("order %s has %d transactions after the storm", orderID, len(txs))
					}
				})
			}
			// No payment is RUNNING and the server still answers.
			status, _, err := v4Call(context.Background(), s.URL, "Charge/SDKTest", map[string]string{"value": "alive"})
			if err != nil || status != http.StatusOK {
				t.Fatalf("server after the storm: %d %v", status, err)
			}
		})
	}
}
