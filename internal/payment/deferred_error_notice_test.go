package payment

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/acquirer/simulator"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A deferred debit accepted on its card check whose D-1 authorization the
// acquirer could not take by the capture date ends ERROR. The buyer, told
// at purchase that the order was accepted and long gone from the form, is
// told in their language that the debit could not be made and that
// nothing was charged, with the shop's contact: once, and only when the
// shop sends order confirmations. The merchant's notice says technical
// error, not refusal.
func TestDeferredDebitErrorToldToTheBuyer(t *testing.T) {
	// What the buyer must read, per language: the debit was not made,
	// nothing was charged; and not the "try another card" of a refusal
	// on the form.
	notMade := map[string]string{"en": "could not be debited", "fr": "n’a pas pu être débité", "es": "No se ha podido cargar",
		"it": "Non è stato possibile addebitare", "de": "nicht von Ihrer Karte abgebucht"}
	nothing := map[string]string{"en": "no money was taken from your account", "fr": "aucune somme n’a été débitée",
		"es": "no se ha cargado ningún importe", "it": "nessun importo è stato addebitato", "de": "Ihr Konto wurde nicht belastet"}
	retry := map[string]string{"en": "try again with another card", "fr": "réessayer avec une autre carte",
		"es": "volver a intentarlo con otra tarjeta", "it": "riprovare con un’altra carta", "de": "anderen Karte erneut"}
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e, _ := deferredEnv(t, db)
		e.shop.Settings.OrderConfirmationEmails = true
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		start := e.clk.Now()
		delay := 20
		type paid struct {
			lang string
			p    Payment
			tx   Transaction
		}
		var all []paid
		for _, lang := range notify.Languages {
			email := "buyer-" + lang + "@example.com"
			p, tx := e.pay(CreateInput{Amount: 2500, OrderID: "late-" + lang, CaptureDelay: &delay,
				Customer: Customer{Email: &email, BillingDetails: BillingDetails{Language: &lang}}}, cardOK)
			wantStatus(t, tx, WaitingAuthorisation)
			all = append(all, paid{lang, p, tx})
		}
		// The acquirer cannot be reached on the capture date.
		e.clk.Set(start.AddDate(0, 0, delay))
		for _, x := range all {
			e.sim.InjectFault(x.tx.UUID+"-authorise", simulator.FaultUnavailable)
		}
		e.authorizeDue()
		r := notify.NewRenderer(nil, nil)
		for _, x := range all {
			wantStatus(t, e.get(x.tx.UUID), Error)
			if got := e.buyerEmails(x.p.ID); got["payment.accepted"] != 1 || got["payment.refused"] != 1 || len(got) != 2 {
				t.Fatalf("%s: buyer emails %v, want the confirmation then one notice of the debit not made", x.lang, got)
			}
			c, out := e.renderEmail(r, x.p.ID, "buyer", "payment.refused")
			if c.Lang != x.lang {
				t.Errorf("buyer's email in %q, want %q", c.Lang, x.lang)
			}
			for _, want := range []string{notMade[x.lang], nothing[x.lang], "merchant@shop.example", "25"} {
				if !strings.Contains(out.Text, want) || !strings.Contains(out.HTML, want) {
					t.Errorf("%s: %q is not in the buyer's email:\n%s", x.lang, want, out.Text)
				}
			}
			if strings.Contains(out.Text, retry[x.lang]) {
				t.Errorf("%s: the buyer, gone long ago, is asked to retry on the form:\n%s", x.lang, out.Text)
			}
			_, m := e.renderEmail(r, x.p.ID, "merchant", "payment.refused")
			if !strings.Contains(m.Subject, "technical error") || strings.Contains(m.Subject, "refused") {
				t.Errorf("%s: merchant's notice %q, want a technical error", x.lang, m.Subject)
			}
			// The buyer is not at the form: the merchant is not told the
			// buyer may try again, but to settle the payment with them.
			if strings.Contains(m.Text, "may try again") || !strings.Contains(m.Text, "Contact the buyer") ||
				strings.Contains(m.HTML, "may try again") || !strings.Contains(m.HTML, "Contact the buyer") {
				t.Errorf("%s: merchant's notice of a deferred debit not made:\n%s", x.lang, m.Text)
			}
		}
		// Final: later runs tell nobody again.
		e.clk.Advance(time1min * 90)
		e.authorizeDue()
		for _, x := range all {
			if got := e.buyerEmails(x.p.ID); got["payment.refused"] != 1 {
				t.Fatalf("%s: buyer emails %v after a later run", x.lang, got)
			}
		}

		// A shop that sends no order confirmations sends this none either.
		e.shop.Settings.OrderConfirmationEmails = false
		if err := db.UpdateShop(e.ctx(), e.shop, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		start = e.clk.Now()
		email := "quiet@example.com"
		p, tx := e.pay(CreateInput{Amount: 2500, OrderID: "late-quiet", CaptureDelay: &delay, Customer: Customer{Email: &email}}, cardOK)
		e.clk.Set(start.AddDate(0, 0, delay))
		e.sim.InjectFault(tx.UUID+"-authorise", simulator.FaultUnavailable)
		e.authorizeDue()
		wantStatus(t, e.get(tx.UUID), Error)
		if got := e.buyerEmails(p.ID); len(got) != 0 {
			t.Errorf("buyer emails %v without order confirmations", got)
		}
		if got := e.merchantEmails(p.ID); len(got) != 2 {
			t.Errorf("merchant notices %v, want the acceptance's and the technical error's", got)
		}
	})
}

// renderEmail renders the one email of event to recipient ("buyer" or
// "merchant") of a payment as it would be sent.
func (e *env) renderEmail(r *notify.Renderer, paymentID, recipient, event string) (notify.Content, notify.Rendered) {
	e.t.Helper()
	var payload string
	if err := e.db.Reader().QueryRow(`SELECT payload FROM outbox WHERE channel = $1 AND ordering_key = $2 AND event = $3`,
		outbox.ChannelEmail, "payment:"+paymentID+"/"+recipient, event).Scan(&payload); err != nil {
		e.t.Fatalf("%s email %s: %v", recipient, event, err)
	}
	var c notify.Content
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		e.t.Fatal(err)
	}
	out, err := r.Email(context.Background(), c)
	if err != nil {
		e.t.Fatal(err)
	}
	return c, out
}
