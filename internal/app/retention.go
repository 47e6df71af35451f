package app

import (
	"context"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
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

// PurgeNotifications deletes the notifications that ended (delivered, or
// dead after their retries) more than months ago, with their delivery log,
// in batches (see outbox.PurgeEnded); nothing when months is 0. The
// retention job runs it with OPENPSP_NOTIFICATION_RETENTION_MONTHS, `openpsp
// purge` too. It returns how many it deleted (with opts.DryRun: would
// delete) and the cutoff.
func (a *App) PurgeNotifications(ctx context.Context, months int, opts outbox.PurgeOptions) (int, time.Time, error) {
	cutoff, ok := NotificationCutoff(months, a.Clock.Now())
	if !ok {
		return 0, cutoff, nil
	}
	n, err := outbox.PurgeEnded(ctx, a.DB, cutoff, opts)
	return n, cutoff, err
}
