package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/shop"
)

// On SIGTERM the listener closed at once, so /readyz never said
// "draining": a load balancer kept sending requests until they were
// refused. With OPENPSP_SHUTDOWN_DRAIN, /readyz answers 503 "draining" for
// that long while every request is still served; then the server stops.
func TestReadyzDrainsBeforeShutdown(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load(nil, func(k string) string {
		switch k {
		case "OPENPSP_ADDR":
			return "127.0.0.1:0"
		case "OPENPSP_DATA_DIR":
			return dir
		case "OPENPSP_SHUTDOWN_DRAIN":
			return "3s"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	s := &server{App: a, URL: a.URL()}
	if r := answer(s.v4(t, "Charge/SDKTest", map[string]any{"value": "before"})); r["value"] != "before" {
		t.Fatalf("SDKTest before the shutdown: %v", r)
	}

	cancel() // what SIGTERM does in `openpsp serve`
	deadline := time.Now().Add(3 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/readyz")
		if errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatal("the listener closed without /readyz ever answering draining")
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(b), "draining") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still answers %d %s", resp.StatusCode, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Draining: requests are still served.
	if r := answer(s.v4As(t, shop.DemoShopID, shop.DemoTestPassword, "Charge/SDKTest", map[string]any{"value": "draining"})); r["value"] != "draining" {
		t.Fatalf("SDKTest while draining: %v", r)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop after the drain")
	}
	if _, err := http.Get(s.URL + "/readyz"); err == nil {
		t.Fatal("still listening after the shutdown")
	}
}
