// Command openpsp is the whole payment platform in one binary:
//
//	openpsp [serve]          run the server (the default)
//	openpsp migrate          create or upgrade the database schema
//	openpsp version          print the version
//	openpsp shops …          create, list, show shops; show and rotate their keys and
//	                         webhook secrets; replace their DirectLink passwords;
//	                         change their settings and email/SMS wording
//	openpsp keys …           generate master keys, rotate and rewrap
//	openpsp bench            measure throughput and latency under load
//	openpsp notifications …  list, show and retry IPN, webhook, email and SMS deliveries
//	openpsp ogone …          FlexCheckout templates, PSPID settings and the error log
//	openpsp purge            destroy the card data of tokens unused for 15 months
//	                         (not those an active subscription will charge) and
//	                         delete notifications past their retention
//
// Each answers -help (`openpsp -help` lists them).
//
// Configuration comes from OPENPSP_* environment variables and flags (see
// the README, or `openpsp serve -help`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/openpsp/openpsp/internal/cliargs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first SIGTERM or SIGINT starts a graceful shutdown (serve lets
	// requests, deliveries and job runs finish); the signals' default
	// action is then back, so that a second one ends the process at once,
	// as a crash would (a cut delivery is retried, a cut acquirer call is
	// recovered by payments.recover-running).
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:])
	if code := exitCode(err); code != 0 {
		if code == 1 {
			fmt.Fprintln(os.Stderr, "openpsp:", err)
		}
		os.Exit(code)
	}
}

// exitCode is the process's exit status after run returned err: 0 for
// success and for an asked-for help (as "openpsp --help" and Go's own flag
// package do), 2 for a usage error (already explained on stderr), 1 for a
// failure.
func exitCode(err error) int {
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

// parseErr is the error of a command whose flags did not parse: the flag
// package has printed the usage; an asked-for help stays flag.ErrHelp.
func parseErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the server (default)", serve},
		{"migrate", "create or upgrade the database schema, then exit", migrate},
		{"version", "print the version", printVersion},
		{"shops", "manage shops: " + strings.Join(shopsSubcommands, ", "), shops},
		{"keys", "master keys: generate, status, rotate, rewrap", keys},
		{"bench", "measure throughput and latency under load (see openpsp bench -h)", benchCmd},
		{"notifications", "IPN, webhook, email and SMS deliveries: list, show, retry", notifications},
		{"ogone", "FlexCheckout templates, PSPID settings and the error log", ogoneCmd},
		{"purge", "destroy the card data of tokens unused for 15 months (PCI DSS), not those an active subscription will charge; delete notifications past their retention", purge},
	}
}

func run(ctx context.Context, args []string) error {
	// Before the flags of the default command: "-h" asks for the commands.
	if len(args) > 0 && isHelp(args[0]) {
		usage()
		return nil
	}
	if len(args) == 0 || (len(args[0]) > 0 && args[0][0] == '-') {
		return serve(ctx, args)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:])
		}
	}
	fmt.Fprintf(os.Stderr, "openpsp: unknown command %q\n\n", args[0])
	usage()
	return errUsage
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: openpsp [command] [flags]\n\ncommands:")
	width := 0
	for _, c := range commands() {
		width = max(width, len(c.name))
	}
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nEvery command reads the OPENPSP_* environment (see README). `openpsp serve -help` lists the flags.")
}

// asksHelp reports whether args hold a help flag (-h, -help, --help)
// anywhere: a subcommand's help comes before its arguments are checked
// (`shops show -h` is no shop id) and before the database is opened. A
// word without a leading dash ("help") may be a name and does not count.
func asksHelp(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") && isHelp(a) })
}

func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// helpOnly answers a command given no subcommand, or asked for help, with
// its usage text, before the command opens the database (which would
// create one, and a keyring, in the wrong folder). It reports whether it
// answered, and what the command returns then.
func helpOnly(args []string, text string) (bool, error) {
	if len(args) > 0 && !isHelp(args[0]) {
		return false, nil
	}
	fmt.Fprintln(os.Stderr, strings.TrimSpace(text))
	if len(args) == 0 {
		return true, errUsage
	}
	return true, nil
}

// unknownSubcommand refuses a first word that is none of a command's
// subcommands, naming it, before the command looks for the database (a
// mistyped word is not a missing database). It returns errUsage, or nil when
// the word is known.
func unknownSubcommand(cmd string, args, known []string, usage string) error {
	if slices.Contains(known, args[0]) {
		return nil
	}
	return wrongInput(cmd, fmt.Errorf("unknown command %q", args[0]), usage)
}

// commandLine answers err, a package's check of a command line: a mistake
// in it (cliargs.ErrUsage) is named on stderr, then usage, and is a usage
// error; another error (text that is not UTF-8) stays as it is.
func commandLine(err error, usage string) error {
	if !errors.Is(err, cliargs.ErrUsage) {
		return err
	}
	fmt.Fprintf(os.Stderr, "openpsp %v\n\n%s\n", err, strings.TrimSpace(usage))
	return errUsage
}

// wrongInput names an operator's mistake (an unknown word, a flag's value,
// a stray word) on stderr, then the command's usage, and returns errUsage:
// the usage alone hid the mistake. cmd follows "openpsp" ("shops keys").
func wrongInput(cmd string, mistake error, usage string) error {
	fmt.Fprintf(os.Stderr, "openpsp %s: %v\n\n%s\n", cmd, mistake, strings.TrimSpace(usage))
	return errUsage
}
