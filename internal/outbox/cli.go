package outbox

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/openpsp/openpsp/internal/cliargs"
)

// CLIStore is what the notifications command needs (*store.DB).
type CLIStore interface {
	Store
	Lister
}

// CLIUsage documents `openpsp notifications`.
var CLIUsage = `usage: openpsp notifications <command> [flags]

commands:
  list  [--status DEAD,FAILED,PENDING,DELIVERED] [--shop ID] [--channel ` + strings.Join(Channels, "|") + `] [--event E] [--since 24h] [--limit 50]
        messages, newest first (--limit: how many, at least 1)
  show  ID
        one message and its delivery log
  retry ID... | --all | [--status …] [--shop ID] [--channel …] [--event E] [--since 24h]
        re-drive DEAD and failing messages (with --status DELIVERED: send again,
        given ids or --all); they are due at once with a fresh retry schedule

Delivered and dead messages are kept, with their delivery log, for
OPENPSP_NOTIFICATION_RETENTION_MONTHS (13 by default) after they ended, then
deleted: retry re-drives or resends them only until then.
`

// CheckCLI checks `openpsp notifications ARGS…` (args after
// "notifications") without a store, so that a mistake in it is named
// (errors.Is cliargs.ErrUsage) before the database is looked for.
func CheckCLI(args []string) error {
	_, err := parseCLI(args, time.Time{}, io.Discard)
	return err
}

// parseCLI parses and checks args for CLI and returns the filter they
// give, with the ids given to show and retry; an asked-for help prints
// CLIUsage on w and is flag.ErrHelp. now dates --since.
func parseCLI(args []string, now time.Time, w io.Writer) (Filter, error) {
	if len(args) == 0 {
		fmt.Fprint(w, CLIUsage)
		return Filter{}, cliargs.Usage("notifications", errors.New("missing command"))
	}
	if err := cliargs.CheckUTF8("notifications", args); err != nil {
		return Filter{}, err
	}
	if !slices.Contains([]string{"list", "show", "retry"}, args[0]) {
		fmt.Fprint(w, CLIUsage)
		return Filter{}, cliargs.Usage("notifications", fmt.Errorf("unknown command %q", args[0]))
	}
	fs := flag.NewFlagSet("notifications "+args[0], flag.ContinueOnError)
	// The caller prints the error once; the usage is CLIUsage, which says
	// which flags each command takes (the flag set is shared).
	fs.SetOutput(io.Discard)
	status := fs.String("status", "", "comma-separated statuses")
	shopID := fs.String("shop", "", "shop id")
	channel := fs.String("channel", "", channelList())
	event := fs.String("event", "", "event name, e.g. payment.accepted")
	var since time.Duration
	fs.Func("since", "only messages created within this duration", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return errors.New("give a duration such as 24h, 90m or 168h")
		}
		since = d
		return nil
	})
	limit := fs.Int("limit", 50, "list: how many")
	all := fs.Bool("all", false, "retry: every DEAD and failing message")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(w, CLIUsage)
			return Filter{}, err
		}
		return Filter{}, cliargs.Usage("notifications "+args[0], fmt.Errorf("%w (openpsp notifications -h lists the flags)", err))
	}
	f := Filter{ShopID: *shopID, Channel: *channel, Event: *event, Limit: *limit}
	if *status != "" {
		for _, s := range strings.Split(*status, ",") {
			f.Statuses = append(f.Statuses, strings.ToUpper(strings.TrimSpace(s)))
		}
	}
	if since > 0 {
		f.Since = now.Add(-since)
	}
	if err := checkStatuses(f.Statuses); err != nil {
		return Filter{}, cliargs.Usage("notifications "+args[0], err)
	}
	// A mistyped channel would list nothing, and retry nothing, as if
	// there were no such messages.
	if f.Channel != "" && !slices.Contains(Channels, f.Channel) {
		return Filter{}, cliargs.Usage("notifications "+args[0], fmt.Errorf("unknown channel %q (give %s)", f.Channel, channelList()))
	}
	// The store reads a limit of 0 as its default (100): asked for on
	// the command line, 0 or less is a mistake, not "all" or "100".
	if *limit < 1 {
		return Filter{}, cliargs.Usage("notifications "+args[0], fmt.Errorf("--limit must be at least 1, not %d", *limit))
	}
	switch args[0] {
	case "list":
		// A stray word ("list DEAD" for "list --status DEAD") must not
		// list every message as if it narrowed them.
		if fs.NArg() > 0 {
			return Filter{}, cliargs.Usage("notifications list", fmt.Errorf("unexpected arguments %q (filters are flags: --status DEAD …)", fs.Args()))
		}
	case "show":
		if fs.NArg() != 1 {
			return Filter{}, cliargs.Usage("notifications show", errors.New("give one message id"))
		}
		f.IDs = fs.Args()
	case "retry":
		f.IDs = fs.Args()
		f.Limit = 0
		if len(f.IDs) == 0 && !*all && f.ShopID == "" && f.Channel == "" && f.Event == "" && len(f.Statuses) == 0 && f.Since.IsZero() {
			return Filter{}, cliargs.Usage("notifications retry", errors.New("give message ids, a filter, or --all"))
		}
		// Delivered messages go to their buyers and merchants a second
		// time: a status (or filter) alone must not pick all of them.
		if len(f.IDs) == 0 && !*all && slices.Contains(f.Statuses, StatusDelivered) {
			return Filter{}, cliargs.Usage("notifications retry", errors.New("sending delivered messages again needs their ids, or --all (with the filters that narrow it)"))
		}
	}
	return f, nil
}

// CLI runs `openpsp notifications …` (args after "notifications").
func CLI(ctx context.Context, args []string, st CLIStore, now time.Time, w io.Writer) error {
	f, err := parseCLI(args, now, w)
	if err != nil {
		return err
	}
	switch args[0] {
	case "list":
		es, err := st.ListOutbox(ctx, f)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tSHOP\tCHANNEL\tEVENT\tSTATUS\tATTEMPTS\tNEXT\tLAST ERROR")
		for _, e := range es {
			next := "-"
			if e.Status == StatusPending {
				next = e.NextAttemptAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.CreatedAt.Format(time.RFC3339), e.ShopID, e.Channel, e.Event,
				displayStatus(e), e.Attempts, next, clean(e.LastError, 80))
		}
		return tw.Flush()
	case "show":
		es, err := st.ListOutbox(ctx, Filter{IDs: f.IDs})
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return fmt.Errorf("notifications show: no message %s%s", f.IDs[0], notKept)
		}
		e := es[0]
		log, err := st.OutboxAttempts(ctx, e.ID)
		if err != nil {
			return err
		}
		// Attempt numbers restart at 1 with each re-drive (they count
		// the retry schedule): the log numbers attempts over its whole
		// length and marks the re-drives, so that #1, #2, #1 does not
		// read as lost attempts.
		attempts := fmt.Sprint(e.Attempts)
		if len(log) > e.Attempts {
			attempts = fmt.Sprintf("%d in all, %d since the last re-drive", len(log), e.Attempts)
		}
		fmt.Fprintf(w, "id:        %s\nshop:      %s\nchannel:   %s\nevent:     %s\ntarget:    %s\nordering:  %s\nstatus:    %s\nattempts:  %s\ncreated:   %s\n",
			e.ID, e.ShopID, e.Channel, e.Event, e.Target, e.OrderingKey, displayStatus(e), attempts, e.CreatedAt.Format(time.RFC3339))
		if e.Status == StatusPending {
			fmt.Fprintf(w, "next:      %s\n", e.NextAttemptAt.Format(time.RFC3339))
		}
		if !e.DeliveredAt.IsZero() {
			fmt.Fprintf(w, "delivered: %s\n", e.DeliveredAt.Format(time.RFC3339))
		}
		plural := "s"
		if len(log) == 1 {
			plural = ""
		}
		fmt.Fprintf(w, "\ndelivery log (%d attempt%s):\n", len(log), plural)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tAT\tBY\tSTATUS\tLATENCY\tERROR\tANSWER")
		for i, a := range log {
			if i > 0 && a.Number <= log[i-1].Number {
				fmt.Fprintln(tw, "--\tre-driven\t\t\t\t\t")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%q\n", i+1, a.At.Format(time.RFC3339), a.Instance, a.StatusCode,
				a.Latency.Round(time.Millisecond), clean(a.Error, 80), clean(a.Response, 80))
		}
		return tw.Flush()
	case "retry":
		var known []Entry
		if len(f.IDs) > 0 {
			// Retry counts what it changed: an id nobody has would
			// only show as "re-driven: 0".
			var err error
			if known, err = st.ListOutbox(ctx, Filter{IDs: f.IDs}); err != nil {
				return err
			}
			for _, id := range f.IDs {
				if !slices.ContainsFunc(known, func(e Entry) bool { return e.ID == id }) {
					return fmt.Errorf("notifications retry: no message %s%s", id, notKept)
				}
			}
		}
		n, err := Retry(ctx, st, now, f)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "re-driven: %d message(s)\n", n)
		// A given id whose status the retry did not take (a delivered
		// message without --status DELIVERED, one still pending) would
		// otherwise vanish from the count unexplained.
		taken := slices.Clone(f.Statuses)
		if len(taken) == 0 {
			taken = []string{StatusDead, StatusFailed}
		}
		if slices.Contains(taken, StatusPending) {
			taken = append(taken, StatusFailed) // PENDING selects the failing ones too
		}
		for _, e := range known {
			if s := displayStatus(e); !slices.Contains(taken, s) {
				hint := "--status " + s + " takes it"
				if s == StatusDelivered {
					hint = "--status DELIVERED sends it again"
				} else if s == StatusPending {
					hint = "it is due to be sent: nothing to re-drive"
				}
				fmt.Fprintf(w, "not re-driven: %s is %s (%s)\n", e.ID, s, hint)
			}
		}
	}
	return nil
}

// channelList names Channels for a person: "ipn, webhook, … or ogone-postsale".
func channelList() string {
	return strings.Join(Channels[:len(Channels)-1], ", ") + " or " + Channels[len(Channels)-1]
}

// notKept follows "no message ID": the id may be mistyped, or the message
// deleted by the retention, and the operator cannot tell which.
const notKept = " (or no longer kept: messages delivered or dead are deleted with their delivery log " +
	"OPENPSP_NOTIFICATION_RETENTION_MONTHS after they ended, 13 by default)"

func displayStatus(e Entry) string {
	if e.Status == StatusPending && e.Attempts > 0 {
		return StatusFailed
	}
	return e.Status
}
