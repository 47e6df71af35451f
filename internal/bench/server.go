package bench

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/ids"
)

// serverEnv is the environment of the OpenPSP server the bench starts.
func serverEnv(dataDir, dbURL string) map[string]string {
	return map[string]string{
		"OPENPSP_ENV":          "development",
		"OPENPSP_ADDR":         "127.0.0.1:0",
		"OPENPSP_DATA_DIR":     dataDir,
		"OPENPSP_DATABASE_URL": dbURL,
		"OPENPSP_LOG_LEVEL":    "warn",
		"OPENPSP_LOG_FORMAT":   "text",
		"OPENPSP_JOBS":         "true",
		"OPENPSP_DEMO":         "true",
		// Durable: FULL is the default; said here so that an operator's
		// environment cannot weaken the measured server.
		"OPENPSP_SQLITE_SYNCHRONOUS": "FULL",
		"OPENPSP_ALLOW_UNSAFE_SYNC":  "false",
		"OPENPSP_MASTER_KEYS":        "",
	}
}

func configFor(env map[string]string) (config.Config, error) {
	return config.Load(nil, func(k string) string { return env[k] })
}

// runningServer is the OpenPSP server under load.
type runningServer struct {
	URL  string
	PID  int // 0: in-process or remote (no CPU/RSS accounting)
	logs *tail
	stop func() error
}

// tail keeps the last lines a child printed, for error messages.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	if len(t.lines) > 40 {
		t.lines = t.lines[len(t.lines)-40:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// startChild runs `bin serve` with env and waits until it is ready.
func startChild(ctx context.Context, bin string, args []string, env map[string]string, extraEnv []string) (*runningServer, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	logs := &tail{}
	urlCh := make(chan string, 1)
	var found atomic.Bool
	// Both streams are read to their end: a child blocked on a full pipe
	// blocks with it every request that logs (the access log). The URL is
	// in the text banner on stdout, or with JSON logs in the start record
	// on stderr.
	read := func(r io.Reader) {
		readLines(r, func(line string) {
			logs.add(line)
			if found.Load() {
				return
			}
			if m := bannerURL.FindStringSubmatch(line); m != nil && found.CompareAndSwap(false, true) {
				urlCh <- m[1] + m[2]
			}
		})
	}
	go read(stdout)
	go read(stderr)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("bench: server did not stop on SIGTERM within 30s")
		}
	}
	var u string
	select {
	case u = <-urlCh:
	case err := <-done:
		return nil, fmt.Errorf("bench: openpsp serve exited: %v\n%s", err, logs)
	case <-time.After(60 * time.Second):
		_ = stop()
		return nil, fmt.Errorf("bench: openpsp serve did not print its URL\n%s", logs)
	case <-ctx.Done():
		_ = stop()
		return nil, ctx.Err()
	}
	s := &runningServer{URL: u, PID: cmd.Process.Pid, logs: logs, stop: stop}
	if err := waitReady(ctx, u); err != nil {
		_ = stop()
		return nil, fmt.Errorf("%w\n%s", err, logs)
	}
	return s, nil
}

// readLines calls each with every line r gives until its end, without
// the line's end; of a line longer than 64 KiB only its start (a
// bufio.Scanner stops at such a line, and the child writing to the pipe
// then blocks).
func readLines(r io.Reader, each func(string)) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := br.ReadSlice('\n')
		line := strings.TrimRight(string(b), "\r\n")
		for err == bufio.ErrBufferFull {
			_, err = br.ReadSlice('\n')
		}
		if err == nil || line != "" {
			each(line)
		}
		if err != nil {
			return
		}
	}
}

// PprofEnv names the variable with a loopback address on which
// ServeProfiled serves net/http/pprof (block and mutex profiling on).
const PprofEnv = "OPENPSP_BENCH_PPROF"

// ProfileEnv names the variable that makes ServeProfiled write a CPU profile.
const ProfileEnv = "OPENPSP_BENCH_CPUPROFILE"

// ServeProfiled is `openpsp serve` under a CPU profile (written to the file
// named by $OPENPSP_BENCH_CPUPROFILE when the server stops): the bench runs
// it as `openpsp bench -serve-profiled` when asked for -cpuprofile.
func ServeProfiled(ctx context.Context, stdout io.Writer) error {
	cfg, err := config.Load(nil, os.Getenv)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Listen(); err != nil {
		return err
	}
	if path := os.Getenv(ProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if addr := os.Getenv(PprofEnv); addr != "" {
		// Profiles on demand while the load runs (goroutines, block and
		// mutex contention, heap), on a loopback listener of their own.
		runtime.SetBlockProfileRate(int(100 * time.Microsecond))
		runtime.SetMutexProfileFraction(10)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		go func() { _ = http.Serve(ln, mux) }()
		fmt.Fprintf(stdout, "  pprof            http://%s/debug/pprof/\n", ln.Addr())
	}
	fmt.Fprintf(stdout, "  REST API V4      %s/api-payment/V4/\n", a.URL())
	return a.Run(ctx)
}

// startInProcess boots the app in this process (tests; -in-process).
func startInProcess(ctx context.Context, env map[string]string) (*runningServer, error) {
	cfg, err := configFor(env)
	if err != nil {
		return nil, err
	}
	a, err := app.New(ctx, cfg, app.Options{LogOutput: io.Discard})
	if err != nil {
		return nil, err
	}
	if err := a.Listen(); err != nil {
		a.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	s := &runningServer{URL: a.URL(), logs: &tail{}, stop: func() error {
		cancel()
		err := <-done
		a.Close()
		return err
	}}
	if err := waitReady(ctx, s.URL); err != nil {
		_ = s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls /readyz with a bounded deadline.
func waitReady(ctx context.Context, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("readyz answered %d", resp.StatusCode)
		} else {
			last = err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("bench: server at %s not ready: %v", base, last)
}

// pgDatabase is a fresh PostgreSQL database, dropped by drop.
type pgDatabase struct {
	URL  string
	drop func()
}

// newPGDatabase creates an empty database on the server of adminURL.
func newPGDatabase(ctx context.Context, adminURL, prefix string) (*pgDatabase, error) {
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return nil, err
	}
	name := prefix + strings.ReplaceAll(ids.RandomHex(6), "-", "")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("bench: create database on %s: %w", redact(adminURL), err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		admin.Close()
		return nil, err
	}
	u.Path = "/" + name
	return &pgDatabase{URL: u.String(), drop: func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	}}, nil
}

// pgDurability reads the settings that make a commit durable.
func pgDurability(ctx context.Context, dbURL string) (string, error) {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var fsync, sc, version string
	if err := db.QueryRowContext(ctx, "SHOW fsync").Scan(&fsync); err != nil {
		return "", err
	}
	if err := db.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil {
		return "", err
	}
	_ = db.QueryRowContext(ctx, "SHOW server_version").Scan(&version)
	if fsync != "on" || sc == "off" {
		return "", fmt.Errorf("bench: PostgreSQL is not durable (fsync=%s, synchronous_commit=%s): refusing to measure", fsync, sc)
	}
	return fmt.Sprintf("PostgreSQL %s, fsync=%s, synchronous_commit=%s", strings.Fields(version + " ?")[0], fsync, sc), nil
}

// redact is a PostgreSQL connection string without its password: the
// user info's, a ?password= parameter's, or a key=value string's
// password=… (which url.Parse takes for a path and Redacted leaves as is).
func redact(s string) string {
	if !strings.Contains(s, "://") {
		return dsnPassword.ReplaceAllString(s, "")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(database URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	if q := u.Query(); q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

var dsnPassword = regexp.MustCompile(`\s*\bpassword\s*=\s*('(\\.|[^'])*'|\S*)`)
