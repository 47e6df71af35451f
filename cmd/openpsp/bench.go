package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/bench"
)

const benchUsage = `usage: openpsp bench [flags]

Starts its own server (SQLite in a temporary folder, or a fresh PostgreSQL
database with -engine postgres) or targets a running one (-target), measures
this machine's ceilings with the same client (an HTTP echo of the same request
size; the database's durable commit rate), then drives the scenario with a
fixed number of keep-alive clients on loopback. Prints a table, then the
result as one JSON line.

flags:`

// benchFlagValues are the flags of `openpsp bench` besides bench.Options.
type benchFlagValues struct {
	opts                                       bench.Options
	inProcess, serveEcho, serveProfiled, quiet *bool
	metricsTokenFlag                           *string
}

// metricsToken is -metrics-token, else OPENPSP_METRICS_TOKEN: the variable
// the server takes its token from, so that an operator's environment works
// for both. Not a flag default, which help would print.
func (v *benchFlagValues) metricsToken() string {
	if *v.metricsTokenFlag != "" {
		return *v.metricsTokenFlag
	}
	return os.Getenv("OPENPSP_METRICS_TOKEN")
}

// benchFlags defines the flags of `openpsp bench`. Those whose usage starts
// with "internal:" are the ones the bench passes to the child processes it
// starts: they work, and help leaves them out.
func benchFlags() (*flag.FlagSet, *benchFlagValues) {
	fs := flag.NewFlagSet("openpsp bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), benchUsage)
		printVisibleDefaults(fs)
	}
	v := &benchFlagValues{}
	o := &v.opts
	fs.StringVar(&o.Scenario, "scenario", "silent", "what to measure: "+strings.Join(bench.Scenarios, ", "))
	fs.StringVar(&o.Engine, "engine", "sqlite", "database of the server the bench starts: sqlite or postgres (with -target: that of the database -target-data-dir or -target-database-url names, another is refused; with neither, the engine of the commit ceiling, which the report then marks as not the target's known engine)")
	fs.StringVar(&o.PostgresURL, "postgres-url", bench.DefaultPostgresURL, "PostgreSQL server on which -engine postgres creates (and drops) a fresh database")
	fs.IntVar(&o.Concurrency, "c", 64, "concurrent keep-alive clients")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured duration")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "load before the measured window (not counted)")
	fs.IntVar(&o.VaultSize, "vault-size", 0, fmt.Sprintf("pre-fill the vault with this many tokens first, at most %d (payments pick among them; silent, get and mixed get at least 1000)", bench.MaxVaultSize))
	fs.StringVar(&o.Target, "target", "", "base URL of a running server instead of starting one")
	fs.StringVar(&o.ShopID, "shop", "", "shop id for -target, whose TEST-mode vault gets the bench tokens (default: the demo shop; tokenize and mixed run as the demo shop only)")
	fs.StringVar(&o.Password, "password", "", "REST API TEST password for -target (default: the demo shop's)")
	fs.StringVar(&o.TargetDataDir, "target-data-dir", "", "with -target: the server's data folder, to put the bench tokens in its vault")
	fs.StringVar(&o.TargetDatabaseURL, "target-database-url", "", "with -target: the server's PostgreSQL URL, to put the bench tokens in its vault (sealed with $OPENPSP_MASTER_KEYS, else the keyring.json of -target-data-dir)")
	v.metricsTokenFlag = fs.String("metrics-token", "", "bearer token of the server's /metrics, for the \"db writes\" line (default: $OPENPSP_METRICS_TOKEN)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write the server's CPU profile to this file (go tool pprof)")
	fs.DurationVar(&o.CeilingDuration, "ceiling-duration", 3*time.Second, "duration of each database ceiling measurement")
	fs.BoolVar(&o.SkipCeilings, "no-ceilings", false, "skip the echo and database ceilings")
	v.inProcess = fs.Bool("in-process", false, "run the server inside the bench process (no server CPU/RSS figures)")
	v.serveEcho = fs.Bool("serve-echo", false, "internal: serve the echo ceiling server")
	v.serveProfiled = fs.Bool("serve-profiled", false, "internal: serve under a CPU profile")
	v.quiet = fs.Bool("q", false, "no progress lines on stderr")
	return fs, v
}

// printVisibleDefaults is fs.PrintDefaults without the flags whose usage
// starts with "internal:".
func printVisibleDefaults(fs *flag.FlagSet) {
	visible := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	visible.SetOutput(fs.Output())
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "internal:") {
			return
		}
		visible.Var(f.Value, f.Name, f.Usage)
		visible.Lookup(f.Name).DefValue = f.DefValue
	})
	visible.PrintDefaults()
}

// benchRun is a parsed `openpsp bench` command line.
type benchRun struct {
	opts                                       bench.Options
	inProcess, serveEcho, serveProfiled, quiet bool
}

// parseBench parses `openpsp bench ARGS…` and checks the options of the
// run (bench.Options.Check) without starting or opening anything; the flag
// package writes its messages and the help to stderr.
func parseBench(args []string, stderr io.Writer) (benchRun, error) {
	fs, v := benchFlags()
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return benchRun{}, parseErr(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "openpsp bench: unexpected arguments %q\n", fs.Args())
		return benchRun{}, errUsage
	}
	// The flags' defaults are not zero: a zero typed is a mistake, which
	// the run would have replaced by the default without a word.
	if v.opts.Concurrency == 0 {
		return benchRun{}, errors.New("-c must be at least 1 client (64 when not given)")
	}
	if v.opts.Duration == 0 {
		return benchRun{}, errors.New("-duration must be longer than 0 (10s when not given)")
	}
	r := benchRun{opts: v.opts, inProcess: *v.inProcess, serveEcho: *v.serveEcho, serveProfiled: *v.serveProfiled, quiet: *v.quiet}
	r.opts.MetricsToken = v.metricsToken()
	engineGiven := false
	fs.Visit(func(f *flag.Flag) { engineGiven = engineGiven || f.Name == "engine" })
	if r.opts.Target != "" && !engineGiven {
		// The default names the server the bench starts; a running
		// server's is that of its database (an -engine given must be it).
		r.opts.Engine = ""
	}
	if r.serveEcho || r.serveProfiled {
		return r, nil // a child the bench started: it serves, it runs nothing
	}
	if r.inProcess && r.opts.CPUProfile != "" {
		return benchRun{}, fmt.Errorf("-cpuprofile needs the server in a child process (drop -in-process)")
	}
	return r, r.opts.Check()
}

func benchCmd(ctx context.Context, args []string) error {
	r, err := parseBench(args, os.Stderr)
	if err != nil {
		return err
	}
	o := r.opts
	switch {
	case r.serveEcho:
		return bench.ServeEcho(ctx, os.Stdout)
	case r.serveProfiled:
		return bench.ServeProfiled(ctx, os.Stdout)
	}
	if !r.inProcess {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the openpsp executable: %w", err)
		}
		o.Binary = exe
	}
	if !r.quiet {
		o.Log = os.Stderr
	}
	res, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	return bench.WriteReport(os.Stdout, res)
}
