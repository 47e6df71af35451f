package app

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/obs"
	"github.com/openpsp/openpsp/internal/payment"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// newerSchemaApp runs the demo app on a fake clock, jobs on and polling
// fast, on dir's SQLite file or on dbURL, until the test ends.
func newerSchemaApp(t *testing.T, dir, dbURL string, clk clock.Clock, logs io.Writer) *App {
	t.Helper()
	cfg := demoConfig(t, dir, dbURL, nil)
	a, err := New(context.Background(), cfg, Options{LogOutput: logs, Clock: clk, JobInterval: 10 * time.Millisecond,
		SchemaCheckInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		a.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		a.Close()
	})
	return a
}

// poll calls ok until it returns true, failing the test after 30 s.
func poll(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// get answers a GET of base+path: status and body.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// jobOutcomes reads openpsp_job_runs_total of job with outcome from /metrics.
func jobOutcomes(t *testing.T, base, job, outcome string) int {
	t.Helper()
	_, body := get(t, base+"/metrics")
	re := regexp.MustCompile(`(?m)^openpsp_job_runs_total\{job="` + regexp.QuoteMeta(job) + `",outcome="` + outcome + `"\} ([0-9]+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// A copy running when a newer release migrated its database under it (copies
// sharing one PostgreSQL during an upgrade) only turned its /readyz to 503:
// its jobs kept capturing, delivering and purging, and the requests still
// reaching it were served, all on a schema it does not know. Within a few
// checks it pauses its jobs (the capture job makes no claim: a payment that
// comes due stays authorised, where a control that came due before was
// captured), stops its outbox dispatcher, and answers each caller as when
// its database is unavailable: V4 INT_999, DirectLink NCERROR 40001011,
// the payment pages' temporarily-unavailable page; it logs why once, naming both
// migrations.
func TestRunningCopyStopsWorkingOnANewerSchema(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir, dbURL := t.TempDir(), ""
			if engine == "postgres" {
				dbURL = storetest.NewPostgresDatabase(t)
			}
			clk := clock.NewFake(time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC))
			var logs jobLog
			a := newerSchemaApp(t, dir, dbURL, clk, &logs)
			base := a.URL()
			ctx := context.Background()

			sh, creds, err := a.Shops.Authenticate(ctx, shop.DemoShopID, shop.DemoTestPassword)
			if err != nil {
				t.Fatal(err)
			}
			pan, err := card.ParsePAN("4970100000000055")
			if err != nil {
				t.Fatal(err)
			}
			cvv, _ := card.NewSecurityCode("123")
			pay := func(order string, delay int) payment.Transaction {
				t.Helper()
				_, ft, err := a.Payments.CreatePayment(ctx, sh, creds, payment.CreateInput{Amount: 1250, Currency: "EUR", OrderID: order, CaptureDelay: &delay})
				if err != nil {
					t.Fatal(err)
				}
				_, tx, err := a.Payments.PayCard(ctx, ft, payment.CardInput{PAN: pan, Expiry: card.Expiry{Month: 12, Year: 2032}, CVV: cvv, Holder: "Jane Doe"})
				if err != nil || tx.DetailedStatus != "AUTHORISED" {
					t.Fatalf("pay %s: %s %v", order, tx.DetailedStatus, err)
				}
				return tx
			}
			status := func(tx payment.Transaction) string {
				t.Helper()
				_, got, err := a.Payments.Get(ctx, sh.ID, tx.UUID)
				if err != nil {
					t.Fatal(err)
				}
				return got.DetailedStatus
			}
			control, paused := pay("CONTROL", 1), pay("PAUSED", 2)
			_, pageToken, err := a.Payments.CreatePayment(ctx, sh, creds, payment.CreateInput{Amount: 990, Currency: "EUR", OrderID: "PAGE"})
			if err != nil {
				t.Fatal(err)
			}

			// The control comes due first: this copy's capture job captures.
			clk.Advance(24*time.Hour + time.Second)
			poll(t, "the control payment captured", func() bool { return status(control) == "CAPTURED" })
			if s := status(paused); s != "AUTHORISED" {
				t.Fatalf("the payment due tomorrow is %s before its date", s)
			}

			const newer = "9999_from_a_newer_release"
			if _, err := a.DB.Writer().Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", newer); err != nil {
				t.Fatal(err)
			}
			// The capture job's loop ran its check and paused: from then on
			// no run of it claims (the state never turns back).
			poll(t, "the capture job paused", func() bool { return jobOutcomes(t, base, "payments.capture-due", "paused") > 0 })
			poll(t, "the outbox dispatcher paused", func() bool {
				return logs.count(`msg="background loop paused" loop=outbox.dispatcher`) == 1
			})
			before := jobOutcomes(t, base, "payments.capture-due", "paused")
			clk.Advance(24 * time.Hour)
			poll(t, "a capture tick after the second payment came due", func() bool {
				return jobOutcomes(t, base, "payments.capture-due", "paused") > before+1
			})
			if s := status(paused); s != "AUTHORISED" {
				t.Fatalf("the copy captured on a newer schema: %s", s)
			}

			if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "schema newer") {
				t.Errorf("/readyz: %d %s", code, body)
			}
			// V4: the envelope of an unavailable database, HTTP 200.
			r, _ := http.NewRequest(http.MethodPost, base+"/api-payment/V4/Charge/SDKTest", strings.NewReader(`{"value":"x"}`))
			r.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
			r.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			var env struct {
				Status string `json:"status"`
				Answer struct {
					ErrorCode string `json:"errorCode"`
				} `json:"answer"`
			}
			err = json.NewDecoder(resp.Body).Decode(&env)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || env.Status != "ERROR" || env.Answer.ErrorCode != "INT_999" {
				t.Errorf("V4 call on a newer schema: HTTP %d %+v %v, want 200 ERROR INT_999", resp.StatusCode, env, err)
			}
			// DirectLink: the NCERROR of a technical problem.
			resp, err = http.PostForm(base+"/ncol/test/orderdirect_utf8.asp", url.Values{"PSPID": {shop.DemoPSPID}, "USERID": {shop.DemoAPIUser},
				"PSWD": {shop.DemoAPIPassword}, "ORDERID": {"DL-1"}, "AMOUNT": {"100"}, "CURRENCY": {"EUR"}})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), `NCERROR="40001011"`) {
				t.Errorf("DirectLink on a newer schema: %s", b)
			}
			// The buyer's payment page: the temporarily-unavailable page.
			if code, body := get(t, base+"/pay/"+pageToken); code != http.StatusServiceUnavailable || !strings.Contains(body, "temporarily unavailable") {
				t.Errorf("payment page on a newer schema: %d %s", code, body)
			}
			if n := logs.count(newer); n != 1 {
				t.Errorf("the log names %s %d times, want once:\n%s", newer, n, logs.b.String())
			}
		})
	}
}

// A check that cannot read the schema (the database unreachable for a
// moment) must not put the copy in that state: only a newer migration does.
func TestSchemaCheckIgnoresAReadError(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		a := &App{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock.Real{}, Metrics: obs.NewMetrics(), DB: db}
		failed, cancel := context.WithCancel(context.Background())
		cancel()
		a.checkSchema(failed)
		if a.newerSchema.Load() != nil {
			t.Fatal("a failed read of schema_migrations put the copy in the newer-schema state")
		}
		a.checkSchema(context.Background())
		if a.newerSchema.Load() != nil {
			t.Fatal("a current schema put the copy in the newer-schema state")
		}
		if _, err := db.Writer().Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", "9999_from_a_newer_release"); err != nil {
			t.Fatal(err)
		}
		a.checkSchema(context.Background())
		if e := a.newerSchema.Load(); e == nil || e.Database != "9999_from_a_newer_release" {
			t.Fatalf("a newer schema: state %+v", e)
		}
	})
}

// A buyer who reached a copy that stopped on a newer schema read the
// technical-error page ("A technical error occurred. Your card was not
// charged. Please try again."), though nothing had failed for them and
// trying again at once reaches the same copy. Every buyer-facing page now
// answers the temporarily-unavailable page in the buyer's language, 503
// with Retry-After, not stored; the form script's JSON post keeps its JSON
// error shape; the pages' stylesheets and scripts are still served so
// that the page looks as the others do.
func TestNewerSchemaBuyerPagesSayTemporarilyUnavailable(t *testing.T) {
	a := newerSchemaApp(t, t.TempDir(), "", clock.NewFake(time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)), io.Discard)
	base := a.URL()
	ctx := context.Background()
	sh, creds, err := a.Shops.Authenticate(ctx, shop.DemoShopID, shop.DemoTestPassword)
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := a.Payments.CreatePayment(ctx, sh, creds, payment.CreateInput{Amount: 990, Currency: "EUR", OrderID: "PAGE"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB.Writer().Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", "9999_from_a_newer_release"); err != nil {
		t.Fatal(err)
	}
	poll(t, "the copy found the newer schema", func() bool {
		code, body := get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "schema newer")
	})

	do := func(method, path, lang, accept string, body url.Values) (*http.Response, string) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			rd = strings.NewReader(body.Encode())
		}
		r, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		r.Header.Set("Accept-Language", lang)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, html.UnescapeString(string(b))
	}
	unavailable := func(what string, resp *http.Response, body string, want ...string) {
		t.Helper()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: HTTP %d, want 503", what, resp.StatusCode)
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("%s: Retry-After %q, want a few seconds", what, resp.Header.Get("Retry-After"))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the answer lacks %q:\n%s", what, w, body)
			}
		}
		for _, technical := range []string{"A technical error occurred", "Une erreur technique", "Se ha producido un error técnico",
			"Si è verificato un errore tecnico", "Ein technischer Fehler"} {
			if strings.Contains(body, technical) {
				t.Errorf("%s: the answer is the technical-error one (%q):\n%s", what, technical, body)
			}
		}
	}

	// The payment page opened: nothing was entered, nothing is said of a card.
	resp, body := do(http.MethodGet, "/pay/"+token, "fr-FR,fr;q=0.9", "", nil)
	unavailable("payment page", resp, body, `lang="fr"`, "Service temporairement indisponible",
		"Ce service de paiement est temporairement indisponible. Veuillez réessayer dans quelques minutes.")
	if strings.Contains(body, "débitée") {
		t.Errorf("payment page opened: the page speaks of a card:\n%s", body)
	}
	// The card form posted as a page: the card was not charged.
	resp, body = do(http.MethodPost, "/pay/"+token+"?kr-language=es", "de", "", url.Values{"pan": {"4970100000000055"}})
	unavailable("card form posted", resp, body, `lang="es"`, "Servicio no disponible temporalmente", "No se ha cargado nada en su tarjeta.")
	// The embedded form's frame, in German.
	resp, body = do(http.MethodGet, "/embedded/"+token, "de", "", nil)
	unavailable("embedded form", resp, body, `lang="de"`, "Dieser Zahlungsdienst ist vorübergehend nicht verfügbar.")
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("embedded form: X-Frame-Options %q: the merchant's frame cannot show the page", xfo)
	}
	// The form script's post: its JSON error, in Italian.
	resp, body = do(http.MethodPost, "/embedded/"+token+"?kr-language=it", "en", "application/json", url.Values{"pan": {"4970100000000055"}})
	unavailable("form script's post", resp, body, "temporaneamente non disponibile", "Non è stato addebitato nulla sulla carta.")
	var ans struct {
		Step  string `json:"step"`
		Error struct {
			ErrorCode         string `json:"errorCode"`
			DetailedErrorCode string `json:"detailedErrorCode"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil || ans.Step != "error" || ans.Error.ErrorCode != "CLIENT_999" || ans.Error.DetailedErrorCode != "UNAVAILABLE" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("form script's post: %+v %v (%s), want step error, CLIENT_999 UNAVAILABLE in JSON", ans, err, resp.Header.Get("Content-Type"))
	}
	// FlexCheckout's page, framed by the merchant, in its LAYOUT.LANGUAGE.
	resp, body = do(http.MethodGet, "/Tokenization/HostedPage?ACCOUNT.PSPID="+shop.DemoPSPID+"&LAYOUT.LANGUAGE=it_IT", "en", "", nil)
	unavailable("FlexCheckout", resp, body, `lang="it"`, "Servizio temporaneamente non disponibile",
		"Questo servizio di pagamento è temporaneamente non disponibile. Riprovi tra qualche minuto.")
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("FlexCheckout: X-Frame-Options %q: the merchant's frame cannot show the page", xfo)
	}
	// The page's stylesheet reaches the browser.
	if code, css := get(t, base+"/static/hosted/form.css"); code != http.StatusOK || strings.Contains(css, "<html") {
		t.Errorf("the pages' stylesheet on a newer schema: %d", code)
	}
}
