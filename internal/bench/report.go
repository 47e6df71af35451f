package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// notMeasured says why the server's CPU and RSS are not in the report.
func notMeasured(r *Result) string {
	if strings.HasPrefix(r.Server, "target") {
		return "known only for a server the bench starts"
	}
	if strings.HasPrefix(r.Server, "in-process") {
		return "the server runs inside the bench's process"
	}
	return "not read from /proc"
}

// WriteReport prints the human table, then the result as one JSON line
// (always the last line, for scripts).
func WriteReport(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	na := func(f float64, unit string) string {
		if f < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f%s", f, unit)
	}
	fmt.Fprintf(tw, "OpenPSP bench\t\n")
	fmt.Fprintf(tw, "machine\t%s\n", r.Machine)
	fmt.Fprintf(tw, "server\t%s\n", r.Server)
	fmt.Fprintf(tw, "database\t%s (%s)\n", r.Engine, r.Database)
	fmt.Fprintf(tw, "scenario\t%s: %s\n", r.Scenario, r.What)
	if r.Scenario == "purge" {
		fmt.Fprintf(tw, "vault\t%d tokens\n", r.VaultSize)
		fmt.Fprintf(tw, "\t\n")
		fmt.Fprintf(tw, "purge\t%d tokens purged in %.2f s (%.0f tokens/s), %d not purged\n", r.Ops, r.DurationS, r.ThroughputPerS, r.Errors)
	} else {
		window := time.Duration(r.DurationS * float64(time.Second)).Round(time.Millisecond)
		fmt.Fprintf(tw, "load\t%d keep-alive clients, %s measured, vault %d tokens\n", r.Concurrency, window, r.VaultSize)
		fmt.Fprintf(tw, "\t\n")
		fmt.Fprintf(tw, "throughput\t%.1f ops/s (%d ops, %d errors)\n", r.ThroughputPerS, r.Ops, r.Errors)
		fmt.Fprintf(tw, "latency\tp50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.P50ms, r.P90ms, r.P99ms, r.MaxMs)
	}
	if r.EchoCeilingPerS > 0 {
		fmt.Fprintf(tw, "echo ceiling\t%.1f req/s (p99 %.2f ms): ratio %.3f\n", r.EchoCeilingPerS, r.EchoP99ms, r.RatioToEcho)
	}
	if c := r.CommitCeiling; c != nil {
		engine := c.Engine
		if c.Note != "" {
			engine += " (" + c.Note + ")"
		}
		fmt.Fprintf(tw, "commit ceiling\t%s: %.0f commits/s (1 row each), %.0f rows/s (100 per commit), %.0f rows/s (group commit, %d writers)\n",
			engine, c.OneRowCommitsPerS, c.BatchRowsPerS, c.GroupRowsPerS, r.Concurrency)
	}
	proc, cpu := "server", na(r.ServerCPUCores, " cores")
	if r.ServerCPUCores < 0 {
		cpu = "n/a, " + notMeasured(r)
	}
	if r.Scenario == "purge" {
		proc = "purge"
		fmt.Fprintf(tw, "purge CPU\t%s (machine %.2f of its cores busy, the database included)\n", cpu, r.MachineCPUCores)
	} else {
		fmt.Fprintf(tw, "server CPU\t%s (machine %.2f of its cores busy; load generator %.2f)\n", cpu, r.MachineCPUCores, r.ClientCPUCores)
	}
	if r.PeakRSSMB < 0 && r.LoadRSSMB < 0 {
		fmt.Fprintf(tw, "%s RSS\tn/a, %s\n", proc, notMeasured(r))
	} else {
		fmt.Fprintf(tw, "%s RSS\tpeak %s, under load %s\n", proc, na(r.PeakRSSMB, " MB"), na(r.LoadRSSMB, " MB"))
	}
	if r.IPNReceived > 0 {
		fmt.Fprintf(tw, "IPN\t%d received by the bench's merchant endpoint during the window\n", r.IPNReceived)
	}
	if r.Backlog != nil {
		fmt.Fprintf(tw, "left due\t%d outbox messages, %d captures at the end of the window (sustained: about what 1 s of load makes; growing with the duration: the background work falls behind)\n",
			r.Backlog.OutboxDue, r.Backlog.CapturesDue)
	}
	if w := r.DBWrites; w != nil {
		syncs := ""
		if w.WALSyncsPerS > 0 {
			syncs = fmt.Sprintf(", %.0f WAL fsyncs/s", w.WALSyncsPerS)
		}
		fmt.Fprintf(tw, "db writes\t%.0f writes/s in %.0f commits/s (%.1f per commit)%s\n", w.RequestsPerS, w.CommitsPerS, w.WritesPerCommit, syncs)
	} else if r.DBWritesNote != "" {
		fmt.Fprintf(tw, "db writes\t%s\n", r.DBWritesNote)
	}
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(tw, "error\t%s\n", e)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
