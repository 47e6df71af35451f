package store

import "time"

// nowForMigrations stamps schema_migrations rows. It is the one wall-clock
// read in the store: migration bookkeeping is not domain time.
func nowForMigrations() time.Time { return time.Now().UTC() }
