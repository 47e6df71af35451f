package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/shop"
)

// serveOutput runs `openpsp serve` until it has said lastWord, then stops
// it, and returns what it printed on stdout and on stderr.
func serveOutput(t *testing.T, lastWord string) (stdout, stderr []string) {
	t.Helper()
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	t.Setenv("OPENPSP_ADDR", "127.0.0.1:0")
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outW, errW
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	read := func(r *os.File, lines *[]string, done chan<- struct{}) {
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			*lines = append(*lines, sc.Text())
			if strings.Contains(sc.Text(), lastWord) {
				cancel()
			}
		}
		close(done)
	}
	outDone, errDone := make(chan struct{}), make(chan struct{})
	go read(outR, &stdout, outDone)
	go read(errR, &stderr, errDone)
	runErr := run(ctx, []string{"serve"})
	os.Stdout, os.Stderr = oldOut, oldErr
	outW.Close()
	errW.Close()
	<-outDone
	<-errDone
	if runErr != nil {
		t.Fatalf("serve: %v\nstdout:\n%s\nstderr:\n%s", runErr, strings.Join(stdout, "\n"), strings.Join(stderr, "\n"))
	}
	return stdout, stderr
}

// With JSON logs the start banner was printed as plain-text lines beside
// the JSON records, which a log shipper cannot parse. Its facts are now
// JSON records: every line the server prints is one, and they still give
// the URLs and the demo shop's (public) keys to whoever starts the demo.
func TestServeBannerWithJSONLogs(t *testing.T) {
	t.Setenv("OPENPSP_LOG_FORMAT", "json")
	// Even at warn: the text banner ignores the level, so does its record.
	t.Setenv("OPENPSP_LOG_LEVEL", "warn")
	stdout, stderr := serveOutput(t, "4970100000000055")
	var started, demo map[string]any
	for _, line := range append(stdout, stderr...) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON record: %q", line)
			continue
		}
		switch rec["msg"] {
		case "openpsp started":
			started = rec
		case "demo shop":
			demo = rec
		}
	}
	if started == nil || demo == nil {
		t.Fatalf("no start or demo shop record:\nstdout:\n%s\nstderr:\n%s", strings.Join(stdout, "\n"), strings.Join(stderr, "\n"))
	}
	if u, _ := started["api_v4"].(string); !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/api-payment/V4/") {
		t.Errorf("start record's api_v4 = %v", started["api_v4"])
	}
	for k, v := range map[string]string{"shop_id": shop.DemoShopID, "password": shop.DemoTestPassword, "public_key": shop.DemoTestPublicKey,
		"hmac_sha256_key": shop.DemoTestHMACKey, "ogone_pspid": shop.DemoPSPID} {
		if demo[k] != v {
			t.Errorf("demo shop record %s = %v, want %v", k, demo[k], v)
		}
	}
}

// With text logs the banner stays the plain-text block people read.
func TestServeBannerWithTextLogs(t *testing.T) {
	t.Setenv("OPENPSP_LOG_FORMAT", "text")
	stdout, _ := serveOutput(t, "4970100000000055")
	out := strings.Join(stdout, "\n")
	for _, want := range []string{"REST API V4      http://127.0.0.1:", "password         " + shop.DemoTestPassword, "HMAC-SHA-256 key " + shop.DemoTestHMACKey} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
}
