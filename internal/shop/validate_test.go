package shop_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// Only the CLI checked a shop's emails, phones and URLs: any other writer
// of settings (back office, demo seeding, tests) went through Create and
// Update, which saved any text. They refuse it now, naming the setting as
// `openpsp shops set` does, and save nothing.
func TestServiceRefusesInvalidContacts(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		for _, c := range []struct {
			name string
			in   shop.CreateInput
		}{
			{"email", shop.CreateInput{PrimaryEmail: "notanemail"}},
			{"notification-url", shop.CreateInput{NotificationURL: "ftp://x"}},
			{"notification-url", shop.CreateInput{NotificationURL: "merchant.example/ipn"}},
			{"merchant-email", shop.CreateInput{Settings: shop.Settings{Notifications: shop.NotificationSettings{MerchantEmail: "Jane <jane@example.com>"}}}},
			{"merchant-phone", shop.CreateInput{Settings: shop.Settings{Notifications: shop.NotificationSettings{MerchantPhone: "+33 6"}}}},
		} {
			c.in.Name = "Bad"
			if _, err := svc.Create(ctx, c.in); err == nil || !strings.HasPrefix(err.Error(), c.name+" must") {
				t.Errorf("Create with a bad %s: %v, want an error naming it", c.name, err)
			}
		}
		if list, err := svc.List(ctx); err != nil || len(list) != 0 {
			t.Fatalf("after refused creations: %d shops, %v", len(list), err)
		}

		created, err := svc.Create(ctx, shop.CreateInput{Name: "Good", PrimaryEmail: "ops@example.com",
			NotificationURL: "https://merchant.example/ipn"})
		if err != nil {
			t.Fatal(err)
		}
		good := created.Shop
		for _, c := range []struct {
			name   string
			change func(*shop.Shop)
		}{
			{"email", func(s *shop.Shop) { s.PrimaryEmail = "notanemail" }},
			{"phone", func(s *shop.Shop) { s.PrimaryPhone = "0612345678" }},
			{"notification-url", func(s *shop.Shop) { s.NotificationURL = "javascript:alert(1)" }},
			{"notification-url", func(s *shop.Shop) { s.NotificationURL = "https://merchant.example/" + strings.Repeat("a", 2048) }},
			{"logo-url", func(s *shop.Shop) { s.LogoURL = "javascript:alert(1)" }},
			{"merchant-email", func(s *shop.Shop) { s.Settings.Notifications.MerchantEmail = "a@b@c" }},
			{"merchant-phone", func(s *shop.Shop) { s.Settings.Notifications.MerchantPhone = "+0123456789" }},
		} {
			s := good
			s.Name = "Changed"
			c.change(&s)
			if err := svc.Update(ctx, s); err == nil || !strings.HasPrefix(err.Error(), c.name+" must") {
				t.Errorf("Update with a bad %s: %v, want an error naming it", c.name, err)
			}
		}
		if s, err := svc.Get(ctx, good.ID); err != nil || s.Name != "Good" || s.LogoURL != "" {
			t.Fatalf("a refused update was saved: %+v, %v", s, err)
		}
		good.PrimaryPhone, good.LogoURL = "+33612345678", "https://cdn.example/logo.png"
		good.Settings.Notifications.MerchantEmail = "orders@example.com"
		if err := svc.Update(ctx, good); err != nil {
			t.Fatalf("valid settings refused: %v", err)
		}
	})
}

// The logo becomes the hosted page's <img src> and the emails' logo: http(s)
// only (no javascript:, data:), with a host, no credentials, at most 2048
// characters; https in production except on loopback (a merchant developing
// on their machine). A path on OpenPSP ("/static/…") is allowed.
func TestServiceValidatesLogoURL(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		created, err := svc.Create(ctx, shop.CreateInput{Name: "Logo"})
		if err != nil {
			t.Fatal(err)
		}
		long := "https://cdn.example/" + strings.Repeat("a", 2048) + ".png"
		for _, c := range []struct {
			v          string
			production bool
			ok         bool
		}{
			{"https://cdn.example/logo.png", true, true},
			{"/static/logo.png", true, true},
			{"", true, true},
			{"http://localhost:8000/logo.png", true, true},
			{"http://127.0.0.1/logo.png", true, true},
			{"http://[::1]/logo.png", true, true},
			{"http://cdn.example/logo.png", false, true},
			{"http://cdn.example/logo.png", true, false},
			{"javascript:alert(1)", false, false},
			{"JavaScript:alert(1)", false, false},
			{"data:image/svg+xml,<svg onload=alert(1)>", false, false},
			{"ftp://cdn.example/logo.png", false, false},
			{"cdn.example/logo.png", false, false},
			{"//cdn.example/logo.png", false, false},
			{"https://user:secret@cdn.example/logo.png", false, false},
			{"https:///logo.png", false, false},
			{"https://cdn.example/logo.png\" onerror=\"alert(1)", false, false},
			{long, false, false},
		} {
			svc.SetProduction(c.production)
			s := created.Shop
			s.LogoURL = c.v
			err := svc.Update(ctx, s)
			if (err == nil) != c.ok {
				t.Errorf("logo-url=%.60q production=%v: %v, want ok=%v", c.v, c.production, err, c.ok)
			}
			// The http:// logo saved outside production is the stored one
			// when production refuses it: that error tells it as stored.
			if err != nil && !strings.Contains(err.Error(), "logo-url must") {
				t.Errorf("logo-url=%.60q: the error does not name the setting: %v", c.v, err)
			}
		}
	})
}

// A currency that is no ISO 4217 code, or a colour that is not one, was
// saved: the shop's default currency was then no currency, and the
// payment pages and emails dropped the colour without a word
// (`openpsp shops set ID primary-color=red` said "updated"). Both are
// refused, naming the setting, and nothing is saved.
func TestServiceRefusesUnusableCurrencyAndColour(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		for _, cur := range []string{"ZZZ", "eur", "EURO"} {
			if _, err := svc.Create(ctx, shop.CreateInput{Name: "Bad", Currency: cur}); err == nil || !strings.HasPrefix(err.Error(), "currency must") {
				t.Errorf("Create with currency %q: %v, want an error naming it", cur, err)
			}
		}
		if list, err := svc.List(ctx); err != nil || len(list) != 0 {
			t.Fatalf("after refused creations: %d shops, %v", len(list), err)
		}
		created, err := svc.Create(ctx, shop.CreateInput{Name: "Good", Currency: "JPY"})
		if err != nil {
			t.Fatal(err)
		}
		good := created.Shop
		for _, c := range []struct {
			name   string
			change func(*shop.Shop)
		}{
			{"currency", func(s *shop.Shop) { s.Currency = "XYZ" }},
			{"primary-color", func(s *shop.Shop) { s.Settings.PrimaryColor = "red" }},
			{"primary-color", func(s *shop.Shop) { s.Settings.PrimaryColor = "#12345" }},
			{"primary-color", func(s *shop.Shop) { s.Settings.PrimaryColor = "#0b5a3c;background:url(x)" }},
			{"return-origins", func(s *shop.Shop) { s.Settings.ReturnOrigins = []string{"https://shop.example/return"} }},
			{"return-origins", func(s *shop.Shop) { s.Settings.ReturnOrigins = []string{"https://shop.example", "http://shop.example"} }},
		} {
			s := good
			c.change(&s)
			if err := svc.Update(ctx, s); err == nil || !strings.HasPrefix(err.Error(), c.name+" must") {
				t.Errorf("Update with a bad %s: %v, want an error naming it", c.name, err)
			}
		}
		if s, err := svc.Get(ctx, good.ID); err != nil || s.Currency != "JPY" || s.Settings.PrimaryColor != "" || s.Settings.ReturnOrigins != nil {
			t.Fatalf("a refused update was saved: %+v, %v", s, err)
		}
		for _, color := range []string{"#0B5A3C", "#0b5", ""} {
			good.Settings.PrimaryColor, good.Currency = color, "EUR"
			if err := svc.Update(ctx, good); err != nil {
				t.Fatalf("primary-color %q refused: %v", color, err)
			}
		}
	})
}
