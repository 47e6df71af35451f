package vault_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

const (
	testIBAN  = "DE89370400440532013000"
	testIBAN2 = "FR1420041010050500013M02606"
)

func iban(t testing.TB, s string) vault.IBAN {
	t.Helper()
	i, err := vault.NewIBAN(s)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func (e *env) saveAccount(t testing.TB, r vault.AccountRequest) (vault.Token, bool) {
	t.Helper()
	var tok vault.Token
	var updated bool
	err := e.db.Write(context.Background(), func(tx *sql.Tx) error {
		var err error
		tok, updated, err = e.v.SaveAccount(context.Background(), tx, r)
		return err
	})
	if err != nil {
		t.Fatalf("save account: %v", err)
	}
	return tok, updated
}

func TestIBANNeverPrintsInClear(t *testing.T) {
	i := iban(t, "de89 3704 0044 0532 0130 00")
	if i.Reveal() != testIBAN || i.Masked() != "DE89XXXXXXXXXXXXXX3000" {
		t.Fatalf("%s / %s", i.Reveal(), i.Masked())
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "iban", i, "req", vault.AccountRequest{IBAN: i})
	j, _ := json.Marshal(vault.AccountRequest{IBAN: i})
	for _, out := range []string{fmt.Sprint(i), fmt.Sprintf("%v %+v %#v", i, vault.AccountRequest{IBAN: i}, i), buf.String(), string(j)} {
		if strings.Contains(out, "0532013000") || !strings.Contains(out, "DE89XXXXXXXXXXXXXX3000") {
			t.Fatalf("leak or no mask: %s", out)
		}
	}
	for _, bad := range []string{"", "DE89", "1E89370400440532013000", "DE8937040044053201300!", strings.Repeat("DE89", 9)} {
		if _, err := vault.NewIBAN(bad); !errors.Is(err, vault.ErrInvalidRequest) {
			t.Errorf("NewIBAN(%q): %v", bad, err)
		}
	}
}

func TestBankAccountTokens(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		r := vault.AccountRequest{ShopID: shopA, Mode: "TEST", Token: "sepa-1", IBAN: iban(t, testIBAN), BIC: "COBADEFFXXX",
			HolderName: "Max Muster", Method: "Direct Debits DE", Origin: "FLEXCHECKOUT", TTL: 2 * time.Hour}
		tok, updated := e.saveAccount(t, r)
		if updated || tok.Method != vault.MethodSDD || tok.PANMasked != "DE89XXXXXXXXXXXXXX3000" || tok.Last4 != "3000" ||
			string(tok.Brand) != "Direct Debits DE" || tok.HolderName != "Max Muster" || tok.Permanent {
			t.Fatalf("saved %+v (updated %v)", tok, updated)
		}
		got, err := e.v.Get(ctx, shopA, "TEST", "sepa-1")
		if err != nil || got.Method != vault.MethodSDD || got.PANMasked != "DE89XXXXXXXXXXXXXX3000" || got.HolderName != "Max Muster" {
			t.Fatalf("get %+v %v", got, err)
		}
		acc, _, err := e.v.Account(ctx, shopA, "TEST", "sepa-1")
		if err != nil || acc.IBAN.Reveal() != testIBAN || acc.BIC != "COBADEFFXXX" {
			t.Fatalf("account %v %s %v", acc.IBAN, acc.BIC, err)
		}
		if _, _, _, err := e.v.Card(ctx, shopA, "TEST", "sepa-1"); !errors.Is(err, vault.ErrNotCard) {
			t.Fatalf("Card on a bank account: %v", err)
		}
		if _, _, err := e.v.Account(ctx, shopB, "TEST", "sepa-1"); !errors.Is(err, vault.ErrTokenNotFound) {
			t.Fatalf("other shop: %v", err)
		}
		cardTok := e.tokenize(t, req(t, shopA, testPANs[0]))
		if _, _, err := e.v.Account(ctx, shopA, "TEST", cardTok.Value); !errors.Is(err, vault.ErrNotAccount) {
			t.Fatalf("Account on a card: %v", err)
		}
		// The same alias again replaces the account: permanent now, reactivated.
		if _, err := e.v.Cancel(ctx, shopA, "TEST", "sepa-1"); err != nil {
			t.Fatal(err)
		}
		dataKeys := e.count(t, `SELECT COUNT(*) FROM data_keys`)
		r2 := r
		r2.IBAN, r2.BIC, r2.HolderName, r2.TTL = iban(t, testIBAN2), "", "Jean Dupont", 0
		tok, updated = e.saveAccount(t, r2)
		if !updated || tok.Status != vault.StatusActive || !tok.Permanent || tok.PANMasked != "FR14XXXXXXXXXXXXXXXXXXX2606" || tok.HolderName != "Jean Dupont" {
			t.Fatalf("replaced %+v (updated %v)", tok, updated)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM data_keys`); n != dataKeys {
			t.Fatalf("replacement added data keys: %d -> %d", dataKeys, n)
		}
		if acc, _, err := e.v.Account(ctx, shopA, "TEST", "sepa-1"); err != nil || acc.IBAN.Reveal() != testIBAN2 || acc.BIC != "" {
			t.Fatalf("replaced account %v %q %v", acc.IBAN, acc.BIC, err)
		}
		// A card alias cannot become a bank account.
		err = db.Write(ctx, func(tx *sql.Tx) error {
			r3 := r
			r3.Token = cardTok.Value
			_, _, err := e.v.SaveAccount(ctx, tx, r3)
			return err
		})
		if !errors.Is(err, vault.ErrNotAccount) {
			t.Fatalf("card alias as account: %v", err)
		}
		// Rotation keeps it readable.
		if err := e.v.RotateMasterKey(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if acc, _, err := e.v.Account(ctx, shopA, "TEST", "sepa-1"); err != nil || acc.IBAN.Reveal() != testIBAN2 {
			t.Fatalf("after rotation %v", err)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM data_keys WHERE master_key_id <> $1`, e.keys.PrimaryID()); n != 0 {
			t.Fatalf("%d data keys not under the new primary", n)
		}
		// Retention purge destroys it; masked details stay.
		e.clk.Set(e.clk.Now().AddDate(2, 0, 0))
		if n, err := e.v.PurgeRetention(ctx, vault.PurgeOptions{}); err != nil || n != 2 {
			t.Fatalf("purge %d %v", n, err)
		}
		_, got, err = e.v.Account(ctx, shopA, "TEST", "sepa-1")
		if !errors.Is(err, vault.ErrTokenPurged) || got.PANMasked != "FR14XXXXXXXXXXXXXXXXXXX2606" {
			t.Fatalf("purged account %+v %v", got, err)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM tokens WHERE token = 'sepa-1' AND ciphertext IS NULL AND data_key_id IS NULL`); n != 1 {
			t.Fatal("ciphertext survived the purge")
		}
		err = db.Write(ctx, func(tx *sql.Tx) error {
			_, _, err := e.v.SaveAccount(ctx, tx, r)
			return err
		})
		if !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("save over a purged alias: %v", err)
		}
	})
}

func TestTemporaryBankAccountExpires(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		e.saveAccount(t, vault.AccountRequest{ShopID: shopA, Mode: "TEST", Token: "tmp", IBAN: iban(t, testIBAN), TTL: time.Hour})
		e.clk.Advance(time.Hour)
		if n, err := e.v.ExpireTemporary(ctx, vault.PurgeOptions{}); err != nil || n != 1 {
			t.Fatalf("expire %d %v", n, err)
		}
		if _, _, err := e.v.Account(ctx, shopA, "TEST", "tmp"); !errors.Is(err, vault.ErrTokenPurged) {
			t.Fatalf("expired account: %v", err)
		}
	})
}

// TestNoIBANAtRest scans the vault tables and the raw SQLite files for the
// IBANs in clear.
func TestNoIBANAtRest(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		e.saveAccount(t, vault.AccountRequest{ShopID: shopA, Mode: "TEST", Token: "a1", IBAN: iban(t, testIBAN), BIC: "COBADEFFXXX", HolderName: "Max Muster"})
		e.saveAccount(t, vault.AccountRequest{ShopID: shopB, Mode: "TEST", Token: "a2", IBAN: iban(t, testIBAN2), HolderName: "Jean Dupont"})
		if err := e.v.RotateMasterKey(ctx, nil); err != nil {
			t.Fatal(err)
		}
		needles := [][]byte{}
		for _, s := range []string{testIBAN, testIBAN2} {
			needles = append(needles, []byte(s), []byte(s[4:len(s)-4]), []byte(fmt.Sprintf("%x", s)))
		}
		var hay []byte
		for _, q := range []string{
			`SELECT COALESCE(token,'') || '|' || pan_masked || '|' || holder_name || '|' || brand || '|' || last4 || '|' || customer FROM tokens`,
		} {
			rows, err := db.Reader().Query(q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					rows.Close()
					t.Fatal(err)
				}
				hay = append(append(hay, s...), '\n')
			}
			rows.Close()
		}
		var cts [][]byte
		rows, err := db.Reader().Query(`SELECT ciphertext FROM tokens`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				t.Fatal(err)
			}
			cts = append(cts, b)
		}
		rows.Close()
		for _, b := range cts {
			hay = append(append(hay, b...), '\n')
		}
		if db.Dialect() == store.SQLite {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				b, err := os.ReadFile(db.Path() + suffix)
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				hay = append(hay, b...)
			}
		}
		for _, n := range needles {
			if bytes.Contains(hay, n) {
				t.Fatalf("IBAN found at rest as %q", n)
			}
		}
		// The holder's name is sealed with the account (migration 0029).
		if bytes.Contains(hay, []byte("Max Muster")) {
			t.Fatal("the account holder's name found at rest in clear")
		}
		// The scan can see: what is kept in clear is in the same bytes.
		for _, s := range []string{"DE89XXXXXXXXXXXXXX3000", "FR14XXXXXXXXXXXXXXXXXXX2606"} {
			if !bytes.Contains(hay, []byte(s)) {
				t.Fatalf("%s not found: the scan sees nothing", s)
			}
		}
	})
}
