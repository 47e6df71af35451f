package outbox

import (
	"context"
	"sync"
	"time"
)

// Messages a process commits are most often delivered by that same
// process's dispatcher. Found by the claim query, each cost a claim write
// (an UPDATE that searches the due index and checks every message's
// predecessors) inside the single writer every payment waits for: a fifth
// of that writer's time in the payment benchmark. A Reservation lets the
// writing code insert its messages already claimed by the local dispatcher
// and hand them over after the commit: no claim write, no polling delay.
// The store claims a message at insert only when no other message of its
// (channel, ordering key) is PENDING, so a claimed message is always the
// head of its key, as with the claim query. If the process dies before the
// delivery, the claim's lease ends and any copy delivers the message.

// Reservation is room in a running dispatcher for messages about to be
// committed. Insert them claimed by By until Until, then, once committed,
// give the ones the store did claim to Hand; if nothing was committed, call
// Drop. A nil Reservation (no room, no dispatcher) is valid: Hand and Drop
// do nothing and the messages are inserted unclaimed.
type Reservation struct {
	By    string
	Until time.Time
	n     int
	d     *Dispatcher
}

// local is a dispatcher's intake of handed messages while Run runs.
type local struct {
	mu       sync.Mutex
	ctx      context.Context // Run's; nil when not running
	results  chan<- Result
	reserved int // reserved and not yet delivered
	sem      chan struct{}
	wg       sync.WaitGroup
}

// localRoom is how many handed messages a dispatcher holds at most:
// Workers delivering and Workers waiting for one of them. The lease of a
// handed message covers that wait (see Reserve).
func (d *Dispatcher) localRoom() int { return 2 * d.o.Workers }

// Reserve reserves room for n messages; nil when Run is not running or the
// room is taken.
func (d *Dispatcher) Reserve(n int) *Reservation {
	if n <= 0 {
		return nil
	}
	l := &d.local
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx == nil || l.ctx.Err() != nil || l.reserved+n > d.localRoom() {
		return nil
	}
	l.reserved += n
	// A handed message may wait for one round of deliveries before its own.
	until := d.o.Clock.Now().Add(d.claimLease(d.localRoom()))
	return &Reservation{By: d.o.InstanceID, Until: until, n: n, d: d}
}

// Drop gives the room back: nothing was committed.
func (r *Reservation) Drop() {
	if r == nil {
		return
	}
	r.d.unreserve(r.n)
	r.n = 0
}

// Hand delivers committed messages that the store claimed under r (at most
// the number reserved) and gives back the room of the others. Messages
// handed to a dispatcher that has stopped are released for any copy.
func (r *Reservation) Hand(ds []Delivery) {
	if r == nil {
		return
	}
	d := r.d
	if len(ds) > r.n {
		ds = ds[:r.n] // never: the store claims only what was reserved
	}
	d.unreserve(r.n - len(ds))
	r.n = 0
	l := &d.local
	l.mu.Lock()
	ctx, results := l.ctx, l.results
	if ctx != nil {
		l.wg.Add(len(ds))
		d.handed.Add(int64(len(ds)))
	}
	l.mu.Unlock()
	if ctx == nil {
		// Run has returned: release the claims now, in one write, rather
		// than at the end of the lease.
		d.unreserve(len(ds))
		releases := make([]Result, len(ds))
		for i, m := range ds {
			releases[i] = Result{ID: m.ID, LockedBy: r.By, LockedUntil: r.Until, Now: d.o.Clock.Now()}
		}
		d.record(context.Background(), releases)
		return
	}
	for _, m := range ds {
		m.LockedBy, m.LockedUntil = r.By, r.Until
		go func() {
			defer l.wg.Done()
			defer d.unreserve(1)
			l.sem <- struct{}{}
			res := d.attempt(ctx, m)
			<-l.sem
			results <- res
		}()
	}
}

func (d *Dispatcher) unreserve(n int) {
	if n <= 0 {
		return
	}
	d.local.mu.Lock()
	d.local.reserved -= n
	d.local.mu.Unlock()
}

// openLocal starts taking handed messages for Run.
func (d *Dispatcher) openLocal(ctx context.Context, results chan<- Result) {
	l := &d.local
	l.mu.Lock()
	l.ctx, l.results = ctx, results
	l.sem = make(chan struct{}, d.o.Workers)
	l.mu.Unlock()
}

// closeLocal stops taking handed messages and waits for the deliveries of
// those taken (abandoned, with their claims released, when ctx has ended).
func (d *Dispatcher) closeLocal() {
	l := &d.local
	l.mu.Lock()
	l.ctx, l.results = nil, nil
	l.mu.Unlock()
	l.wg.Wait()
}
