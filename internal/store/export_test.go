package store

// CaptureClaimSelect is the capture claim's SELECT, for the plan tests.
const CaptureClaimSelect = captureClaimSelect

// AuthorizationClaimSelect is the authorization claim's SELECT, for the
// plan tests.
const AuthorizationClaimSelect = authorizationClaimSelect

// QueryPlan is queryPlan, for the plan tests of package store_test.
var QueryPlan = queryPlan

// PurgeWhere is purgeWhere, for the plan tests.
var PurgeWhere = purgeWhere
