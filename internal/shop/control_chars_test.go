package shop_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A shop's name goes into emails, SMS and the buyer's pages, on one line:
// Create and Update saved one with a line break, a tab or an escape (an SMS
// or an email subject cut in two, a terminal's colours in a log), where the
// Ogone settings were already refused with one. Every text setting is one
// line: each is refused with a control character, naming it, and nothing
// is saved.
func TestServiceRefusesControlCharacters(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		for _, c := range []struct {
			name string
			in   shop.CreateInput
		}{
			{"name", shop.CreateInput{Name: "Shop\nBCC: someone"}},
			{"name", shop.CreateInput{Name: "Shop\t"}},
			{"name", shop.CreateInput{Name: "\x1b[31mShop"}},
			{"name", shop.CreateInput{Name: "Shop\u0085"}},
			{"notification-url", shop.CreateInput{Name: "Shop", NotificationURL: "https://merchant.example/ipn\r\n"}},
			{"time-zone", shop.CreateInput{Name: "Shop", Settings: shop.Settings{TimeZone: "Europe/Paris\x00"}}},
		} {
			_, err := svc.Create(ctx, c.in)
			if err == nil || !strings.HasPrefix(err.Error(), c.name+" must be text without control characters") {
				t.Errorf("Create with a control character in %s: %v, want an error naming it", c.name, err)
			}
		}
		if list, err := svc.List(ctx); err != nil || len(list) != 0 {
			t.Fatalf("after refused creations: %d shops, %v", len(list), err)
		}

		created, err := svc.Create(ctx, shop.CreateInput{Name: "Café « Au coin »"})
		if err != nil {
			t.Fatal(err)
		}
		good := created.Shop
		for _, c := range []struct {
			name   string
			change func(*shop.Shop)
		}{
			{"name", func(s *shop.Shop) { s.Name = "Café\r\nAu coin" }},
			{"logo-url", func(s *shop.Shop) { s.LogoURL = "https://cdn.example/logo.png\x7f" }},
			{"token-deletion", func(s *shop.Shop) { s.Settings.TokenDeletion = "manual\n" }},
		} {
			s := good
			c.change(&s)
			err := svc.Update(ctx, s)
			if err == nil || !strings.HasPrefix(err.Error(), c.name+" must be text without control characters") {
				t.Errorf("Update with a control character in %s: %v, want an error naming it", c.name, err)
			}
		}
		got, err := svc.Get(ctx, good.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Café « Au coin »" || got.LogoURL != "" || got.Settings.TokenDeletion != "" {
			t.Fatalf("a refused update changed the shop: %+v", got)
		}
	})
}
