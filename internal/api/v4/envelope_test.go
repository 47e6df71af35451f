package v4_test

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	v4 "github.com/openpsp/openpsp/internal/api/v4"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/shop"
)

// An answer that cannot be written as JSON (a bug) still gets a whole V4
// error envelope: every field of Lyra's response envelope
// (docs.lyra.com/en/rest/V4.0/api/kb/webservice_usage.html: webService,
// version, applicationVersion, status, answer, ticket, serverDate,
// applicationProvider, metadata, _type) and of its error answer
// (errorCode, errorMessage, detailedErrorCode, detailedErrorMessage,
// ticket, _type). Clients read serverDate from every answer (a public PHP
// client refuses one without it).
func TestUnmarshalableAnswerKeepsTheEnvelope(t *testing.T) {
	clk := clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
	s := v4.New(v4.Options{Auth: testAuth{shop.Shop{ID: shopID}}, Clock: clk})
	s.Handle("Charge/Broken", func(*v4.Call) (any, error) {
		return map[string]any{"value": math.NaN(), "_type": "V4/Type/String"}, nil
	})
	mux := http.NewServeMux()
	mux.Handle("/api-payment/V4/{name...}", s)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api-payment/V4/Charge/Broken", strings.NewReader("{}"))
	req.SetBasicAuth(shopID, password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	for _, k := range strings.Fields("webService version applicationVersion status answer ticket serverDate applicationProvider metadata _type") {
		if _, ok := env[k]; !ok {
			t.Errorf("envelope field %s missing: %s", k, body)
		}
	}
	if env["status"] != "ERROR" || env["webService"] != "Charge/Broken" || env["serverDate"] != "2030-03-10T09:00:00+00:00" ||
		env["_type"] != "V4/WebService/Response" {
		t.Errorf("envelope %s", body)
	}
	ans, _ := env["answer"].(map[string]any)
	for _, k := range strings.Fields("errorCode errorMessage detailedErrorCode detailedErrorMessage ticket _type") {
		if _, ok := ans[k]; !ok {
			t.Errorf("error answer field %s missing: %s", k, body)
		}
	}
	if ans["errorCode"] != "INT_999" || ans["_type"] != "V4/WebService/WebServiceError" {
		t.Errorf("error answer %s", body)
	}
}

// The metrics count what was sent: an answer that could not be marshalled
// went out as an INT_999 ERROR envelope, so it is not a SUCCESS.
func TestUnmarshalableAnswerIsObservedAsError(t *testing.T) {
	observed := make(chan string, 2)
	s := v4.New(v4.Options{Auth: testAuth{shop.Shop{ID: shopID}}, Clock: clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)),
		Observe: func(name, status string, _ time.Duration) { observed <- name + " " + status }})
	s.Handle("Charge/Broken", func(*v4.Call) (any, error) {
		return map[string]any{"value": math.NaN(), "_type": "V4/Type/String"}, nil
	})
	s.Handle("Charge/Fine", func(*v4.Call) (any, error) {
		return map[string]any{"value": 1, "_type": "V4/Type/String"}, nil
	})
	mux := http.NewServeMux()
	mux.Handle("/api-payment/V4/{name...}", s)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, name := range []string{"Charge/Broken", "Charge/Fine"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api-payment/V4/"+name, strings.NewReader("{}"))
		req.SetBasicAuth(shopID, password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var env struct{ Status string }
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[string]string{"Charge/Broken": "ERROR", "Charge/Fine": "SUCCESS"}[name]
		if got := <-observed; env.Status != want || got != name+" "+want {
			t.Errorf("%s: sent status %s, observed %q; want %s for both", name, env.Status, got, want)
		}
	}
}

// Lyra documents detailedErrorMessage up to 127 characters. Details that
// quote what the caller sent (here an unknown web service's name, 300
// characters) are clipped to fit, with "…" at the end.
func TestDetailedErrorMessageFits127(t *testing.T) {
	clk := clock.NewFake(time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC))
	s := v4.New(v4.Options{Auth: testAuth{shop.Shop{ID: shopID}}, Clock: clk})
	mux := http.NewServeMux()
	mux.Handle("/api-payment/V4/{name...}", s)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api-payment/V4/Charge/"+strings.Repeat("x", 300), strings.NewReader("{}"))
	req.SetBasicAuth(shopID, password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var env struct {
		Answer struct {
			DetailedErrorMessage string `json:"detailedErrorMessage"`
		} `json:"answer"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	d := env.Answer.DetailedErrorMessage
	if n := utf8.RuneCountInString(d); n != 127 || !strings.HasPrefix(d, "no web service named Charge/xxx") || !strings.HasSuffix(d, "x…") {
		t.Fatalf("detailedErrorMessage of %d characters: %q", n, d)
	}
}
