package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// /metrics told anyone on the public listener the shop traffic and the
// database's load. With OPENPSP_METRICS_TOKEN set it wants that bearer
// token (401 with a WWW-Authenticate challenge otherwise, not the buyer's
// message page); the probes stay open for the load balancer.
func TestMetricsTokenGuardsMetricsOnly(t *testing.T) {
	const token = "s3cret-scrape-token"
	srv := httptest.NewServer(testApp(t, map[string]string{"OPENPSP_METRICS_TOKEN": token}).Handler())
	t.Cleanup(srv.Close)
	get := func(path, auth string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + token + "x", "Basic " + token, token, "Bearer"} {
		resp := get("/metrics", auth)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("GET /metrics with Authorization %q: %d, WWW-Authenticate %q; want 401 and a Bearer challenge",
				auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("GET /metrics with Authorization %q: Content-Type %q, want text/plain", auth, ct)
		}
	}
	for _, auth := range []string{"Bearer " + token, "bearer " + token} {
		if resp := get("/metrics", auth); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /metrics with the token (%q): %d", auth, resp.StatusCode)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp := get(p, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: %d, want 200", p, resp.StatusCode)
		}
	}
}

// Without the setting /metrics stays open, as before.
func TestMetricsOpenWithoutToken(t *testing.T) {
	srv := httptest.NewServer(testApp(t, nil).Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics without a token setting: %d", resp.StatusCode)
	}
}
