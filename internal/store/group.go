package store

import (
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// groupStmt is one data-changing statement of a group (see execGroup).
type groupStmt struct {
	query string // $1… numbered on its own
	args  []any
	what  string // "update payment": the prefix of its errors
	// one: the statement must change exactly one row (a version-checked
	// UPDATE); otherwise the group fails with ErrConflict.
	one bool
	// uniqueConflict: a uniqueness violation is ErrConflict.
	uniqueConflict bool
	// returning names a column of the single row the statement changes,
	// scanned into scan (what a conditional INSERT … SELECT chose). Not
	// with one.
	returning string
	scan      any
	// afterFirst: on PostgreSQL, the statement (an UPDATE ending with its
	// WHERE) takes no row before the group's first statement (one, or with
	// returning) has returned its row, and so holds that row's lock: the
	// lock order of the package doc (payment before its transactions)
	// inside one statement. PostgreSQL runs WITH clauses in no documented
	// order; reading another's RETURNING output is the one dependency its
	// documentation gives them, so the WHERE gets AND EXISTS (SELECT 1
	// FROM s0). SQLite runs the statements in order anyway.
	afterFirst bool
}

// execGroup runs statements that belong together (a payment's state, the
// notifications announcing it). SQLite runs them one after the other: it
// has no round trips. PostgreSQL gets them as one statement, each a
// data-modifying WITH clause: one round trip instead of one per statement,
// which is most of what a short statement costs there (measured with
// pgbench on this project's machine: four INSERTs per transaction, 2,700
// transactions/s as four statements, 4,100 as one). The sub-statements must
// touch different rows: PostgreSQL runs them on one snapshot, in no order
// it promises (see afterFirst for a statement that must lock after
// another).
func (db *DB) execGroup(tx *sql.Tx, stmts []groupStmt) error {
	if db.dialect != Postgres || len(stmts) == 1 {
		for _, s := range stmts {
			if err := execGroupStmt(tx, s); err != nil {
				return err
			}
		}
		return nil
	}
	q, args, checked, returned := composeGroup(stmts)
	counts := make([]int64, len(checked))
	dest := make([]any, 0, len(checked)+len(returned))
	for i := range counts {
		dest = append(dest, &counts[i])
	}
	for _, i := range returned {
		dest = append(dest, stmts[i].scan)
	}
	var err error
	if len(dest) == 0 {
		_, err = tx.Exec(q, args...)
	} else {
		err = tx.QueryRow(q, args...).Scan(dest...)
	}
	if err != nil {
		what := groupWhat(stmts)
		for _, s := range stmts {
			if s.uniqueConflict && IsUniqueViolation(err) {
				return fmt.Errorf("store: %s: %w", what, ErrConflict)
			}
		}
		return fmt.Errorf("store: %s: %w", what, err)
	}
	for i, n := range counts {
		if n != 1 {
			return fmt.Errorf("store: %s: %w", stmts[checked[i]].what, ErrConflict)
		}
	}
	return nil
}

func execGroupStmt(tx *sql.Tx, s groupStmt) error {
	var res sql.Result
	var err error
	if s.returning != "" {
		err = tx.QueryRow(s.query+" RETURNING "+s.returning, s.args...).Scan(s.scan)
	} else {
		res, err = tx.Exec(s.query, s.args...)
	}
	if err != nil {
		if s.uniqueConflict && IsUniqueViolation(err) {
			return fmt.Errorf("store: %s: %w", s.what, ErrConflict)
		}
		return fmt.Errorf("store: %s: %w", s.what, err)
	}
	if !s.one {
		return nil
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", s.what, err)
	}
	if n != 1 {
		return fmt.Errorf("store: %s: %w", s.what, ErrConflict)
	}
	return nil
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// composeGroup writes stmts as one PostgreSQL statement: WITH s0 AS (…),
// s1 AS (…) SELECT the row counts of the checked ones, then the returned
// columns. Placeholders are renumbered after the previous statements'
// arguments. checked lists the statements whose count is selected, returned
// those whose column is, in order.
func composeGroup(stmts []groupStmt) (q string, args []any, checked, returned []int) {
	var b strings.Builder
	var counts []string
	b.WriteString("WITH ")
	for i, s := range stmts {
		body := renumber(s.query, len(args))
		if s.afterFirst && i > 0 {
			body += " AND EXISTS (SELECT 1 FROM s0)"
		}
		if i > 0 {
			b.WriteString(", ")
		}
		name := "s" + strconv.Itoa(i)
		b.WriteString(name + " AS (" + body)
		switch {
		case s.one:
			b.WriteString(" RETURNING 1")
			counts = append(counts, "(SELECT count(*) FROM "+name+")")
			checked = append(checked, i)
		case s.returning != "":
			b.WriteString(" RETURNING " + s.returning)
			returned = append(returned, i)
		}
		b.WriteString(")")
		args = append(args, s.args...)
	}
	for _, i := range returned {
		counts = append(counts, "(SELECT "+stmts[i].returning+" FROM s"+strconv.Itoa(i)+")")
	}
	if len(counts) == 0 {
		b.WriteString(" SELECT 1")
	} else {
		b.WriteString(" SELECT " + strings.Join(counts, ", "))
	}
	return b.String(), args, checked, returned
}

// renumber shifts every $N placeholder of query by offset, to follow
// another statement's arguments in one statement.
func renumber(query string, offset int) string {
	return placeholder.ReplaceAllStringFunc(query, func(p string) string {
		n, _ := strconv.Atoi(p[1:])
		return "$" + strconv.Itoa(n+offset)
	})
}

func groupWhat(stmts []groupStmt) string {
	parts := make([]string, len(stmts))
	for i, s := range stmts {
		parts[i] = s.what
	}
	return strings.Join(parts, ", ")
}
