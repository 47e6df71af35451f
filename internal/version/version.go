// Package version tells which OpenPSP build is running.
package version

// Version is set at build time with -ldflags "-X github.com/openpsp/openpsp/internal/version.Version=…".
var Version = "0.1.0-dev"
