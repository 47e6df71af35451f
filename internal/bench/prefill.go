package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
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
	From, To int       // token indexes [From, To)
	LastUsed time.Time // zero: now
	Batch    int       // tokens per transaction (default 2000)
	Progress func(done, total int)
}

// prefillVault opens the database of cfg (migrating it and seeding the
// demo shop, as the server would), and puts tokens TokenValue(From..To-1)
// of the demo shop into the vault, fast: sealed in parallel, inserted in
// transactions of Batch tokens (several writers on PostgreSQL).
func prefillVault(ctx context.Context, cfg config.Config, o prefillOptions) error {
	cfg.Jobs = false
	cfg.Demo = true
	a, err := app.New(ctx, cfg, app.Options{LogOutput: io.Discard})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := prefillWith(ctx, a.DB, a.Keys, o); err != nil {
		return err
	}
	// A vault does not get a million tokens in two minutes: it grows, and
	// autovacuum keeps up. Measured right after the load, PostgreSQL
	// throughput fell by a third (231 vs 360 payments/s, the same with 2 GB
	// of shared_buffers): each payment's token was a row no one had read,
	// whose first reader sets its hint bits. pgbench vacuums before a run
	// for the same reason.
	return a.DB.Vacuum(ctx, "tokens", "data_keys")
}

func prefillWith(ctx context.Context, db *store.DB, keys *vault.Keyring, o prefillOptions) error {
	if o.To <= o.From {
		return nil
	}
	if o.Batch <= 0 {
		o.Batch = 2000
	}
	var clk clock.Clock = clock.Real{}
	if !o.LastUsed.IsZero() {
		clk = clock.NewFake(o.LastUsed)
	}
	pan, err := card.ParsePAN(BenchCard)
	if err != nil {
		return err
	}
	exp := card.Expiry{Month: 12, Year: time.Now().Year() + 5}

	type batch struct{ recs []vault.Record }
	batches := make(chan batch, 4)
	jobs := make(chan [2]int)
	total := o.To - o.From
	var sealErr error
	var sealOnce sync.Once
	var sealWG sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		sealWG.Add(1)
		go func() {
			defer sealWG.Done()
			col := &collector{DB: db}
			v := vault.New(col, keys, clk)
			for j := range jobs {
				recs := make([]vault.Record, 0, j[1]-j[0])
				for i := j[0]; i < j[1]; i++ {
					_, err := v.Tokenize(ctx, nil, vault.TokenizeRequest{
						ShopID: shop.DemoShopID, Mode: "TEST", Token: TokenValue(i),
						PAN: pan, Expiry: exp, HolderName: "Bench Buyer", Origin: "V4",
					})
					if err != nil {
						sealOnce.Do(func() { sealErr = err })
						break
					}
					recs = append(recs, col.rec)
				}
				batches <- batch{recs}
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
	done := 0
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
				if failed || len(b.recs) == 0 {
					continue
				}
				err := insertTokens(ctx, db, b.recs)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				done += len(b.recs)
				if o.Progress != nil && err == nil {
					o.Progress(done, total)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if sealErr != nil {
		return sealErr
	}
	return ctx.Err()
}

// insertTokens writes records in one transaction of the raw writer (not
// the group-commit queue: a pre-fill is a bulk load, not requests).
func insertTokens(ctx context.Context, db *store.DB, recs []vault.Record) error {
	tx, err := db.Writer().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := db.InsertToken(tx, r); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("bench: insert token %s: %w", r.Value, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return db.SyncWAL()
}

func newRand(i int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)+1))
}
