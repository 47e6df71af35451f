package store

// CaptureClaimSelect is the capture claim's SELECT, for the plan tests.
const CaptureClaimSelect = captureClaimSelect
