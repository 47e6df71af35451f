package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/vault"
)

// runPurge measures the 15-month retention purge: the vault is filled with
// tokens last used 16 months ago, then `openpsp purge` (a child process, or
// the vault in this process) destroys their card data. Throughput is tokens
// purged per second; the duration is the purge's wall time.
func runPurge(ctx context.Context, o Options, res *Result, env map[string]string, tokens int, logf func(string, ...any)) error {
	if o.Target != "" {
		return fmt.Errorf("the purge scenario runs on its own database: drop -target")
	}
	cfg, err := configFor(env)
	if err != nil {
		return err
	}
	start := time.Now()
	logf("pre-filling the vault with %d tokens last used 16 months ago…", tokens)
	if _, err := prefillVault(ctx, cfg, prefillOptions{From: 0, To: tokens, LastUsed: vault.Months(16).Before(time.Now().UTC())}); err != nil {
		return fmt.Errorf("pre-fill the vault: %w", err)
	}
	logf("vault pre-filled in %s", time.Since(start).Round(time.Millisecond))
	res.VaultSize = tokens

	logf("purging…")
	var purged int
	var elapsed time.Duration
	if o.Binary != "" {
		cmd := exec.CommandContext(ctx, o.Binary, "purge")
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = io.Discard
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		before := snapshot(cmd.Process.Pid)
		sampler := sampleRSS(cmd.Process.Pid, 50*time.Millisecond)
		var last cpuSnapshot
		// Read the child's counters until it exits (they vanish with it).
		doneCh := make(chan error, 1)
		go func() { doneCh <- cmd.Wait() }()
		tick := time.NewTicker(50 * time.Millisecond)
		var werr error
	wait:
		for {
			select {
			case werr = <-doneCh:
				break wait
			case <-tick.C:
				if s := snapshot(cmd.Process.Pid); s.server > 0 {
					last = s
				}
			}
		}
		tick.Stop()
		elapsed = time.Since(t0)
		res.LoadRSSMB = round1(float64(sampler.Stop()) / (1 << 20))
		res.PeakRSSMB = res.LoadRSSMB
		if last.server > 0 {
			u := usageBetween(before, last, runtime.NumCPU())
			res.ServerCPUCores = round2(u.Server)
			res.MachineCPUCores = round2(u.Machine)
		}
		if werr != nil {
			return fmt.Errorf("openpsp purge: %v: %s", werr, out.String())
		}
		m := regexp.MustCompile(`purged the card data of (\d+) tokens`).FindStringSubmatch(out.String())
		if m == nil {
			return fmt.Errorf("openpsp purge printed: %s", out.String())
		}
		purged, _ = strconv.Atoi(m[1])
		res.Server = "child process: openpsp purge"
	} else {
		cfg.Jobs, cfg.Demo = false, false
		a, err := app.New(ctx, cfg, app.Options{LogOutput: io.Discard})
		if err != nil {
			return err
		}
		t0 := time.Now()
		purged, err = a.Vault.PurgeRetention(ctx, vault.PurgeOptions{})
		elapsed = time.Since(t0)
		a.Close()
		if err != nil {
			return err
		}
		res.Server = "in-process vault.PurgeRetention"
	}
	res.Ops = purged
	if purged != tokens {
		res.Errors = tokens - purged
		res.ErrorSamples = append(res.ErrorSamples, fmt.Sprintf("purged %d of %d tokens", purged, tokens))
	}
	res.DurationS = round2(elapsed.Seconds())
	res.ThroughputPerS = round1(float64(purged) / elapsed.Seconds())
	res.Concurrency = 0
	logf("purged %d tokens in %s", purged, elapsed.Round(time.Millisecond))
	return nil
}
