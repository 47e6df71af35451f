package wallet_test

import (
	"os"
	"testing"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// One browser for the package's browser test; each test gets its own
// context. One migrated template database per engine, copied for each test.
func TestMain(m *testing.M) {
	os.Exit(storetest.Run(func() int { return browsertest.Run(m) }))
}
