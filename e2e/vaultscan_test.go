package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"time"

	"bytes"
	"context"
	"encoding/hex"
	"github.com/chromedp/chromedp"
	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/vault"
)

// scanPANs are the card numbers the scan looks for in clear.
var scanPANs = []string{"4970100000000055", "5100010000002045", "375900000000008", "6759000000000018"}

// tokenizeForScan stores cards through every path that exists: the vault
// directly here; the payment-path tests add theirs to the same scan.
func tokenizeForScan(t *testing.T, s *server) []string {
	t.Helper()
	var tokens []string
	for _, p := range scanPANs {
		pan, err := card.ParsePAN(p)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Vault.TokenizeNow(context.Background(), vault.TokenizeRequest{
			ShopID: shop.DemoShopID, Mode: shop.ModeTest, PAN: pan, Expiry: card.Expiry{Month: 12, Year: 2030},
			HolderName: "Jane Doe", Origin: "V4",
		})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok.Value)
	}
	return tokens
}

// scanCID is the 4-digit security code typed with the AMEX card.
const scanCID = "7391"

// cidPattern finds the security code as a value of its own: not inside a
// longer run of hex digits (UUIDs, request ids and hashes contain any four
// digits by chance).
var cidPattern = regexp.MustCompile(`(^|[^0-9a-fA-F])` + scanCID + `([^0-9a-fA-F]|$)`)

func assertNoSecurityCode(t *testing.T, what string, blob []byte) {
	t.Helper()
	if loc := cidPattern.FindIndex(blob); loc != nil {
		lo, hi := max(loc[0]-40, 0), min(loc[1]+40, len(blob))
		t.Errorf("%s contains the security code: …%q…", what, blob[lo:hi])
	}
}

// payAndRegisterForScan pays on the hosted page with formAction REGISTER_PAY
// (the card is saved), typing a security code, then pays again with the
// token (SILENT): the paths a card and its code really take.
func payAndRegisterForScan(t *testing.T, s *server) string {
	t.Helper()
	env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 4200, "currency": "EUR", "orderId": "scan-1",
		"formAction": "REGISTER_PAY", "customer": map[string]any{"email": "scan@example.com"}})
	formToken, _ := answer(env)["formToken"].(string)
	if formToken == "" {
		t.Fatalf("CreatePayment REGISTER_PAY: %v", env)
	}
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!doctype html><title>ok</title><h1 id=back>back</h1>")
	}))
	defer merchant.Close()
	ctx := browsertest.New(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.URL+"/pay/"+formToken+"?kr-post-url-success="+url.QueryEscape(merchant.URL+"/ok")+"&kr-post-url-refused="+url.QueryEscape(merchant.URL+"/ko")),
		chromedp.WaitVisible(chromedp.CSS("#kr-pan")),
		chromedp.SendKeys(chromedp.CSS("#kr-pan"), "375900000000008"),
		chromedp.SendKeys(chromedp.CSS("#kr-expiry"), futureExpiry()),
		chromedp.SendKeys(chromedp.CSS("#kr-csc"), scanCID),
		chromedp.Click(chromedp.CSS("#kr-pay")),
		chromedp.WaitVisible(chromedp.CSS("#back")),
	); err != nil {
		t.Fatalf("paying with REGISTER_PAY: %v", err)
	}
	var token string
	for deadline := time.Now().Add(10 * time.Second); token == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		order := answer(s.v4(t, "Order/Get", map[string]any{"orderId": "scan-1"}))
		if txs, _ := order["transactions"].([]any); len(txs) == 1 {
			token, _ = txs[0].(map[string]any)["paymentMethodToken"].(string)
		}
	}
	if token == "" {
		t.Fatal("REGISTER_PAY created no token")
	}
	silent := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 1000, "currency": "EUR", "orderId": "scan-2",
		"formAction": "SILENT", "paymentMethodToken": token})
	if answer(silent)["orderStatus"] != "PAID" {
		t.Fatalf("SILENT payment with the saved card: %v", silent)
	}
	return token
}

// findClear returns the needles found in blob as text or as hex (the form
// pg_dump gives bytea columns).
func findClear(blob []byte, needles ...string) []string {
	var found []string
	lower := bytes.ToLower(blob)
	for _, n := range needles {
		if bytes.Contains(blob, []byte(n)) || bytes.Contains(lower, []byte(hex.EncodeToString([]byte(n)))) {
			found = append(found, n)
		}
	}
	return found
}

// assertNoClearCardData fails when any PAN (or secret) appears in blob.
func assertNoClearCardData(t *testing.T, what string, blob []byte, secrets ...string) {
	t.Helper()
	if f := findClear(blob, append(append([]string{}, scanPANs...), secrets...)...); len(f) > 0 {
		t.Errorf("%s contains card data in clear: %d of the scanned values", what, len(f))
	}
}

// The scanner itself must see a planted PAN, as text and as bytea hex.
func TestScannerFindsPlantedData(t *testing.T) {
	if len(findClear([]byte("xx4970100000000055yy"), scanPANs...)) != 1 {
		t.Fatal("scanner misses a PAN in clear")
	}
	if len(findClear([]byte(`\x`+hex.EncodeToString([]byte("5100010000002045"))), scanPANs...)) != 1 {
		t.Fatal("scanner misses a hex-encoded PAN")
	}
	if cidPattern.Find([]byte(`{"securityCode":"`+scanCID+`"}`)) == nil || cidPattern.Find([]byte("0f"+scanCID+"ab")) != nil {
		t.Fatal("security-code pattern is wrong")
	}
}

// The vault scan: tokenize cards, then read the raw database files (SQLite
// file, WAL and shared memory), a pg_dump of the PostgreSQL database and the
// captured logs: no PAN may appear in clear anywhere.
func TestVaultScanFindsNoClearCardData(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			s := startServer(t, serverOpts{engine: engine, dir: dir})
			tokens := tokenizeForScan(t, s)
			for i, tok := range tokens {
				pan, _, _, err := s.Vault.Card(context.Background(), shop.DemoShopID, tok)
				if err != nil {
					t.Fatal(err)
				}
				if pan.Reveal() != scanPANs[i] {
					t.Fatal("token does not give its card back")
				}
			}
			tokens = append(tokens, payAndRegisterForScan(t, s))
			if engine == "sqlite" {
				files, _ := filepath.Glob(filepath.Join(dir, "openpsp.db*"))
				if len(files) < 2 {
					t.Fatalf("expected the database and its WAL, found %v", files)
				}
				for _, f := range files {
					b, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					assertNoClearCardData(t, filepath.Base(f), b)
					assertNoSecurityCode(t, filepath.Base(f), b)
				}
			} else {
				dump, err := exec.Command("pg_dump", "--no-owner", s.Config.DatabaseURL).Output()
				if err != nil {
					t.Fatalf("pg_dump: %v", err)
				}
				if !bytes.Contains(dump, []byte(tokens[0])) {
					t.Fatal("the dump does not contain the tokens: the scan would prove nothing")
				}
				assertNoClearCardData(t, "pg_dump", dump)
				assertNoSecurityCode(t, "pg_dump", dump)
			}
			assertNoClearCardData(t, "logs", []byte(s.Logs.String()))
			assertNoSecurityCode(t, "logs", []byte(s.Logs.String()))
		})
	}
}
