package shop_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// The commands refuse non-UTF-8 arguments, but the service is what a back
// office would call: a name or setting that is not UTF-8 made PostgreSQL
// answer with its driver's error (SQLSTATE 22021) and SQLite store the
// bytes. Create and Update refuse it themselves, naming the field, and
// save nothing.
func TestServiceRefusesTextThatIsNotUTF8(t *testing.T) {
	const bad = "Caf\xe9" // Latin-1, as a terminal not in UTF-8 would send it
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		for _, c := range []struct {
			name string
			in   shop.CreateInput
		}{
			{"name", shop.CreateInput{Name: bad}},
			{"email", shop.CreateInput{Name: "Shop", PrimaryEmail: "caf\xe9@example.com"}},
			{"notification-url", shop.CreateInput{Name: "Shop", NotificationURL: "https://merchant.example/\xff"}},
			{"return-origins", shop.CreateInput{Name: "Shop", Settings: shop.Settings{ReturnOrigins: []string{"https://caf\xe9.example"}}}},
			{"time-zone", shop.CreateInput{Name: "Shop", Settings: shop.Settings{TimeZone: "Europe/\xff"}}},
		} {
			_, err := svc.Create(ctx, c.in)
			if err == nil || !strings.HasPrefix(err.Error(), c.name+" must be UTF-8") {
				t.Errorf("Create with a non-UTF-8 %s: %v, want an error naming it", c.name, err)
			}
		}
		if list, err := svc.List(ctx); err != nil || len(list) != 0 {
			t.Fatalf("after refused creations: %d shops, %v", len(list), err)
		}

		created, err := svc.Create(ctx, shop.CreateInput{Name: "Café", NotificationURL: "https://merchant.example/ipn"})
		if err != nil {
			t.Fatal(err)
		}
		good := created.Shop
		for _, c := range []struct {
			name   string
			change func(*shop.Shop)
		}{
			{"name", func(s *shop.Shop) { s.Name = bad }},
			{"logo-url", func(s *shop.Shop) { s.LogoURL = "https://cdn.example/\xfflogo.png" }},
			{"notification-url", func(s *shop.Shop) { s.NotificationURL = "https://merchant.example/\xff" }},
			{"merchant-email", func(s *shop.Shop) { s.Settings.Notifications.MerchantEmail = "caf\xe9@example.com" }},
			{"token-deletion", func(s *shop.Shop) { s.Settings.TokenDeletion = "MANU\xc1L" }},
		} {
			s := good
			c.change(&s)
			err := svc.Update(ctx, s)
			if err == nil || !strings.HasPrefix(err.Error(), c.name+" must be UTF-8") {
				t.Errorf("Update with a non-UTF-8 %s: %v, want an error naming it", c.name, err)
			}
		}
		got, err := svc.Get(ctx, good.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Café" || got.NotificationURL != "https://merchant.example/ipn" || got.LogoURL != "" ||
			got.Settings.Notifications.MerchantEmail != "" || got.Settings.TokenDeletion != "" {
			t.Fatalf("a refused update changed the shop: %+v", got)
		}
		if err := shop.CheckSettings(shop.Shop{LogoURL: "/brand/\xff.png"}, false, "logo-url"); err == nil ||
			!strings.HasPrefix(err.Error(), "logo-url must be UTF-8") {
			t.Fatalf("CheckSettings of a non-UTF-8 logo path: %v", err)
		}
	})
}
