package payment

import (
	"testing"

	"github.com/openpsp/openpsp/internal/store/storetest"
)

// The PostgreSQL tests copy one migrated template instead of migrating a
// database each.
func TestMain(m *testing.M) { storetest.Main(m) }
