package ogone_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// TestFlexDirectDebitRealVault runs the SEPA direct debit page against the
// real vault: the alias is an SDD token with the IBAN sealed.
func TestFlexDirectDebitRealVault(t *testing.T) {
	e := newEnv(t, func(o *ogone.Options) { o.BankAccounts = ogone.NewVaultAccounts(o.Vault.(*vault.Vault)) })
	ctx := context.Background()
	params := e.flexParams(map[string]string{"CARD.PAYMENTMETHOD": "Direct Debits DE", "ALIAS.ALIASID": "sepa-real"})
	action, _ := e.open(params)
	_, q := e.returned(e.post(action, url.Values{"HOLDER": {"Max Muster"}, "IBAN": {"DE89 3704 0044 0532 0130 00"}, "BIC": {"COBADEFFXXX"}}))
	if q.Get("Alias.Status") != "0" || q.Get("Alias.AliasId") != "sepa-real" || q.Get("Card.CardNumber") != "DE89XXXXXXXXXXXXXX3000" ||
		q.Get("Card.Bic") != "COBADEFFXXX" || q.Get("Card.Brand") != "Direct Debits DE" {
		t.Fatalf("return %v", q)
	}
	checkSHAOut(t, q)
	shopID := shop.DemoShopID
	acc, tok, err := e.vault.Account(ctx, shopID, "sepa-real")
	if err != nil || acc.IBAN.Reveal() != "DE89370400440532013000" || acc.BIC != "COBADEFFXXX" ||
		tok.Method != vault.MethodSDD || tok.PANMasked != "DE89XXXXXXXXXXXXXX3000" || tok.HolderName != "Max Muster" || tok.Origin != "FLEXCHECKOUT" {
		t.Fatalf("stored %+v %v %v", tok, acc.IBAN, err)
	}
	if _, _, _, err := e.vault.Card(ctx, shopID, "sepa-real"); !errors.Is(err, vault.ErrNotCard) {
		t.Fatalf("Card on the account alias: %v", err)
	}
	// The same alias with another account: ALIAS.STATUS 2.
	action, _ = e.open(params)
	_, q = e.returned(e.post(action, url.Values{"HOLDER": {"Max Muster"}, "IBAN": {"FR14 2004 1010 0505 0001 3M02 606"}}))
	if q.Get("Alias.Status") != "2" || q.Get("Card.CardNumber") != "FR14XXXXXXXXXXXXXXXXXXX2606" {
		t.Fatalf("update return %v", q)
	}
	checkSHAOut(t, q)
	if acc, _, err := e.vault.Account(ctx, shopID, "sepa-real"); err != nil || acc.IBAN.Reveal() != "FR1420041010050500013M02606" {
		t.Fatalf("updated account %v %v", acc.IBAN, err)
	}
}
