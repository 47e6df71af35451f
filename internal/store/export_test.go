package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// MigrateTo applies the migrations up to version (its file name without
// .sql): a database as that release left it, for the upgrade tests.
func (db *DB) MigrateTo(ctx context.Context, version string) ([]string, error) {
	return db.migrate(ctx, version, nil)
}

// CaptureClaimSelect is the capture claim's SELECT, for the plan tests.
const CaptureClaimSelect = captureClaimSelect

// AuthorizationClaimSelect is the authorization claim's SELECT, for the
// plan tests.
const AuthorizationClaimSelect = authorizationClaimSelect

// QueryPlan is queryPlan, for the plan tests of package store_test.
var QueryPlan = queryPlan

// PurgeWhere is purgeWhere, for the plan tests.
var PurgeWhere = purgeWhere

// EndedOutbox is endedOutbox, for the plan tests.
const EndedOutbox = endedOutbox

// DeleteEndedPostgres and DeleteEndedSQLite are DeleteEndedOutbox's
// statements, for the plan tests.
const DeleteEndedPostgres = deleteEndedPostgres

var DeleteEndedSQLite = deleteEndedSQLite

// WithQueryTracer returns o with a tracer that sees every statement sent
// to PostgreSQL, for the tests that count round trips.
func WithQueryTracer(o Options, t pgx.QueryTracer) Options {
	o.queryTracer = t
	return o
}

// MigrationLockKey is the advisory lock Migrate holds on PostgreSQL, for
// the tests that play a newer copy migrating.
const MigrationLockKey = migrationLockKey

// PendingOpsQuery is the /metrics query of pending operations, for the
// plan tests.
const PendingOpsQuery = pendingOpsQuery

// RetryingOpsQuery is the /metrics query of operations waiting for their
// retry, for the plan tests.
const RetryingOpsQuery = retryingOpsQuery

// DueOpsQuery is the /metrics query of captures and deferred
// authorizations due never tried, for the plan tests.
const DueOpsQuery = dueOpsQuery

// TokenRecordQuery is the look-up of a token by its value, for the plan
// tests.
const TokenRecordQuery = tokenRecordQuery

// TouchTokenStmt is the statement that records a token's use with a
// settlement, for the plan tests.
func TouchTokenStmt(u TokenUse) (string, []any) {
	st := touchTokenStmt(u)
	return st.query, st.args
}
