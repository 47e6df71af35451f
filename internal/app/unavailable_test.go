package app

import (
	"context"
	"database/sql"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// PostgreSQL stops taking connections under a running copy (its
// connections cut, new ones refused): the buyer who opened a payment page
// read the technical-error page (HTTP 500, "A technical error occurred.
// Your card was not charged. Please try again."), and FlexCheckout's
// generic error page. Both now read that the service is temporarily
// unavailable, in their language, HTTP 503 with Retry-After.
func TestDatabaseUnavailableBuyerPagesSayTemporarilyUnavailable(t *testing.T) {
	dbURL := storetest.NewPostgresDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	a := newerSchemaApp(t, t.TempDir(), dbURL, clock.NewFake(time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)), io.Discard)
	base := a.URL()
	ctx := context.Background()
	sh, creds, err := a.Shops.Authenticate(ctx, shop.DemoShopID, shop.DemoTestPassword)
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := a.Payments.CreatePayment(ctx, sh, creds, payment.CreateInput{Amount: 990, Currency: "EUR", OrderID: "DOWN"})
	if err != nil {
		t.Fatal(err)
	}

	admin, err := sql.Open("pgx", storetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true"); err != nil {
			t.Error(err)
		}
	}()
	if _, err := admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
		t.Fatal(err)
	}

	get := func(path, lang string) (*http.Response, string) {
		t.Helper()
		r, _ := http.NewRequest(http.MethodGet, base+path, nil)
		r.Header.Set("Accept-Language", lang)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, html.UnescapeString(string(b))
	}
	for _, c := range []struct{ what, path, lang, want string }{
		{"payment page", "/pay/" + token, "de-DE", "Dieser Zahlungsdienst ist vorübergehend nicht verfügbar. Bitte versuchen Sie es in einigen Minuten erneut."},
		{"FlexCheckout", "/Tokenization/HostedPage?ACCOUNT.PSPID=" + shop.DemoPSPID + "&LAYOUT.LANGUAGE=es_ES", "en",
			"Este servicio de pago no está disponible temporalmente. Inténtelo de nuevo dentro de unos minutos."},
	} {
		resp, body := get(c.path, c.lang)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, c.want) {
			t.Errorf("%s with the database unavailable: HTTP %d, want 503 and %q:\n%s", c.what, resp.StatusCode, c.want, body)
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("%s: Retry-After %q", c.what, resp.Header.Get("Retry-After"))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q", c.what, cc)
		}
		if strings.Contains(body, "Ein technischer Fehler") || strings.Contains(body, "error técnico") {
			t.Errorf("%s: the technical-error page:\n%s", c.what, body)
		}
	}
}
