package app

import (
	"context"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/retention"
	"github.com/openpsp/openpsp/internal/vault"
)

// NotificationCutoff is the start of the notification retention of months
// at now: an ended notification last active before it is deleted. ok is
// false for 0 months (every notification is kept).
func NotificationCutoff(months int, now time.Time) (cutoff time.Time, ok bool) {
	if months <= 0 {
		return time.Time{}, false
	}
	// Calendar months, as the vault's 15-month purge counts them.
	return vault.Months(months).Before(now), true
}

// NotificationPurge is what PurgeNotifications deleted (with DryRun: would
// delete).
type NotificationPurge struct {
	Cutoff        time.Time
	Notifications int // ended notifications, with their delivery log and /demo/mail copy
	DemoIPNs      int // the demo merchant's copies of the IPNs it received (/demo)
}

// PurgeNotifications deletes the notifications that ended (delivered, or
// dead after their retries) more than months ago, with their delivery log,
// in batches (see outbox.PurgeEnded), then the demo merchant's copies of
// the IPNs it received as long ago (they hold what the IPNs held); nothing
// when months is 0. The retention job runs it with
// OPENPSP_NOTIFICATION_RETENTION_MONTHS, `openpsp purge` too. On an error
// the counts are those deleted so far.
func (a *App) PurgeNotifications(ctx context.Context, months int, opts outbox.PurgeOptions) (NotificationPurge, error) {
	cutoff, ok := NotificationCutoff(months, a.Clock.Now())
	p := NotificationPurge{Cutoff: cutoff}
	if !ok {
		return p, nil
	}
	var err error
	if p.Notifications, err = outbox.PurgeEnded(ctx, a.DB, cutoff, opts); err != nil {
		return p, err
	}
	// Few rows, and only where the demo ran: no progress line of their own.
	opts.Progress = nil
	p.DemoIPNs, err = retention.Run(ctx, opts, outbox.DefaultPurgeBatch,
		func() (int, error) { return a.DB.CountDemoIPNsBefore(ctx, cutoff) },
		func(limit int) (int, error) { return a.DB.DeleteDemoIPNsBefore(ctx, cutoff, limit) })
	return p, err
}
