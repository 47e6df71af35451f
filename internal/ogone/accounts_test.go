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
	acc, tok, err := e.vault.Account(ctx, shopID, "TEST", "sepa-real")
	if err != nil || acc.IBAN.Reveal() != "DE89370400440532013000" || acc.BIC != "COBADEFFXXX" ||
		tok.Method != vault.MethodSDD || tok.PANMasked != "DE89XXXXXXXXXXXXXX3000" || tok.HolderName != "Max Muster" || tok.Origin != "FLEXCHECKOUT" {
		t.Fatalf("stored %+v %v %v", tok, acc.IBAN, err)
	}
	if _, _, _, err := e.vault.Card(ctx, shopID, "TEST", "sepa-real"); !errors.Is(err, vault.ErrNotCard) {
		t.Fatalf("Card on the account alias: %v", err)
	}
	// The same alias with another account: ALIAS.STATUS 2.
	action, _ = e.open(params)
	_, q = e.returned(e.post(action, url.Values{"HOLDER": {"Max Muster"}, "IBAN": {"FR14 2004 1010 0505 0001 3M02 606"}}))
	if q.Get("Alias.Status") != "2" || q.Get("Card.CardNumber") != "FR14XXXXXXXXXXXXXXXXXXX2606" {
		t.Fatalf("update return %v", q)
	}
	checkSHAOut(t, q)
	if acc, _, err := e.vault.Account(ctx, shopID, "TEST", "sepa-real"); err != nil || acc.IBAN.Reveal() != "FR1420041010050500013M02606" {
		t.Fatalf("updated account %v %v", acc.IBAN, err)
	}
}

// TestAliasOfTheOtherMethod: a bank-account alias cannot pay by card nor
// take a card, and a card alias cannot take a bank account. These are the
// merchant's mistakes, answered as refused input (DirectLink 50001111,
// FlexCheckout ALIAS.STATUS 1 with NCErrorCardNo to the DECLINEURL), not as
// technical errors to retry.
func TestAliasOfTheOtherMethod(t *testing.T) {
	e := newEnv(t, func(o *ogone.Options) { o.BankAccounts = ogone.NewVaultAccounts(o.Vault.(*vault.Vault)) })
	ctx := context.Background()
	action, _ := e.open(e.flexParams(map[string]string{"CARD.PAYMENTMETHOD": "Direct Debits DE", "ALIAS.ALIASID": "sepa-1"}))
	if _, q := e.returned(e.post(action, url.Values{"HOLDER": {"Max Muster"}, "IBAN": {"DE89 3704 0044 0532 0130 00"}})); q.Get("Alias.Status") != "0" {
		t.Fatalf("account alias: %v", q)
	}
	action, _ = e.open(e.flexParams(map[string]string{"ALIAS.ALIASID": "card-1"}))
	if _, q := e.returned(e.post(action, cardForm(mastercard))); q.Get("Alias.Status") != "0" {
		t.Fatalf("card alias: %v", q)
	}

	for name, params := range map[string]map[string]string{
		"pay":         {"ORDERID": "B-1", "ALIAS": "sepa-1"},
		"store card":  {"ORDERID": "B-2", "ALIAS": "sepa-1", "CARDNO": visa, "ED": "1232", "CVC": "123"},
		"store again": {"ORDERID": "B-3", "ALIAS": "sepa-1", "CARDNO": visa, "ED": "1232", "CVC": "123"},
	} {
		if r := e.order(params); r["NCERROR"] != "50001111" || r["NCSTATUS"] != "5" || r["STATUS"] != "0" {
			t.Errorf("%s: %v", name, r)
		}
	}
	if acc, _, err := e.vault.Account(ctx, shop.DemoShopID, "TEST", "sepa-1"); err != nil || acc.IBAN.Reveal() != "DE89370400440532013000" {
		t.Fatalf("the account alias changed: %v %v", acc.IBAN, err)
	}

	action, _ = e.open(e.flexParams(map[string]string{"ALIAS.ALIASID": "sepa-1"}))
	path, q := e.returned(e.post(action, cardForm(visa)))
	if path != "/decline" || q.Get("Alias.Status") != "1" || q.Get("Alias.NCError") != "55555555" || q.Get("Alias.NCErrorCardNo") != "50001111" {
		t.Fatalf("card onto the account alias: %s %v", path, q)
	}
	checkSHAOut(t, q)
	action, _ = e.open(e.flexParams(map[string]string{"CARD.PAYMENTMETHOD": "Direct Debits DE", "ALIAS.ALIASID": "card-1"}))
	path, q = e.returned(e.post(action, url.Values{"HOLDER": {"Max Muster"}, "IBAN": {"DE89 3704 0044 0532 0130 00"}}))
	if path != "/decline" || q.Get("Alias.Status") != "1" || q.Get("Alias.NCError") != "55555555" || q.Get("Alias.NCErrorCardNo") != "50001111" {
		t.Fatalf("account onto the card alias: %s %v", path, q)
	}
	checkSHAOut(t, q)
	if pan, _, _, err := e.vault.Card(ctx, shop.DemoShopID, "TEST", "card-1"); err != nil || pan.Reveal() != mastercard {
		t.Fatalf("the card alias changed: %v", err)
	}
}
