package store

import (
	"context"
	"path/filepath"
	"testing"
)

// The statement cache is invisible: repeated, nested, scripted and
// schema-changing uses of the same SQL behave as without it.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{SQLitePath: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := db.Writer()
	// A script (several statements) runs uncached, as before.
	if _, err := w.ExecContext(ctx, `CREATE TABLE c (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX c_v ON c (v);`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if _, err := w.ExecContext(ctx, `INSERT INTO c (id, v) VALUES ($1, $2)`, i, "x"); err != nil {
			t.Fatal(err)
		}
	}
	// The same query nested inside its own open rows (one connection: in
	// a transaction).
	const q = `SELECT id FROM c WHERE id < $1 ORDER BY id`
	qtx, err := w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := qtx.QueryContext(ctx, q, 3)
	if err != nil {
		t.Fatal(err)
	}
	outer := 0
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		outer++
		inner, err := qtx.QueryContext(ctx, q, 2)
		if err != nil {
			t.Fatalf("nested query: %v", err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		inner.Close()
		if n != 2 {
			t.Fatalf("nested query saw %d rows", n)
		}
	}
	rows.Close()
	if err := qtx.Commit(); err != nil {
		t.Fatal(err)
	}
	if outer != 3 {
		t.Fatalf("outer query saw %d rows", outer)
	}
	// A failed execution leaves the statement usable.
	if _, err := w.ExecContext(ctx, `INSERT INTO c (id, v) VALUES ($1, $2)`, 1, "dup"); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if _, err := w.ExecContext(ctx, `INSERT INTO c (id, v) VALUES ($1, $2)`, 1000, "y"); err != nil {
		t.Fatalf("statement after an error: %v", err)
	}
	// A schema change under a cached statement.
	var n int
	if err := w.QueryRowContext(ctx, `SELECT COUNT(*) FROM c`).Scan(&n); err != nil || n != 201 {
		t.Fatalf("count %d %v", n, err)
	}
	if _, err := w.ExecContext(ctx, `ALTER TABLE c ADD COLUMN extra TEXT NOT NULL DEFAULT 'e'`); err != nil {
		t.Fatal(err)
	}
	var extra string
	if err := w.QueryRowContext(ctx, `SELECT * FROM c WHERE id = $1`, 1000).Scan(new(int), new(string), &extra); err != nil || extra != "e" {
		t.Fatalf("after ALTER TABLE: %q %v", extra, err)
	}
	// Transactions and savepoints, as the group commit uses them.
	for i := 0; i < 3; i++ {
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"SAVEPOINT w", "RELEASE SAVEPOINT w"} {
			if _, err := tx.Exec(s); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// Readers share nothing with the writer but the file.
	if err := db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM c`).Scan(&n); err != nil || n != 201 {
		t.Fatalf("reader count %d %v", n, err)
	}
}
