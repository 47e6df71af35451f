// Package bench is OpenPSP's load generator: it starts a server (SQLite in a
// temporary folder, or a fresh PostgreSQL database) or targets a running
// one, drives real HTTP on loopback with a fixed number of keep-alive
// clients for a bounded time, and measures throughput, latency percentiles,
// errors, server CPU and peak RSS. In the same run it measures this
// machine's ceilings with the same client: an HTTP echo of the same request
// size and the database's durable commit rate, so that figures compare
// across noisy machines as ratios.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// DefaultPostgresURL is the server a -engine postgres run creates its
// database on when no URL is given.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// MaxConcurrency is the most clients a run drives: each is a keep-alive
// connection on loopback (both of its ends on this machine's ports) and a
// goroutine with its latency buffer, allocated before the first request.
const MaxConcurrency = 10000

// MaxVaultSize is the most tokens -vault-size pre-fills: ten times the
// largest run the README reports. A token takes about 750 bytes of SQLite
// database (measured on 20,000), so this is some 7.5 GB and, at the
// README's 1,000,000 in 25–50 s, minutes of pre-fill (about 20 on
// PostgreSQL); a mistyped size (a few zeros too many) went on filling the
// disk before the first request.
const MaxVaultSize = 10_000_000

// Options configures a run.
type Options struct {
	Scenario    string        // silent, checkout, tokenize, get, mixed, sdktest
	Engine      string        // sqlite (default) or postgres; with Target, empty or the engine of the database named
	PostgresURL string        // server on which a fresh database is created (engine postgres)
	Concurrency int           // concurrent keep-alive clients (default 64)
	Duration    time.Duration // measured window (default 10s)
	Warmup      time.Duration // load before the window, not measured (default 2s)
	// VaultSize pre-fills the vault with this many tokens (at least
	// WorkTokens are always made; payments pick among all of them).
	VaultSize  int
	WorkTokens int // default 1000

	// Target is the base URL of a running server; empty: start one.
	Target           string
	ShopID, Password string // keys for Target (default: the demo shop's TEST keys)
	// TargetDataDir / TargetDatabaseURL let a run against Target put tokens
	// in that server's vault (the same database, opened directly).
	TargetDataDir, TargetDatabaseURL string
	// MetricsToken is the bearer token the target's /metrics asks for
	// (its OPENPSP_METRICS_TOKEN), to read its database write counters.
	MetricsToken string

	// Binary is the openpsp executable started as the server (and the echo
	// server) in child processes, which lets the bench read their CPU time
	// and peak RSS. Empty: both run inside this process (tests).
	Binary string
	// CPUProfile, with Binary, writes the server's CPU profile there.
	CPUProfile string
	// CeilingDuration is how long each ceiling measurement runs (default 3s).
	CeilingDuration time.Duration
	SkipCeilings    bool
	// Log receives progress lines (nil: discarded).
	Log io.Writer
}

// Result is what a run measured. Its JSON form is the report's last line.
type Result struct {
	Scenario        string  `json:"scenario"`
	Engine          string  `json:"engine"`
	Concurrency     int     `json:"concurrency"`
	DurationS       float64 `json:"duration_s"`
	VaultSize       int     `json:"vault_size"`
	Ops             int     `json:"ops"`
	Errors          int     `json:"errors"`
	ThroughputPerS  float64 `json:"throughput_per_s"`
	P50ms           float64 `json:"p50_ms"`
	P90ms           float64 `json:"p90_ms"`
	P99ms           float64 `json:"p99_ms"`
	MaxMs           float64 `json:"max_ms"`
	EchoCeilingPerS float64 `json:"echo_ceiling_per_s"`
	EchoP99ms       float64 `json:"echo_p99_ms"`
	RatioToEcho     float64 `json:"ratio_to_echo"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`      // server VmHWM (lifetime peak), -1 unknown
	LoadRSSMB       float64 `json:"load_rss_mb"`      // largest server RSS sampled in the window
	ServerCPUCores  float64 `json:"server_cpu_cores"` // -1 unknown
	ClientCPUCores  float64 `json:"client_cpu_cores"`
	MachineCPUCores float64 `json:"machine_cpu_cores"`
	IPNReceived     int64   `json:"ipn_received"`
	// Backlog is the background work due and not done when the window
	// ended: a load the server sustains leaves about what is in flight.
	Backlog  *store.Backlog `json:"backlog_at_end,omitempty"`
	DBWrites *DBWrites      `json:"db_writes,omitempty"`
	// DBWritesNote says why DBWrites is missing when /metrics refused the
	// bench (a token to set), instead of leaving the line out silently.
	DBWritesNote  string   `json:"db_writes_note,omitempty"`
	CommitCeiling *Commits `json:"commit_ceiling,omitempty"`
	Database      string   `json:"database"`
	Machine       string   `json:"machine"`
	Server        string   `json:"server"` // child process, in-process or target
	ErrorSamples  []string `json:"error_samples,omitempty"`
	What          string   `json:"-"`
}

// Commits is the measured durable commit ceiling.
type Commits = CommitCeiling

// withoutTarget names the flags of a running server given without
// -target, which the bench would ignore while measuring a server of its own.
func (o *Options) withoutTarget() error {
	if o.Target != "" {
		return nil
	}
	shopID := o.ShopID
	if shopID == shop.DemoShopID {
		shopID = "" // the one shop of the bench's own server
	}
	for _, f := range []struct{ name, value string }{
		{"-target-data-dir", o.TargetDataDir}, {"-target-database-url", o.TargetDatabaseURL}, {"-shop", shopID},
	} {
		if f.value != "" {
			return fmt.Errorf("%s is for a running server: give its URL with -target "+
				"(without -target the bench starts a server of its own, with the demo shop)", f.name)
		}
	}
	return nil
}

func (o *Options) defaults() {
	if o.Scenario == "" {
		o.Scenario = "silent"
	}
	if o.Engine == "" {
		o.Engine = "sqlite"
	}
	if o.PostgresURL == "" {
		o.PostgresURL = DefaultPostgresURL
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	}
	if o.WorkTokens <= 0 {
		o.WorkTokens = 1000
	}
	if o.CeilingDuration <= 0 {
		o.CeilingDuration = 3 * time.Second
	}
	if o.ShopID == "" {
		o.ShopID, o.Password = shop.DemoShopID, shop.DemoTestPassword
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

func scenarioByName(name string) (*scenario, error) {
	all := map[string]*scenario{
		"silent":   silentScenario(),
		"get":      getScenario(),
		"sdktest":  sdktestScenario(),
		"checkout": checkoutScenario(),
		"tokenize": tokenizeScenario(),
	}
	all["mixed"] = mixedScenario(all)
	all["purge"] = &scenario{name: "purge", what: "the 15-month retention purge (openpsp purge) of every token in the vault, all last used 16 months ago",
		payByToken: true} // purges them
	s, ok := all[name]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q (one of %s)", name, strings.Join(Scenarios, ", "))
	}
	return s, nil
}

// Check refuses the options Run refuses before it looks at any file,
// database or server: `openpsp bench` checks its flags with it.
func (o Options) Check() error {
	if err := o.withoutTarget(); err != nil {
		return err
	}
	// Zero is "the default" (the flags' own defaults are not zero); a
	// negative value was replaced by it without a word, and the report
	// then described a run the operator had not asked for.
	for _, f := range []struct {
		name     string
		negative bool
	}{
		{"-c", o.Concurrency < 0}, {"-vault-size", o.VaultSize < 0}, {"-duration", o.Duration < 0},
		{"-warmup", o.Warmup < 0}, {"-ceiling-duration", o.CeilingDuration < 0},
	} {
		if f.negative {
			return fmt.Errorf("%s must not be negative", f.name)
		}
	}
	if o.Concurrency > MaxConcurrency {
		return fmt.Errorf("-c must be at most %d clients, not %d", MaxConcurrency, o.Concurrency)
	}
	if o.VaultSize > MaxVaultSize {
		return fmt.Errorf("-vault-size must be at most %d tokens (about 7.5 GB of SQLite database), not %d", MaxVaultSize, o.VaultSize)
	}
	o.defaults()
	sc, err := scenarioByName(o.Scenario)
	if err != nil {
		return err
	}
	if o.Engine != "sqlite" && o.Engine != "postgres" {
		return fmt.Errorf("engine must be sqlite or postgres, not %q", o.Engine)
	}
	if err := checkTarget(o.Target); err != nil {
		return err
	}
	if o.Target != "" && o.CPUProfile != "" {
		return errors.New("-cpuprofile profiles a server the bench starts, not a running one: drop -target " +
			"(or profile the running server with its own tools)")
	}
	if o.ShopID != shop.DemoShopID && (sc.name == "tokenize" || sc.name == "mixed") {
		// Its FlexCheckout links are signed with the demo shop's PSPID
		// and SHA-IN passphrase: it would measure the demo shop.
		return fmt.Errorf("the %s scenario runs as the demo shop (FlexCheckout with its Ogone account): drop -shop %s", sc.name, o.ShopID)
	}
	return nil
}

// checkTarget refuses a -target that is not an http(s) URL with a host:
// the run would start and every request fail, a report of errors only.
func checkTarget(target string) error {
	if target == "" {
		return nil // the bench starts a server of its own
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("-target must be the http:// or https:// URL of a running server, such as http://127.0.0.1:8080, not %q", target)
	}
	return nil
}

// Run performs one benchmark run.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	engineGiven := o.Engine
	o.defaults()
	sc, err := scenarioByName(o.Scenario)
	if err != nil {
		return nil, err
	}
	if o.Target != "" && o.TargetDataDir != "" && o.TargetDatabaseURL == "" {
		// Opening a folder without the database (targetSchema, the
		// pre-fill) would create an empty one and fill that vault
		// instead of the server's.
		if err := store.RequireSQLite(o.TargetDataDir); err != nil {
			return nil, fmt.Errorf("-target-data-dir: %w.\nPoint -target-data-dir at the server's data folder (its "+
				"OPENPSP_DATA_DIR or -data-dir), or -target-database-url at its PostgreSQL database", err)
		}
	}
	logf := func(format string, args ...any) { fmt.Fprintf(o.Log, format+"\n", args...) }
	res := &Result{Scenario: sc.name, Engine: o.Engine, Concurrency: o.Concurrency, DurationS: o.Duration.Seconds(),
		PeakRSSMB: -1, LoadRSSMB: -1, ServerCPUCores: -1, Machine: machineDescription(), What: sc.what}

	tmp, err := os.MkdirTemp("", "openpsp-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	// The server's database.
	dataDir := filepath.Join(tmp, "data")
	dbURL := ""
	if o.Target == "" && o.Engine == "postgres" {
		pg, err := newPGDatabase(ctx, o.PostgresURL, "openpsp_bench_")
		if err != nil {
			return nil, err
		}
		defer pg.drop()
		dbURL = pg.URL
		if res.Database, err = pgDurability(ctx, dbURL); err != nil {
			return nil, err
		}
	} else if o.Target == "" {
		res.Database = "SQLite " + engineSettings("sqlite")
	} else {
		var engine string
		engine, res.Database = targetDatabase(o)
		if engine != "unknown" && engineGiven != "" && engineGiven != engine {
			// It was ignored without a word: the target's engine is
			// measured, the database the bench was told is on it.
			return nil, fmt.Errorf("-engine %s, but the target's database is %s (the %s): against a running server "+
				"the bench measures the engine of that server's database; drop -engine", engineGiven, engine, res.Database)
		}
		res.Engine = engine
		if engine != "unknown" {
			o.Engine = engine // the commit ceiling of the target's engine
		}
	}
	env := serverEnv(dataDir, dbURL)

	// Tokens: the scenarios that pay with them get at least WorkTokens;
	// the others create what they use, and get only the -vault-size asked
	// (the size of the vault they write into).
	tokens := o.VaultSize
	if sc.payByToken {
		tokens = max(o.VaultSize, o.WorkTokens)
	}
	if sc.name == "purge" {
		if err := runPurge(ctx, o, res, env, tokens, logf); err != nil {
			return nil, err
		}
		return res, nil
	}
	if o.Target != "" {
		env = nil
		if o.TargetDataDir != "" || o.TargetDatabaseURL != "" {
			if env, err = targetEnv(o); err != nil {
				return nil, err
			}
			if err := targetSchema(ctx, env, res.Database); err != nil {
				return nil, err
			}
		}
	}
	if env != nil && tokens > 0 {
		cfg, err := configFor(env)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		logf("pre-filling the vault with %d tokens…", tokens)
		last := time.Now()
		added, err := prefillVault(ctx, cfg, prefillOptions{ShopID: o.ShopID, From: 0, To: tokens, Progress: func(done, total int) {
			if time.Since(last) > 5*time.Second {
				last = time.Now()
				logf("  %d/%d tokens (%.0f/s)", done, total, float64(done)/time.Since(start).Seconds())
			}
		}})
		if err != nil {
			return nil, fmt.Errorf("pre-fill the vault: %w", err)
		}
		if added < tokens {
			logf("vault pre-filled: %d tokens added, %d already there from an earlier run, in %s", added, tokens-added,
				time.Since(start).Round(time.Millisecond))
		} else {
			logf("vault pre-filled: %d tokens in %s (%.0f tokens/s)", tokens, time.Since(start).Round(time.Millisecond),
				float64(tokens)/time.Since(start).Seconds())
		}
		res.VaultSize = tokens
	} else {
		// Against a foreign target the bench assumes its tokens are there
		// (a previous run with -target-data-dir made them).
		res.VaultSize = tokens
	}

	client := newClient(o.Concurrency)
	defer client.CloseIdleConnections()
	runEnv := &runEnv{client: client, tokens: tokens, runID: "b" + ids.RandomHex(4), conc: o.Concurrency}

	// Ceilings first, while nothing else runs.
	if !o.SkipCeilings {
		cdir := filepath.Join(tmp, "ceiling")
		if err := os.MkdirAll(cdir, 0o700); err != nil {
			return nil, err
		}
		cURL := ""
		if o.Engine == "postgres" {
			pg, err := newPGDatabase(ctx, o.PostgresURL, "openpsp_ceiling_")
			if err != nil {
				return nil, err
			}
			cURL = pg.URL
			defer pg.drop()
		}
		logf("measuring the durable commit ceiling of %s…", o.Engine)
		cc, err := measureCommitCeiling(ctx, cdir, cURL, o.Concurrency, o.CeilingDuration)
		if err != nil {
			return nil, err
		}
		cc.Engine = o.Engine
		if res.Engine == "unknown" {
			// The target's engine is not known: the ceiling is of the
			// engine -engine names, which need not be the target's.
			why := "-engine given"
			if engineGiven == "" {
				why = "-engine's default"
			}
			cc.Note = why + "; the target's engine is not known: name its database with -target-data-dir or -target-database-url"
		}
		res.CommitCeiling = &cc
		sample := sc.sample(runEnv)
		logf("measuring the HTTP echo ceiling (%d-byte requests, %d clients)…", len(sample), o.Concurrency)
		echo, err := startEcho(o.Binary)
		if err != nil {
			return nil, err
		}
		et := &Target{URL: echo.URL, ShopID: o.ShopID, Password: o.Password}
		echoOp := func(ctx context.Context, w *Worker) error {
			req := et.v4Request("Charge/Echo", sample)
			b, _, err := do(ctx, w.Client, req, http.StatusOK)
			if err == nil && len(b) != len(sample) {
				err = errors.New("echo: short answer")
			}
			return err
		}
		el := runLoad(ctx, client, o.Concurrency, min(o.Warmup, time.Second), min(o.Duration, 5*time.Second), echoOp, nil)
		echo.close()
		client.CloseIdleConnections()
		res.EchoCeilingPerS = el.Throughput()
		res.EchoP99ms = ms(el.Percentile(0.99))
		if el.Errors > 0 {
			return nil, fmt.Errorf("echo ceiling: %d errors: %s", el.Errors, errorKinds(el.ErrorSamples))
		}
	}

	// The IPN receiver: a merchant's endpoint that answers 200.
	var ipns atomic.Int64
	ipnLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ipnSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		ipns.Add(1)
		w.WriteHeader(http.StatusOK)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ipnSrv.Serve(ipnLn) }()
	defer ipnSrv.Close()
	runEnv.ipnURL = "http://" + ipnLn.Addr().String() + "/ipn"

	// The server.
	var srv *runningServer
	switch {
	case o.Target != "":
		srv = &runningServer{URL: strings.TrimRight(o.Target, "/"), logs: &tail{}, stop: func() error { return nil }}
		res.Server = "target " + srv.URL
		if err := waitReady(ctx, srv.URL); err != nil {
			return nil, err
		}
	case o.Binary != "":
		var extra []string
		args := []string{"serve"}
		if o.CPUProfile != "" {
			abs, err := filepath.Abs(o.CPUProfile)
			if err != nil {
				return nil, err
			}
			args = []string{"bench", "-serve-profiled"}
			extra = append(extra, ProfileEnv+"="+abs)
		}
		srv, err = startChild(ctx, o.Binary, args, env, extra)
		if err != nil {
			return nil, err
		}
		res.Server = fmt.Sprintf("child process (pid %d)", srv.PID)
	default:
		srv, err = startInProcess(ctx, env)
		if err != nil {
			return nil, err
		}
		res.Server = "in-process (server CPU and RSS mixed with the load generator's)"
	}
	stopped := false
	stopServer := func() error {
		if stopped {
			return nil
		}
		stopped = true
		return srv.stop()
	}
	defer stopServer()
	runEnv.target = &Target{URL: srv.URL, ShopID: o.ShopID, Password: o.Password}

	lctx := withEnv(ctx, runEnv)
	if sc.setup != nil {
		logf("setting up %s…", sc.name)
		if err := sc.setup(lctx, runEnv); err != nil {
			return nil, fmt.Errorf("%s setup: %w%s", sc.name, missingTokensHint(err, o, env), logsAfter(srv.logs))
		}
	}

	// One operation first: a scenario the server cannot serve stops here
	// with its error instead of measuring errors.
	probe := &Worker{ID: 999_999, Client: client, Rand: newRand(999_999)}
	if err := sc.op(lctx, probe); err != nil {
		return nil, fmt.Errorf("%s: the first operation failed: %w%s", sc.name, missingTokensHint(err, o, env), logsAfter(srv.logs))
	}

	logf("running %s: %d clients, %s warm-up, %s measured…", sc.name, o.Concurrency, o.Warmup, o.Duration)
	var before cpuSnapshot
	var sampler *rssSampler
	cores := runtime.NumCPU()
	ipnBefore := ipns.Load()
	var writesBefore dbCounters
	var writesStart time.Time
	lr := runLoad(lctx, client, o.Concurrency, o.Warmup, o.Duration, sc.op, func() {
		writesBefore, writesStart = readDBCounters(ctx, client, srv.URL, o.MetricsToken), time.Now()
		before = snapshot(srv.PID)
		if srv.PID > 0 {
			sampler = sampleRSS(srv.PID, 100*time.Millisecond)
		}
	})
	after := snapshot(srv.PID)
	writesAfter := readDBCounters(ctx, client, srv.URL, o.MetricsToken)
	res.DBWrites = writesBetween(writesBefore, writesAfter, time.Since(writesStart))
	res.DBWritesNote = refusedNote(writesBefore, writesAfter)
	if env != nil {
		if b, err := backlogOf(ctx, env); err != nil {
			logf("backlog: %v", err)
		} else {
			res.Backlog = &b
		}
	}
	u := usageBetween(before, after, cores)
	if srv.PID > 0 {
		res.ServerCPUCores = round2(u.Server)
		if sampler != nil {
			res.LoadRSSMB = round1(float64(sampler.Stop()) / (1 << 20))
		}
		if _, hwm, err := procMem(srv.PID); err == nil {
			// The kernel's high-water mark lags behind its split RSS
			// counters: a sample of the window was seen 0.1 MB above it.
			res.PeakRSSMB = max(round1(float64(hwm)/(1<<20)), res.LoadRSSMB)
		}
	} else if o.Target == "" {
		// In-process: the Go heap in use is the closest figure.
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res.PeakRSSMB = round1(float64(ms.Sys) / (1 << 20))
	}
	res.ClientCPUCores = round2(u.Client)
	res.MachineCPUCores = round2(u.Machine)
	res.IPNReceived = ipns.Load() - ipnBefore
	res.Ops, res.Errors = lr.Ops, lr.Errors
	res.ThroughputPerS = round1(lr.Throughput())
	res.P50ms, res.P90ms, res.P99ms, res.MaxMs = ms(lr.Percentile(0.5)), ms(lr.Percentile(0.9)), ms(lr.Percentile(0.99)), ms(lr.Max())
	res.ErrorSamples = lr.ErrorSamples
	if res.EchoCeilingPerS > 0 {
		res.RatioToEcho = round3(res.ThroughputPerS / res.EchoCeilingPerS)
	}
	res.EchoCeilingPerS = round1(res.EchoCeilingPerS)
	if err := stopServer(); err != nil {
		logf("server stop: %v\n%s", err, srv.logs)
	}
	return res, nil
}

func ms(d time.Duration) float64 { return round2(float64(d.Microseconds()) / 1000) }

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// machineDescription names the CPU, core count and kernel.
func machineDescription() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		if kb > 0 {
			mem = fmt.Sprintf(", %d GB RAM", (kb+(1<<19))>>20)
		}
	}
	return fmt.Sprintf("%s, %d cores%s%s, %s", model, runtime.NumCPU(), mem, kernel, runtime.Version())
}

// backlogOf counts the background work the server in env still owes.
func backlogOf(ctx context.Context, env map[string]string) (store.Backlog, error) {
	cfg, err := configFor(env)
	if err != nil {
		return store.Backlog{}, err
	}
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, PostgresConns: 2})
	if err != nil {
		return store.Backlog{}, err
	}
	defer db.Close()
	return db.Backlog(ctx, time.Now())
}

// missingTokensHint adds to a V4 PSP_030 (token not found) of a -target
// run what to do: the bench's tokens are not in that server's vault.
func missingTokensHint(err error, o Options, env map[string]string) error {
	var v4 *V4Error
	if o.Target == "" || !errors.As(err, &v4) || v4.Code != "PSP_030" {
		return err
	}
	if env == nil {
		return fmt.Errorf("%w.\nThe bench's tokens are not in this server's vault: name its database with "+
			"-target-data-dir (or -target-database-url) and the bench puts them there", err)
	}
	_, db := targetDatabase(o)
	return fmt.Errorf("%w.\nThe bench put its tokens in the vault of the %s: is it the database of the server at %s?",
		err, db, o.Target)
}

// logsAfter is the server's last log lines on lines of their own, or
// nothing (a target's logs are not the bench's to read).
func logsAfter(t *tail) string {
	if s := t.String(); s != "" {
		return "\n" + s
	}
	return ""
}

// targetEnv is the environment in which the bench opens a -target server's
// database to put its tokens there. They must be sealed under the server's
// master keys: OPENPSP_MASTER_KEYS and OPENPSP_KEYRING_FILE come from the
// bench's environment, as the server takes them from its own, else the
// keyring.json of -target-data-dir. Without either it refuses: a keyring
// of its own (created in development) sealed tokens the server could not
// open, and every payment failed with INT_999.
func targetEnv(o Options) (map[string]string, error) {
	env := serverEnv(o.TargetDataDir, o.TargetDatabaseURL)
	for _, k := range []string{"OPENPSP_MASTER_KEYS", "OPENPSP_KEYRING_FILE"} {
		env[k] = os.Getenv(k)
	}
	cfg, err := configFor(env)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.MasterKeys) != "" {
		return env, nil
	}
	if _, err := os.Stat(cfg.KeyringFile); err == nil {
		return env, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("bench: the target's keyring: %w", err)
	}
	path := cfg.KeyringFile
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return nil, fmt.Errorf("bench: no keyring at %s and no OPENPSP_MASTER_KEYS: the bench seals its tokens with the "+
		"server's master keys. Name the server's data folder with -target-data-dir (its keyring.json), or set "+
		"OPENPSP_MASTER_KEYS (or OPENPSP_KEYRING_FILE) as the server has it. Nothing was created", path)
}

// targetSchema refuses, before the bench writes anything there, a -target
// server's database whose migrations are not exactly this binary's: its
// pre-fill opens the database as the server does, which migrated the
// database of an older server under it (and a newer server's database
// has a schema this binary does not know).
func targetSchema(ctx context.Context, env map[string]string, what string) error {
	cfg, err := configFor(env)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, PostgresConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Schema(ctx)
	if err != nil {
		return fmt.Errorf("bench: the target's schema: %w", err)
	}
	if st.Current() {
		return nil
	}
	at := st.Database
	if at == "" {
		at = "none (no migration has run there)"
	}
	why := fmt.Sprintf("older than this bench's %s (it lacks %s): the server runs an older version, and the bench would migrate its database under it",
		st.Binary, strings.Join(st.Missing, ", "))
	if len(st.Unknown) > 0 {
		why = fmt.Sprintf("which this bench (schema %s) does not know (%s): the server runs a newer version",
			st.Binary, strings.Join(st.Unknown, ", "))
	}
	return fmt.Errorf("bench: the target's %s is at schema version %s, %s. Against a running server the bench "+
		"never changes the schema: run the bench built from the server's own version (`openpsp bench` of the "+
		"binary the server runs). Nothing was written", what, at, why)
}

// targetDatabase is the engine and the database of a -target run, as the
// bench was told them (-target-data-dir, -target-database-url): the report
// said "sqlite ()" whatever the target ran on.
func targetDatabase(o Options) (engine, what string) {
	switch {
	case o.TargetDatabaseURL != "":
		return "postgres", "PostgreSQL database " + redact(o.TargetDatabaseURL)
	case o.TargetDataDir != "":
		path := store.SQLiteFile(o.TargetDataDir)
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		return "sqlite", "SQLite database " + path
	}
	return "unknown", "not known to the bench: name it with -target-data-dir or -target-database-url"
}
