package hosted

import (
	"testing"

	"github.com/openpsp/openpsp/internal/hosted/browsertest"
)

// One browser for the package's browser tests; each gets its own context.
func TestMain(m *testing.M) { browsertest.Main(m) }
