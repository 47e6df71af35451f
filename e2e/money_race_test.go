package e2e

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/openpsp/openpsp/internal/ogone"
	"github.com/openpsp/openpsp/internal/shop"
)

// demoAccount is the demo PSPID's DirectLink API user.
var demoAccount = ogoneAccount{PSPID: shop.DemoPSPID, User: shop.DemoAPIUser, Password: shop.DemoAPIPassword,
	SHAIn: shop.DemoSHAPassphrase, Algo: ogone.SHA512}

// directLinkCall is directLink for goroutines: it reports errors instead of
// ending the test, and fails on an answer that is not an ncresponse.
func directLinkCall(s *server, page string, acct ogoneAccount, fields map[string]string) (map[string]string, error) {
	ps := ogone.Params{{Name: "PSPID", Value: acct.PSPID}, {Name: "USERID", Value: acct.User}, {Name: "PSWD", Value: acct.Password}}
	for k, v := range fields {
		ps = append(ps, ogone.Param{Name: k, Value: v})
	}
	sig, err := ogone.Sign(acct.Algo, ps, acct.SHAIn, nil)
	if err != nil {
		return nil, err
	}
	form := url.Values{"SHASIGN": {sig}}
	for _, p := range ps {
		form.Set(p.Name, p.Value)
	}
	resp, err := http.PostForm(s.URL+"/ncol/test/"+page+"_utf8.asp", form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: HTTP %d: %s", page, resp.StatusCode, body)
	}
	var x struct {
		Attrs []xml.Attr `xml:",any,attr"`
	}
	if err := xml.Unmarshal(body, &x); err != nil {
		return nil, fmt.Errorf("%s: not an ncresponse: %s", page, body)
	}
	out := map[string]string{"_raw": string(body)}
	for _, a := range x.Attrs {
		out[a.Name.Local] = a.Value
	}
	return out, nil
}

// v4Try is a V4 call for goroutines, with the demo shop's TEST keys and
// header's name/value pairs: the envelope, or an error for an answer that
// is not HTTP 200 JSON.
func (s *server) v4Try(name string, body any, header ...string) (map[string]any, error) {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.URL+"/api-payment/V4/"+name, strings.NewReader(string(raw)))
	req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(b, &env) != nil {
		return nil, fmt.Errorf("%s: HTTP %d: %s", name, resp.StatusCode, b)
	}
	return env, nil
}

// A DirectLink capture (maintenance SAS) with an amount racing a V4
// Transaction/Update that lowers the same authorization, or a second SAS
// of another amount: whatever the order, an SAS answered as a capture
// (NCERROR 0, STATUS 9 or 91) names the amount the debit is captured for, never one
// answered "captured 6.00" while 4.00 are; two SAS capture once, and an
// accepted Update is what is captured or left to capture. Both engines.
func TestDirectLinkPartialCaptureRacingAnUpdate(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, serverOpts{engine: engine})
			for i := range 16 {
				orderID := fmt.Sprintf("cap-race-%d", i)
				o, err := directLinkCall(s, "orderdirect", demoAccount, map[string]string{"ORDERID": orderID, "AMOUNT": "1000",
					"CURRENCY": "EUR", "CARDNO": "4970100000000055", "ED": futureExpiry(), "CVC": "123", "OPERATION": "RES", "ECI": "7"})
				if err != nil || o["STATUS"] != "5" {
					t.Fatalf("order: %v %v", o, err)
				}
				ord := answer(s.v4(t, "Order/Get", map[string]any{"orderId": orderID}))
				uuid := ord["transactions"].([]any)[0].(map[string]any)["uuid"].(string)
				twoSAS := i%2 == 1
				amounts := []string{"600", "400"}
				sas := make([]map[string]string, 2)
				errs := make([]error, 2)
				var update map[string]any
				var wg sync.WaitGroup
				for k := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if k == 1 && !twoSAS {
							update, errs[k] = s.v4Try("Transaction/Update", map[string]any{"uuid": uuid,
								"cardUpdate": map[string]any{"amount": 400, "currency": "EUR"}})
							return
						}
						sas[k], errs[k] = directLinkCall(s, "maintenancedirect", demoAccount, map[string]string{"PAYID": o["PAYID"],
							"OPERATION": "SAS", "AMOUNT": amounts[k]})
					}()
				}
				wg.Wait()
				if errs[0] != nil || errs[1] != nil {
					t.Fatalf("calls: %v", errs)
				}
				// Whatever the capture job does next starts from here.
				d := answer(s.v4(t, "Transaction/Get", map[string]any{"uuid": uuid}))
				captured := 0
				for k, a := range sas {
					if a == nil || a["NCERROR"] != "0" || (a["STATUS"] != "9" && a["STATUS"] != "91") {
						continue
					}
					captured++
					want := map[string]float64{"600": 600, "400": 400}[amounts[k]]
					if d["amount"] != want || a["amount"] != strings.TrimSuffix(amounts[k], "00") {
						t.Errorf("#%d: SAS %s answered STATUS %s amount %s; the debit is %v for %v", i, amounts[k], a["STATUS"],
							a["amount"], d["detailedStatus"], d["amount"])
					}
				}
				switch {
				case captured > 1:
					t.Errorf("#%d: both SAS answered as captures: %s %s", i, sas[0]["_raw"], sas[1]["_raw"])
				case twoSAS && captured == 0:
					t.Errorf("#%d: neither SAS captured (%s, %s); the debit is %v for %v", i, sas[0]["NCERROR"], sas[1]["NCERROR"],
						d["detailedStatus"], d["amount"])
				case !twoSAS && update["status"] == "SUCCESS" && d["amount"] != 400.0:
					t.Errorf("#%d: Transaction/Update to 400 accepted; the debit is %v for %v", i, d["detailedStatus"], d["amount"])
				}
			}
		})
	}
}
