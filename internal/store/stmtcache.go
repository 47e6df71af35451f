package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"

	"modernc.org/sqlite"
)

// sqliteDriverName is the SQLite driver OpenPSP opens: modernc's, with a
// cache of prepared statements on each connection.
const sqliteDriverName = "openpsp-sqlite"

func init() { sql.Register(sqliteDriverName, stmtCacheDriver{base: &sqlite.Driver{}}) }

// stmtCacheSize bounds the prepared statements kept per connection. OpenPSP
// sends a few hundred distinct statements at most.
const stmtCacheSize = 512

// stmtCacheDriver keeps each connection's prepared statements. database/sql
// hands a query with arguments to the driver's ExecContext/QueryContext,
// which modernc implements by parsing and planning the SQL every time and
// throwing the plan away: under load that was a quarter of the server's CPU,
// most of it inside the single writer every payment waits for. Here a
// statement is prepared once per connection and reused (SQLite re-prepares
// it by itself if the schema changes).
type stmtCacheDriver struct{ base driver.Driver }

func (d stmtCacheDriver) Open(name string) (driver.Conn, error) {
	c, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return &cachedConn{Conn: c, stmts: map[string]*cachedStmt{}}, nil
}

type cachedStmt struct {
	stmt driver.Stmt
	busy bool // rows of a query are still open on it
}

// cachedConn is used by one goroutine at a time (database/sql holds the
// connection's lock around every driver call), so the map needs no lock.
type cachedConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

// cacheable tells single statements (cached) from scripts (migrations,
// several statements: run as before).
func cacheable(query string) bool {
	q := strings.TrimRight(strings.TrimSpace(query), ";")
	return q != "" && !strings.Contains(q, ";")
}

// stmtFor returns the cached statement of query, preparing it on first use.
// nil means: run the query uncached.
func (c *cachedConn) stmtFor(ctx context.Context, query string) (*cachedStmt, error) {
	if !cacheable(query) {
		return nil, nil
	}
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil, nil // the same query nested in its own rows
		}
		return cs, nil
	}
	pc, ok := c.Conn.(driver.ConnPrepareContext)
	if !ok {
		return nil, nil
	}
	if len(c.stmts) >= stmtCacheSize {
		for q, cs := range c.stmts {
			if !cs.busy {
				_ = cs.stmt.Close()
				delete(c.stmts, q)
			}
			if len(c.stmts) < stmtCacheSize/2 {
				break
			}
		}
	}
	st, err := pc.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{stmt: st}
	c.stmts[query] = cs
	return cs, nil
}

func (c *cachedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmtFor(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs != nil {
		if se, ok := cs.stmt.(driver.StmtExecContext); ok {
			return se.ExecContext(ctx, args)
		}
	}
	if ec, ok := c.Conn.(driver.ExecerContext); ok {
		return ec.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *cachedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmtFor(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs != nil {
		if sq, ok := cs.stmt.(driver.StmtQueryContext); ok {
			rows, err := sq.QueryContext(ctx, args)
			if err != nil {
				return nil, err
			}
			cs.busy = true
			return &cachedRows{Rows: rows, cs: cs}, nil
		}
	}
	if qc, ok := c.Conn.(driver.QueryerContext); ok {
		return qc.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *cachedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if pc, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return pc.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

func (c *cachedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if bt, ok := c.Conn.(driver.ConnBeginTx); ok {
		return bt.BeginTx(ctx, opts)
	}
	return nil, errors.New("store: SQLite driver without BeginTx")
}

func (c *cachedConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachedConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cachedConn) Close() error {
	for q, cs := range c.stmts {
		_ = cs.stmt.Close()
		delete(c.stmts, q)
	}
	return c.Conn.Close()
}

// cachedRows frees its statement for the next query when closed.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	return err
}

// The optional Rows interfaces database/sql uses for column types.
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

var (
	_ driver.ExecerContext      = (*cachedConn)(nil)
	_ driver.QueryerContext     = (*cachedConn)(nil)
	_ driver.ConnPrepareContext = (*cachedConn)(nil)
	_ driver.ConnBeginTx        = (*cachedConn)(nil)
	_ driver.Pinger             = (*cachedConn)(nil)
	_ driver.SessionResetter    = (*cachedConn)(nil)
	_ driver.Validator          = (*cachedConn)(nil)
)
