package subscription

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// emailsOf returns the emails queued for a payment's recipient ("buyer",
// "merchant").
func emailsOf(t *testing.T, db *store.DB, paymentID, recipient string) []notify.Content {
	t.Helper()
	rows, err := db.Reader().Query(`SELECT payload FROM outbox WHERE ordering_key = $1 AND channel = 'email'
		ORDER BY created_at, id`, "payment:"+paymentID+"/"+recipient)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []notify.Content
	for rows.Next() {
		var payload string
		var c notify.Content
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(payload), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// A capture the acquirer refuses is a refusal of the instalment's debit
// (Lyra files CAPTURE_FAILED with REFUSED and EXPIRED among the failed
// statuses, not with the technical ERROR): the instalment is retried by
// the refusal policy (RetryPolicy.Refused, counting the refusal), not
// every hour by the technical one, and the buyer and the merchant hear of
// it as of a refused instalment: the first time that it will be tried
// again and when, the last time that it has failed.
func TestRefusedCaptureIsARefusal(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.shop.PrimaryEmail = "merchant@example.com"
		e.shop.Settings.OrderConfirmationEmails = true
		e.shop.Settings.Notifications.MerchantPaymentNotice = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		_, e.pay, e.svc = e.copyOn(db, Config{Retry: RetryPolicy{Refused: []time.Duration{24 * time.Hour},
			Technical: time.Hour, MaxTechnical: 24}})
		p, _ := card.ParsePAN(cardOK)
		tok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeTest, PAN: p,
			Expiry: card.Expiry{Month: 12, Year: 2035}, Customer: json.RawMessage(`{"email":"zoe@example.com"}`)})
		if err != nil {
			t.Fatal(err)
		}
		sub := e.create(CreateInput{Amount: 990, PaymentMethodToken: tok.Value, RRule: "FREQ=MONTHLY;COUNT=2"})

		// refuseCapture releases the authorization of the instalment's
		// debit at the acquirer, so that its capture is refused, and runs
		// the capture job. It returns the debit's payment.
		refuseCapture := func() string {
			t.Helper()
			inst := e.instalments(sub)[0]
			if inst.Status != store.InstalmentPaid {
				t.Fatalf("instalment %+v, want PAID", inst)
			}
			_, debit, err := e.pay.Get(e.ctx(), e.shop.ID, inst.TransactionUUID)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := e.sim.Cancel(e.ctx(), "released-"+debit.UUID, debit.AcquirerRef); err != nil || !res.Approved {
				t.Fatalf("release at the acquirer: %+v, %v", res, err)
			}
			if _, err := e.pay.CaptureDue(e.ctx(), 10); err != nil {
				t.Fatal(err)
			}
			if _, debit, _ = e.pay.Get(e.ctx(), e.shop.ID, debit.UUID); debit.DetailedStatus != payment.CaptureFailed {
				t.Fatalf("debit %s, want CAPTURE_FAILED", debit.DetailedStatus)
			}
			return inst.PaymentID
		}

		e.run(1)
		first := refuseCapture()
		retryAt := e.clk.Now().Add(24 * time.Hour) // a day after the due date, and not sooner than a day after
		inst := e.instalments(sub)[0]
		if inst.Status != store.InstalmentDue || inst.Refusals != 1 || !inst.NextAttemptAt.Equal(retryAt) {
			t.Fatalf("instalment after its refused capture %+v, want DUE, 1 refusal, retried on %s", inst, retryAt)
		}
		buyer := emailsOf(t, db, first, "buyer")
		if len(buyer) != 2 || buyer[1].Template != notify.TplPaymentRefusedBuyer || buyer[1].Payment.RetryAt == nil ||
			!buyer[1].Payment.RetryAt.Equal(retryAt) || buyer[1].Payment.InstalmentFailed {
			t.Fatalf("buyer emails of the first debit %+v, want its confirmation then the refusal retried on %s", buyer, retryAt)
		}
		if merchant := emailsOf(t, db, first, "merchant"); len(merchant) != 2 || merchant[1].Payment.Accepted {
			t.Fatalf("merchant emails of the first debit %+v, want the acceptance then the refusal", merchant)
		}
		if n := countNotices(t, db, sub); n != 0 {
			t.Fatalf("%d instalment_failed notices for an instalment to be retried", n)
		}

		e.clk.Set(retryAt)
		e.run(1)
		last := refuseCapture()
		if inst = e.instalments(sub)[0]; inst.Status != store.InstalmentFailed || inst.Refusals != 2 || inst.Attempts != 2 {
			t.Fatalf("instalment after its second refused capture %+v, want FAILED", inst)
		}
		buyer = emailsOf(t, db, last, "buyer")
		if len(buyer) != 2 || buyer[1].Payment.RetryAt != nil || !buyer[1].Payment.InstalmentFailed {
			t.Fatalf("buyer emails of the last debit %+v, want its confirmation then the instalment failed", buyer)
		}
		if n := countNotices(t, db, sub); n != 1 {
			t.Fatalf("%d instalment_failed notices, want 1", n)
		}
	})
}
