package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
)

func TestSDKTestAndErrors(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, serverOpts{engine: engine})
			env := s.v4(t, "Charge/SDKTest", `{"value":"hi"}`)
			if env["status"] != "SUCCESS" || answer(env)["value"] != "hi" || env["version"] != "V4" ||
				env["webService"] != "Charge/SDKTest" || env["_type"] != "V4/WebService/Response" || answer(env)["_type"] != "V4/Type/String" {
				t.Fatalf("SDKTest: %v", env)
			}
			bad := s.v4As(t, shop.DemoShopID, "testpassword_wrong", "Charge/SDKTest", `{"value":"hi"}`)
			if bad["status"] != "ERROR" || answer(bad)["errorCode"] != "INT_905" || answer(bad)["errorMessage"] != "invalid login or private key" ||
				answer(bad)["_type"] != "V4/WebService/WebServiceError" {
				t.Fatalf("wrong credentials: %v", bad)
			}
			malformed := s.v4(t, "Charge/SDKTest", `{"value":`)
			if malformed["status"] != "ERROR" || answer(malformed)["errorCode"] != "INT_902" {
				t.Fatalf("malformed JSON: %v", malformed)
			}
			if d, _ := answer(malformed)["detailedErrorMessage"].(string); !strings.Contains(d, "can't decode JSON") {
				t.Fatalf("malformed JSON detail: %v", malformed)
			}
			notObject := s.v4(t, "Charge/SDKTest", `["hi"]`)
			if answer(notObject)["errorCode"] != "INT_902" {
				t.Fatalf("non-object body: %v", notObject)
			}
			unknown := s.v4(t, "Charge/NoSuchService", `{}`)
			if unknown["status"] != "ERROR" {
				t.Fatalf("unknown service: %v", unknown)
			}
			for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
				resp, err := http.Get(s.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
				}
				if path == "/metrics" && !strings.Contains(string(body), `openpsp_v4_calls_total{status="SUCCESS",web_service="Charge/SDKTest"} 1`) {
					t.Fatalf("metrics do not count the SDKTest call:\n%s", body)
				}
				if path == "/metrics" && !regexp.MustCompile(`(?m)^openpsp_db_commits_total [1-9]`).Match(body) {
					t.Fatalf("metrics count no database commit (the demo shop was written):\n%s", body)
				}
			}
			if !strings.Contains(s.Logs.String(), `"request_id"`) {
				t.Fatal("log lines carry no request id")
			}
		})
	}
}

// readyz tells the truth: once the database is gone, the copy is not ready.
func TestReadyzReportsDatabaseFailure(t *testing.T) {
	s := startServer(t, serverOpts{})
	s.DB.Reader().Close()
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with a closed database answered %d", resp.StatusCode)
	}
	resp, err = http.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

// After a master-key rotation every token still pays, on both engines.
func TestTokensPayAfterKeyRotation(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			s := startServer(t, serverOpts{engine: engine})
			tokens := tokenizeForScan(t, s)
			before := s.Keys.PrimaryID()
			var last int
			if err := s.Vault.RotateMasterKey(context.Background(), func(done, total int) { last = done }); err != nil {
				t.Fatal(err)
			}
			if s.Keys.PrimaryID() == before || last == 0 {
				t.Fatalf("rotation did nothing: primary %s → %s, %d rewrapped", before, s.Keys.PrimaryID(), last)
			}
			counts, err := s.DB.DataKeyCounts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if counts[before] != 0 {
				t.Fatalf("%d data keys still under the old master key", counts[before])
			}
			for i, tok := range tokens {
				env := s.v4(t, "Charge/CreatePayment", map[string]any{"amount": 1500 + i, "currency": "EUR",
					"orderId": "after-rotation-" + tok[:8], "formAction": "SILENT", "paymentMethodToken": tok})
				if answer(env)["orderStatus"] != "PAID" {
					t.Fatalf("token %d after rotation: %v", i, env)
				}
			}
		})
	}
}
