package store

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// queryPlan returns the plan the database makes for query q with args, a
// line per step: SQLite's EXPLAIN QUERY PLAN details, or PostgreSQL's
// EXPLAIN ANALYZE (run, with sequential scans off so that a fresh table's
// statistics do not hide the index a query is written for; its "Rows
// Removed by Filter" counts the rows an index range read and threw away).
func queryPlan(t testing.TB, db *DB, q string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	var plan []string
	if db.Dialect() == SQLite {
		rows, err := db.Writer().QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(plan, "\n")
	}
	err := db.Write(ctx, func(tx *sql.Tx) error {
		plan = plan[:0]
		if _, err := tx.Exec(`SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query("EXPLAIN ANALYZE "+q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan = append(plan, line)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return strings.Join(plan, "\n")
}
