package payment

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// twoCopies opens one fresh PostgreSQL database twice, as two openpsp
// copies do (a pool each).
func twoCopies(t *testing.T) (db, other *store.DB) {
	t.Helper()
	u := storetest.NewMigratedPostgresDatabase(t)
	open := func() *store.DB {
		db, err := store.Open(context.Background(), store.Options{URL: u})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	db, other = open(), open()
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, other
}

// The capture job of one openpsp copy and a merchant's operation on the
// same payment through another copy (one PostgreSQL database) must not
// deadlock: the job's settlement write updated the transaction, then the
// payment, while the merchant's operation (apply) locks the payment, then
// the transaction. PostgreSQL aborted one of them: the merchant got
// INT_999, or the capture stayed claimed until recovery settled it.
func TestCaptureJobAndMerchantCallOnTwoCopiesNeverDeadlock(t *testing.T) {
	ctx := context.Background()
	db, other := twoCopies(t)
	e := newEnv(t, db)
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	cfg := Config{AcquirerTimeout: 200 * time.Millisecond, Logger: log}
	jobs := New(db, e.clk, e.sim, CardVault(e.vault), cfg)
	merchant := New(other, e.clk, e.sim, CardVault(e.vault), cfg)

	const rounds = 200
	amount := int64(700)
	for range rounds {
		_, tx := e.pay(CreateInput{Amount: 800}, cardOK)
		// The merchant lowers the amount again and again while the job
		// claims and captures the debit: once it is claimed, each call
		// is refused (PSP_010) after locking the payment and the
		// transaction, as any operation does.
		done := make(chan struct{})
		var merr error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, _, err := merchant.Update(ctx, e.shop.ID, tx.UUID, UpdateInput{Amount: &amount})
				if store.IsDeadlock(err) {
					merr = err
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		}()
		if _, err := jobs.CaptureAllDue(ctx, 10); err != nil {
			t.Fatal(err)
		}
		close(done)
		wg.Wait()
		if merr != nil {
			t.Fatalf("merchant call: %v", merr)
		}
		mu.Lock()
		logged := buf.String()
		mu.Unlock()
		if strings.Contains(logged, "40P01") {
			t.Fatalf("capture job:\n%s", logged)
		}
	}
	// Every debit was captured by one of the runs (a run that found its
	// debit locked by the merchant left it to the next).
	if _, err := jobs.CaptureAllDue(ctx, 10); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM transactions WHERE detailed_status <> 'CAPTURED'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d debits not captured", left)
	}
}
