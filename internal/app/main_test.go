package app

import (
	"testing"

	"github.com/openpsp/openpsp/internal/store/storetest"
)

// One migrated template database per engine for the package's tests, each
// test's database a copy of it (migrations run once, not once a test).
func TestMain(m *testing.M) { storetest.Main(m) }
