package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
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

// A database that fails during a saved card's deletion without the script
// (here PostgreSQL refusing the token's update as a full disk does,
// SQLSTATE 53100) answered the form with "The card could not be deleted"
// (HTTP 500): the wallet's error reached the pages unmarked. The buyer
// reads the temporarily-unavailable page, in their language, 503 with
// Retry-After, as on the other pages when the database is unavailable;
// the card stays in the wallet.
func TestDatabaseUnavailableDuringWalletDeletion(t *testing.T) {
	a, formToken, tok, db := walletOnPostgres(t, "DOWN-WALLET")
	ctx := context.Background()
	diskFull(t, db, "BEFORE UPDATE ON tokens")

	form := url.Values{"card": {tok.ID}, "confirm": {"yes"}}
	resp := callURL(t, a.URL(), http.MethodPost, "/pay/"+formToken+"/wallet/delete/page?kr-language=it", "", "application/x-www-form-urlencoded", form.Encode())
	body := html.UnescapeString(resp.body)
	want := "Questo servizio di pagamento è temporaneamente non disponibile."
	if resp.status != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Errorf("deletion with the database failing: HTTP %d, want 503 and %q:\n%s", resp.status, want, body)
	}
	if s, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After %q", resp.header.Get("Retry-After"))
	}
	got, err := a.Vault.Get(ctx, shop.DemoShopID, "TEST", tok.Value)
	if err != nil || got.Status != vault.StatusActive {
		t.Errorf("the token after the failed deletion: %+v %v", got.Status, err)
	}
}

// The first step of a saved card's deletion without the script (the
// confirmation page) reads the buyer's wallet; with the database failing
// that read (here PostgreSQL failing the tokens' reads as a full disk
// does, SQLSTATE 53100, while the payment and the shop still read), it
// answered 404 "The card could not be deleted": the wallet's error
// reached the pages unmarked, and the page took it for an unknown card.
// Both steps of the deletion without the script, and the script's
// deletion, answer the temporarily-unavailable page (or JSON), 503 with
// Retry-After, in the buyer's language; the card stays in the wallet.
func TestDatabaseUnavailableDuringWalletDeletionConfirmation(t *testing.T) {
	a, formToken, tok, db := walletOnPostgres(t, "DOWN-WALLET-READ")
	tokensUnreadable(t, db)

	for _, c := range []struct {
		what, path string
		form       url.Values
		want       string
	}{
		{"confirmation page", "/wallet/delete/page?kr-language=it", url.Values{"card": {tok.ID}},
			"Questo servizio di pagamento è temporaneamente non disponibile."},
		{"confirmed deletion", "/wallet/delete/page?kr-language=it", url.Values{"card": {tok.ID}, "confirm": {"yes"}},
			"Questo servizio di pagamento è temporaneamente non disponibile."},
		{"script's deletion", "/wallet/delete?kr-language=es", url.Values{"card": {tok.ID}},
			"Este servicio de pago no está disponible temporalmente."},
	} {
		resp := callURL(t, a.URL(), http.MethodPost, "/pay/"+formToken+c.path, "", "application/x-www-form-urlencoded", c.form.Encode())
		body := html.UnescapeString(resp.body)
		if resp.status != http.StatusServiceUnavailable || !strings.Contains(body, c.want) {
			t.Errorf("%s with the wallet unreadable: HTTP %d, want 503 and %q:\n%s", c.what, resp.status, c.want, body)
		}
		if s, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("%s: Retry-After %q", c.what, resp.header.Get("Retry-After"))
		}
	}
	var status string
	if err := db.QueryRow(`SELECT status FROM tokens_stored WHERE id = $1`, tok.ID).Scan(&status); err != nil || status != string(vault.StatusActive) {
		t.Errorf("the token after the failed deletions: %q %v", status, err)
	}
}

// A saved card's payment with the database failing answered the retry
// page's technical error ("A technical error occurred…", the wallet's
// errors reached the pages unmarked), where the other buyer pages answer
// that the service is temporarily unavailable: the attempt's first write
// failing (here PostgreSQL refusing the transaction's insert as a full
// disk does, SQLSTATE 53100), and the saved card's read before it (the
// tokens failing to read). Both answer the temporarily-unavailable page,
// in the buyer's language, 503 with Retry-After, and say that the card was
// not charged: neither reached the acquirer. Nothing is paid.
func TestDatabaseUnavailableDuringSavedCardPayment(t *testing.T) {
	a, formToken, tok, db := walletOnPostgres(t, "DOWN-SAVED")
	pay := func(what, lang string) {
		t.Helper()
		form := url.Values{"saved": {tok.ID}, "saved_csc": {"123"}}
		resp := callURL(t, a.URL(), http.MethodPost, "/pay/"+formToken+"?kr-language="+lang, "", "application/x-www-form-urlencoded", form.Encode())
		body := html.UnescapeString(resp.body)
		want := map[string]string{"it": "Questo servizio di pagamento è temporaneamente non disponibile. Non è stato addebitato nulla sulla carta. Riprovi tra qualche minuto.",
			"fr": "Ce service de paiement est temporairement indisponible. Votre carte n’a pas été débitée."}[lang]
		if resp.status != http.StatusServiceUnavailable || !strings.Contains(body, want) {
			t.Errorf("%s: HTTP %d, want 503 and %q:\n%s", what, resp.status, want, body)
		}
		if s, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("%s: Retry-After %q", what, resp.header.Get("Retry-After"))
		}
	}

	diskFull(t, db, "BEFORE INSERT ON transactions")
	pay("the attempt's write failing", "it")
	if _, err := db.Exec(`DROP TRIGGER disk_full ON transactions`); err != nil {
		t.Fatal(err)
	}

	tokensUnreadable(t, db)
	pay("the saved card unreadable", "fr")

	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM transactions`).Scan(&n); err != nil || n != 0 {
		t.Errorf("transactions after the failed attempts: %d, %v", n, err)
	}
}

// A saved card's payment whose outcome the database failed to record
// after the acquirer's answer (the transaction's update refused as a full
// disk does, SQLSTATE 53100) reads that the service is temporarily
// unavailable, 503 with Retry-After, and that the payment could not be
// confirmed yet, not to pay again: not that the card was not charged.
func TestDatabaseUnavailableAfterTheAcquirerDuringSavedCardPayment(t *testing.T) {
	a, formToken, tok, db := walletOnPostgres(t, "UNRECORDED-SAVED")
	diskFull(t, db, "BEFORE UPDATE ON transactions")
	form := url.Values{"saved": {tok.ID}, "saved_csc": {"123"}}
	resp := callURL(t, a.URL(), http.MethodPost, "/pay/"+formToken+"?kr-language=es", "", "application/x-www-form-urlencoded", form.Encode())
	body := html.UnescapeString(resp.body)
	want := "Este servicio de pago no está disponible temporalmente y su pago aún no se ha podido confirmar. No vuelva a pagar: la tienda le confirmará el resultado."
	if resp.status != http.StatusServiceUnavailable || !strings.Contains(body, want) || strings.Contains(body, "No se ha cargado") {
		t.Errorf("HTTP %d, want 503 and %q, and nothing said of the card's charge:\n%s", resp.status, want, body)
	}
	if resp.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if n := a.Sim.Authorizations(); n != 1 {
		t.Errorf("%d authorizations, want the one whose outcome was lost", n)
	}
}

// diskFull makes PostgreSQL fail the statements of a trigger event (on,
// such as "BEFORE UPDATE ON tokens") as a full disk does, SQLSTATE 53100.
func diskFull(t *testing.T, db *sql.DB, on string) {
	t.Helper()
	if _, err := db.Exec(`CREATE OR REPLACE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$;
		CREATE TRIGGER disk_full ` + on + ` FOR EACH ROW EXECUTE FUNCTION disk_full()`); err != nil {
		t.Fatal(err)
	}
}

// tokensUnreadable makes PostgreSQL fail every read of the tokens as a
// full disk does (SQLSTATE 53100), the other tables still read: tokens
// becomes a view of tokens_stored through a failing STABLE function,
// which PostgreSQL evaluates once per scan of the view, rows or not.
func tokensUnreadable(t *testing.T, db *sql.DB) {
	t.Helper()
	if _, err := db.Exec(`CREATE FUNCTION tokens_unreadable() RETURNS boolean LANGUAGE plpgsql STABLE AS $$
		BEGIN RAISE EXCEPTION 'could not write to file "base/pgsql_tmp/pgsql_tmp1.0": No space left on device' USING ERRCODE = '53100'; END $$;
		ALTER TABLE tokens RENAME TO tokens_stored;
		CREATE VIEW tokens AS SELECT * FROM tokens_stored WHERE tokens_unreadable()`); err != nil {
		t.Fatal(err)
	}
}

// walletOnPostgres starts the app on a PostgreSQL database of its own, with
// a CUSTOMER_WALLET form (order) whose buyer has one saved card: the app,
// the formToken, the card's token, and the database opened for the test to
// break (closed at the test's end).
func walletOnPostgres(t *testing.T, order string) (*App, string, vault.Token, *sql.DB) {
	t.Helper()
	dbURL := storetest.NewPostgresDatabase(t)
	a := newerSchemaApp(t, t.TempDir(), dbURL, clock.Real{}, io.Discard)
	ctx := context.Background()
	sh, creds, err := a.Shops.Authenticate(ctx, shop.DemoShopID, shop.DemoTestPassword)
	if err != nil {
		t.Fatal(err)
	}
	ref := "buyer-" + order
	_, formToken, err := a.Payments.CreatePayment(ctx, sh, creds, payment.CreateInput{Amount: 990, Currency: "EUR", OrderID: order,
		FormAction: payment.ActionCustomerWallet, Customer: payment.Customer{Reference: &ref}})
	if err != nil {
		t.Fatal(err)
	}
	pan, _ := card.ParsePAN("4970100000000055")
	tok, err := a.Vault.TokenizeNow(ctx, vault.TokenizeRequest{ShopID: shop.DemoShopID, Mode: shop.ModeTest, PAN: pan,
		Expiry: card.Expiry{Month: 12, Year: time.Now().Year() + 3}, CustomerReference: ref, Customer: json.RawMessage(`{}`), Origin: "V4"})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return a, formToken, tok, db
}

// A card typed on the form with the database failing the attempt's first
// write (here PostgreSQL refusing the transaction's insert as a full disk
// does, SQLSTATE 53100) answered the retry page's technical error (HTTP
// 200, "A technical error occurred…": PayCard's errors reached the pages
// unmarked), where a saved card's payment answers that the service is
// temporarily unavailable. It answers so too, 503 with Retry-After, in the
// buyer's language, without the script (a page) and to the form script
// (its JSON error, CLIENT_999 UNAVAILABLE); nothing reached the acquirer,
// so the message says the card was not charged. Nothing is paid.
func TestDatabaseUnavailableDuringCardPayment(t *testing.T) {
	a, tokens, db := cardFormsOnPostgres(t, clock.Real{}, "DOWN-CARD")
	diskFull(t, db, "BEFORE INSERT ON transactions")

	resp := postCard(t, a, "/pay/"+tokens[0]+"?kr-language=it", false)
	want := "Questo servizio di pagamento è temporaneamente non disponibile. Non è stato addebitato nulla sulla carta."
	if body := html.UnescapeString(resp.body); resp.status != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Errorf("card form posted: HTTP %d, want 503 and %q:\n%s", resp.status, want, body)
	}
	if s, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("card form posted: Retry-After %q", resp.header.Get("Retry-After"))
	}

	resp = postCard(t, a, "/pay/"+tokens[0]+"?kr-language=es", true)
	var res struct {
		Step, Message string
		Error         struct{ ErrorCode, DetailedErrorCode string }
	}
	want = "Este servicio de pago no está disponible temporalmente. No se ha cargado nada en su tarjeta."
	if err := json.Unmarshal([]byte(resp.body), &res); err != nil || resp.status != http.StatusServiceUnavailable || res.Step != "error" ||
		res.Error.ErrorCode != "CLIENT_999" || res.Error.DetailedErrorCode != "UNAVAILABLE" || !strings.Contains(res.Message, want) {
		t.Errorf("form script's post: HTTP %d, want 503, step error, CLIENT_999 UNAVAILABLE and %q:\n%s", resp.status, want, resp.body)
	}
	if resp.header.Get("Retry-After") == "" {
		t.Error("form script's post: no Retry-After")
	}

	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM transactions`).Scan(&n); err != nil || n != 0 {
		t.Errorf("transactions after the failed attempts: %d, %v", n, err)
	}
	if n := a.Sim.Authorizations(); n != 0 {
		t.Errorf("%d authorizations after the failed attempts", n)
	}
}

// A card typed on the form whose acquirer authorised it, and whose outcome
// the database then failed to record (the transaction's update refused:
// as a full disk does, SQLSTATE 53100, or for another reason), read "Your
// card was not charged" (the outage's page, or the technical error's
// "…not charged. Please try again."): the payment stays RUNNING and
// recovery settles it AUTHORISED, so a buyer who believed the page and
// paid on a new order paid twice. The page says the payment could not be
// confirmed yet and not to pay again, without the script and to the form
// script, in the buyer's language: 503 with Retry-After for the outage,
// 500 otherwise. The buyer who posts the form again meanwhile reads that
// the payment is being processed; recovery then settles the payment
// AUTHORISED and queues the merchant's IPN and the buyer's email; the
// same card posted again reads the payment accepted. The acquirer
// authorised each payment once.
func TestDatabaseFailingAfterTheAcquirerDoesNotSayNotCharged(t *testing.T) {
	clk := clock.NewFake(time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC))
	a, tokens, db := cardFormsOnPostgres(t, clk, "UNRECORDED-OUTAGE", "UNRECORDED-ERROR", "UNRECORDED-SCRIPT")
	notCharged := []string{"not charged", "pas été débitée", "No se ha cargado", "Non è stato addebitato", "nicht belastet"}
	check := func(what string, resp answer, status int, want string) {
		t.Helper()
		body := html.UnescapeString(resp.body)
		if resp.status != status || !strings.Contains(body, want) {
			t.Errorf("%s: HTTP %d, want %d and %q:\n%s", what, resp.status, status, want, body)
		}
		for _, s := range notCharged {
			if strings.Contains(body, s) {
				t.Errorf("%s: says the card was not charged (%q):\n%s", what, s, body)
			}
		}
	}

	diskFull(t, db, "BEFORE UPDATE ON transactions")
	resp := postCard(t, a, "/pay/"+tokens[0]+"?kr-language=fr", false)
	check("outage", resp, http.StatusServiceUnavailable,
		"Ce service de paiement est temporairement indisponible et votre paiement n’a pas encore pu être confirmé. Ne payez pas une seconde fois\u00a0: la boutique vous confirmera le résultat.")
	if resp.header.Get("Retry-After") == "" {
		t.Error("outage: no Retry-After")
	}
	check("outage, the form posted again", postCard(t, a, "/pay/"+tokens[0]+"?kr-language=fr", false), http.StatusOK,
		"Un paiement de cette commande est déjà en cours de traitement")

	if _, err := db.Exec(`DROP TRIGGER disk_full ON transactions;
		CREATE FUNCTION update_refused() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'transaction update refused'; END $$;
		CREATE TRIGGER update_refused BEFORE UPDATE ON transactions FOR EACH ROW EXECUTE FUNCTION update_refused()`); err != nil {
		t.Fatal(err)
	}
	check("another failure", postCard(t, a, "/pay/"+tokens[1]+"?kr-language=de", false), http.StatusInternalServerError,
		"Ein technischer Fehler ist aufgetreten, und Ihre Zahlung konnte noch nicht bestätigt werden. Bitte zahlen Sie nicht erneut: Der Shop bestätigt Ihnen das Ergebnis.")
	resp = postCard(t, a, "/pay/"+tokens[2]+"?kr-language=it", true)
	check("form script", resp, http.StatusInternalServerError,
		"Si è verificato un errore tecnico e il pagamento non è ancora stato confermato. Non paghi di nuovo: il negozio Le confermerà l’esito.")
	if !strings.Contains(resp.body, `"step":"error"`) || !strings.Contains(resp.body, `"errorCode":"CLIENT_999"`) {
		t.Errorf("form script: want step error and CLIENT_999:\n%s", resp.body)
	}
	if _, err := db.Exec(`DROP TRIGGER update_refused ON transactions`); err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Minute)
	ctx := context.Background()
	// Recovery (the app's job, or this call) asks the acquirer; the
	// capture job then captures what it settled AUTHORISED.
	poll(t, "recovery settles the three payments", func() bool {
		if _, err := a.Payments.RecoverRunning(ctx, 0, 100); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM transactions WHERE detailed_status IN ('AUTHORISED', 'CAPTURED')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 3
	})
	for _, order := range []string{"UNRECORDED-OUTAGE", "UNRECORDED-ERROR", "UNRECORDED-SCRIPT"} {
		var ipn, email int
		if err := db.QueryRow(`SELECT COUNT(*) FILTER (WHERE channel = 'ipn' AND event = 'payment.accepted' AND payload LIKE '%' || $1 || '%'),
			COUNT(*) FILTER (WHERE channel = 'email' AND target = $2) FROM outbox`, order, strings.ToLower(order)+"@example.com").Scan(&ipn, &email); err != nil {
			t.Fatal(err)
		}
		if ipn != 1 || email != 1 {
			t.Errorf("%s: %d IPNs payment.accepted, %d emails to the buyer queued, want 1 and 1", order, ipn, email)
		}
	}
	resp = postCard(t, a, "/pay/"+tokens[0]+"?kr-language=en", false)
	if body := html.UnescapeString(resp.body); resp.status != http.StatusOK || !strings.Contains(body, "Payment accepted. Thank you!") {
		t.Errorf("the same card posted again after recovery: HTTP %d\n%s", resp.status, body)
	}
	if n := a.Sim.Authorizations(); n != 3 {
		t.Errorf("%d authorizations for 3 payments", n)
	}
}

// cardFormsOnPostgres starts the app on a PostgreSQL database of its own
// with clk, and makes a PAYMENT form for each order (a buyer with an
// email, an IPN target): the app, the formTokens, and the database opened
// for the test to break (closed at the test's end).
func cardFormsOnPostgres(t *testing.T, clk clock.Clock, orders ...string) (*App, []string, *sql.DB) {
	t.Helper()
	dbURL := storetest.NewPostgresDatabase(t)
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	a := newerSchemaApp(t, t.TempDir(), dbURL, clk, logs)
	ctx := context.Background()
	sh, creds, err := a.Shops.Authenticate(ctx, shop.DemoShopID, shop.DemoTestPassword)
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for _, order := range orders {
		email := strings.ToLower(order) + "@example.com"
		_, token, err := a.Payments.CreatePayment(ctx, sh, creds, payment.CreateInput{Amount: 990, Currency: "EUR", OrderID: order,
			Customer: payment.Customer{Email: &email}, IPNTargetURL: "http://127.0.0.1:1/ipn"})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, token)
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return a, tokens, db
}

// postCard posts an approved test card to a payment page's path, as a
// page (no script) or as the form script does (JSON).
func postCard(t *testing.T, a *App, path string, script bool) answer {
	t.Helper()
	form := url.Values{"pan": {"4970100000000055"}, "expiry": {"12/45"}, "csc": {"123"}}
	req, err := http.NewRequest(http.MethodPost, a.URL()+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if script {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}
