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
//
// The SHA-IN and SHA-OUT passphrases were saved as given: a line break, a
// tab, Latin-1 bytes, an "é" (hashed as one byte in ISO-8859-1 by
// DirectLink and post-sale requests, as two in UTF-8 by FlexCheckout: no
// merchant could match both), a space at either end (a paste slip). Only
// printable ASCII, no space at either end, is taken; the refusal never
// shows the passphrase.
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
		// What UpdateOgone and Create take of a PSPID.
		type account struct {
			settings      shop.OgoneSettings
			shaIn, shaOut string
		}
		const shaIn, shaOut = "ogone SHA-IN passphrase must be printable ASCII", "ogone SHA-OUT passphrase must be printable ASCII"
		for _, c := range []struct {
			want   string
			change func(*account)
		}{
			{"ogone setting frame-ancestors" + notUTF8, func(a *account) { a.settings.FrameAncestors = []string{"https://caf\xe9.example"} }},
			{"ogone setting frame-ancestors" + hasControl, func(a *account) { a.settings.FrameAncestors = []string{"https://a.example\r\nX-Evil: 1"} }},
			{"ogone setting return-fields" + notUTF8, func(a *account) { a.settings.ReturnFields = []string{"ALIAS.\xffALIASID"} }},
			{"ogone setting mode" + hasControl, func(a *account) { a.settings.Mode = "TEST\x00" }},
			{"ogone setting default-eci" + hasControl, func(a *account) { a.settings.DefaultECI = "\x1b[2J7" }},
			{"ogone setting default-operation" + hasControl, func(a *account) { a.settings.DefaultOperation = "SAL\u0085" }},
			{"ogone setting charset" + hasControl, func(a *account) { a.settings.Charset = "UTF-8\x7f" }},
			{"ogone setting postsale-url" + notUTF8, func(a *account) { a.settings.PostSaleURL = "https://shop.example/\xe9" }},
			{"ogone setting postsale-method" + hasControl, func(a *account) { a.settings.PostSaleMethod = "PO\tST" }},
			{shaIn, func(a *account) { a.shaIn = "Mysecretsig1875!?\n" }},
			{shaIn, func(a *account) { a.shaIn = "Mysecret\tsig1875" }},
			{shaIn, func(a *account) { a.shaIn = latin1Cafe + "-passphrase" }},
			{shaIn, func(a *account) { a.shaIn = "Mot-de-passe-très-secret" }},
			{shaIn, func(a *account) { a.shaIn = "Mysecretsig1875\u00a0" }},
			{shaIn, func(a *account) { a.shaIn = " Mysecretsig1875!?" }},
			{shaOut, func(a *account) { a.shaOut = "\x1b[31mMysecretsig1875" }},
			{shaOut, func(a *account) { a.shaOut = "Mysecretsig1875!?\x7f" }},
			{shaOut, func(a *account) { a.shaOut = "Mysecretsig1875!? " }},
			{shaOut, func(a *account) { a.shaOut = "€uro-passphrase-1875" }},
		} {
			a := account{settings: good}
			c.change(&a)
			err := svc.UpdateOgone(ctx, id, a.settings, a.shaIn, a.shaOut, "", "")
			wantRefusal(t, "UpdateOgone", err, c.want)
			_, err2 := svc.Create(ctx, shop.CreateInput{Name: "Other", OgoneSettings: a.settings, SHAIn: a.shaIn, SHAOut: a.shaOut})
			wantRefusal(t, "Create", err2, c.want)
			for _, secret := range []string{a.shaIn, a.shaOut} {
				if secret != "" && ((err != nil && strings.Contains(err.Error(), secret)) || (err2 != nil && strings.Contains(err2.Error(), secret))) {
					t.Errorf("the refusal shows the passphrase: %v / %v", err, err2)
				}
			}
		}
		og, err := svc.OgoneForShop(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(og.Settings, good) || og.SHAIn != created.SHAIn || og.SHAOut != created.SHAOut {
			t.Fatalf("a refused update changed the account: %+v, want %+v and the passphrases made by Create", og.Settings, good)
		}
		if list, err := svc.List(ctx); err != nil || len(list) != 1 {
			t.Fatalf("after refused creations: %d shops, %v", len(list), err)
		}
		// UTF-8 beyond ASCII is fine where the setting allows it (an
		// internationalised host). Any printable ASCII is a passphrase,
		// spaces inside included: the demo's, Ingenico's documented
		// example, and every punctuation mark.
		good.PostSaleURL = "https://café.example/postsale"
		if err := svc.UpdateOgone(ctx, id, good, shop.DemoSHAPassphrase, "a b ~!@#$%^&*()_+`-={}|[]\\:\";'<>?,./", "", ""); err != nil {
			t.Fatalf("UpdateOgone with a UTF-8 URL and printable ASCII passphrases: %v", err)
		}
		if _, err := svc.Create(ctx, shop.CreateInput{Name: "Third", SHAIn: "0123456789abcdefXYZ", SHAOut: shop.DemoSHAPassphrase}); err != nil {
			t.Fatalf("Create with printable ASCII passphrases: %v", err)
		}
	})
}
