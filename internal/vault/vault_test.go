package vault_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/card"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

const (
	shopA = "11111111"
	shopB = "22222222"
)

// Test cards (Luhn-valid, distinct brands and lengths).
var testPANs = []string{
	"4970100000000055",    // CB / VISA
	"5555555555554444",    // MASTERCARD
	"378282246310005",     // AMEX
	"4111111111111111",    // VISA
	"6011111111111117",    // DISCOVER
	"4000056655665556",    // VISA
	"3530111333300000",    // JCB
	"4970101234567896546", // 19 digits
}

var t0 = time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)

type env struct {
	db   *store.DB
	keys *vault.Keyring
	clk  *clock.Fake
	v    *vault.Vault
	path string
}

func setup(t *testing.T, db *store.DB) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyring.json")
	keys, err := vault.LoadKeyring(path, "", true)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	for _, id := range []string{shopA, shopB} {
		err := db.Write(context.Background(), func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO shops (id, name, currency, language, created_at, updated_at)
				VALUES ($1, $2, 'EUR', 'fr', 1, 1)`, id, "shop "+id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return &env{db: db, keys: keys, clk: clk, v: vault.New(db, keys, clk), path: path}
}

func pan(t testing.TB, s string) card.PAN {
	t.Helper()
	p, err := card.ParsePAN(s)
	if err != nil {
		t.Fatalf("ParsePAN: %v", err)
	}
	return p
}

func req(t testing.TB, shop, number string) vault.TokenizeRequest {
	return vault.TokenizeRequest{
		ShopID: shop, Mode: "TEST", PAN: pan(t, number),
		Expiry: card.Expiry{Month: 6, Year: 2032}, HolderName: "Ana García",
	}
}

func (e *env) tokenize(t testing.TB, r vault.TokenizeRequest) vault.Token {
	t.Helper()
	tok, err := e.v.TokenizeNow(context.Background(), r)
	if err != nil {
		t.Fatalf("tokenize: %v", err)
	}
	return tok
}

func (e *env) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.Reader().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestTokenizeAndCard(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		r := req(t, shopA, testPANs[0])
		r.CustomerReference = "cust-001"
		r.Customer = json.RawMessage(`{"email":"ana@example.com"}`)
		r.Origin = "V4"
		tok := e.tokenize(t, r)
		if !hex32.MatchString(tok.Value) {
			t.Fatalf("token %q is not 32 lowercase hex", tok.Value)
		}
		if tok.PANMasked != "497010XXXXXX0055" || tok.BIN != "497010" || tok.Last4 != "0055" || tok.Brand != card.CB {
			t.Fatalf("token details %+v", tok)
		}
		got, err := e.v.Get(ctx, shopA, "TEST", tok.Value)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != vault.StatusActive || got.HolderName != "Ana García" || got.CustomerReference != "cust-001" ||
			string(got.Customer) != `{"email":"ana@example.com"}` || !got.LastUsedAt.Equal(t0) || !got.Permanent ||
			len(got.Brands) != 2 || got.Expiry != (card.Expiry{Month: 6, Year: 2032}) {
			t.Fatalf("read back %+v", got)
		}
		p, exp, _, err := e.v.Card(ctx, shopA, "TEST", tok.Value)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Equal(pan(t, testPANs[0])) || exp != (card.Expiry{Month: 6, Year: 2032}) {
			t.Fatalf("card round trip: %v %v", p, exp)
		}
		// Other shops do not see it; unknown tokens are not found.
		if _, _, _, err := e.v.Card(ctx, shopB, "TEST", tok.Value); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("other shop: %v", err)
		}
		if _, err := e.v.Get(ctx, shopB, "TEST", tok.Value); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("other shop get: %v", err)
		}
		if _, err := e.v.Cancel(ctx, shopB, "TEST", tok.Value); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("other shop cancel: %v", err)
		}
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", "0123456789abcdef0123456789abcdef"); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("unknown: %v", err)
		}

		// Caller-chosen aliases (Ogone): accepted, unique per shop, checked.
		alias := req(t, shopA, testPANs[1])
		alias.Token = "Alias_Customer-42"
		if tok := e.tokenize(t, alias); tok.Value != "Alias_Customer-42" {
			t.Fatalf("alias %q", tok.Value)
		}
		if _, err := e.v.TokenizeNow(ctx, alias); !errors.Is(err, vault.ErrTokenExists) {
			t.Fatalf("duplicate alias: %v", err)
		}
		alias.ShopID = shopB
		e.tokenize(t, alias) // the same alias in another shop is another token
		for _, bad := range []string{"has space", "x/y", "ñ", string(make([]byte, 51))} {
			alias.Token = bad
			if _, err := e.v.TokenizeNow(ctx, alias); !errors.Is(err, vault.ErrInvalidToken) {
				t.Fatalf("alias %q: %v", bad, err)
			}
		}
		expired := req(t, shopA, testPANs[2])
		expired.Expiry = card.Expiry{Month: 12, Year: 2029}
		if _, err := e.v.TokenizeNow(ctx, expired); !errors.Is(err, vault.ErrTokenExpired) {
			t.Fatalf("expired card: %v", err)
		}
		bad := req(t, shopA, testPANs[2])
		bad.Customer = json.RawMessage(`[1]`)
		if _, err := e.v.TokenizeNow(ctx, bad); !errors.Is(err, vault.ErrInvalidRequest) {
			t.Fatalf("customer not an object: %v", err)
		}
	})
}

func TestTokenizeInCallerTransaction(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		// The caller's transaction fails after the token: nothing is kept.
		var lost vault.Token
		boom := errors.New("payment refused to commit")
		err := db.Write(ctx, func(tx *sql.Tx) error {
			var err error
			if lost, err = e.v.Tokenize(ctx, tx, req(t, shopA, testPANs[0])); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if _, err := e.v.Get(ctx, shopA, "TEST", lost.Value); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("token of a rolled back transaction: %v", err)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM data_keys`); n != 0 {
			t.Fatalf("%d data keys after rollback", n)
		}
		// A duplicate alias does not spoil the rest of the caller's
		// transaction (no aborted transaction on PostgreSQL).
		r := req(t, shopA, testPANs[1])
		r.Token = "dup"
		var second vault.Token
		err = db.Write(ctx, func(tx *sql.Tx) error {
			if _, err := e.v.Tokenize(ctx, tx, r); err != nil {
				return err
			}
			if _, err := e.v.Tokenize(ctx, tx, r); !errors.Is(err, vault.ErrTokenExists) {
				return fmt.Errorf("duplicate in one transaction: %v", err)
			}
			var err error
			second, err = e.v.Tokenize(ctx, tx, req(t, shopA, testPANs[2]))
			if err != nil {
				return err
			}
			return e.v.MarkUsed(tx, shopA, "TEST", "dup")
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"dup", second.Value} {
			if _, _, _, err := e.v.Card(ctx, shopA, "TEST", v); err != nil {
				t.Fatalf("token %s: %v", v, err)
			}
		}
		if n := e.count(t, `SELECT COUNT(*) FROM data_keys`); n != 2 {
			t.Fatalf("%d data keys, want 2", n)
		}
	})
}

func TestCiphertextBoundToRowAndShop(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		a := e.tokenize(t, req(t, shopA, testPANs[0]))
		b := e.tokenize(t, req(t, shopA, testPANs[1]))
		// Same alias in two shops: only the shop differs in the AAD.
		ra, rb := req(t, shopA, testPANs[2]), req(t, shopB, testPANs[3])
		ra.Token, rb.Token = "same-alias", "same-alias"
		e.tokenize(t, ra)
		e.tokenize(t, rb)
		swap := func(shop1, tok1, shop2, tok2 string) {
			t.Helper()
			err := db.Write(ctx, func(tx *sql.Tx) error {
				var c1, c2 []byte
				var d1, d2 string
				if err := tx.QueryRow(`SELECT ciphertext, data_key_id FROM tokens WHERE shop_id=$1 AND token=$2`, shop1, tok1).Scan(&c1, &d1); err != nil {
					return err
				}
				if err := tx.QueryRow(`SELECT ciphertext, data_key_id FROM tokens WHERE shop_id=$1 AND token=$2`, shop2, tok2).Scan(&c2, &d2); err != nil {
					return err
				}
				if _, err := tx.Exec(`UPDATE tokens SET ciphertext=$1, data_key_id=$2 WHERE shop_id=$3 AND token=$4`, c2, d2, shop1, tok1); err != nil {
					return err
				}
				_, err := tx.Exec(`UPDATE tokens SET ciphertext=$1, data_key_id=$2 WHERE shop_id=$3 AND token=$4`, c1, d1, shop2, tok2)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		swap(shopA, a.Value, shopA, b.Value)
		swap(shopA, "same-alias", shopB, "same-alias")
		for _, c := range []struct{ shop, tok string }{{shopA, a.Value}, {shopA, b.Value}, {shopA, "same-alias"}, {shopB, "same-alias"}} {
			if p, _, _, err := e.v.Card(ctx, c.shop, "TEST", c.tok); !errors.Is(err, vault.ErrDecrypt) {
				t.Fatalf("moved ciphertext of %s/%s opened: %v %v", c.shop, c.tok, p, err)
			}
		}
		// Swapping back restores them: the failure was the binding only.
		swap(shopA, a.Value, shopA, b.Value)
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", a.Value); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStatusesAndWallet(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		mk := func(shop, number, ref string, exp card.Expiry) vault.Token {
			r := req(t, shop, number)
			r.CustomerReference, r.Expiry = ref, exp
			return e.tokenize(t, r)
		}
		long := card.Expiry{Month: 6, Year: 2032}
		soon := card.Expiry{Month: 3, Year: 2030}
		active := mk(shopA, testPANs[0], "cust-001", long)
		expiring := mk(shopA, testPANs[1], "cust-001", soon)
		cancelled := mk(shopA, testPANs[2], "cust-001", long)
		mk(shopA, testPANs[3], "cust-002", long)
		mk(shopB, testPANs[4], "cust-001", long)
		mk(shopA, testPANs[5], "", long)

		c, err := e.v.Cancel(ctx, shopA, "TEST", cancelled.Value)
		if err != nil || c.Status != vault.StatusCancelled || !c.CancelledAt.Equal(t0) {
			t.Fatalf("cancel: %+v %v", c, err)
		}
		if _, err := e.v.Cancel(ctx, shopA, "TEST", cancelled.Value); !errors.Is(err, vault.ErrTokenCancelled) {
			t.Fatalf("cancel twice: %v", err)
		}
		if _, _, got, err := e.v.Card(ctx, shopA, "TEST", cancelled.Value); !errors.Is(err, vault.ErrTokenCancelled) || got.Value != cancelled.Value {
			t.Fatalf("cancelled card: %v", err)
		}

		values := func(ts []vault.Token) []string {
			var out []string
			for _, t := range ts {
				out = append(out, t.Value)
			}
			return out
		}
		check := func(filter vault.Status, want ...string) {
			t.Helper()
			ts, err := e.v.Wallet(ctx, shopA, "cust-001", filter)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(values(ts)) != fmt.Sprint(want) {
				t.Fatalf("wallet %s: %v, want %v", filter, values(ts), want)
			}
		}
		check("", active.Value, expiring.Value)
		check(vault.StatusCancelled, cancelled.Value)
		check(vault.StatusExpired)
		check(vault.StatusAll, active.Value, expiring.Value, cancelled.Value)

		// April 2030: the 03/2030 card has expired; it is derived, not stored.
		e.clk.Set(time.Date(2030, 4, 1, 0, 0, 0, 0, time.UTC))
		check(vault.StatusActive, active.Value)
		check(vault.StatusExpired, expiring.Value)
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", expiring.Value); !errors.Is(err, vault.ErrTokenExpired) {
			t.Fatalf("expired card: %v", err)
		}
		if got, _ := e.v.Get(ctx, shopA, "TEST", expiring.Value); got.Status != vault.StatusActive || got.StatusAt(e.clk.Now()) != vault.StatusExpired {
			t.Fatalf("stored %s derived %s", got.Status, got.StatusAt(e.clk.Now()))
		}

		r, err := e.v.Reactivate(ctx, shopA, "TEST", cancelled.Value)
		if err != nil || r.Status != vault.StatusActive || !r.CancelledAt.IsZero() {
			t.Fatalf("reactivate: %+v %v", r, err)
		}
		if _, err := e.v.Reactivate(ctx, shopA, "TEST", cancelled.Value); err != nil {
			t.Fatalf("reactivate an active token: %v", err)
		}
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", cancelled.Value); err != nil {
			t.Fatalf("reactivated card: %v", err)
		}

		if _, err := e.v.Wallet(ctx, shopA, "", ""); !errors.Is(err, vault.ErrInvalidRequest) {
			t.Fatalf("wallet without reference: %v", err)
		}
		if _, err := e.v.Wallet(ctx, shopA, "cust-001", "BOGUS"); !errors.Is(err, vault.ErrInvalidRequest) {
			t.Fatalf("bogus filter: %v", err)
		}
	})
}

func TestUpdateAndFingerprint(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		first := e.tokenize(t, req(t, shopA, testPANs[0]))
		second := e.tokenize(t, req(t, shopA, testPANs[0]))
		e.tokenize(t, req(t, shopA, testPANs[1]))
		e.tokenize(t, req(t, shopB, testPANs[0]))

		found, err := e.v.FindByFingerprint(ctx, shopA, pan(t, testPANs[0]))
		if err != nil || len(found) != 2 || found[0].Value != first.Value || found[1].Value != second.Value {
			t.Fatalf("by fingerprint: %+v %v", found, err)
		}

		newExp := card.Expiry{Month: 9, Year: 2034}
		holder := "A. García"
		u, err := e.v.Update(ctx, shopA, "TEST", first.Value, vault.TokenUpdate{Expiry: &newExp, HolderName: &holder})
		if err != nil || u.Expiry != newExp || u.HolderName != holder {
			t.Fatalf("update: %+v %v", u, err)
		}
		p, exp, _, err := e.v.Card(ctx, shopA, "TEST", first.Value)
		if err != nil || exp != newExp || !p.Equal(pan(t, testPANs[0])) {
			t.Fatalf("after expiry update: %v %v", exp, err)
		}
		// A replacement card changes the sealed number, masked details and
		// fingerprint, under the same data key.
		replacement := pan(t, testPANs[2])
		u, err = e.v.Update(ctx, shopA, "TEST", first.Value, vault.TokenUpdate{PAN: &replacement})
		if err != nil || u.PANMasked != replacement.Masked() || u.Brand != card.Amex || u.Expiry != newExp {
			t.Fatalf("pan update: %+v %v", u, err)
		}
		if p, _, _, err := e.v.Card(ctx, shopA, "TEST", first.Value); err != nil || !p.Equal(replacement) {
			t.Fatalf("after pan update: %v", err)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM data_keys`); n != 4 {
			t.Fatalf("%d data keys, want 4", n)
		}
		found, _ = e.v.FindByFingerprint(ctx, shopA, pan(t, testPANs[0]))
		if len(found) != 1 || found[0].Value != second.Value {
			t.Fatalf("old fingerprint: %+v", found)
		}
		found, _ = e.v.FindByFingerprint(ctx, shopA, replacement)
		if len(found) != 1 || found[0].Value != first.Value {
			t.Fatalf("new fingerprint: %+v", found)
		}
		past := card.Expiry{Month: 1, Year: 2029}
		if _, err := e.v.Update(ctx, shopA, "TEST", first.Value, vault.TokenUpdate{Expiry: &past}); !errors.Is(err, vault.ErrTokenExpired) {
			t.Fatalf("expired update: %v", err)
		}
		if _, err := e.v.Update(ctx, shopB, "TEST", first.Value, vault.TokenUpdate{HolderName: &holder}); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("other shop update: %v", err)
		}
	})
}

func TestMarkUsed(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		tok := e.tokenize(t, req(t, shopA, testPANs[0]))
		e.clk.Advance(48 * time.Hour)
		if err := db.Write(ctx, func(tx *sql.Tx) error { return e.v.MarkUsed(tx, shopA, "TEST", tok.Value) }); err != nil {
			t.Fatal(err)
		}
		got, _ := e.v.Get(ctx, shopA, "TEST", tok.Value)
		if !got.LastUsedAt.Equal(t0.Add(48 * time.Hour)) {
			t.Fatalf("last used %v", got.LastUsedAt)
		}
		if err := db.Write(ctx, func(tx *sql.Tx) error { return e.v.MarkUsed(tx, shopB, "TEST", tok.Value) }); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("other shop mark used: %v", err)
		}
	})
}
