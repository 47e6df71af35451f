package main

import (
	"context"
	"os"

	"github.com/openpsp/openpsp/internal/ogone"
)

// ogoneCmd manages a PSPID's FlexCheckout templates and settings and shows
// its error log (e.g. duplicate ALIAS.ORDERID refusals).
func ogoneCmd(ctx context.Context, args []string) error {
	if ok, err := helpOnly(args, ogone.CLIUsage); ok {
		return err
	}
	if err := unknownSubcommand("ogone", args, []string{"templates", "settings", "errors"}, ogone.CLIUsage); err != nil {
		return err
	}
	// `ogone errors -h`: the help, before the database is opened (a
	// "help" word may be a template's or a shop's name; -h never is).
	if asksHelp(args) {
		_, err := helpOnly([]string{"-h"}, ogone.CLIUsage)
		return err
	}
	// A wrong command line is named before the database is looked for.
	if err := commandLine(ogone.CheckCLI(args), ogone.CLIUsage); err != nil {
		return err
	}
	a, _, err := openForCommand(ctx, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	return ogone.NewAdmin(a.Shops, a.DB, a.Clock).RunCLI(ctx, args, os.Stdin, os.Stdout)
}
