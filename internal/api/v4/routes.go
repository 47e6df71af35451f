package v4

import (
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/subscription"
	"github.com/openpsp/openpsp/internal/wallet"
)

// Services lists every web service; each capability adds its lines here.
// Keep it one flat list: it is the API's table of contents.
type Services struct {
	// Payments is the card payments core (payments.go).
	Payments *payment.Service
	// Wallet is buyer wallets and tokens (tokens.go, wallet.go).
	Wallet *wallet.Service
	// Subscriptions is recurring payments with a token (subscriptions.go).
	Subscriptions *subscription.Service
}

// RegisterBase registers the web services that need nothing but the server.
func (s *Server) RegisterBase() {
	s.Handle("Charge/SDKTest", sdkTest)
}

// RegisterPayments registers the card payment web services (payments.go).
// Wrap the server with Idempotency (Options.Wrap) for Idempotency-Key.
func (s *Server) RegisterPayments(svc *payment.Service) {
	p := &paymentsAPI{svc: svc}
	s.Handle("Charge/CreatePayment", p.createPayment)
	s.Handle("Order/Get", p.orderGet)
	s.Handle("Transaction/Get", p.transactionGet)
	s.Handle("Transaction/Capture", p.capture)
	s.Handle("Transaction/Validate", p.validate)
	s.Handle("Transaction/Update", p.update)
	s.Handle("Transaction/CancelOrRefund", p.cancelOrRefund)
}

// RegisterWallet registers the token and buyer-wallet web services
// (tokens.go, wallet.go).
func (s *Server) RegisterWallet(svc *wallet.Service) {
	t := &tokensAPI{svc: svc}
	s.Handle("Charge/CreateToken", t.createToken)
	s.Handle("Charge/CreateTokenFromTransaction", t.createTokenFromTransaction)
	s.Handle("Token/Get", t.tokenGet)
	s.Handle("Token/Cancel", t.tokenCancel)
	s.Handle("Token/Reactivate", t.tokenReactivate)
	s.Handle("Token/Update", t.tokenUpdateCard)
	s.Handle("Token/UpdateCustomerDetails", t.tokenUpdateCustomer)
	s.Handle("CustomerWallet/Get", t.walletGet)
	s.Handle("CustomerWallet/Update", t.walletUpdate)
}

// RegisterSubscriptions registers the subscription web services
// (subscriptions.go).
func (s *Server) RegisterSubscriptions(svc *subscription.Service) {
	a := &subscriptionsAPI{svc: svc}
	s.Handle("Charge/CreateSubscription", a.createSubscription)
	s.Handle("Subscription/Get", a.subscriptionGet)
	s.Handle("Subscription/Update", a.subscriptionUpdate)
	s.Handle("Subscription/Cancel", a.subscriptionCancel)
}
