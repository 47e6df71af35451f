package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/vault"
)

type purgeFlagValues struct {
	dry           *bool
	months, batch *int
	// notificationMonths is -notification-months; nil: the configured
	// OPENPSP_NOTIFICATION_RETENTION_MONTHS.
	notificationMonths **int
	batchGiven         bool // -batch was given: it sizes the notifications' batches too
}

// purgeFlags defines the flags of `openpsp purge`.
func purgeFlags() (*flag.FlagSet, purgeFlagValues) {
	fs := flag.NewFlagSet("openpsp purge", flag.ContinueOnError)
	var f purgeFlagValues
	f.dry = fs.Bool("dry-run", false, "count the tokens and notifications that would be purged, change nothing")
	f.months = fs.Int("months", int(vault.RetentionPeriod), "purge tokens unused for this many months (15 by PCI DSS; less only for tests)")
	f.batch = fs.Int("batch", vault.DefaultPurgeBatch, fmt.Sprintf("tokens (and notifications) per transaction; notifications: %d when not given", outbox.DefaultPurgeBatch))
	f.notificationMonths = new(*int)
	fs.Func("notification-months", "delete the notifications that ended this many `months` ago or more; 0 or off keeps them (default: OPENPSP_NOTIFICATION_RETENTION_MONTHS, 13)", func(s string) error {
		n, err := config.ParseRetentionMonths(s)
		if err != nil {
			return fmt.Errorf("give %w", err)
		}
		*f.notificationMonths = &n
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: openpsp purge [-dry-run] [-months 15] [-notification-months 13] [-batch 2000]\n\nDestroys the card data of every token unused for 15 months, except the tokens\nan active subscription will still charge (an instalment due or to come): those\nare kept however long unused. Then deletes the notifications (IPN, webhooks,\nemails, SMS) delivered or dead for OPENPSP_NOTIFICATION_RETENTION_MONTHS, with\ntheir delivery log, and the demo merchant's copies of the IPNs it received as\nlong ago; pending and failing ones are kept. The server's jobs do\nboth every hour. Safe to interrupt (Ctrl-C) and run again: each batch commits\non its own.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	return fs, f
}

// purge destroys the card data of tokens unused for 15 months (PCI DSS) and
// deletes the notifications past their retention, the jobs the server also
// runs on its own.
func purge(ctx context.Context, args []string) error {
	fs, f := purgeFlags()
	dry, months, batch := f.dry, f.months, f.batch
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	fs.Visit(func(fl *flag.Flag) { f.batchGiven = f.batchGiven || fl.Name == "batch" })
	// A stray word is a mistyped flag ("dry-run" without its dash): it
	// must not leave a real purge to run.
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "openpsp purge: unexpected arguments %q (flags start with -)\n\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	if *months < 1 || *months > config.MaxRetentionMonths {
		return fmt.Errorf("-months must be from 1 to %d (15 by PCI DSS), not %d", config.MaxRetentionMonths, *months)
	}
	if *batch < 1 {
		return fmt.Errorf("-batch must be at least 1 (tokens, and notifications, per transaction), not %d", *batch)
	}
	a, _, err := openForCommand(ctx, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	cutoff := vault.Months(*months).Before(a.Clock.Now())
	start := time.Now()
	n, err := a.Vault.Purge(ctx, cutoff, vault.PurgeOptions{DryRun: *dry, BatchSize: *batch, Progress: progressPrinter("purging card data")})
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "\ninterrupted after purging %d tokens; run the command again to finish\n", n)
		return nil
	}
	if err != nil {
		return err
	}
	if *dry {
		fmt.Printf("%d tokens unused since %s would be purged (dry run: nothing changed)\n", n, cutoff.Format("2006-01-02"))
		return purgeNotifications(ctx, a, f)
	}
	fmt.Printf("purged the card data of %d tokens unused since %s in %s\n", n, cutoff.Format("2006-01-02"), time.Since(start).Round(time.Millisecond))
	return purgeNotifications(ctx, a, f)
}

// purgeNotifications deletes the notifications that ended before the
// retention (`openpsp purge`'s second part).
func purgeNotifications(ctx context.Context, a *app.App, f purgeFlagValues) error {
	months := a.Config.NotificationRetentionMonths
	if *f.notificationMonths != nil {
		months = **f.notificationMonths
	}
	if months == 0 {
		fmt.Println("notifications kept: no retention (OPENPSP_NOTIFICATION_RETENTION_MONTHS=0 or -notification-months 0)")
		return nil
	}
	start := time.Now()
	opts := outbox.PurgeOptions{DryRun: *f.dry, Progress: progressPrinter("deleting notifications")}
	if f.batchGiven {
		opts.BatchSize = *f.batch
	}
	p, err := a.PurgeNotifications(ctx, months, opts)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "\ninterrupted after deleting %d notifications and %d demo IPN copies; run the command again to finish\n", p.Notifications, p.DemoIPNs)
		return nil
	}
	if err != nil {
		return err
	}
	// The demo merchant's IPN copies only where there were some: a
	// production database has none.
	ipns := ""
	if p.DemoIPNs > 0 {
		ipns = fmt.Sprintf(" and %d demo IPN copies received before then", p.DemoIPNs)
	}
	if *f.dry {
		fmt.Printf("%d notifications ended before %s%s would be deleted (dry run: nothing changed)\n", p.Notifications, p.Cutoff.Format("2006-01-02"), ipns)
		return nil
	}
	if ipns != "" {
		ipns += ","
	}
	fmt.Printf("deleted %d notifications ended before %s, with their delivery logs,%s in %s\n", p.Notifications, p.Cutoff.Format("2006-01-02"), ipns, time.Since(start).Round(time.Millisecond))
	return nil
}
