package e2e

import (
	"testing"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
)

// One Chromium for the whole package; each test gets a fresh browser context.
func TestMain(m *testing.M) { browsertest.Main(m) }
