package ogone_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
)

// `openpsp ogone errors 69876357 -limit x` answered the whole usage text and
// nothing about what was wrong: a bad flag value, an unknown flag or a stray
// word must be named before the usage.
func TestAdminCLINamesTheWrongInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"errors", shop.DemoShopID, "-limit", "x"}, `invalid value "x" for flag -limit`},
		{[]string{"errors", shop.DemoShopID, "extra"}, `unexpected arguments ["extra"]`},
		{[]string{"settings", "set", shop.DemoShopID, "-frame-ancestor", "none"}, "flag provided but not defined: -frame-ancestor"},
		{[]string{"settings", "set", shop.DemoShopID, "none"}, `unexpected arguments ["none"]`},
	} {
		err := e.admin.RunCLI(ctx, c.args, strings.NewReader(""), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "openpsp ogone errors [SHOPID]") {
			t.Errorf("%v: want %q and the usage, got %v", c.args, c.want, err)
		}
	}
}
