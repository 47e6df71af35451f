// Package store is the only package that speaks SQL. It opens SQLite
// (embedded, the default) or PostgreSQL (shared by any number of openpsp
// copies), runs the migrations of each dialect, and funnels writes through a
// group-commit queue so that concurrent requests share one transaction and
// one fsync.
//
// Lock order (PostgreSQL; SQLite has one writer and cannot deadlock): a
// write that changes a payment or its transactions locks the payment's row
// first (LockPayment, or the payment's UPDATE), then its transactions
// (LockTransaction, their UPDATEs), then what follows from them (the
// subscription instalment, the token, the DirectLink order). The payment's
// lock thereby serialises everything done to its transactions, whatever
// their order. A write taking them the other way round deadlocks with one
// taking them in this order, and PostgreSQL aborts one of the two
// (SQLSTATE 40P01). Inside one statement of WITH clauses PostgreSQL
// promises no order: see groupStmt.afterFirst. The writes that lock
// transactions without their payment (the background jobs' claims,
// PendingOpFailed) lock nothing after them. The order holds within a
// request, not across the requests the group commit puts in one
// transaction: a request PostgreSQL aborts for that runs again alone
// (batcher.alone). The background jobs' claims of transactions (hundreds
// of rows) commit in transactions of their own on PostgreSQL, never in a
// request's batch (writeOwn).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect names a SQL engine.
type Dialect string

// The two engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a write would break a uniqueness rule or a
// concurrent change won the race (optimistic locking).
var ErrConflict = errors.New("store: conflict")

// Options configures Open.
type Options struct {
	// URL is a postgres:// URL; empty means SQLite in DataDir.
	URL string
	// DataDir holds the SQLite file (openpsp.db) when URL is empty.
	DataDir string
	// SQLitePath overrides the SQLite file path (tests).
	SQLitePath string
	// Synchronous is the SQLite synchronous pragma: FULL (default) or NORMAL.
	// Acknowledged payments must survive a power cut: only FULL guarantees it.
	Synchronous string
	// MaxBatch bounds how many writes share one transaction (default 256).
	MaxBatch int
	// PostgresConns is the pool size on PostgreSQL (default 16).
	PostgresConns int
	// queryTracer sees every statement sent to PostgreSQL: the tests count
	// round trips with it (WithQueryTracer in export_test.go).
	queryTracer pgx.QueryTracer
	// walLimits replaces SQLite's WAL thresholds when set: the WAL tests
	// cross small ones with a small workload.
	walLimits walLimits
}

// DB is an open database: a write path with group commit and a read pool.
type DB struct {
	dialect   Dialect
	write     *sql.DB // SQLite: one connection, the single writer
	read      *sql.DB // SQLite: a pool of read-only connections; PostgreSQL: same as write
	pool      *pgxpool.Pool
	path      string // SQLite file
	batch     *batcher
	health    writeHealth
	shopReads shopReads
	// demoInserts counts KeepDemoMessage calls: the first prunes, then
	// every DemoPruneEvery-th.
	demoInserts atomic.Int64
	// checkpoints (SQLite) runs the WAL checkpoints off the writer.
	checkpoints *checkpointer
}

// Open connects to the database described by opts. It does not migrate.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.URL != "" {
		return openPostgres(ctx, opts)
	}
	return openSQLite(ctx, opts)
}

// SQLiteFile is the SQLite database a data folder holds.
func SQLiteFile(dataDir string) string {
	return filepath.Join(dataDir, "openpsp.db")
}

// ErrNoDatabase is RequireSQLite's refusal.
var ErrNoDatabase = errors.New("no OpenPSP database")

// RequireSQLite refuses a data folder that holds no SQLite database, for
// the commands that work on an existing one: Open would create an empty
// database there (and the caller a keyring), and the command would then
// act on that. A file there but unreadable passes: opening it says why.
func RequireSQLite(dataDir string) error {
	path := SQLiteFile(dataDir)
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return fmt.Errorf("%w at %s (data folder %q): nothing was created", ErrNoDatabase, path, dataDir)
}

func openSQLite(ctx context.Context, opts Options) (*DB, error) {
	path := opts.SQLitePath
	if path == "" {
		if opts.DataDir == "" {
			return nil, errors.New("store: no data directory for SQLite")
		}
		if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create data directory: %w", err)
		}
		path = SQLiteFile(opts.DataDir)
	}
	sync := strings.ToUpper(opts.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" && sync != "EXTRA" {
		return nil, fmt.Errorf("store: synchronous must be FULL, EXTRA or NORMAL, not %q", opts.Synchronous)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath()
	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_time_format=sqlite"
	// The writer starts every transaction IMMEDIATE: it takes the write lock
	// up front, so a transaction never fails half-way on SQLITE_BUSY when
	// another process (an operator command) writes too.
	// Page caches: the writer keeps 32 MB of pages (the default 2 MB made
	// it re-read index pages with a system call on nearly every statement;
	// measured: 15% less CPU per payment), each reader 4 MB.
	// temp_store=MEMORY keeps the savepoint sub-journals in memory: the
	// group commit opens a savepoint per request, and SQLite wrote every
	// page a request touched to a temporary file first (half of the
	// writer's system calls under load). Durability is the WAL's, unchanged.
	// FULL and EXTRA: the writer commits without fsync and the WAL syncer
	// makes each batch durable before its requests are answered (see
	// walSyncer); NORMAL (unsafe, allowed explicitly) syncs at checkpoints only.
	limits := opts.walLimits
	if limits == (walLimits{}) {
		limits = walLimits{restartFrames: walRestartFrames, sizeLimit: walSizeLimit}
	}
	var wal *walSyncer
	connSync := sync
	if sync != "NORMAL" {
		wal = newWALSyncer(path)
		connSync = "NORMAL"
	}
	// secure_delete overwrites what is deleted: without it the data keys
	// and ciphertexts the vault's purge deletes stayed in the file's free
	// space, readable with the master key that stays in the keyring.
	wdsn := base + "?" + common + "&_pragma=journal_mode(WAL)&_pragma=synchronous(" + connSync + ")&_txlock=immediate" +
		"&_pragma=cache_size(-32768)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)&_pragma=secure_delete(1)" +
		fmt.Sprintf("&_pragma=journal_size_limit(%d)", limits.sizeLimit)
	w, err := sql.Open(sqliteDriverName, wdsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	r, err := sql.Open(sqliteDriverName, base+"?"+common+"&_pragma=query_only(1)&_pragma=cache_size(-4096)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite reader: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db := &DB{dialect: SQLite, write: w, read: r, path: path}
	db.batch = newBatcher(db, 1, opts.MaxBatch, wal)
	// wal_autocheckpoint(0) above: checkpoints run off the writer, and
	// make it start the WAL over (walRestartFrames).
	cp, err := startCheckpointer(base+"?"+common+"&_pragma=synchronous(NORMAL)", &db.batch.gate, limits.restartFrames)
	if err != nil {
		db.batch.close()
		w.Close()
		r.Close()
		return nil, err
	}
	db.checkpoints = cp
	return db, nil
}

func openPostgres(ctx context.Context, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("store: parse database URL: %w", err)
	}
	conns := opts.PostgresConns
	if conns <= 0 {
		conns = 16
	}
	cfg.MaxConns = int32(conns)
	if opts.queryTracer != nil {
		cfg.ConnConfig.Tracer = opts.queryTracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect postgres: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect postgres: %w", err)
	}
	sdb := stdlib.OpenDBFromPool(pool)
	db := &DB{dialect: Postgres, write: sdb, read: sdb, pool: pool}
	// PostgreSQL already groups the WAL flushes of concurrent commits; a few
	// batching workers add the same sharing for bursts without serialising
	// everything behind one connection.
	workers := conns / 2
	if workers < 1 {
		workers = 1
	}
	db.batch = newBatcher(db, workers, opts.MaxBatch, nil)
	return db, nil
}

// Dialect tells which engine this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Path returns the SQLite file path ("" on PostgreSQL).
func (db *DB) Path() string { return db.path }

// Reader returns the pool for reads. On SQLite the connections are read-only.
func (db *DB) Reader() *sql.DB { return db.read }

// Writer returns the raw write handle, for migrations and long maintenance
// jobs that must not hold the group-commit queue. Request paths use Write.
// On SQLite its commits are not fsynced (see walSyncer): call SyncWAL after
// the ones that must be durable.
func (db *DB) Writer() *sql.DB { return db.write }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close stops the write queue (waiting for queued writes) and closes the pools.
func (db *DB) Close() error {
	db.batch.close()
	var errs []error
	if db.checkpoints != nil {
		errs = append(errs, db.checkpoints.shut())
	}
	if db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	if db.pool != nil {
		db.pool.Close()
	}
	return errors.Join(errs...)
}

// SkipLocked returns the clause that lets several openpsp copies claim
// background work without waiting on each other. SQLite has one writer, so
// it needs none.
func (db *DB) SkipLocked() string {
	if db.dialect == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// IsUniqueViolation reports whether err is a uniqueness-constraint failure
// on either engine.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505")
}

// Micros converts a time to the integer microseconds stored in BIGINT columns.
// Both engines store times this way so that comparisons and ordering are
// identical and no driver time-zone rule gets in the way.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromMicros converts stored microseconds back to a UTC time (0 → zero time).
func FromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// NullMicros converts a nullable column value.
func NullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return FromMicros(n.Int64)
}

// OptMicros stores a zero time as NULL.
func OptMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// Vacuum brings the tables a bulk load filled on PostgreSQL to the state a
// live database keeps them in: VACUUM (ANALYZE) sets the rows' hint bits
// and the visibility map and refreshes the planner's statistics. Without
// it, the first reads of each freshly loaded row pay for that work, and a
// benchmark run just after the load measures them rather than the database
// at its size. SQLite has no such state: nothing to do (its ANALYZE
// statistics change query plans, which the schema's indexes were chosen
// without).
func (db *DB) Vacuum(ctx context.Context, tables ...string) error {
	if db.dialect != Postgres {
		return nil
	}
	q := "VACUUM (ANALYZE)"
	for _, t := range tables {
		if _, err := db.write.ExecContext(ctx, q+" "+t); err != nil {
			return fmt.Errorf("store: %s %s: %w", q, t, err)
		}
	}
	return nil
}
