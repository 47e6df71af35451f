package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/obs"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// loginCopyApp starts a copy of the demo app on dir's SQLite file, or on
// dbURL when set: two calls with the same place are two copies (or a
// restart) over one database.
func loginCopyApp(t *testing.T, dir, dbURL string) *App {
	t.Helper()
	cfg := demoConfig(t, dir, dbURL, nil)
	a, err := New(context.Background(), cfg, Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// v4Login calls V4 on h as the demo shop from addr and returns the body.
func v4Login(h http.Handler, password, addr string) string {
	r := httptest.NewRequest("POST", "/api-payment/V4/Charge/SDKTest", strings.NewReader(`{"value":"x"}`))
	r.SetBasicAuth(shop.DemoShopID, password)
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Body.String()
}

// A lock decided by one copy is honoured by another over the same
// database, and by a copy started again; the copies' own wiring shares
// the counts (OPENPSP_DATABASE_URL and the SQLite file alike).
func TestFailedLoginLockSharedByCopies(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir, url := t.TempDir(), ""
			if engine == "postgres" {
				url = storetest.NewPostgresDatabase(t)
			}
			a := loginCopyApp(t, dir, url)
			b := loginCopyApp(t, t.TempDir(), url)
			if engine == "sqlite" {
				b = nil // one SQLite file is one copy; its restart is below
			}
			if body := v4Login(a.Handler(), shop.DemoTestPassword, "198.51.100.7"); strings.Contains(body, "INT_905") {
				t.Fatalf("right password refused: %s", body)
			}
			for range obs.LoginFailuresBeforeLock {
				v4Login(a.Handler(), "guess", "198.51.100.7")
			}
			if b != nil {
				if body := v4Login(b.Handler(), shop.DemoTestPassword, "198.51.100.7"); !strings.Contains(body, "too many failed logins") {
					t.Fatalf("the other copy does not honour the lock: %s", body)
				}
			}
			a.Close()
			restarted := loginCopyApp(t, dir, url)
			if body := v4Login(restarted.Handler(), shop.DemoTestPassword, "198.51.100.7"); !strings.Contains(body, "too many failed logins") {
				t.Fatalf("a restart forgot the lock: %s", body)
			}
			if body := v4Login(restarted.Handler(), shop.DemoTestPassword, "203.0.113.9"); strings.Contains(body, "INT_905") {
				t.Fatalf("the merchant's address is locked: %s", body)
			}
		})
	}
}
