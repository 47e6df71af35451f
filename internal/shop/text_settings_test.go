package shop_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// The beginnings of checkText's two refusals, after the setting's name.
const (
	notUTF8    = " must be UTF-8"
	hasControl = " must be text without control characters"
)

// latin1Cafe is "Café" in Latin-1, as a terminal not in UTF-8 would send it.
const latin1Cafe = "Caf\xe9"

// wantRefusal fails t unless err refuses what call did with a message
// starting with want, which names the setting.
func wantRefusal(t *testing.T, call string, err error, want string) {
	t.Helper()
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("%s: %v, want an error starting %q", call, err, want)
	}
}

// The commands refuse non-UTF-8 arguments, but the service is what a back
// office would call: a name or setting that is not UTF-8 made PostgreSQL
// answer with its driver's error (SQLSTATE 22021) and SQLite store the
// bytes. And a shop's name goes into emails, SMS and the buyer's pages, on
// one line: Create and Update saved one with a line break, a tab or an
// escape (an SMS or an email subject cut in two, a terminal's colours in a
// log). Every text setting is UTF-8 on one line: Create and Update refuse
// the rest themselves, naming the setting, and save nothing.
func TestServiceRefusesTextThatIsNotOneLineOfUTF8(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		for _, c := range []struct {
			want string // the setting's name, then notUTF8 or hasControl
			in   shop.CreateInput
		}{
			{"name" + notUTF8, shop.CreateInput{Name: latin1Cafe}},
			{"email" + notUTF8, shop.CreateInput{Name: "Shop", PrimaryEmail: "caf\xe9@example.com"}},
			{"notification-url" + notUTF8, shop.CreateInput{Name: "Shop", NotificationURL: "https://merchant.example/\xff"}},
			{"return-origins" + notUTF8, shop.CreateInput{Name: "Shop", Settings: shop.Settings{ReturnOrigins: []string{"https://caf\xe9.example"}}}},
			{"time-zone" + notUTF8, shop.CreateInput{Name: "Shop", Settings: shop.Settings{TimeZone: "Europe/\xff"}}},
			{"name" + hasControl, shop.CreateInput{Name: "Shop\nBCC: someone"}},
			{"name" + hasControl, shop.CreateInput{Name: "Shop\t"}},
			{"name" + hasControl, shop.CreateInput{Name: "\x1b[31mShop"}},
			{"name" + hasControl, shop.CreateInput{Name: "Shop\u0085"}},
			{"notification-url" + hasControl, shop.CreateInput{Name: "Shop", NotificationURL: "https://merchant.example/ipn\r\n"}},
			{"time-zone" + hasControl, shop.CreateInput{Name: "Shop", Settings: shop.Settings{TimeZone: "Europe/Paris\x00"}}},
		} {
			_, err := svc.Create(ctx, c.in)
			wantRefusal(t, "Create", err, c.want)
		}
		if list, err := svc.List(ctx); err != nil || len(list) != 0 {
			t.Fatalf("after refused creations: %d shops, %v", len(list), err)
		}

		// UTF-8 beyond ASCII is text like any other.
		created, err := svc.Create(ctx, shop.CreateInput{Name: "Café « Au coin »", NotificationURL: "https://merchant.example/ipn"})
		if err != nil {
			t.Fatal(err)
		}
		good, err := svc.Get(ctx, created.Shop.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			want   string
			change func(*shop.Shop)
		}{
			{"name" + notUTF8, func(s *shop.Shop) { s.Name = latin1Cafe }},
			{"logo-url" + notUTF8, func(s *shop.Shop) { s.LogoURL = "https://cdn.example/\xfflogo.png" }},
			{"notification-url" + notUTF8, func(s *shop.Shop) { s.NotificationURL = "https://merchant.example/\xff" }},
			{"merchant-email" + notUTF8, func(s *shop.Shop) { s.Settings.Notifications.MerchantEmail = "caf\xe9@example.com" }},
			{"token-deletion" + notUTF8, func(s *shop.Shop) { s.Settings.TokenDeletion = "MANU\xc1L" }},
			{"name" + hasControl, func(s *shop.Shop) { s.Name = "Café\r\nAu coin" }},
			{"logo-url" + hasControl, func(s *shop.Shop) { s.LogoURL = "https://cdn.example/logo.png\x7f" }},
			{"token-deletion" + hasControl, func(s *shop.Shop) { s.Settings.TokenDeletion = "manual\n" }},
		} {
			s := good
			c.change(&s)
			wantRefusal(t, "Update", svc.Update(ctx, s), c.want)
		}
		got, err := svc.Get(ctx, good.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, good) {
			t.Fatalf("a refused update changed the shop: %+v, want %+v", got, good)
		}
		wantRefusal(t, "CheckSettings of a non-UTF-8 logo path",
			shop.CheckSettings(shop.Shop{LogoURL: "/brand/\xff.png"}, false, "logo-url"), "logo-url"+notUTF8)
	})
}

// `openpsp ogone settings set` refuses non-UTF-8 arguments, but the
// service is what every writer calls (the back office later, a seed, a
// test): UpdateOgone saved any bytes and control characters in a PSPID's
// settings, which then reach a Content-Security-Policy header (frame
// ancestors) or a post-sale request. It refuses them itself, naming the
// setting as `ogone settings set` calls it, and saves nothing; Create too.
func TestOgoneSettingsRefuseTextThatIsNotUTF8OrHasControlCharacters(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newService(t, db)
		good := shop.OgoneSettings{FrameAncestors: []string{"https://shop.example"}, Mode: shop.ModeTest,
			PostSaleURL: "https://shop.example/postsale", ReturnFields: []string{"ALIAS.ALIASID"}}
		created, err := svc.Create(ctx, shop.CreateInput{Name: "Shop", OgoneSettings: good})
		if err != nil {
			t.Fatal(err)
		}
		id := created.Shop.ID
		for _, c := range []struct {
			name   string
			change func(*shop.OgoneSettings)
		}{
			{"frame-ancestors", func(s *shop.OgoneSettings) { s.FrameAncestors = []string{"https://caf\xe9.example"} }},
			{"frame-ancestors", func(s *shop.OgoneSettings) { s.FrameAncestors = []string{"https://a.example\r\nX-Evil: 1"} }},
			{"return-fields", func(s *shop.OgoneSettings) { s.ReturnFields = []string{"ALIAS.\xffALIASID"} }},
			{"mode", func(s *shop.OgoneSettings) { s.Mode = "TEST\x00" }},
			{"default-eci", func(s *shop.OgoneSettings) { s.DefaultECI = "\x1b[2J7" }},
			{"default-operation", func(s *shop.OgoneSettings) { s.DefaultOperation = "SAL\u0085" }},
			{"charset", func(s *shop.OgoneSettings) { s.Charset = "UTF-8\x7f" }},
			{"postsale-url", func(s *shop.OgoneSettings) { s.PostSaleURL = "https://shop.example/\xe9" }},
			{"postsale-method", func(s *shop.OgoneSettings) { s.PostSaleMethod = "PO\tST" }},
		} {
			set := good
			c.change(&set)
			want := "ogone setting " + c.name + " must be"
			wantRefusal(t, "UpdateOgone", svc.UpdateOgone(ctx, id, set, "", "", "", ""), want)
			_, err = svc.Create(ctx, shop.CreateInput{Name: "Other", OgoneSettings: set})
			wantRefusal(t, "Create", err, want)
		}
		og, err := svc.OgoneForShop(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(og.Settings, good) {
			t.Fatalf("a refused update changed the settings: %+v, want %+v", og.Settings, good)
		}
		if list, err := svc.List(ctx); err != nil || len(list) != 1 {
			t.Fatalf("after refused creations: %d shops, %v", len(list), err)
		}
		// UTF-8 beyond ASCII is fine where the setting allows it (an
		// internationalised host).
		good.PostSaleURL = "https://café.example/postsale"
		if err := svc.UpdateOgone(ctx, id, good, "", "", "", ""); err != nil {
			t.Fatalf("UpdateOgone with a UTF-8 URL: %v", err)
		}
	})
}
