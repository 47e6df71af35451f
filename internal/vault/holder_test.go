package vault_test

import (
	"bytes"
	"context"
	"database/sql"
	"testing"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
	"github.com/openpsp/openpsp/internal/vault"
)

// rowsHolding lists the tokens whose row holds name in clear in any text
// or byte column: the holder name must be sealed like the card number.
func rowsHolding(t *testing.T, db *store.DB, name string) []string {
	t.Helper()
	rows, err := db.Reader().Query(`SELECT * FROM tokens`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			var b []byte
			switch x := v.(type) {
			case string:
				b = []byte(x)
			case []byte:
				b = x
			}
			if bytes.Contains(b, []byte(name)) {
				out = append(out, cols[i])
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The card holder's name is sealed with the card's data key: no column of
// the tokens table holds it in clear, whichever way the token was written
// (tokenized, updated, a saved card replaced, a bank account), yet every
// reader shows it: Get, Card, the wallet, FindByFingerprint, and after a
// master-key rotation too.
func TestHolderNameIsSealed(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := context.Background()
		r := req(t, shopA, testPANs[0])
		r.CustomerReference = "cust-holder"
		tok := e.tokenize(t, r)
		if tok.HolderName != "Ana García" {
			t.Fatalf("Tokenize holder %q", tok.HolderName)
		}
		if cols := rowsHolding(t, db, "Ana García"); len(cols) > 0 {
			t.Fatalf("the holder name is in clear in tokens.%v", cols)
		}
		check := func(when, want string) {
			t.Helper()
			got, err := e.v.Get(ctx, shopA, "TEST", tok.Value)
			if err != nil || got.HolderName != want {
				t.Fatalf("%s: Get holder %q, %v; want %q", when, got.HolderName, err, want)
			}
			_, _, ct, err := e.v.Card(ctx, shopA, "TEST", tok.Value)
			if err != nil || ct.HolderName != want {
				t.Fatalf("%s: Card holder %q, %v", when, ct.HolderName, err)
			}
			w, err := e.v.Wallet(ctx, shopA, "cust-holder", vault.StatusAll)
			if err != nil || len(w) != 1 || w[0].HolderName != want {
				t.Fatalf("%s: wallet %+v, %v", when, w, err)
			}
			f, err := e.v.FindByFingerprint(ctx, shopA, pan(t, testPANs[0]))
			if err != nil || len(f) != 1 || f[0].HolderName != want {
				t.Fatalf("%s: by fingerprint %+v, %v", when, f, err)
			}
		}
		check("tokenized", "Ana García")

		if err := e.v.RotateMasterKey(ctx, nil); err != nil {
			t.Fatal(err)
		}
		check("after a rotation", "Ana García")

		holder := "Zoé Lefèvre"
		if u, err := e.v.Update(ctx, shopA, "TEST", tok.Value, vault.TokenUpdate{HolderName: &holder}); err != nil || u.HolderName != holder {
			t.Fatalf("Update holder %q, %v", u.HolderName, err)
		}
		if cols := rowsHolding(t, db, holder); len(cols) > 0 {
			t.Fatalf("an updated holder name is in clear in tokens.%v", cols)
		}
		check("updated", holder)

		// A saved card replaced under its alias, then a bank account.
		save := func(r vault.TokenizeRequest) vault.Token {
			t.Helper()
			var got vault.Token
			if err := db.Write(ctx, func(tx *sql.Tx) error {
				var err error
				got, _, err = e.v.SaveCard(ctx, tx, r)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		r2 := req(t, shopA, testPANs[1])
		r2.Token, r2.HolderName = "alias-holder", "Jean Dupont"
		save(r2)
		r2.PAN, r2.HolderName = pan(t, testPANs[3]), "Marie Curie"
		if got := save(r2); got.HolderName != "Marie Curie" {
			t.Fatalf("replaced card holder %q", got.HolderName)
		}
		e.saveAccount(t, vault.AccountRequest{ShopID: shopA, Mode: "TEST", Token: "sepa-holder", IBAN: iban(t, testIBAN), HolderName: "Max Muster"})
		for _, name := range []string{"Jean Dupont", "Marie Curie", "Max Muster"} {
			if cols := rowsHolding(t, db, name); len(cols) > 0 {
				t.Fatalf("%s is in clear in tokens.%v", name, cols)
			}
		}
		if got, err := e.v.Get(ctx, shopA, "TEST", "alias-holder"); err != nil || got.HolderName != "Marie Curie" {
			t.Fatalf("saved card holder %q, %v", got.HolderName, err)
		}
		if got, err := e.v.Get(ctx, shopA, "TEST", "sepa-holder"); err != nil || got.HolderName != "Max Muster" {
			t.Fatalf("account holder %q, %v", got.HolderName, err)
		}
	})
}
