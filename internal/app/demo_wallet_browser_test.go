package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/shop"
)

// TestBrowserDemoWalletFitsTheScreen: the demo's merchant view of a wallet
// (a token id, a card, two RFC 3339 dates in five columns) was 879 px wide
// on a 768 px tablet; on a phone its stacked cells said nothing of which
// column they were. The real app answers CustomerWallet/Get for a card
// saved through the hosted page.
func TestBrowserDemoWalletFitsTheScreen(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	srv.Config.Handler = testApp(t, map[string]string{"OPENPSP_DEMO": "true", "OPENPSP_PUBLIC_URL": base}).Handler()
	srv.Start()
	t.Cleanup(srv.Close)

	v4 := func(path, body string) map[string]any {
		req, _ := http.NewRequest("POST", srv.URL+"/api-payment/V4/"+path, strings.NewReader(body))
		req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env struct{ Answer map[string]any }
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatal(err)
		}
		return env.Answer
	}
	ft, _ := v4("Charge/CreatePayment", `{"amount":1000,"currency":"EUR","orderId":"wallet-look","formAction":"CUSTOMER_WALLET","customer":{"reference":"cust-look","email":"a@example.com"}}`)["formToken"].(string)
	if ft == "" {
		t.Fatal("no formToken")
	}
	form := url.Values{"pan": {"4970100000000055"}, "expiry": {fmt.Sprintf("12/%02d", (time.Now().Year()+2)%100)}, "csc": {"123"}, "save": {"1"}}
	req, _ := http.NewRequest("POST", srv.URL+"/pay/"+ft+"?kr-language=en", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", srv.URL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if out["accepted"] != true {
		t.Fatalf("saving a card: %v", out)
	}

	ctx := browsertest.New(t)
	for _, w := range []int64{320, 375, 768, 1024} {
		type look struct {
			Width, Scroll int
			Unlabelled    []string
		}
		var got look
		err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 800), chromedp.Navigate(srv.URL+"/demo/wallet?account=cust-look"), chromedp.WaitVisible(chromedp.CSS("#wallet td")))
		if err == nil {
			got, err = chromedp.Run(ctx, chromedp.Evaluate[look](`(function () {
				var heads = Array.prototype.map.call(document.querySelectorAll('#wallet thead th'), function (th) { return th.textContent.trim(); });
				var shown = getComputedStyle(document.querySelector('#wallet thead')).display !== 'none';
				var bad = [];
				document.querySelectorAll('#wallet tbody tr').forEach(function (tr) {
					Array.prototype.forEach.call(tr.cells, function (td, i) {
						var c = getComputedStyle(td, '::before').content.replace(/^"|"$/g, '');
						if (!shown && c !== heads[i]) bad.push(heads[i]);
					});
				});
				return {Width: window.innerWidth, Scroll: document.documentElement.scrollWidth, Unlabelled: bad};
			})()`))
		}
		if err != nil {
			t.Fatalf("%d px: %v", w, err)
		}
		if got.Scroll > got.Width {
			t.Errorf("at %d px the wallet page is %d px wide: it scrolls sideways", w, got.Scroll)
		}
		if len(got.Unlabelled) > 0 {
			t.Errorf("at %d px the header row is hidden and these cells say nothing of their column: %v", w, got.Unlabelled)
		}
	}
	browsertest.NoConsoleErrors(t, ctx)
}
