package ogone

import (
	"context"
	"database/sql"

	"github.com/openpsp/openpsp/internal/vault"
)

// accountSaver is the vault's bank-account side; *vault.Vault implements it.
type accountSaver interface {
	SaveAccount(ctx context.Context, tx *sql.Tx, req vault.AccountRequest) (vault.Token, bool, error)
}

// VaultAccounts makes the vault's bank-account tokens (method SDD) an
// AccountVault: wire it as Options.BankAccounts to offer the SEPA direct
// debit form. It lives here because the vault cannot import this package
// (this package imports the vault).
type VaultAccounts struct{ Vault accountSaver }

// NewVaultAccounts returns the AccountVault over v (a *vault.Vault).
func NewVaultAccounts(v accountSaver) VaultAccounts { return VaultAccounts{Vault: v} }

// SaveAccount keeps the account as a FlexCheckout alias.
func (a VaultAccounts) SaveAccount(ctx context.Context, tx *sql.Tx, req AccountRequest) (bool, bool, error) {
	iban, err := vault.NewIBAN(req.IBAN.Reveal())
	if err != nil {
		return false, false, err
	}
	t, updated, err := a.Vault.SaveAccount(ctx, tx, vault.AccountRequest{ShopID: req.ShopID, Mode: req.Mode, Token: req.Token,
		IBAN: iban, BIC: req.BIC, HolderName: req.Holder, Method: req.Method, Origin: "FLEXCHECKOUT",
		OriginOrderID: req.OriginOrderID, TTL: req.TTL})
	return updated, t.Permanent, err
}

var _ AccountVault = VaultAccounts{}
