package vault

import (
	"context"
	"errors"
	"time"

	"github.com/openpsp/openpsp/internal/retention"
)

// Months is a period in calendar months, so "15 months" means the same date
// 15 months earlier, not 450 days.
type Months int

// Before returns t moved back by m calendar months. When that month is too
// short for t's day (31 May back to February), the result is the end of
// that month, not time.AddDate's overflow into the next (3 March): a card
// last used on 2 March has not been unused for 15 months on 31 May.
//
// m is capped at a hundred thousand years: beyond a few billion months the
// calendar arithmetic overflows (time.Date wraps around) and the result
// landed in the future, a cutoff that would purge every token.
func (m Months) Before(t time.Time) time.Time {
	m = min(m, maxMonths)
	y, mo, d := t.Date()
	first := time.Date(y, mo-time.Month(m), 1, 0, 0, 0, 0, t.Location())
	if d > first.AddDate(0, 1, -1).Day() {
		return first.AddDate(0, 1, 0)
	}
	return t.AddDate(0, -int(m), 0)
}

// maxMonths caps Months.Before: any cutoff that far back is older than
// every record, and time.Date computes it exactly.
const maxMonths Months = 12 * 100_000

// RetentionPeriod is how long an unused token keeps its card data: PCI DSS
// and the PayZen rule ("15 months without using the token").
const RetentionPeriod Months = 15

// DefaultPurgeBatch is how many tokens one purge transaction destroys:
// large enough that fsyncs do not dominate, small enough that payments
// waiting behind the write lock wait a few milliseconds, not seconds.
const DefaultPurgeBatch = 2000

// PurgeOptions tunes Purge: dry run, batch size (DefaultPurgeBatch when 0)
// and progress.
type PurgeOptions = retention.Options

// Purge destroys the card data of every token not used since cutoff: the
// ciphertext, the fingerprint and the data key are deleted and the status
// becomes PURGED; the masked details stay for the merchant's history. It
// works in batches of one write transaction each, so it can be interrupted
// (ctx) and run again, and it never touches a token used since cutoff: each
// UPDATE re-checks last_used_at. It returns how many tokens it purged (with
// DryRun: would purge).
func (v *Vault) Purge(ctx context.Context, cutoff time.Time, opts PurgeOptions) (int, error) {
	if cutoff.IsZero() {
		return 0, errors.New("vault: purge needs a cutoff")
	}
	return v.purge(ctx, PurgeSelector{LastUsedBefore: cutoff}, opts)
}

// PurgeRetention purges the tokens unused for RetentionPeriod, by the clock.
func (v *Vault) PurgeRetention(ctx context.Context, opts PurgeOptions) (int, error) {
	return v.Purge(ctx, RetentionPeriod.Before(v.clk.Now()), opts)
}

// ExpireTemporary purges the temporary tokens whose time to live has ended
// (card data destroyed, status PURGED), in batches as Purge does; the close
// of opts.Stop ends it after the batch in progress. A periodic job calls it
// (and stops so at the app's shutdown).
func (v *Vault) ExpireTemporary(ctx context.Context, opts PurgeOptions) (int, error) {
	return v.purge(ctx, PurgeSelector{ExpiresBefore: v.clk.Now()}, opts)
}

func (v *Vault) purge(ctx context.Context, sel PurgeSelector, opts PurgeOptions) (int, error) {
	return retention.Run(ctx, opts, DefaultPurgeBatch,
		func() (int, error) { return v.store.CountPurgeable(ctx, sel) },
		func(limit int) (int, error) { return v.store.PurgeTokens(ctx, sel, limit, v.clk.Now()) })
}
