package v4

import (
	"strings"

	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/vault"
)

// customerWalletJSON is V4/CustomerWallet: a buyer's tokens.
type customerWalletJSON struct {
	CustomerReference string      `json:"customerReference"`
	Tokens            []tokenJSON `json:"tokens"`
	Type              string      `json:"_type"`
}

func (a *tokensAPI) walletObject(c *Call, reference string, tokens []vault.Token) customerWalletJSON {
	w := customerWalletJSON{CustomerReference: reference, Tokens: make([]tokenJSON, 0, len(tokens)), Type: "V4/CustomerWallet"}
	for _, t := range tokens {
		w.Tokens = append(w.Tokens, a.tokenObject(c, t))
	}
	return w
}

// walletGet is CustomerWallet/Get: customerReference (required) and
// tokenStatus ACTIVE (default), EXPIRED, CANCELLED or ALL.
func (a *tokensAPI) walletGet(c *Call) (any, error) {
	var r struct {
		CustomerReference *string `json:"customerReference"`
		TokenStatus       *string `json:"tokenStatus"`
	}
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	ref := str(r.CustomerReference)
	tokens, err := a.svc.Tokens(c.Ctx, c.Shop.ID, c.Creds.Mode, ref, str(r.TokenStatus))
	if err != nil {
		return nil, err
	}
	return a.walletObject(c, ref, tokens), nil
}

// walletUpdate is CustomerWallet/Update: the buyer's details (customer:
// billingDetails, shippingDetails, email) set on every token of the
// wallet of customerReference (or customer.reference); answers the wallet
// with all its tokens.
func (a *tokensAPI) walletUpdate(c *Call) (any, error) {
	var r struct {
		CustomerReference *string           `json:"customerReference"`
		Customer          *payment.Customer `json:"customer"`
	}
	if err := c.Decode(&r); err != nil {
		return nil, err
	}
	if r.Customer == nil {
		return nil, invalidField("customer", "null")
	}
	// Trimmed, as payments trim customer.reference before saving a card.
	ref := strings.TrimSpace(str(r.CustomerReference))
	if ref == "" && r.Customer.Reference != nil {
		ref = strings.TrimSpace(*r.Customer.Reference)
	}
	if ref == "" {
		return nil, invalidField("customerReference", "null")
	}
	if err := checkCustomer(r.Customer); err != nil {
		return nil, err
	}
	if r.Customer.Reference != nil && *r.Customer.Reference != ref {
		// A token moves between wallets by no web service.
		return nil, errs.Invalid(errs.InputInvalid, msgInvalid, "customer.reference", *r.Customer.Reference)
	}
	tokens, err := a.svc.UpdateWallet(c.Ctx, c.Shop.ID, c.Creds.Mode, ref, *r.Customer)
	if err != nil {
		return nil, err
	}
	return a.walletObject(c, ref, tokens), nil
}
