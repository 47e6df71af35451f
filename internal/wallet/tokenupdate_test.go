package wallet_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/acquirer"
	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/vault"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// Lyra's V4 reference lists Token/Update as "Update the payment method data
// associated with an existing alias" and Token/UpdateCustomerDetails as
// "Update buyer data associated with an existing alias"
// (docs.lyra.com/en/rest/V4.0/api/reference.html); a public PayZen
// WordPress plugin calls V4/Token/Update with paymentMethodToken, currency,
// orderId and customer.email, as it calls Charge/CreateToken for its form.
// OpenPSP answered Token/Update with V4/Token and changed only the buyer's
// details. Token/Update now answers a formToken (V4/Charge/PaymentForm);
// the card the buyer enters on that form is verified (amount 0) and, once
// accepted, replaces the token's card under the same token value. A
// refused card leaves the token as it was.
func TestTokenUpdateReplacesCard(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		a := e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-1",
			"customer": map[string]any{"email": "buyer@example.com"}})
		ans := e.post(a["formToken"].(string), "", newCard(cardOK, false)).answer(t)
		tok, _ := get(ans, "transactions.paymentMethodToken").(string)
		if tok == "" {
			t.Fatalf("CreateToken: %v", ans)
		}

		a = e.ok("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR", "orderId": "upd-1",
			"customer": map[string]any{"email": "buyer@example.com"}})
		ft, _ := a["formToken"].(string)
		if ft == "" || a["_type"] != "V4/Charge/PaymentForm" {
			t.Fatalf("Token/Update answer %v, want a V4/Charge/PaymentForm with a formToken", a)
		}

		// A refused card: the token keeps its card.
		if r := e.post(ft, "", newCard(cardRefuse, false)); r.Accepted {
			t.Fatalf("refused card accepted: %+v", r)
		}
		got := e.ok("Token/Get", map[string]any{"paymentMethodToken": tok})
		if get(got, "tokenDetails.pan") != "497010XXXXXX0055" || get(got, "tokenDetails.expiryMonth") != float64(12) ||
			get(got, "tokenDetails.expiryYear") != float64(2032) || got["status"] != "ACTIVE" {
			t.Fatalf("token after a refused update %v", got)
		}

		// An accepted card replaces it, same token value.
		c := newCard(cardMC, false)
		c.Set("expiry", "11/31")
		ans = e.post(ft, "", c).answer(t)
		txs, _ := ans["transactions"].([]any)
		if len(txs) != 2 {
			t.Fatalf("kr-answer of the update: %d transactions, want the refused one and the accepted one: %v", len(txs), ans)
		}
		last := txs[1].(map[string]any)
		if get(last, "operationType") != "VERIFICATION" || get(last, "detailedStatus") != "ACCEPTED" ||
			get(last, "paymentMethodToken") != tok || get(last, "amount") != float64(0) ||
			get(last, "transactionDetails.cardDetails.pan") != "510001XXXXXX2045" ||
			get(last, "transactionDetails.cardDetails.expiryMonth") != float64(11) {
			t.Fatalf("kr-answer of the update (token %s) %v", tok, last)
		}
		got = e.ok("Token/Get", map[string]any{"paymentMethodToken": tok})
		if get(got, "tokenDetails.pan") != "510001XXXXXX2045" || get(got, "tokenDetails.expiryMonth") != float64(11) ||
			get(got, "tokenDetails.expiryYear") != float64(2031) || get(got, "tokenDetails.effectiveBrand") != "MASTERCARD" ||
			got["status"] != "ACTIVE" {
			t.Fatalf("token after the update %v", got)
		}
		if got := e.outbox(tok); !slices.Contains(got, "ipn token.updated https://merchant.example/ipn") {
			t.Fatalf("notifications of the update %v", got)
		}
		// The token pays with its new card.
		pay := e.ok("Charge/CreatePayment", map[string]any{"amount": 500, "currency": "EUR", "orderId": "after-upd",
			"formAction": "SILENT", "paymentMethodToken": tok})
		if pay["orderStatus"] != "PAID" || get(pay, "transactions.transactionDetails.cardDetails.pan") != "510001XXXXXX2045" {
			t.Fatalf("payment with the updated token %v", pay)
		}

		// Token/Update is the card's update: without currency it is refused
		// as Charge/CreateToken is; the buyer's details alone go to
		// Token/UpdateCustomerDetails.
		e.fails("Token/Update", map[string]any{"paymentMethodToken": tok, "customer": map[string]any{"email": "new@example.com"}}, "INT_902")
		e.fails("Token/Update", map[string]any{"paymentMethodToken": "0123456789abcdef0123456789abcdef", "currency": "EUR"}, "PSP_030")
		got = e.ok("Token/UpdateCustomerDetails", map[string]any{"paymentMethodToken": tok, "customer": map[string]any{"email": "new@example.com"}})
		if got["_type"] != "V4/Token" || get(got, "customer.email") != "new@example.com" || get(got, "tokenDetails.pan") != "510001XXXXXX2045" {
			t.Fatalf("Token/UpdateCustomerDetails %v", got)
		}

		// A token cancelled while its update form is open keeps its card and
		// stays cancelled (the update does not reactivate it; the card is
		// not even checked: TestTokenUpdateOfCancelledTokenNotVerified); a
		// cancelled token gets no new form.
		ft = e.ok("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR"})["formToken"].(string)
		e.ok("Token/Cancel", map[string]any{"paymentMethodToken": tok})
		if r := e.post(ft, "", newCard(cardOK, false)); r.Accepted {
			t.Fatalf("update of a cancelled token accepted: %+v", r)
		}
		got = e.ok("Token/Get", map[string]any{"paymentMethodToken": tok})
		if got["status"] != "CANCELLED" || get(got, "tokenDetails.pan") != "510001XXXXXX2045" {
			t.Fatalf("cancelled token after an update %v", got)
		}
		e.fails("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR"}, "PSP_031")
	})
}

// A Token/Update form whose token the merchant cancels before the buyer
// submits a card: the card is not checked at all (no acquirer call), the
// buyer reads, in the form's language, that the link is not valid, and the
// form is over. The merchant's kr-answer and IPN show the VERIFICATION
// REFUSED with errorCode PSP_031, the code Lyra gives a cancelled token
// (compat.md §1.7, errors_psp.html: "invalid token"). The token keeps its
// card and stays cancelled.
func TestTokenUpdateOfCancelledTokenNotVerified(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ans := e.post(e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-1"})["formToken"].(string),
			"", newCard(cardOK, false)).answer(t)
		tok := get(ans, "transactions.paymentMethodToken").(string)
		ft := e.ok("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR", "orderId": "upd-1",
			"customer": map[string]any{"billingDetails": map[string]any{"language": "FR"}}})["formToken"].(string)
		e.ok("Token/Cancel", map[string]any{"paymentMethodToken": tok})

		before := e.acq.calls.Load()
		r := e.post(ft, "", newCard(cardMC, false))
		if r.Accepted || r.Step != "done" || r.Message != "Ce lien de paiement n’est pas valide. Retournez sur la boutique pour recommencer." || r.Detail != "" {
			t.Fatalf("buyer's answer %+v, want a final refusal saying the link is not valid (in French)", r)
		}
		if n := e.acq.calls.Load() - before; n != 0 {
			t.Fatalf("%d acquirer calls for the card of a cancelled token's update, want none", n)
		}
		e.checkTokenGone(ft, tok, "upd-1", "PSP_031", "CANCELLED")
		// The form is over: a second card is not checked either.
		if r := e.post(ft, "", newCard(cardMC, false)); r.Accepted || e.acq.calls.Load() != before {
			t.Fatalf("second post on the form %+v (acquirer calls %d)", r, e.acq.calls.Load()-before)
		}
	})
}

// A Token/Update form opened on a token the 15-month retention purge then
// destroys (the buyer submits a card after the purge job ran): the card is
// not checked (no acquirer call) and the verification is refused with
// PSP_036, Lyra's code for a purged token (compat.md §1.7), as a cancelled
// token's is with PSP_031 (TestTokenUpdateOfCancelledTokenNotVerified).
func TestTokenUpdateOfPurgedTokenNotVerified(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		clk := clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
		e := newEnv(t, db, clk)
		ans := e.post(e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-1"})["formToken"].(string),
			"", newCard(cardOK, false)).answer(t)
		tok := get(ans, "transactions.paymentMethodToken").(string)
		// The form is opened a few minutes before the token has been
		// unused for 15 months; the purge job runs once they are over.
		clk.Set(time.Date(2031, 6, 10, 8, 55, 0, 0, time.UTC))
		ft := e.ok("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR", "orderId": "upd-1"})["formToken"].(string)
		clk.Advance(10 * time.Minute)
		if n, err := e.vault.PurgeRetention(e.ctx(), vault.PurgeOptions{}); err != nil || n != 1 {
			t.Fatalf("PurgeRetention: %d, %v; want the token purged", n, err)
		}
		before := e.acq.calls.Load()
		r := e.post(ft, "", newCard(cardMC, false))
		if r.Accepted || r.Step != "done" || r.Message != "This payment link is not valid. Please return to the shop and start again." || r.Detail != "" {
			t.Fatalf("buyer's answer %+v, want a final refusal saying the link is not valid", r)
		}
		if n := e.acq.calls.Load() - before; n != 0 {
			t.Fatalf("%d acquirer calls for the card of a purged token's update, want none", n)
		}
		e.checkTokenGone(ft, tok, "upd-1", "PSP_036", "PURGED")
		if got := e.outbox(tok); slices.Contains(got, "ipn token.updated https://merchant.example/ipn") {
			t.Fatalf("token.updated sent for a purged token: %v", got)
		}
		// The form is over: a second card is not checked either.
		if r := e.post(ft, "", newCard(cardMC, false)); r.Accepted || e.acq.calls.Load() != before {
			t.Fatalf("second post on the form %+v (acquirer calls %d)", r, e.acq.calls.Load()-before)
		}
	})
}

// A card registered by Token/Update on a token close to 15 months unused
// is a use of the token: the retention purge that runs next keeps the new
// card (the buyer was just told it is registered).
func TestTokenUpdateKeepsCardFromPurge(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		clk := clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
		e := newEnv(t, db, clk)
		ans := e.post(e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-1"})["formToken"].(string),
			"", newCard(cardOK, false)).answer(t)
		tok := get(ans, "transactions.paymentMethodToken").(string)
		clk.Set(time.Date(2031, 6, 10, 8, 55, 0, 0, time.UTC))
		ft := e.ok("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR", "orderId": "upd-1"})["formToken"].(string)
		if r := e.post(ft, "", newCard(cardMC, false)); !r.Accepted {
			t.Fatalf("update refused: %+v", r)
		}
		clk.Advance(time.Hour)
		if n, err := e.vault.PurgeRetention(e.ctx(), vault.PurgeOptions{}); err != nil || n != 0 {
			t.Fatalf("PurgeRetention after the update: purged %d, %v; want the updated token kept", n, err)
		}
		got := e.ok("Token/Get", map[string]any{"paymentMethodToken": tok})
		if got["status"] != "ACTIVE" || get(got, "tokenDetails.pan") != "510001XXXXXX2045" {
			t.Fatalf("token after the update and a purge run %v", got)
		}
	})
}

// The merchant cancels the token while the acquirer checks the card (after
// the check made when the card is submitted): the write that records the
// verification finds the token cancelled, so the verification is recorded
// REFUSED with PSP_031 (a zero-amount check reserves nothing to release)
// and the buyer is not told the card was registered.
func TestTokenUpdateCancelledDuringVerification(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ans := e.post(e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-1"})["formToken"].(string),
			"", newCard(cardOK, false)).answer(t)
		tok := get(ans, "transactions.paymentMethodToken").(string)
		ft := e.ok("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR", "orderId": "upd-1"})["formToken"].(string)
		e.acq.beforeCall = func() { e.ok("Token/Cancel", map[string]any{"paymentMethodToken": tok}) }
		r := e.post(ft, "", newCard(cardMC, false))
		e.acq.beforeCall = nil
		if r.Accepted || r.Step != "done" || r.Message != "This payment link is not valid. Please return to the shop and start again." || r.Detail != "" {
			t.Fatalf("buyer's answer %+v, want a final refusal saying the link is not valid", r)
		}
		e.checkTokenGone(ft, tok, "upd-1", "PSP_031", "CANCELLED")
		if got := e.outbox(tok); slices.Contains(got, "ipn token.updated https://merchant.example/ipn") {
			t.Fatalf("token.updated sent for a cancelled token: %v", got)
		}
	})
}

// checkTokenGone checks what the merchant learns of a Token/Update form
// whose token was cancelled or purged: the payment UNPAID and closed, its
// one VERIFICATION REFUSED with code (PSP_031 cancelled, PSP_036 purged)
// and no token, in the IPN as in the kr-answer; the token in status with
// its old card's masked number.
func (e *env) checkTokenGone(ft, tok, orderID, code, status string) {
	e.t.Helper()
	p, err := e.pay.PaymentForToken(e.ctx(), ft)
	if err != nil {
		e.t.Fatal(err)
	}
	var ipn string
	if err := e.db.Reader().QueryRow(`SELECT payload FROM outbox WHERE channel = 'ipn' AND ordering_key = $1 AND event = 'payment.refused'`,
		p.ID).Scan(&ipn); err != nil {
		e.t.Fatalf("IPN payment.refused of the update: %v", err)
	}
	var a map[string]any
	if err := json.Unmarshal([]byte(ipn), &a); err != nil {
		e.t.Fatal(err)
	}
	if a["orderStatus"] != "UNPAID" || a["orderCycle"] != "CLOSED" || get(a, "orderDetails.orderId") != orderID {
		e.t.Fatalf("IPN of the update %v", a)
	}
	txs, _ := a["transactions"].([]any)
	if len(txs) != 1 {
		e.t.Fatalf("IPN transactions %v", txs)
	}
	tx := txs[0].(map[string]any)
	if tx["operationType"] != "VERIFICATION" || tx["status"] != "UNPAID" || tx["detailedStatus"] != "REFUSED" ||
		tx["errorCode"] != code || tx["paymentMethodToken"] != nil {
		e.t.Fatalf("IPN transaction of the update %v, want errorCode %s", tx, code)
	}
	if status == "PURGED" {
		// Token/Get answers PSP_036 for a purged token (tokenGet); the
		// vault keeps its masked details.
		e.fails("Token/Get", map[string]any{"paymentMethodToken": tok}, "PSP_036")
		r, err := e.vault.Get(e.ctx(), shopID, "TEST", tok)
		if err != nil || r.StatusAt(e.clk.Now()) != vault.StatusPurged || r.PANMasked != "497010XXXXXX0055" {
			e.t.Fatalf("purged token after the update %+v, %v", r, err)
		}
		return
	}
	got := e.ok("Token/Get", map[string]any{"paymentMethodToken": tok})
	if got["status"] != status || get(got, "tokenDetails.pan") != "497010XXXXXX0055" {
		e.t.Fatalf("token after the update %v", got)
	}
}

// failTokenWrites makes the database refuse every change of a token row, as
// a full disk does, until the function it returns is called: a real trigger
// of the engine. It may be called from the acquirer's call.
func (e *env) failTokenWrites() (end func()) {
	e.t.Helper()
	ctx := context.Background()
	install := []string{`CREATE TRIGGER tu_disk_full BEFORE UPDATE ON tokens
		BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`}
	drop := `DROP TRIGGER tu_disk_full`
	if e.db.Dialect() == store.Postgres {
		install = []string{`CREATE OR REPLACE FUNCTION tu_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$`,
			`CREATE TRIGGER tu_disk_full BEFORE UPDATE ON tokens FOR EACH ROW EXECUTE FUNCTION tu_disk_full()`}
		drop = `DROP TRIGGER tu_disk_full ON tokens`
	}
	for _, q := range install {
		if _, err := e.db.Writer().ExecContext(ctx, q); err != nil {
			e.t.Errorf("installing the fault: %v", err)
		}
	}
	return func() {
		e.t.Helper()
		if _, err := e.db.Writer().ExecContext(ctx, drop); err != nil {
			e.t.Fatal(err)
		}
	}
}

// The acquirer approves the card of a Token/Update form but the database
// refuses to write the new card into the token (a real trigger: disk
// full). The approval and the card replacement are one outcome: the buyer
// is not told the card is registered (a technical error, to try again),
// the merchant's IPN shows the VERIFICATION in ERROR (INT_999) without a
// token, no token.updated is sent, and the token keeps its card. Once the
// database writes again, another attempt on the same form registers it.
func TestTokenUpdateCardNotWrittenIsNotAccepted(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ans := e.post(e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-1"})["formToken"].(string),
			"", newCard(cardOK, false)).answer(t)
		tok := get(ans, "transactions.paymentMethodToken").(string)
		ft := e.ok("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR", "orderId": "upd-1"})["formToken"].(string)

		var end func()
		e.acq.beforeCall = func() { end = e.failTokenWrites() }
		r := e.post(ft, "", newCard(cardMC, false))
		e.acq.beforeCall = nil
		end()
		if r.Accepted || r.Message == "Your card has been registered. Thank you!" || r.Step == "done" {
			t.Fatalf("buyer's answer %+v, want a technical error with another attempt offered", r)
		}
		p, err := e.pay.PaymentForToken(e.ctx(), ft)
		if err != nil {
			t.Fatal(err)
		}
		var ipn string
		if err := e.db.Reader().QueryRow(`SELECT payload FROM outbox WHERE channel = 'ipn' AND ordering_key = $1 ORDER BY created_at DESC, id DESC`,
			p.ID).Scan(&ipn); err != nil {
			t.Fatalf("IPN of the update: %v", err)
		}
		var a map[string]any
		if err := json.Unmarshal([]byte(ipn), &a); err != nil {
			t.Fatal(err)
		}
		tx := a["transactions"].([]any)[0].(map[string]any)
		if tx["operationType"] != "VERIFICATION" || tx["detailedStatus"] != "ERROR" || tx["errorCode"] != "INT_999" ||
			tx["paymentMethodToken"] != nil || a["orderStatus"] != "UNPAID" {
			t.Fatalf("IPN of the update whose card was not written %v", a)
		}
		if d, _ := tx["detailedErrorMessage"].(string); !strings.Contains(d, "not registered") {
			t.Fatalf("detailedErrorMessage %q, want it to say the card was not registered", d)
		}
		got := e.ok("Token/Get", map[string]any{"paymentMethodToken": tok})
		if got["status"] != "ACTIVE" || get(got, "tokenDetails.pan") != "497010XXXXXX0055" {
			t.Fatalf("token after an update whose card was not written %v", got)
		}
		if got := e.outbox(tok); slices.Contains(got, "ipn token.updated https://merchant.example/ipn") {
			t.Fatalf("token.updated sent for a card not written: %v", got)
		}

		// The database writes again: the buyer's next attempt registers it.
		if r := e.post(ft, "", newCard(cardMC, false)); !r.Accepted || r.Message != "Your card has been registered. Thank you!" {
			t.Fatalf("second attempt %+v", r)
		}
		got = e.ok("Token/Get", map[string]any{"paymentMethodToken": tok})
		if got["status"] != "ACTIVE" || get(got, "tokenDetails.pan") != "510001XXXXXX2045" {
			t.Fatalf("token after the second attempt %v", got)
		}
	})
}

// The acquirer's answer to the card check of a Token/Update form is lost
// (a timeout after the check was made): recovery learns it was approved,
// but the card the buyer typed is no longer there to write into the token.
// The verification is recorded in ERROR (INT_999, card not registered),
// not ACCEPTED with the token's old card, and the buyer may try again.
func TestTokenUpdateRecoveredCheckIsNotAccepted(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		clk := clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
		e := newEnv(t, db, clk)
		ans := e.post(e.ok("Charge/CreateToken", map[string]any{"currency": "EUR", "orderId": "reg-1"})["formToken"].(string),
			"", newCard(cardOK, false)).answer(t)
		tok := get(ans, "transactions.paymentMethodToken").(string)
		ft := e.ok("Token/Update", map[string]any{"paymentMethodToken": tok, "currency": "EUR", "orderId": "upd-1"})["formToken"].(string)

		sim := e.acq.Connector.(*simulator.Simulator)
		e.acq.beforeVerify = func(r acquirer.AuthorizeRequest) { sim.InjectFault(r.OperationID, simulator.FaultTimeout) }
		ctx, cancel := context.WithTimeout(e.ctx(), time.Minute)
		defer cancel()
		r := e.post(ft, "", newCard(cardMC, false))
		e.acq.beforeVerify = nil
		if r.Accepted || !strings.Contains(r.Message, "being processed") {
			t.Fatalf("buyer's answer to a lost check %+v, want it pending", r)
		}
		clk.Advance(10 * time.Minute)
		if n, err := e.pay.RecoverRunning(ctx, time.Minute, 10); err != nil || n != 1 {
			t.Fatalf("RecoverRunning: %d, %v", n, err)
		}
		p, err := e.pay.PaymentForToken(ctx, ft)
		if err != nil {
			t.Fatal(err)
		}
		v := p.Transactions[len(p.Transactions)-1]
		if v.DetailedStatus != payment.Error || v.ErrorCode != "INT_999" || v.Token != "" || v.AcquirerRef == "" {
			t.Fatalf("recovered Token/Update check %s %s token %q ref %q, want ERROR INT_999 without a token, the check's reference kept",
				v.DetailedStatus, v.ErrorCode, v.Token, v.AcquirerRef)
		}
		got := e.ok("Token/Get", map[string]any{"paymentMethodToken": tok})
		if got["status"] != "ACTIVE" || get(got, "tokenDetails.pan") != "497010XXXXXX0055" {
			t.Fatalf("token after a recovered update %v", got)
		}
		if got := e.outbox(tok); slices.Contains(got, "ipn token.updated https://merchant.example/ipn") {
			t.Fatalf("token.updated sent for a card not written: %v", got)
		}
	})
}
