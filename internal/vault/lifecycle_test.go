package vault_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

func TestPurgeAfterRetention(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		var toks []vault.Token
		for i := 0; i < 7; i++ {
			r := req(t, shopA, testPANs[i])
			r.CustomerReference = "cust-001"
			toks = append(toks, e.tokenize(t, r))
		}
		cancelled := toks[6]
		if _, err := e.v.Cancel(ctx, shopA, "TEST", cancelled.Value); err != nil {
			t.Fatal(err)
		}
		// Ten months on, token 1 pays again.
		e.clk.Advance(10 * 30 * 24 * time.Hour)
		used := toks[1]
		if err := db.Write(ctx, func(tx *sql.Tx) error { return e.v.MarkUsed(tx, shopA, "TEST", used.Value) }); err != nil {
			t.Fatal(err)
		}
		// Fifteen months and a day after tokenization.
		e.clk.Set(vault.RetentionPeriod.Before(t0).AddDate(0, 30, 1)) // t0 + 15 months + 1 day
		if got := vault.RetentionPeriod.Before(e.clk.Now()); !got.After(t0) || got.After(t0.Add(48*time.Hour)) {
			t.Fatalf("cutoff %v, want just after %v", got, t0)
		}
		dataKeys := e.count(t, `SELECT COUNT(*) FROM data_keys`)

		n, err := e.v.PurgeRetention(ctx, vault.PurgeOptions{DryRun: true})
		if err != nil || n != 6 {
			t.Fatalf("dry run: %d %v", n, err)
		}
		if got := e.count(t, `SELECT COUNT(*) FROM tokens WHERE status = 'PURGED'`); got != 0 {
			t.Fatalf("dry run purged %d", got)
		}
		// (Not Card: opening a card is a use, which would spare the token.)
		if got := e.count(t, `SELECT COUNT(*) FROM tokens WHERE ciphertext IS NOT NULL`); got != 7 {
			t.Fatalf("%d tokens with card data after the dry run, want 7", got)
		}

		// Interrupt after the first batch, then run again.
		cctx, cancel := context.WithCancel(ctx)
		var calls []string
		n, err = e.v.PurgeRetention(cctx, vault.PurgeOptions{BatchSize: 2, Progress: func(done, total int) {
			calls = append(calls, fmt.Sprintf("%d/%d", done, total))
			cancel()
		}})
		if !errors.Is(err, context.Canceled) || n != 2 {
			t.Fatalf("interrupted purge: %d %v", n, err)
		}
		n, err = e.v.PurgeRetention(ctx, vault.PurgeOptions{BatchSize: 2, Progress: func(done, total int) {
			calls = append(calls, fmt.Sprintf("%d/%d", done, total))
		}})
		if err != nil || n != 4 {
			t.Fatalf("resumed purge: %d %v", n, err)
		}
		if fmt.Sprint(calls) != "[2/6 2/4 4/4]" {
			t.Fatalf("progress %v", calls)
		}
		if got := e.count(t, `SELECT COUNT(*) FROM data_keys`); got != dataKeys-6 {
			t.Fatalf("%d data keys left, want %d", got, dataKeys-6)
		}
		if got := e.count(t, `SELECT COUNT(*) FROM tokens WHERE status = 'PURGED' AND ciphertext IS NULL
			AND fingerprint IS NULL AND data_key_id IS NULL AND purged_at IS NOT NULL`); got != 6 {
			t.Fatalf("%d tokens fully purged, want 6", got)
		}
		for i, tok := range toks {
			_, _, got, err := e.v.Card(ctx, shopA, "TEST", tok.Value)
			if tok.Value == used.Value {
				if err != nil {
					t.Fatalf("token used after the cutoff: %v", err)
				}
				continue
			}
			if !errors.Is(err, vault.ErrTokenPurged) {
				t.Fatalf("token %d: %v", i, err)
			}
			// Masked details stay for the merchant's history.
			if got.PANMasked != tok.PANMasked || got.Status != vault.StatusPurged || !got.PurgedAt.Equal(e.clk.Now()) {
				t.Fatalf("purged token %+v", got)
			}
		}
		if _, err := e.v.Reactivate(ctx, shopA, "TEST", cancelled.Value); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("reactivate purged: %v", err)
		}
		if _, err := e.v.Update(ctx, shopA, "TEST", toks[0].Value, vault.TokenUpdate{}); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("update purged: %v", err)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM tokens t LEFT JOIN data_keys d ON d.id = t.data_key_id
			WHERE t.status <> 'PURGED' AND d.id IS NULL`); n != 0 {
			t.Fatalf("%d live tokens lost their data key", n)
		}
		if found, _ := e.v.FindByFingerprint(ctx, shopA, pan(t, testPANs[0])); len(found) != 0 {
			t.Fatal("fingerprint survived the purge")
		}
		if w, _ := e.v.Wallet(ctx, shopA, "cust-001", vault.StatusPurged); len(w) != 6 {
			t.Fatalf("purged in wallet: %d", len(w))
		}
		if n, err := e.v.PurgeRetention(ctx, vault.PurgeOptions{}); err != nil || n != 0 {
			t.Fatalf("second purge: %d %v", n, err)
		}
	})
}

// MakePermanentTx keeps a live temporary token in the caller's write (the
// one that starts a DirectLink payment), refuses one whose time is up even
// before the expiry job, and leaves a permanent one alone.
func TestMakePermanentTx(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		mk := func(number string) vault.Token {
			r := req(t, shopA, number)
			r.TTL = 2 * time.Hour
			return e.tokenize(t, r)
		}
		live, late := mk(testPANs[0]), mk(testPANs[1])
		perm := e.tokenize(t, req(t, shopA, testPANs[2]))
		keep := func(token string) error {
			return db.Write(ctx, func(tx *sql.Tx) error { return e.v.MakePermanentTx(tx, shopA, "TEST", token) })
		}
		e.clk.Advance(2*time.Hour - time.Second)
		if err := keep(live.Value); err != nil {
			t.Fatalf("live temporary token: %v", err)
		}
		if err := keep(perm.Value); err != nil {
			t.Fatalf("permanent token: %v", err)
		}
		e.clk.Advance(time.Second) // late is at its expires_at: over
		if err := keep(late.Value); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("temporary token past its time: %v", err)
		}
		if n, err := e.v.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil || n != 1 {
			t.Fatalf("expiry job: %d %v", n, err)
		}
		for _, tok := range []vault.Token{live, perm} {
			if got, err := e.v.Get(ctx, shopA, "TEST", tok.Value); err != nil || !got.Permanent || !got.ExpiresAt.IsZero() {
				t.Fatalf("token %s: %+v %v", tok.Value, got, err)
			}
		}
		if err := keep(late.Value); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("purged token: %v", err)
		}
	})
}

func TestTemporaryTokens(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		mk := func(number string) vault.Token {
			r := req(t, shopA, number)
			r.TTL = 2 * time.Hour
			return e.tokenize(t, r)
		}
		temp, kept := mk(testPANs[0]), mk(testPANs[1])
		perm := e.tokenize(t, req(t, shopA, testPANs[2]))
		if temp.Permanent || !temp.ExpiresAt.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("temporary token %+v", temp)
		}
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", temp.Value); err != nil {
			t.Fatalf("live temporary token: %v", err)
		}
		e.clk.Advance(time.Hour)
		k, err := e.v.MakePermanent(ctx, shopA, "TEST", kept.Value)
		if err != nil || !k.Permanent || !k.ExpiresAt.IsZero() {
			t.Fatalf("make permanent: %+v %v", k, err)
		}
		if n, err := e.v.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil || n != 0 {
			t.Fatalf("early expiry job: %d %v", n, err)
		}
		e.clk.Advance(time.Hour) // exactly at expires_at: over
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", temp.Value); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("temporary token past its time, before the job: %v", err)
		}
		if _, err := e.v.MakePermanent(ctx, shopA, "TEST", temp.Value); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("make permanent too late: %v", err)
		}
		n, err := e.v.ExpireTemporary(ctx, vault.PurgeOptions{})
		if err != nil || n != 1 {
			t.Fatalf("expiry job: %d %v", n, err)
		}
		if got := e.count(t, `SELECT COUNT(*) FROM tokens WHERE status='PURGED' AND ciphertext IS NULL AND token=$1`, temp.Value); got != 1 {
			t.Fatal("temporary token not purged")
		}
		if got := e.count(t, `SELECT COUNT(*) FROM data_keys`); got != 2 {
			t.Fatalf("%d data keys, want 2", got)
		}
		for _, tok := range []vault.Token{kept, perm} {
			if _, _, _, err := e.v.Card(ctx, shopA, "TEST", tok.Value); err != nil {
				t.Fatalf("token %s: %v", tok.Value, err)
			}
		}
		if n, err := e.v.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil || n != 0 {
			t.Fatalf("second expiry job: %d %v", n, err)
		}
	})
}

// underPrimary asserts every data key is wrapped by the primary and every
// token opens.
func (e *env) assertAllUnderPrimary(t *testing.T, toks []vault.Token) {
	t.Helper()
	if n := e.count(t, `SELECT COUNT(*) FROM data_keys WHERE master_key_id <> $1`, e.keys.PrimaryID()); n != 0 {
		t.Fatalf("%d data keys not under the primary %s", n, e.keys.PrimaryID())
	}
	for _, tok := range toks {
		if _, _, _, err := e.v.Card(context.Background(), tok.ShopID, "TEST", tok.Value); err != nil {
			t.Fatalf("token %s after rotation: %v", tok.Value, err)
		}
	}
}

func TestRotationWhilePaymentsContinue(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		vault.SetRewrapBatch(e.v, 25)
		ctx := context.Background()
		var mu sync.Mutex
		var toks []vault.Token
		for i := 0; i < 120; i++ {
			toks = append(toks, e.tokenize(t, req(t, []string{shopA, shopB}[i%2], testPANs[i%len(testPANs)])))
		}
		old := e.keys.PrimaryID()

		// Requests are built here: t.Fatal must not run in the workers.
		var reqs []vault.TokenizeRequest
		for _, n := range testPANs {
			reqs = append(reqs, req(t, shopA, n))
		}
		stop := make(chan struct{})
		errs := make(chan error, 8)
		var wg sync.WaitGroup
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					tok, err := e.v.TokenizeNow(ctx, reqs[(w+i)%len(reqs)])
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					toks = append(toks, tok)
					probe := toks[(i*7+w)%len(toks)]
					mu.Unlock()
					if _, _, _, err := e.v.Card(ctx, probe.ShopID, "TEST", probe.Value); err != nil {
						errs <- fmt.Errorf("card %s during rotation: %w", probe.Value, err)
						return
					}
				}
			}(w)
		}
		var last [2]int
		err := e.v.RotateMasterKey(ctx, func(done, total int) { last = [2]int{done, total} })
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.keys.PrimaryID() == old {
			t.Fatal("primary unchanged")
		}
		if last[0] < 120 || last[0] != last[1] {
			t.Fatalf("last progress %v", last)
		}
		e.assertAllUnderPrimary(t, toks)
		if n := e.count(t, `SELECT COUNT(*) FROM data_keys WHERE rewrapped_at IS NOT NULL`); n < 120 {
			t.Fatalf("only %d data keys rewrapped", n)
		}
	})
}

func TestRotationResumes(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		vault.SetRewrapBatch(e.v, 10)
		ctx := context.Background()
		var toks []vault.Token
		for i := 0; i < 45; i++ {
			toks = append(toks, e.tokenize(t, req(t, shopA, testPANs[i%len(testPANs)])))
		}
		old := e.keys.PrimaryID()
		cctx, cancel := context.WithCancel(ctx)
		err := e.v.RotateMasterKey(cctx, func(done, total int) {
			if done >= 20 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted rotation: %v", err)
		}
		left := e.count(t, `SELECT COUNT(*) FROM data_keys WHERE master_key_id = $1`, old)
		if left != 25 {
			t.Fatalf("%d data keys left under the old key, want 25", left)
		}
		// Half-rotated: every token still opens (both keys are in the ring).
		for _, tok := range toks {
			if _, _, _, err := e.v.Card(ctx, shopA, "TEST", tok.Value); err != nil {
				t.Fatal(err)
			}
		}
		// Another process (openpsp keys rewrap) finishes the job.
		keys2, err := vault.LoadKeyring(e.path, "", false)
		if err != nil {
			t.Fatal(err)
		}
		v2 := vault.New(db, keys2, e.clk)
		var progress []int
		if err := v2.RewrapAll(ctx, func(done, total int) { progress = append(progress, done, total) }); err != nil {
			t.Fatal(err)
		}
		if progress[1] != 25 || progress[len(progress)-2] != 25 {
			t.Fatalf("progress %v", progress)
		}
		e.assertAllUnderPrimary(t, toks)

		// A third rotation by the other process: this vault meets a data key
		// under a master key it has never seen, reloads, and reads it.
		if err := v2.RotateMasterKey(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if e.keys.PrimaryID() == keys2.PrimaryID() {
			t.Fatal("test setup: first keyring already knows the new primary")
		}
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", toks[0].Value); err != nil {
			t.Fatalf("card after rotation elsewhere: %v", err)
		}
		if e.keys.PrimaryID() != keys2.PrimaryID() {
			t.Fatal("no reload on an unknown master key")
		}
		e.assertAllUnderPrimary(t, toks)
	})
}

// TestNoCardNumberAtRest looks for the card numbers in everything the
// database holds: every column of the vault tables on both engines, and the
// raw SQLite files (database, WAL, shared memory).
func TestNoCardNumberAtRest(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		var toks []vault.Token
		for i, n := range testPANs {
			r := req(t, []string{shopA, shopB}[i%2], n)
			r.CustomerReference = "cust-1"
			toks = append(toks, e.tokenize(t, r))
		}
		// Rotation and updates write card-related rows again.
		exp := toks[0].Expiry
		exp.Year++
		if _, err := e.v.Update(ctx, toks[0].ShopID, "TEST", toks[0].Value, vault.TokenUpdate{Expiry: &exp}); err != nil {
			t.Fatal(err)
		}
		if err := e.v.RotateMasterKey(ctx, nil); err != nil {
			t.Fatal(err)
		}
		needles := map[string][][]byte{}
		for _, n := range testPANs {
			needles[n] = panNeedles(n)
		}
		scan := func(where string, hay []byte) {
			t.Helper()
			for n, ns := range needles {
				for _, needle := range ns {
					if bytes.Contains(hay, needle) {
						t.Fatalf("card number %s…%s found in %s as %q", n[:6], n[len(n)-4:], where, needle)
					}
				}
			}
		}
		for _, table := range []string{"tokens", "data_keys"} {
			// Rows are collected first and scanned after Close: a t.Fatal
			// with open rows would leave the pool waiting forever.
			var dumps [][]byte
			rows, err := db.Reader().Query(`SELECT * FROM ` + table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					rows.Close()
					t.Fatal(err)
				}
				var buf bytes.Buffer
				for _, v := range vals {
					if b, ok := v.([]byte); ok {
						buf.Write(b)
						buf.WriteString(hex.EncodeToString(b))
					} else {
						fmt.Fprint(&buf, v)
					}
					buf.WriteByte('|')
				}
				dumps = append(dumps, buf.Bytes())
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range dumps {
				scan(table+" row", d)
			}
		}
		if db.Dialect() != store.SQLite {
			return
		}
		var all []byte
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(db.Path() + suffix)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			scan("file "+suffix, b)
			all = append(all, b...)
		}
		// The scan must be able to fail: what the vault does keep in clear
		// (masked numbers, holder names) is visible in the same bytes.
		for _, tok := range toks[1:] {
			if !bytes.Contains(all, []byte(tok.PANMasked)) {
				t.Fatalf("masked number %s not found in the SQLite files: the scan sees nothing", tok.PANMasked)
			}
		}
	})
}

// panNeedles are the forms a leaked card number could take: ASCII digits,
// hex of the ASCII, packed BCD, and the digits between BIN and last four.
func panNeedles(n string) [][]byte {
	out := [][]byte{[]byte(n), []byte(hex.EncodeToString([]byte(n))), []byte(strings.ToUpper(hex.EncodeToString([]byte(n))))}
	if len(n)%2 == 0 {
		if bcd, err := hex.DecodeString(n); err == nil {
			out = append(out, bcd)
		}
	}
	if mid := n[6 : len(n)-4]; len(mid) >= 5 && strings.Trim(mid, "0") != "" {
		out = append(out, []byte(n[:6]+mid))
	}
	return out
}

// "Unused for 15 months" counts calendar months from the last use. Near a
// month's end the cutoff was the same day 15 months earlier as time.AddDate
// normalizes it: on 31 May, "31 February" became 3 March, so a card last
// used on 2 March (15 months reached only on 2 June) lost its data two days
// early. A cutoff whose day does not exist in its month must be the end of
// that month instead.
func TestRetentionCutoffAtMonthEnd(t *testing.T) {
	for _, c := range []struct{ now, want string }{
		{"2026-06-15T10:00:00Z", "2025-03-15T10:00:00Z"},
		{"2026-05-31T10:00:00Z", "2025-03-01T00:00:00Z"}, // 28 February 2025 has passed, 1 March has not
		{"2026-05-28T10:00:00Z", "2025-02-28T10:00:00Z"},
		{"2025-05-29T10:00:00Z", "2024-02-29T10:00:00Z"}, // leap year
		{"2025-05-30T10:00:00Z", "2024-03-01T00:00:00Z"},
		{"2026-03-31T23:59:00Z", "2024-12-31T23:59:00Z"},
	} {
		now, _ := time.Parse(time.RFC3339, c.now)
		want, _ := time.Parse(time.RFC3339, c.want)
		if got := vault.RetentionPeriod.Before(now); !got.Equal(want) {
			t.Errorf("on %s the cutoff is %s, want %s", c.now, got.Format(time.RFC3339), c.want)
		}
	}

	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		e.clk.Set(time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC))
		tok := e.tokenize(t, req(t, shopA, testPANs[0]))
		e.clk.Set(time.Date(2026, 5, 31, 12, 0, 0, 0, time.UTC))
		if n, err := e.v.PurgeRetention(ctx, vault.PurgeOptions{}); err != nil || n != 0 {
			t.Fatalf("purge on 31 May of a card last used on 2 March of the year before: %d %v", n, err)
		}
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", tok.Value); err != nil {
			t.Fatalf("card 14 months and 29 days after its last use: %v", err)
		}
		e.clk.Set(time.Date(2026, 6, 2, 9, 0, 1, 0, time.UTC))
		if n, err := e.v.PurgeRetention(ctx, vault.PurgeOptions{}); err != nil || n != 1 {
			t.Fatalf("purge 15 months after the last use: %d %v", n, err)
		}
	})
}

// A payment opens a token's card, waits for the acquirer, and records the
// use with its outcome (MarkUsed). A retention purge that ran in between,
// on a token at its 15 months, destroyed the card of a token being used:
// the payment went through and the merchant's token was PURGED right
// after. A token that near the cutoff must record its use before its card
// leaves the vault.
func TestPurgeSparesATokenBeingUsed(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		tok := e.tokenize(t, req(t, shopA, testPANs[0]))
		idle := e.tokenize(t, req(t, shopA, testPANs[1]))
		// One second before it has been unused for 15 months, a payment
		// opens the card; the acquirer answers 10 seconds later.
		e.clk.Set(t0.AddDate(0, int(vault.RetentionPeriod), 0).Add(-time.Second))
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", tok.Value); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(5 * time.Second)
		if n, err := e.v.PurgeRetention(ctx, vault.PurgeOptions{}); err != nil || n != 1 {
			t.Fatalf("purge while the payment waits: %d %v, want the other token only", n, err)
		}
		e.clk.Advance(5 * time.Second)
		if err := db.Write(ctx, func(tx *sql.Tx) error { return e.v.MarkUsed(tx, shopA, "TEST", tok.Value) }); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", tok.Value); err != nil {
			t.Fatalf("the token that paid lost its card: %v", err)
		}
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", idle.Value); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("unused token: %v", err)
		}
	})
}

// The purge deletes a token's data key and ciphertext, but SQLite left the
// deleted bytes in the database file's free space: with the master key,
// which stays in the keyring, the wrapped data key and the ciphertext
// found there gave the card back. Deleted content must be overwritten.
func TestPurgedCardLeavesNoBytesInTheFile(t *testing.T) {
	db := storetest.SQLite(t)
	e := setup(t, db)
	ctx := context.Background()
	var toks []vault.Token
	for _, n := range testPANs {
		toks = append(toks, e.tokenize(t, req(t, shopA, n)))
	}
	var wrapped, ct []byte
	if err := db.Reader().QueryRow(`SELECT d.wrapped, t.ciphertext FROM tokens t JOIN data_keys d ON d.id = t.data_key_id
		WHERE t.token = $1`, toks[0].Value).Scan(&wrapped, &ct); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(t0.AddDate(0, int(vault.RetentionPeriod), 1))
	if n, err := e.v.PurgeRetention(ctx, vault.PurgeOptions{}); err != nil || n != len(testPANs) {
		t.Fatalf("purge: %d %v", n, err)
	}
	path := db.Path()
	if err := db.Close(); err != nil { // the last connection checkpoints the WAL into the file
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, wrapped) {
			t.Errorf("the purged token's wrapped data key is still in %s", f)
		}
		if bytes.Contains(b, ct) {
			t.Errorf("the purged token's ciphertext is still in %s", f)
		}
	}
}

// The expiry job ignored the app's shutdown: once begun it purged batch
// after batch until the backlog was gone. With Stop closed during a batch
// it finishes that batch and claims no other, without an error; the rest
// goes at the next run.
func TestExpireTemporaryStopsAfterTheBatchInProgress(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		for _, number := range testPANs[:3] {
			r := req(t, shopA, number)
			r.TTL = 2 * time.Hour
			e.tokenize(t, r)
		}
		e.clk.Advance(2 * time.Hour)
		stop := make(chan struct{})
		batches := 0
		n, err := e.v.ExpireTemporary(ctx, vault.PurgeOptions{BatchSize: 1, Stop: stop, Progress: func(done, total int) {
			batches++
			if batches == 1 {
				close(stop) // the shutdown begins during the first batch
			}
		}})
		if err != nil || n != 1 || batches != 1 {
			t.Fatalf("expiry with stop closed in its first batch: %d purged in %d batches (%v), want 1 in 1", n, batches, err)
		}
		if got := e.count(t, `SELECT COUNT(*) FROM tokens WHERE status='PURGED'`); got != 1 {
			t.Fatalf("%d tokens purged, want 1", got)
		}
		if n, err := e.v.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil || n != 2 {
			t.Fatalf("the next run: %d %v, want the other 2", n, err)
		}
	})
}
