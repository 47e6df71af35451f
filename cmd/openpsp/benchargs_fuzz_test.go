package main

import (
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/bench"
)

// FuzzBenchArgs parses `openpsp bench` command lines (one argument a line)
// as the command does, up to the run it never starts (parseBench). Whatever
// an operator types ends in options a run can start with, or in the help or
// an error that says what is wrong (on stderr for the flag package's own),
// never a panic. Options accepted are ones the run takes as given: a
// scenario and an engine it knows, no negative count or duration (which
// the run's defaults replaced without a word), and no more clients than
// bench.MaxConcurrency (a run allocates per client before its first
// request: a mistyped -c ran the machine out of memory), and no larger
// vault than bench.MaxVaultSize (a mistyped -vault-size filled the disk,
// about 750 bytes a token, before the first request).
func FuzzBenchArgs(f *testing.F) {
	for _, s := range []string{
		"", "-h", "-help", "extra", "-scenario\ncheckout", "-scenario\nnope", "-engine\npostgres", "-engine\nmysql",
		"-c\n8\n-duration\n3s\n-warmup\n0s", "-c\nx", "-c\n0", "-vault-size\n20000", "-no-ceilings\n-q",
		"-target\nhttp://127.0.0.1:8080", "-target\nhttp://127.0.0.1:8080\n-engine\nsqlite", "-target-data-dir\n/tmp/x",
		"-shop\n12345678", "-shop\n12345678\n-scenario\ntokenize", "-target\nhttp://127.0.0.1:8080\n-cpuprofile\ncpu.out",
		"-in-process\n-cpuprofile\ncpu.out", "-serve-echo", "-serve-profiled", "-metrics-token\nt",
		"-duration\n0", "-vault-size\n10000000", "-vault-size\n10000001", "-vault-size\n9223372036854775807",
		"-vault-size\n-1", "-vault-size\n1e9", "-target\n127.0.0.1:8080", "-target\nftp://h", "-target\nhttp://", "-target\nhttp:///p",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rawArgs string) {
		// What a shell can pass: no NUL in an argument.
		if len(rawArgs) > 1024 || strings.ContainsRune(rawArgs, 0) {
			return
		}
		var args []string
		if rawArgs != "" {
			args = strings.Split(rawArgs, "\n")
		}
		var stderr strings.Builder
		r, err := parseBench(args, &stderr)
		if err != nil {
			if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
				if strings.TrimSpace(stderr.String()) == "" {
					t.Fatalf("%q: %v with nothing on stderr", args, err)
				}
			} else if strings.TrimSpace(err.Error()) == "" || strings.Contains(err.Error(), "%!") {
				t.Fatalf("%q: the error %q says nothing", args, err)
			}
			return
		}
		if r.serveEcho || r.serveProfiled {
			return // a child the bench starts: its other flags are not used
		}
		o := r.opts
		if err := o.Check(); err != nil {
			t.Fatalf("%q accepted, yet the run refuses it: %v", args, err)
		}
		if o.Scenario != "" && !slices.Contains(bench.Scenarios, o.Scenario) {
			t.Fatalf("%q: scenario %q accepted", args, o.Scenario)
		}
		if o.Concurrency <= 0 || o.Concurrency > bench.MaxConcurrency || o.VaultSize < 0 || o.VaultSize > bench.MaxVaultSize || o.Duration <= 0 || o.Warmup < 0 || o.CeilingDuration < 0 {
			t.Fatalf("%q accepted: %d clients, vault %d, duration %s, warm-up %s, ceilings %s", args,
				o.Concurrency, o.VaultSize, o.Duration, o.Warmup, o.CeilingDuration)
		}
	})
}

// A zero count or duration, a vault larger than bench.MaxVaultSize, or a
// -target that is not an http(s) URL with a host, is a mistake the command
// refuses before any load, naming the flag: -c 0 and -duration 0 ran the
// defaults (64 clients, 10s) without a word, -vault-size 1000000000 began
// filling the disk with 750 GB of tokens, and a bad -target ran a bench
// whose every request failed.
func TestBenchRefusesZeroesOversizesAndBadTargets(t *testing.T) {
	for _, args := range [][]string{
		{"-c", "0"}, {"-duration", "0"}, {"-duration", "0s"},
		{"-vault-size", "10000001"}, {"-vault-size", "1000000000"}, {"-vault-size", "9223372036854775807"},
		{"-target", "127.0.0.1:8080"}, {"-target", "ftp://127.0.0.1:8080"}, {"-target", "http://"},
		{"-target", "http:///path"}, {"-target", "localhost"}, {"-target", "http://exa mple.com"},
	} {
		var stderr strings.Builder
		_, err := parseBench(args, &stderr)
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%q: %v, want a refusal naming %s", args, err, args[0])
		}
	}
	for _, args := range [][]string{
		{"-target", "http://127.0.0.1:8080"}, {"-target", "https://psp.example.com/"}, {"-target", "HTTP://[::1]:8080"},
		{"-vault-size", "10000000"},
	} {
		var stderr strings.Builder
		if _, err := parseBench(args, &stderr); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
}
