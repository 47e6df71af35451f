package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/demo"
	"github.com/openpsp/openpsp/internal/hosted"
	"github.com/openpsp/openpsp/internal/notify"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/ogone/ogonepay"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/subscription"
	"github.com/openpsp/openpsp/internal/vault"
	"github.com/openpsp/openpsp/internal/wallet"
)

// wire connects the capabilities that plug into the app: their web
// services, pages and jobs. Each capability adds its block here.
func (a *App) wire() error {
	// Card payments: the service, its web services behind Idempotency-Key,
	// the buyer's pages, and the jobs that capture, expire and recover.
	a.Payments = payment.New(a.DB, a.Clock, a.Acquirer, payment.CardVault(a.Vault),
		payment.Config{AcquirerTimeout: a.Config.AcquirerTimeout, Logger: a.Log})
	a.V4.RegisterPayments(a.Payments)
	// Subscriptions: recurring payments on a token, charged by a job that
	// claims each instalment once across every copy.
	a.Subscriptions = subscription.New(a.DB, a.Clock, a.Payments, a.Vault, subscription.Config{Logger: a.Log})
	a.V4.RegisterSubscriptions(a.Subscriptions)
	a.addJob("subscriptions.charge-due", time.Minute, func(ctx context.Context, stop <-chan struct{}) error {
		_, err := a.Subscriptions.ChargeDueUntil(ctx, stop, 200)
		return err
	})
	// Wallets: the buyer's saved cards, the token web services.
	a.Wallet = wallet.New(wallet.Options{DB: a.DB, Vault: a.Vault, Payments: a.Payments,
		Subscriptions: a.Subscriptions.ForWallet(), Clock: a.Clock, Logger: a.Log})
	a.V4.RegisterWallet(a.Wallet)

	pages := hosted.New(hosted.Options{
		Payments: hostedPayments{pay: a.Payments, shops: a.Shops, wallets: a.Wallet}, Keys: hostedKeys{shops: a.Shops},
		Wallet: hostedWallets{a.Wallet.Hosted()}, Authenticator: a.Authenticator, SealKey: a.Keys.DeriveKey("hosted/3ds-card-seal"), Clock: a.Clock, Log: a.Log,
	})
	a.pages = pages
	a.mount(pages.Register)
	a.addJob("payments.capture-due", 0, func(ctx context.Context, stop <-chan struct{}) error {
		_, err := a.Payments.CaptureAllDueUntil(ctx, stop, a.captureBatch)
		return err
	})
	a.addJob("payments.authorize-due", 0, func(ctx context.Context, _ <-chan struct{}) error {
		_, err := a.Payments.AuthorizeDue(ctx, 200)
		return err
	})
	a.addJob("payments.expire-unvalidated", time.Minute, func(ctx context.Context, _ <-chan struct{}) error {
		_, err := a.Payments.ExpireUnvalidated(ctx, 500)
		return err
	})
	a.addJob("payments.recover-running", 10*time.Second, func(ctx context.Context, stop <-chan struct{}) error {
		_, err := a.Payments.RecoverRunningUntil(ctx, stop, 0, 200)
		return err
	})
	// Failed API logins are forgotten an hour after the last one
	// (internal/obs): their rows go with them.
	a.addJob("logins.forget", 10*time.Minute, func(ctx context.Context, stop <-chan struct{}) error {
		_, err := a.logins.ForgetUntil(ctx, stop)
		return err
	})
	a.addJob("v4.idempotency-expiry", 10*time.Minute, func(ctx context.Context, _ <-chan struct{}) error {
		_, err := a.idem.PurgeIdempotencyKeys(ctx, 5000)
		return err
	})

	// Ogone: FlexCheckout hosted tokenization and DirectLink, over the same
	// vault and the same payments as the V4 API.
	ogonePayments := ogonepay.New(a.Payments, a.Shops)
	// Ingenico's post-sale request: queued with the change it reports.
	ogonePayments.SendPostSales(a.DB)
	flex := ogone.New(ogone.Options{Accounts: a.Shops, Vault: a.Vault, Store: a.DB, BankAccounts: ogone.NewVaultAccounts(a.Vault),
		Payments: ogonePayments, Clock: a.Clock, Log: a.Log, FailedLogins: a.logins,
		// A database that cannot be reached: the pages' temporarily-
		// unavailable page, framed as FlexCheckout's pages are.
		Unavailable: func(w http.ResponseWriter, r *http.Request, locale string, err error) bool {
			if !store.IsUnavailable(err) {
				return false
			}
			pages.Unavailable(w, r, true, locale)
			return true
		}})
	a.ogone = flex
	a.mount(flex.Register)
	a.addJob("ogone.cleanup", time.Hour, func(ctx context.Context, stop <-chan struct{}) error { return flex.CleanupUntil(ctx, stop) })

	// Notifications: one dispatcher delivers IPNs, webhooks, emails and SMS
	// from the outbox; every copy may run one (claims are leased).
	channels, err := notify.Wiring{SMTPURL: a.Config.SMTPURL, MailFrom: a.Config.MailFrom, SMSURL: a.Config.SMSURL,
		SMSFormat: a.Config.SMSFormat, SMSToken: a.Config.SMSToken, Demo: a.Config.Demo}.Deliverers(a.DB, a.Clock, a.Log)
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	// In production a merchant's URL must not reach the operator's network.
	httpOpts := outbox.HTTPOptions{BlockPrivateNetworks: a.Config.Env == config.EnvProduction}
	channels[outbox.ChannelIPN] = outbox.NewIPNDeliverer(ipnKeys{shops: a.Shops}, httpOpts)
	channels[outbox.ChannelWebhook] = outbox.NewWebhookDeliverer(a.Shops, a.Clock, httpOpts)
	channels[ogone.ChannelPostSale] = ogone.NewPostSaleDeliverer(a.Shops, httpOpts)
	host, _ := os.Hostname()
	a.Dispatcher = outbox.NewDispatcher(a.DB, channels, outbox.Options{InstanceID: fmt.Sprintf("%s-%d", host, os.Getpid()),
		Clock: a.Clock, Logger: a.Log, PollInterval: min(a.jobInterval, 500*time.Millisecond), Observe: a.Metrics.ObserveDelivery})
	a.addDaemon("outbox.dispatcher", a.Dispatcher.RunUntil)
	a.Payments.HandMessagesTo(a.Dispatcher)
	a.Metrics.RegisterOutbox(func() (int64, int64) {
		st := a.Dispatcher.Stats()
		return st.Claimed, st.Handed
	})

	// The vault's retention rules: temporary tokens (Ogone STOREPERMANENTLY=N)
	// lose their card data when their time to live ends; every token unused
	// for 15 months loses it too (PCI DSS).
	a.addJob("vault.expire-temporary", 0, func(ctx context.Context, stop <-chan struct{}) error {
		_, err := a.Vault.ExpireTemporary(ctx, vault.PurgeOptions{Stop: stop})
		return err
	})
	// A copy learns of a master key another copy's `openpsp keys rotate`
	// added, so it stops creating data keys under the old one.
	a.addJob("vault.keyring-reload", 10*time.Second, func(context.Context, <-chan struct{}) error {
		_, err := a.Keys.ReloadIfChanged()
		return err
	})
	a.addJob("vault.retention", time.Hour, func(ctx context.Context, stop <-chan struct{}) error {
		_, err := a.Vault.PurgeRetention(ctx, vault.PurgeOptions{Stop: stop})
		return err
	})
	// Notifications that ended (delivered, or dead after their retries)
	// are deleted with their delivery log after
	// OPENPSP_NOTIFICATION_RETENTION_MONTHS: their payloads hold buyers'
	// email addresses, names and phone numbers. The demo merchant's copies
	// of the IPNs it received go with them.
	a.addJob("outbox.retention", time.Hour, func(ctx context.Context, stop <-chan struct{}) error {
		_, err := a.PurgeNotifications(ctx, a.Config.NotificationRetentionMonths, outbox.PurgeOptions{Stop: stop})
		return err
	})

	if a.Config.Demo {
		d := demo.New(demo.Options{BaseURL: a.PublicURL, IPNs: a.DB, Shops: a.DB, Logger: a.Log, Now: a.Clock.Now,
			Links: []demo.Link{{Label: "Mailbox", Path: "/demo/mail"}}, ErrorPage: pages.MessagePage,
			Language: hosted.PageLanguage})
		a.mount(d.Register)
		mail := notify.Wiring{Demo: true}.DemoPage(a.DB, a.Log, "/demo")
		a.mount(func(mux *http.ServeMux) {
			mux.Handle("/demo/mail", mail)
			mux.Handle("/demo/mail/", mail)
		})
	}
	return nil
}

// mount registers a capability's routes on the app's mux.
func (a *App) mount(register func(*http.ServeMux)) {
	a.mounts = append(a.mounts, register)
}
