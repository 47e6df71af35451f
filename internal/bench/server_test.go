package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeServeEnv makes this test binary act as a child `openpsp serve` for
// TestStartChildCopesWithItsOutput (see TestFakeServe).
const fakeServeEnv = "OPENPSP_BENCH_FAKE_SERVE"

// TestFakeServe is the fake child: it does nothing in a normal test run.
// As a child it first floods stderr (one line longer than the bench reads
// as a line, then 1 MB of log lines: the access log of a busy server),
// then announces its URL as $OPENPSP_BENCH_FAKE_SERVE says (the text
// banner on stdout, or the JSON record on stderr), answers /readyz and
// waits for SIGTERM.
func TestFakeServe(t *testing.T) {
	mode := os.Getenv(fakeServeEnv)
	if mode == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(3)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	os.Stderr.WriteString(strings.Repeat("x", 2<<20) + "\n")
	line := `time=2026-01-01T00:00:00Z level=INFO msg="http request" method=POST path=/api-payment/V4/Charge/CreatePayment status=200` + "\n"
	for range (1 << 20) / len(line) {
		os.Stderr.WriteString(line)
	}
	u := "http://" + ln.Addr().String()
	if mode == "json" {
		fmt.Fprintf(os.Stderr, `{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"openpsp started","url":%q,"api_v4":"%s/api-payment/V4/"}`+"\n", u, u)
	} else {
		fmt.Fprintf(os.Stdout, "\nOpenPSP is running\n\n  REST API V4      %s/api-payment/V4/\n", u)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	<-stop
	os.Exit(0)
}

// The bench read its child's stderr line by line and stopped reading at a
// line longer than its buffer: the child then blocked on its next log
// line, with it every request that logs (the access log), and the bench
// waited for a URL that never came. It drains both streams to their end,
// and finds the URL in the JSON logs' start record as in the text banner.
func TestStartChildCopesWithItsOutput(t *testing.T) {
	for _, mode := range []string{"text", "json"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			srv, err := startChild(ctx, os.Args[0], []string{"-test.run=^TestFakeServe$"}, map[string]string{fakeServeEnv: mode}, nil)
			if err != nil {
				t.Fatalf("startChild: %v", err)
			}
			if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
				t.Errorf("URL %q", srv.URL)
			}
			if err := srv.stop(); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
	}
}
