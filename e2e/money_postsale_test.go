package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

// TestDirectLinkPostSaleOfAV4CancellationAfterAPartialDeletion: a
// DirectLink order of 12.50 EUR (RES) is lowered by a partial DEL of 3.00,
// answered STATUS 6 for its 3.00 (PAYIDSUB 1), and the merchant then
// cancels the 9.50 left through V4 Transaction/CancelOrRefund, as it may
// any payment. The post-sale request of that change tells the 9.50 it
// cancelled, without a PAYIDSUB (no maintenance operation made it), not
// the 3.00 and PAYIDSUB of the partial deletion answered long before: a
// merchant booking the post-sale would release 3.00 of a 9.50 cancellation.
// Both engines, through the running server's dispatcher.
func TestDirectLinkPostSaleOfAV4CancellationAfterAPartialDeletion(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			clk := clock.NewFake(time.Now().UTC())
			s := startServer(t, serverOpts{engine: engine, clock: clk})
			ctx := context.Background()

			rec := newPostSaleRecorder(t)
			recv := rec.srv
			var out bytes.Buffer
			if err := ogone.NewAdmin(s.Shops, s.DB, clk).RunCLI(ctx, []string{"settings", "set", shop.DemoShopID,
				"-postsale-url", recv.URL + "/ogone/postsale"}, nil, &out); err != nil {
				t.Fatal(err)
			}

			o, err := directLinkCall(s, "orderdirect", demoAccount, map[string]string{"ORDERID": "postsale-v4-cancel", "AMOUNT": "1250",
				"CURRENCY": "EUR", "CARDNO": "4970100000000055", "ED": futureExpiry(), "CVC": "123", "OPERATION": "RES", "ECI": "7"})
			if err != nil || o["STATUS"] != "5" {
				t.Fatalf("order: %v %v", o, err)
			}
			del, err := directLinkCall(s, "maintenancedirect", demoAccount, map[string]string{"PAYID": o["PAYID"], "OPERATION": "DEL", "AMOUNT": "300"})
			if err != nil || del["STATUS"] != "6" || del["amount"] != "3" || del["PAYIDSUB"] != "1" {
				t.Fatalf("partial deletion: %v %v", del, err)
			}
			ord := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "postsale-v4-cancel"}))
			uuid := ord["transactions"].([]any)[0].(map[string]any)["uuid"].(string)
			c := answer(s.v4(t, "Transaction/CancelOrRefund", map[string]any{"uuid": uuid}))
			if c["detailedStatus"] != "CANCELLED" || c["amount"] != 950.0 {
				t.Fatalf("V4 cancellation of the rest: %v", c)
			}

			// The claim of the cancellation, written before the acquirer
			// is asked, is a status change of its own (61, deletion
			// pending), told before the 6 that ends it.
			var got []url.Values
			err = pollUntil(recoveryDeadline(), 20*time.Millisecond, func() error {
				got, _ = rec.received()
				if len(got) == 0 || got[len(got)-1].Get("STATUS") != "6" {
					return fmt.Errorf("no post-sale request with STATUS 6 yet: %v", got)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Get("STATUS") != "61" || got[0].Get("amount") != "9.5" || got[0].Has("PAYIDSUB") {
				t.Fatalf("post-sale requests: %v, want 61 then 6, both for 9.50", got)
			}
			q := got[1]
			for k, v := range map[string]string{"orderID": "postsale-v4-cancel", "PAYID": o["PAYID"], "STATUS": "6", "NCERROR": "0",
				"amount": "9.5", "currency": "EUR"} {
				if q.Get(k) != v {
					t.Errorf("post-sale %s = %q, want %q (%v)", k, q.Get(k), v, q)
				}
			}
			if q.Has("PAYIDSUB") {
				t.Errorf("post-sale PAYIDSUB %q: no maintenance operation cancelled the order (%v)", q.Get("PAYIDSUB"), q)
			}
			if got, want := q.Get("SHASIGN"), postSaleSHA(q, shop.DemoSHAPassphrase); got != want {
				t.Errorf("post-sale SHASIGN %q, the merchant computes %q", got, want)
			}
			if !strings.Contains(out.String(), "postsale-url: "+recv.URL) {
				t.Errorf("settings: %s", out.String())
			}
		})
	}
}
