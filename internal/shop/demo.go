package shop

import (
	"context"
	"errors"
)

// The demo shop uses the public PayZen demo keys (compat.md §1.2) and the
// FlexCheckout document's example passphrase, so examples from the public
// documentation run unchanged. TEST mode only: its keys are public.
const (
	DemoShopID         = "69876357"
	DemoTestPassword   = "testpassword_DEMOPRIVATEKEY23G4475zXZQ2UA5x7M"
	DemoTestPublicKey  = "69876357:testpublickey_DEMOPUBLICKEY95me92597fd28tGD4r5"
	DemoTestHMACKey    = "38453613e7f44dc58732bad3dca2bca3"
	DemoPSPID          = "openpspdemo"
	DemoSHAPassphrase  = "Mysecretsig1875!?"
	DemoAPIUser        = "demoapi"
	DemoAPIPassword    = "demoapi-password"
	DemoShopName       = "OpenPSP Demo Shop"
	DemoMerchantEmail  = "merchant@demo.openpsp.localhost"
	DemoMerchantPhone  = "+33600000000"
	demoDefaultCountry = "FR"
	demoTimeZone       = "Europe/Paris"
)

// SeedDemo creates the demo shop unless it exists. It reports whether it
// created it.
func (s *Service) SeedDemo(ctx context.Context, notificationURL string) (bool, error) {
	if _, err := s.store.Shop(ctx, DemoShopID); err == nil {
		return false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	_, err := s.Create(ctx, CreateInput{
		ID: DemoShopID, Name: DemoShopName, Currency: "EUR", Language: "en",
		PrimaryEmail: DemoMerchantEmail, NotificationURL: notificationURL,
		Settings: Settings{
			PaymentByToken: true, TokenDeletion: DeletionAutomatic, OrderConfirmationEmails: true,
			// The zone of its country (FR): the demo's emails show the
			// shop's local time. Existing demo shops keep theirs (UTC).
			TimeZone: demoTimeZone,
			Notifications: NotificationSettings{TokenURL: true, TokenEmailBuyer: true, TokenEmailMerchant: true,
				TokenSMSMerchant: true, TokenSMSBuyer: true, MerchantPhone: DemoMerchantPhone},
		},
		TestPassword: DemoTestPassword, TestPublicKey: DemoTestPublicKey, TestHMACKey: DemoTestHMACKey,
		PSPID: DemoPSPID, SHAIn: DemoSHAPassphrase, SHAOut: DemoSHAPassphrase, SHAAlgorithm: "SHA-512",
		APIUser: DemoAPIUser, APIPassword: DemoAPIPassword,
	})
	if err != nil {
		return false, err
	}
	_ = demoDefaultCountry
	return true, nil
}
