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

// Options configures a Dispatcher. Zero values mean the documented defaults.
type Options struct {
	// Workers is how many deliveries run at once (default 8).
	Workers int
	// Batch is how many messages one poll claims (default 2×Workers).
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
	// Lease is how long a claim lasts (default: long enough for a whole
	// batch to time out, plus a minute). A copy that dies mid-delivery
	// holds its messages this long before another copy retries them.
	Lease time.Duration
	// PollInterval is the pause when nothing is due (default 500ms).
	PollInterval time.Duration
	// Clock gives the time of attempts and schedules (default the wall clock).
	Clock clock.Clock
	// Logger receives one line per failure (default slog.Default()).
	Logger *slog.Logger
	// InstanceID names this copy in claims and in the delivery log
	// (default a random id).
	InstanceID string
	// Rand returns numbers in [0,1) for the jitter (default math/rand/v2).
	Rand func() float64
}

// Dispatcher delivers outbox messages with retries. Any number of
// dispatchers, in one process or many, may share a database.
type Dispatcher struct {
	st         Store
	deliverers map[string]Deliverer
	o          Options
	kick       chan struct{}
}

// NewDispatcher returns a dispatcher that claims messages from st and hands
// each to the deliverer of its channel.
func NewDispatcher(st Store, deliverers map[string]Deliverer, o Options) *Dispatcher {
	if o.Workers <= 0 {
		o.Workers = 8
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
	if o.Lease <= 0 {
		rounds := (o.Batch + o.Workers - 1) / o.Workers
		o.Lease = time.Duration(rounds)*o.Timeout + time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 500 * time.Millisecond
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
	return &Dispatcher{st: st, deliverers: ds, o: o, kick: make(chan struct{}, 1)}
}

// InstanceID returns the name this dispatcher claims messages under.
func (d *Dispatcher) InstanceID() string { return d.o.InstanceID }

// Kick wakes a waiting Run at once (call it after committing messages to
// skip the poll delay). It never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Deliveries in flight when ctx ends are
// abandoned and their claims released without counting an attempt.
func (d *Dispatcher) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		_, claimed, err := d.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d.o.Logger.Error("outbox: dispatch", "instance", d.o.InstanceID, "err", err)
		}
		if claimed > 0 && err == nil {
			continue // more may be waiting: no pause while there is work
		}
		timer.Reset(d.o.PollInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-d.kick:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
	}
}

// RunOnce claims one batch of due messages, delivers it and returns how many
// were delivered. Tests call it in a loop with a fake clock.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	n, _, err := d.runOnce(ctx)
	return n, err
}

func (d *Dispatcher) runOnce(ctx context.Context) (delivered, claimed int, err error) {
	now := d.o.Clock.Now()
	due, err := d.st.OutboxDue(ctx, now)
	if err != nil || !due {
		return 0, 0, err
	}
	batch, err := d.st.ClaimOutbox(ctx, d.o.InstanceID, now, d.o.Lease, d.o.Batch)
	if err != nil || len(batch) == 0 {
		return 0, 0, err
	}
	var (
		wg   sync.WaitGroup
		ok   atomic.Int64
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, d.o.Workers)
	)
	for _, m := range batch {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			done, err := d.deliver(ctx, m)
			if done {
				ok.Add(1)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return int(ok.Load()), len(batch), errors.Join(errs...)
}

// deliver makes one attempt and records it. It returns whether the message
// was delivered, and an error only when the result could not be stored.
func (d *Dispatcher) deliver(ctx context.Context, m Delivery) (bool, error) {
	log := d.o.Logger.With("message", m.ID, "channel", m.Channel, "event", m.Event, "shop", m.ShopID, "attempt", m.Attempts+1)
	start := d.o.Clock.Now()
	// Latency is a measurement of this process's wait, not domain time: it
	// uses the monotonic wall clock so that a fake clock still logs it.
	t0 := time.Now()
	out, err := d.call(ctx, m)
	latency := time.Since(t0)
	// The result must be stored even when ctx has just ended.
	wctx := context.WithoutCancel(ctx)

	if err != nil && ctx.Err() != nil {
		// Shutdown interrupted the attempt: hand the message back untouched.
		return false, d.st.FinishOutbox(wctx, Result{ID: m.ID, LockedBy: m.LockedBy, LockedUntil: m.LockedUntil})
	}
	now := d.o.Clock.Now()
	res := Result{
		ID: m.ID, LockedBy: m.LockedBy, LockedUntil: m.LockedUntil, Now: now,
		Attempt: Attempt{
			OutboxID: m.ID, Number: m.Attempts + 1, At: start, StatusCode: out.StatusCode,
			Latency: latency, Response: clean(out.Response, ResponseExcerptBytes), Instance: d.o.InstanceID,
		},
	}
	switch {
	case err == nil:
		res.Status = StatusDelivered
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
			log.Warn("outbox: delivery failed, will retry", "status", out.StatusCode, "err", err, "next", res.NextAttemptAt)
		} else {
			res.Status = StatusDead
			log.Error("outbox: message is dead (retries exhausted)", "status", out.StatusCode, "err", err)
		}
	}
	if serr := d.st.FinishOutbox(wctx, res); serr != nil {
		return false, serr
	}
	return res.Status == StatusDelivered, nil
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
	for _, st := range f.Statuses {
		switch strings.ToUpper(st) {
		case StatusPending, StatusFailed, StatusDead, StatusDelivered:
		default:
			return 0, fmt.Errorf("outbox: unknown status %q (PENDING, FAILED, DEAD or DELIVERED)", st)
		}
	}
	return s.RetryOutbox(ctx, f, now)
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
