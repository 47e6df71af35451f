package v4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/errs"
	"github.com/openpsp/openpsp/internal/jsonstr"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
)

// IdempotencyHeader is the request header that makes a mutating call safe to
// retry: the first answer given to a key is replayed, byte for byte, to
// every call that repeats it within IdempotencyTTL.
const IdempotencyHeader = "Idempotency-Key"

// IdempotencyTTL is how long a key's answer is kept.
const IdempotencyTTL = 24 * time.Hour

// Idempotency is the Idempotency-Key layer over mutating web services.
// Calls with the same key in one process wait for the first one in memory;
// across processes (copies sharing a PostgreSQL database) the
// idempotency_keys table decides which call runs and the others poll it.
type Idempotency struct {
	db    *store.DB
	clock clock.Clock
	log   *slog.Logger
	// Lease is how long a running call holds its key before another copy
	// may take it over (its process is presumed dead). It must exceed the
	// longest call: an acquirer timeout plus the writes.
	Lease time.Duration
	// Wait bounds how long a repeated call waits for the first one to
	// finish before answering that it is still in progress.
	Wait time.Duration
	// Poll is how often a call waiting on another copy reads the table.
	Poll time.Duration

	mu       sync.Mutex
	inflight map[string]*flight
}

// flight is a call running in this process, that repeats wait for.
type flight struct {
	hash   string
	done   chan struct{}
	stored string // the stored answer once done; "" if the key was released
}

// NewIdempotency returns the layer; Wrap it around handlers (Options.Wrap).
func NewIdempotency(db *store.DB, clk clock.Clock, log *slog.Logger) *Idempotency {
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Idempotency{db: db, clock: clk, log: log, Lease: 2 * time.Minute, Wait: 40 * time.Second,
		Poll: 100 * time.Millisecond, inflight: map[string]*flight{}}
}

// WithIdempotency returns a wrapper for Options.Wrap.
func WithIdempotency(db *store.DB, clk clock.Clock, log *slog.Logger) func(name string, h Handler) Handler {
	return NewIdempotency(db, clk, log).Wrap
}

// Mutating reports whether a web service changes state. Reads (…/Get) and
// Charge/SDKTest ignore the header.
func Mutating(name string) bool {
	return !strings.HasSuffix(name, "/Get") && name != "Charge/SDKTest"
}

// Wrap returns h guarded by the Idempotency-Key header when the service
// mutates; reads are returned unchanged.
func (i *Idempotency) Wrap(name string, h Handler) Handler {
	if !Mutating(name) {
		return h
	}
	return func(c *Call) (any, error) {
		if c.HTTP == nil {
			return h(c)
		}
		key := c.HTTP.Header.Get(IdempotencyHeader)
		if key == "" {
			return h(c)
		}
		if !validKey(key) {
			return nil, &errs.Error{Code: errs.InputInvalid, Message: "web-service input data validation error",
				Field: IdempotencyHeader, Detail: "Invalid input value [name=Idempotency-Key]: 1 to 255 printable ASCII characters"}
		}
		return i.serve(c, name, scopedKey(c.Creds.Mode, key), h)
	}
}

// scopedKey keeps the keys of the two modes apart: a merchant who derives
// keys from its order numbers sends the same key to TEST and PRODUCTION,
// and a live call must never replay a test answer (a TEST formToken, paid
// on the test acquirer). The space cannot occur in a key (validKey).
// PRODUCTION keys are stored as they were before modes were told apart,
// so that a live retry across the upgrade still finds its answer.
func scopedKey(mode, key string) string {
	if mode == shop.ModeProduction {
		return key
	}
	return mode + " " + key
}

func validKey(k string) bool {
	if len(k) > 255 {
		return false
	}
	for j := 0; j < len(k); j++ {
		if k[j] < 0x21 || k[j] > 0x7e {
			return false
		}
	}
	return true
}

// requestHash identifies a request: the web service and its body, with
// JSON re-encoded so that key order and spacing do not matter.
func requestHash(name string, body []byte) string {
	canon := body
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil && !dec.More() {
		if b, err := json.Marshal(v); err == nil {
			canon = b
		}
	}
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))
}

func keyMismatch() error {
	return &errs.Error{Code: errs.InputInvalid, Message: "web-service input data validation error", Field: IdempotencyHeader,
		Detail: "this Idempotency-Key was already used with another request; use a new key for a new request"}
}

func keyInProgress() error {
	return &errs.Error{Code: errs.DupForbidden, Message: "duplication forbidden", Field: IdempotencyHeader,
		Detail: "a request with this Idempotency-Key is still being processed; retry later"}
}

// storedAnswer is what the table keeps: the answer JSON or the error.
type storedAnswer struct {
	Answer json.RawMessage `json:"answer,omitempty"`
	Error  *storedError    `json:"error,omitempty"`
}

type storedError struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	DetailedCode string `json:"detailedCode,omitempty"`
	Detail       string `json:"detail,omitempty"`
	Field        string `json:"field,omitempty"`
}

// encode turns a handler's result into what is stored; cacheable is false
// for internal errors, which a retry should run again.
func encode(answer any, err error) (stored string, cacheable bool) {
	if err != nil {
		e, ok := errs.As(err)
		if !ok || e.Code == errs.Internal {
			return "", false
		}
		s, _ := jsonstr.Marshal(storedAnswer{Error: &storedError{Code: e.Code, Message: e.Message, DetailedCode: e.DetailedCode,
			Detail: e.Detail, Field: e.Field}})
		return s, true
	}
	raw, merr := json.Marshal(answer)
	if merr != nil {
		return "", false
	}
	s, _ := jsonstr.Marshal(storedAnswer{Answer: raw})
	return s, true
}

// decode gives back a stored result: the answer as raw JSON, so that every
// replay sends the very bytes the first call sent.
func decode(stored string) (any, error) {
	var s storedAnswer
	if err := json.Unmarshal([]byte(stored), &s); err != nil {
		return nil, &errs.Error{Code: errs.Internal, Message: "internal error, please retry later", Err: err}
	}
	if s.Error != nil {
		return nil, &errs.Error{Code: s.Error.Code, Message: s.Error.Message, DetailedCode: s.Error.DetailedCode,
			Detail: s.Error.Detail, Field: s.Error.Field}
	}
	return s.Answer, nil
}

func (i *Idempotency) serve(c *Call, name, key string, h Handler) (any, error) {
	hash := requestHash(name, c.Body)
	fk := c.Shop.ID + "\x00" + key
	// Waits are bounded in wall time, not by the domain clock: a fake
	// clock in tests must not make a waiting request wait forever.
	deadline := time.Now().Add(i.Wait)
	for {
		i.mu.Lock()
		f, running := i.inflight[fk]
		if !running {
			f = &flight{hash: hash, done: make(chan struct{})}
			i.inflight[fk] = f
		}
		i.mu.Unlock()
		if !running {
			return i.lead(c, name, key, hash, f, h)
		}
		if f.hash != hash {
			return nil, keyMismatch()
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-f.done:
			timer.Stop()
		case <-timer.C:
			return nil, keyInProgress()
		case <-c.Ctx.Done():
			timer.Stop()
			return nil, keyInProgress()
		}
		if f.stored != "" {
			return decode(f.stored)
		}
		// The first call failed in a way worth retrying and released the
		// key: this call may run it.
	}
}

// lead runs the call for this process: it claims the key in the table,
// runs the handler (or replays what is stored) and wakes the waiters.
func (i *Idempotency) lead(c *Call, name, key, hash string, f *flight, h Handler) (answer any, err error) {
	defer func() {
		i.mu.Lock()
		delete(i.inflight, c.Shop.ID+"\x00"+key)
		i.mu.Unlock()
		close(f.done)
	}()
	ctx := context.WithoutCancel(c.Ctx)
	now := i.clock.Now()
	rec, started, err := i.db.BeginIdempotent(ctx, store.IdempotencyRecord{
		ShopID: c.Shop.ID, Key: key, WebService: name, RequestHash: hash,
		ExpiresAt: now.Add(IdempotencyTTL), LockedUntil: now.Add(i.Lease),
	}, now)
	if err != nil {
		return nil, &errs.Error{Code: errs.Internal, Message: "internal error, please retry later", Err: err}
	}
	if !started {
		if rec.RequestHash != hash || rec.WebService != name {
			return nil, keyMismatch()
		}
		stored, err := i.awaitOther(c, rec)
		if err != nil {
			return nil, err
		}
		f.stored = stored
		return decode(stored)
	}
	answer, herr := h(c)
	stored, cacheable := encode(answer, herr)
	if !cacheable {
		if rerr := i.db.ReleaseIdempotent(ctx, c.Shop.ID, key); rerr != nil {
			i.log.Error("idempotency: release key", "shop", c.Shop.ID, "err", rerr)
		}
		return answer, herr
	}
	if ferr := i.db.FinishIdempotent(ctx, c.Shop.ID, key, stored); ferr != nil {
		// The call happened; its answer is not kept. Answer it anyway: a
		// retry with the key finds it RUNNING until the lease passes.
		i.log.Error("idempotency: store answer", "shop", c.Shop.ID, "err", ferr)
	}
	f.stored = stored
	return decode(stored)
}

// awaitOther waits (bounded) for a call running in another process.
func (i *Idempotency) awaitOther(c *Call, rec store.IdempotencyRecord) (string, error) {
	deadline := time.Now().Add(i.Wait)
	for rec.State != store.IdempotencyDone {
		if time.Now().After(deadline) {
			return "", keyInProgress()
		}
		t := time.NewTimer(i.Poll)
		select {
		case <-t.C:
		case <-c.Ctx.Done():
			t.Stop()
			return "", keyInProgress()
		}
		var err error
		rec, err = i.db.GetIdempotent(context.WithoutCancel(c.Ctx), c.Shop.ID, rec.Key)
		if errors.Is(err, store.ErrNotFound) {
			// Released by the other call (internal error): ask the caller
			// to retry rather than run it here unguarded.
			return "", keyInProgress()
		}
		if err != nil {
			return "", &errs.Error{Code: errs.Internal, Message: "internal error, please retry later", Err: err}
		}
	}
	return rec.Response, nil
}

// PurgeIdempotencyKeys deletes expired keys; the scheduler calls it.
func (i *Idempotency) PurgeIdempotencyKeys(ctx context.Context, limit int) (int, error) {
	return i.db.PurgeIdempotency(ctx, i.clock.Now(), limit)
}
