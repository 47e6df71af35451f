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
			err := svc.UpdateOgone(ctx, id, set, "", "", "", "")
			if err == nil || !strings.HasPrefix(err.Error(), "ogone setting "+c.name+" must be") {
				t.Errorf("UpdateOgone with a bad %s: %v, want an error naming it", c.name, err)
			}
			_, err = svc.Create(ctx, shop.CreateInput{Name: "Other", OgoneSettings: set})
			if err == nil || !strings.HasPrefix(err.Error(), "ogone setting "+c.name+" must be") {
				t.Errorf("Create with a bad %s: %v, want an error naming it", c.name, err)
			}
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
