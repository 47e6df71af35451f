package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/vault"
)

// BenchCard is the accepted test card every bench token holds.
const BenchCard = "4970100000000055"

// collector is a vault.Store whose InsertToken keeps the sealed record
// instead of writing it: the vault's own Tokenize does the crypto (in
// parallel goroutines), and the records are then inserted through the
// store in large transactions.
type collector struct {
	*store.DB
	rec vault.Record
}

func (c *collector) InsertToken(_ *sql.Tx, rec vault.Record) error {
	c.rec = rec
	return nil
}

// prefillOptions says which tokens to create.
type prefillOptions struct {
	ShopID   string    // whose vault (default: the demo shop)
	From, To int       // token indexes [From, To)
	LastUsed time.Time // zero: now
	Batch    int       // tokens per transaction (default 2000)
	Progress func(done, total int)
}

// prefillVault opens the database of cfg (migrating it, as the server
// would: a -target server's database was first checked by targetSchema to
// need no migration; and seeding the demo shop when the tokens are its
// own), and puts
// tokens TokenValue(From..To-1) of the shop ShopID (which must be there)
// into the vault, fast: sealed in parallel, inserted in transactions of
// Batch tokens (several writers on PostgreSQL). Tokens an earlier run put
// there are kept and used again (a second run against the same server
// failed on them); it returns how many it added.
func prefillVault(ctx context.Context, cfg config.Config, o prefillOptions) (int, error) {
	if o.ShopID == "" {
		o.ShopID = shop.DemoShopID
	}
	cfg.Jobs = false
	// The demo shop is seeded when the tokens are its own, not in the
	// database of a server that has another shop measured (-shop).
	cfg.Demo = o.ShopID == shop.DemoShopID
	a, err := app.New(ctx, cfg, app.Options{LogOutput: io.Discard})
	if err != nil {
		return 0, err
	}
	defer a.Close()
	if _, err := a.DB.Shop(ctx, o.ShopID); err != nil {
		return 0, fmt.Errorf("shop %s (-shop) in the target's database: %w", o.ShopID, err)
	}
	added, err := prefillWith(ctx, a.DB, a.Keys, o)
	if err != nil || added == 0 {
		return added, err
	}
	// A vault does not get a million tokens in two minutes: it grows, and
	// autovacuum keeps up. Measured right after the load, PostgreSQL
	// throughput fell by a third (231 vs 360 payments/s, the same with 2 GB
	// of shared_buffers): each payment's token was a row no one had read,
	// whose first reader sets its hint bits. pgbench vacuums before a run
	// for the same reason.
	return added, a.DB.Vacuum(ctx, "tokens", "data_keys")
}

// existingTokens returns which of the bench tokens TokenValue(from..to-1)
// the shop's vault already has. A token there that is no longer
// ACTIVE (cancelled, purged), or sealed under a master key the keyring
// lacks, is an error: payments with it would fail.
func existingTokens(ctx context.Context, db *store.DB, keys *vault.Keyring, shopID string, from, to int) (map[string]bool, error) {
	rows, err := db.Reader().QueryContext(ctx, `SELECT t.token, t.status, COALESCE(d.master_key_id, '')
		FROM tokens t LEFT JOIN data_keys d ON d.id = t.data_key_id
		WHERE t.shop_id = $1 AND t.mode = 'TEST' AND t.token >= $2 AND t.token <= $3`, shopID, TokenValue(from), TokenValue(to-1))
	if err != nil {
		return nil, fmt.Errorf("bench: read the vault's bench tokens: %w", err)
	}
	defer rows.Close()
	known := map[string]bool{}
	for _, id := range keys.KeyIDs() {
		known[id] = true
	}
	have := map[string]bool{}
	for rows.Next() {
		var value, status, masterKey string
		if err := rows.Scan(&value, &status, &masterKey); err != nil {
			return nil, fmt.Errorf("bench: read the vault's bench tokens: %w", err)
		}
		if status != string(vault.StatusActive) {
			return nil, fmt.Errorf("bench: token %s of an earlier bench run is %s in this vault, not %s: payments with it would fail",
				value, status, vault.StatusActive)
		}
		if !known[masterKey] {
			return nil, fmt.Errorf("bench: token %s of an earlier bench run is sealed under master key %q, which the keyring "+
				"the bench was given does not have: payments with it would fail", value, masterKey)
		}
		have[value] = true
	}
	return have, rows.Err()
}

func prefillWith(ctx context.Context, db *store.DB, keys *vault.Keyring, o prefillOptions) (int, error) {
	if o.To <= o.From {
		return 0, nil
	}
	if o.Batch <= 0 {
		o.Batch = 2000
	}
	if o.ShopID == "" {
		o.ShopID = shop.DemoShopID
	}
	var clk clock.Clock = clock.Real{}
	if !o.LastUsed.IsZero() {
		clk = clock.NewFake(o.LastUsed)
	}
	pan, err := card.ParsePAN(BenchCard)
	if err != nil {
		return 0, err
	}
	exp := card.Expiry{Month: 12, Year: time.Now().Year() + 5}

	type batch struct {
		recs    []vault.Record
		skipped int // already in the vault
	}
	batches := make(chan batch, 4)
	jobs := make(chan [2]int)
	total := o.To - o.From
	var sealErr error
	var sealOnce sync.Once
	var sealFailed atomic.Bool
	fail := func(err error) {
		sealOnce.Do(func() { sealErr = err })
		sealFailed.Store(true)
	}
	var sealWG sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		sealWG.Add(1)
		go func() {
			defer sealWG.Done()
			col := &collector{DB: db}
			v := vault.New(col, keys, clk)
			for j := range jobs {
				if sealFailed.Load() {
					continue // drain: the pre-fill stops with sealErr
				}
				have, err := existingTokens(ctx, db, keys, o.ShopID, j[0], j[1])
				if err != nil {
					fail(err)
					continue
				}
				recs := make([]vault.Record, 0, j[1]-j[0]-len(have))
				for i := j[0]; i < j[1]; i++ {
					if have[TokenValue(i)] {
						continue
					}
					_, err := v.Tokenize(ctx, nil, vault.TokenizeRequest{
						ShopID: o.ShopID, Mode: "TEST", Token: TokenValue(i),
						PAN: pan, Expiry: exp, HolderName: "Bench Buyer", Origin: "V4",
					})
					if err != nil {
						fail(err)
						break
					}
					recs = append(recs, col.rec)
				}
				batches <- batch{recs, len(have)}
			}
		}()
	}
	go func() {
		for s := o.From; s < o.To && ctx.Err() == nil; s += o.Batch {
			e := min(s+o.Batch, o.To)
			jobs <- [2]int{s, e}
		}
		close(jobs)
		sealWG.Wait()
		close(batches)
	}()

	writers := 1
	if db.Dialect() == store.Postgres {
		writers = 4
	}
	var mu sync.Mutex
	done, added := 0, 0
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				mu.Lock()
				failed := firstErr != nil
				mu.Unlock()
				if failed {
					continue
				}
				n, err := 0, error(nil)
				if len(b.recs) > 0 {
					n, err = insertTokens(ctx, db, b.recs)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				done += len(b.recs) + b.skipped
				added += n
				if o.Progress != nil && err == nil {
					o.Progress(done, total)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return added, firstErr
	}
	if sealErr != nil {
		return added, sealErr
	}
	return added, ctx.Err()
}

// insertTokens writes records in one transaction of the raw writer (not
// the group-commit queue: a pre-fill is a bulk load, not requests), and
// returns how many it inserted: a token another bench run inserted
// meanwhile is kept as it is.
func insertTokens(ctx context.Context, db *store.DB, recs []vault.Record) (int, error) {
	tx, err := db.Writer().BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		err := db.InsertToken(tx, r)
		if errors.Is(err, vault.ErrTokenExists) {
			continue // InsertToken leaves the transaction usable
		}
		if err != nil {
			_ = tx.Rollback()
			return 0, fmt.Errorf("bench: insert token %s: %w", r.Value, err)
		}
		n++
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return n, db.SyncWAL()
}

func newRand(i int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)+1))
}
