package e2e

import (
	"os"
	"testing"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// One Chromium for the whole package; each test gets a fresh browser
// context. One migrated PostgreSQL template, copied for each test.
func TestMain(m *testing.M) {
	os.Exit(storetest.Run(func() int { return browsertest.Run(m) }))
}
