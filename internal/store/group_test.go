package store

import (
	"reflect"
	"testing"
)

func TestComposeGroupRenumbersPlaceholders(t *testing.T) {
	var by string
	q, args, checked, returned := composeGroup([]groupStmt{
		{query: `UPDATE a SET x = $2 WHERE id = $1`, args: []any{"id", 1}, one: true},
		{query: `INSERT INTO b (p, q) VALUES ($1, $2)`, args: []any{"p", "q"}, returning: "q", scan: &by},
		{query: `UPDATE c SET y = $1 WHERE id = $2 AND v = $12`, args: []any{3, "c", 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, one: true},
	})
	want := `WITH s0 AS (UPDATE a SET x = $2 WHERE id = $1 RETURNING 1), s1 AS (INSERT INTO b (p, q) VALUES ($3, $4) RETURNING q), ` +
		`s2 AS (UPDATE c SET y = $5 WHERE id = $6 AND v = $16 RETURNING 1) SELECT (SELECT count(*) FROM s0), (SELECT count(*) FROM s2), (SELECT q FROM s1)`
	if q != want {
		t.Fatalf("query:\n%s\nwant:\n%s", q, want)
	}
	if len(args) != 16 || args[2] != "p" || args[4] != 3 || args[15] != 13 {
		t.Fatalf("args = %v", args)
	}
	if !reflect.DeepEqual(checked, []int{0, 2}) || !reflect.DeepEqual(returned, []int{1}) {
		t.Fatalf("checked = %v, returned = %v", checked, returned)
	}
}
