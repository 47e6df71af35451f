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
	"strings"
	"sync"
	"testing"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/ogone"
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

// scanCVCs are the security codes typed on DirectLink (CVC with CARDNO)
// and FlexCheckout.
const scanDirectLinkCVC, scanFlexCVC = "9183", "6147"

// codePattern finds a security code as a value of its own: not inside a
// longer run of hex digits or a UUID's hyphenated groups (UUIDs, request
// ids and hashes contain any four digits by chance: a UUID group 7391 made
// the scan fail on a clean dump).
func codePattern(code string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[^0-9a-fA-F-])` + code + `([^0-9a-fA-F-]|$)`)
}

var cidPattern = codePattern(scanCID)

// withoutByteCounts is logs with the access lines' response sizes zeroed:
// a 4-digit size the server counted is no security code, and one equal to
// a scanned code would fail the scan now and then.
func withoutByteCounts(logs string) []byte {
	return byteCount.ReplaceAll([]byte(logs), []byte(`"bytes":0`))
}

var byteCount = regexp.MustCompile(`"bytes":[0-9]+`)

func assertNoSecurityCode(t *testing.T, what string, blob []byte) {
	t.Helper()
	for _, c := range []string{scanCID, scanDirectLinkCVC, scanFlexCVC} {
		if loc := codePattern(c).FindIndex(blob); loc != nil {
			lo, hi := max(loc[0]-40, 0), min(loc[1]+40, len(blob))
			t.Errorf("%s contains the security code %s: …%q…", what, c, blob[lo:hi])
		}
	}
}

// ogoneCardsForScan types cards where the Ogone surfaces take them: a
// DirectLink order with CARDNO, CVC and ALIAS (the card is stored under the
// alias) and a FlexCheckout page (a new alias), both of the demo PSPID.
func ogoneCardsForScan(t *testing.T, s *server) {
	t.Helper()
	acct := ogoneAccount{PSPID: shop.DemoPSPID, User: shop.DemoAPIUser, Password: shop.DemoAPIPassword, SHAIn: shop.DemoSHAPassphrase, Algo: ogone.SHA512}
	r := directLink(t, s, "orderdirect", acct, map[string]string{"ORDERID": "scan-dl", "AMOUNT": "1500", "CURRENCY": "EUR",
		"CARDNO": "5100010000002045", "ED": "12" + futureExpiry()[2:], "CVC": scanDirectLinkCVC, "ALIAS": "SCAN-DL-ALIAS",
		"OPERATION": "SAL", "ECI": "7", "EMAIL": "scan-dl@example.com"})
	if r["STATUS"] != "9" {
		t.Fatalf("DirectLink order with CARDNO: %s", r["_raw"])
	}
	code, page := openFlexCheckout(t, s, acct, ogone.Params{{Name: "ALIAS.ORDERID", Value: "scan-flex"},
		{Name: "PARAMETERS.ACCEPTURL", Value: "https://merchant.example/ok"}, {Name: "PARAMETERS.EXCEPTIONURL", Value: "https://merchant.example/ko"},
		{Name: "CARD.PAYMENTMETHOD", Value: "CreditCard"}, {Name: "ALIAS.STOREPERMANENTLY", Value: "Y"}})
	if code != http.StatusOK {
		t.Fatalf("FlexCheckout: %d %s", code, page)
	}
	loc := submitFlexCheckout(t, s, page, url.Values{"CARDNO": {"375900000000008"}, "CN": {"Scan Buyer"},
		"EXPM": {"12"}, "EXPY": {"20" + futureExpiry()[2:]}, "CVC": {scanFlexCVC}})
	if !strings.HasPrefix(loc, "https://merchant.example/ok") {
		t.Fatalf("FlexCheckout submit went to %q", loc)
	}
	if strings.Contains(loc, "375900000000008") || strings.Contains(loc, scanFlexCVC) {
		t.Errorf("FlexCheckout's ACCEPTURL carries card data in clear: %s", loc)
	}
}

// payAndRegisterForScan pays on the hosted page with formAction REGISTER_PAY
// (the card is saved), typing a security code, then pays again with the
// token (SILENT): the paths a card and its code really take.
func payAndRegisterForScan(t *testing.T, s *server, ipnURL string) string {
	t.Helper()
	env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 4200, "currency": "EUR", "orderId": "scan-1",
		"formAction": "REGISTER_PAY", "customer": map[string]any{"email": "scan@example.com"}, "ipnTargetUrl": ipnURL})
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
		"formAction": "SILENT", "paymentMethodToken": token, "ipnTargetUrl": ipnURL})
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
	if cidPattern.Find([]byte(`{"securityCode":"`+scanCID+`"}`)) == nil || cidPattern.Find([]byte("0f"+scanCID+"ab")) != nil ||
		cidPattern.Find([]byte("01a20972-b50a-"+scanCID+"-87db")) != nil || cidPattern.Find([]byte("csc="+scanCID+"&")) == nil {
		t.Fatal("security-code pattern is wrong")
	}
	// An access line's response size is counted by the server, not typed.
	if cidPattern.Find([]byte(`{"bytes":`+scanCID+`}`)) == nil || cidPattern.Find(withoutByteCounts(`{"bytes":`+scanCID+`,"x":"`+scanCID+`"}`)) == nil ||
		cidPattern.Find(withoutByteCounts(`{"bytes":`+scanCID+`}`)) != nil {
		t.Fatal("withoutByteCounts is wrong")
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
				pan, _, _, err := s.Vault.Card(context.Background(), shop.DemoShopID, "TEST", tok)
				if err != nil {
					t.Fatal(err)
				}
				if pan.Reveal() != scanPANs[i] {
					t.Fatal("token does not give its card back")
				}
			}
			var ipnMu sync.Mutex
			var ipnBodies []byte
			ipn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				ipnMu.Lock()
				ipnBodies = append(append(ipnBodies, b...), '\n')
				ipnMu.Unlock()
			}))
			defer ipn.Close()
			tokens = append(tokens, payAndRegisterForScan(t, s, ipn.URL+"/ipn"))
			ogoneCardsForScan(t, s)
			// What left the server for the merchant and the buyer: the
			// IPNs of both payments, the kept emails, the demo pages.
			pollFor(t, 30*time.Second, "the IPNs of the scanned payments", func() string {
				ipnMu.Lock()
				defer ipnMu.Unlock()
				if bytes.Contains(ipnBodies, []byte("scan-1")) && bytes.Contains(ipnBodies, []byte("scan-2")) {
					return ""
				}
				return "not yet"
			})
			ipnMu.Lock()
			ipnBodies = append([]byte(nil), ipnBodies...)
			ipnMu.Unlock()
			if !bytes.Contains(ipnBodies, []byte("XXXXX")) {
				t.Fatal("the IPNs show no masked card: the scan would prove nothing")
			}
			pollFor(t, 30*time.Second, "the order confirmation email", func() string {
				if strings.Contains(get(t, s.URL+"/demo/mail?format=json"), "scan@example.com") {
					return ""
				}
				return "not yet"
			})
			outside := ipnBodies
			for _, p := range []string{"/demo/mail", "/demo/mail?format=json", "/demo/ipn", "/metrics"} {
				page := get(t, s.URL+p)
				// The demo's footer lists the test cards, on purpose.
				if i, j := strings.Index(page, "<footer"), strings.Index(page, "</footer>"); i >= 0 && j > i {
					page = page[:i] + page[j:]
				}
				outside = append(outside, page...)
			}
			assertNoClearCardData(t, "IPNs, mailbox, demo pages and metrics", outside)
			assertNoSecurityCode(t, "IPNs, mailbox, demo pages and metrics", outside)
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
			assertNoSecurityCode(t, "logs", withoutByteCounts(s.Logs.String()))
		})
	}
}
