package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// EchoHandler answers every request with its own body: the least work an
// HTTP server can do for a request of a given size. Its throughput, with
// the same client and concurrency as a scenario, is the ceiling the
// scenario is compared to.
func EchoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	})
}

// EchoBanner prefixes the line a child echo server prints with its URL.
const EchoBanner = "OPENPSP-BENCH-ECHO "

// ServeEcho listens on 127.0.0.1:0, prints EchoBanner+URL on out and serves
// the echo until ctx ends. `openpsp bench -serve-echo` runs it in a child
// process, so that the echo server, like the OpenPSP server, does not share
// the load generator's Go runtime.
func ServeEcho(ctx context.Context, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: EchoHandler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "%shttp://%s\n", EchoBanner, ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// echoServer is a running echo server: a child process or in-process.
type echoServer struct {
	URL   string
	PID   int // 0 in-process
	close func()
}

func startEcho(bin string) (*echoServer, error) {
	if bin == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: EchoHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		return &echoServer{URL: "http://" + ln.Addr().String(), close: func() { _ = srv.Close() }}, nil
	}
	cmd := exec.Command(bin, "bench", "-serve-echo")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), EchoBanner); ok {
				urlCh <- u
			}
		}
	}()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	select {
	case u := <-urlCh:
		return &echoServer{URL: u, PID: cmd.Process.Pid, close: stop}, nil
	case <-done:
		return nil, fmt.Errorf("bench: echo server exited: %s", stderr.String())
	case <-time.After(30 * time.Second):
		stop()
		return nil, fmt.Errorf("bench: echo server did not start")
	}
}

// bannerURL finds the server's URL in `openpsp serve`'s text banner, or in
// its start record with JSON logs (one of the two groups is set).
var bannerURL = regexp.MustCompile(`REST API V4\s+(http://[^/\s]+)/|"api_v4":"(http://[^/"]+)/`)
