package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/obs"
)

// ResponseExcerptBytes bounds how much of an answer the delivery log keeps.
const ResponseExcerptBytes = 512

// Outcome is what a deliverer learned from the other side, success or not.
type Outcome struct {
	StatusCode int    // HTTP status or SMTP reply code; 0 when none
	Response   string // the beginning of the answer (clipped by the dispatcher)
}

// Deliverer sends one message through one channel. A nil error means the
// other side took it. Errors wrapped with Permanent are not retried.
type Deliverer interface {
	Deliver(ctx context.Context, d Delivery) (Outcome, error)
}

// DelivererFunc adapts a function to Deliverer.
type DelivererFunc func(ctx context.Context, d Delivery) (Outcome, error)

// Deliver calls f.
func (f DelivererFunc) Deliver(ctx context.Context, d Delivery) (Outcome, error) { return f(ctx, d) }

// ErrPermanent marks a failure that no retry can fix (an invalid phone
// number, a message without the data its channel needs).
var ErrPermanent = errors.New("permanent failure")

type permanent struct{ err error }

func (p permanent) Error() string        { return p.err.Error() }
func (p permanent) Unwrap() []error      { return []error{p.err, ErrPermanent} }
func (p permanent) Is(target error) bool { return target == ErrPermanent }

// Permanent wraps err so that the dispatcher makes the message DEAD at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// LeaseMargin is what a claim lasts beyond the delivery Timeout by default:
// room for the result to be written (a commit wait under load) and for
// clock differences between copies.
const LeaseMargin = 30 * time.Second

// Options configures a Dispatcher. Zero values mean the documented defaults.
type Options struct {
	// Workers is how many deliveries run at once (default 128). A worker
	// is reserved from the claim on, so one copy delivers at most about
	// Workers / (commit wait + delivery time) messages per second: under
	// load a commit wait is tens of milliseconds. Deliveries mostly wait on
	// the network, so many are cheap.
	Workers int
	// Batch bounds one claim: RunOnce claims up to this many (default
	// 2×Workers); Run claims at most this many and never more than it has
	// free workers, so that every message it claims starts at once.
	Batch int
	// Schedules are the retry waits per channel; channels not listed use
	// DefaultSchedule.
	Schedules map[string]Schedule
	// Jitter is the relative spread of each wait (default DefaultJitter);
	// NoJitter turns it off.
	Jitter   float64
	NoJitter bool
	// Timeout bounds one delivery (default 30s).
	Timeout time.Duration
	// Lease is how long a claim lasts. The default is Timeout + LeaseMargin
	// for Run, whose claimed messages start at once; RunOnce, which
	// delivers its batch in rounds of Workers, adds a Timeout per extra
	// round. A copy that dies mid-delivery holds its messages this long
	// before another copy retries them.
	Lease time.Duration
	// PollInterval is the pause when nothing is due (default 500ms).
	PollInterval time.Duration
	// FinishBatch is how many results one write records at most (default 128).
	FinishBatch int
	// FinishDelay is how long a result waits for others to share its write
	// (default 5ms). Results are written at once when FinishBatch are waiting.
	FinishDelay time.Duration
	// Clock gives the time of attempts and schedules (default the wall clock).
	Clock clock.Clock
	// Logger receives one line per failure (default slog.Default()).
	Logger *slog.Logger
	// InstanceID names this copy in claims and in the delivery log
	// (default a random id).
	InstanceID string
	// Rand returns numbers in [0,1) for the jitter (default math/rand/v2).
	Rand func() float64
	// Observe, when set, is told each attempt's channel, outcome
	// ("delivered", "retry" or "dead") and latency: /metrics counts them,
	// so that failing receivers and dead messages can be alerted on.
	Observe func(channel, outcome string, latency time.Duration)
}

// Dispatcher delivers outbox messages with retries. Any number of
// dispatchers, in one process or many, may share a database.
type Dispatcher struct {
	st         Store
	deliverers map[string]Deliverer
	o          Options
	kick       chan struct{}
	local      local // messages handed over by this process (see Reserve)
	// taken counts the messages this dispatcher delivered: found by its
	// claim query, and handed over by its own process (see Stats).
	claimed, handed atomic.Int64
	// claimErrs and recordErrs keep a database outage from logging a
	// line per poll (twice a second per copy) while it lasts.
	claimErrs, recordErrs obs.LogLimiter
}

// Stats are how many messages a dispatcher took to deliver since it
// started: Claimed by its claim query, Handed over at their commit by its
// own process (see Reserve).
type Stats struct{ Claimed, Handed int64 }

// Stats returns the dispatcher's counts.
func (d *Dispatcher) Stats() Stats { return Stats{Claimed: d.claimed.Load(), Handed: d.handed.Load()} }

// finishFlights is how many result writes a dispatcher has waiting for a
// commit at once: while one waits, the next results gather for the next.
const finishFlights = 4

// NewDispatcher returns a dispatcher that claims messages from st and hands
// each to the deliverer of its channel.
func NewDispatcher(st Store, deliverers map[string]Deliverer, o Options) *Dispatcher {
	if o.Workers <= 0 {
		o.Workers = 128
	}
	if o.Batch <= 0 {
		o.Batch = 2 * o.Workers
	}
	if o.Jitter == 0 && !o.NoJitter {
		o.Jitter = DefaultJitter
	}
	if o.NoJitter {
		o.Jitter = 0
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	o.Lease = max(o.Lease, 0) // 0: the default, which depends on the claim's size
	if o.PollInterval <= 0 {
		o.PollInterval = 500 * time.Millisecond
	}
	if o.FinishBatch <= 0 {
		o.FinishBatch = 128
	}
	if o.FinishDelay <= 0 {
		o.FinishDelay = 5 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.InstanceID == "" {
		o.InstanceID = "openpsp-" + ids.RandomHex(4)
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	ds := make(map[string]Deliverer, len(deliverers))
	for k, v := range deliverers {
		ds[k] = v
	}
	return &Dispatcher{st: st, deliverers: ds, o: o, kick: make(chan struct{}, 1), recordErrs: obs.LogLimiter{Burst: 10}}
}

// InstanceID returns the name this dispatcher claims messages under.
func (d *Dispatcher) InstanceID() string { return d.o.InstanceID }

// claimLease returns how long a claim of n messages lasts: Options.Lease
// when set, else Timeout + LeaseMargin per round of Workers deliveries (one
// round for Run, which claims only for free workers).
func (d *Dispatcher) claimLease(n int) time.Duration {
	if d.o.Lease > 0 {
		return d.o.Lease
	}
	rounds := max((n+d.o.Workers-1)/d.o.Workers, 1)
	return time.Duration(rounds)*d.o.Timeout + LeaseMargin
}

// Kick wakes a waiting Run at once (call it after committing messages to
// skip the poll delay). It never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. A fixed pool of Workers delivers; a claim
// asks for as many messages as there are free workers, as soon as some are
// free, so a claimed message starts at once and nobody waits for a whole
// batch. Messages handed over by this process (Reserve) are delivered
// beside them, by up to Workers more. Results go to a finisher that records
// many in one write. When ctx ends, deliveries in flight are abandoned and their claims released
// without counting an attempt; Run returns once every result is written.
func (d *Dispatcher) Run(ctx context.Context) error { return d.RunUntil(ctx, nil) }

// RunUntil is Run that also stops when stop closes (nil: never), more
// gently than at the end of ctx: it claims nothing more and takes no more
// handed messages, but the deliveries in progress finish and are recorded
// (ended early, a delivery the receiver may already have taken would be
// sent again by another copy). The app stops it so once the database's
// schema is newer than this binary's.
func (d *Dispatcher) RunUntil(ctx context.Context, stop <-chan struct{}) error {
	claimCtx := ctx
	if stop != nil {
		var cancel context.CancelFunc
		claimCtx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-stop:
				cancel()
			case <-claimCtx.Done():
			}
		}()
	}
	jobs := make(chan Delivery, d.o.Workers)
	results := make(chan Result, d.o.Workers)
	// One token per delivery ended; at most Workers are ever outstanding
	// (the claim loop reserves a worker for every message it claims).
	freed := make(chan struct{}, d.o.Workers)
	flushed := make(chan struct{}, 1)

	var workers sync.WaitGroup
	for i := 0; i < d.o.Workers; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for m := range jobs {
				results <- d.attempt(ctx, m)
				freed <- struct{}{}
			}
		}()
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		d.finisher(context.WithoutCancel(ctx), results, func() {
			select {
			case flushed <- struct{}{}:
			default:
			}
		})
	}()

	d.openLocal(ctx, results)
	// Deliveries (claimed and handed) run under ctx, claims under claimCtx.
	d.claimLoop(claimCtx, jobs, freed, flushed)
	d.closeLocal()
	close(jobs)
	workers.Wait()
	close(results)
	<-finished
	return nil
}

// claimed is the outcome of one claim.
type claimed struct {
	ds    []Delivery
	asked int
	err   error
	wakes int // the claim loop's wake count when the claim started
}

// maxClaims is how many claims a dispatcher has waiting for the database at
// once: while one waits for its commit, workers that free up meanwhile are
// claimed for by the next one (once a quarter of them are free) instead of
// idling until the first returns.
const maxClaims = 4

// claimLoop claims messages for free workers until ctx ends, then waits
// for its claims in flight (their messages go to the workers, which hand
// them back).
func (d *Dispatcher) claimLoop(ctx context.Context, jobs chan<- Delivery, freed, flushed <-chan struct{}) {
	done := make(chan claimed, maxClaims)
	free := d.o.Workers
	inflight := 0
	// idle: the last claim found less than it asked for (or failed), so
	// nothing more is due until time passes, a Kick, or a result is
	// written (a recorded result may unblock the next message of its key).
	idle := false
	checkDue := true // read OutboxDue before claiming: idle copies poll without writing
	// wakes counts wake-ups: a claim that comes back short is not a reason
	// to go idle if something happened since it started (its query may
	// have run before a result that unblocks a message was written).
	wakes := 0
	timer := time.NewTimer(d.o.PollInterval)
	defer timer.Stop()
	wake := func() {
		wakes++
		if idle {
			idle, checkDue = false, true
		}
	}
	for {
		if ctx.Err() == nil && !idle && inflight < maxClaims &&
			(inflight == 0 && free > 0 || free >= max(d.o.Workers/4, 1)) {
			asked := min(free, d.o.Batch)
			free -= asked
			inflight++
			go d.claim(ctx, asked, checkDue, wakes, done)
			continue
		}
		if ctx.Err() != nil && inflight == 0 {
			return
		}
		ctxDone := ctx.Done()
		if ctx.Err() != nil {
			ctxDone = nil // only the claims in flight are awaited now
		}
		select {
		case <-ctxDone:
		case c := <-done:
			inflight--
			free += c.asked - len(c.ds)
			d.claimed.Add(int64(len(c.ds)))
			for _, m := range c.ds {
				jobs <- m // never blocks: a worker is reserved for each
			}
			if c.err != nil && ctx.Err() == nil {
				d.claimFailed(c.err)
			} else if c.err == nil {
				d.claimWorked()
			}
			switch {
			case c.err == nil && len(c.ds) == c.asked:
				checkDue = false // more may be waiting: claim again without a read first
			case c.err == nil && c.wakes != wakes:
				checkDue = true // short, but something changed since: look again
			case !idle:
				idle = true
				timer.Reset(d.o.PollInterval)
			}
		case <-freed:
			free++
		case <-flushed:
			wake()
		case <-d.kick:
			wake()
		case <-timer.C:
			wake()
		}
	}
}

// claimFailed logs a failed claim: the first of a streak, then at most one
// a minute with how many were not logged.
func (d *Dispatcher) claimFailed(err error) {
	d.claimErrs.Failed(context.Background(), d.o.Logger, slog.LevelError, d.o.Clock.Now(), "outbox: dispatch",
		"instance", d.o.InstanceID, "err", err)
}

// claimWorked logs the end of a streak of failed claims.
func (d *Dispatcher) claimWorked() {
	d.claimErrs.Recovered(context.Background(), d.o.Logger, d.o.Clock.Now(), "outbox: dispatch recovered", "instance", d.o.InstanceID)
}

// claim claims up to asked messages (after checking that something is due
// when check is set) and reports on done.
func (d *Dispatcher) claim(ctx context.Context, asked int, check bool, wakes int, done chan<- claimed) {
	now := d.o.Clock.Now()
	if check {
		due, err := d.st.OutboxDue(ctx, now)
		if err != nil || !due {
			done <- claimed{asked: asked, err: err, wakes: wakes}
			return
		}
	}
	ds, err := d.st.ClaimOutbox(ctx, d.o.InstanceID, now, d.claimLease(asked), asked)
	done <- claimed{ds: ds, asked: asked, err: err, wakes: wakes}
}

// finisher records results as they come, many per write: a write starts
// when FinishBatch results wait or FinishDelay after the first of them, with
// up to finishFlights writes waiting for a commit at once. It returns once
// results is closed and everything is written; onFlush runs after each write.
func (d *Dispatcher) finisher(ctx context.Context, results <-chan Result, onFlush func()) {
	var pending []Result
	in := results
	writes := 0
	written := make(chan struct{}, finishFlights)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var timeout <-chan time.Time // the timer's channel while it runs
	late := false                // the oldest pending result has waited FinishDelay
	for {
		if len(pending) > 0 && writes < finishFlights && (late || in == nil || len(pending) >= d.o.FinishBatch) {
			batch := pending
			pending, late, timeout = nil, false, nil
			timer.Stop()
			writes++
			go func() {
				d.record(ctx, batch)
				onFlush()
				written <- struct{}{}
			}()
		}
		if in == nil && len(pending) == 0 && writes == 0 {
			return
		}
		recv := in
		if len(pending) >= d.o.FinishBatch {
			recv = nil // full: the workers wait for a write to end
		}
		select {
		case r, ok := <-recv:
			if !ok {
				in = nil
				continue
			}
			pending = append(pending, r)
			if len(pending) == 1 {
				timer.Reset(d.o.FinishDelay)
				timeout = timer.C
			}
		case <-timeout:
			late, timeout = true, nil
		case <-written:
			writes--
		}
	}
}

// record writes a batch of results and returns each one's error (nil when
// recorded), logging the failures: their messages stay claimed until the
// lease ends, then are retried.
func (d *Dispatcher) record(ctx context.Context, rs []Result) []error {
	errs := resultErrors(d.st.FinishOutboxBatch(ctx, rs), len(rs))
	failed := false
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed = true
		if ok, held, _ := d.recordErrs.Allow(d.o.Clock.Now()); ok {
			d.o.Logger.Error("outbox: result not recorded", "instance", d.o.InstanceID, "message", rs[i].ID, "status", rs[i].Status,
				"err", err, "held_back", held)
		}
	}
	if !failed {
		d.recordErrs.End()
	}
	return errs
}

// RunOnce claims one batch of due messages, delivers it with Workers at a
// time, records the results and returns how many were delivered. Tests call
// it in a loop with a fake clock.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	now := d.o.Clock.Now()
	due, err := d.st.OutboxDue(ctx, now)
	if err != nil || !due {
		return 0, err
	}
	batch, err := d.st.ClaimOutbox(ctx, d.o.InstanceID, now, d.claimLease(d.o.Batch), d.o.Batch)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	results := make([]Result, len(batch))
	var wg sync.WaitGroup
	sem := make(chan struct{}, d.o.Workers)
	for i, m := range batch {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = d.attempt(ctx, m)
		}()
	}
	wg.Wait()
	errs := d.record(context.WithoutCancel(ctx), results)
	delivered := 0
	for i, r := range results {
		if errs[i] == nil && r.Status == StatusDelivered {
			delivered++
		}
	}
	return delivered, errors.Join(errs...)
}

// attempt makes one delivery attempt and returns the result to record. A
// delivery cut short by the end of ctx (or not started because ctx ended)
// gives a result with an empty Status: the claim is released untouched.
func (d *Dispatcher) attempt(ctx context.Context, m Delivery) Result {
	release := Result{ID: m.ID, LockedBy: m.LockedBy, LockedUntil: m.LockedUntil, Now: d.o.Clock.Now()}
	if ctx.Err() != nil {
		return release
	}
	log := d.o.Logger.With("message", m.ID, "channel", m.Channel, "event", m.Event, "shop", m.ShopID, "attempt", m.Attempts+1)
	start := d.o.Clock.Now()
	// Latency is a measurement of this process's wait, not domain time: it
	// uses the monotonic wall clock so that a fake clock still logs it.
	t0 := time.Now()
	out, err := d.call(ctx, m)
	latency := time.Since(t0)

	if err != nil && ctx.Err() != nil {
		// Shutdown interrupted the attempt: hand the message back untouched.
		return release
	}
	now := d.o.Clock.Now()
	res := Result{
		ID: m.ID, LockedBy: m.LockedBy, LockedUntil: m.LockedUntil, Now: now,
		Attempt: Attempt{
			OutboxID: m.ID, Number: m.Attempts + 1, At: start, StatusCode: out.StatusCode,
			Latency: latency, Response: clean(out.Response, ResponseExcerptBytes), Instance: d.o.InstanceID,
		},
	}
	outcome := "dead"
	defer func() {
		if d.o.Observe != nil {
			d.o.Observe(m.Channel, outcome, latency)
		}
	}()
	switch {
	case err == nil:
		res.Status = StatusDelivered
		outcome = "delivered"
	case errors.Is(err, ErrPermanent):
		res.Status = StatusDead
		res.Attempt.Error = clean(err.Error(), 2000)
		log.Error("outbox: message is dead (permanent failure)", "status", out.StatusCode, "err", err)
	default:
		res.Attempt.Error = clean(err.Error(), 2000)
		wait, more := d.schedule(m.Channel).delay(m.Attempts+1, d.o.Jitter, d.o.Rand())
		if more {
			res.Status = StatusPending
			res.NextAttemptAt = now.Add(wait)
			outcome = "retry"
			log.Warn("outbox: delivery failed, will retry", "status", out.StatusCode, "err", err, "next", res.NextAttemptAt)
		} else {
			res.Status = StatusDead
			log.Error("outbox: message is dead (retries exhausted)", "status", out.StatusCode, "err", err)
		}
	}
	return res
}

// call runs the channel's deliverer under the delivery timeout, turning a
// panic into an ordinary (retried) failure.
func (d *Dispatcher) call(ctx context.Context, m Delivery) (out Outcome, err error) {
	dl := d.deliverers[m.Channel]
	if dl == nil {
		// Not permanent: another copy, or this one after a configuration
		// change, may have the deliverer.
		return Outcome{}, fmt.Errorf("outbox: no deliverer for channel %q", m.Channel)
	}
	dctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("outbox: deliverer panicked: %v", p)
		}
	}()
	return dl.Deliver(dctx, m)
}

func (d *Dispatcher) schedule(channel string) Schedule {
	if s, ok := d.o.Schedules[channel]; ok && len(s) > 0 {
		return s
	}
	return DefaultSchedule
}

// Retry re-drives messages for the CLI and the back office: DEAD and failing
// ones (f.Statuses empty), or DELIVERED ones when f.Statuses asks for them.
// They become due at now with a fresh schedule. It returns how many changed.
func Retry(ctx context.Context, s Store, now time.Time, f Filter) (int, error) {
	if err := checkStatuses(f.Statuses); err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	return s.RetryOutbox(ctx, f, now)
}

// checkStatuses refuses a status filter no message can have, naming it
// and the valid ones.
func checkStatuses(statuses []string) error {
	for _, st := range statuses {
		switch strings.ToUpper(st) {
		case StatusPending, StatusFailed, StatusDead, StatusDelivered:
		default:
			return fmt.Errorf("unknown status %q: give PENDING, FAILED, DEAD or DELIVERED", st)
		}
	}
	return nil
}

// clean makes text safe for a TEXT column on both engines (valid UTF-8, no
// NUL) and clips it to max bytes without splitting a character.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
