package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// showShop writes `openpsp shops show`: one aligned line per profile field
// and setting, named as `shops set` takes them, defaults applied; then the
// API keys, the secrets masked (`shops keys` shows them in clear), and the
// shop's Ogone PSPID with its settings.
func showShop(ctx context.Context, a *app.App, out io.Writer, s shop.Shop) error {
	set := s.Settings.Effective()
	n := set.Notifications
	or := func(v, none string) string {
		if v == "" {
			return none
		}
		return v
	}
	b := strconv.FormatBool
	lines := [][2]string{
		{"shop id", s.ID},
		{"name", s.Name},
		{"currency", s.Currency},
		{"language", s.Language},
		{"email", or(s.PrimaryEmail, "(none)")},
		{"phone", or(s.PrimaryPhone, "(none)")},
		{"notification-url", or(s.NotificationURL, "(none)")},
		{"logo-url", or(s.LogoURL, "(none)")},
		{"primary-color", or(set.PrimaryColor, "(default)")},
		{"return-origins", or(strings.Join(set.ReturnOrigins, ","), "(any)")},
		{"payment-by-token", b(set.PaymentByToken)},
		{"token-deletion", strings.ToLower(set.TokenDeletion)},
		{"order-confirmation-emails", b(set.OrderConfirmationEmails)},
		{"allow-duplicate-paid-order", b(set.AllowDuplicatePaidOrder)},
		{"max-attempts", strconv.Itoa(set.MaxAttempts)},
		{"authorization-validity-days", strconv.Itoa(set.AuthorizationValidityDays)},
		{"ipn-on-batch-change", b(set.IPNOnBatchChange)},
		{"ipn-on-batch-authorization", b(set.IPNOnBatchAuthorization)},
		{"merchant-payment-notice", b(n.MerchantPaymentNotice)},
		{"token-url", b(n.TokenURL)},
		{"token-email-buyer", b(n.TokenEmailBuyer)},
		{"token-email-merchant", b(n.TokenEmailMerchant)},
		{"token-sms-merchant", b(n.TokenSMSMerchant)},
		{"token-sms-buyer", b(n.TokenSMSBuyer)},
		{"merchant-email", or(n.MerchantEmail, "(the email above)")},
		{"merchant-phone", or(n.MerchantPhone, "(the phone above)")},
		{"time-zone", or(set.TimeZone, "UTC (default)")},
	}
	for _, mode := range []string{shop.ModeTest, shop.ModeProduction} {
		m := strings.ToLower(mode)
		c, err := a.Shops.Credentials(ctx, s.ID, mode)
		switch {
		case errors.Is(err, store.ErrNotFound):
			lines = append(lines, [2]string{m + " keys", "(none)"})
			continue
		case err != nil:
			lines = append(lines, [2]string{m + " keys", "cannot be read: " + err.Error()})
			continue
		}
		lines = append(lines,
			[2]string{m + " password", maskSecret(c.Password)},
			[2]string{m + " public key", c.PublicKey},
			[2]string{m + " HMAC-SHA-256 key", maskSecret(c.HMACKey)})
	}
	og, err := a.Shops.OgoneForShop(ctx, s.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		lines = append(lines, [2]string{"ogone-pspid", "(none)"})
	case err != nil:
		lines = append(lines, [2]string{"ogone-pspid", "cannot be read: " + err.Error()})
	default:
		lines = append(lines,
			[2]string{"ogone-pspid", og.PSPID},
			[2]string{"ogone-sha-algorithm", og.SHAAlgorithm},
			[2]string{"ogone-sha-in", maskSecret(og.SHAIn)},
			[2]string{"ogone-sha-out", maskSecret(og.SHAOut)},
			[2]string{"ogone-api-user", og.APIUser})
		for _, f := range ogone.SettingsFields(og.Settings) {
			lines = append(lines, [2]string{"ogone-" + f[0], f[1]})
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%s\n", l[0], printable(l[1]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "\nSecrets are masked: `openpsp shops keys %s -mode TEST|PRODUCTION` shows a key set in clear.\n", s.ID)
	return err
}

// maskSecret shows which secret is stored without showing it: its kind
// prefix (testpassword_, prodpassword_) and, when it is long enough (a
// generated key, not a chosen passphrase) for them to say little, its last
// 4 characters.
func maskSecret(s string) string {
	if s == "" {
		return "(none)"
	}
	prefix, rest := "", s
	if i := strings.LastIndexByte(s, '_'); i >= 0 {
		prefix, rest = s[:i+1], s[i+1:]
	}
	if len(rest) < 24 {
		return prefix + "… (hidden)"
	}
	return prefix + "…" + rest[len(rest)-4:]
}

// printable quotes a value holding a tab, a line break or another control
// character, which would break the listing's alignment.
func printable(v string) string {
	if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strconv.Quote(v)
	}
	return v
}
