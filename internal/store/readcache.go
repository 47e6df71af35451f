package store

import (
	"bytes"
	"errors"
	"sync"
	"time"

	"github.com/openpsp/openpsp/internal/shop"
)

// shopReadTTL is how long a shop, its API key sets and its template
// overrides are served from memory. Every payment read them several times
// (authentication, the IPN's signature, the buyer's email: five reads per
// payment, about a tenth of PostgreSQL's round trips). A change made through
// this process is seen at once (the cache is emptied); one made by another
// copy or an operator command within this time.
const shopReadTTL = time.Second

// maxCachedReads bounds each cache; past it the cache starts over.
const maxCachedReads = 10000

// readCache keeps what a loader returned (a value or ErrNotFound) for
// shopReadTTL. Loads that started before an invalidation are not kept.
type readCache[K comparable, V any] struct {
	mu  sync.Mutex
	gen uint64
	m   map[K]cachedRead[V]
}

type cachedRead[V any] struct {
	v   V
	err error
	at  time.Time
}

func (c *readCache[K, V]) get(key K, load func() (V, error)) (V, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Sub(e.at) < shopReadTTL {
		return e.v, e.err
	}
	v, err := load()
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, shop.ErrNotFound) {
		return v, err // a failure is not an answer to keep
	}
	c.mu.Lock()
	if c.gen == gen {
		if c.m == nil || len(c.m) >= maxCachedReads {
			c.m = map[K]cachedRead[V]{}
		}
		c.m[key] = cachedRead[V]{v: v, err: err, at: now}
	}
	c.mu.Unlock()
	return v, err
}

// invalidate forgets everything, including loads in flight.
func (c *readCache[K, V]) invalidate() {
	c.mu.Lock()
	c.gen++
	c.m = nil
	c.mu.Unlock()
}

// shopReads are the DB's caches of shop data.
type shopReads struct {
	shops     readCache[string, shop.Shop]
	apiKeys   readCache[[2]string, shop.SealedAPIKeys]
	templates readCache[[3]string, NotifyTemplate]
}

// invalidateShops forgets every cached shop read; every write to shops,
// their key sets or their templates calls it.
func (db *DB) invalidateShops() {
	db.shopReads.shops.invalidate()
	db.shopReads.apiKeys.invalidate()
	db.shopReads.templates.invalidate()
}

// cloneAPIKeys copies the byte slices, so that no caller can change the
// cached copy.
func cloneAPIKeys(k shop.SealedAPIKeys) shop.SealedAPIKeys {
	k.PasswordDigest = bytes.Clone(k.PasswordDigest)
	k.PasswordSealed = bytes.Clone(k.PasswordSealed)
	k.HMACKeySealed = bytes.Clone(k.HMACKeySealed)
	k.DataKey.Wrapped = bytes.Clone(k.DataKey.Wrapped)
	return k
}
