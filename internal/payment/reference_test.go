package payment

import (
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// A SILENT payment with a token of a buyer's wallet (a subscription's
// instalment sends no customer) says whose wallet it is: the IPN's
// customer.reference is the wallet's, as on the wallet's other payments;
// a reference the merchant sends is kept.
func TestTokenPaymentCarriesTheWalletReference(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		c := cardIn(cardOK)
		tok, err := e.vault.TokenizeNow(e.ctx(), vault.TokenizeRequest{ShopID: e.shop.ID, Mode: shop.ModeTest, PAN: c.PAN,
			Expiry: c.Expiry, CustomerReference: "cust-42"})
		if err != nil {
			t.Fatal(err)
		}
		reference := func(in CreateInput) any {
			t.Helper()
			in.Amount, in.Currency, in.PaymentMethodToken = 700, "EUR", tok.Value
			p, _, err := e.svc.PayToken(e.ctx(), e.shop, e.creds, in)
			if err != nil {
				t.Fatal(err)
			}
			ipns := e.ipns(p.ID)
			if len(ipns) == 0 {
				t.Fatal("no IPN")
			}
			answer := decode(t, []byte(ipns[0].Payload))
			return answer["customer"].(map[string]any)["reference"]
		}
		if got := reference(CreateInput{}); got != "cust-42" {
			t.Errorf("IPN customer.reference %v, want the wallet's cust-42", got)
		}
		own := "merchant-ref"
		if got := reference(CreateInput{Customer: Customer{Reference: &own}}); got != own {
			t.Errorf("IPN customer.reference %v, want the merchant's %s", got, own)
		}
	})
}
