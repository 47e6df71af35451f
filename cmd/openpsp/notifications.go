package main

import (
	"context"
	"os"

	"github.com/openpsp/openpsp/internal/outbox"
)

// notifications lists, shows and re-drives outbox messages (IPN, webhooks,
// emails, SMS).
func notifications(ctx context.Context, args []string) error {
	if ok, err := helpOnly(args, outbox.CLIUsage); ok {
		return err
	}
	if err := unknownSubcommand("notifications", args, []string{"list", "show", "retry"}, outbox.CLIUsage); err != nil {
		return err
	}
	// Help and a wrong command line are answered before the database is
	// looked for.
	if asksHelp(args[1:]) {
		_, err := helpOnly([]string{"-h"}, outbox.CLIUsage)
		return err
	}
	if err := commandLine(outbox.CheckCLI(args), outbox.CLIUsage); err != nil {
		return err
	}
	a, _, err := openForCommand(ctx, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	return outbox.CLI(ctx, args, a.DB, a.Clock.Now(), os.Stdout)
}
