package shop

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	// The IANA time zone database, in the binary (about 400 kB more): a
	// shop's zone must be known on a machine (a minimal container) without
	// /usr/share/zoneinfo. The system's database is still read first when
	// there is one.
	_ "time/tzdata"
)

// errZone is LoadZone's refusal of a name that is no IANA time zone.
var errZone = errors.New("not an IANA time zone name")

// zones keeps the locations loaded by name: time.LoadLocation reads and
// parses the zone's file at each call, and every email of a shop asks for
// the same zone. Only names that loaded are kept: the map holds at most
// the few hundred zones there are.
var zones sync.Map // name → *time.Location

// LoadZone returns the time zone of an IANA name (Europe/Paris, UTC); ""
// is UTC. "Local" (the server's own zone, which differs from one machine
// to the next), file paths and names with spaces around them are refused.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "Local" || name != strings.TrimSpace(name) {
		return nil, errZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errZone
	}
	zones.Store(name, loc)
	return loc, nil
}

// Zone returns the time zone of a shop's TimeZone setting: UTC when it has
// none, or when it names no zone this binary knows (a value written to the
// database by hand: the message is still sent, in UTC, which it says).
func Zone(name string) *time.Location {
	loc, err := LoadZone(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// checkTimeZone refuses a time-zone setting that names no IANA zone.
func checkTimeZone(k, v string) error {
	if _, err := LoadZone(v); err != nil {
		return fmt.Errorf("%s must be an IANA time zone name such as Europe/Paris or UTC, not %q", k, v)
	}
	return nil
}
