package outbox_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// The IPN is the PayZen V4 form, signed with the password of the payment's
// mode, with kr-answer byte for byte as stored; the receiver checks it with
// its own HMAC code, as the PayZen SDK's checkHash does.
func TestIPNDelivery(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Escaped slashes, unicode and spacing that a re-encoding would change.
		answer := `{"shopId":"69876357","orderCycle":"CLOSED","orderStatus":"PAID","orderDetails":{"orderTotalAmount":1250,"orderCurrency":"EUR","mode":"PRODUCTION","orderId":"o-1"},` +
			`"customer":{"email":"zo\u00eb@example.com","reference":"a\/b"},  "_type":"V4/Payment"}`
		var mu sync.Mutex
		var got []map[string]string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err != nil {
				t.Error(err)
			}
			f := map[string]string{"content-type": r.Header.Get("Content-Type"), "event-id": r.Header.Get("OpenPSP-Event-Id")}
			for k := range r.PostForm {
				f[k] = r.PostForm.Get(k)
			}
			mu.Lock()
			got = append(got, f)
			n := len(got)
			mu.Unlock()
			if n == 1 {
				w.WriteHeader(http.StatusBadGateway) // first attempt refused
				return
			}
			w.Write([]byte("OK"))
		}))
		defer srv.Close()

		var m outbox.Message
		err := db.Write(ctx, func(tx *sql.Tx) error {
			var err error
			m, err = store.InsertOutbox(tx, outbox.Message{ShopID: "69876357", Channel: outbox.ChannelIPN, Event: "payment.accepted",
				OrderingKey: "pay-1", Target: srv.URL + "/ipn", Payload: answer}, t0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var modes []string
		signer := outbox.IPNSignerFunc(func(_ context.Context, shopID, mode string) (string, error) {
			mu.Lock()
			modes = append(modes, shopID+"/"+mode)
			mu.Unlock()
			if mode == "PRODUCTION" {
				return "prodpassword_secret", nil
			}
			return "testpassword_secret", nil
		})
		clk := clock.NewFake(t0)
		d := outbox.NewDispatcher(db, map[string]outbox.Deliverer{outbox.ChannelIPN: outbox.NewIPNDeliverer(signer, outbox.HTTPOptions{})},
			outbox.Options{Clock: clk, Logger: quiet()})
		if n, _ := d.RunOnce(ctx); n != 0 {
			t.Fatal("first attempt should fail")
		}
		clk.Advance(2 * time.Minute)
		if n, err := d.RunOnce(ctx); n != 1 || err != nil {
			t.Fatalf("second attempt: %d, %v", n, err)
		}
		if len(got) != 2 || modes[0] != "69876357/PRODUCTION" {
			t.Fatalf("requests %d, modes %v", len(got), modes)
		}
		for _, f := range got {
			mac := hmac.New(sha256.New, []byte("prodpassword_secret"))
			mac.Write([]byte(f["kr-answer"]))
			if f["kr-answer"] != answer {
				t.Fatalf("kr-answer changed:\n%s\n%s", f["kr-answer"], answer)
			}
			if f["kr-hash"] != hex.EncodeToString(mac.Sum(nil)) {
				t.Fatalf("kr-hash %s does not verify", f["kr-hash"])
			}
			if f["kr-hash-algorithm"] != "sha256_hmac" || f["kr-hash-key"] != "password" || f["kr-answer-type"] != "V4/Payment" ||
				f["content-type"] != "application/x-www-form-urlencoded" || f["event-id"] != m.ID {
				t.Fatalf("fields = %v", f)
			}
		}
		log, _ := db.OutboxAttempts(ctx, m.ID)
		if len(log) != 2 || log[0].StatusCode != 502 || log[1].StatusCode != 200 || log[1].Response != "OK" {
			t.Fatalf("log = %+v", log)
		}
	})
}

// With BlockPrivateNetworks a notification URL cannot reach the operator's
// own network, even through a name that resolves to it.
func TestBlockPrivateNetworks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("request reached a loopback server")
	}))
	defer srv.Close()
	d := outbox.NewWebhookDeliverer(secrets("s"), nil, outbox.HTTPOptions{BlockPrivateNetworks: true})
	for _, target := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		_, err := d.Deliver(context.Background(), outbox.Delivery{Message: outbox.Message{ID: "x", ShopID: "1", Target: target, Payload: "{}"}})
		if !errors.Is(err, outbox.ErrBlockedAddress) {
			t.Fatalf("%s: err = %v", target, err)
		}
	}
	_, err := d.Deliver(context.Background(), outbox.Delivery{Message: outbox.Message{ID: "x", ShopID: "1", Target: "file:///etc/passwd", Payload: "{}"}})
	if !errors.Is(err, outbox.ErrPermanent) {
		t.Fatalf("file URL: %v", err)
	}
}
